//! The form that creates a key and edits one: its fields as typed, turned into the
//! same input the API takes, and every refusal put back next to the field it is about.

use super::form::Fields;
use keyward_app::views::KeyView;
use keyward_app::AppError;
use keyward_core::{timestamp, GrantSpec, Kind, Level, OrgAccess, RateLimit, Timestamp};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// One permission row: project, environment, level, and optionally the resources the
/// grant is limited to.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub project: String,
    pub environment: String,
    pub level: String,
    pub resources: String,
}

/// The key form as typed (or as the key stands, when editing).
#[derive(Debug, Clone)]
pub struct KeyForm {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub rows: Vec<Row>,
    pub org_access: String,
    pub scopes: Vec<String>,
    /// `never`, `30`, `60`, `90` (days from now), `date` (then `expires_on`), or
    /// `keep` (editing: leave the expiry as it is).
    pub expiry: String,
    pub expires_on: String,
    /// One limit a line: `burst 100/10s` or `burst=100/10s`.
    pub rate_limits: String,
    /// One network a line.
    pub ip_allowlist: String,
    /// A person's key acts as them unless this is ticked.
    pub service: bool,
}

/// What the form's buttons ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Save,
    AddRow,
    RemoveRow(usize),
}

/// Refusals, by the field they belong next to; `general` for the rest.
#[derive(Debug, Default)]
pub struct Errors {
    pub fields: BTreeMap<String, String>,
    pub general: Vec<String>,
}

impl Errors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// The refusal of permission row `i`.
    pub fn row(&self, i: &usize) -> Option<&str> {
        self.get(&format!("row{i}"))
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Puts a refusal from the app next to the field it names.
    pub fn add_refusal(&mut self, e: AppError) -> Result<(), super::PageError> {
        match e {
            AppError::Invalid { field, message } => {
                let at = match field {
                    "grants" => "permissions",
                    "expires_at" => "expiry",
                    "key_id" => "general",
                    other => other,
                };
                if at == "general" {
                    self.general.push(message);
                } else {
                    self.add(at, message);
                }
            }
            // Beyond what the person holds: next to what asked for too much.
            AppError::Forbidden {
                required_permission,
                message,
            } => {
                let at = if message.contains("ip_allowlist") {
                    "ip_allowlist"
                } else if required_permission == "no_escalation" {
                    "permissions"
                } else if message.contains("limits") {
                    "rate_limits"
                } else {
                    "general"
                };
                if at == "general" {
                    self.general.push(message);
                } else {
                    self.add(at, message);
                }
            }
            AppError::Lifecycle(e) => {
                let text = e.to_string();
                if text.starts_with("expires_at") || text.contains("expiry") {
                    self.add("expiry", text);
                } else {
                    self.general.push(text);
                }
            }
            e @ (AppError::PlanLimit { .. } | AppError::Conflict(_) | AppError::Concurrent) => {
                self.general.push(e.to_string())
            }
            other => return Err(other.into()),
        }
        Ok(())
    }
}

/// The key's new settings, as the app takes them.
pub struct Parsed {
    pub kind: Kind,
    pub grants: Vec<GrantSpec>,
    pub org_access: OrgAccess,
    pub expires_at: Option<Option<Timestamp>>,
    pub rate_limits: Option<Vec<RateLimit>>,
    pub ip_allowlist: Vec<String>,
}

/// Days a key may be set to last, as the menu offers them.
pub const EXPIRY_CHOICES: [(&str, &str); 4] = [
    ("never", "Never"),
    ("30", "30 days"),
    ("60", "60 days"),
    ("90", "90 days"),
];

impl KeyForm {
    /// A new key's form: one empty permission row.
    pub fn blank() -> Self {
        KeyForm {
            name: String::new(),
            description: String::new(),
            kind: "live".into(),
            rows: vec![Row {
                level: "read".into(),
                ..Row::default()
            }],
            org_access: "none".into(),
            scopes: Vec::new(),
            expiry: "never".into(),
            expires_on: String::new(),
            rate_limits: String::new(),
            ip_allowlist: String::new(),
            service: false,
        }
    }

