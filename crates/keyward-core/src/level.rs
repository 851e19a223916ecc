//! Access levels. `read` ⊂ `write` ⊂ `manage`, so the derived order *is* the
//! inclusion: a grant at level L allows every request that needs L or less.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Read,
    Write,
    Manage,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("unknown level '{0}': use 'read', 'write' or 'manage'")]
    UnknownLevel(String),
    #[error("unknown organization access '{0}': use 'none', 'read', 'write' or 'manage'")]
    UnknownOrgAccess(String),
    #[error(
        "unsupported HTTP method '{0}': use GET, HEAD, OPTIONS, POST, PUT, PATCH or DELETE, or give a level"
    )]
    UnknownMethod(String),
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Read, Level::Write, Level::Manage];

    pub fn parse(s: &str) -> Result<Self, LevelError> {
        match s {
            "read" => Ok(Level::Read),
            "write" => Ok(Level::Write),
            "manage" => Ok(Level::Manage),
            other => Err(LevelError::UnknownLevel(crate::echo::echo(other, 40))),
        }
    }

    /// The level an HTTP method needs: GET, HEAD, OPTIONS read; POST, PUT, PATCH write;
    /// DELETE manage. Other methods are refused rather than guessed at, because a
    /// guess that is too low would let a read-only key through.
    pub fn for_method(method: &str) -> Result<Self, LevelError> {
        Self::METHODS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(method))
            .map(|&(_, level)| level)
            .ok_or_else(|| LevelError::UnknownMethod(crate::echo::echo(method, 40)))
    }

    /// The methods [`Level::for_method`] knows (in any case), with their levels.
    pub const METHODS: [(&'static str, Level); 7] = [
        ("GET", Level::Read),
        ("HEAD", Level::Read),
        ("OPTIONS", Level::Read),
        ("POST", Level::Write),
        ("PUT", Level::Write),
        ("PATCH", Level::Write),
        ("DELETE", Level::Manage),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Manage => "manage",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's access to organization-level resources (projects, members, keys):
/// `none` or a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OrgAccess(pub Option<Level>);

impl OrgAccess {
    pub const NONE: OrgAccess = OrgAccess(None);

    pub fn parse(s: &str) -> Result<Self, LevelError> {
        match s {
            "none" => Ok(OrgAccess(None)),
            other => Level::parse(other)
                .map(|l| OrgAccess(Some(l)))
                .map_err(|_| LevelError::UnknownOrgAccess(crate::echo::echo(other, 40))),
        }
    }

    pub fn allows(self, needed: Level) -> bool {
        self.0.is_some_and(|held| held >= needed)
    }

    pub fn as_str(self) -> &'static str {
        self.0.map_or("none", Level::as_str)
    }
}

impl fmt::Display for OrgAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OrgAccess {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrgAccess {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OrgAccess::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_nest_read_in_write_in_manage() {
        assert!(Level::Read < Level::Write && Level::Write < Level::Manage);
    }

    #[test]
    fn methods_map_to_the_documented_levels() {
        for (m, l) in [
            ("GET", Level::Read),
            ("head", Level::Read),
            ("OPTIONS", Level::Read),
            ("POST", Level::Write),
            ("PUT", Level::Write),
            ("PATCH", Level::Write),
            ("DELETE", Level::Manage),
        ] {
            assert_eq!(Level::for_method(m), Ok(l), "{m}");
        }
        assert!(Level::for_method("TRACE").is_err());
        assert!(Level::for_method("").is_err());
    }

    #[test]
    fn org_access_none_allows_nothing() {
        for l in Level::ALL {
            assert!(!OrgAccess::NONE.allows(l));
            assert!(OrgAccess(Some(Level::Manage)).allows(l));
        }
        assert_eq!(OrgAccess::parse("none"), Ok(OrgAccess::NONE));
        assert!(OrgAccess::parse("admin").is_err());
    }
}
