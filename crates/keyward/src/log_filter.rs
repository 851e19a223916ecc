//! What `KEYWARD_LOG` (or `RUST_LOG`) may say. `tracing`'s filter syntax reads any word
//! as the name of a log target, so a typo or a guess such as `verbose` would be
//! accepted and silently log nothing; here every directive must be a level or name a
//! target that exists in keyward.

use tracing_subscriber::filter::LevelFilter;

/// Crates whose logs keyward can show: its own and the libraries it serves with. A
/// target is one of these, or a module path inside one (`keyward_server::auth`).
const TARGETS: &[&str] = &[
    "keyward",
    "keyward_core",
    "keyward_store",
    "keyward_app",
    "keyward_server",
    "sqlx",
    "tower_http",
    "hyper",
    "hyper_util",
    "axum",
    "tokio",
];

const LEVELS: &str = "error, warn, info, debug, trace or off";

/// Checks each comma-separated directive of `filter`: `LEVEL`, `TARGET`,
/// `TARGET=LEVEL`, optionally with a span filter (`TARGET[span{field=value}]=LEVEL`).
/// The error says which directive is wrong and what would be right.
pub fn check(filter: &str) -> Result<(), String> {
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        check_directive(directive)?;
    }
    Ok(())
}

fn check_directive(directive: &str) -> Result<(), String> {
    let quoted = keyward_core::echo::echo(directive, 60);
    // A span filter may hold `=` of its own: the level comes after its closing `]`.
    let (target, level) = match directive.find('[') {
        Some(open) => {
            let close = directive
                .rfind(']')
                .ok_or_else(|| format!("'{quoted}' has a '[' without its ']'"))?;
            let level = directive[close + 1..].strip_prefix('=');
            (&directive[..open], level)
        }
        None => match directive.rsplit_once('=') {
            Some((target, level)) => (target, Some(level)),
            // A lone word: a level, or a target logged at every level.
            None if is_level(directive) => return Ok(()),
            None => (directive, None),
        },
    };
    if let Some(level) = level {
        if !is_level(level) {
            return Err(format!(
                "'{quoted}': '{}' is not a level; use {LEVELS}",
                keyward_core::echo::echo(level, 20)
            ));
        }
    }
    let known = target.is_empty()
        || TARGETS
            .iter()
            .any(|t| target == *t || target.strip_prefix(t).is_some_and(|r| r.starts_with("::")));
    if !known {
        return Err(format!(
            "'{quoted}' is neither a level ({LEVELS}) nor a target of keyward ({}); use a level such as info, or TARGET=LEVEL such as keyward_server=debug",
            TARGETS.join(", ")
        ));
    }
    Ok(())
}

fn is_level(s: &str) -> bool {
    !s.is_empty() && s.parse::<LevelFilter>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn levels_and_keyward_targets_pass_and_unknown_words_do_not() {
        for good in [
            "info",
            "WARN",
            "info,sqlx=warn",
            "keyward_server=debug",
            "keyward_server::auth=trace",
            "keyward_app",
            "warn,tower_http=debug,hyper=off",
            "[request]=debug",
            "keyward_server[request{route=/v1/keys}]=trace",
            " info , ",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("verbose", "neither a level"),
            ("info,verbose", "'verbose'"),
            ("keyward_server=loud", "not a level"),
            ("keyward_serverr=debug", "nor a target"),
            ("keywardx", "nor a target"),
            ("keyward_server=", "not a level"),
            ("[request=debug", "without its ']'"),
        ] {
            let error = check(bad).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
