//! The API's operations as methods of [`Client`], one per endpoint, grouped as
//! `docs/openapi.json` tags them. Organizations, projects and users are named by id
//! or name, as the API takes them.

use crate::types::*;
use crate::{Client, Error};
use reqwest::Method;

impl Client {
    // -- verify --------------------------------------------------------------------

    /// `POST /v1/keys/verify`: checks a key against a request. A refused key is an
    /// `Ok` answer with `valid: false`; an `Err` means the check itself failed.
    pub async fn verify(&self, check: &VerifyIn) -> Result<VerifyOut, Error> {
        self.send(Method::POST, &["v1", "keys", "verify"], None, Some(check))
            .await
    }

    // -- organizations ---------------------------------------------------------------

    /// `GET /v1/orgs`: every organization for the operator, its own for a key.
    pub async fn list_orgs(&self) -> Result<OrgList, Error> {
        self.send(Method::GET, &["v1", "orgs"], None, None).await
    }

    /// `POST /v1/orgs` (operator only).
    pub async fn create_org(&self, org: &OrgIn) -> Result<OrgOut, Error> {
        self.send(Method::POST, &["v1", "orgs"], None, Some(org))
            .await
    }

    /// `GET /v1/orgs/{org}`: with the keys it holds and its monthly quota.
    pub async fn get_org(&self, org: &str) -> Result<OrgDetail, Error> {
        self.send(Method::GET, &["v1", "orgs", org], None, None)
            .await
    }

    /// `PATCH /v1/orgs/{org}`: its plan (operator only).
    pub async fn update_org(&self, org: &str, patch: &OrgPatch) -> Result<OrgOut, Error> {
        self.send(Method::PATCH, &["v1", "orgs", org], None, Some(patch))
            .await
    }

    // -- projects and environments ----------------------------------------------------

    pub async fn list_projects(&self, org: &str) -> Result<ProjectList, Error> {
        self.send(Method::GET, &["v1", "orgs", org, "projects"], None, None)
            .await
    }

    /// A new project, with `production` (live) and `preview` (test) environments.
    pub async fn create_project(
        &self,
        org: &str,
        project: &ProjectIn,
    ) -> Result<ProjectOut, Error> {
        self.send(
            Method::POST,
            &["v1", "orgs", org, "projects"],
            None,
            Some(project),
        )
        .await
    }

    pub async fn get_project(&self, org: &str, project: &str) -> Result<ProjectOut, Error> {
        self.send(
            Method::GET,
            &["v1", "orgs", org, "projects", project],
            None,
            None,
        )
        .await
    }

    pub async fn list_environments(&self, org: &str, project: &str) -> Result<EnvList, Error> {
        self.send(
            Method::GET,
            &["v1", "orgs", org, "projects", project, "environments"],
            None,
            None,
        )
        .await
    }

    pub async fn create_environment(
        &self,
        org: &str,
        project: &str,
        env: &EnvIn,
    ) -> Result<EnvOut, Error> {
        self.send(
            Method::POST,
            &["v1", "orgs", org, "projects", project, "environments"],
            None,
            Some(env),
        )
        .await
    }

    // -- keys ---------------------------------------------------------------------------

    /// `POST /v1/keys`: the answer holds the full key, this once.
    pub async fn create_key(&self, key: &KeyIn) -> Result<CreatedKeyView, Error> {
        self.send(Method::POST, &["v1", "keys"], None, Some(key))
            .await
    }

    /// `GET /v1/keys`: a page of keys, newest first.
    pub async fn list_keys(&self, query: &KeyListQuery) -> Result<KeyList, Error> {
        self.send(Method::GET, &["v1", "keys"], Some(query), None)
            .await
    }

    /// Every key `query` selects, following `next_cursor` page by page.
    pub async fn list_all_keys(&self, query: &KeyListQuery) -> Result<Vec<KeyView>, Error> {
        let mut query = query.clone();
        let mut all = Vec::new();
        loop {
            let page = self.list_keys(&query).await?;
            all.extend(page.data);
            match page.next_cursor {
                Some(cursor) if query.cursor.as_deref() != Some(cursor.as_str()) => {
                    query.cursor = Some(cursor)
                }
                _ => return Ok(all),
            }
        }
    }

    pub async fn get_key(&self, key_id: &str) -> Result<KeyView, Error> {
        self.send(Method::GET, &["v1", "keys", key_id], None, None)
            .await
    }

    /// `PATCH /v1/keys/{key_id}`.
    pub async fn update_key(&self, key_id: &str, patch: &KeyPatch) -> Result<KeyView, Error> {
        self.send(Method::PATCH, &["v1", "keys", key_id], None, Some(patch))
            .await
    }

    /// The key stops working at once; it can be reactivated.
    pub async fn revoke_key(&self, key_id: &str) -> Result<KeyView, Error> {
        self.send(Method::POST, &["v1", "keys", key_id, "revoke"], None, None)
            .await
    }

