//! `keyward keys usage`: a key's checks per UTC day and outcome, as the HTTP API's
//! `GET /v1/keys/{key_id}/usage` answers them (`--json` prints that same answer).

use crate::cli::backend::Backend;
use crate::output::{outln, print_json, print_table, Failure};
use clap::Args;
use keyward_app::usage::{OutcomeCounts, UsageRange};
use keyward_core::timestamp::format_day;
use keyward_core::Outcome;

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// The key's id.
    key_id: String,
    /// The first day, YYYY-MM-DD (UTC) [default: 29 days before --to].
    #[arg(long, value_name = "DAY")]
    from: Option<String>,
    /// The last day, included, YYYY-MM-DD (UTC) [default: today]. At most 366 days in
    /// all.
    #[arg(long, value_name = "DAY")]
    to: Option<String>,
}

/// One table row: checks, valid ones, refused ones, and the refusals by outcome.
fn row(label: String, counts: &OutcomeCounts) -> Vec<String> {
    let valid = counts.get(Outcome::Valid);
    let refused: Vec<String> = counts
        .iter()
        .filter(|(o, _)| !o.is_valid())
        .map(|(o, n)| format!("{o} {n}"))
        .collect();
    vec![
        label,
        counts.total().to_string(),
        valid.to_string(),
        (counts.total() - valid).to_string(),
        refused.join(", "),
    ]
}

pub async fn key(b: &Backend<'_>, a: UsageArgs, json: bool) -> Result<(), Failure> {
    let range = UsageRange::parse(a.from.as_deref(), a.to.as_deref(), b.now().date())?;
    let usage = b.key_usage(&a.key_id, range).await?;
    if json {
        print_json(&usage);
        return Ok(());
    }
    outln!(
        "Key {}: checks from {} to {} (UTC days)\n",
        usage.key_id,
        format_day(usage.from),
        format_day(usage.to)
    );
    let mut rows: Vec<Vec<String>> = usage
        .days
        .iter()
        .map(|d| row(format_day(d.day), &d.outcomes))
        .collect();
    rows.push(row("total".into(), &usage.outcomes));
    print_table(
        &["DAY", "CHECKS", "VALID", "REFUSED", "REFUSED AS"],
        &rows,
        &["REFUSED AS"],
    );
    Ok(())
}
