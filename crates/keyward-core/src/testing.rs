//! Builders shared by this crate's tests.

use crate::audit::Actor;
use crate::grant::{EnvRef, EnvScope, Grant, ProjectRef, ProjectScope};
use crate::hash::PepperSet;
use crate::ids::{OrgId, ProjectId};
use crate::key::{GeneratedKey, ParsedKey, Prefix};
use crate::kind::Kind;
use crate::level::{Level, OrgAccess};
use crate::lifecycle::{self, NewKey, Policy};
use crate::model::ApiKey;
use crate::names::{EnvName, KeyName};
use crate::timestamp::{self, Timestamp};
use rand_core::OsRng;

pub fn peppers() -> PepperSet {
    PepperSet::parse("test-pepper-0123456789abcdefghijklmnopqrstuvwxyz").unwrap()
}

pub fn now() -> Timestamp {
    timestamp::from_millis(1_800_000_000_000)
}

static CATALOG: std::sync::OnceLock<crate::scope::Catalog> = std::sync::OnceLock::new();

/// A check context at [`now`]: the default catalog, a service key.
pub fn ctx() -> crate::check::Context<'static> {
    crate::check::Context {
        now: now(),
        catalog: CATALOG.get_or_init(crate::scope::Catalog::formfex),
        bound: &crate::access::Bound::Service,
    }
}

pub fn project(org: &OrgId, name: &str) -> ProjectRef {
    ProjectRef {
        id: ProjectId::generate(&mut OsRng),
        org_id: org.clone(),
        name: name.into(),
    }
}

pub fn env(name: &str, kind: Kind) -> EnvRef {
    EnvRef {
        name: EnvName::parse(name).unwrap(),
        kind,
    }
}

pub fn grant(project: Option<&ProjectRef>, env: Option<&str>, level: Level) -> Grant {
    Grant {
        project: project.map_or(ProjectScope::All, |p| ProjectScope::One(p.id.clone())),
        environment: env.map_or(EnvScope::All, |e| {
            EnvScope::Named(EnvName::parse(e).unwrap())
        }),
        level,
        resources: None,
    }
}

/// A freshly created key of `org` with these grants, and the key text that verifies it.
pub fn key(
    org: &OrgId,
    kind: Kind,
    grants: Vec<Grant>,
    org_access: OrgAccess,
) -> (ApiKey, ParsedKey<'static>) {
    let generated = GeneratedKey::generate(&Prefix::default(), kind, &mut OsRng);
    let spec = NewKey {
        name: KeyName::parse("test key").unwrap(),
        description: None,
        kind,
        grants,
        scopes: vec![],
        org_access,
        owner: None,
        expires_at: None,
    };
    let hash = peppers().hash(&generated.secret);
    let created = lifecycle::create(
        spec,
        org.clone(),
        generated.id,
        hash,
        Actor::System,
        &Policy::default(),
        now(),
    )
    .unwrap();
    // Leaked: a test key's text lives as long as the test process.
    let text: &'static str =
        Box::leak(generated.secret.expose_secret().to_owned().into_boxed_str());
    let parsed = ParsedKey::parse(text, &Prefix::default()).unwrap();
    (created.key, parsed)
}
