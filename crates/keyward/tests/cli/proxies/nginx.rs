//! nginx 1.22 with `deploy/nginx/keyward.conf`.

use super::{fill, free_port, scenarios, shipped, Proxy, Stack, PROXY_TOKEN};
use std::process::Command;

fn nginx(stack: &Stack) -> Proxy {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().display().to_string();
    let mut site = shipped("deploy/nginx/keyward.conf");
    site = fill(&site, "listen 80;", &format!("listen 127.0.0.1:{port};"));
    site = fill(
        &site,
        "server 127.0.0.1:8080;",
        &format!(
            "server {};",
            stack.keyward.url.trim_start_matches("http://")
        ),
    );
    site = fill(
        &site,
        "server 127.0.0.1:3000;",
        &format!("server 127.0.0.1:{};", stack.forms_api),
    );
    site = fill(
        &site,
        r#"# proxy_set_header X-Keyward-Proxy-Token "the forward_auth_token";"#,
        &format!(r#"proxy_set_header X-Keyward-Proxy-Token "{PROXY_TOKEN}";"#),
    );
    std::fs::write(dir.path().join("keyward.conf"), site).unwrap();
    // The main file a distribution ships, reduced to what a test needs: everything
    // in the test's folder, in the foreground.
    let main = format!(
        "daemon off;\nuser root root;\npid {at}/nginx.pid;\nerror_log {at}/error.log notice;\n\
         events {{ worker_connections 128; }}\n\
         http {{\n  access_log {at}/access.log;\n  client_body_temp_path {at}/tmp;\n  \
         proxy_temp_path {at}/tmp;\n  fastcgi_temp_path {at}/tmp;\n  uwsgi_temp_path {at}/tmp;\n  \
         scgi_temp_path {at}/tmp;\n  include {at}/keyward.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    std::fs::create_dir(dir.path().join("tmp")).unwrap();
    // Debian's nginx is in /usr/sbin, which a user's PATH may not hold.
    let program = match std::path::Path::new("/usr/sbin/nginx").exists() {
        true => "/usr/sbin/nginx",
        false => "nginx",
    };
    let mut command = Command::new(program);
    command.args([
        "-p",
        &at,
        "-c",
        &format!("{at}/nginx.conf"),
        "-e",
        &format!("{at}/error.log"),
    ]);
    let log = dir.path().join("error.log");
    Proxy::start("nginx", command, port, dir, Some(log))
}

/// nginx's `auth_request` alone would turn 400 and 429 into 500 and drop every
/// refusal's body: the shipped config must give the client keyward's answer.
#[test]
fn nginx_with_the_shipped_config_enforces_keywards_decisions() {
    let stack = Stack::start();
    let proxy = nginx(&stack);
    scenarios(&proxy, stack);
}
