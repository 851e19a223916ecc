//! People signing in: the session cookie, its ends (sign-out, idle, lifetime, password
//! reset), throttling that says nothing about which accounts exist, and the management
//! API with a session: the person's power exactly, changes only with the CSRF token.

use crate::helpers::{logs, Reply, TestApp};
use keyward_app::Principal;
use keyward_core::Actor;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use time::Duration;

const PASSWORD: &str = "correct horse battery staple";

fn operator() -> Principal {
    Principal::operator(Actor::Cli("test".into()))
}

/// A person with a password (set through a reset link, as an operator would).
async fn person(t: &TestApp, email: &str) -> String {
    let user = t.app.create_user(&operator(), email, None).await.unwrap();
    let link = t.app.password_reset_link(&operator(), email).await.unwrap();
    t.app
        .reset_password(
            link.token.expose_secret(),
            SecretString::from(PASSWORD),
            None,
        )
        .await
        .unwrap();
    user.id.to_string()
}

async fn sign_in(t: &TestApp, email: &str, password: &str) -> Reply {
    t.send(
        t.request(Method::POST, "/v1/sessions")
            .json(&json!({ "email": email, "password": password })),
    )
    .await
}

/// The `name=value` pair of the answer's session cookie.
fn cookie(r: &Reply) -> String {
    let set = r.header("set-cookie").expect("a cookie is set");
    set.split(';').next().unwrap().to_owned()
}

/// A request made with a session cookie (and the CSRF token, if given).
async fn with_session(
    t: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut b = t.request(method, path).header("cookie", cookie);
    if let Some(csrf) = csrf {
        b = b.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        b = b.json(&body);
    }
    t.send(b).await
}

#[tokio::test]
async fn signing_in_sets_an_http_only_lax_cookie_without_secure_over_http() {
    let t = TestApp::spawn().await;
    person(&t, "ada@acme.test").await;
    let r = sign_in(&t, "Ada@Acme.test ", PASSWORD).await.expect(201);
    let set = r.header("set-cookie").unwrap().to_owned();
    assert!(set.starts_with("keyward_session=ses_"), "{set}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(
            set.split("; ").any(|a| a == attribute),
            "{attribute}: {set}"
        );
    }
    assert!(!set.contains("Secure") && !set.contains("Domain"), "{set}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["user"]["email"], "ada@acme.test");
    assert_eq!(r.body["csrf_token"].as_str().unwrap().len(), 64);
    let token = cookie(&r)["keyward_session=".len()..].to_owned();
    assert!(!r.text.contains(&token), "the token is only in the cookie");
    let me = with_session(
        &t,
        Method::GET,
        "/v1/sessions/current",
        &cookie(&r),
        None,
        None,
    )
    .await
    .expect(200);
    assert_eq!(me.body["csrf_token"], r.body["csrf_token"]);
    assert_eq!(me.body["session_id"], r.body["session_id"]);
}

#[tokio::test]
async fn over_https_the_cookie_is_host_prefixed_and_secure_and_only_that_name_counts() {
    let t = TestApp::spawn_shaped(|s| s.reached_at("https://keys.example.com/")).await;
    person(&t, "ada@acme.test").await;
    let r = sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
    let set = r.header("set-cookie").unwrap().to_owned();
    assert!(set.starts_with("__Host-keyward_session=ses_"), "{set}");
    assert!(set.split("; ").any(|a| a == "Secure"), "{set}");
    assert!(!set.contains("Domain"), "{set}");
    let good = cookie(&r);
    with_session(&t, Method::GET, "/v1/sessions/current", &good, None, None)
        .await
        .expect(200);
    // The same token under the plain name (as a sibling subdomain could plant it) is
    // not read over https.
    let plain = good.replace("__Host-keyward_session", "keyward_session");
    with_session(&t, Method::GET, "/v1/sessions/current", &plain, None, None)
        .await
        .expect(401);
    // A page of the public origin may change things; another site may not.
    let csrf = r.body["csrf_token"].as_str().unwrap();
    let mut b = t
        .request(Method::DELETE, "/v1/sessions/current")
        .header("cookie", &good)
        .header("x-csrf-token", csrf)
        .header("origin", "https://evil.example.net");
    assert_eq!(t.send(b).await.expect(403).problem(), "csrf");
    b = t
        .request(Method::DELETE, "/v1/sessions/current")
        .header("cookie", &good)
        .header("x-csrf-token", csrf)
        .header("origin", "https://keys.example.com");
    t.send(b).await.expect(204);
}

