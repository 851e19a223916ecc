//! `keyward check`: run the same check the API runs, from the command line.

use crate::cli::backend::Backend;
use crate::output::{print_fields, print_json, Failure};
use clap::Args;
use keyward_app::Keyward;
use keyward_client::types as wire;
use keyward_core::{Asked, Level, Presented};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The key to check, or `-` to read it from standard input (keeps it out of shell
    /// history and the process list).
    #[arg(value_parser = crate::cli::secret)]
    key: SecretString,
    /// The project (name or id). Leave out, with --org-level, to check organization access.
    #[arg(long, required_unless_present = "org_level")]
    project: Option<String>,
    /// The environment's name, such as production or preview.
    #[arg(long, required_unless_present = "org_level")]
    environment: Option<String>,
    /// The HTTP method of the request: GET, HEAD, OPTIONS, POST, PUT, PATCH or DELETE.
    #[arg(long, conflicts_with = "level")]
    method: Option<String>,
    /// The level needed (read, write, manage), instead of a method.
    #[arg(long)]
    level: Option<String>,
    /// A resource of the scope catalog the request touches, such as forms.
    #[arg(long)]
    resource: Option<String>,
    /// Check access to organization resources (projects, members, keys) instead.
    #[arg(long, conflicts_with_all = ["project", "environment", "resource"])]
    org_level: bool,
    /// The address the request came from, checked against the key's allow-list.
    #[arg(long)]
    ip: Option<String>,
    /// What the request costs against the key's rate limits and the monthly quota
    /// (0 reads where they stand without spending).
    #[arg(long, default_value_t = 1)]
    cost: u32,
}

pub async fn run(b: &Backend<'_>, a: CheckArgs, json: bool) -> Result<(), Failure> {
    let level = a
        .level
        .as_deref()
        .map(|l| Level::parse(l).map_err(|e| Failure::usage(format!("level: {e}"))))
        .transpose()?;
    // clap has made sure --org-level comes without a project or environment.
    let (project, environment) = match a.org_level {
        true => (None, None),
        false => (a.project.as_deref(), a.environment.as_deref()),
    };
    let asked = Asked::from_parts(
        project,
        environment,
        a.method.as_deref(),
        level,
        a.resource.as_deref(),
    )
    .map_err(|e| Failure::usage(format!("--{}: {}", e.field, e.message)))?;
    let from =
        a.ip.as_deref()
            .map(|ip| {
                ip.trim().parse::<std::net::IpAddr>().map_err(|_| {
                    Failure::usage(format!(
                        "--ip: '{}' is not an IPv4 or IPv6 address, such as 203.0.113.7",
                        keyward_core::echo::echo(ip, 60)
                    ))
                })
            })
            .transpose()?;
    let key = crate::cli::secret_or_stdin(a.key, "key")?;
    let answer = match b {
        Backend::Local(app) => local(app, &key, &asked, from, a.cost).await?,
        Backend::Remote(r) => {
            let check = wire::VerifyIn {
                key,
                project: project.map(str::to_owned),
                environment: environment.map(str::to_owned),
                method: a.method,
                level: level
                    .map(|l| {
                        serde_json::from_value(json!(l))
                            .map_err(|_| Failure::usage("level: not one the API knows"))
                    })
                    .transpose()?,
                resource: a.resource,
                ip: from.map(|ip| ip.to_string()),
                cost: Some(a.cost),
            };
            let v = r.client.verify(&check).await.map_err(|e| r.fail(&e))?;
            let key = v.key.as_ref();
            json!({
                "valid": v.valid,
                "outcome": v.outcome,
                "status": v.status,
                "detail": v.detail,
                "required_permission": v.required_permission,
                "key_id": key.map(|k| &k.id),
                "org_id": key.map(|k| &k.org_id),
                "name": key.map(|k| &k.name),
                "metadata": key.and_then(|k| k.metadata.as_ref()),
                "rate_limits": v.rate_limits,
                "quota": v.quota.map(|q| json!({
                    "limit": q.limit,
                    "used": q.used,
                    "remaining": q.remaining,
                    "resets_at": keyward_core::timestamp::format(q.resets_at),
                })),
                "retry_after": v.retry_after,
            })
        }
    };
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    if json {
        print_json(&answer);
    } else {
        let mut fields = vec![
            ("outcome", text(&answer["outcome"])),
            ("detail", text(&answer["detail"])),
        ];
        if !answer["key_id"].is_null() {
            fields.push((
                "key",
                format!("{} ('{}')", text(&answer["key_id"]), text(&answer["name"])),
            ));
        }
        for r in answer["rate_limits"].as_array().into_iter().flatten() {
            fields.push((
                "rate limit",
                format!(
                    "{}: {} of {} per {} left",
                    text(&r["name"]),
                    r["remaining"],
                    r["limit"],
                    text(&r["period"])
                ),
            ));
        }
        let q = &answer["quota"];
        if !q.is_null() {
            fields.push((
                "quota",
                format!("{} of {} left this month", q["remaining"], q["limit"]),
            ));
        }
        print_fields(&fields);
    }
    if answer["valid"] == json!(true) {
        Ok(())
    } else {
        Err(Failure::not_valid())
    }
}

/// The check on the local data, answered as the verify API answers it.
async fn local(
    app: &Keyward,
    key: &SecretString,
    asked: &Asked,
    from: Option<std::net::IpAddr>,
    cost: u32,
) -> Result<Value, Failure> {
    let verdict = app
        .check_costing(Presented::field(key.expose_secret()), asked, from, cost)
        .await?;
    // A check from the command line is a use of the key too.
    app.flush_usage().await?;
    let now = app.now();
    let limits = keyward_server::ratelimit::Limits::of(&verdict, now);
    let detail = verdict.detail().into_owned();
    let key = verdict.key.as_deref();
    Ok(json!({
        "valid": verdict.outcome.is_valid(),
        "outcome": verdict.outcome,
        "status": verdict.outcome.http_status(),
        "detail": detail,
        "required_permission": verdict.required_permission(),
        "key_id": key.map(|k| k.id),
        "org_id": key.map(|k| &k.org_id),
        "name": key.map(|k| k.name.as_str()),
        "metadata": key.and_then(|k| k.metadata.as_ref()).map(keyward_core::Metadata::to_value),
        "rate_limits": limits.as_ref().map(|l| &l.rate_limits),
        "quota": limits.as_ref().and_then(|l| l.quota.as_ref()),
        "retry_after": limits.as_ref().and_then(|l| l.retry_after),
    }))
}
