//! Usage: a key's or an organization's checks per UTC day and outcome.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::Date;

/// The UTC days to report on, both included: the 30 days up to today unless given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UsageQuery {
    #[serde(skip_serializing_if = "Option::is_none", with = "super::day::option")]
    pub from: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none", with = "super::day::option")]
    pub to: Option<Date>,
}

/// Checks by outcome (`valid`, `revoked`, …); outcomes with none are left out.
pub type OutcomeCounts = BTreeMap<String, u64>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayUsage {
    #[serde(with = "super::day")]
    pub day: Date,
    pub total: u64,
    pub outcomes: OutcomeCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsageView {
    pub key_id: String,
    pub org_id: String,
    #[serde(with = "super::day")]
    pub from: Date,
    #[serde(with = "super::day")]
    pub to: Date,
    pub total: u64,
    pub outcomes: OutcomeCounts,
    pub days: Vec<DayUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTotal {
    pub key_id: String,
    pub total: u64,
    pub outcomes: OutcomeCounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUsageView {
    pub org_id: String,
    #[serde(with = "super::day")]
    pub from: Date,
    #[serde(with = "super::day")]
    pub to: Date,
    pub total: u64,
    pub outcomes: OutcomeCounts,
    pub days: Vec<DayUsage>,
    pub keys: Vec<KeyTotal>,
}
