//! Reading the audit log.

use crate::error::{AppError, AppResult};
use crate::{Keyward, Principal};
use keyward_core::{AuditEvent, Level};
use keyward_store::AuditQuery;

impl Keyward {
    /// Audit events matching `query`. The operator sees every organization's and its
    /// own stream (admin tokens, people); anyone else sees one organization they belong
    /// to (named, or their only one).
    pub async fn audit_events(
        &self,
        who: &Principal,
        query: &AuditQuery,
    ) -> AppResult<Vec<AuditEvent>> {
        let mut query = query.clone();
        if query.operator_only && !who.is_operator() {
            return Err(AppError::Forbidden {
                required_permission: "operator".into(),
                message:
                    "the operator's audit stream (admin tokens, people) is the operator's alone"
                        .into(),
            });
        }
        if !who.is_operator() {
            let org = match (&query.org_id, who.default_org()) {
                (Some(org), _) => org.clone(),
                (None, Some(org)) => org.clone(),
                (None, None) => {
                    return Err(AppError::invalid(
                        "org",
                        "org: name the organization whose audit log to read",
                    ))
                }
            };
            who.require_sees(&org)?;
            who.require(&org, Level::Read, "reading the audit log")?;
            query.org_id = Some(org);
        }
        Ok(self.store.audit_events(&query).await?)
    }
}
