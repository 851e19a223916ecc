//! Configuration: defaults, then a TOML file (`--config` or `KEYWARD_CONFIG`), then
//! `KEYWARD_*` environment variables, then command-line flags. Every value is checked
//! here, and a bad one is reported with where it came from and what is allowed.

use anyhow::{bail, Context, Result};
use keyward_core::lifecycle::Policy;
use keyward_core::{duration, Catalog, Level, Plan, Plans, Prefixes};
use keyward_server::{ServerLimits, TrustedProxies};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file form. Unknown fields are an error, so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    /// Connections to the database per process; left out: the backend's default.
    database_max_connections: Option<i64>,
    /// Whether commands that open the database run its pending migrations first.
    migrate_on_start: Option<bool>,
    /// Redis for rate limits shared by every node; left out: limits per node.
    redis_url: Option<String>,
    /// Put before every Redis key keyward writes.
    redis_key_prefix: Option<String>,
    /// The longest a check waits for Redis.
    redis_timeout: Option<String>,
    /// `open` (fall back to per-node limits) or `closed` (refuse with 503).
    redis_unreachable: Option<String>,
    /// One prefix, or several: new keys get the first, the others keep working.
    key_prefix: Option<OneOrMany>,
    pepper: Option<String>,
    max_key_lifetime: Option<String>,
    default_plan: Option<String>,
    listen: Option<String>,
    public_url: Option<String>,
    cache_capacity: Option<usize>,
    cache_memory: Option<String>,
    cache_ttl: Option<String>,
    session_idle_timeout: Option<String>,
    session_lifetime: Option<String>,
    header_read_timeout: Option<String>,
    request_body_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_connections: Option<usize>,
    shutdown_deadline: Option<String>,
    /// The reverse proxies whose X-Forwarded-For is believed, as CIDRs.
    trusted_proxies: Option<OneOrMany>,
    metrics_listen: Option<String>,
    metrics_token: Option<String>,
    /// The scope catalog: `resource = ["action", ...]` (levels by action name) or
    /// `resource = { action = "level", ... }`.
    scopes: Option<BTreeMap<String, Actions>>,
    /// The plans offered, by name; given, they replace the defaults.
    plans: Option<BTreeMap<String, PlanFile>>,
    /// Forward auth: the route table, in order (the first match wins).
    routes: Option<Vec<RouteFile>>,
    /// The token proxies send in `X-Keyward-Proxy-Token` to call forward auth.
    forward_auth_token: Option<String>,
    /// `deny` (the default) or `allow`: a request no route matches.
    forward_auth_unmatched: Option<String>,
}

/// A forward-auth route as the config file writes it (`[[routes]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    /// Where the route is written, for errors that point at its line.
    path: toml::Spanned<String>,
    methods: Option<OneOrMany>,
    resource: Option<String>,
    project: Option<String>,
    environment: Option<String>,
    level: Option<String>,
}

