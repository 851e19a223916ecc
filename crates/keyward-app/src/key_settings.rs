//! What a key carries besides its power: the networks it may be used from, the
//! operator's metadata, and its own rate limits; each validated, and, for an editor who
//! is not the operator, bounded by what the editor may give: a key never makes a key
//! usable from more networks than it is, and nobody but the operator loosens the limits
//! of the organization's plan.

use crate::error::{AppError, AppResult};
use crate::principal::Who;
use crate::{Keyward, Principal};
use keyward_core::{limits, IpAllowlist, Metadata, OrgId, Plan, RateLimit};
use serde_json::Value;
use std::sync::Arc;

impl Keyward {
    /// The plan `org` is on, as the operator configures it.
    pub(crate) async fn plan_of(&self, org: &OrgId) -> AppResult<Arc<Plan>> {
        let found = self
            .store
            .find_org(org.as_str())
            .await?
            .ok_or_else(|| AppError::not_found("organization", org.as_str()))?;
        self.settings.plans.get(&found.plan).cloned().ok_or_else(|| {
            AppError::Conflict(format!(
                "the organization is on plan '{}', which this server does not define; the operator must define it or move the organization to one of: {}",
                found.plan,
                self.settings.plans.names().join(", ")
            ))
        })
    }

    pub(crate) fn parse_allowlist(
        &self,
        who: &Principal,
        entries: &[String],
    ) -> AppResult<IpAllowlist> {
        let list = IpAllowlist::parse(entries).map_err(|e| AppError::invalid("ip_allowlist", e))?;
        // A key limited to some networks cannot make a key usable from others.
        if let Who::Key(caller, _) = &who.who {
            if !caller.ip_allowlist.is_empty() && !list.within(&caller.ip_allowlist) {
                return Err(AppError::Forbidden {
                    required_permission: "no_escalation".into(),
                    message: "this key may only be used from some networks, and cannot make a key usable from others: give an ip_allowlist within its own".into(),
                });
            }
        }
        Ok(list)
    }

    pub(crate) fn parse_metadata(value: Value) -> AppResult<Option<Metadata>> {
        match value {
            Value::Null => Ok(None),
            other => Metadata::parse(other)
                .map(Some)
                .map_err(|e| AppError::invalid("metadata", e)),
        }
    }

    /// A key's own limits (`None`: the plan's), which only the operator may set looser
    /// than the plan's.
    pub(crate) fn check_limits(
        &self,
        who: &Principal,
        plan: &Plan,
        wanted: Option<&[RateLimit]>,
    ) -> AppResult<()> {
        let Some(wanted) = wanted else {
            return Ok(());
        };
        limits::check_set(wanted).map_err(|e| AppError::invalid("rate_limits", e))?;
        if !who.is_operator() && !limits::set_within(wanted, &plan.rate_limits) {
            let plan_limits: Vec<String> =
                plan.rate_limits.iter().map(ToString::to_string).collect();
            return Err(AppError::Forbidden {
                required_permission: "operator".into(),
                message: format!(
                    "only the operator can give a key limits looser than its plan's ({}: {}); give limits at least as strict, or none for the plan's",
                    plan.name,
                    plan_limits.join(", ")
                ),
            });
        }
        Ok(())
    }
}
