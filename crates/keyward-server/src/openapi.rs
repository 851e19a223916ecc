//! The OpenAPI 3.1 document, generated from the handlers' annotations. The copy in
//! `docs/openapi.json` is committed; a test fails when it differs from this, and
//! `scripts/contract.sh` tests a running server against it.
//!
//! Error answers are documented from the same catalog that makes them
//! ([`crate::problems::ALL`]): one reusable `application/problem+json` response per
//! status, whose `type` is one of that status's problem types. Each handler lists the
//! statuses it answers itself; [`Layers`] adds those that the router's layers and
//! extractors answer for every operation alike, so that they are stated once.

use crate::problems::{self, Problem};
use crate::routes::{
    audit, health, invitations, keys, me, members, orgs, scopes, sessions, setup, usage, verify,
};
use axum::http::StatusCode;
use keyward_app::schema;
use keyward_core::{Catalog, Plans};
use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

/// An RFC 9457 problem body. Extension members such as `required_permission`,
/// `field` and `outcome` appear where they apply.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// Stable: match on this. See `/docs/problems`.
    #[schema(example = "/docs/problems#insufficient-permission")]
    pub r#type: String,
    pub title: String,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What happened and what to do.
    pub detail: String,
    /// On 403: the permission needed.
    #[schema(nullable = false)]
    pub required_permission: Option<String>,
    /// On 422: the input to fix.
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// On 401, 403 and 429 from a key check: the check's outcome.
    #[schema(nullable = false)]
    pub outcome: Option<String>,
    /// On 429: seconds until the same request would be admitted (as `Retry-After`);
    /// absent when it never would.
    #[schema(nullable = false)]
    pub retry_after: Option<u64>,
}

const PROBLEM_JSON: &str = "application/problem+json";

/// The response for every problem of one status: their titles, and a body whose
/// `type` is one of theirs. Problems that only endpoints outside the document answer
/// (`/metrics`) are left out: no documented operation answers them.
fn problem_response(status: StatusCode) -> Response {
    let of_status: Vec<&Problem> = problems::ALL
        .iter()
        .copied()
        .filter(|p| p.status == status && !problems::OUTSIDE_THE_API.contains(&p.slug))
        .collect();
    let titles: Vec<&str> = of_status.iter().map(|p| p.title).collect();
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(
            ObjectBuilder::new().property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(of_status.iter().map(|p| p.type_uri()))),
            ),
        );
    let mut response = ResponseBuilder::new()
        .description(titles.join("; "))
        .content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(schema)).build(),
        );
    if status == StatusCode::TOO_MANY_REQUESTS {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        response = response
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("Seconds until the same request would be admitted; absent when it never would (it costs more than a limit admits)"))
                    .build(),
            )
            .header(
                "RateLimit-Policy",
                HeaderBuilder::new()
                    .schema(text())
                    .description(Some("The key's rate limits and the monthly quota (`\"quota\"`), as draft-ietf-httpapi-ratelimit-headers writes them: `\"burst\";q=100;w=10, \"quota\";q=100000;w=2678400`"))
                    .build(),
            )
            .header(
                "RateLimit",
                HeaderBuilder::new()
                    .schema(text())
                    .description(Some("Where each stands: `\"burst\";r=0;t=3, \"quota\";r=99210;t=1209600`. Key callers get both fields on every answer"))
                    .build(),
            );
    }
    if status == StatusCode::UNAUTHORIZED {
        response = response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer realm=\"keyward\"`, with `error=\"invalid_token\"` when a credential was sent"))
                .build(),
        );
    }
    response.build()
}

macro_rules! problem_responses {
    ($($name:ident = $status:ident;)*) => {
        $(
            #[doc = concat!("The `", stringify!($status), "` problem answer, for `responses(...)`.")]
            pub struct $name;

            impl<'s> ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), problem_response(StatusCode::$status).into())
                }
            }
        )*
    };
}