/// A plan as the config file writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    api_access: bool,
    /// Left out: no limit.
    max_keys: Option<u32>,
    /// Left out: no quota.
    monthly_quota: Option<u64>,
    #[serde(default)]
    rate_limits: Vec<keyward_core::RateLimit>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// As the environment variable writes it: comma-separated.
    fn joined(self) -> String {
        match self {
            OneOrMany::One(s) => s,
            OneOrMany::Many(list) => list.join(","),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Actions {
    Names(Vec<String>),
    Levels(BTreeMap<String, String>),
}

pub struct Config {
    pub data_dir: PathBuf,
    /// Where `data_dir` was set, for the messages that name it: `--data-dir`,
    /// `KEYWARD_DATA_DIR`, `the config file …` or `the default`.
    pub data_dir_from: String,
    pub database_url: String,
    /// At most this many connections to the database; `None`: the backend's default.
    pub database_max_connections: Option<u32>,
    /// Commands that open the database migrate it first (the default); otherwise they
    /// refuse a database that is behind and `keyward migrate` is run apart.
    pub migrate_on_start: bool,
    /// Rate limits in Redis, shared by the nodes; `None`: per node.
    pub redis: Option<keyward_app::RedisSettings>,
    pub prefixes: Prefixes,
    /// The pepper list, if configured; otherwise it lives in `data_dir/pepper`.
    pub pepper: Option<String>,
    pub policy: Policy,
    pub default_plan: String,
    /// Where `keyward serve` listens.
    pub listen: std::net::SocketAddr,
    /// The address people reach the server at, for printed links.
    pub public_url: String,
    pub catalog: Catalog,
    pub plans: Plans,
    pub cache_capacity: usize,
    pub cache_memory: u64,
    pub cache_ttl: time::Duration,
    /// A person's session ends after this long without a request.
    pub session_idle_timeout: time::Duration,
    /// A person's session ends this long after sign-in.
    pub session_lifetime: time::Duration,
    /// Timeouts and the connection limit of `keyward serve`.
    pub limits: ServerLimits,
    pub trusted_proxies: TrustedProxies,
    /// Where `/metrics` is served: an address of its own, or (`None`) the API listener.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The token scrapers of `/metrics` must send; without one, only clients on this
    /// machine are answered.
    pub metrics_token: Option<SecretString>,
    /// The forward-auth route table and who may call it.
    pub forward_auth: keyward_server::ForwardAuth,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("prefixes", &self.prefixes)
            .field("pepper", &self.pepper.as_ref().map(|_| "[redacted]"))
            .field("policy", &self.policy)
            .field("default_plan", &self.default_plan)
            .field("metrics_listen", &self.metrics_listen)
            .finish_non_exhaustive()
    }
}

/// More connections than this from one process is a typo: PostgreSQL's own default
/// allows 100 in all.
const MOST_DATABASE_CONNECTIONS: u32 = 1000;

fn env(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
    }
}

/// Picks the first value present: flag, environment variable, file; and says which
/// one it came from, for error messages.
fn pick(flag: Option<String>, var: &str, file: Option<String>) -> Result<Option<(String, String)>> {
    if let Some(v) = flag {
        return Ok(Some((v, "the command line".into())));
    }
    if let Some(v) = env(var)? {
        return Ok(Some((v, var.to_owned())));
    }
    Ok(file.map(|v| (v, "the config file".into())))
}

/// A server timeout from the variable or the file: a duration such as `10s`. Zero is
/// refused unless `zero_allowed`: a timeout of nothing would close every connection
/// at once.
fn timeout(
    name: &str,
    var: &str,
    file: Option<String>,
    default: std::time::Duration,
    zero_allowed: bool,
) -> Result<std::time::Duration> {
    let Some((v, from)) = pick(None, var, file)? else {
        return Ok(default);
    };
    let d = duration::parse(&v).with_context(|| format!("{name} from {from}"))?;
    if d <= time::Duration::ZERO && !zero_allowed {
        bail!(
            "{name} from {from} must be longer than 0, such as '{}s'",
            default.as_secs()
        );
    }
    Ok(d.unsigned_abs())
}

