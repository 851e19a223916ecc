//! `keyward keys …`: the key lifecycle from the command line.

use crate::cli::backend::{Backend, NewKey};
use crate::cli::Confirm;
use crate::output::{errln, outln, print_fields, print_json, print_table, Failure};
use clap::{Args, Subcommand};
use keyward_app::views::KeyView;
use keyward_app::{KeyInput, KeyPatchInput};
use keyward_core::echo::echo;
use keyward_core::timestamp::{format, parse_time, relative};
use keyward_core::Timestamp;
use keyward_core::{lifecycle, GrantSpec, KeyStatus, Kind, OrgAccess, RateLimit};
use secrecy::ExposeSecret;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create(CreateArgs),
    /// List an organization's keys, newest first.
    List {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
        /// Only keys with this status: active, revoked or deleted.
        #[arg(long, value_parser = parse_status)]
        status: Option<KeyStatus>,
        /// Only keys of this kind: live or test.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<Kind>,
    },
    /// Show one key.
    Show {
        /// The key's id (the part after kw_live_ or kw_test_, never the whole key).
        key_id: String,
    },
    /// Change a key's name, description, grants, organization access or expiry.
    Update(UpdateArgs),
    /// Disable a key; it can be reactivated.
    Revoke {
        /// The key's id.
        key_id: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Re-enable a revoked key.
    Reactivate {
        /// The key's id.
        key_id: String,
    },
    /// Replace a key by a new one with the same settings; print the new key once.
    Rotate {
        /// The key's id.
        key_id: String,
        /// How long the old key keeps working: 0 (stop now) to 7d.
        #[arg(long, default_value = "24h")]
        grace: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Delete a key for good; it can never be used or reactivated again.
    Delete {
        /// The key's id.
        key_id: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// A key's checks per UTC day and outcome, the last 30 days unless asked.
    Usage(crate::cli::usage::UsageArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The organization, by name or id.
    #[arg(long)]
    org: String,
    /// A name that says what the key is for (at most 100 characters).
    #[arg(long)]
    name: String,
    /// A longer note on the key (at most 500 characters).
    #[arg(long)]
    description: Option<String>,
    /// `live` keys work in live environments only, `test` keys in test ones.
    #[arg(long, default_value = "live", value_parser = parse_kind)]
    kind: Kind,
    /// PROJECT:ENVIRONMENT:LEVEL[:RESOURCE,...]; `*` for all projects or all
    /// environments. Repeatable.
    #[arg(long = "grant", value_name = "PROJECT:ENVIRONMENT:LEVEL", value_parser = parse_grant)]
    grants: Vec<GrantSpec>,
    /// Access to organization resources: none, read, write or manage.
    #[arg(long, default_value = "none", value_parser = parse_org_access)]
    org_access: OrgAccess,
    /// When the key stops working: RFC 3339 time, a date, or a duration from now such
    /// as 90d [default: never].
    #[arg(long, value_name = "TIME")]
    expires: Option<String>,
    /// A catalog scope such as forms:read, forms:* or '*'. Repeatable.
    #[arg(long = "scope", value_name = "RESOURCE:ACTION")]
    scopes: Vec<String>,
    /// Create the key as this person (user id or e-mail): it acts as them, and never
    /// exceeds what they hold.
    #[arg(long, value_name = "USER")]
    as_user: Option<String>,
    /// With --as-user: make a service key instead of one bound to the person.
    #[arg(long, requires = "as_user")]
    service: bool,
    /// A network (CIDR such as 203.0.113.0/24, or an address) the key may be used from.
    /// Repeatable [default: anywhere].
    #[arg(long = "allow-ip", value_name = "CIDR")]
    allow_ips: Vec<String>,
    /// Your own data about the key, a JSON object of at most 4 KiB, returned with every
    /// verify answer.
    #[arg(long, value_name = "JSON", value_parser = parse_metadata)]
    metadata: Option<serde_json::Value>,
    /// A rate limit NAME=LIMIT/PERIOD, such as burst=100/10s. Repeatable; all must
    /// admit a request [default: the plan's].
    #[arg(long = "rate-limit", value_name = "NAME=LIMIT/PERIOD", value_parser = parse_rate_limit)]
    rate_limits: Vec<RateLimit>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The key's id.
    key_id: String,
    /// A new name (at most 100 characters).
    #[arg(long)]
    name: Option<String>,
    /// A new description.
    #[arg(long, conflicts_with = "clear_description")]
    description: Option<String>,
    /// Removes the key's description.
    #[arg(long)]
    clear_description: bool,
    /// Replaces all of the key's grants. Repeatable.
    #[arg(long = "grant", value_name = "PROJECT:ENVIRONMENT:LEVEL", value_parser = parse_grant)]
    grants: Vec<GrantSpec>,
    /// Removes all of the key's grants (it then needs scopes or organization access).
    #[arg(long, conflicts_with = "grants")]
    clear_grants: bool,
    /// Replaces all of the key's scopes. Repeatable.
    #[arg(long = "scope", value_name = "RESOURCE:ACTION")]
    scopes: Vec<String>,
    /// Removes all of the key's scopes.
    #[arg(long, conflicts_with = "scopes")]
    clear_scopes: bool,
    /// New access to organization resources: none, read, write or manage.
    #[arg(long, value_parser = parse_org_access)]
    org_access: Option<OrgAccess>,
    /// A new expiry: RFC 3339 time, a date, or a duration from now such as 90d.
    #[arg(long, conflicts_with = "no_expiry", value_name = "TIME")]
    expires: Option<String>,
    /// Removes the key's expiry.
    #[arg(long)]
    no_expiry: bool,
    /// Replaces the networks the key may be used from. Repeatable.
    #[arg(
        long = "allow-ip",
        value_name = "CIDR",
        conflicts_with = "allow_anywhere"
    )]
    allow_ips: Vec<String>,
    /// Lets the key be used from anywhere again.
    #[arg(long)]
    allow_anywhere: bool,
    /// Replaces the key's metadata (a JSON object).
    #[arg(long, value_name = "JSON", value_parser = parse_metadata, conflicts_with = "clear_metadata")]
    metadata: Option<serde_json::Value>,
    /// Removes the key's metadata.
    #[arg(long)]
    clear_metadata: bool,
    /// Replaces the key's rate limits: NAME=LIMIT/PERIOD, such as burst=100/10s.
    /// Repeatable.
    #[arg(long = "rate-limit", value_name = "NAME=LIMIT/PERIOD", value_parser = parse_rate_limit, conflicts_with = "plan_rate_limits")]
    rate_limits: Vec<RateLimit>,
    /// Gives the key its plan's rate limits again.
    #[arg(long)]
    plan_rate_limits: bool,
}

fn parse_metadata(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s)
        .map_err(|e| format!("not JSON ({e}); give an object such as '{{\"customer\": \"c_1\"}}'"))
}

