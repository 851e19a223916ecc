//! The permission check against a reference model. Random worlds (two organizations,
//! people with random roles and project levels, keys with random grants, scopes,
//! organization access and owners, including grants that name the other
//! organization's projects, then a random membership change) are built in a real
//! store; every request is checked through the application and through the HTTP
//! verify API, and both must agree with `model`, a deliberately tiny second
//! implementation written from the rules in PRODUCT.md, sharing no code with keyward.
//!
//! `KEYWARD_PROPTEST_CASES` sets the number of worlds (16 by default).

use crate::helpers::TestApp;
use keyward_app::{MemberInput, Principal};
use keyward_core::{
    Actor, EnvName, EnvScope, GeneratedKey, Grant, KeyName, Kind, Level, OrgAccess, OrgId, Prefix,
    ProjectId, ProjectScope, Resource, Role,
};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;

// ---- The model: plain data and one obvious function. ----------------------------

const PROJECTS: usize = 3; // 0 and 1 in organization A, 2 in organization B
const ENVS: [(&str, bool); 2] = [("production", true), ("preview", false)]; // (name, live)
const RESOURCES: [&str; 2] = ["forms", "responses"];
/// Scopes used here and what they allow: (name, resource, level 0..=2).
const SCOPES: [(&str, &[(&str, u8)]); 5] = [
    ("forms:read", &[("forms", 0)]),
    ("forms:write", &[("forms", 2)]),
    ("responses:read", &[("responses", 0)]),
    ("forms:*", &[("forms", 2)]),
    ("*", &[("forms", 2), ("responses", 0)]),
];

#[derive(Debug, Clone)]
struct MGrant {
    project: Option<usize>,
    env: Option<usize>,
    level: u8,
    resource: Option<usize>,
}

#[derive(Debug, Clone)]
struct MKey {
    live: bool,
    owner: Option<usize>,
    grants: Vec<MGrant>,
    scopes: Vec<usize>,
    org_access: Option<u8>,
}

/// A person's standing in organization A: None, or (role 0 owner / 1 admin / 2 member,
/// levels on projects 0 and 1).
type MMember = Option<(u8, [Option<u8>; 2])>;

#[derive(Debug, Clone)]
enum MRequest {
    Project {
        project: usize,
        env: usize,
        resource: Option<usize>,
        level: u8,
    },
    Org {
        level: u8,
    },
}

/// What keyward must answer, from the rules alone.
fn model(key: &MKey, members: &[MMember], request: &MRequest) -> &'static str {
    let creator = key.owner.map(|u| members[u]);
    match request {
        MRequest::Org { level } => {
            let mut held = key.org_access;
            if let Some(m) = creator {
                let cap = match m {
                    None => None,
                    Some((0 | 1, _)) => Some(2),
                    Some(_) => Some(0),
                };
                held = held.min(cap);
            }
            if held.is_some_and(|h| h >= *level) {
                "valid"
            } else {
                "insufficient_permission"
            }
        }
        MRequest::Project {
            project,
            env,
            resource,
            level,
        } => {
            if *project == 2 {
                return "insufficient_permission"; // not a project of the key's organization
            }
            if ENVS[*env].1 != key.live {
                return "wrong_environment";
            }
            let by_grant = key.grants.iter().any(|g| {
                g.project.is_none_or(|p| p == *project)
                    && g.env.is_none_or(|e| e == *env)
                    && g.resource.is_none_or(|r| Some(r) == *resource)
                    && g.level >= *level
            });
            let by_scope = key.scopes.iter().any(|s| {
                SCOPES[*s]
                    .1
                    .iter()
                    .any(|(r, l)| resource.is_some_and(|x| RESOURCES[x] == *r) && *l >= *level)
            });
            let capped = match creator {
                None => true,
                Some(None) => false,
                Some(Some((0 | 1, _))) => true,
                Some(Some((_, levels))) => levels[*project].is_some_and(|l| l >= *level),
            };
            if (by_grant || by_scope) && capped {
                "valid"
            } else {
                "insufficient_permission"
            }
        }
    }
}

// ---- Generators. ------------------------------------------------------------------

