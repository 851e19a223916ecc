//! The scope catalog: resources and their actions, declared by the operator (the
//! default follows Formfex: `forms:read`, `forms:write`, `responses:read`,
//! `webhooks:read`, `webhooks:write`, `ai:generate`, `analytics:read`).
//!
//! A scope is shorthand for a grant: `R:A` is (every project, every environment of the
//! key's kind, resource R, the level of action A). `R:*` stands for every action of R,
//! and `*` for every scope of the catalog.

use crate::grant::{EnvScope, Grant, ProjectScope, Resource};
use crate::level::Level;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// An action of a resource, such as `read` or `generate`.
pub type Action = String;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    resources: BTreeMap<Resource, BTreeMap<Action, Level>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("scope catalog: {0}")]
    Resource(#[from] crate::grant::InvalidResource),
    #[error(
        "scope catalog: '{0}' is not a valid action name: use lowercase letters, digits and '_'"
    )]
    Action(String),
    #[error("scope catalog: resource '{0}' has no actions")]
    Empty(String),
}

impl Catalog {
    /// Builds a catalog from `resource → action → level`, checking every name.
    pub fn new(resources: BTreeMap<String, BTreeMap<String, Level>>) -> Result<Self, CatalogError> {
        let mut out = BTreeMap::new();
        for (resource, actions) in resources {
            let r = Resource::parse(&resource)?;
            if actions.is_empty() {
                return Err(CatalogError::Empty(resource));
            }
            for action in actions.keys() {
                let ok = (1..=32).contains(&action.len())
                    && action
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !ok || action == "*" {
                    return Err(CatalogError::Action(action.clone()));
                }
            }
            out.insert(r, actions);
        }
        Ok(Catalog { resources: out })
    }

    /// The default catalog, after Formfex's scopes.
    pub fn formfex() -> Self {
        let mut r: BTreeMap<String, BTreeMap<String, Level>> = BTreeMap::new();
        for (resource, action, level) in [
            ("forms", "read", Level::Read),
            ("forms", "write", Level::Manage),
            ("responses", "read", Level::Read),
            ("webhooks", "read", Level::Read),
            ("webhooks", "write", Level::Manage),
            ("ai", "generate", Level::Write),
            ("analytics", "read", Level::Read),
        ] {
            r.entry(resource.into())
                .or_default()
                .insert(action.into(), level);
        }
        Catalog::new(r).expect("the default catalog is valid")
    }

    /// The level an action stands for when the operator does not say: `read` (and
    /// `list`, `get`) is read; `write` is manage, as Formfex's write scopes "create,
    /// update, and delete", and so are `delete`, `manage` and `admin`; anything else
    /// (`generate`, `publish`, ...) is write.
    pub fn default_level(action: &str) -> Level {
        match action {
            "read" | "list" | "get" => Level::Read,
            "write" | "delete" | "manage" | "admin" => Level::Manage,
            _ => Level::Write,
        }
    }

    /// Every scope of the catalog, `resource:action`, in order.
    pub fn scopes(&self) -> Vec<(String, Level)> {
        self.resources
            .iter()
            .flat_map(|(r, actions)| actions.iter().map(move |(a, l)| (format!("{r}:{a}"), *l)))
            .collect()
    }

    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.resources.keys()
    }

    /// Checks a scope name against the catalog.
    pub fn parse(&self, s: &str) -> Result<Scope, UnknownScope> {
        let s = s.trim();
        let unknown = || UnknownScope {
            given: crate::echo::echo(s, 60),
            valid: self.scopes().into_iter().map(|(n, _)| n).collect(),
        };
        if s == "*" {
            return Ok(Scope(s.to_owned()));
        }
        let (resource, action) = s.split_once(':').ok_or_else(unknown)?;
        let actions = Resource::parse(resource)
            .ok()
            .and_then(|r| self.resources.get(&r))
            .ok_or_else(unknown)?;
        if action == "*" || actions.contains_key(action) {
            Ok(Scope(s.to_owned()))
        } else {
            Err(unknown())
        }
    }

    /// The grants all of `scopes` stand for (nothing for an empty list: no allocation).
    pub fn expand_all(&self, scopes: &[Scope]) -> Vec<Grant> {
        scopes.iter().flat_map(|s| self.expand(s)).collect()
    }

    /// The grants a scope stands for. A scope the catalog no longer knows (the operator
    /// removed it) stands for nothing.
    pub fn expand(&self, scope: &Scope) -> Vec<Grant> {
        let grant = |r: &Resource, level: Level| Grant {
            project: ProjectScope::All,
            environment: EnvScope::All,
            level,
            resources: Some(BTreeSet::from([r.clone()])),
        };
        let max = |actions: &BTreeMap<Action, Level>| actions.values().copied().max();
        if scope.0 == "*" {
            return self
                .resources
                .iter()
                .filter_map(|(r, a)| max(a).map(|l| grant(r, l)))
                .collect();
        }
        let Some((resource, action)) = scope.0.split_once(':') else {
            return vec![];
        };
        let Some((r, actions)) = Resource::parse(resource)
            .ok()
            .and_then(|r| self.resources.get_key_value(&r))
        else {
            return vec![];
        };
        let level = if action == "*" {
            max(actions)
        } else {
            actions.get(action).copied()
        };
        level.map(|l| vec![grant(r, l)]).unwrap_or_default()
    }
}

