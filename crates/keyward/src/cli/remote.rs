//! The management commands through a keyward server's HTTP API, with
//! [`keyward_client`]. The server's answers are turned into the same types the local
//! data directory gives (see [`super::backend`]), so that tables and `--json` print the
//! same either way. What the API does not offer is refused, saying why and what to do.

use super::backend::{NewInvitation, NewKey, RotatedKey};
use crate::output::Failure;
use keyward_app::usage::{DayUsage, KeyUsageView, OutcomeCounts};
use keyward_app::views::{GrantView, KeyView, RateLimitView};
use keyward_app::OrgSummary;
use keyward_client::types as wire;
use keyward_client::{Client, Error};
use keyward_core::{
    Actor, AuditAction, AuditEvent, EnvScope, Environment, GrantSpec, Invitation, KeyId,
    MemberAccess, OrgId, Organization, Project, RateLimit, User,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

/// A keyward server, and the admin token the commands call it with.
pub struct Remote {
    pub client: Client,
    pub url: String,
    token: SecretString,
}

/// The client for `url`: a call may take 30 s (a long audit page on a slow link),
/// connecting 5 s.
pub fn client(url: &str, token: &SecretString, acting_as: Option<&str>) -> Result<Client, Failure> {
    let mut builder = Client::builder(url, token.clone())
        .timeout(std::time::Duration::from_secs(30))
        .connect_timeout(std::time::Duration::from_secs(5));
    if let Some(user) = acting_as {
        builder = builder.acting_as(user);
    }
    builder
        .build()
        .map_err(|e| Failure::usage(explain(url, &e)))
}

impl Remote {
    pub fn new(url: &str, token: &SecretString) -> Result<Self, Failure> {
        Ok(Remote {
            client: client(url, token, None)?,
            url: url.to_owned(),
            token: token.clone(),
        })
    }

    /// A failed call, said for people.
    pub fn fail(&self, e: &Error) -> Failure {
        Failure::usage(explain(&self.url, e))
    }

    /// Succeeds only for an operator admin token: the operator's own audit stream is
    /// for the operator alone.
    pub async fn check_operator(&self) -> Result<(), Failure> {
        let query = wire::AuditQuery {
            operator: Some(true),
            limit: Some(1),
            ..wire::AuditQuery::default()
        };
        self.client
            .list_audit_events(&query)
            .await
            .map(drop)
            .map_err(|e| self.fail(&e))
    }

    /// The same server, acting as `user` (with their role and project levels).
    pub fn acting_as(&self, user: &str) -> Result<Client, Failure> {
        client(&self.url, &self.token, Some(user))
    }
}

/// What a refusal or a failure means, and what to do; never the token.
pub fn explain(url: &str, e: &Error) -> String {
    match e {
        Error::Transport(t) => format!(
            "cannot reach the keyward server at {url} ({t}); check the address and that the server is running"
        ),
        Error::Problem(p) if p.status == 401 => format!(
            "the server at {url} refused the token: it is not a valid admin token (unknown, revoked or mistyped); \
             create one on the server with `keyward admin tokens create --name NAME`, then run `keyward login {url}` or set KEYWARD_TOKEN"
        ),
        Error::Problem(p)
            if p.status == 403
                && p.required_permission.as_deref().is_none_or(|r| r == "operator") =>
        {
            format!(
            "{} (the server at {url}); the command line needs an operator admin token, from `keyward admin tokens create` on the server",
                p.detail
            )
        }
        Error::Problem(p) => match &p.required_permission {
            Some(needs) => format!("{}; it needs {needs}", p.detail),
            None => p.detail.clone(),
        },
        Error::Unexpected { status, detail } => format!(
            "the server at {url} answered HTTP {status} unexpectedly ({detail}); is this the address of a keyward server, without a path such as /v1?"
        ),
        Error::Config(what) => format!("{what} (the server at {url})"),
    }
}

/// A word of one of the API's vocabularies (kinds, levels, roles, outcomes, …) as
/// the local type: both write them the same.
fn word<T: DeserializeOwned>(what: &str, s: &str) -> Result<T, Failure> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
        Failure::usage(format!(
            "the server answered an unknown {what} '{}'; is it a newer keyward than this command line?",
            keyward_core::echo::echo(s, 40)
        ))
    })
}

fn named<T>(what: &str, r: Result<T, impl std::fmt::Display>) -> Result<T, Failure> {
    r.map_err(|e| {
        Failure::usage(format!(
            "the server answered a {what} this command line refuses: {e}"
        ))
    })
}