#[tokio::test]
async fn every_sign_in_starts_a_new_session_and_ends_the_one_presented() {
    let t = TestApp::spawn().await;
    person(&t, "ada@acme.test").await;
    let first = cookie(&sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201));
    let again = t
        .send(
            t.request(Method::POST, "/v1/sessions")
                .header("cookie", &first)
                .json(&json!({ "email": "ada@acme.test", "password": PASSWORD })),
        )
        .await
        .expect(201);
    let second = cookie(&again);
    assert_ne!(first, second);
    let r = with_session(&t, Method::GET, "/v1/sessions/current", &first, None, None)
        .await
        .expect(401);
    assert_eq!(r.problem(), "signed-out");
    with_session(&t, Method::GET, "/v1/sessions/current", &second, None, None)
        .await
        .expect(200);
}

#[tokio::test]
async fn a_session_ends_after_twelve_idle_hours_and_seven_days_in_all() {
    let t = TestApp::spawn().await;
    person(&t, "ada@acme.test").await;
    let idle = cookie(&sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201));
    let busy = cookie(&sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201));
    let get = |c: String| {
        let t = &t;
        async move { with_session(t, Method::GET, "/v1/sessions/current", &c, None, None).await }
    };
    // Used every 11 hours, one session lives on; the other, unused, ends at 12 hours.
    t.clock.advance(Duration::hours(11));
    get(busy.clone()).await.expect(200);
    t.clock.advance(Duration::hours(1));
    get(busy.clone()).await.expect(200);
    get(idle.clone()).await.expect(401);
    for _ in 0..14 {
        t.clock.advance(Duration::hours(11));
        let r = get(busy.clone()).await;
        if r.status == 401 {
            break;
        }
        r.expect(200);
    }
    t.clock.advance(Duration::hours(11));
    // 12 + 15 * 11 hours > 7 days: the session ended however busy.
    assert_eq!(get(busy).await.expect(401).problem(), "signed-out");
}

#[tokio::test]
async fn seeing_a_session_writes_to_the_database_at_most_once_a_minute() {
    let t = TestApp::spawn().await;
    let user = person(&t, "ada@acme.test").await;
    let c = cookie(&sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201));
    let last_seen = || async {
        let s = t.app.list_sessions(&operator(), &user).await.unwrap();
        s[0].last_seen_at
    };
    let start = last_seen().await;
    t.clock.advance(Duration::seconds(30));
    with_session(&t, Method::GET, "/v1/sessions/current", &c, None, None)
        .await
        .expect(200);
    assert_eq!(last_seen().await, start, "not written within the minute");
    t.clock.advance(Duration::seconds(30));
    with_session(&t, Method::GET, "/v1/sessions/current", &c, None, None)
        .await
        .expect(200);
    assert_eq!(last_seen().await, t.app.now());
}