fn level() -> impl Strategy<Value = u8> {
    0u8..3
}

fn member() -> impl Strategy<Value = MMember> {
    prop::option::of((
        0u8..3,
        [prop::option::of(level()), prop::option::of(level())],
    ))
}

fn key() -> impl Strategy<Value = MKey> {
    let grant = (
        prop::option::of(0usize..PROJECTS),
        prop::option::of(0usize..2),
        level(),
        prop::option::weighted(0.3, 0usize..2),
    )
        .prop_map(|(project, env, level, resource)| MGrant {
            project,
            env,
            level,
            resource,
        });
    (
        any::<bool>(),
        prop::option::of(0usize..3),
        prop::collection::vec(grant, 0..4),
        prop::collection::vec(0usize..SCOPES.len(), 0..2),
        prop::option::of(level()),
    )
        .prop_map(|(live, owner, grants, scopes, org_access)| MKey {
            live,
            owner,
            grants,
            scopes,
            org_access,
        })
}

fn request() -> impl Strategy<Value = MRequest> {
    prop_oneof![
        4 => (0usize..PROJECTS, 0usize..2, prop::option::of(0usize..2), level())
            .prop_map(|(project, env, resource, level)| MRequest::Project { project, env, resource, level }),
        1 => level().prop_map(|level| MRequest::Org { level }),
    ]
}

#[derive(Debug, Clone)]
struct World {
    members: Vec<MMember>,
    keys: Vec<MKey>,
    /// A membership change after the keys exist: (person, new standing).
    change: Option<(usize, MMember)>,
    requests: Vec<(usize, MRequest)>,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(member(), 3),
        prop::collection::vec(key(), 1..5),
        prop::option::of((0usize..3, member())),
        prop::collection::vec((0usize..8, request()), 12),
    )
        .prop_map(|(members, keys, change, requests)| {
            let n = keys.len();
            World {
                members,
                keys,
                change,
                requests: requests.into_iter().map(|(k, r)| (k % n, r)).collect(),
            }
        })
}

// ---- Building the world in keyward, and asking it. ---------------------------------

fn lvl(l: u8) -> Level {
    Level::ALL[l as usize]
}

fn role(r: u8) -> Role {
    [Role::Owner, Role::Admin, Role::Member][r as usize]
}

fn operator() -> Principal {
    Principal::operator(Actor::Cli("model".into()))
}

async fn set_member(t: &TestApp, org: &OrgId, projects: &[ProjectId], email: &str, m: MMember) {
    let app = &t.app;
    match m {
        None => match app.remove_member(&operator(), org, email).await {
            Ok(()) | Err(keyward_app::AppError::NotFound { .. }) => {}
            Err(e) => panic!("removing {email}: {e}"),
        },
        Some((r, levels)) => {
            let projects = levels
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.map(|l| (projects[i].to_string(), lvl(l))))
                .collect();
            app.set_member(
                &operator(),
                org,
                email,
                MemberInput {
                    role: role(r),
                    projects,
                },
            )
            .await
            .unwrap();
        }
    }
}

