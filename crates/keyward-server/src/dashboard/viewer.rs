//! Who is looking at a page: the signed-in person, from their session cookie (see
//! [`crate::session`]).

use super::PageError;
use crate::session::{SessionCookie, SignedInPerson};
use crate::state::AppState;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use keyward_app::Principal;
use keyward_core::session::CsrfToken;
use keyward_core::{OrgId, UserId};

/// The person signed in, as every dashboard page sees them.
#[derive(Clone)]
pub struct Viewer {
    pub principal: Principal,
    pub user_id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    /// The session's CSRF token, put in every form.
    pub csrf: CsrfToken,
    /// The session cookie as this request carries it: to sign out.
    pub cookie: SessionCookie,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl Viewer {
    fn of(person: SignedInPerson) -> Self {
        let s = person.signed_in;
        Viewer {
            principal: s.principal,
            user_id: s.person.id,
            email: s.person.email,
            display_name: s.person.display_name,
            csrf: s.csrf,
            cookie: person.cookie,
        }
    }

    /// Whether `presented` is this session's CSRF token, in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.verify(presented)
    }

    /// The name to greet them by.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.email)
    }

    /// Whether they may create and change keys in `org` (owners and admins).
    pub fn manages_keys(&self, org: &OrgId) -> bool {
        self.principal
            .org_access(org)
            .allows(keyward_core::Level::Write)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        <SignedInPerson as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Viewer::of)
            .map_err(PageError::Session)
    }
}

/// The person signed in, if anyone is: for pages that show either way.
pub struct MaybeViewer(pub Option<Viewer>);

impl FromRequestParts<AppState> for MaybeViewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        <SignedInPerson as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(|p| MaybeViewer(p.map(Viewer::of)))
            .map_err(PageError::Session)
    }
}