    pub async fn reactivate_key(&self, key_id: &str) -> Result<KeyView, Error> {
        self.send(
            Method::POST,
            &["v1", "keys", key_id, "reactivate"],
            None,
            None,
        )
        .await
    }

    /// A new key with the same settings; the old one works for the grace period.
    pub async fn rotate_key(&self, key_id: &str, rotate: &RotateIn) -> Result<RotatedView, Error> {
        self.send(
            Method::POST,
            &["v1", "keys", key_id, "rotate"],
            None,
            Some(rotate),
        )
        .await
    }

    /// Deletes the key for good; the record stays, as `deleted`, for the audit log.
    pub async fn delete_key(&self, key_id: &str) -> Result<KeyView, Error> {
        self.send(Method::DELETE, &["v1", "keys", key_id], None, None)
            .await
    }

    // -- usage ------------------------------------------------------------------------

    /// A key's checks per UTC day and outcome.
    pub async fn key_usage(&self, key_id: &str, range: &UsageQuery) -> Result<KeyUsageView, Error> {
        self.send(
            Method::GET,
            &["v1", "keys", key_id, "usage"],
            Some(range),
            None,
        )
        .await
    }

    /// An organization's checks per UTC day and outcome, and each key's.
    pub async fn org_usage(&self, org: &str, range: &UsageQuery) -> Result<OrgUsageView, Error> {
        self.send(
            Method::GET,
            &["v1", "orgs", org, "usage"],
            Some(range),
            None,
        )
        .await
    }

    // -- audit ------------------------------------------------------------------------

    /// `GET /v1/audit-events`: a page of events, newest first.
    pub async fn list_audit_events(&self, query: &AuditQuery) -> Result<AuditList, Error> {
        self.send(Method::GET, &["v1", "audit-events"], Some(query), None)
            .await
    }

    // -- people -----------------------------------------------------------------------

    /// `POST /v1/users` (operator only).
    pub async fn create_user(&self, user: &UserIn) -> Result<UserOut, Error> {
        self.send(Method::POST, &["v1", "users"], None, Some(user))
            .await
    }

    /// `GET /v1/users`: everyone, oldest first (operator only).
    pub async fn list_users(&self) -> Result<UserList, Error> {
        self.send(Method::GET, &["v1", "users"], None, None).await
    }

    /// `GET /v1/users/{user}`: a person (user id or e-mail address) and the
    /// organizations they belong to (operator only).
    pub async fn get_user(&self, user: &str) -> Result<UserDetail, Error> {
        self.send(Method::GET, &["v1", "users", user], None, None)
            .await
    }

    pub async fn list_members(&self, org: &str) -> Result<MemberList, Error> {
        self.send(Method::GET, &["v1", "orgs", org, "members"], None, None)
            .await
    }

    /// Adds a person (user id or e-mail address) to an organization, or changes their
    /// role and project levels.
    pub async fn set_member(
        &self,
        org: &str,
        user: &str,
        member: &MemberIn,
    ) -> Result<MemberOut, Error> {
        self.send(
            Method::PUT,
            &["v1", "orgs", org, "members", user],
            None,
            Some(member),
        )
        .await
    }

    pub async fn remove_member(&self, org: &str, user: &str) -> Result<(), Error> {
        self.send_empty(Method::DELETE, &["v1", "orgs", org, "members", user])
            .await
    }

    /// The answer holds the invitation's token, this once.
    pub async fn invite_member(
        &self,
        org: &str,
        invitation: &InvitationIn,
    ) -> Result<CreatedInvitationOut, Error> {
        self.send(
            Method::POST,
            &["v1", "orgs", org, "invitations"],
            None,
            Some(invitation),
        )
        .await
    }

    pub async fn list_invitations(&self, org: &str) -> Result<InvitationList, Error> {
        self.send(Method::GET, &["v1", "orgs", org, "invitations"], None, None)
            .await
    }

    /// Withdraws a pending invitation: its token stops working.
    pub async fn withdraw_invitation(&self, org: &str, invitation_id: &str) -> Result<(), Error> {
        self.send_empty(
            Method::DELETE,
            &["v1", "orgs", org, "invitations", invitation_id],
        )
        .await
    }

    pub async fn accept_invitation(&self, accept: &AcceptIn) -> Result<AcceptedOut, Error> {
        self.send(
            Method::POST,
            &["v1", "invitations", "accept"],
            None,
            Some(accept),
        )
        .await
    }

    // -- the caller and the catalog -----------------------------------------------------

    /// `GET /v1/me`: for an API key, the key, its organization and its permissions.
    pub async fn me(&self) -> Result<MeOut, Error> {
        self.send(Method::GET, &["v1", "me"], None, None).await
    }

    /// `GET /v1/scopes`: the scope catalog.
    pub async fn list_scopes(&self) -> Result<ScopeList, Error> {
        self.send(Method::GET, &["v1", "scopes"], None, None).await
    }
}