pub fn load(
    config_file: Option<&Path>,
    data_dir_flag: Option<PathBuf>,
    listen_flag: Option<String>,
) -> Result<Config> {
    let file_path = match config_file {
        Some(p) => Some(p.to_path_buf()),
        None => env("KEYWARD_CONFIG")?.map(PathBuf::from),
    };
    let (file, text): (FileConfig, String) = match &file_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the config file {}", path.display()))?;
            let file = toml::from_str(&text)
                .with_context(|| format!("invalid config file {}", path.display()))?;
            (file, text)
        }
        None => (FileConfig::default(), String::new()),
    };

    let (data_dir, data_dir_from) = match (data_dir_flag, env("KEYWARD_DATA_DIR")?, file.data_dir) {
        (Some(flag), _, _) => (flag, "--data-dir".to_owned()),
        (None, Some(var), _) if !var.is_empty() => (PathBuf::from(var), "KEYWARD_DATA_DIR".into()),
        (None, _, Some(dir)) => (
            dir,
            format!(
                "the config file {}",
                file_path.as_deref().unwrap_or(Path::new("")).display()
            ),
        ),
        (None, _, None) => (PathBuf::from("keyward-data"), "the default".into()),
    };

    let database_url = pick(None, "KEYWARD_DATABASE_URL", file.database_url)?.map_or_else(
        || format!("sqlite://{}", data_dir.join("keyward.db").display()),
        |(v, _)| v,
    );

    let database_max_connections = match pick(
        None,
        "KEYWARD_DATABASE_MAX_CONNECTIONS",
        file.database_max_connections.map(|n| n.to_string()),
    )? {
        Some((v, from)) => match v.trim().parse::<u32>() {
            Ok(n) if (1..=MOST_DATABASE_CONNECTIONS).contains(&n) => Some(n),
            _ => bail!(
                "database_max_connections from {from}: '{}' is not a whole number from 1 to {MOST_DATABASE_CONNECTIONS}; \
                 leave it out for the default (8 for SQLite, 10 for PostgreSQL)",
                keyward_core::echo::echo(&v, 40)
            ),
        },
        None => None,
    };
    let migrate_on_start = match pick(
        None,
        "KEYWARD_MIGRATE_ON_START",
        file.migrate_on_start.map(|b| b.to_string()),
    )? {
        Some((v, from)) => match v.trim() {
            "true" => true,
            "false" => false,
            _ => bail!(
                "migrate_on_start from {from}: '{}' is neither true nor false",
                keyward_core::echo::echo(&v, 40)
            ),
        },
        None => true,
    };

    let redis = redis(
        file.redis_url,
        file.redis_key_prefix,
        file.redis_timeout,
        file.redis_unreachable,
    )?;

    let prefixes = match pick(None, "KEYWARD_KEY_PREFIX", file.key_prefix.map(OneOrMany::joined))? {
        Some((v, from)) => Prefixes::parse(&v).with_context(|| {
            format!("key_prefix from {from} (a prefix such as 'kw', or a list such as 'fxk,kw' whose first one new keys get)")
        })?,
        None => Prefixes::default(),
    };

    let policy = match pick(None, "KEYWARD_MAX_KEY_LIFETIME", file.max_key_lifetime)? {
        Some((v, from)) => {
            let max =
                duration::parse(&v).with_context(|| format!("max_key_lifetime from {from}"))?;
            if max <= time::Duration::ZERO {
                bail!("max_key_lifetime from {from} must be longer than 0, such as '730d'");
            }
            Policy { max_lifetime: max }
        }
        None => Policy::default(),
    };

    let default_plan = pick(None, "KEYWARD_DEFAULT_PLAN", file.default_plan)?.map_or_else(
        || keyward_app::Settings::DEFAULT_PLAN.to_owned(),
        |(v, _)| v,
    );

    let pepper = pick(None, "KEYWARD_PEPPER", file.pepper)?.map(|(v, _)| v);

    let cache_capacity = match pick(
        None,
        "KEYWARD_CACHE_CAPACITY",
        file.cache_capacity.map(|c| c.to_string()),
    )? {
        Some((v, from)) => v.parse().with_context(|| {
            format!(
                "cache_capacity from {from}: '{v}' is not a whole number (0 turns the cache off)"
            )
        })?,
        None => keyward_app::Settings::DEFAULT_CACHE_CAPACITY,
    };
    let cache_memory = match pick(None, "KEYWARD_CACHE_MEMORY", file.cache_memory)? {
        Some((v, from)) => v
            .parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|e| {
                anyhow::anyhow!(
                    "cache_memory from {from}: '{}' is not a size ({e}); use a size such as 64MiB or 512MB",
                    keyward_core::echo::echo(&v, 40)
                )
            })?,
        None => keyward_app::Settings::DEFAULT_CACHE_MEMORY,
    };
    let cache_ttl = match pick(None, "KEYWARD_CACHE_TTL", file.cache_ttl)? {
        Some((v, from)) => {
            let ttl = duration::parse(&v).with_context(|| format!("cache_ttl from {from}"))?;
            if ttl > time::Duration::minutes(5) {
                bail!("cache_ttl from {from} is {v}; at most 5m, since a revocation made elsewhere takes this long to be seen");
            }
            ttl
        }
        None => keyward_app::Settings::DEFAULT_CACHE_TTL,
    };

    let session_idle_timeout = session_duration(
        "session_idle_timeout",
        "KEYWARD_SESSION_IDLE_TIMEOUT",
        file.session_idle_timeout,
        keyward_app::Settings::DEFAULT_SESSION_IDLE_TIMEOUT,
    )?;
    let session_lifetime = session_duration(
        "session_lifetime",
        "KEYWARD_SESSION_LIFETIME",
        file.session_lifetime,
        keyward_app::Settings::DEFAULT_SESSION_LIFETIME,
    )?;

    let defaults = ServerLimits::default();
    let limits = ServerLimits {
        header_read_timeout: timeout(
            "header_read_timeout",
            "KEYWARD_HEADER_READ_TIMEOUT",
            file.header_read_timeout,
            defaults.header_read_timeout,
            false,
        )?,
        request_body_timeout: timeout(
            "request_body_timeout",
            "KEYWARD_REQUEST_BODY_TIMEOUT",
            file.request_body_timeout,
            defaults.request_body_timeout,
            false,
        )?,
        idle_timeout: timeout(
            "idle_timeout",
            "KEYWARD_IDLE_TIMEOUT",
            file.idle_timeout,
            defaults.idle_timeout,
            false,
        )?,
        max_connections: match pick(
            None,
            "KEYWARD_MAX_CONNECTIONS",
            file.max_connections.map(|c| c.to_string()),
        )? {
            Some((v, from)) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => bail!(
                    "max_connections from {from}: '{}' is not a whole number of at least 1",
                    keyward_core::echo::echo(&v, 40)
                ),
            },
            None => defaults.max_connections,
        },
        shutdown_deadline: timeout(
            "shutdown_deadline",
            "KEYWARD_SHUTDOWN_DEADLINE",
            file.shutdown_deadline,
            defaults.shutdown_deadline,
            // No waiting: requests under way are cut off.
            true,
        )?,
    };

    let trusted_proxies = match pick(
        None,
        "KEYWARD_TRUSTED_PROXIES",
        file.trusted_proxies.map(OneOrMany::joined),
    )? {
        Some((v, from)) => {
            let entries: Vec<&str> = v.split(',').filter(|e| !e.trim().is_empty()).collect();
            TrustedProxies::parse(&entries).with_context(|| {
                format!("trusted_proxies from {from} (the networks of your reverse proxies, such as '10.0.0.0/8' or '127.0.0.1')")
            })?
        }
        None => TrustedProxies::default(),
    };

    let plans = match file.plans {
        None => Plans::formfex(),
        Some(plans) => Plans::new(
            plans
                .into_iter()
                .map(|(name, p)| Plan {
                    name,
                    api_access: p.api_access,
                    max_keys: p.max_keys,
                    rate_limits: p.rate_limits,
                    monthly_quota: p.monthly_quota,
                })
                .collect(),
        )
        .context("the config file's [plans]")?,
    };
    if plans.get(&default_plan).is_none() {
        bail!(
            "default_plan '{}' is not one of the plans: {}",
            keyward_core::echo::echo(&default_plan, 40),
            plans.names().join(", ")
        );
    }

    let catalog = match file.scopes {
        None => Catalog::formfex(),
        Some(resources) => {
            let mut out = BTreeMap::new();
            for (resource, actions) in resources {
                let levels = match actions {
                    Actions::Names(names) => names
                        .into_iter()
                        .map(|a| {
                            let l = Catalog::default_level(&a);
                            (a, l)
                        })
                        .collect(),
                    Actions::Levels(map) => map
                        .into_iter()
                        .map(|(a, l)| {
                            Level::parse(&l).map(|l| (a.clone(), l)).with_context(|| {
                                format!("scopes.{resource}.{a} in the config file")
                            })
                        })
                        .collect::<Result<BTreeMap<_, _>>>()?,
                };
                out.insert(resource, levels);
            }
            Catalog::new(out).context("the config file's [scopes]")?
        }
    };

    let metrics_listen = match pick(None, "KEYWARD_METRICS_LISTEN", file.metrics_listen)? {
        Some((v, from)) => Some(v.parse().with_context(|| {
            format!(
                "metrics_listen from {from}: '{}' is not an address:port such as 127.0.0.1:9090",
                keyward_core::echo::echo(&v, 40)
            )
        })?),
        None => None,
    };
    let metrics_token = match pick(None, "KEYWARD_METRICS_TOKEN", file.metrics_token)? {
        Some((v, from)) => Some(secret_token("metrics_token", v, &from)?),
        None => None,
    };

    let listen = match pick(listen_flag, "KEYWARD_LISTEN", file.listen)? {
        Some((v, from)) => v.parse().with_context(|| {
            format!("listen from {from}: '{v}' is not an address:port such as 127.0.0.1:8080")
        })?,
        None => std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let public_url = match pick(None, "KEYWARD_PUBLIC_URL", file.public_url)? {
        Some((v, from)) => {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                bail!("public_url from {from} must start with http:// or https://");
            }
            v.trim_end_matches('/').to_owned()
        }
        None => format!("http://{listen}"),
    };

    let forward_auth = forward_auth(
        file.routes.unwrap_or_default(),
        file.forward_auth_token,
        file.forward_auth_unmatched,
        &text,
    )?;

    Ok(Config {
        data_dir,
        data_dir_from,
        database_url,
        database_max_connections,
        migrate_on_start,
        redis,
        prefixes,
        pepper,
        policy,
        default_plan,
        listen,
        public_url,
        catalog,
        plans,
        cache_capacity,
        cache_memory,
        cache_ttl,
        session_idle_timeout,
        session_lifetime,
        limits,
        trusted_proxies,
        metrics_listen,
        metrics_token,
        forward_auth,
    })
}

