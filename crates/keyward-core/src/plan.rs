//! Plans: what an organization's subscription allows. Whether it has API access at all,
//! how many keys it may hold, the rate limits its keys get unless set otherwise, and its
//! monthly request quota. The operator configures them; the defaults follow Formfex
//! (free: no API access; starter 3 keys; pro 10; max 25).

use crate::limits::RateLimit;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    /// Without it, every check of the organization's keys is `no_api_access`.
    pub api_access: bool,
    /// How many keys the organization may hold (`None`: no limit). Keys deleted,
    /// expired, or replaced by a rotation do not count.
    pub max_keys: Option<u32>,
    /// The limits a key gets unless it is given its own.
    pub rate_limits: Vec<RateLimit>,
    /// Requests a month, across all the organization's keys (`None`: no quota).
    pub monthly_quota: Option<u64>,
}

impl Plan {
    /// How many keys the organization may hold: none without API access, whatever
    /// `max_keys` says.
    pub fn key_limit(&self) -> Option<u32> {
        if self.api_access {
            self.max_keys
        } else {
            Some(0)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("plan name '{0}' is not valid: use 1 to 32 lowercase letters, digits, '-' and '_'")]
    Name(String),
    #[error("plan '{0}' is defined twice")]
    Repeated(String),
    #[error("no plans are defined: define at least one")]
    Empty,
    #[error("plan '{plan}': {problem}")]
    Limits { plan: String, problem: String },
}

/// Whether `s` may name a plan.
pub fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The plans the operator offers, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans(BTreeMap<String, Arc<Plan>>);

impl Plans {
    pub fn new(plans: Vec<Plan>) -> Result<Self, PlanError> {
        if plans.is_empty() {
            return Err(PlanError::Empty);
        }
        let mut out = BTreeMap::new();
        for plan in plans {
            if !valid_name(&plan.name) {
                return Err(PlanError::Name(crate::echo::echo(&plan.name, 40)));
            }
            crate::limits::check_set(&plan.rate_limits).map_err(|e| PlanError::Limits {
                plan: plan.name.clone(),
                problem: e.to_string(),
            })?;
            if out.contains_key(&plan.name) {
                return Err(PlanError::Repeated(plan.name));
            }
            out.insert(plan.name.clone(), Arc::new(plan));
        }
        Ok(Plans(out))
    }

    /// The defaults, after Formfex: free has no API access; starter, pro and max hold
    /// 3, 10 and 25 keys, each key limited to 60, 300 and 1,200 requests a minute, and
    /// the organization to 10,000, 100,000 and 1,000,000 requests a month.
    pub fn formfex() -> Self {
        let minute = |n: u32| vec![RateLimit::per("default", n, time::Duration::MINUTE)];
        let plan = |name: &str, api, keys, limits, quota| Plan {
            name: name.into(),
            api_access: api,
            max_keys: Some(keys),
            rate_limits: limits,
            monthly_quota: quota,
        };
        Plans::new(vec![
            plan("free", false, 0, vec![], Some(0)),
            plan("starter", true, 3, minute(60), Some(10_000)),
            plan("pro", true, 10, minute(300), Some(100_000)),
            plan("max", true, 25, minute(1_200), Some(1_000_000)),
        ])
        .expect("the default plans are valid")
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Plan>> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Plan>> {
        self.0.values()
    }

    /// The names, for messages that say what is allowed.
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plans_follow_formfex() {
        let p = Plans::formfex();
        assert_eq!(p.names(), ["free", "max", "pro", "starter"]);
        let keys: Vec<Option<u32>> = ["free", "starter", "pro", "max"]
            .iter()
            .map(|n| p.get(n).unwrap().max_keys)
            .collect();
        assert_eq!(keys, [Some(0), Some(3), Some(10), Some(25)]);
        assert!(!p.get("free").unwrap().api_access);
        assert!(p.get("starter").unwrap().api_access);
    }

    #[test]
    fn plans_are_validated() {
        let plan = |name: &str| Plan {
            name: name.into(),
            api_access: true,
            max_keys: None,
            rate_limits: vec![],
            monthly_quota: None,
        };
        assert_eq!(Plans::new(vec![]), Err(PlanError::Empty));
        assert!(matches!(
            Plans::new(vec![plan("Pro")]),
            Err(PlanError::Name(_))
        ));
        assert!(matches!(
            Plans::new(vec![plan("pro"), plan("pro")]),
            Err(PlanError::Repeated(_))
        ));
        let mut twice = plan("pro");
        twice.rate_limits = vec![
            RateLimit::per("a", 1, time::Duration::SECOND),
            RateLimit::per("a", 2, time::Duration::SECOND),
        ];
        assert!(matches!(
            Plans::new(vec![twice]),
            Err(PlanError::Limits { .. })
        ));
    }
}
