//! Grants: what a key may do inside projects. A grant names a project (or every
//! project of the key's organization), an environment (or every environment of the
//! key's kind), a level, and optionally the resources it is limited to. Grants add up;
//! they never subtract.

use crate::ids::{OrgId, ProjectId};
use crate::kind::Kind;
use crate::level::{Level, LevelError};
use crate::names::{EnvName, InvalidName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A resource of the operator's catalog, such as `forms` or `responses`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Resource(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid resource name: use 1 to 64 lowercase letters, digits, '_' and '-', starting with a letter")]
pub struct InvalidResource(pub String);

impl Resource {
    /// A regex of exactly the names [`Resource::parse`] accepts.
    pub const PATTERN: &'static str = "^[a-z][a-z0-9_-]{0,63}$";

    pub fn parse(s: &str) -> Result<Self, InvalidResource> {
        let ok = (1..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Resource(s.to_owned()))
        } else {
            Err(InvalidResource(crate::echo::echo(s, 40)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Resource {
    type Error = InvalidResource;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Resource::parse(&s)
    }
}

impl From<Resource> for String {
    fn from(r: Resource) -> String {
        r.0
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProjectScope {
    /// Every project of the key's own organization, present and future.
    All,
    One(ProjectId),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnvScope {
    /// Every environment of the key's kind.
    All,
    Named(EnvName),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub project: ProjectScope,
    pub environment: EnvScope,
    pub level: Level,
    /// `None`: every resource. `Some`: only these.
    pub resources: Option<BTreeSet<Resource>>,
}

/// The project and environment a request is about, as the store resolved them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRef {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRef {
    pub name: EnvName,
    pub kind: Kind,
}

impl Grant {
    /// Whether this grant, held by a key of `key_org`, reaches `resource` in the given
    /// project and environment, at any level. A grant can never reach a project of
    /// another organization, whatever it names.
    pub fn reaches(
        &self,
        key_org: &OrgId,
        project: &ProjectRef,
        env: &EnvRef,
        resource: Option<&Resource>,
    ) -> bool {
        if &project.org_id != key_org {
            return false;
        }
        let project_ok = match &self.project {
            ProjectScope::All => true,
            ProjectScope::One(id) => *id == project.id,
        };
        let env_ok = match &self.environment {
            EnvScope::All => true,
            EnvScope::Named(name) => *name == env.name,
        };
        let resource_ok = match (&self.resources, resource) {
            (None, _) => true,
            (Some(allowed), Some(r)) => allowed.contains(r),
            // A grant limited to some resources cannot vouch for an unnamed one.
            (Some(_), None) => false,
        };
        project_ok && env_ok && resource_ok
    }
}

/// A grant as a person writes it, `PROJECT:ENVIRONMENT:LEVEL[:RESOURCE,...]`, before
/// the project name is resolved to an id. `*` stands for every project, or every
/// environment of the key's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSpec {
    /// `None` for `*`; otherwise a project name or id.
    pub project: Option<String>,
    pub environment: EnvScope,
    pub level: Level,
    /// `None`: every resource.
    pub resources: Option<BTreeSet<Resource>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGrant {
    #[error("grant '{0}' is not of the form PROJECT:ENVIRONMENT:LEVEL[:RESOURCE,...] (for example 'Website:production:read', '*:*:write' or 'Website:*:read:forms,responses')")]
    Shape(String),
    #[error("grant '{0}': the project must be a project name or id, or '*'")]
    Project(String),
    #[error("grant '{grant}': {source}")]
    Level { grant: String, source: LevelError },
    #[error("grant '{grant}': {source}")]
    Environment { grant: String, source: InvalidName },
    #[error("grant '{grant}': {source}")]
    Resource {
        grant: String,
        source: InvalidResource,
    },
}

impl GrantSpec {
    /// Splits from the right, so a project name may itself contain ':'. A last part
    /// that is not a level lists the resources the grant is limited to. Each part is
    /// trimmed, as people type them; then [`GrantSpec::from_parts`] checks them.
    pub fn parse(s: &str) -> Result<Self, InvalidGrant> {
        let shown = || crate::echo::echo(s, 120);
        let (head, resources) = match s.rsplit_once(':') {
            Some((head, last))
                if Level::parse(last.trim()).is_err() && head.matches(':').count() >= 2 =>
            {
                (
                    head,
                    Some(last.split(',').map(str::trim).collect::<Vec<_>>()),
                )
            }
            _ => (s, None),
        };
        let mut parts = head.rsplitn(3, ':');
        let (Some(level), Some(env), Some(project)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidGrant::Shape(shown()));
        };
        let level = Level::parse(level.trim()).map_err(|source| InvalidGrant::Level {
            grant: shown(),
            source,
        })?;
        Self::from_parts(project.trim(), env.trim(), level, resources.as_deref())
    }

    /// A grant from its parts, as the HTTP API receives them (`{"project": …,
    /// "environment": …, "level": …, "resources": […]}`) and [`GrantSpec::parse`] splits
    /// them: the one place their rules live. Nothing is trimmed. Errors show the grant
    /// as the command line writes it.
    pub fn from_parts<S: AsRef<str>>(
        project: &str,
        environment: &str,
        level: Level,
        resources: Option<&[S]>,
    ) -> Result<Self, InvalidGrant> {
        let shown = || {
            let mut text = format!("{project}:{environment}:{level}");
            if let Some(list) = resources {
                let list: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
                text = format!("{text}:{}", list.join(","));
            }
            crate::echo::echo(&text, 120)
        };
        if project.is_empty() {
            return Err(InvalidGrant::Project(shown()));
        }
        let environment = match environment {
            "*" => EnvScope::All,
            name => EnvScope::Named(EnvName::parse(name).map_err(|source| {
                InvalidGrant::Environment {
                    grant: shown(),
                    source,
                }
            })?),
        };
        let resources = resources
            .map(|list| {
                list.iter()
                    .map(|r| Resource::parse(r.as_ref()))
                    .collect::<Result<BTreeSet<_>, _>>()
            })
            .transpose()
            .map_err(|source| InvalidGrant::Resource {
                grant: shown(),
                source,
            })?;
        Ok(GrantSpec {
            project: (project != "*").then(|| project.to_owned()),
            environment,
            level,
            resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn grant_specs_parse_from_the_right() {
        let g = GrantSpec::parse("Web: shop:production:write").unwrap();
        assert_eq!(g.project.as_deref(), Some("Web: shop"));
        assert_eq!(
            g.environment,
            EnvScope::Named(EnvName::parse("production").unwrap())
        );
        assert_eq!(g.level, Level::Write);
        let all = GrantSpec::parse("*:*:read").unwrap();
        assert_eq!((all.project, all.environment), (None, EnvScope::All));
        for bad in [
            "",
            "a",
            "a:b",
            ":production:read",
            "a:production:admin",
            "a:Prod:read",
        ] {
            assert!(GrantSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_api_and_the_command_line_build_grants_by_the_same_rules() {
        let none: Option<&[&str]> = None;
        assert_eq!(
            GrantSpec::from_parts("Website", "production", Level::Read, Some(&["forms"])),
            GrantSpec::parse("Website:production:read:forms")
        );
        assert_eq!(
            GrantSpec::from_parts("*", "*", Level::Write, none),
            GrantSpec::parse(" * : * : write ")
        );
        for (project, env, resources, cli) in [
            ("", "production", None, ":production:read"),
            ("Website", "Prod", None, "Website:Prod:read"),
            ("Website", "*", Some(&["Forms"][..]), "Website:*:read:Forms"),
        ] {
            let api = GrantSpec::from_parts(project, env, Level::Read, resources).unwrap_err();
            let typed = GrantSpec::parse(cli).unwrap_err();
            assert_eq!(api.to_string(), typed.to_string(), "{cli}");
        }
        assert_eq!(
            GrantSpec::from_parts("", "*", Level::Read, none)
                .unwrap_err()
                .to_string(),
            "grant ':*:read': the project must be a project name or id, or '*'"
        );
    }

    proptest::proptest! {
        #[test]
        fn the_documented_resource_pattern_is_the_rule(s in "[a-zA-Z0-9_ :-]{0,66}") {
            let re = regex::Regex::new(Resource::PATTERN).unwrap();
            proptest::prop_assert_eq!(re.is_match(&s), Resource::parse(&s).is_ok(), "{:?}", s);
        }
    }

    #[test]
    fn a_grant_never_reaches_another_organizations_project() {
        let mine = OrgId::generate(&mut OsRng);
        let theirs = OrgId::generate(&mut OsRng);
        let project = ProjectRef {
            id: ProjectId::generate(&mut OsRng),
            org_id: theirs,
            name: "Theirs".into(),
        };
        let env = EnvRef {
            name: EnvName::parse("production").unwrap(),
            kind: Kind::Live,
        };
        for scope in [ProjectScope::All, ProjectScope::One(project.id.clone())] {
            let grant = Grant {
                project: scope,
                environment: EnvScope::All,
                level: Level::Manage,
                resources: None,
            };
            assert!(!grant.reaches(&mine, &project, &env, None));
        }
    }
}

/// The JSON form of a grant: `{"project": "*" | "proj_…", "environment": "*" | "production",
/// "level": "read", "resources": null | ["forms"]}`.
#[derive(Serialize, Deserialize)]
struct GrantJson {
    project: String,
    environment: String,
    level: Level,
    #[serde(default)]
    resources: Option<BTreeSet<Resource>>,
}

impl Serialize for Grant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        GrantJson {
            project: match &self.project {
                ProjectScope::All => "*".into(),
                ProjectScope::One(id) => id.to_string(),
            },
            environment: match &self.environment {
                EnvScope::All => "*".into(),
                EnvScope::Named(n) => n.to_string(),
            },
            level: self.level,
            resources: self.resources.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Grant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let g = GrantJson::deserialize(d)?;
        let project = match g.project.as_str() {
            "*" => ProjectScope::All,
            id => ProjectScope::One(
                ProjectId::parse(id)
                    .ok_or_else(|| D::Error::custom("project must be '*' or a project id"))?,
            ),
        };
        let environment = match g.environment.as_str() {
            "*" => EnvScope::All,
            name => EnvScope::Named(EnvName::parse(name).map_err(D::Error::custom)?),
        };
        Ok(Grant {
            project,
            environment,
            level: g.level,
            resources: g.resources,
        })
    }
}