    /// The form for editing `key`, filled in with what it has.
    pub fn of_key(key: &KeyView) -> Self {
        KeyForm {
            name: key.name.clone(),
            description: key.description.clone().unwrap_or_default(),
            kind: key.kind.as_str().into(),
            rows: key
                .grants
                .iter()
                .map(|g| Row {
                    project: g.project.clone(),
                    environment: g.environment.clone(),
                    level: g.level.as_str().into(),
                    resources: g
                        .resources
                        .as_ref()
                        .map(|r| r.iter().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default(),
                })
                .collect(),
            org_access: key.org_access.as_str().into(),
            scopes: key.scopes.clone(),
            expiry: "keep".into(),
            expires_on: String::new(),
            rate_limits: key
                .rate_limits
                .as_ref()
                .map(|limits| {
                    limits
                        .iter()
                        .map(|l| format!("{} {}/{}", l.name, l.limit, l.period))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            ip_allowlist: key.ip_allowlist.join("\n"),
            service: key.owner.is_none(),
        }
    }

    /// The form as posted.
    pub fn posted(f: &Fields) -> Self {
        let projects: Vec<&str> = f.all("project").collect();
        let environments: Vec<&str> = f.all("environment").collect();
        let levels: Vec<&str> = f.all("level").collect();
        let resources: Vec<&str> = f.all("resources").collect();
        let rows = (0..projects.len().max(environments.len()))
            .map(|i| Row {
                project: projects.get(i).copied().unwrap_or("").into(),
                environment: environments.get(i).copied().unwrap_or("").into(),
                level: levels.get(i).copied().unwrap_or("read").into(),
                resources: resources.get(i).copied().unwrap_or("").into(),
            })
            .collect();
        KeyForm {
            name: f.text("name").into(),
            description: f.text("description").into(),
            kind: f.get("kind").unwrap_or("live").into(),
            rows,
            org_access: f.get("org_access").unwrap_or("none").into(),
            scopes: f.all("scope").map(str::to_owned).collect(),
            expiry: f.get("expiry").unwrap_or("never").into(),
            expires_on: f.text("expires_on").into(),
            rate_limits: f.text("rate_limits").into(),
            ip_allowlist: f.text("ip_allowlist").into(),
            service: f.checked("service"),
        }
    }

    pub fn intent(f: &Fields) -> Intent {
        match f.get("intent") {
            Some("add_row") => Intent::AddRow,
            Some(other) => match other.strip_prefix("remove_row:").map(str::parse) {
                Some(Ok(i)) => Intent::RemoveRow(i),
                _ => Intent::Save,
            },
            None => Intent::Save,
        }
    }

    /// Applies a button that changes the form itself, not the key.
    pub fn apply(&mut self, intent: Intent) {
        match intent {
            Intent::AddRow => self.rows.push(Row {
                level: "read".into(),
                ..Row::default()
            }),
            Intent::RemoveRow(i) if i < self.rows.len() => {
                self.rows.remove(i);
            }
            _ => {}
        }
    }

    pub fn has_scope(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s == name)
    }

    /// The form as the app's input, or what is wrong with it, field by field. Rows
    /// left wholly blank are ignored.
    pub fn parse(&self, now: Timestamp, errors: &mut Errors) -> Option<Parsed> {
        let kind = match Kind::parse(&self.kind) {
            Ok(k) => Some(k),
            Err(e) => {
                errors.add("kind", e.to_string());
                None
            }
        };
        let mut grants = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            if row.project.is_empty() && row.environment.is_empty() && row.resources.is_empty() {
                continue;
            }
            let at = format!("row{i}");
            if row.project.is_empty() {
                errors.add(&at, "Choose a project, or All projects.");
                continue;
            }
            if row.environment.is_empty() {
                errors.add(&at, "Choose an environment, or All environments.");
                continue;
            }
            let level = match Level::parse(&row.level) {
                Ok(l) => l,
                Err(e) => {
                    errors.add(&at, e.to_string());
                    continue;
                }
            };
            let resources: Vec<&str> = row
                .resources
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect();
            let resources = (!resources.is_empty()).then_some(resources);
            match GrantSpec::from_parts(&row.project, &row.environment, level, resources.as_deref())
            {
                Ok(g) => grants.push(g),
                Err(e) => errors.add(&at, e.to_string()),
            }
        }
        let org_access = match OrgAccess::parse(&self.org_access) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.add("org_access", e.to_string());
                None
            }
        };
        let expires_at = match self.expiry.as_str() {
            "keep" => None,
            "never" => Some(None),
            "date" => match timestamp::parse_day(&self.expires_on) {
                // The end of the chosen day, UTC: the key works through that day.
                Some(day) => Some(Some(
                    day.with_hms(23, 59, 59)
                        .map(|t| t.assume_utc())
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                )),
                None => {
                    errors.add("expiry", "Give the last day the key works, as a date.");
                    None
                }
            },
            days => match days.parse::<i64>() {
                Ok(d @ 1..=3650) => Some(Some(now + Duration::days(d))),
                _ => {
                    errors.add("expiry", "Choose when the key expires.");
                    None
                }
            },
        };
        let mut rate_limits = Vec::new();
        for line in self
            .rate_limits
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match RateLimit::parse_spec(line) {
                Ok(l) => rate_limits.push(l),
                Err(e) => errors.add("rate_limits", e),
            }
        }
        let ip_allowlist = self
            .ip_allowlist
            .split(|c: char| c == '\n' || c == ',' || c.is_whitespace())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if !errors.is_empty() {
            return None;
        }
        Some(Parsed {
            kind: kind?,
            grants,
            org_access: org_access?,
            expires_at,
            rate_limits: (!rate_limits.is_empty()).then_some(rate_limits),
            ip_allowlist,
        })
    }
}

