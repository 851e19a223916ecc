//! `keyward audit list`: the audit log as a table of one line per event (the details
//! summarised to fit 100 columns) or, with `--json`, the events in full.

use crate::cli::backend::Backend;
use crate::output::{print_json, print_one_line_table, Failure};
use clap::Subcommand;
use keyward_core::timestamp::{format, parse_time_ago};
use keyward_core::{AuditAction, AuditEvent, KeyId, Timestamp};
use keyward_store::AuditQuery;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first.
    List {
        /// Only this organization's events (name or id).
        #[arg(long)]
        org: Option<String>,
        /// Only events about this key.
        #[arg(long)]
        key: Option<String>,
        /// Only this action, such as key.revoked.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor, such as cli:alice.
        #[arg(long)]
        actor: Option<String>,
        /// Only events at or after this time: RFC 3339, a date, or a duration ago such
        /// as 1h or 7d (the last hour, the last week).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only events before this time, in the same forms: 1d is up to a day ago.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Only the operator's own stream: admin tokens created and revoked, people
        /// created.
        #[arg(long, conflicts_with = "org")]
        operator: bool,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub async fn run(b: &Backend<'_>, command: AuditCommand, json: bool) -> Result<(), Failure> {
    let AuditCommand::List {
        org,
        key,
        action,
        actor,
        since,
        until,
        operator: operator_only,
        limit,
    } = command;
    let time = |field: &str, s: Option<String>| {
        s.map(|s| parse_time_ago(&s, b.now()).map_err(|e| Failure::usage(format!("{field}: {e}"))))
            .transpose()
    };
    let query = AuditQuery {
        operator_only,
        org_id: match org {
            Some(o) => Some(b.org(&o).await?.id),
            None => None,
        },
        key_id: key
            .map(|k| KeyId::parse(&k).map_err(|e| Failure::usage(format!("key: {e}"))))
            .transpose()?,
        action: action
            .map(|a| {
                AuditAction::parse(&a).ok_or_else(|| {
                    let all: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                    Failure::usage(format!(
                        "action: unknown action '{}'; use one of {}",
                        keyward_core::echo::echo(&a, 40),
                        all.join(", ")
                    ))
                })
            })
            .transpose()?,
        actor,
        since: time("since", since)?,
        until: time("until", until)?,
        before_id: None,
        limit: Some(limit),
    };
    let events = b.audit_events(&query).await?;
    if json {
        print_json(&events);
        return Ok(());
    }
    // Membership events name people by id; the table shows their e-mail address.
    let mut emails = HashMap::new();
    for event in &events {
        if let Some(id) = event.details.get("user_id").and_then(Value::as_str) {
            if !emails.contains_key(id) {
                if let Some(user) = b.user_in(id, event.org_id.as_ref()).await {
                    emails.insert(id.to_owned(), user.email);
                }
            }
        }
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                seconds(e.at),
                e.actor.to_string(),
                e.action.to_string(),
                e.key_id.as_ref().map_or(String::new(), ToString::to_string),
                summary(e, &emails),
            ]
        })
        .collect();
    print_one_line_table(
        &["TIME", "ACTOR", "ACTION", "KEY", "DETAILS"],
        &rows,
        &["DETAILS"],
    );
    Ok(())
}

/// RFC 3339 to the second: the milliseconds are in `--json`, and the width is needed
/// for the details.
fn seconds(t: Timestamp) -> String {
    let full = format(t);
    match full.split_once('.') {
        Some((whole, _)) => format!("{whole}Z"),
        None => full,
    }
}

