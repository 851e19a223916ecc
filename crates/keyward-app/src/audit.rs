//! Reading the audit log.

use crate::error::AppResult;
use crate::Keyward;
use keyward_core::AuditEvent;
use keyward_store::AuditQuery;

impl Keyward {
    pub async fn audit_events(&self, query: &AuditQuery) -> AppResult<Vec<AuditEvent>> {
        Ok(self.store.audit_events(query).await?)
    }
}