/// A day as the date picker writes it.
pub fn day(at: Timestamp) -> String {
    timestamp::format_day(at.date())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        timestamp::parse_time(
            "2026-12-02T10:00:00Z",
            Timestamp::from(OffsetDateTime::UNIX_EPOCH),
        )
        .unwrap()
    }

    #[test]
    fn rows_become_grants_and_blank_rows_are_ignored() {
        let f = Fields::parse(
            b"name=ci&kind=live&project=Website&environment=production&level=write&resources=\
              &project=*&environment=*&level=read&resources=forms%2C+responses\
              &project=&environment=&level=read&resources=&org_access=read&expiry=30",
        );
        let form = KeyForm::posted(&f);
        let mut errors = Errors::default();
        let parsed = form.parse(now(), &mut errors).expect("valid");
        assert!(errors.is_empty());
        assert_eq!(parsed.grants.len(), 2);
        assert_eq!(parsed.grants[0].project.as_deref(), Some("Website"));
        assert_eq!(parsed.grants[1].project, None);
        assert_eq!(
            parsed.grants[1].resources.as_ref().map(|r| r.len()),
            Some(2)
        );
        assert_eq!(parsed.org_access, OrgAccess(Some(Level::Read)));
        assert_eq!(parsed.expires_at, Some(Some(now() + Duration::days(30))));
    }

    #[test]
    fn each_mistake_is_put_next_to_its_field() {
        let f = Fields::parse(
            b"kind=live&project=Website&environment=&level=read\
              &project=Website&environment=production&level=owner\
              &org_access=all&expiry=date&expires_on=soon&rate_limits=fast",
        );
        let mut errors = Errors::default();
        assert!(KeyForm::posted(&f).parse(now(), &mut errors).is_none());
        for field in ["row0", "row1", "org_access", "expiry", "rate_limits"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn buttons_add_and_remove_rows() {
        let f = Fields::parse(b"project=A&environment=x&level=read&intent=add_row");
        let mut form = KeyForm::posted(&f);
        form.apply(KeyForm::intent(&f));
        assert_eq!(form.rows.len(), 2);
        let f = Fields::parse(b"intent=remove_row%3A0");
        assert_eq!(KeyForm::intent(&f), Intent::RemoveRow(0));
        form.apply(Intent::RemoveRow(0));
        form.apply(Intent::RemoveRow(9));
        assert_eq!(form.rows.len(), 1);
    }
}
