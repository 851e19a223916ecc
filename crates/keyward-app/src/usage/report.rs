//! Usage as people read it: a key's checks per day and outcome, and an organization's,
//! in total and per key, over a range of UTC days. The views here are the one
//! representation the HTTP API answers with and the CLI's `--json` prints.

use super::notes::{index, OUTCOMES};
use crate::error::{AppError, AppResult};
use crate::{Keyward, Principal};
use keyward_core::timestamp::{format_day, parse_day};
use keyward_core::{KeyId, Level, OrgId, Outcome};
use keyward_store::UsageOf;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use time::{Date, Duration};

/// The UTC days a report covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    pub from: Date,
    pub to: Date,
}

impl UsageRange {
    /// The longest range one report covers, in days.
    pub const MOST_DAYS: i64 = 366;
    /// The days a report covers when `from` is not given: these many, ending with `to`.
    pub const DEFAULT_DAYS: i64 = 30;

    /// The range asked for: `to` is today unless given, `from` is
    /// [`DEFAULT_DAYS`](Self::DEFAULT_DAYS) days before it unless given; both
    /// `YYYY-MM-DD`, `from` not after `to`, at most [`MOST_DAYS`](Self::MOST_DAYS)
    /// days in all. A broken rule names the field to fix.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Date) -> AppResult<Self> {
        let day = |field: &'static str, s: &str| {
            parse_day(s.trim()).ok_or_else(|| {
                AppError::invalid(
                    field,
                    format!(
                        "{field}: '{}' is not a day; use a UTC date such as 2027-01-31",
                        keyward_core::echo::echo(s, 40)
                    ),
                )
            })
        };
        let to = match to {
            Some(s) => day("to", s)?,
            None => today,
        };
        let from = match from {
            Some(s) => day("from", s)?,
            // Never before the first day a report can name (year 0, as days are written
            // with four digits).
            None => {
                let first = time::macros::date!(0000 - 01 - 01);
                to.checked_sub(Duration::days(Self::DEFAULT_DAYS - 1))
                    .map_or(first, |d| d.max(first))
            }
        };
        if from > to {
            return Err(AppError::invalid(
                "from",
                format!(
                    "from: {} is after to ({}, today unless given); give a from on or before it",
                    format_day(from),
                    format_day(to)
                ),
            ));
        }
        let days = (to - from).whole_days() + 1;
        if days > Self::MOST_DAYS {
            return Err(AppError::invalid(
                "from",
                format!(
                    "from: {} to {} is {days} days; a report covers at most {} days, so ask for the rest separately",
                    format_day(from),
                    format_day(to),
                    Self::MOST_DAYS
                ),
            ));
        }
        Ok(UsageRange { from, to })
    }

    /// Every day of the range, oldest first.
    pub fn days(&self) -> impl Iterator<Item = Date> {
        let to = self.to;
        std::iter::successors(Some(self.from), move |d| {
            d.next_day().filter(|next| *next <= to)
        })
    }
}

/// How many checks ended in each outcome. Written as an object of the outcomes that
/// happened, in the order of the outcome list: `{"valid": 41, "revoked": 2}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts([u64; OUTCOMES]);

impl OutcomeCounts {
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[index(outcome)]
    }

    pub fn add(&mut self, outcome: Outcome, count: u64) {
        let slot = &mut self.0[index(outcome)];
        *slot = slot.saturating_add(count);
    }

    /// Checks of every outcome.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0, |sum, n| sum.saturating_add(*n))
    }

    /// The outcomes that happened, with their counts, in the order of the outcome list.
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL
            .iter()
            .zip(&self.0)
            .filter(|(_, n)| **n > 0)
            .map(|(o, n)| (*o, *n))
    }
}

impl Serialize for OutcomeCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (outcome, count) in self.iter() {
            map.serialize_entry(outcome.as_str(), &count)?;
        }
        map.end()
    }
}

/// The schema of [`OutcomeCounts`]: an optional count of at least 1 per outcome.
#[cfg(feature = "openapi")]
fn outcome_counts() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let mut schema = ObjectBuilder::new()
        .description(Some(
            "Checks by outcome; outcomes that did not happen are left out.",
        ))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for outcome in Outcome::ALL {
        schema = schema.property(
            outcome.as_str(),
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                    utoipa::openapi::schema::KnownFormat::Int64,
                )))
                .minimum(Some(1)),
        );
    }
    schema.build()
}

/// One day of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayUsage {
    /// The UTC day.
    #[serde(with = "keyward_core::timestamp::day")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub day: Date,
    /// Checks that day, of every outcome.
    pub total: u64,
    #[cfg_attr(feature = "openapi", schema(schema_with = outcome_counts))]
    pub outcomes: OutcomeCounts,
}

/// A key's checks per UTC day and outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyUsageView {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::key_id))]
    pub key_id: KeyId,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::org_id))]
    pub org_id: OrgId,
    /// The first day covered (UTC).
    #[serde(with = "keyward_core::timestamp::day")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub from: Date,
    /// The last day covered (UTC), included.
    #[serde(with = "keyward_core::timestamp::day")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub to: Date,
    /// Checks over the whole range.
    pub total: u64,
    #[cfg_attr(feature = "openapi", schema(schema_with = outcome_counts))]
    pub outcomes: OutcomeCounts,
    /// Every day of the range, oldest first, days without a check included.
    pub days: Vec<DayUsage>,
}

/// One key's checks over a report's range.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyTotal {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::key_id))]
    pub key_id: KeyId,
    pub total: u64,
    #[cfg_attr(feature = "openapi", schema(schema_with = outcome_counts))]
    pub outcomes: OutcomeCounts,
}

