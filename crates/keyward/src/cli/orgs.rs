//! `keyward orgs …` and `keyward projects …`.

use crate::cli::backend::Backend;
use crate::output::{print_fields, print_json, print_table, Failure};
use clap::Subcommand;
use keyward_core::timestamp::{format, format_for_people};
use keyward_core::Timestamp;
use keyward_core::{Environment, Organization, Project};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        /// A unique name, such as Acme (names are matched ignoring case).
        name: String,
        /// The organization's plan (default: the configured default plan).
        #[arg(long)]
        plan: Option<String>,
    },
    /// List organizations.
    List,
    /// Show an organization: its plan, the keys it holds against the plan's limit,
    /// and this month's quota.
    Show {
        /// The organization, by name or id.
        org: String,
    },
    /// Move an organization to another plan. Its keys keep working if the
    /// new plan allows API access; a plan with fewer keys than it holds
    /// refuses new keys until enough are deleted.
    Update {
        /// The organization, by name or id.
        org: String,
        /// The new plan, one of those configured under [plans].
        #[arg(long)]
        plan: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project, with environments `production` (live) and `preview` (test).
    Create {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
        /// A name unique in the organization, such as Website.
        name: String,
    },
    /// List an organization's projects and their environments.
    List {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
    },
}

fn org_json(o: &Organization) -> serde_json::Value {
    json!({ "id": o.id, "name": o.name, "plan": o.plan, "created_at": format(o.created_at) })
}

fn project_json(p: &Project, envs: &[Environment]) -> serde_json::Value {
    json!({
        "id": p.id,
        "org_id": p.org_id,
        "name": p.name,
        "created_at": format(p.created_at),
        "environments": envs.iter().map(|e| json!({ "id": e.id, "name": e.name, "kind": e.kind })).collect::<Vec<_>>(),
    })
}

fn org_rows(orgs: &[Organization], now: Timestamp) {
    let rows: Vec<Vec<String>> = orgs
        .iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                o.name.to_string(),
                o.plan.clone(),
                format_for_people(o.created_at, now),
            ]
        })
        .collect();
    print_table(&["ID", "NAME", "PLAN", "CREATED"], &rows, &["NAME"]);
}

fn project_rows(projects: &[(Project, Vec<Environment>)], now: Timestamp) {
    let rows: Vec<Vec<String>> = projects
        .iter()
        .map(|(p, envs)| {
            let envs: Vec<String> = envs
                .iter()
                .map(|e| format!("{} ({})", e.name, e.kind))
                .collect();
            vec![
                p.id.to_string(),
                p.name.to_string(),
                envs.join(", "),
                format_for_people(p.created_at, now),
            ]
        })
        .collect();
    print_table(
        &["ID", "NAME", "ENVIRONMENTS", "CREATED"],
        &rows,
        &["NAME", "ENVIRONMENTS"],
    );
}

pub async fn org(b: &Backend<'_>, command: OrgCommand, json: bool) -> Result<(), Failure> {
    match command {
        OrgCommand::Create { name, plan } => {
            let org = b.create_org(&name, plan.as_deref()).await?;
            if json {
                print_json(&org_json(&org));
            } else {
                org_rows(&[org], b.now());
            }
        }
        OrgCommand::Update { org, plan } => {
            let org = b.set_org_plan(&org, &plan).await?;
            if json {
                print_json(&org_json(&org));
            } else {
                org_rows(&[org], b.now());
            }
        }
        OrgCommand::Show { org } => {
            let s = b.org_summary(&org).await?;
            let quota = s.quota.map(|q| {
                json!({
                    "limit": q.limit,
                    "used": q.used,
                    "remaining": q.remaining,
                    "resets_at": format(q.resets_at),
                })
            });
            if json {
                let mut v = org_json(&s.org);
                v["keys"] =
                    json!({ "held": s.keys_held.unwrap_or_default(), "limit": s.key_limit });
                v["quota"] = quota.unwrap_or(serde_json::Value::Null);
                print_json(&v);
            } else {
                let now = b.now();
                let held = s.keys_held.unwrap_or_default();
                let keys = match s.key_limit {
                    Some(limit) => format!("{held} of {limit}"),
                    None => format!("{held} (no limit)"),
                };
                let quota = match s.quota {
                    Some(q) => format!(
                        "{} of {} requests this month; renews {}",
                        q.used,
                        q.limit,
                        format_for_people(q.resets_at, now)
                    ),
                    None => "none".into(),
                };
                print_fields(&[
                    ("id", s.org.id.to_string()),
                    ("name", s.org.name.to_string()),
                    ("plan", s.org.plan.clone()),
                    ("keys", keys),
                    ("quota", quota),
                    ("created", format_for_people(s.org.created_at, now)),
                ]);
            }
        }
        OrgCommand::List => {
            let orgs = b.list_orgs().await?;
            if json {
                print_json(&orgs.iter().map(org_json).collect::<Vec<_>>());
            } else {
                org_rows(&orgs, b.now());
            }
        }
    }
    Ok(())
}

pub async fn project(b: &Backend<'_>, command: ProjectCommand, json: bool) -> Result<(), Failure> {
    match command {
        ProjectCommand::Create { org, name } => {
            let org = b.org(&org).await?;
            let (p, envs) = b.create_project(&org.id, &name).await?;
            if json {
                print_json(&project_json(&p, &envs));
            } else {
                project_rows(&[(p, envs)], b.now());
            }
        }
        ProjectCommand::List { org } => {
            let org = b.org(&org).await?;
            let projects = b.list_projects(&org.id).await?;
            if json {
                print_json(
                    &projects
                        .iter()
                        .map(|(p, e)| project_json(p, e))
                        .collect::<Vec<_>>(),
                );
            } else {
                project_rows(&projects, b.now());
            }
        }
    }
    Ok(())
}