/// The global rate limits' settings: none without `redis_url` (the others are then
/// refused, since they would do nothing).
fn redis(
    url: Option<String>,
    key_prefix: Option<String>,
    timeout: Option<String>,
    unreachable: Option<String>,
) -> Result<Option<keyward_app::RedisSettings>> {
    use keyward_app::{RedisSettings, Unreachable};
    let url = pick(None, "KEYWARD_REDIS_URL", url)?.filter(|(v, _)| !v.trim().is_empty());
    let key_prefix = pick(None, "KEYWARD_REDIS_KEY_PREFIX", key_prefix)?;
    let timeout = pick(None, "KEYWARD_REDIS_TIMEOUT", timeout)?;
    let unreachable = pick(None, "KEYWARD_REDIS_UNREACHABLE", unreachable)?;
    let Some((url, url_from)) = url else {
        for (name, set) in [
            ("redis_key_prefix", &key_prefix),
            ("redis_timeout", &timeout),
            ("redis_unreachable", &unreachable),
        ] {
            if let Some((_, from)) = set {
                bail!("{name} is set (from {from}) but redis_url is not: set redis_url (KEYWARD_REDIS_URL) for rate limits across nodes, or leave {name} out");
            }
        }
        return Ok(None);
    };
    let key_prefix = match key_prefix {
        Some((v, from)) => {
            if v.len() > 64
                || v.bytes()
                    .any(|b| !b.is_ascii_graphic() || b == b'{' || b == b'}')
            {
                bail!("redis_key_prefix from {from}: at most 64 visible ASCII characters without braces, such as 'keyward:' or 'keyward-eu:'");
            }
            v
        }
        None => RedisSettings::DEFAULT_KEY_PREFIX.to_owned(),
    };
    let timeout = match timeout {
        Some((v, from)) => {
            let d = duration::parse(&v).with_context(|| format!("redis_timeout from {from}"))?;
            if d <= time::Duration::ZERO || d > time::Duration::seconds(5) {
                bail!("redis_timeout from {from} is {v}; use a duration above 0 and at most 5s, such as '50ms': every check waits this long at worst");
            }
            d.unsigned_abs()
        }
        None => RedisSettings::DEFAULT_TIMEOUT,
    };
    let unreachable = match unreachable {
        Some((v, from)) => Unreachable::parse(v.trim()).with_context(|| {
            format!(
                "redis_unreachable from {from}: '{}' is neither 'open' (fall back to each node's own limits) nor 'closed' (refuse with 503)",
                keyward_core::echo::echo(&v, 40)
            )
        })?,
        None => Unreachable::DEFAULT,
    };
    let settings = RedisSettings {
        url: SecretString::from(url.trim().to_owned()),
        key_prefix,
        timeout,
        unreachable,
    };
    keyward_app::GlobalLimits::check_url(&settings)
        .map_err(|e| anyhow::anyhow!("redis_url from {url_from}: {e}"))?;
    Ok(Some(settings))
}