pub fn org(o: wire::OrgOut) -> Result<Organization, Failure> {
    Ok(Organization {
        id: OrgId::from_trusted(o.id),
        name: named(
            "organization name",
            keyward_core::names::OrgName::parse(&o.name),
        )?,
        plan: o.plan,
        created_at: o.created_at,
    })
}

pub fn org_summary(d: wire::OrgDetail) -> Result<OrgSummary, Failure> {
    Ok(OrgSummary {
        keys_held: d.keys.as_ref().map(|k| k.held),
        key_limit: d.keys.as_ref().and_then(|k| k.limit),
        quota: d.quota.map(|q| keyward_core::quota::QuotaStanding {
            limit: q.limit,
            used: q.used,
            remaining: q.remaining,
            resets_at: q.resets_at,
        }),
        org: org(d.org)?,
    })
}

pub fn project(p: wire::ProjectOut) -> Result<(Project, Vec<Environment>), Failure> {
    let id = keyward_core::ProjectId::from_trusted(p.id);
    let envs = p
        .environments
        .into_iter()
        .map(|e| {
            Ok(Environment {
                id: keyward_core::EnvironmentId::from_trusted(e.id),
                project_id: id.clone(),
                name: named(
                    "environment name",
                    keyward_core::names::EnvName::parse(&e.name),
                )?,
                kind: word("kind", e.kind.as_str())?,
                created_at: e.created_at,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok((
        Project {
            id,
            org_id: OrgId::from_trusted(p.org_id),
            name: named(
                "project name",
                keyward_core::names::ProjectName::parse(&p.name),
            )?,
            created_at: p.created_at,
        },
        envs,
    ))
}

fn key_id(s: &str) -> Result<KeyId, Failure> {
    named("key id", KeyId::parse(s))
}

pub fn key(k: wire::KeyView) -> Result<KeyView, Failure> {
    Ok(KeyView {
        id: key_id(&k.id)?,
        org_id: OrgId::from_trusted(k.org_id),
        name: k.name,
        description: k.description,
        kind: word("kind", k.kind.as_str())?,
        status: word("status", k.status.as_str())?,
        expired: k.expired,
        grants: k
            .grants
            .into_iter()
            .map(|g| {
                Ok(GrantView {
                    project_id: g.project_id,
                    project: g.project,
                    environment: g.environment,
                    level: word("level", g.level.as_str())?,
                    resources: g.resources.map(|r| r.into_iter().collect()),
                })
            })
            .collect::<Result<_, Failure>>()?,
        scopes: k.scopes,
        org_access: word("organization access", k.org_access.as_str())?,
        owner: k.owner,
        created_by: k.created_by,
        created_at: k.created_at,
        expires_at: k.expires_at,
        rotated_from: k.rotated_from.as_deref().map(key_id).transpose()?,
        rotated_to: k.rotated_to.as_deref().map(key_id).transpose()?,
        last_used_at: k.last_used_at,
        last_used_ip: k.last_used_ip,
        ip_allowlist: k.ip_allowlist,
        metadata: k.metadata.map(serde_json::Value::Object),
        rate_limits: k.rate_limits.map(|limits| {
            limits
                .into_iter()
                .map(|l| RateLimitView {
                    name: l.name,
                    limit: l.limit,
                    period: l.period,
                })
                .collect()
        }),
        // Only the dashboard reads what a key's state offers.
        offered: keyward_core::lifecycle::Offered::default(),
    })
}

pub fn new_key(c: wire::CreatedKeyView) -> Result<NewKey, Failure> {
    Ok(NewKey {
        secret: c.key,
        key: key(c.details)?,
    })
}

pub fn rotated(r: wire::RotatedView) -> Result<RotatedKey, Failure> {
    Ok(RotatedKey {
        old: key(r.old)?,
        new: new_key(r.new)?,
    })
}

pub fn grant(g: &GrantSpec) -> Result<wire::GrantIn, Failure> {
    Ok(wire::GrantIn {
        project: g.project.clone().unwrap_or_else(|| "*".into()),
        environment: match &g.environment {
            EnvScope::All => "*".into(),
            EnvScope::Named(n) => n.to_string(),
        },
        level: word("level", g.level.as_str())?,
        resources: g
            .resources
            .as_ref()
            .map(|r| r.iter().map(|r| r.as_str().to_owned()).collect()),
    })
}

pub fn rate_limits(limits: &[RateLimit]) -> Vec<wire::RateLimitIn> {
    limits
        .iter()
        .map(|l| wire::RateLimitIn {
            name: l.name.clone(),
            limit: l.limit,
            period: keyward_core::duration::format(l.period),
        })
        .collect()
}

/// A metadata value as the API takes it: an object (`null` is "none").
pub fn metadata(v: serde_json::Value) -> Result<Option<wire::JsonObject>, Failure> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(o) => Ok(Some(o)),
        _ => Err(Failure::usage(
            "metadata: give a JSON object, such as '{\"customer\": \"c_1\"}'",
        )),
    }
}

pub fn usage(u: wire::KeyUsageView) -> Result<KeyUsageView, Failure> {
    let counts = |c: std::collections::BTreeMap<String, u64>| -> Result<OutcomeCounts, Failure> {
        let mut out = OutcomeCounts::default();
        for (outcome, n) in c {
            out.add(word("outcome", &outcome)?, n);
        }
        Ok(out)
    };
    Ok(KeyUsageView {
        key_id: key_id(&u.key_id)?,
        org_id: OrgId::from_trusted(u.org_id),
        from: u.from,
        to: u.to,
        total: u.total,
        outcomes: counts(u.outcomes)?,
        days: u
            .days
            .into_iter()
            .map(|d| {
                Ok(DayUsage {
                    day: d.day,
                    total: d.total,
                    outcomes: counts(d.outcomes)?,
                })
            })
            .collect::<Result<_, Failure>>()?,
    })
}

pub fn event(e: wire::AuditEventOut) -> Result<AuditEvent, Failure> {
    Ok(AuditEvent {
        id: Some(e.id),
        at: e.at,
        org_id: e.org_id.map(OrgId::from_trusted),
        actor: Actor::decode(&e.actor),
        action: AuditAction::parse(&e.action).ok_or_else(|| {
            Failure::usage(format!(
                "the server answered an unknown audit action '{}'; is it a newer keyward than this command line?",
                keyward_core::echo::echo(&e.action, 40)
            ))
        })?,
        key_id: e.key_id.as_deref().map(key_id).transpose()?,
        details: serde_json::Value::Object(e.details),
        ip: e.ip,
    })
}

pub fn user(u: wire::UserOut) -> User {
    User {
        id: keyward_core::UserId::from_trusted(u.id),
        email: u.email,
        display_name: u.display_name,
        // Never sent by the server, and never printed.
        password_hash: String::new(),
        created_at: u.created_at,
    }
}

pub fn access(
    role: wire::Role,
    projects: Vec<wire::ProjectAccessOut>,
) -> Result<MemberAccess, Failure> {
    Ok(MemberAccess {
        role: word("role", role.as_str())?,
        projects: projects
            .into_iter()
            .map(|p| {
                Ok((
                    keyward_core::ProjectId::from_trusted(p.project_id),
                    word("level", p.level.as_str())?,
                ))
            })
            .collect::<Result<_, Failure>>()?,
    })
}

pub fn member(m: wire::MemberOut) -> Result<(User, MemberAccess), Failure> {
    Ok((user(m.user), access(m.role, m.projects)?))
}

pub fn invitation(i: wire::InvitationOut) -> Result<Invitation, Failure> {
    Ok(Invitation {
        id: keyward_core::InvitationId::parse(&i.id).ok_or_else(|| {
            Failure::usage("the server answered an invitation id this command line refuses")
        })?,
        org_id: OrgId::from_trusted(i.org_id),
        email: i.email,
        access: access(i.role, i.projects)?,
        invited_by: Actor::decode(&i.invited_by),
        created_at: i.created_at,
        expires_at: i.expires_at,
        // The server keeps the token's hash to itself; nothing here reads it.
        hash: keyward_core::KeyHash {
            pepper_version: 0,
            digest: [0; 32],
        },
        accepted_at: None,
        accepted_by: None,
        revoked_at: None,
    })
}

pub fn new_invitation(c: wire::CreatedInvitationOut) -> Result<NewInvitation, Failure> {
    Ok(NewInvitation {
        token: c.token,
        invitation: invitation(c.invitation)?,
    })
}

/// The token, as the API takes it.
pub fn accept(token: &SecretString) -> wire::AcceptIn {
    wire::AcceptIn {
        token: SecretString::from(token.expose_secret().to_owned()),
    }
}
