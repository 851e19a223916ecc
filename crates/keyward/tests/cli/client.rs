//! keyward-client against a real `keyward serve` (spawned as in `serve.rs`, on a free
//! loopback port with a fresh data directory): the management calls round-trip, the
//! server's problems come back typed, and `KeywardLayer` in front of an axum app lets
//! valid keys through with their identity, refuses others as keyward does, counts
//! every request of a metered key, honours its cache's staleness bound and fails
//! closed.

use crate::serve::{free_port, Server};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use keyward_client::types::*;
use keyward_client::{Ask, Client, Error, KeyIdentity, KeywardLayer, Unverified};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// Two plans: `metered` (the default: a rate limit and a quota, as keyward's default
/// plans all have) and `unmetered` (neither), whose answers the layer may cache.
const PLANS: &str = r#"
default_plan = "metered"

[plans.metered]
api_access = true
monthly_quota = 100000
rate_limits = [{ name = "default", limit = 300, period = "1m" }]

[plans.unmetered]
api_access = true
"#;

/// A running server, its config and an admin client.
struct Keyward {
    server: Server,
    config: tempfile::TempDir,
    admin: Client,
    token: String,
}

impl Keyward {
    fn start() -> Keyward {
        let config = tempfile::tempdir().unwrap();
        let path = config.path().join("keyward.toml");
        std::fs::write(&path, PLANS).unwrap();
        let server = Server::start_with(&[("KEYWARD_CONFIG", path.to_str().unwrap())], None);
        let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["admin", "tokens", "create", "--name", "client tests"])
            .env("KEYWARD_DATA_DIR", server.data_dir())
            .env("KEYWARD_CONFIG", &path)
            // On this data directory, whatever this machine's user has set or logged
            // in to.
            .env("XDG_CONFIG_HOME", config.path())
            .env("HOME", config.path())
            .env_remove("KEYWARD_PEPPER")
            .env_remove("KEYWARD_URL")
            .env_remove("KEYWARD_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let admin = Client::new(&server.url, SecretString::from(token.clone())).unwrap();
        Keyward {
            server,
            config,
            admin,
            token,
        }
    }

    /// An organization on `plan` with a project `Website`.
    async fn org(&self, name: &str, plan: &str) -> OrgOut {
        let org = self
            .admin
            .create_org(&OrgIn {
                name: name.into(),
                plan: Some(plan.into()),
            })
            .await
            .unwrap();
        self.admin
            .create_project(
                &org.id,
                &ProjectIn {
                    name: "Website".into(),
                },
            )
            .await
            .unwrap();
        org
    }

    async fn key(&self, key: KeyIn) -> CreatedKeyView {
        self.admin.create_key(&key).await.unwrap()
    }
}

/// A read grant on Website's production environment.
fn reads(org: &OrgOut, name: &str) -> KeyIn {
    KeyIn {
        grants: vec![GrantIn::new("Website", "production", Level::Read)],
        ..KeyIn::new(&org.id, name)
    }
}

/// What each request asks: `/projects/{project}/forms`, the environment from
/// `X-Environment` (production unless sent), the level from the method.
fn ask(parts: &axum::http::request::Parts) -> Ask {
    let project = parts
        .uri
        .path()
        .trim_start_matches("/projects/")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let environment = parts
        .headers
        .get("x-environment")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("production")
        .to_owned();
    Ask::project(project, environment).resource("forms")
}

/// The app behind the layer answers with what reached it.
fn forms_app(layer: KeywardLayer) -> Router {
    async fn echo(request: Request) -> Json<Value> {
        let who = request.extensions().get::<KeyIdentity>();
        let headers = request.headers();
        Json(json!({
            "key_id": who.map(|w| w.key_id.clone()),
            "org_id": who.map(|w| w.org_id.clone()),
            "kind": who.map(|w| w.kind.as_str()),
            "user_id": who.and_then(|w| w.user_id.clone()),
            "metadata": who.and_then(|w| w.metadata.clone()),
            "unverified": request.extensions().get::<Unverified>().is_some(),
            "saw_key": headers.contains_key("authorization")
                || headers.contains_key("x-api-key")
                || headers.contains_key("api-key"),
        }))
    }
    Router::new()
        .route("/projects/{project}/forms", get(echo).post(echo))
        .route_layer(layer)
}

