//! Organizations and projects.

use crate::cache::Touched;
use crate::error::{AppError, AppResult};
use crate::{Keyward, Principal};
use keyward_core::model::default_environments;
use keyward_core::{
    AuditAction, EnvName, Environment, EnvironmentId, Kind, Level, OrgId, OrgName, Organization,
    Project, ProjectId, ProjectName,
};
use rand_core::OsRng;
use serde_json::json;

/// A plan name: the operator's configuration defines what each plan allows.
impl Keyward {
    /// A plan this server offers, by name.
    fn offered_plan(&self, s: &str) -> AppResult<String> {
        let s = s.trim();
        if self.settings.plans.get(s).is_some() {
            return Ok(s.to_owned());
        }
        Err(AppError::invalid(
            "plan",
            format!(
                "'{}' is not a plan of this server; use one of: {}",
                keyward_core::echo::echo(s, 40),
                self.settings.plans.names().join(", ")
            ),
        ))
    }
}

impl Keyward {
    /// Creating organizations is the operator's alone.
    pub async fn create_org(
        &self,
        who: &Principal,
        name: &str,
        plan: Option<&str>,
    ) -> AppResult<Organization> {
        if !who.is_operator() {
            return Err(AppError::Forbidden {
                required_permission: "operator".into(),
                message: "only the operator (an admin token or the CLI) can create organizations"
                    .into(),
            });
        }
        let name = OrgName::parse(name).map_err(|e| AppError::invalid("name", e))?;
        let plan = self.offered_plan(plan.unwrap_or(&self.settings.default_plan))?;
        let now = self.now();
        let org = Organization {
            id: OrgId::generate(&mut OsRng),
            name,
            plan,
            created_at: now,
        };
        let event = who
            .event(Some(&org.id), AuditAction::OrgCreated, now)
            .details(json!({ "name": org.name, "plan": org.plan }));
        self.store.insert_org(&org, &event).await?;
        Ok(org)
    }

    /// Moves an organization to another plan: the operator's alone (it is billing).
    /// A smaller plan keeps the keys the organization holds working, and refuses new
    /// ones until it is within the plan's limit; a plan without API access refuses
    /// every check at once.
    pub async fn set_org_plan(
        &self,
        who: &Principal,
        org: &OrgId,
        plan: &str,
    ) -> AppResult<Organization> {
        crate::members::require_operator(who, "change an organization's plan")?;
        let plan = self.offered_plan(plan)?;
        let before = self.org(who, org.as_str()).await?;
        let event = who
            .event(Some(org), AuditAction::OrgUpdated, self.now())
            .details(json!({ "before": { "plan": before.plan }, "after": { "plan": plan } }));
        let written = self.store.set_org_plan(org, &plan, &event).await;
        // The plan decides every check of the organization's keys.
        self.cache.invalidate(Touched::Org(org.clone()));
        if !written? {
            return Err(AppError::not_found("organization", org.as_str()));
        }
        Ok(Organization { plan, ..before })
    }

    /// An organization by id or name, if `who` may see it.
    pub async fn org(&self, who: &Principal, id_or_name: &str) -> AppResult<Organization> {
        self.store
            .find_org(id_or_name.trim())
            .await?
            .filter(|o| who.sees(&o.id))
            .ok_or_else(|| AppError::not_found("organization", id_or_name))
    }

    pub async fn list_orgs(&self, who: &Principal) -> AppResult<Vec<Organization>> {
        let mut orgs = self.store.list_orgs().await?;
        orgs.retain(|o| who.sees(&o.id));
        Ok(orgs)
    }

    /// An organization with where it stands against its plan: the keys it holds (for
    /// whoever may read its keys) and its monthly quota.
    pub async fn org_summary(&self, who: &Principal, id_or_name: &str) -> AppResult<OrgSummary> {
        let org = self.org(who, id_or_name).await?;
        let held = match who.org_access(&org.id).allows(keyward_core::Level::Read) {
            true => Some(self.store.count_held_keys(&org.id, self.now()).await?),
            false => None,
        };
        let plan = self.settings.plans.get(&org.plan).cloned();
        let quota = match &plan {
            Some(_) => self.quota_standing(who, &org.id).await?,
            None => None,
        };
        Ok(OrgSummary {
            org,
            keys_held: held,
            key_limit: plan.as_ref().and_then(|p| p.key_limit()),
            quota,
        })
    }