/// `NAME=LIMIT/PERIOD`: burst=100/10s.
fn parse_rate_limit(s: &str) -> Result<RateLimit, String> {
    RateLimit::parse_spec(s)
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).map_err(|e| e.to_string())
}

fn parse_status(s: &str) -> Result<KeyStatus, String> {
    KeyStatus::parse(s).ok_or_else(|| {
        format!(
            "unknown status '{}': use active, revoked or deleted",
            echo(s, 40)
        )
    })
}

fn parse_grant(s: &str) -> Result<GrantSpec, String> {
    GrantSpec::parse(s).map_err(|e| e.to_string())
}

fn parse_org_access(s: &str) -> Result<OrgAccess, String> {
    OrgAccess::parse(s).map_err(|e| e.to_string())
}

fn expiry(b: &Backend<'_>, input: &str) -> Result<keyward_core::Timestamp, Failure> {
    parse_time(input, b.now()).map_err(|e| Failure::usage(format!("expires: {e}")))
}

fn permissions(k: &KeyView) -> String {
    let mut parts: Vec<String> = k.grants.iter().map(|g| g.label()).collect();
    parts.extend(k.scopes.iter().cloned());
    if k.org_access.0.is_some() {
        parts.push(format!("org:{}", k.org_access));
    }
    parts.join(", ")
}

