//! Caddy 2.6 with `deploy/caddy/Caddyfile`.

use super::{fill, free_port, scenarios, shipped, Proxy, Stack, PROXY_TOKEN};
use std::process::Command;

fn caddy(stack: &Stack) -> Proxy {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut site = shipped("deploy/caddy/Caddyfile");
    site = fill(
        &site,
        "api.example.com {",
        &format!("http://127.0.0.1:{port} {{"),
    );
    site = fill(
        &site,
        "forward_auth 127.0.0.1:8080 {",
        &format!(
            "forward_auth {} {{",
            stack.keyward.url.trim_start_matches("http://")
        ),
    );
    site = fill(
        &site,
        "reverse_proxy 127.0.0.1:3000 {",
        &format!("reverse_proxy 127.0.0.1:{} {{", stack.forms_api),
    );
    site = fill(
        &site,
        r#"# header_up X-Keyward-Proxy-Token "the forward_auth_token""#,
        &format!(r#"header_up X-Keyward-Proxy-Token "{PROXY_TOKEN}""#),
    );
    // No admin endpoint (tests run side by side) and no certificates.
    let config = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
    let path = dir.path().join("Caddyfile");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new("caddy");
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"));
    Proxy::start("caddy", command, port, dir, None)
}

/// Caddy passes keyward's refusals on as they are; the shipped Caddyfile must also
/// keep the key from the API and the client's own identity headers out, with
/// Caddy 2.6's copy_headers.
#[test]
fn caddy_with_the_shipped_config_enforces_keywards_decisions() {
    let stack = Stack::start();
    let proxy = caddy(&stack);
    scenarios(&proxy, stack);
}