/// Sends a request to `app`; returns the status, header fields and JSON body.
async fn send(
    app: &Router,
    method: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri("/projects/Website/forms");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn secret(created: &CreatedKeyView) -> &str {
    created.key.expose_secret()
}

#[tokio::test]
async fn every_management_call_round_trips_through_the_client() {
    let kw = Keyward::start();
    let admin = &kw.admin;
    // A name with a space and a slash stays one path segment.
    let org = admin
        .create_org(&OrgIn {
            name: "Acme / Corp".into(),
            plan: None,
        })
        .await
        .unwrap();
    assert_eq!(org.plan, "metered");
    let detail = admin.get_org("Acme / Corp").await.unwrap();
    assert_eq!(detail.org, org);
    assert_eq!(detail.keys.unwrap().held, 0);
    assert_eq!(detail.quota.unwrap().limit, 100_000);
    assert!(admin.list_orgs().await.unwrap().data.contains(&org));
    let moved = admin
        .update_org(
            &org.id,
            &OrgPatch {
                plan: Some("unmetered".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.plan, "unmetered");

    let project = admin
        .create_project(
            "Acme / Corp",
            &ProjectIn {
                name: "Website".into(),
            },
        )
        .await
        .unwrap();
    let names: Vec<_> = project
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert!(
        names.contains(&"production") && names.contains(&"preview"),
        "{names:?}"
    );
    let sorted = |mut p: ProjectOut| {
        p.environments.sort_by(|a, b| a.name.cmp(&b.name));
        p
    };
    assert_eq!(
        sorted(admin.get_project(&org.id, "Website").await.unwrap()),
        sorted(project.clone())
    );
    let staging = admin
        .create_environment(
            &org.id,
            &project.id,
            &EnvIn {
                name: "staging".into(),
                kind: Kind::Test,
            },
        )
        .await
        .unwrap();
    assert_eq!(staging.kind, Kind::Test);
    let envs = admin.list_environments(&org.id, "Website").await.unwrap();
    assert!(envs.data.contains(&staging));
    let projects = admin.list_projects(&org.id).await.unwrap();
    assert_eq!(projects.data.len(), 1);
    assert_eq!(projects.data[0].environments.len(), 3);

    // People: a member with a project level, an invitation accepted, one withdrawn.
    let ada = admin
        .create_user(&UserIn {
            email: "ada@example.com".into(),
            display_name: Some("Ada".into()),
        })
        .await
        .unwrap();
    assert_eq!(ada.display_name.as_deref(), Some("Ada"));
    let member = admin
        .set_member(
            &org.id,
            "ada@example.com",
            &MemberIn {
                role: Role::Member,
                projects: vec![ProjectAccessIn {
                    project: "Website".into(),
                    level: Level::Write,
                }],
            },
        )
        .await
        .unwrap();
    assert_eq!(member.user, ada);
    assert_eq!(
        member.projects,
        [ProjectAccessOut {
            project_id: project.id.clone(),
            level: Level::Write
        }]
    );
    assert!(admin
        .list_members(&org.id)
        .await
        .unwrap()
        .data
        .contains(&member));
    let invited = admin
        .invite_member(
            &org.id,
            &InvitationIn {
                email: "bob@example.com".into(),
                role: Role::Admin,
                projects: vec![],
            },
        )
        .await
        .unwrap();
    assert!(!format!("{invited:?}").contains(invited.token.expose_secret()));
    assert!(admin
        .list_invitations(&org.id)
        .await
        .unwrap()
        .data
        .contains(&invited.invitation));
    let accepted = admin
        .accept_invitation(&AcceptIn {
            token: invited.token.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        (accepted.org_id.as_str(), accepted.member.role),
        (org.id.as_str(), Role::Admin)
    );
    let carol = admin
        .invite_member(
            &org.id,
            &InvitationIn {
                email: "carol@example.com".into(),
                role: Role::Member,
                projects: vec![],
            },
        )
        .await
        .unwrap();
    admin
        .withdraw_invitation(&org.id, &carol.invitation.id)
        .await
        .unwrap();
    assert!(admin
        .list_invitations(&org.id)
        .await
        .unwrap()
        .data
        .is_empty());
    admin.remove_member(&org.id, &ada.id).await.unwrap();
    let members = admin.list_members(&org.id).await.unwrap().data;
    assert!(members.iter().all(|m| m.user.id != ada.id), "{members:?}");

    // Keys: create, show, list page by page, verify, change, revoke, reactivate,
    // rotate, delete, and their audit trail and usage.
    let metadata: JsonObject = [("customer".to_owned(), json!("cus_1"))]
        .into_iter()
        .collect();
    let created = admin
        .create_key(&KeyIn {
            description: Some("for CI".into()),
            metadata: Some(metadata.clone()),
            ..reads(&org, "ci")
        })
        .await
        .unwrap();
    let id = created.details.id.clone();
    assert!(secret(&created).starts_with("kw_live_"));
    assert!(!format!("{created:?}").contains(secret(&created)));
    assert_eq!(admin.get_key(&id).await.unwrap(), created.details);
    let second = kw.key(reads(&org, "second")).await;
    let page = admin
        .list_keys(&KeyListQuery {
            org: Some(org.id.clone()),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert!(page.next_cursor.is_some());
    let all = admin
        .list_all_keys(&KeyListQuery {
            org: Some(org.id.clone()),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, [second.details.id.as_str(), id.as_str()]);

    let answer = admin
        .verify(&VerifyIn {
            project: Some("Website".into()),
            environment: Some("production".into()),
            method: Some("GET".into()),
            ..VerifyIn::new(created.key.clone())
        })
        .await
        .unwrap();
    assert!(
        answer.valid && answer.outcome == Outcome::Valid,
        "{answer:?}"
    );
    let key = answer.key.unwrap();
    assert_eq!(
        (key.id.as_str(), key.org_id.as_str()),
        (id.as_str(), org.id.as_str())
    );
    assert_eq!(key.metadata, Some(metadata));

    let changed = admin
        .update_key(
            &id,
            &KeyPatch {
                name: Some("ci-2".into()),
                description: Some(None),
                metadata: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            changed.name.as_str(),
            &changed.description,
            &changed.metadata
        ),
        ("ci-2", &None, &None)
    );
    assert_eq!(
        admin.revoke_key(&id).await.unwrap().status,
        KeyStatus::Revoked
    );
    assert_eq!(
        admin.reactivate_key(&id).await.unwrap().status,
        KeyStatus::Active
    );
    let rotated = admin
        .rotate_key(
            &id,
            &RotateIn {
                grace_period: Some("1h".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rotated.old.rotated_to.as_deref(),
        Some(rotated.new.details.id.as_str())
    );
    assert!(secret(&rotated.new).starts_with("kw_live_"));
    assert_eq!(
        admin
            .delete_key(&rotated.new.details.id)
            .await
            .unwrap()
            .status,
        KeyStatus::Deleted
    );
    let events = admin
        .list_audit_events(&AuditQuery {
            org: Some(org.id.clone()),
            key_id: Some(id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = events.data.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "key.created",
        "key.updated",
        "key.revoked",
        "key.reactivated",
        "key.rotated",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let usage = admin.key_usage(&id, &UsageQuery::default()).await.unwrap();
    assert_eq!((usage.key_id.as_str(), usage.days.len()), (id.as_str(), 30));
    let org_usage = admin
        .org_usage(&org.id, &UsageQuery::default())
        .await
        .unwrap();
    assert_eq!(org_usage.org_id, org.id);

    // A key is a caller too.
    let as_key = Client::new(&kw.server.url, second.key.clone()).unwrap();
    let me = as_key.me().await.unwrap();
    assert_eq!(
        (me.key.id, me.organization.id),
        (second.details.id.clone(), org.id.clone())
    );
    let scopes = admin.list_scopes().await.unwrap();
    assert!(
        scopes.data.iter().any(|s| s.name == "forms:read"),
        "{scopes:?}"
    );
}

#[tokio::test]
async fn keywards_refusals_come_back_as_typed_problems_that_never_show_the_token() {
    let kw = Keyward::start();
    let org = kw.org("Acme", "metered").await;

    let e = kw.admin.get_key("0123456789abcdef").await.unwrap_err();
    let p = e.problem().expect("a problem");
    assert_eq!((p.status, p.slug()), (404, "not-found"), "{p:?}");

    let e = kw
        .admin
        .create_key(&KeyIn::new(&org.id, "  "))
        .await
        .unwrap_err();
    let p = e.problem().expect("a problem");
    assert_eq!((p.status, p.field.as_deref()), (422, Some("name")), "{p:?}");

    let key = kw.key(reads(&org, "reader")).await;
    let as_key = Client::new(&kw.server.url, key.key.clone()).unwrap();
    let e = as_key
        .create_key(&KeyIn::new(&org.id, "more"))
        .await
        .unwrap_err();
    let p = e.problem().expect("a problem");
    assert_eq!(p.status, 403, "{p:?}");
    assert!(p.required_permission.is_some(), "{p:?}");
    assert!(e
        .to_string()
        .contains(p.required_permission.as_deref().unwrap()));

    let revoked = kw.admin.revoke_key(&key.details.id).await.unwrap();
    let e = kw.admin.revoke_key(&revoked.id).await.unwrap_err();
    assert_eq!(e.problem().map(|p| p.slug()), Some("conflict"));

    // A wrong token: 401, and neither the error nor the client shows the token.
    let wrong = format!("{}x", kw.token);
    let client = Client::new(&kw.server.url, SecretString::from(wrong.clone())).unwrap();
    let e = client.list_orgs().await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");
    for shown in [
        format!("{e}"),
        format!("{e:?}"),
        format!("{client:?}"),
        format!("{:?}", kw.admin),
    ] {
        assert!(
            !shown.contains(&wrong) && !shown.contains(&kw.token),
            "{shown}"
        );
    }

    // Mistakes in setting the client up are configuration errors, saying what to do.
    let token = || SecretString::from(kw.token.clone());
    for (url, says) in [
        ("ftp://127.0.0.1", "http://"),
        ("http://user:secret@127.0.0.1:1", "never in the URL"),
        ("http://127.0.0.1:1/?token=x", "query"),
        ("127.0.0.1:8080", "not a URL"),
    ] {
        match Client::new(url, token()) {
            Err(Error::Config(message)) => assert!(message.contains(says), "{url}: {message}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    // Nothing listening: a transport error, which a caller may retry.
    let gone = Client::new(&format!("http://127.0.0.1:{}", free_port()), token()).unwrap();
    let e = gone.list_orgs().await.unwrap_err();
    assert!(
        matches!(e, Error::Transport(_)) && e.is_unavailable(),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_layer_lets_valid_keys_through_with_their_identity_and_refuses_as_keyward_does() {
    let kw = Keyward::start();
    let org = kw.org("Acme", "metered").await;
    let metadata: JsonObject = [("customer".to_owned(), json!("cus_1"))]
        .into_iter()
        .collect();
    let reader = kw
        .key(KeyIn {
            metadata: Some(metadata.clone()),
            ..reads(&org, "reader")
        })
        .await;
    let tester = kw
        .key(KeyIn {
            kind: Some(Kind::Test),
            grants: vec![GrantIn::new("Website", "*", Level::Write)],
            ..KeyIn::new(&org.id, "tester")
        })
        .await;
    let layer = KeywardLayer::new(kw.admin.clone(), ask);
    let app = forms_app(layer.clone());

    // Allowed: the identity reaches the handler, the key does not; the limits'
    // fields are on the answer.
    for header in ["x-api-key", "api-key", "authorization"] {
        let value = match header {
            "authorization" => format!("Bearer {}", secret(&reader)),
            _ => secret(&reader).to_owned(),
        };
        let (status, headers, body) = send(&app, "GET", &[(header, &value)]).await;
        assert_eq!(status, StatusCode::OK, "{header}: {body}");
        assert_eq!(body["key_id"], json!(reader.details.id));
        assert_eq!(body["org_id"], json!(org.id));
        assert_eq!(body["kind"], json!("live"));
        assert_eq!(body["metadata"], json!(metadata));
        assert_eq!(body["saw_key"], json!(false), "{header} was removed");
        assert!(headers.contains_key("ratelimit"), "{headers:?}");
    }
    let kept = forms_app(layer.clone().keep_key_header());
    let (_, _, body) = send(&kept, "GET", &[("x-api-key", secret(&reader))]).await;
    assert_eq!(body["saw_key"], json!(true));

    // Refused, each as keyward's verify API words it.
    let asked = |key: &CreatedKeyView, method: &str| VerifyIn {
        project: Some("Website".into()),
        environment: Some("production".into()),
        method: Some(method.into()),
        resource: Some("forms".into()),
        ..VerifyIn::new(key.key.clone())
    };
    for (key, method, outcome) in [
        (&reader, "POST", "insufficient_permission"),
        (&tester, "GET", "wrong_environment"),
    ] {
        let (status, headers, body) = send(&app, method, &[("x-api-key", secret(key))]).await;
        let expected = kw.admin.verify(&asked(key, method)).await.unwrap();
        assert_eq!(status.as_u16(), expected.status, "{body}");
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(body["outcome"], json!(outcome));
        assert_eq!(
            body["type"],
            json!(format!("/docs/problems#{}", outcome.replace('_', "-")))
        );
        assert_eq!(body["detail"], json!(expected.detail));
        assert_eq!(
            body["required_permission"],
            json!(expected.required_permission)
        );
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("insufficient_scope"), "{challenge}");
        if let Some(permission) = &expected.required_permission {
            assert!(challenge.contains(permission.as_str()), "{challenge}");
        }
    }
    let (status, headers, body) = send(&app, "GET", &[]).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::UNAUTHORIZED, &json!("missing"))
    );
    assert_eq!(headers["www-authenticate"], r#"Bearer realm="keyward""#);
    let (status, _, body) = send(
        &app,
        "GET",
        &[("x-api-key", secret(&reader)), ("api-key", secret(&tester))],
    )
    .await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::UNAUTHORIZED, &json!("malformed"))
    );
    let (status, headers, body) = send(&app, "GET", &[("x-api-key", "kw_live_not_a_key")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));

    // A user-bound key: the person it acts as is in the identity.
    let ada = kw
        .admin
        .create_user(&UserIn {
            email: "ada@example.com".into(),
            display_name: None,
        })
        .await
        .unwrap();
    kw.admin
        .set_member(
            &org.id,
            &ada.id,
            &MemberIn {
                // Members may not create keys; admins may, bound to themselves.
                role: Role::Admin,
                projects: vec![],
            },
        )
        .await
        .unwrap();
    let as_ada = Client::builder(&kw.server.url, SecretString::from(kw.token.clone()))
        .acting_as(&ada.email)
        .build()
        .unwrap();
    let hers = as_ada.create_key(&reads(&org, "ada's")).await.unwrap();
    assert_eq!(hers.details.owner.as_deref(), Some(ada.id.as_str()));
    let (status, _, body) = send(&app, "GET", &[("x-api-key", secret(&hers))]).await;
    assert_eq!((status, &body["user_id"]), (StatusCode::OK, &json!(ada.id)));
}

#[tokio::test]
async fn a_rate_limited_key_reaches_keyward_on_every_request_and_gets_429() {
    let kw = Keyward::start();
    let org = kw.org("Acme", "metered").await;
    let limited = kw
        .key(KeyIn {
            rate_limits: Some(vec![RateLimitIn {
                name: "burst".into(),
                limit: 2,
                period: "1m".into(),
            }]),
            ..reads(&org, "limited")
        })
        .await;
    // The default cache (1 s) is on: were the first answer cached, the third request
    // would pass.
    let app = forms_app(KeywardLayer::new(kw.admin.clone(), ask));
    for _ in 0..2 {
        let (status, _, body) = send(&app, "GET", &[("x-api-key", secret(&limited))]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, headers, body) = send(&app, "GET", &[("x-api-key", secret(&limited))]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["type"], json!("/docs/problems#rate-limited"));
    let after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        after >= 1 && body["retry_after"] == json!(after),
        "{headers:?} {body}"
    );
    assert!(
        headers["ratelimit"].to_str().unwrap().contains("burst"),
        "{headers:?}"
    );
    assert!(headers.contains_key("ratelimit-policy"));
}

#[tokio::test]
async fn a_revoked_key_is_refused_once_the_cache_ttl_has_passed() {
    let kw = Keyward::start();
    // An unmetered organization: its keys' answers are cached.
    let org = kw.org("Acme", "unmetered").await;
    let key = kw.key(reads(&org, "cached")).await;
    let ttl = Duration::from_secs(3);
    let cached = forms_app(KeywardLayer::new(kw.admin.clone(), ask).cache(ttl, 100));
    let uncached = forms_app(KeywardLayer::new(kw.admin.clone(), ask).no_cache());
    let first = Instant::now();
    let (status, _, _) = send(&cached, "GET", &[("x-api-key", secret(&key))]).await;
    assert_eq!(status, StatusCode::OK);

    kw.admin.revoke_key(&key.details.id).await.unwrap();
    let acknowledged = Instant::now();
    // Without a cache the revocation is seen at once.
    let (status, _, body) = send(&uncached, "GET", &[("x-api-key", secret(&key))]).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::UNAUTHORIZED, &json!("revoked"))
    );
    // With one, the answer fetched before it may still be served within the TTL
    // (which shows the cache is used)...
    let (status, _, _) = send(&cached, "GET", &[("x-api-key", secret(&key))]).await;
    if first.elapsed() < ttl {
        assert_eq!(status, StatusCode::OK, "served from the cache");
    }
    // ...but never once the TTL has passed since the revocation was acknowledged.
    tokio::time::sleep((acknowledged + ttl).saturating_duration_since(Instant::now())).await;
    let (status, _, body) = send(&cached, "GET", &[("x-api-key", secret(&key))]).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::UNAUTHORIZED, &json!("revoked"))
    );
}

#[tokio::test]
async fn the_layer_fails_closed_when_keyward_is_down_and_open_only_when_asked() {
    let mut kw = Keyward::start();
    let org = kw.org("Acme", "unmetered").await;
    let key = kw.key(reads(&org, "k")).await;
    let layer = KeywardLayer::new(kw.admin.clone(), ask).no_cache();
    let closed = forms_app(layer.clone());
    let open = forms_app(layer.fail_open());
    let (status, _, _) = send(&closed, "GET", &[("x-api-key", secret(&key))]).await;
    assert_eq!(status, StatusCode::OK);

    // A token keyward refuses is the layer's fault, not the client's: 500, logged.
    let wrong = Client::new(&kw.server.url, SecretString::from(format!("{}x", kw.token))).unwrap();
    let misconfigured = forms_app(KeywardLayer::new(wrong, ask).fail_open());
    let (status, _, body) = send(&misconfigured, "GET", &[("x-api-key", secret(&key))]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");

    assert!(kw.server.terminate().success());
    let (status, headers, body) = send(&closed, "GET", &[("x-api-key", secret(&key))]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["status"], json!(503));
    assert!(body["key_id"].is_null(), "the handler did not run");

    let (status, _, body) = send(&open, "GET", &[("x-api-key", secret(&key))]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&body["unverified"], &body["key_id"]),
        (&json!(true), &Value::Null)
    );
    assert_eq!(body["saw_key"], json!(false));
    drop(kw.config);
}

#[tokio::test]
async fn a_keyward_that_accepts_but_never_answers_is_a_timeout_and_a_503() {
    // The kernel completes the connection; nobody reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let timeout = Duration::from_millis(300);
    let client = Client::builder(&url, SecretString::from("kw_admin_x".to_owned()))
        .timeout(timeout)
        .build()
        .unwrap();
    let e = client.list_orgs().await.unwrap_err();
    assert!(
        matches!(&e, Error::Transport(t) if t.is_timeout()) && e.is_unavailable(),
        "{e:?}"
    );
    let app = forms_app(KeywardLayer::new(client, ask));
    let started = Instant::now();
    let (status, headers, _) = send(&app, "GET", &[("x-api-key", "kw_live_any")]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(started.elapsed() < timeout * 5, "{:?}", started.elapsed());
}