/// `t` exactly, and how long ago or ahead: `2027-01-31T12:00:00.000Z (in 89d)`.
fn when(t: Timestamp, now: Timestamp) -> String {
    format!("{} ({})", format(t), relative(t, now))
}

/// When, and from where if known: `2027-01-31T12:00:00.000Z (3d ago) from 203.0.113.7`.
fn last_used(k: &KeyView, now: Timestamp) -> String {
    match (k.last_used_at, &k.last_used_ip) {
        (None, _) => "never".into(),
        (Some(t), None) => when(t, now),
        (Some(t), Some(ip)) => format!("{} from {ip}", when(t, now)),
    }
}

fn show(k: &KeyView, now: Timestamp) {
    let mut fields = vec![
        ("id", k.id.to_string()),
        ("name", k.name.clone()),
        ("description", k.description.clone().unwrap_or_default()),
        ("kind", k.kind.to_string()),
        ("status", k.state().to_owned()),
        ("permissions", permissions(k)),
        ("organization", k.org_id.to_string()),
        (
            "created",
            format!("{} by {}", when(k.created_at, now), k.created_by),
        ),
        (
            "expires",
            k.expires_at.map_or("never".into(), |t| when(t, now)),
        ),
        ("last used", last_used(k, now)),
    ];
    fields.push((
        "allowed from",
        match k.ip_allowlist.is_empty() {
            true => "anywhere".into(),
            false => k.ip_allowlist.join(", "),
        },
    ));
    fields.push((
        "rate limits",
        match &k.rate_limits {
            None => "the plan's".into(),
            Some(limits) => limits
                .iter()
                .map(|l| format!("{} {} per {}", l.name, l.limit, l.period))
                .collect::<Vec<_>>()
                .join(", "),
        },
    ));
    if let Some(metadata) = &k.metadata {
        fields.push(("metadata", metadata.to_string()));
    }
    if let Some(from) = &k.rotated_from {
        fields.push(("rotated from", from.to_string()));
    }
    if let Some(to) = &k.rotated_to {
        fields.push(("replaced by", to.to_string()));
    }
    print_fields(&fields);
}

fn print_created(c: &NewKey, now: Timestamp) {
    show(&c.key, now);
    outln!();
    outln!("key:  {}", c.secret.expose_secret());
    errln!("\nCopy this key now: it is shown only once and cannot be recovered.");
}

fn print_view(k: &KeyView, json: bool, now: Timestamp) {
    if json {
        print_json(k);
    } else {
        show(k, now);
    }
}