async fn run(w: World) -> Result<(), TestCaseError> {
    let t = TestApp::spawn().await;
    let app = &t.app;
    let a = app.create_org(&operator(), "A", None).await.unwrap();
    let b = app.create_org(&operator(), "B", None).await.unwrap();
    let mut projects = Vec::new();
    for (org, name) in [(&a, "P0"), (&a, "P1"), (&b, "P2")] {
        projects.push(
            app.create_project(&operator(), &org.id, name)
                .await
                .unwrap()
                .0,
        );
    }
    let project_ids: Vec<ProjectId> = projects.iter().map(|p| p.id.clone()).collect();
    // A standing owner, so that the generated people can be demoted or removed freely
    // (an organization always keeps an owner).
    app.create_user(&operator(), "root@model.test", None)
        .await
        .unwrap();
    set_member(
        &t,
        &a.id,
        &project_ids,
        "root@model.test",
        Some((0, [None, None])),
    )
    .await;
    let mut users = Vec::new();
    for (i, m) in w.members.iter().enumerate() {
        let email = format!("u{i}@model.test");
        users.push(app.create_user(&operator(), &email, None).await.unwrap());
        set_member(&t, &a.id, &project_ids, &email, *m).await;
    }

    // Keys go straight into the store: the model must hold even for keys no API would
    // accept today, such as grants on the other organization's project.
    let catalog = &app.settings().catalog;
    let mut texts = Vec::new();
    for k in &w.keys {
        let kind = if k.live { Kind::Live } else { Kind::Test };
        let generated = GeneratedKey::generate(&Prefix::default(), kind, &mut rand_core::OsRng);
        let grants = k
            .grants
            .iter()
            .map(|g| Grant {
                project: g.project.map_or(ProjectScope::All, |p| {
                    ProjectScope::One(project_ids[p].clone())
                }),
                environment: g.env.map_or(EnvScope::All, |e| {
                    EnvScope::Named(EnvName::parse(ENVS[e].0).unwrap())
                }),
                level: lvl(g.level),
                resources: g
                    .resource
                    .map(|r| BTreeSet::from([Resource::parse(RESOURCES[r]).unwrap()])),
            })
            .collect();
        let spec = keyward_core::lifecycle::NewKey {
            name: KeyName::parse("model key").unwrap(),
            description: None,
            kind,
            grants,
            scopes: k
                .scopes
                .iter()
                .map(|s| catalog.parse(SCOPES[*s].0).unwrap())
                .collect(),
            org_access: OrgAccess(k.org_access.map(lvl)),
            owner: k.owner.map(|u| users[u].id.clone()),
            expires_at: None,
            ip_allowlist: Default::default(),
            metadata: None,
            rate_limits: None,
        };
        let hash = app.settings().peppers.hash(&generated.secret);
        let Ok(created) = keyward_core::lifecycle::create(
            spec,
            a.id.clone(),
            generated.id,
            hash,
            Actor::System,
            &Default::default(),
            app.now(),
        ) else {
            texts.push(None); // a key with no access at all cannot exist
            continue;
        };
        app.store()
            .write_keys(keyward_store::KeyWrite {
                inserts: vec![created.key],
                ..Default::default()
            })
            .await
            .unwrap();
        texts.push(Some(generated.secret.expose_secret().to_owned()));
    }

    let mut members = w.members.clone();
    if let Some((u, m)) = w.change {
        set_member(&t, &a.id, &project_ids, &format!("u{u}@model.test"), m).await;
        members[u] = m;
    }

    for (k, request) in &w.requests {
        let Some(text) = &texts[*k] else { continue };
        let expected = model(&w.keys[*k], &members, request);
        let (check, body) = match request {
            MRequest::Project {
                project,
                env,
                resource,
                level,
            } => (
                keyward_core::Asked::Project {
                    project: project_ids[*project].to_string(),
                    environment: ENVS[*env].0.into(),
                    resource: resource.map(|r| Resource::parse(RESOURCES[r]).unwrap()),
                    level: lvl(*level),
                },
                json!({ "key": text, "project": project_ids[*project], "environment": ENVS[*env].0,
                        "resource": resource.map(|r| RESOURCES[r]), "level": lvl(*level) }),
            ),
            MRequest::Org { level } => (
                keyward_core::Asked::Organization { level: lvl(*level) },
                json!({ "key": text, "level": lvl(*level) }),
            ),
        };
        let direct = app
            .check(keyward_core::Presented::field(text), &check)
            .await
            .unwrap()
            .outcome;
        prop_assert_eq!(
            direct.as_str(),
            expected,
            "key {:?}, members {:?}, request {:?}",
            &w.keys[*k],
            &members,
            request
        );
        let http = t.admin(Method::POST, "/v1/keys/verify", Some(body)).await;
        prop_assert_eq!(http.status.as_u16(), 200, "{}", http.text);
        prop_assert_eq!(
            http.body["outcome"].as_str(),
            Some(expected),
            "over HTTP: {:?}",
            request
        );
    }
    Ok(())
}

#[test]
fn the_check_agrees_with_the_reference_model() {
    let cases = std::env::var("KEYWARD_PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(w in world())| {
        runtime.block_on(run(w))?;
    });
}