/// An organization's checks per UTC day and outcome, all its keys together, and each
/// key's over the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgUsageView {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schema::org_id))]
    pub org_id: OrgId,
    #[serde(with = "keyward_core::timestamp::day")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub from: Date,
    #[serde(with = "keyward_core::timestamp::day")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub to: Date,
    pub total: u64,
    #[cfg_attr(feature = "openapi", schema(schema_with = outcome_counts))]
    pub outcomes: OutcomeCounts,
    /// Every day of the range, oldest first, days without a check included.
    pub days: Vec<DayUsage>,
    /// Each key with checks in the range, the most checked first.
    pub keys: Vec<KeyTotal>,
}

impl Keyward {
    /// Every day of `range` with the checks of `of` counted that day.
    async fn days(&self, of: &UsageOf, range: UsageRange) -> AppResult<Vec<DayUsage>> {
        let mut by_day: BTreeMap<Date, OutcomeCounts> = BTreeMap::new();
        for c in self.store.usage_per_day(of, range.from, range.to).await? {
            by_day.entry(c.day).or_default().add(c.outcome, c.count);
        }
        Ok(range
            .days()
            .map(|day| {
                let outcomes = by_day.remove(&day).unwrap_or_default();
                DayUsage {
                    day,
                    total: outcomes.total(),
                    outcomes,
                }
            })
            .collect())
    }

    /// A key's checks per day and outcome, if `who` may read the key. Checks counted
    /// in the last few seconds may not be written yet (see [`super::FLUSH_EVERY`]).
    pub async fn key_usage(
        &self,
        who: &Principal,
        key_id: &str,
        range: UsageRange,
    ) -> AppResult<KeyUsageView> {
        let key = self.key(who, key_id).await?;
        let days = self.days(&UsageOf::Key(key.id), range).await?;
        let outcomes = sum(&days);
        Ok(KeyUsageView {
            key_id: key.id,
            org_id: key.org_id,
            from: range.from,
            to: range.to,
            total: outcomes.total(),
            outcomes,
            days,
        })
    }

    /// An organization's checks per day and outcome, and per key, if `who` may read
    /// its keys.
    pub async fn org_usage(
        &self,
        who: &Principal,
        org: &OrgId,
        range: UsageRange,
    ) -> AppResult<OrgUsageView> {
        who.require_sees(org)?;
        who.require(org, Level::Read, "reading usage")?;
        let days = self.days(&UsageOf::Org(org.clone()), range).await?;
        let mut by_key: BTreeMap<KeyId, OutcomeCounts> = BTreeMap::new();
        for c in self.store.usage_per_key(org, range.from, range.to).await? {
            by_key.entry(c.key).or_default().add(c.outcome, c.count);
        }
        let mut keys: Vec<KeyTotal> = by_key
            .into_iter()
            .map(|(key_id, outcomes)| KeyTotal {
                key_id,
                total: outcomes.total(),
                outcomes,
            })
            .collect();
        keys.sort_by(|a, b| b.total.cmp(&a.total).then(a.key_id.cmp(&b.key_id)));
        let outcomes = sum(&days);
        Ok(OrgUsageView {
            org_id: org.clone(),
            from: range.from,
            to: range.to,
            total: outcomes.total(),
            outcomes,
            days,
            keys,
        })
    }
}

fn sum(days: &[DayUsage]) -> OutcomeCounts {
    let mut all = OutcomeCounts::default();
    for day in days {
        for (outcome, count) in day.outcomes.iter() {
            all.add(outcome, count);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::date;

    fn field(e: AppError) -> &'static str {
        match e {
            AppError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges_default_to_the_last_30_days_and_are_bounded() {
        let today = date!(2027 - 03 - 10);
        let r = UsageRange::parse(None, None, today).unwrap();
        assert_eq!((r.from, r.to), (date!(2027 - 02 - 09), today));
        assert_eq!(r.days().count(), 30);
        let r = UsageRange::parse(None, Some("2027-01-31"), today).unwrap();
        assert_eq!(r.from, date!(2027 - 01 - 02));
        let r = UsageRange::parse(Some("2027-03-10"), None, today).unwrap();
        assert_eq!(r.days().collect::<Vec<_>>(), vec![today]);
        let year = UsageRange::parse(Some("2024-01-01"), Some("2024-12-31"), today).unwrap();
        assert_eq!(year.days().count(), 366, "a leap year fits");
        let r = UsageRange::parse(None, Some("0000-01-05"), today).unwrap();
        assert_eq!(r.from, date!(0000 - 01 - 01), "never before year 0");

        let too_long = UsageRange::parse(Some("2024-01-01"), Some("2025-01-01"), today);
        assert_eq!(field(too_long.unwrap_err()), "from");
        let backwards = UsageRange::parse(Some("2027-03-11"), None, today);
        assert_eq!(field(backwards.unwrap_err()), "from");
        assert_eq!(
            field(UsageRange::parse(None, Some("yesterday"), today).unwrap_err()),
            "to"
        );
        let e = UsageRange::parse(Some("2027-3-1"), None, today).unwrap_err();
        assert!(e.to_string().contains("such as 2027-01-31"), "{e}");
    }

    #[test]
    fn counts_are_written_as_the_outcomes_that_happened_in_list_order() {
        let mut c = OutcomeCounts::default();
        c.add(Outcome::Revoked, 2);
        c.add(Outcome::Valid, 41);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"valid":41,"revoked":2}"#
        );
        assert_eq!(c.total(), 43);
        assert_eq!(
            serde_json::to_string(&OutcomeCounts::default()).unwrap(),
            "{}"
        );
    }
}
