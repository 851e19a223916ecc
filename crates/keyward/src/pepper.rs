//! Finding the pepper. Configured (`KEYWARD_PEPPER` or the config file) wins; else
//! `<data dir>/pepper`; else, on a first run (`keyward init` or `keyward serve`), a new
//! one is generated into that file with mode 0600. A new pepper is never generated for a database that already holds keys:
//! those keys could never verify again, so that is an error that says how to recover.

use crate::output::errln;
use anyhow::{bail, Context, Result};
use keyward_core::{base62, PepperSet};
use keyward_store::Store;
use rand_core::OsRng;
use std::path::Path;

/// `create`: whether a missing pepper may be generated (`keyward init` and `serve`
/// only; every other command says how to find the one in use).
pub async fn resolve(
    configured: Option<&str>,
    data_dir: &Path,
    store: &dyn Store,
    create: bool,
) -> Result<PepperSet> {
    if let Some(spec) = configured {
        return PepperSet::parse(spec)
            .context("the configured pepper (KEYWARD_PEPPER or the config file's 'pepper')");
    }
    let path = data_dir.join("pepper");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            return PepperSet::parse(&text)
                .with_context(|| format!("the pepper file {}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the pepper file {}", path.display()))
        }
    }
    let keys = store.count_keys().await?;
    if keys > 0 {
        bail!(
            "no pepper is configured and {} is missing, but the database holds {keys} keys hashed under a pepper; \
             restore the pepper file or set KEYWARD_PEPPER to the pepper in use (generating a new one would make every key invalid)",
            path.display()
        );
    }
    if !create {
        bail!(
            "no pepper is configured and {} is missing; restore the pepper file or set KEYWARD_PEPPER to the pepper in use, \
             or, if this database has never held keys, run `keyward init` to generate one",
            path.display()
        );
    }
    let spec = format!("1:{}", base62::random(&mut OsRng, 43));
    crate::private::write_new(&path, &format!("{spec}\n"))
        .with_context(|| format!("cannot write a new pepper to {}", path.display()))?;
    errln!(
        "keyward: generated a new pepper in {} (mode 0600). Back it up, or move it into KEYWARD_PEPPER: \
         without it no key can be verified.",
        path.display()
    );
    PepperSet::parse(&spec).context("the generated pepper")
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                errln!(
                    "keyward: warning: {} is readable by other users; run: chmod 600 {}",
                    path.display(),
                    path.display()
                );
            }
        }
    }
}
