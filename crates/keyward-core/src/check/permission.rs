//! Step 7 of the check: whether the key's grants and scopes (or its organization
//! access) cover the request, each lowered, for a user-bound key, to what its creator
//! holds now. A denial says, in words a person can act on, what is needed and what
//! the key has.

use crate::access::Bound;
use crate::check::ResolvedTarget;
use crate::echo::echo;
use crate::grant::Resource;
use crate::level::Level;
use crate::model::ApiKey;
use crate::scope::Catalog;
use serde::Serialize;

/// Why a check ended in `insufficient_permission`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The permission needed, as it would be written in a grant: `Website:production:write`,
    /// or `org:write` for organization resources.
    pub required_permission: String,
    pub needed: Level,
    /// The highest level the key has there, if any.
    pub has: Option<Level>,
    /// "this key needs write on project 'Website' (production); it has read".
    pub message: String,
}

/// A request inside a project, as the request named it.
pub(super) struct Wanted<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub resource: Option<&'a Resource>,
    pub level: Level,
}

const CAPPED: &str = " (a user-bound key never exceeds its creator's current access)";

pub(super) fn organization(key: &ApiKey, bound: &Bound, level: Level) -> Result<(), Denial> {
    let held = bound.limit_org(key.org_access);
    if held.allows(level) {
        return Ok(());
    }
    let note = if held < key.org_access { CAPPED } else { "" };
    Err(Denial {
        required_permission: format!("org:{level}"),
        needed: level,
        has: held.0,
        message: format!(
            "this key needs {level} access to the organization's resources; it has {held}{note}"
        ),
    })
}

/// `found` is the project and environment the request named, `None` when they name
/// nothing in the key's organization, which no grant can cover.
pub(super) fn project(
    key: &ApiKey,
    bound: &Bound,
    catalog: &Catalog,
    found: Option<&ResolvedTarget>,
    wanted: &Wanted<'_>,
) -> Result<(), Denial> {
    // The best level any grant (its scopes expanded) holds there, before and after the
    // creator's cap. A key without scopes allocates nothing here.
    let (own, has) = match found {
        None => (None, None),
        Some(t) => {
            let expanded = catalog.expand_all(&key.scopes);
            let own = key
                .grants
                .iter()
                .chain(&expanded)
                .filter(|g| g.reaches(&key.org_id, &t.project, &t.environment, wanted.resource))
                .map(|g| g.level)
                .max();
            (
                own,
                own.and_then(|own| bound.limit_project(&t.project.id, own)),
            )
        }
    };
    let level = wanted.level;
    if has.is_some_and(|h| h >= level) {
        return Ok(());
    }
    // The request's own names, cut short: they come from outside.
    let (project, environment) = (echo(wanted.project, 100), echo(wanted.environment, 100));
    let on = match wanted.resource {
        Some(r) => format!("{r} in project '{project}' ({environment})"),
        None => format!("project '{project}' ({environment})"),
    };
    let required_permission = match wanted.resource {
        Some(r) => format!("{project}:{environment}:{level}:{r}"),
        None => format!("{project}:{environment}:{level}"),
    };
    let holds = has.map_or("no access there".to_owned(), |h| h.to_string());
    let note = if has < own { CAPPED } else { "" };
    Err(Denial {
        required_permission,
        needed: level,
        has,
        message: format!("this key needs {level} on {on}; it has {holds}{note}"),
    })
}