/// The forward-auth settings: the route table from the file (each error names the
/// route, its line and what to fix), the proxies' token and what an unmatched request
/// gets.
fn forward_auth(
    routes: Vec<RouteFile>,
    token: Option<String>,
    unmatched: Option<String>,
    text: &str,
) -> Result<keyward_server::ForwardAuth> {
    let lines: Vec<usize> = routes
        .iter()
        .map(|r| {
            text[..r.path.span().start.min(text.len())]
                .matches('\n')
                .count()
                + 1
        })
        .collect();
    let specs: Vec<keyward_core::RouteSpec> = routes
        .into_iter()
        .map(|r| keyward_core::RouteSpec {
            methods: match r.methods {
                None => Vec::new(),
                Some(OneOrMany::One(m)) => vec![m],
                Some(OneOrMany::Many(ms)) => ms,
            },
            path: r.path.into_inner(),
            resource: r.resource,
            project: r.project,
            environment: r.environment,
            level: r.level,
        })
        .collect();
    let table = keyward_core::RouteTable::parse(&specs).map_err(|e| {
        let line = lines.get(e.index - 1).copied().unwrap_or(0);
        anyhow::anyhow!("the config file's [[routes]], line {line}: {e}")
    })?;
    let token = match pick(None, "KEYWARD_FORWARD_AUTH_TOKEN", token)? {
        Some((v, from)) => Some(secret_token("forward_auth_token", v, &from)?),
        None => None,
    };
    let allow_unmatched = match pick(None, "KEYWARD_FORWARD_AUTH_UNMATCHED", unmatched)? {
        None => false,
        Some((v, from)) => match v.trim() {
            "deny" => false,
            "allow" => true,
            _ => bail!(
                "forward_auth_unmatched from {from} is '{}'; give 'deny' (the default: a request no route matches is refused) or 'allow' (any valid key may make it)",
                keyward_core::echo::echo(&v, 40)
            ),
        },
    };
    Ok(keyward_server::ForwardAuth {
        routes: table,
        allow_unmatched,
        token,
    })
}

