//! What a key can do now, in words: its own grants and scopes, lowered for a
//! user-bound key to what its creator holds at this moment, and what the creator no
//! longer allows. `GET /v1/me` ("Test API Key") shows this; the check applies the same
//! rule (`Bound::effective` is the check's cap, spelled out).

use crate::error::AppResult;
use crate::keys::ProjectNames;
use crate::views::GrantView;
use crate::Keyward;
use keyward_core::escalation::Power as Held;
use keyward_core::{ApiKey, Bound, Grant, ProjectScope, Role, UserId, Withheld};

/// A key's power now.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerView {
    /// What the key may do now, one line per grant: `PROJECT:ENVIRONMENT:LEVEL` (with
    /// `:RESOURCES` when limited), catalog scopes by name, and `org:LEVEL`.
    pub permissions: Vec<String>,
    /// What the key holds but its creator no longer allows, each with the reason.
    pub withheld: Vec<String>,
    /// For a user-bound key: whom it acts as, and their role now (`None`: no longer a
    /// member).
    pub acts_for: Option<(UserId, Option<Role>)>,
}

fn label(names: &ProjectNames, g: &Grant) -> String {
    Keyward::grant_views(names, std::slice::from_ref(g))
        .first()
        .map(GrantView::label)
        .unwrap_or_default()
}

fn project_name(names: &ProjectNames, g: &Grant) -> String {
    match &g.project {
        ProjectScope::One(id) => names.get(id).cloned().unwrap_or_else(|| id.to_string()),
        ProjectScope::All => "*".into(),
    }
}

impl Keyward {
    pub async fn power(&self, key: &ApiKey, bound: &Bound) -> AppResult<PowerView> {
        let names = self.project_names(&key.org_id).await?;
        let acts_for = match (&key.owner, bound) {
            (Some(user), Bound::User(access)) => {
                Some((user.clone(), access.as_ref().map(|a| a.role)))
            }
            _ => None,
        };
        let capped = matches!(bound, Bound::User(None))
            || matches!(bound, Bound::User(Some(a)) if a.on_project_everywhere().is_none());
        let mut permissions = Vec::new();
        let mut withheld = Vec::new();
        if !capped {
            // Nothing is lowered: the key's own grants and scopes, as written.
            permissions.extend(
                Self::grant_views(&names, &key.grants)
                    .iter()
                    .map(GrantView::label),
            );
            permissions.extend(key.scopes.iter().map(|s| s.to_string()));
        } else {
            let all = Held::of(key).all_grants(&self.settings.catalog);
            let effective = bound.effective(&all, key.org_access);
            permissions.extend(effective.grants.iter().map(|g| label(&names, g)));
            for (g, why) in &effective.withheld {
                let held = label(&names, g);
                withheld.push(match why {
                    Withheld::Lowered(level) => format!(
                        "{held}: works at {level} only: its creator now holds {level} on project '{}'",
                        project_name(&names, g)
                    ),
                    Withheld::Removed => format!(
                        "{held}: does not work: its creator no longer has access to project '{}'",
                        project_name(&names, g)
                    ),
                    Withheld::OnlyCreatorsProjects => format!(
                        "{held}: works only on the projects its creator can use (listed in permissions)"
                    ),
                    Withheld::CreatorGone => format!(
                        "{held}: does not work: its creator is no longer a member of the organization"
                    ),
                });
            }
        }
        let org_now = bound.limit_org(key.org_access);
        if org_now.0.is_some() {
            permissions.push(format!("org:{org_now}"));
        }
        if org_now < key.org_access {
            withheld.push(match org_now.0 {
                Some(now) => format!(
                    "org:{}: works at org:{now} only: that is what its creator's role allows now",
                    key.org_access
                ),
                None => format!(
                    "org:{}: does not work: its creator is no longer a member of the organization",
                    key.org_access
                ),
            });
        }
        Ok(PowerView {
            permissions,
            withheld,
            acts_for,
        })
    }
}
