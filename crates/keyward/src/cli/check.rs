//! `keyward check`: run the same check the API runs, from the command line.

use crate::output::{print_fields, print_json, Failure};
use clap::Args;
use keyward_app::{CheckRequest, Keyward};
use keyward_core::{Level, Resource};
use serde_json::json;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The key to check, or `-` to read it from standard input (keeps it out of shell
    /// history and the process list).
    key: String,
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
}

pub async fn run(app: &Keyward, a: CheckArgs, json: bool) -> Result<(), Failure> {
    let level = match (&a.method, &a.level) {
        (Some(m), _) => Level::for_method(m).map_err(|e| Failure::usage(format!("method: {e}")))?,
        (None, Some(l)) => Level::parse(l).map_err(|e| Failure::usage(format!("level: {e}")))?,
        (None, None) => {
            return Err(Failure::usage(
                "give the request's --method (such as GET) or the --level it needs",
            ))
        }
    };
    let key = if a.key == "-" {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the key from standard input: {e}")))?;
        line.trim().to_owned()
    } else {
        a.key.trim().to_owned()
    };
    let request = if a.org_level {
        CheckRequest::Organization { level }
    } else {
        CheckRequest::Project {
            project: a.project.unwrap_or_default(),
            environment: a.environment.unwrap_or_default(),
            resource: a
                .resource
                .map(|r| Resource::parse(&r).map_err(|e| Failure::usage(format!("resource: {e}"))))
                .transpose()?,
            level,
        }
    };
    let credentials: Vec<&str> = if key.is_empty() {
        vec![]
    } else {
        vec![key.as_str()]
    };
    let result = app.check(credentials, &request).await?;
    let detail = result.detail().into_owned();
    if json {
        print_json(&json!({
            "valid": result.outcome.is_valid(),
            "outcome": result.outcome,
            "status": result.outcome.http_status(),
            "detail": detail,
            "required_permission": result.denial.as_ref().map(|d| &d.required_permission),
            "key_id": result.key.as_ref().map(|c| &c.key.id),
            "org_id": result.key.as_ref().map(|c| &c.key.org_id),
            "name": result.key.as_ref().map(|c| c.key.name.as_str()),
        }));
    } else {
        let mut fields = vec![("outcome", result.outcome.to_string()), ("detail", detail)];
        if let Some(c) = &result.key {
            fields.push(("key", format!("{} ('{}')", c.key.id, c.key.name)));
        }
        print_fields(&fields);
    }
    if result.outcome.is_valid() {
        Ok(())
    } else {
        Err(Failure::not_valid())
    }
}
