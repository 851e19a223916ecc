//! Who is looking at a page: the signed-in person, from their session cookie.

use super::PageError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use keyward_app::Principal;
use keyward_core::{OrgId, Role, UserId};

/// The person signed in, as every dashboard page sees them.
#[derive(Clone)]
pub struct Viewer {
    pub principal: Principal,
    pub user_id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl Viewer {
    /// Whether `presented` is this session's CSRF token, in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        !presented.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// The name to greet them by.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.email)
    }

    pub fn role(&self, org: &OrgId) -> Option<Role> {
        self.principal.role(org)
    }

    /// Whether they may create and change keys in `org` (owners and admins).
    pub fn manages_keys(&self, org: &OrgId) -> bool {
        self.principal
            .org_access(org)
            .allows(keyward_core::Level::Write)
    }
}

/// The person whose session cookie this request carries, if it is a live session.
async fn signed_in(_parts: &Parts, _state: &AppState) -> Result<Option<Viewer>, PageError> {
    // Wired to the sessions of `crate::session` when they land.
    Ok(None)
}

/// Whether `path` is a path on this site (so safe to send a person back to after
/// signing in), not another site's address.
pub fn local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        match signed_in(parts, state).await? {
            Some(s) => Ok(s),
            None => Err(PageError::SignIn { next }),
        }
    }
}

/// The person signed in, if anyone is: for pages that show either way.
pub struct MaybeViewer(pub Option<Viewer>);

impl FromRequestParts<AppState> for MaybeViewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        Ok(MaybeViewer(signed_in(parts, state).await?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/", "/orgs/x/keys", "/orgs/x/keys?status=active"] {
            assert!(super::local_path(ok), "{ok}");
        }
        for bad in [
            "https://evil.test/",
            "//evil.test/",
            "/\\evil.test",
            "evil",
            "",
            "/\nx",
        ] {
            assert!(!super::local_path(bad), "{bad:?}");
        }
    }
}
