//! Reading the audit log.

use crate::error::{AppError, AppResult};
use crate::{Keyward, Principal};
use keyward_core::{AuditEvent, Level};
use keyward_store::AuditQuery;

impl Keyward {
    /// Audit events matching `query`; a key only ever sees its own organization's.
    pub async fn audit_events(
        &self,
        who: &Principal,
        query: &AuditQuery,
    ) -> AppResult<Vec<AuditEvent>> {
        let mut query = query.clone();
        if let Some(org) = who.org_scope() {
            who.require(Level::Read, "reading the audit log")?;
            if let Some(asked) = query.org_id.as_ref().filter(|asked| *asked != org) {
                return Err(AppError::not_found("organization", asked.as_str()));
            }
            query.org_id = Some(org.clone());
        }
        Ok(self.store.audit_events(&query).await?)
    }
}
