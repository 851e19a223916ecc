//! Organizations and projects.

use crate::error::{AppError, AppResult};
use crate::Keyward;
use keyward_core::model::default_environments;
use keyward_core::{
    Actor, AuditAction, AuditEvent, Environment, EnvironmentId, OrgId, OrgName, Organization,
    Project, ProjectId, ProjectName,
};
use rand_core::OsRng;
use serde_json::json;

/// A plan name: the operator's configuration defines what each plan allows.
fn plan_name(s: &str) -> AppResult<String> {
    let ok = (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(AppError::invalid(
            "plan",
            format!(
                "'{}' is not a valid plan name: use 1 to 32 lowercase letters, digits, '-' and '_'",
                s.chars().take(40).collect::<String>()
            ),
        ))
    }
}

impl Keyward {
    pub async fn create_org(
        &self,
        actor: &Actor,
        name: &str,
        plan: Option<&str>,
    ) -> AppResult<Organization> {
        let name = OrgName::parse(name).map_err(|e| AppError::invalid("name", e))?;
        let plan = plan_name(plan.unwrap_or(&self.settings.default_plan))?;
        let now = self.now();
        let org = Organization {
            id: OrgId::generate(&mut OsRng),
            name,
            plan,
            created_at: now,
        };
        let event = AuditEvent {
            id: None,
            at: now,
            org_id: org.id.clone(),
            actor: actor.clone(),
            action: AuditAction::OrgCreated,
            key_id: None,
            details: json!({ "name": org.name, "plan": org.plan }),
            ip: None,
        };
        self.store.insert_org(&org, &event).await?;
        Ok(org)
    }

    pub async fn org(&self, id_or_name: &str) -> AppResult<Organization> {
        self.store
            .find_org(id_or_name.trim())
            .await?
            .ok_or_else(|| AppError::not_found("organization", id_or_name))
    }

    pub async fn list_orgs(&self) -> AppResult<Vec<Organization>> {
        Ok(self.store.list_orgs().await?)
    }

    /// Creates a project with the default environments `production` and `preview`.
    pub async fn create_project(
        &self,
        actor: &Actor,
        org: &OrgId,
        name: &str,
    ) -> AppResult<(Project, Vec<Environment>)> {
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
        let event = AuditEvent {
            id: None,
            at: now,
            org_id: org.clone(),
            actor: actor.clone(),
            action: AuditAction::ProjectCreated,
            key_id: None,
            details: json!({ "project_id": project.id, "name": project.name }),
            ip: None,
        };
        self.store.insert_project(&project, &envs, &event).await?;
        Ok((project, envs))
    }

    /// A project of `org` by id or name; another organization's project is "not found".
    pub async fn project(&self, org: &OrgId, id_or_name: &str) -> AppResult<Project> {
        self.store
            .find_project(org, id_or_name.trim())
            .await?
            .ok_or_else(|| AppError::not_found("project", id_or_name))
    }

    pub async fn list_projects(&self, org: &OrgId) -> AppResult<Vec<(Project, Vec<Environment>)>> {
        let mut out = Vec::new();
        for p in self.store.list_projects(org).await? {
            let envs = self.store.list_environments(&p.id).await?;
            out.push((p, envs));
        }
        Ok(out)
    }
}
