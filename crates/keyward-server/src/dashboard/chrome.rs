//! What surrounds every signed-in page: the person, their organizations (the
//! switcher), the organization being looked at, and the section of the menu.

use super::viewer::Viewer;
use super::PageError;
use crate::state::AppState;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use keyward_core::Organization;
use serde::Deserialize;

/// An organization as a link: its id (in URLs) and its name (shown).
#[derive(Debug, Clone)]
pub struct OrgLink {
    pub id: String,
    pub name: String,
}

impl From<&Organization> for OrgLink {
    fn from(o: &Organization) -> Self {
        OrgLink {
            id: o.id.to_string(),
            name: o.name.to_string(),
        }
    }
}

/// The frame of a signed-in page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub person: String,
    pub csrf: String,
    pub orgs: Vec<OrgLink>,
    pub current: Option<OrgLink>,
    /// Which entry of the menu is this page's: `keys`, `projects`, `members`,
    /// `audit`, `plan`, or `""`.
    pub section: &'static str,
}

impl Chrome {
    pub async fn new(
        state: &AppState,
        viewer: &Viewer,
        current: Option<&Organization>,
        section: &'static str,
    ) -> Result<Self, PageError> {
        let orgs = state.app.list_orgs(&viewer.principal).await?;
        Ok(Chrome {
            person: viewer.name().to_owned(),
            csrf: viewer.csrf.as_str().to_owned(),
            orgs: orgs.iter().map(OrgLink::from).collect(),
            current: current.map(OrgLink::from),
            section,
        })
    }

    pub fn current_id(&self) -> &str {
        self.current.as_ref().map_or("", |o| o.id.as_str())
    }
}

/// The organization named in a page's path, if this person belongs to it; "not found"
/// otherwise, exactly as the API answers.
pub async fn org_of(
    state: &AppState,
    viewer: &Viewer,
    reference: &str,
) -> Result<Organization, PageError> {
    Ok(state.app.org(&viewer.principal, reference).await?)
}

#[derive(Deserialize)]
pub struct SwitchTo {
    org: Option<String>,
}

/// `/`: a signed-in person goes to their (first) organization's keys; anyone else
/// to the sign-in page.
pub async fn home(
    axum::extract::State(state): axum::extract::State<AppState>,
    super::viewer::MaybeViewer(viewer): super::viewer::MaybeViewer,
) -> Result<Response, PageError> {
    let Some(viewer) = viewer else {
        return Ok(Redirect::to("/sign-in").into_response());
    };
    let orgs = state.app.list_orgs(&viewer.principal).await?;
    Ok(match orgs.first() {
        Some(org) => Redirect::to(&format!("/orgs/{}/keys", org.id)).into_response(),
        None => Redirect::to("/account").into_response(),
    })
}

/// The organization switcher's form (a GET, so it works without a script).
pub async fn switch(
    axum::extract::State(state): axum::extract::State<AppState>,
    viewer: Viewer,
    Query(to): Query<SwitchTo>,
) -> Result<Response, PageError> {
    let reference = to.org.unwrap_or_default();
    let org = org_of(&state, &viewer, &reference).await?;
    Ok(Redirect::to(&format!("/orgs/{}/keys", org.id)).into_response())
}