/// How long sessions last: a duration from the variable or the file, longer than 0
/// and at most a year (a session that never ends is a password that never expires).
fn session_duration(
    name: &str,
    var: &str,
    file: Option<String>,
    default: time::Duration,
) -> Result<time::Duration> {
    let Some((v, from)) = pick(None, var, file)? else {
        return Ok(default);
    };
    let d = duration::parse(&v).with_context(|| format!("{name} from {from}"))?;
    if d <= time::Duration::ZERO || d > time::Duration::days(366) {
        bail!(
            "{name} from {from} is {}; give a duration longer than 0 and at most 366d, such as '{}'",
            keyward_core::echo::echo(&v, 40),
            if name == "session_lifetime" { "7d" } else { "12h" }
        );
    }
    Ok(d)
}

/// A token callers send (scrapers for `/metrics`, proxies for forward auth): long
/// enough not to be guessed, and only visible ASCII, as a header carries it. Never
/// repeated in an error.
fn secret_token(name: &str, v: String, from: &str) -> Result<SecretString> {
    let ok = (16..=256).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        bail!(
            "{name} from {from} must be 16 to 256 visible ASCII characters with no spaces, such as the output of `openssl rand -hex 32`"
        );
    }
    Ok(SecretString::from(v))
}

#[cfg(test)]
mod sample {
    //! `deploy/keyward.toml`, the sample the Debian package installs, against the
    //! loader: it must load as shipped, its examples must load when taken up, and it
    //! must name every setting the loader reads, so a new setting cannot ship
    //! without its sample.
    #![allow(clippy::unwrap_used)]