    /// Organizations on a plan this server does not define: their keys are refused
    /// (`no_api_access`) until the plan is defined again or they are moved.
    pub async fn orgs_on_undefined_plans(&self) -> AppResult<Vec<Organization>> {
        let mut orgs = self.store.list_orgs().await?;
        orgs.retain(|o| self.settings.plans.get(&o.plan).is_none());
        Ok(orgs)
    }

    /// Creates a project with the default environments `production` and `preview`.
    pub async fn create_project(
        &self,
        who: &Principal,
        org: &OrgId,
        name: &str,
    ) -> AppResult<(Project, Vec<Environment>)> {
        who.require_sees(org)?;
        who.require(org, Level::Write, "creating a project")?;
        let name = ProjectName::parse(name).map_err(|e| AppError::invalid("name", e))?;
        if name.as_str() == "*" || name.as_str().starts_with(ProjectId::PREFIX) {
            return Err(AppError::invalid(
                "name",
                "a project name cannot be '*' or start with 'proj_': those refer to all projects and to project ids",
            ));
        }
        let now = self.now();
        let project = Project {
            id: ProjectId::generate(&mut OsRng),
            org_id: org.clone(),
            name,
            created_at: now,
        };
        let envs: Vec<Environment> = default_environments()
            .into_iter()
            .map(|(name, kind)| Environment {
                id: EnvironmentId::generate(&mut OsRng),
                project_id: project.id.clone(),
                name,
                kind,
                created_at: now,
            })
            .collect();
        let event = who
            .event(Some(org), AuditAction::ProjectCreated, now)
            .details(json!({ "project_id": project.id, "name": project.name }));
        let written = self.store.insert_project(&project, &envs, &event).await;
        self.cache.invalidate(Touched::Org(org.clone()));
        written?;
        Ok((project, envs))
    }

    /// A project of `org` by id or name; another organization's project is "not found".
    /// Callers have checked that the principal sees `org`.
    pub async fn project(&self, org: &OrgId, id_or_name: &str) -> AppResult<Project> {
        self.store
            .find_project(org, id_or_name.trim())
            .await?
            .ok_or_else(|| AppError::not_found("project", id_or_name))
    }

    pub async fn list_projects(
        &self,
        who: &Principal,
        org: &OrgId,
    ) -> AppResult<Vec<(Project, Vec<Environment>)>> {
        who.require_sees(org)?;
        who.require(org, Level::Read, "listing projects")?;
        let mut out = Vec::new();
        for p in self.store.list_projects(org).await? {
            let envs = self.store.list_environments(&p.id).await?;
            out.push((p, envs));
        }
        Ok(out)
    }
}

impl Keyward {
    /// Adds an environment of `kind` to a project.
    pub async fn create_environment(
        &self,
        who: &Principal,
        project: &Project,
        name: &str,
        kind: Kind,
    ) -> AppResult<Environment> {
        if !who.sees(&project.org_id) {
            return Err(AppError::not_found("project", project.id.as_str()));
        }
        who.require(&project.org_id, Level::Write, "creating an environment")?;
        let name = EnvName::parse(name).map_err(|e| AppError::invalid("name", e.problem))?;
        let now = self.now();
        let env = Environment {
            id: EnvironmentId::generate(&mut OsRng),
            project_id: project.id.clone(),
            name,
            kind,
            created_at: now,
        };
        let event = who
            .event(Some(&project.org_id), AuditAction::EnvironmentCreated, now)
            .details(
                json!({ "project_id": project.id, "environment": env.name, "kind": env.kind }),
            );
        let written = self.store.insert_environment(&env, &event).await;
        self.cache.invalidate(Touched::Org(project.org_id.clone()));
        written?;
        Ok(env)
    }
}

impl Keyward {
    /// A project of `org` with its environments, if `who` may read projects there.
    pub async fn project_detail(
        &self,
        who: &Principal,
        org: &OrgId,
        id_or_name: &str,
    ) -> AppResult<(Project, Vec<Environment>)> {
        who.require_sees(org)?;
        who.require(org, Level::Read, "reading projects")?;
        let project = self.project(org, id_or_name).await?;
        let envs = self.store.list_environments(&project.id).await?;
        Ok((project, envs))
    }
}

/// An organization and where it stands against its plan.
#[derive(Debug, Clone)]
pub struct OrgSummary {
    pub org: Organization,
    /// Keys that count against the plan's limit (not deleted, expired or rotated away);
    /// `None` for a caller who may not read the organization's keys.
    pub keys_held: Option<u64>,
    /// `None`: no limit, or a plan this server does not define.
    pub key_limit: Option<u32>,
    pub quota: Option<keyward_core::quota::QuotaStanding>,
}