problem_responses! {
    BadRequest = BAD_REQUEST;
    Unauthorized = UNAUTHORIZED;
    Forbidden = FORBIDDEN;
    NotFound = NOT_FOUND;
    Conflict = CONFLICT;
    PayloadTooLarge = PAYLOAD_TOO_LARGE;
    UnsupportedMediaType = UNSUPPORTED_MEDIA_TYPE;
    Unprocessable = UNPROCESSABLE_ENTITY;
    TooManyRequests = TOO_MANY_REQUESTS;
    Internal = INTERNAL_SERVER_ERROR;
    Unavailable = SERVICE_UNAVAILABLE;
}

fn problem_ref<'s, R: ToResponse<'s>>() -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(R::response().0))
}

/// The statuses every operation shares, added where the handlers leave them out:
/// 400 (a key in the query string is refused before routing; so is a query, path or
/// body that cannot be read), 500 (a failure or panic anywhere), 401 where a credential
/// is required (the `Caller` and `OperatorToken` extractors), 429 where it may be a
/// key (its rate limits and quota) and 503 where a key may be checked (its rate
/// limiter's Redis unreachable), and 413 and 415 where a
/// JSON body is read (the body limit and the `Json` extractor).
struct Layers;

impl Layers {
    fn complete(operation: &mut Operation) {
        let mut shared = vec![("400", problem_ref::<BadRequest>())];
        if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
            shared.push(("401", problem_ref::<Unauthorized>()));
            // A key caller's rate limits and quota; the verify API takes only the
            // operator's token, which nothing limits.
            if operation.operation_id.as_deref() != Some("verify_key") {
                shared.push(("429", problem_ref::<TooManyRequests>()));
            }
            // A key's check with its rate limits in Redis that does not answer, under
            // `redis_unreachable = "closed"`: `rate-limiter-unavailable`.
            shared.push(("503", problem_ref::<Unavailable>()));
        }
        if operation.request_body.is_some() {
            shared.push(("413", problem_ref::<PayloadTooLarge>()));
            shared.push(("415", problem_ref::<UnsupportedMediaType>()));
        }
        shared.push(("500", problem_ref::<Internal>()));
        let responses = &mut operation.responses.responses;
        for (status, response) in shared {
            responses.entry(status.to_owned()).or_insert(response);
        }
    }
}

impl Modify for Layers {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                Self::complete(operation);
            }
        }
    }
}

/// Where an answer leads: from a thing just created (or listed) to the operations on
/// it, with the answer's field each one takes. Client generators follow these, and so
/// does the stateful phase of the contract run, which chains the calls.
struct Links;

/// (from operation, its status, to operations, their parameters from the answer)
type LinkRow = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const KEY_OPERATIONS: &[&str] = &[
    "get_key",
    "update_key",
    "revoke_key",
    "reactivate_key",
    "rotate_key",
    "delete_key",
    "get_key_usage",
];

const LINKS: &[LinkRow] = &[
    (
        "create_key",
        "201",
        KEY_OPERATIONS,
        &[("key_id", "$response.body#/id")],
    ),
    (
        "rotate_key",
        "201",
        KEY_OPERATIONS,
        &[("key_id", "$response.body#/new/id")],
    ),
    (
        "list_keys",
        "200",
        KEY_OPERATIONS,
        &[("key_id", "$response.body#/data/0/id")],
    ),
    (
        "create_org",
        "201",
        &[
            "get_org",
            "list_projects",
            "create_project",
            "list_members",
            "get_org_usage",
        ],
        &[("org", "$response.body#/id")],
    ),
    (
        "create_project",
        "201",
        &["get_project", "list_environments", "create_environment"],
        &[
            ("org", "$response.body#/org_id"),
            ("project", "$response.body#/id"),
        ],
    ),
];

