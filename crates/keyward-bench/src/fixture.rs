//! Fixtures: one organization `Bench` with a project `Website`, and N keys with one
//! grant each (`Website:production:read`), written straight through the store in
//! transactions of 10,000 keys, exactly as keyward stores keys (HMAC under the pepper).
//! The organization is on plan `pro`, which the measurements define (see `open_app`).

use anyhow::Context;
use keyward_app::Principal;
use keyward_core::lifecycle::{self, NewKey, Policy};
use keyward_core::{
    Actor, AuditAction, AuditEvent, EnvName, EnvScope, GeneratedKey, Grant, KeyName, Kind, Level,
    OrgAccess, PepperSet, Prefix, ProjectScope,
};
use keyward_store::KeyWrite;
use rand_core::OsRng;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

const BATCH: usize = 10_000;

pub async fn run(
    url: &str,
    keys: usize,
    sample: usize,
    out: &Path,
    pepper: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let app = crate::open_app(url, pepper, 0, false).await?;
    let operator = Principal::operator(Actor::Cli("bench".into()));
    let org = app
        .create_org(&operator, "Bench", None)
        .await
        .context("the database must be empty")?;
    let (project, _) = app.create_project(&operator, &org.id, "Website").await?;
    let peppers = PepperSet::parse(pepper)?;
    let prefix = Prefix::default();
    let grant = Grant {
        project: ProjectScope::One(project.id.clone()),
        environment: EnvScope::Named(EnvName::parse("production")?),
        level: Level::Read,
        resources: None,
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut written = 0;
    while written < keys {
        let n = BATCH.min(keys - written);
        let mut write = KeyWrite::default();
        for _ in 0..n {
            let generated = GeneratedKey::generate(&prefix, Kind::Live, &mut OsRng);
            let spec = NewKey {
                name: KeyName::parse("bench key")?,
                description: None,
                kind: Kind::Live,
                grants: vec![grant.clone()],
                scopes: vec![],
                org_access: OrgAccess::NONE,
                owner: None,
                expires_at: None,
                ip_allowlist: Default::default(),
                metadata: None,
                rate_limits: None,
            };
            let t = lifecycle::create(
                spec,
                org.id.clone(),
                generated.id,
                peppers.hash(&generated.secret),
                Actor::Cli("bench".into()),
                &Policy::default(),
                app.now(),
            )?;
            write.events.push(AuditEvent {
                id: None,
                at: app.now(),
                org_id: Some(org.id.clone()),
                actor: Actor::Cli("bench".into()),
                action: AuditAction::KeyCreated,
                key_id: Some(t.key.id),
                details: t.details,
                ip: None,
            });
            write.inserts.push(t.key);
            if written < sample {
                writeln!(file, "{}", generated.secret.expose_secret())?;
            }
            written += 1;
        }
        app.store().write_keys(write).await?;
    }
    file.flush()?;
    println!("fixture_keys {keys}");
    println!(
        "fixture_load_seconds {:.1}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