/// A scope name as given on a key: `forms:read`, `forms:*` or `*`. Checked against the
/// catalog when the key is created or changed; see [`Catalog::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a scope read back from the store; unknown ones expand to nothing.
    pub fn from_trusted(s: String) -> Self {
        Scope(s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope '{given}'; valid scopes are: {}, or 'RESOURCE:*' and '*'", valid.join(", "))]
pub struct UnknownScope {
    pub given: String,
    pub valid: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_has_the_formfex_scopes() {
        let c = Catalog::formfex();
        let names: Vec<String> = c.scopes().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "ai:generate",
                "analytics:read",
                "forms:read",
                "forms:write",
                "responses:read",
                "webhooks:read",
                "webhooks:write"
            ]
        );
    }

    /// Formfex's write scopes "create, update, and delete": at manage, which DELETE
    /// needs; every catalog entry says the level it grants.
    #[test]
    fn formfex_write_scopes_allow_create_update_and_delete() {
        let c = Catalog::formfex();
        let levels: BTreeMap<String, Level> = c.scopes().into_iter().collect();
        assert_eq!(levels["forms:write"], Level::Manage);
        assert_eq!(levels["webhooks:write"], Level::Manage);
        assert_eq!(levels["forms:read"], Level::Read);
        assert_eq!(levels["ai:generate"], Level::Write);
        assert_eq!(Catalog::default_level("write"), Level::Manage);
        assert_eq!(Catalog::default_level("publish"), Level::Write);
    }

    #[test]
    fn scopes_expand_to_resource_grants_at_the_action_level() {
        let c = Catalog::formfex();
        let g = c.expand(&c.parse("forms:read").unwrap());
        assert_eq!(g.len(), 1);
        assert_eq!(
            (g[0].level, g[0].project.clone()),
            (Level::Read, ProjectScope::All)
        );
        assert_eq!(
            c.expand(&c.parse("ai:generate").unwrap())[0].level,
            Level::Write
        );
        assert_eq!(
            c.expand(&c.parse("forms:*").unwrap())[0].level,
            Level::Manage
        );
        assert_eq!(c.expand(&c.parse("*").unwrap()).len(), 5);
        assert!(c
            .expand(&Scope::from_trusted("gone:read".into()))
            .is_empty());
    }

    #[test]
    fn unknown_scopes_list_the_valid_ones() {
        let c = Catalog::formfex();
        for bad in [
            "forms",
            "forms:delete",
            "FORMS_READ",
            "nope:read",
            "",
            "forms:read:x",
        ] {
            let err = c.parse(bad).unwrap_err();
            assert!(err.to_string().contains("forms:read"), "{bad}: {err}");
        }
    }

    #[test]
    fn catalogs_are_validated() {
        let mut bad = BTreeMap::new();
        bad.insert(
            "Forms".to_owned(),
            BTreeMap::from([("read".to_owned(), Level::Read)]),
        );
        assert!(Catalog::new(bad).is_err());
        let mut empty = BTreeMap::new();
        empty.insert("forms".to_owned(), BTreeMap::new());
        assert!(Catalog::new(empty).is_err());
    }
}