#[tokio::test]
async fn signing_out_and_signing_out_everywhere_end_sessions() {
    let t = TestApp::spawn().await;
    person(&t, "ada@acme.test").await;
    let laptop = sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
    let phone = sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
    let tablet = sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
    let csrf = |r: &Reply| r.body["csrf_token"].as_str().unwrap().to_owned();

    // Signing out is a change: it needs the CSRF token.
    with_session(
        &t,
        Method::DELETE,
        "/v1/sessions/current",
        &cookie(&laptop),
        None,
        None,
    )
    .await
    .expect(403);
    let out = with_session(
        &t,
        Method::DELETE,
        "/v1/sessions/current",
        &cookie(&laptop),
        Some(&csrf(&laptop)),
        None,
    )
    .await
    .expect(204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    with_session(&t, Method::GET, "/v1/orgs", &cookie(&laptop), None, None)
        .await
        .expect(401);
    with_session(&t, Method::GET, "/v1/orgs", &cookie(&phone), None, None)
        .await
        .expect(200);

    with_session(
        &t,
        Method::DELETE,
        "/v1/sessions",
        &cookie(&phone),
        Some(&csrf(&phone)),
        None,
    )
    .await
    .expect(204);
    for r in [&phone, &tablet] {
        with_session(&t, Method::GET, "/v1/orgs", &cookie(r), None, None)
            .await
            .expect(401);
    }
    let events = t
        .admin(
            Method::GET,
            "/v1/audit-events?operator=true&action=user.signed_out_everywhere",
            None,
        )
        .await
        .expect(200);
    assert_eq!(events.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn throttling_answers_alike_for_real_and_made_up_accounts_and_refuses_the_right_password() {
    let t = TestApp::spawn().await;
    person(&t, "ada@acme.test").await;
    let mut wrong = Vec::new();
    for _ in 0..5 {
        for email in ["ada@acme.test", "nobody@acme.test"] {
            let r = sign_in(&t, email, "not the password").await.expect(401);
            assert_eq!(r.problem(), "sign-in-failed");
            wrong.push(r.body["detail"].clone());
        }
    }
    assert!(
        wrong.windows(2).all(|w| w[0] == w[1]),
        "one message: {wrong:?}"
    );
    let real = sign_in(&t, "ada@acme.test", "not the password")
        .await
        .expect(429);
    let made_up = sign_in(&t, "nobody@acme.test", "not the password")
        .await
        .expect(429);
    assert_eq!(real.body, made_up.body);
    assert_eq!(real.header("retry-after"), made_up.header("retry-after"));
    assert_eq!(real.header("retry-after"), Some("900"));
    assert_eq!(real.body["retry_after"], 900);
    assert!(real.body["detail"]
        .as_str()
        .unwrap()
        .contains("try again in 15 minutes"));
    // Throttled, the right password is refused too.
    sign_in(&t, "ada@acme.test", PASSWORD).await.expect(429);
    t.clock.advance(Duration::minutes(15));
    sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
    // A success starts the account afresh: 4 more failures are not yet refused.
    for _ in 0..4 {
        sign_in(&t, "ada@acme.test", "not the password")
            .await
            .expect(401);
    }
    sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
}

#[tokio::test]
async fn with_a_session_the_api_reads_freely_and_changes_only_with_the_csrf_token() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    let user = person(&t, "ada@acme.test").await;
    t.admin(
        Method::PUT,
        &format!("/v1/orgs/Acme/members/{user}"),
        Some(json!({ "role": "owner" })),
    )
    .await
    .expect(200);
    let r = sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
    let (c, csrf) = (
        cookie(&r),
        r.body["csrf_token"].as_str().unwrap().to_owned(),
    );
    with_session(&t, Method::GET, "/v1/keys?org=Acme", &c, None, None)
        .await
        .expect(200);
    let key = json!({ "org": "Acme", "name": "Ada's key", "grants": [{ "project": "Website", "environment": "production", "level": "read" }] });

    let refused = with_session(&t, Method::POST, "/v1/keys", &c, None, Some(key.clone()))
        .await
        .expect(403);
    assert_eq!(refused.problem(), "csrf");
    with_session(
        &t,
        Method::POST,
        "/v1/keys",
        &c,
        Some("0".repeat(64).as_str()),
        Some(key.clone()),
    )
    .await
    .expect(403);
    let created = with_session(&t, Method::POST, "/v1/keys", &c, Some(&csrf), Some(key))
        .await
        .expect(201);
    // Created as Ada: a user-bound key of hers, as with Keyward-User.
    assert_eq!(created.body["created_by"], format!("user:{user}"));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/keys/{id}");
    let patch = json!({ "name": "renamed" });
    with_session(&t, Method::PATCH, &path, &c, None, Some(patch.clone()))
        .await
        .expect(403);
    with_session(&t, Method::PATCH, &path, &c, Some(&csrf), Some(patch))
        .await
        .expect(200);
    // Another site's page cannot make the browser change anything, token or not.
    let b = t
        .request(Method::DELETE, &path)
        .header("cookie", &c)
        .header("x-csrf-token", &csrf)
        .header("sec-fetch-site", "cross-site");
    assert_eq!(t.send(b).await.expect(403).problem(), "csrf");
    with_session(&t, Method::DELETE, &path, &c, None, None)
        .await
        .expect(403);
    with_session(&t, Method::DELETE, &path, &c, Some(&csrf), None)
        .await
        .expect(200);
    // A key or token wins over the cookie, and needs no CSRF token.
    let b = t
        .request(Method::POST, "/v1/orgs")
        .header("cookie", &c)
        .bearer_auth(&t.admin)
        .json(&json!({ "name": "Beta" }));
    t.send(b).await.expect(201);
}

#[tokio::test]
async fn a_persons_session_never_sees_another_organization() {
    let t = TestApp::spawn().await;
    t.org("Acme").await;
    t.org("Beta").await;
    let user = person(&t, "ada@acme.test").await;
    t.admin(
        Method::PUT,
        &format!("/v1/orgs/Acme/members/{user}"),
        Some(json!({ "role": "admin" })),
    )
    .await
    .expect(200);
    let r = sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
    assert_eq!(r.body["memberships"][0]["role"], "admin");
    let (c, csrf) = (
        cookie(&r),
        r.body["csrf_token"].as_str().unwrap().to_owned(),
    );
    with_session(&t, Method::GET, "/v1/orgs/Acme", &c, None, None)
        .await
        .expect(200);
    for path in [
        "/v1/orgs/Beta",
        "/v1/keys?org=Beta",
        "/v1/orgs/Beta/members",
    ] {
        with_session(&t, Method::GET, path, &c, None, None)
            .await
            .expect(404);
    }
    let orgs = with_session(&t, Method::GET, "/v1/orgs", &c, None, None)
        .await
        .expect(200);
    assert!(!orgs.text.contains("Beta"), "{}", orgs.text);
    let key = json!({ "org": "Beta", "name": "sneaky", "org_access": "read" });
    with_session(&t, Method::POST, "/v1/keys", &c, Some(&csrf), Some(key))
        .await
        .expect(404);
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_every_session() {
    let t = TestApp::spawn().await;
    person(&t, "ada@acme.test").await;
    let before = cookie(&sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201));
    let link = t
        .app
        .password_reset_link(&operator(), "ada@acme.test")
        .await
        .unwrap();
    let token = link.token.expose_secret().to_owned();
    let complete = |token: &str, password: &str| {
        t.request(Method::POST, "/v1/password-resets/complete")
            .json(&json!({ "token": token, "password": password }))
    };
    let r = t.send(complete(&token, "short")).await.expect(422);
    assert_eq!(r.body["field"], "password");
    t.send(complete(&token, "a brand new password"))
        .await
        .expect(204);
    t.send(complete(&token, "another new password"))
        .await
        .expect(403);
    with_session(&t, Method::GET, "/v1/sessions/current", &before, None, None)
        .await
        .expect(401);
    sign_in(&t, "ada@acme.test", PASSWORD).await.expect(401);
    sign_in(&t, "ada@acme.test", "a brand new password")
        .await
        .expect(201);
    // A link expires after an hour, and a newer link replaces an older one.
    let old = t
        .app
        .password_reset_link(&operator(), "ada@acme.test")
        .await
        .unwrap();
    let new = t
        .app
        .password_reset_link(&operator(), "ada@acme.test")
        .await
        .unwrap();
    t.send(complete(old.token.expose_secret(), "yet another password"))
        .await
        .expect(403);
    t.clock.advance(Duration::hours(1));
    t.send(complete(new.token.expose_secret(), "yet another password"))
        .await
        .expect(403);
}

#[tokio::test]
async fn the_setup_link_signs_the_new_owner_in() {
    let t = TestApp::spawn().await;
    let token = t.app.begin_setup().await.unwrap().unwrap();
    let r = t
        .send(t.request(Method::POST, "/v1/setup").json(&json!({
            "token": token, "email": "owner@acme.test", "password": PASSWORD, "organization": "Acme"
        })))
        .await
        .expect(201);
    let me = with_session(
        &t,
        Method::GET,
        "/v1/sessions/current",
        &cookie(&r),
        None,
        None,
    )
    .await
    .expect(200);
    assert_eq!(me.body["csrf_token"], r.body["csrf_token"]);
    assert_eq!(me.body["memberships"][0]["role"], "owner");
}

#[tokio::test]
async fn a_new_person_accepts_an_invitation_with_a_password_and_is_signed_in() {
    let t = TestApp::spawn().await;
    let org = t.org("Acme").await;
    let org = keyward_core::OrgId::parse(&org).unwrap();
    let invite = |email: &'static str| {
        let t = &t;
        let org = org.clone();
        async move {
            t.app
                .invite_member(
                    &operator(),
                    &org,
                    email,
                    keyward_app::MemberInput {
                        role: keyward_core::Role::Member,
                        projects: vec![],
                    },
                )
                .await
                .unwrap()
                .token
                .expose_secret()
                .to_owned()
        }
    };
    let token = invite("bea@acme.test").await;
    let (session, joined, access) = t
        .app
        .accept_invitation_with_password(
            &token,
            SecretString::from(PASSWORD),
            Some("Bea"),
            None,
            Some("Firefox"),
        )
        .await
        .unwrap();
    assert_eq!(joined, org);
    assert_eq!(access.role, keyward_core::Role::Member);
    assert_eq!(
        session.signed_in.person.display_name.as_deref(),
        Some("Bea")
    );
    assert!(session.signed_in.principal.sees(&org));
    sign_in(&t, "bea@acme.test", PASSWORD).await.expect(201);
    // Someone with an account signs in and accepts as themselves instead.
    person(&t, "cyd@acme.test").await;
    let token = invite("cyd@acme.test").await;
    let e = t
        .app
        .accept_invitation_with_password(&token, SecretString::from(PASSWORD), None, None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, keyward_app::AppError::Conflict(_)), "{e}");
    let r = sign_in(&t, "cyd@acme.test", PASSWORD).await.expect(201);
    let accepted = with_session(
        &t,
        Method::POST,
        "/v1/invitations/accept",
        &cookie(&r),
        r.body["csrf_token"].as_str(),
        Some(json!({ "token": token })),
    )
    .await
    .expect(200);
    assert_eq!(accepted.body["member"]["user"]["email"], "cyd@acme.test");
}