/// One line saying what an event changed, for the table: the whole of `details` is
/// in `--json`.
fn summary(e: &AuditEvent, emails: &HashMap<String, String>) -> String {
    let d = &e.details;
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let user = || {
        let id = d["user_id"].as_str().unwrap_or_default();
        emails.get(id).cloned().unwrap_or_else(|| id.to_owned())
    };
    let access = |a: &Value| {
        let projects = a["projects"].as_object().map_or(0, serde_json::Map::len);
        match projects {
            0 => text(&a["role"]),
            1 => format!("{} with 1 project level", text(&a["role"])),
            n => format!("{} with {n} project levels", text(&a["role"])),
        }
    };
    let count = |v: &Value, one: &str| match v.as_array().map_or(0, Vec::len) {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {one}s")),
    };
    match e.action {
        AuditAction::OrgCreated => format!("{}, plan {}", text(&d["name"]), text(&d["plan"])),
        AuditAction::OrgUpdated => format!(
            "plan {} → {}",
            text(&d["before"]["plan"]),
            text(&d["after"]["plan"])
        ),
        AuditAction::ProjectCreated => text(&d["name"]),
        AuditAction::EnvironmentCreated => {
            format!("{} ({})", text(&d["environment"]), text(&d["kind"]))
        }
        AuditAction::MemberAdded => format!("{} as {}", user(), access(&d["after"])),
        AuditAction::MemberChanged => {
            format!(
                "{}: {} → {}",
                user(),
                access(&d["before"]),
                access(&d["after"])
            )
        }
        AuditAction::MemberRemoved => format!("{} (was {})", user(), access(&d["before"])),
        AuditAction::KeyCreated if d.get("rotated_from").is_some() => {
            format!("replaces {} (rotation)", text(&d["rotated_from"]))
        }
        AuditAction::KeyCreated => {
            let mut parts = vec![format!("{} ({})", text(&d["name"]), text(&d["kind"]))];
            parts.extend(count(&d["grants"], "grant"));
            parts.extend(count(&d["scopes"], "scope"));
            if let Some(at) = d["expires_at"].as_str() {
                parts.push(format!("expires {}", at.get(..10).unwrap_or(at)));
            }
            parts.join(", ")
        }
        AuditAction::KeyUpdated => {
            let fields: Vec<&str> = d["after"]
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            format!("changed {}", fields.join(", "))
        }
        AuditAction::KeyRevoked | AuditAction::KeyReactivated | AuditAction::KeyDeleted => {
            format!(
                "{} → {}",
                text(&d["status"]["before"]),
                text(&d["status"]["after"])
            )
        }
        AuditAction::KeyRotated => format!(
            "replaced by {}, old one works {} more",
            text(&d["new_key_id"]),
            text(&d["grace_period"])
        ),
        AuditAction::UserCreated
        | AuditAction::UserSignedIn
        | AuditAction::UserSignedOutEverywhere
        | AuditAction::PasswordReset => text(&d["email"]),
        AuditAction::ResetLinkCreated => format!(
            "{} (link valid until {})",
            text(&d["email"]),
            text(&d["expires_at"])
        ),
        AuditAction::MemberInvited => format!("{} as {}", text(&d["email"]), access(&d["access"])),
        AuditAction::InvitationRevoked => format!("{} (invitation withdrawn)", text(&d["email"])),
        AuditAction::AdminTokenCreated | AuditAction::AdminTokenRevoked => {
            format!("{} ({})", text(&d["token_id"]), text(&d["name"]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_core::{Actor, OrgId};
    use serde_json::json;

    fn event(action: AuditAction, details: Value) -> AuditEvent {
        AuditEvent {
            id: Some(1),
            at: keyward_core::timestamp::from_millis(1_800_000_000_123),
            org_id: Some(OrgId::from_trusted("org_x".into())),
            actor: Actor::System,
            action,
            key_id: None,
            details,
            ip: None,
        }
    }

    #[test]
    fn summaries_say_what_changed_in_a_few_words() {
        let emails = HashMap::from([("usr_1".to_owned(), "ada@acme.test".to_owned())]);
        let cases = [
            (
                AuditAction::KeyUpdated,
                json!({ "before": { "name": "a", "grants": [] }, "after": { "name": "b", "grants": [] } }),
                "changed grants, name",
            ),
            (
                AuditAction::MemberChanged,
                json!({ "user_id": "usr_1", "before": { "role": "member", "projects": { "p1": "read" } }, "after": { "role": "admin", "projects": {} } }),
                "ada@acme.test: member with 1 project level → admin",
            ),
            (
                AuditAction::MemberRemoved,
                json!({ "user_id": "usr_2", "before": { "role": "owner", "projects": {} } }),
                "usr_2 (was owner)",
            ),
            (
                AuditAction::KeyCreated,
                json!({ "name": "ci", "kind": "live", "grants": [{}, {}], "scopes": ["forms:read"], "expires_at": "2027-03-02T14:43:08.772Z" }),
                "ci (live), 2 grants, 1 scope, expires 2027-03-02",
            ),
            (
                AuditAction::KeyCreated,
                json!({ "rotated_from": "k1" }),
                "replaces k1 (rotation)",
            ),
            (
                AuditAction::KeyRevoked,
                json!({ "status": { "before": "active", "after": "revoked" } }),
                "active → revoked",
            ),
            (
                AuditAction::KeyRotated,
                json!({ "new_key_id": "k2", "grace_period": "1d", "old_key_expires_at": null }),
                "replaced by k2, old one works 1d more",
            ),
            (
                AuditAction::OrgCreated,
                json!({ "name": "Acme", "plan": "pro" }),
                "Acme, plan pro",
            ),
        ];
        for (action, details, expected) in cases {
            assert_eq!(summary(&event(action, details), &emails), expected);
        }
    }

    #[test]
    fn table_times_are_rfc3339_to_the_second() {
        let e = event(AuditAction::OrgCreated, json!({}));
        assert_eq!(seconds(e.at), "2027-01-15T08:00:00Z");
    }
}
