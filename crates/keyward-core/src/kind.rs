//! Kinds of keys and environments: a `live` key only touches `live` environments and a
//! `test` key only `test` ones, so a test key can never reach production data.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Live,
    Test,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind '{0}': use 'live' or 'test'")]
pub struct UnknownKind(pub String);

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Live, Kind::Test];

    pub fn parse(s: &str) -> Result<Self, UnknownKind> {
        match s {
            "live" => Ok(Kind::Live),
            "test" => Ok(Kind::Test),
            other => Err(UnknownKind(crate::echo::echo(other, 40))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Live => "live",
            Kind::Test => "test",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
