//! The OpenAPI 3.1 document, generated from the handlers' annotations. The copy in
//! `docs/openapi.json` is committed; a test fails when it differs from this.

use crate::routes::{audit, health, invitations, keys, me, members, orgs, scopes, setup, verify};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// An RFC 9457 problem body. Extension members such as `required_permission`,
/// `field` and `outcome` appear where they apply.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDoc {
    /// Stable: match on this. See `/docs/problems`.
    #[schema(example = "/docs/problems#insufficient-permission")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    /// What happened and what to do.
    pub detail: String,
    /// On 403: the permission needed.
    pub required_permission: Option<String>,
    /// On 422: the input to fix.
    pub field: Option<String>,
    /// On 401 and 403 from a key check: the check's outcome.
    pub outcome: Option<String>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator admin token (`kw_admin_…`) or an API key (`kw_live_…`, `kw_test_…`). \
                         Keys are also accepted in `x-api-key` and `api-key` headers, never in the URL. \
                         With an admin token, the `Keyward-User` header (a user id or e-mail) acts as that \
                         person, with their role and project levels.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyward",
        description = "Self-hosted API keys: the management API, the verify API and /v1/me. \
                       Errors are RFC 9457 problem bodies; see /docs/problems.",
        license(name = "Apache-2.0")
    ),
    paths(
        orgs::list_orgs, orgs::create_org, orgs::get_org,
        orgs::list_projects, orgs::create_project, orgs::get_project,
        orgs::list_environments, orgs::create_environment,
        keys::list_keys, keys::create_key, keys::get_key, keys::patch_key, keys::delete_key,
        keys::revoke_key, keys::reactivate_key, keys::rotate_key,
        verify::verify, me::me, scopes::list, audit::list, setup::complete,
        members::create_user, members::list_members, members::set_member, members::remove_member,
        invitations::invite, invitations::list, invitations::revoke, invitations::accept,
        health::healthz, health::readyz,
    ),
    components(schemas(ProblemDoc)),
    modifiers(&Security),
    tags(
        (name = "keys", description = "Create, list, change, revoke, rotate and delete API keys"),
        (name = "verify", description = "Check a key against a request (operator token)"),
        (name = "organizations", description = "Tenants"),
        (name = "projects", description = "Projects and their environments"),
        (name = "members", description = "People, their roles and project levels"),
        (name = "audit", description = "Who did what to which key"),
        (name = "setup", description = "First-run setup"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// The document as committed: pretty JSON with a final newline.
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
