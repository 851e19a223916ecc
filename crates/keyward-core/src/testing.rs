//! Builders shared by this crate's tests, and [`World`]: the check's lookups answered
//! from maps, so that tests run the one real [`check`](crate::check::check).

use crate::access::MemberAccess;
use crate::audit::Actor;
use crate::check::{self, Asked, Context, Lookup, Presented, ResolvedTarget, Verdict};
use crate::grant::{EnvRef, EnvScope, Grant, ProjectRef, ProjectScope};
use crate::hash::PepperSet;
use crate::ids::{OrgId, ProjectId, UserId};
use crate::key::{GeneratedKey, KeyId, Prefix, Prefixes};
use crate::kind::Kind;
use crate::level::{Level, OrgAccess};
use crate::lifecycle::{self, NewKey, Policy};
use crate::model::ApiKey;
use crate::names::{EnvName, KeyName};
use crate::scope::Catalog;
use crate::timestamp::{self, Timestamp};
use rand_core::OsRng;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, OnceLock};

pub fn peppers() -> PepperSet {
    PepperSet::parse("test-pepper-0123456789abcdefghijklmnopqrstuvwxyz").unwrap()
}

pub fn now() -> Timestamp {
    timestamp::from_millis(1_800_000_000_000)
}

static CATALOG: OnceLock<Catalog> = OnceLock::new();
static PEPPERS: OnceLock<PepperSet> = OnceLock::new();
static PREFIXES: OnceLock<Prefixes> = OnceLock::new();

/// A check context at `at`: the default catalog, prefix and test pepper.
pub fn ctx_at(at: Timestamp) -> Context<'static> {
    Context {
        now: at,
        from: None,
        cost: 1,
        prefixes: PREFIXES.get_or_init(Prefixes::default),
        peppers: PEPPERS.get_or_init(peppers),
        catalog: CATALOG.get_or_init(Catalog::formfex),
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
) -> (ApiKey, &'static str) {
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
        ip_allowlist: Default::default(),
        metadata: None,
        rate_limits: None,
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
    (created.key, text)
}

/// What the check can find: keys, memberships, projects with their environments.
#[derive(Default)]
pub struct World {
    pub keys: HashMap<KeyId, Arc<ApiKey>>,
    pub members: HashMap<(OrgId, UserId), Arc<MemberAccess>>,
    pub targets: Vec<Arc<ResolvedTarget>>,
    /// Every organization's plan; `None` (the default) means one with API access.
    pub plan: Option<Arc<crate::plan::Plan>>,
    /// A faulty lookup that resolves projects of any organization: the check itself
    /// must still never let a grant reach across organizations.
    pub across_orgs: bool,
    /// The rate limits' states by key, and the quota spent (one organization, one
    /// month: what these tests need).
    pub meter: std::sync::Mutex<(HashMap<KeyId, Vec<crate::limits::Tat>>, u64)>,
}

impl World {
    pub fn with_key(mut self, key: &ApiKey) -> Self {
        self.keys.insert(key.id, Arc::new(key.clone()));
        self
    }

    pub fn with_target(mut self, project: &ProjectRef, environment: &EnvRef) -> Self {
        self.targets.push(Arc::new(ResolvedTarget {
            project: project.clone(),
            environment: environment.clone(),
        }));
        self
    }

    /// Runs the check of `text` against `asked` at `at`.
    pub fn check_at(&self, text: &str, asked: &Asked, at: Timestamp) -> Verdict {
        self.check_with(text, asked, ctx_at(at))
    }

    /// Runs the check of `text`, from `from`.
    pub fn check_from(&self, text: &str, asked: &Asked, from: &str) -> Verdict {
        let ctx = Context {
            from: Some(from.parse().unwrap()),
            ..ctx_at(now())
        };
        self.check_with(text, asked, ctx)
    }

    fn check_with(&self, text: &str, asked: &Asked, ctx: Context<'_>) -> Verdict {
        let verdict = ready(check::check(self, Presented::field(text), asked, &ctx));
        match verdict {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    pub fn check(&self, text: &str, asked: &Asked) -> Verdict {
        self.check_at(text, asked, now())
    }
}

impl Lookup for World {
    type Error = Infallible;

    fn key(
        &self,
        id: KeyId,
    ) -> impl Future<Output = Result<Option<Arc<ApiKey>>, Infallible>> + Send {
        std::future::ready(Ok(self.keys.get(&id).cloned()))
    }

    fn plan(
        &self,
        _org: &OrgId,
    ) -> impl Future<Output = Result<Option<Arc<crate::plan::Plan>>, Infallible>> + Send {
        let plan = self.plan.clone().unwrap_or_else(|| {
            Arc::new(crate::plan::Plan {
                name: "test".into(),
                api_access: true,
                max_keys: None,
                rate_limits: vec![],
                monthly_quota: None,
            })
        });
        std::future::ready(Ok(Some(plan)))
    }

    fn member(
        &self,
        org: &OrgId,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<Arc<MemberAccess>>, Infallible>> + Send {
        std::future::ready(Ok(self.members.get(&(org.clone(), user.clone())).cloned()))
    }

    fn target(
        &self,
        org: &OrgId,
        project: &str,
        environment: &str,
    ) -> impl Future<Output = Result<Option<Arc<ResolvedTarget>>, Infallible>> + Send {
        let found = self.targets.iter().find(|t| {
            (self.across_orgs || &t.project.org_id == org)
                && (t.project.name.eq_ignore_ascii_case(project)
                    || t.project.id.as_str() == project)
                && t.environment.name.as_str() == environment
        });
        std::future::ready(Ok(found.cloned()))
    }

    fn spend(
        &self,
        key: &ApiKey,
        limits: &[crate::limits::RateLimit],
        quota: Option<u64>,
        cost: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<crate::meter::Spending, Infallible>> + Send {
        let mut meter = self.meter.lock().unwrap();
        let (tats, used) = &mut *meter;
        let tats = tats
            .entry(key.id)
            .or_insert_with(|| vec![crate::limits::Tat::default(); limits.len()]);
        let quota = quota.map(|limit| crate::meter::Quota {
            limit,
            used: &mut *used,
            resets_at: crate::quota::Month::of(now).next().start(),
        });
        let spending = crate::meter::spend(limits, tats, quota, cost, now);
        std::future::ready(Ok(spending))
    }
}

/// The output of a future that never waits, as the check is over [`World`].
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the future waited, which a World lookup never does"),
    }
}

/// Asks for `level` on `project` (by name) and `environment`.
pub fn asked(project: &str, environment: &str, level: Level) -> Asked {
    Asked::Project {
        project: project.into(),
        environment: environment.into(),
        resource: None,
        level,
    }
}
