//! The dashboard's pages over HTTP, as a browser would send them: what every page is
//! served with, who may open and post what, and what a page never shows. (The pages in
//! a real browser are tested in `tests/browser/`.)

use crate::helpers::TestApp;
use keyward_app::Principal;
use keyward_core::Actor;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// A browser: cookies are set by hand, redirects are not followed.
struct Browser<'a> {
    t: &'a TestApp,
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl<'a> Browser<'a> {
    /// `email` signs in (an account with [`PASSWORD`] is made for them first).
    async fn signed_in(t: &'a TestApp, email: &str) -> Browser<'a> {
        let operator = Principal::operator(Actor::Cli("test".into()));
        if t.app.user(email).await.is_err() {
            t.app.create_user(&operator, email, None).await.unwrap();
        }
        let link = t.app.password_reset_link(&operator, email).await.unwrap();
        t.app
            .reset_password(
                link.token.expose_secret(),
                SecretString::from(PASSWORD),
                None,
            )
            .await
            .unwrap();
        let r = t
            .send(
                t.request(Method::POST, "/v1/sessions")
                    .json(&json!({ "email": email, "password": PASSWORD })),
            )
            .await
            .expect(201);
        let cookie = r.header("set-cookie").unwrap();
        Browser {
            t,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: cookie.split(';').next().unwrap().to_owned(),
            csrf: r.body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.t.url, path))
            .header("cookie", &self.cookie)
    }

    async fn page(b: reqwest::RequestBuilder) -> Page {
        let r = b.send().await.unwrap();
        Page {
            status: r.status(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        Self::page(self.request(Method::GET, path)).await
    }

    /// A form posted from one of our pages, with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = vec![("csrf", &self.csrf)];
        form.extend_from_slice(fields);
        Self::page(
            self.request(Method::POST, path)
                .header("origin", &self.t.url)
                .header("sec-fetch-site", "same-origin")
                .form(&form),
        )
        .await
    }
}

/// An organization with a project, and `email` as a member with `role` in it.
async fn org_with(t: &TestApp, name: &str, email: &str, role: &str) -> String {
    let exists = t
        .admin(Method::GET, &format!("/v1/orgs/{name}"), None)
        .await;
    let org = match exists.status.as_u16() {
        200 => exists.body["id"].as_str().unwrap().to_owned(),
        _ => t.org(name).await,
    };
    let operator = Principal::operator(Actor::Cli("test".into()));
    if t.app.user(email).await.is_err() {
        t.app.create_user(&operator, email, None).await.unwrap();
    }
    t.admin(
        Method::PUT,
        &format!("/v1/orgs/{org}/members/{email}"),
        Some(json!({ "role": role, "projects": [] })),
    )
    .await
    .expect(200);
    org
}

/// The key id in a page's `/keys/<id>` links.
fn key_id_in(text: &str, org: &str) -> String {
    let link = format!("/orgs/{org}/keys/");
    text.match_indices(&link)
        .map(|(at, _)| &text[at + link.len()..])
        .find(|rest| !rest.starts_with("new"))
        .map(|rest| rest[..16].to_owned())
        .expect("a key link")
}

#[tokio::test]
async fn every_page_is_served_with_a_strict_policy_and_no_cache() {
    let t = TestApp::spawn().await;
    let org = org_with(&t, "Acme", "ada@acme.test", "owner").await;
    let ada = Browser::signed_in(&t, "ada@acme.test").await;
    for path in [
        "/sign-in".to_owned(),
        "/setup".to_owned(),
        "/reset-password".to_owned(),
        format!("/orgs/{org}/keys"),
        format!("/orgs/{org}/keys/new"),
        format!("/orgs/{org}/projects"),
        format!("/orgs/{org}/members"),
        format!("/orgs/{org}/audit"),
        format!("/orgs/{org}/plan"),
        "/account".to_owned(),
    ] {
        // The pages for getting in are looked at signed out.
        let p = match path.starts_with("/orgs") || path == "/account" {
            true => ada.get(&path).await,
            false => Browser::page(ada.client.get(format!("{}{path}", t.url))).await,
        };
        assert_eq!(p.status, 200, "{path}: {}", p.text);
        let csp = p.header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(p.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(p.header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(p.header("cache-control"), "no-store", "{path}");
        // Nothing inline for the policy to have to allow.
        assert!(
            !p.text.contains("<script>") && !p.text.contains(" style="),
            "{path}"
        );
        // Nothing is loaded from another site (an SVG's xmlns is a name, not a load).
        for load in ["src=\"http", "href=\"http", "url(http", "action=\"http"] {
            assert!(!p.text.contains(load), "{path}: {load}");
        }
    }
}

#[tokio::test]
async fn signed_out_pages_send_the_person_to_sign_in_and_back() {
    let t = TestApp::spawn().await;
    let org = org_with(&t, "Acme", "ada@acme.test", "owner").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/orgs/{org}/keys?status=active", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/sign-in?next=/orgs/{org}/keys%3Fstatus%3Dactive").as_str()
    );
    // A made-up session is no session.
    let r = client
        .get(format!("{}/orgs/{org}/keys", t.url))
        .header("cookie", "keyward_session=ses_AAAAAAAAAAAAAAAA_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn a_key_is_shown_once_and_its_name_as_text() {
    let t = TestApp::spawn().await;
    let org = org_with(&t, "Acme", "ada@acme.test", "owner").await;
    let ada = Browser::signed_in(&t, "ada@acme.test").await;
    let created = ada
        .post(
            &format!("/orgs/{org}/keys"),
            &[
                ("name", "<script>alert(1)</script>"),
                ("kind", "live"),
                ("project", "Website"),
                ("environment", "production"),
                ("level", "write"),
                ("resources", ""),
                ("org_access", "none"),
                ("expiry", "30"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(created.header("cache-control"), "no-store");
    let at = created
        .text
        .find("value=\"kw_live_")
        .expect("the key, once")
        + 7;
    let key = &created.text[at..at + 8 + 16 + 1 + 49];
    assert!(!created.text.contains("<script>alert(1)</script>"));
    assert!(
        created
            .text
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "escaped as text"
    );
    // The key works, as created.
    let me = t.call(Method::GET, "/v1/me", key, None).await.expect(200);
    assert_eq!(me.body["key"]["grants"][0]["level"], "write");
    // And is never shown again: not on the list, not on its page.
    let id = key_id_in(&created.text, &org);
    for path in [
        format!("/orgs/{org}/keys"),
        format!("/orgs/{org}/keys/{id}"),
    ] {
        let p = ada.get(&path).await;
        assert_eq!(p.status, 200);
        assert!(!p.text.contains(&key[8 + 17..]), "{path} shows the secret");
        assert!(!p.text.contains("<script>alert"), "{path}");
    }
}

#[tokio::test]
async fn forms_need_the_sessions_token_and_to_come_from_our_pages() {
    let t = TestApp::spawn().await;
    let org = org_with(&t, "Acme", "ada@acme.test", "owner").await;
    let ada = Browser::signed_in(&t, "ada@acme.test").await;
    let fields = [("name", "forged"), ("kind", "live"), ("org_access", "read")];
    let path = format!("/orgs/{org}/keys");
    // Without the token.
    let p = Browser::page(ada.request(Method::POST, &path).form(&fields)).await;
    assert_eq!(p.status, 403, "{}", p.text);
    // With another session's token.
    let bob = Browser::signed_in(&t, "bob@acme.test").await;
    let mut forged = vec![("csrf", bob.csrf.as_str())];
    forged.extend_from_slice(&fields);
    let p = Browser::page(ada.request(Method::POST, &path).form(&forged)).await;
    assert_eq!(p.status, 403);
    // With the right token, from another site.
    let mut cross = vec![("csrf", ada.csrf.as_str())];
    cross.extend_from_slice(&fields);
    let p = Browser::page(
        ada.request(Method::POST, &path)
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://evil.test")
            .form(&cross),
    )
    .await;
    assert_eq!(p.status, 403);
    // Nothing was created by any of them; the real form still works.
    let keys = t
        .admin(Method::GET, &format!("/v1/keys?org={org}"), None)
        .await
        .expect(200);
    assert_eq!(
        keys.body["data"].as_array().unwrap().len(),
        0,
        "{}",
        keys.text
    );
    let p = ada.post(&path, &fields).await;
    assert_eq!(p.status, 200, "{}", p.text);
}

#[tokio::test]
async fn members_see_keys_but_change_nothing_and_nobody_sees_another_organization() {
    let t = TestApp::spawn().await;
    let acme = org_with(&t, "Acme", "ada@acme.test", "owner").await;
    org_with(&t, "Acme", "mia@acme.test", "member").await;
    let other = org_with(&t, "Globex", "gus@globex.test", "owner").await;
    let (_, _) = t
        .key(
            "Globex",
            json!({ "name": "theirs", "grants": [crate::helpers::grant("Website", "production", "read")] }),
        )
        .await;
    let ada = Browser::signed_in(&t, "ada@acme.test").await;
    ada.post(
        &format!("/orgs/{acme}/keys"),
        &[("name", "ours"), ("kind", "live"), ("org_access", "read")],
    )
    .await;
    let ours = key_id_in(&ada.get(&format!("/orgs/{acme}/keys")).await.text, &acme);

    let mia = Browser::signed_in(&t, "mia@acme.test").await;
    let list = mia.get(&format!("/orgs/{acme}/keys")).await;
    assert_eq!(list.status, 200);
    assert!(list.text.contains("ours"));
    assert!(
        !list.text.contains("Create API Key"),
        "no way to create is offered"
    );
    assert!(!list.text.contains("/revoke"), "no action is offered");
    assert_eq!(mia.get(&format!("/orgs/{acme}/keys/new")).await.status, 403);
    for (path, fields) in [
        (
            format!("/orgs/{acme}/keys"),
            vec![("name", "mine"), ("kind", "live"), ("org_access", "read")],
        ),
        (format!("/orgs/{acme}/keys/{ours}/revoke"), vec![]),
        (format!("/orgs/{acme}/keys/{ours}/delete"), vec![]),
    ] {
        let p = mia.post(&path, &fields).await;
        assert_eq!(p.status, 403, "{path}: {}", p.text);
    }
    let key = t
        .app
        .key(&Principal::operator(Actor::Cli("t".into())), &ours)
        .await
        .unwrap();
    assert_eq!(key.status.as_str(), "active", "the member changed nothing");

    // Another organization, by its id or through ours: not found, never forbidden.
    let theirs = key_id_in(
        &Browser::signed_in(&t, "gus@globex.test")
            .await
            .get(&format!("/orgs/{other}/keys"))
            .await
            .text,
        &other,
    );
    for path in [
        format!("/orgs/{other}/keys"),
        format!("/orgs/{other}/members"),
        format!("/orgs/{acme}/keys/not-a-key-id"),
        format!("/orgs/{acme}/keys/{theirs}"),
        format!("/orgs/{acme}/keys/{theirs}/revoke"),
    ] {
        assert_eq!(ada.get(&path).await.status, 404, "{path}");
    }
    let p = ada
        .post(&format!("/orgs/{acme}/keys/{theirs}/revoke"), &[])
        .await;
    assert_eq!(p.status, 404);
}

#[tokio::test]
async fn nobody_gives_a_key_more_than_they_hold_from_the_form_either() {
    let t = TestApp::spawn().await;
    let org = org_with(&t, "Acme", "ada@acme.test", "admin").await;
    let ada = Browser::signed_in(&t, "ada@acme.test").await;
    // The plan's limit is the most an admin may give; only the operator loosens it.
    let p = ada
        .post(
            &format!("/orgs/{org}/keys"),
            &[
                ("name", "greedy"),
                ("kind", "live"),
                ("org_access", "read"),
                ("rate_limits", "burst 1000000/1s"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.text);
    assert!(
        p.text.contains("field-error"),
        "the refusal is next to its field"
    );
    assert!(p.text.contains("greedy"), "what was typed is kept");
    // A refusal keeps the rows as they were typed, and no key was made.
    let keys = t
        .admin(Method::GET, &format!("/v1/keys?org={org}"), None)
        .await
        .expect(200);
    assert_eq!(keys.body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_members_access_is_saved_whole_from_the_members_page() {
    let t = TestApp::spawn().await;
    let org = org_with(&t, "Acme", "ada@acme.test", "owner").await;
    org_with(&t, "Acme", "mia@acme.test", "member").await;
    let ada = Browser::signed_in(&t, "ada@acme.test").await;
    let mia = t.app.user("mia@acme.test").await.unwrap().id.to_string();
    let page = ada.get(&format!("/orgs/{org}/members")).await;
    assert!(
        page.text.contains(&format!("level-{mia}-0")),
        "a level per project"
    );
    let saved = ada
        .post(
            &format!("/orgs/{org}/members/{mia}"),
            &[
                ("role", "member"),
                ("project", "Website"),
                ("level", "write"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let members = t
        .admin(Method::GET, &format!("/v1/orgs/{org}/members"), None)
        .await
        .expect(200);
    let row = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["email"] == "mia@acme.test")
        .cloned()
        .unwrap();
    assert_eq!(row["projects"][0]["level"], "write", "{}", members.text);
    // Saving the role again, with the level shown, keeps it.
    ada.post(
        &format!("/orgs/{org}/members/{mia}"),
        &[
            ("role", "member"),
            ("project", "Website"),
            ("level", "write"),
        ],
    )
    .await;
    let page = ada.get(&format!("/orgs/{org}/members")).await;
    assert!(page.text.contains("Website: write"), "{}", page.text);
}
