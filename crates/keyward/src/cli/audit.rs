//! `keyward audit list`.

use crate::cli::operator;
use crate::output::{print_json, print_one_line_table, Failure};
use clap::Subcommand;
use keyward_app::Keyward;
use keyward_core::timestamp::{format, parse_time_ago};
use keyward_core::{AuditAction, KeyId};
use keyward_store::AuditQuery;

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
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub async fn run(app: &Keyward, command: AuditCommand, json: bool) -> Result<(), Failure> {
    let AuditCommand::List {
        org,
        key,
        action,
        actor,
        since,
        until,
        limit,
    } = command;
    let time = |field: &str, s: Option<String>| {
        s.map(|s| {
            parse_time_ago(&s, app.now()).map_err(|e| Failure::usage(format!("{field}: {e}")))
        })
        .transpose()
    };
    let query = AuditQuery {
        org_id: match org {
            Some(o) => Some(app.org(&operator(), &o).await?.id),
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
                        "action: unknown action '{a}'; use one of {}",
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
    let events = app.audit_events(&operator(), &query).await?;
    if json {
        print_json(&events);
    } else {
        let rows: Vec<Vec<String>> = events
            .iter()
            .map(|e| {
                vec![
                    format(e.at),
                    e.actor.to_string(),
                    e.action.to_string(),
                    e.key_id.as_ref().map_or(String::new(), ToString::to_string),
                    e.org_id.to_string(),
                    e.details.to_string(),
                ]
            })
            .collect();
        print_one_line_table(
            &["TIME", "ACTOR", "ACTION", "KEY", "ORGANIZATION", "DETAILS"],
            &rows,
            &["ORGANIZATION", "DETAILS"],
        );
    }
    Ok(())
}