pub async fn run(b: &Backend<'_>, command: KeysCommand, json: bool) -> Result<(), Failure> {
    match command {
        KeysCommand::Create(a) => {
            let org = b.org(&a.org).await?;
            let expires_at = a.expires.as_deref().map(|e| expiry(b, e)).transpose()?;
            let input = KeyInput {
                name: a.name,
                description: a.description,
                kind: a.kind,
                grants: a.grants,
                scopes: a.scopes,
                org_access: a.org_access,
                expires_at,
                service: a.service,
                ip_allowlist: a.allow_ips,
                metadata: a.metadata.unwrap_or(serde_json::Value::Null),
                rate_limits: Some(a.rate_limits).filter(|l| !l.is_empty()),
            };
            // Created as a person, the key is bound to them and within their access.
            let created = b.create_key(a.as_user.as_deref(), &org.id, input).await?;
            if json {
                print_json(&created.view());
            } else {
                print_created(&created, b.now());
            }
        }
        KeysCommand::List { org, status, kind } => {
            let org = b.org(&org).await?;
            let keys = b.list_keys(&org.id, status, kind).await?;
            if json {
                print_json(&keys);
            } else {
                let now = b.now();
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.to_string(),
                            k.name.clone(),
                            k.kind.to_string(),
                            k.state().to_owned(),
                            permissions(k),
                            relative(k.created_at, now),
                            k.expires_at.map_or("never".into(), |t| relative(t, now)),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "ID",
                        "NAME",
                        "KIND",
                        "STATUS",
                        "PERMISSIONS",
                        "CREATED",
                        "EXPIRES",
                    ],
                    &rows,
                    &["NAME", "PERMISSIONS"],
                );
            }
        }
        KeysCommand::Show { key_id } => {
            print_view(&b.key(&key_id).await?, json, b.now());
        }
        KeysCommand::Update(a) => {
            let expires_at = match (a.expires, a.no_expiry) {
                (Some(e), _) => Some(Some(expiry(b, &e)?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let patch = KeyPatchInput {
                name: a.name,
                description: if a.clear_description {
                    Some(None)
                } else {
                    a.description.map(Some)
                },
                grants: if a.clear_grants {
                    Some(Vec::new())
                } else {
                    Some(a.grants).filter(|g| !g.is_empty())
                },
                scopes: if a.clear_scopes {
                    Some(Vec::new())
                } else {
                    Some(a.scopes).filter(|s| !s.is_empty())
                },
                org_access: a.org_access,
                expires_at,
                ip_allowlist: match a.allow_anywhere {
                    true => Some(Vec::new()),
                    false => Some(a.allow_ips).filter(|l| !l.is_empty()),
                },
                metadata: match a.clear_metadata {
                    true => Some(serde_json::Value::Null),
                    false => a.metadata,
                },
                rate_limits: match a.plan_rate_limits {
                    true => Some(None),
                    false => Some(a.rate_limits).filter(|l| !l.is_empty()).map(Some),
                },
            };
            let view = b.update_key(&a.key_id, patch).await?;
            print_view(&view, json, b.now());
        }
        KeysCommand::Revoke { key_id, confirm } => {
            let key = b.key(&key_id).await?;
            confirm.confirm(&format!(
                "Revoke key {} ('{}')? It stops working at once.",
                key.id, key.name
            ))?;
            print_view(&b.revoke_key(&key_id).await?, json, b.now());
        }
        KeysCommand::Reactivate { key_id } => {
            print_view(&b.reactivate_key(&key_id).await?, json, b.now());
        }
        KeysCommand::Rotate {
            key_id,
            grace,
            confirm,
        } => {
            let grace =
                lifecycle::grace_period(Some(&grace)).map_err(|e| Failure::usage(e.to_string()))?;
            let key = b.key(&key_id).await?;
            confirm.confirm(&format!(
                "Rotate key {} ('{}')? The old key stops working after {}.",
                key.id,
                key.name,
                keyward_core::duration::format(grace)
            ))?;
            let rotated = b.rotate_key(&key_id, grace).await?;
            if json {
                print_json(&rotated.view());
            } else {
                outln!(
                    "Key {} is replaced by {}; it works until {}.\n",
                    rotated.old.id,
                    rotated.new.key.id,
                    rotated.old.expires_at.map_or("its expiry".into(), format)
                );
                print_created(&rotated.new, b.now());
            }
        }
        KeysCommand::Delete { key_id, confirm } => {
            let key = b.key(&key_id).await?;
            confirm.confirm(&format!(
                "Delete key {} ('{}') for good? It can never be used or reactivated again.",
                key.id, key.name
            ))?;
            print_view(&b.delete_key(&key_id).await?, json, b.now());
        }
        KeysCommand::Usage(a) => crate::cli::usage::key(b, a, json).await?,
    }
    Ok(())
}
