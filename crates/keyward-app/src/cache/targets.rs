//! An organization's projects and environments, as the check resolves the names a
//! request gives. Cached whole, per organization, from one read of the store: the
//! names requests send are looked up in it and never stored, so however many (or
//! however long) names clients send, the cache holds only what exists.

use keyward_core::check::ResolvedTarget;
use keyward_core::{EnvRef, Environment, Project, ProjectRef};
use std::collections::HashMap;
use std::sync::Arc;

/// aHash with random keys, not SipHash: a lookup per check, with names from the
/// request, in a map that holds only what the organization created.
type Map = HashMap<Box<str>, usize, ahash::RandomState>;

/// Longer than any project name or id (100 characters of up to 4 bytes): a name this
/// long names nothing, and needs no lookup.
const LONGEST_NAME: usize = 400;

#[derive(Debug, Default)]
pub struct OrgTargets {
    /// The organization's plan, by name; `None` when the organization is gone.
    pub plan: Option<String>,
    /// Each project's environments, resolved once.
    projects: Vec<Vec<Arc<ResolvedTarget>>>,
    /// Project name, ASCII-lowercased, to its index.
    by_name: Map,
    by_id: Map,
    /// What this costs in memory, roughly, for the cache's byte budget.
    pub bytes: usize,
}

impl OrgTargets {
    pub fn new(plan: Option<String>, tree: Vec<(Project, Vec<Environment>)>) -> Self {
        let mut out = OrgTargets {
            bytes: plan.as_ref().map_or(0, String::len),
            plan,
            ..OrgTargets::default()
        };
        for (index, (project, envs)) in tree.into_iter().enumerate() {
            let reference = ProjectRef {
                id: project.id,
                org_id: project.org_id,
                name: project.name.to_string(),
            };
            out.bytes += 3 * reference.name.len() + 2 * reference.id.as_str().len() + 160;
            out.by_name
                .insert(reference.name.to_ascii_lowercase().into(), index);
            out.by_id.insert(reference.id.as_str().into(), index);
            out.projects.push(
                envs.into_iter()
                    .map(|e| {
                        out.bytes += e.name.as_str().len() + reference.name.len() + 200;
                        Arc::new(ResolvedTarget {
                            project: reference.clone(),
                            environment: EnvRef {
                                name: e.name,
                                kind: e.kind,
                            },
                        })
                    })
                    .collect(),
            );
        }
        out
    }

    /// The project named `project` (any ASCII case, or its id) and its environment
    /// `environment`. Allocates nothing.
    pub fn find(&self, project: &str, environment: &str) -> Option<Arc<ResolvedTarget>> {
        if project.len() > LONGEST_NAME {
            return None;
        }
        let index = match self.by_id.get(project) {
            Some(i) => *i,
            None => {
                let mut buf = [0u8; LONGEST_NAME];
                let lower = &mut buf[..project.len()];
                lower.copy_from_slice(project.as_bytes());
                lower.make_ascii_lowercase();
                // Lowercasing ASCII bytes keeps UTF-8 valid.
                let lower = std::str::from_utf8(lower).ok()?;
                *self.by_name.get(lower)?
            }
        };
        self.projects
            .get(index)?
            .iter()
            .find(|t| t.environment.name.as_str() == environment)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_core::{EnvName, EnvironmentId, Kind, OrgId, ProjectId, ProjectName, Timestamp};
    use rand_core::OsRng;

    #[test]
    fn names_resolve_in_any_ascii_case_or_by_id_and_nothing_else() {
        let org = OrgId::generate(&mut OsRng);
        let project = Project {
            id: ProjectId::generate(&mut OsRng),
            org_id: org,
            name: ProjectName::parse("Wébsite").unwrap(),
            created_at: Timestamp::UNIX_EPOCH,
        };
        let env = Environment {
            id: EnvironmentId::generate(&mut OsRng),
            project_id: project.id.clone(),
            name: EnvName::parse("production").unwrap(),
            kind: Kind::Live,
            created_at: Timestamp::UNIX_EPOCH,
        };
        let id = project.id.to_string();
        let t = OrgTargets::new(Some("pro".into()), vec![(project, vec![env])]);
        assert!(
            t.find("WÉBSITE", "production").is_none(),
            "only ASCII folds"
        );
        for name in ["Wébsite", "wéBSITE", id.as_str()] {
            let found = t.find(name, "production").unwrap();
            assert_eq!(found.environment.kind, Kind::Live, "{name}");
        }
        assert!(t.find("Wébsite", "Production").is_none());
        assert!(t.find("Website", "production").is_none());
        assert!(t.find(&"x".repeat(100_000), "production").is_none());
        assert!(t.bytes > 0);
    }
}