#[tokio::test]
async fn session_and_reset_tokens_never_reach_logs_the_audit_log_or_the_database() {
    let t = TestApp::spawn().await;
    person(&t, "ada@acme.test").await;
    let mut secrets = Vec::new();
    for _ in 0..3 {
        let r = sign_in(&t, "ada@acme.test", PASSWORD).await.expect(201);
        let token = cookie(&r)["keyward_session=".len()..].to_owned();
        with_session(
            &t,
            Method::GET,
            "/v1/orgs",
            &format!("keyward_session={token}"),
            None,
            None,
        )
        .await
        .expect(200);
        secrets.push(token);
    }
    let link = t
        .app
        .password_reset_link(&operator(), "ada@acme.test")
        .await
        .unwrap();
    secrets.push(link.token.expose_secret().to_owned());
    t.send(
        t.request(Method::POST, "/v1/password-resets/complete")
            .json(
                &json!({ "token": link.token.expose_secret(), "password": "a brand new password" }),
            ),
    )
    .await
    .expect(204);
    let audit = t
        .admin(Method::GET, "/v1/audit-events?operator=true", None)
        .await
        .expect(200);
    let actions: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "user.signed_in",
        "user.reset_link_created",
        "user.password_reset",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    let logs = logs();
    let bytes = t.database_bytes().await;
    for secret in &secrets {
        // The whole token, and its secret part alone (the id part is public).
        let secret_part = &secret[secret.len() - 43..];
        for needle in [secret.as_str(), secret_part] {
            assert!(!logs.contains(needle), "a token in the logs");
            assert!(!audit.text.contains(needle), "a token in the audit log");
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "a token in the database"
            );
        }
    }
    for needle in [PASSWORD, "a brand new password"] {
        assert!(!logs.contains(needle) && !audit.text.contains(needle));
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()));
    }
}