impl Modify for Links {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let id = operation.operation_id.clone().unwrap_or_default();
                for (from, status, targets, parameters) in LINKS {
                    if *from != id {
                        continue;
                    }
                    let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status)
                    else {
                        continue;
                    };
                    for target in *targets {
                        let mut link = LinkBuilder::new().operation_id(*target);
                        for (name, expression) in *parameters {
                            link = link.parameter(*name, *expression);
                        }
                        response
                            .links
                            .insert((*target).to_owned(), link.build().into());
                    }
                }
            }
        }
    }
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
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "keyward_session",
                "A person's session cookie, set by `POST /v1/sessions` (named \
                 `__Host-keyward_session` over https). With it, the API answers as that person, \
                 as with `Keyward-User`. Every request but GET and HEAD must also send the \
                 session's `csrf_token` as the `X-CSRF-Token` header.",
            ))),
        );
        // Every operation a key or token may call also takes a person's session, except
        // the verify API, which is the operator's alone.
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                if operation.operation_id.as_deref() == Some("verify_key") {
                    continue;
                }
                if let Some(security) = operation.security.as_mut() {
                    let bearer = serde_json::to_value(&*security)
                        .is_ok_and(|v| v.to_string().contains("\"bearer\""));
                    if bearer {
                        security.push(SecurityRequirement::new("session", Vec::<String>::new()));
                    }
                }
            }
        }
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
        orgs::list_orgs, orgs::create_org, orgs::get_org, orgs::update_org,
        orgs::list_projects, orgs::create_project, orgs::get_project,
        orgs::list_environments, orgs::create_environment,
        keys::list_keys, keys::create_key, keys::get_key, keys::patch_key, keys::delete_key,
        keys::revoke_key, keys::reactivate_key, keys::rotate_key,
        verify::verify, me::me, scopes::list, audit::list, setup::complete,
        sessions::create, sessions::current, sessions::sign_out, sessions::sign_out_everywhere,
        sessions::complete_reset,
        members::create_user, members::list_users, members::get_user, members::list_members, members::set_member, members::remove_member,
        invitations::invite, invitations::list, invitations::revoke, invitations::accept,
        usage::key_usage, usage::org_usage,
        health::healthz, health::readyz,
    ),
    components(
        schemas(ProblemDoc, keys::GrantIn),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
            UnsupportedMediaType, Unprocessable, TooManyRequests, Internal, Unavailable),
    ),
    modifiers(&Security, &Layers, &Links),
    tags(
        (name = "keys", description = "Create, list, change, revoke, rotate and delete API keys"),
        (name = "verify", description = "Check a key against a request (operator token)"),
        (name = "organizations", description = "Tenants"),
        (name = "projects", description = "Projects and their environments"),
        (name = "members", description = "People, their roles and project levels"),
        (name = "audit", description = "Who did what to which key"),
        (name = "usage", description = "Checks per key, day and outcome"),
        (name = "setup", description = "First-run setup"),
        (name = "sessions", description = "People signing in and out, and password resets"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// What the operator configures: the scopes keys may be given (the catalog's) and the
/// plans organizations may be on.
struct Configured<'a>(&'a Catalog, &'a Plans);

impl Modify for Configured<'_> {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert("Scope".to_owned(), schema::scope(self.0).into());
        components
            .schemas
            .insert("Plan".to_owned(), schema::plan(self.1).into());
    }
}

/// The document as committed: with the default scope catalog and plans.
pub fn document() -> String {
    document_for(&Catalog::formfex(), &Plans::formfex())
}

/// The document as a server with this scope catalog and these plans serves it at
/// `/openapi.json`: pretty JSON with a final newline.
pub fn document_for(catalog: &Catalog, plans: &Plans) -> String {
    let mut doc = ApiDoc::openapi();
    Configured(catalog, plans).modify(&mut doc);
    let json = doc.to_pretty_json().unwrap_or_default();
    // utoipa 5.5 writes a link's `operationId` as `operation_id`, which readers of the
    // document ignore. No other key is spelled so: the operations' own ids are
    // `operationId`, and no schema has such a property (a test checks both).
    let mut json = json.replace("\"operation_id\": ", "\"operationId\": ");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_core::Plan;

    #[test]
    fn the_served_document_names_the_operators_own_plans() {
        let plans = Plans::new(vec![Plan {
            name: "team-2026".into(),
            api_access: true,
            max_keys: None,
            rate_limits: Vec::new(),
            monthly_quota: None,
        }])
        .unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&document_for(&Catalog::formfex(), &plans)).unwrap();
        let plan = &doc["components"]["schemas"]["Plan"];
        assert_eq!(plan["description"], "One of: team-2026.");
        assert!(plan["pattern"].as_str().unwrap().contains("(?:team-2026)"));
    }
}