    use super::{load, FileConfig, PlanFile, RouteFile};
    use serde::de::{self, Visitor};

    fn shipped() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/keyward.toml"
        ))
        .unwrap()
    }

    /// The sample with every example (`# name = value`, `# [table]`, `# [[table]]`)
    /// taken up.
    fn taken_up(text: &str) -> String {
        let example = |rest: &str| {
            let name = rest.split(" = ").next().unwrap_or_default();
            let table = rest.trim_start_matches('[');
            (rest.starts_with('[') && table.starts_with(|c: char| c.is_ascii_lowercase()))
                || (rest.contains(" = ")
                    && !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        };
        text.lines()
            .map(|line| {
                let rest = line.strip_prefix('#').unwrap_or(line);
                let rest = rest.strip_prefix(' ').unwrap_or(rest);
                if line.starts_with('#') && example(rest) {
                    rest
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A deserializer that only notes the field names a derived struct asks for.
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for FieldNames<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names were asked for"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }

    /// The settings the loader reads into `T`.
    fn fields<T: de::DeserializeOwned>() -> &'static [&'static str] {
        let mut names: &'static [&'static str] = &[];
        let _ = T::deserialize(FieldNames(&mut names));
        assert!(!names.is_empty());
        names
    }

    fn loads(text: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyward.toml");
        std::fs::write(&path, text).unwrap();
        if let Err(e) = load(Some(&path), None, None) {
            panic!("deploy/keyward.toml does not load: {e:#}\n{text}");
        }
    }

    #[test]
    fn the_sample_config_loads_as_shipped_and_with_every_example_taken_up() {
        let shipped = shipped();
        loads(&shipped);
        let all = taken_up(&shipped);
        assert_ne!(all, shipped, "the sample has examples to take up");
        loads(&all);
    }

    #[test]
    fn the_sample_config_names_every_setting_the_loader_reads() {
        let all: toml::Table = toml::from_str(&taken_up(&shipped())).unwrap();
        for field in fields::<FileConfig>() {
            assert!(
                all.contains_key(*field),
                "deploy/keyward.toml has no sample of `{field}`: add one (commented out if it has no default)"
            );
        }
        let routes = all["routes"].as_array().unwrap();
        for field in fields::<RouteFile>() {
            assert!(
                routes
                    .iter()
                    .any(|r| r.as_table().unwrap().contains_key(*field)),
                "deploy/keyward.toml's [[routes]] have no sample of `{field}`"
            );
        }
        let plans = all["plans"].as_table().unwrap();
        for field in fields::<PlanFile>() {
            assert!(
                plans
                    .values()
                    .any(|p| p.as_table().unwrap().contains_key(*field)),
                "deploy/keyward.toml's [plans] have no sample of `{field}`"
            );
        }
    }
}
