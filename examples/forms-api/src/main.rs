//! `forms-api [--listen ADDR]`: serves the example forms API (default
//! `127.0.0.1:3000`) until stopped. Put it behind nginx or Caddy and keyward's forward
//! auth as `deploy/` shows; see this folder's README.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen = String::from("127.0.0.1:3000");
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            _ => {
                eprintln!("usage: forms-api [--listen 127.0.0.1:3000]");
                return ExitCode::from(2);
            }
        }
    }
    let Ok(addr) = listen.parse::<std::net::SocketAddr>() else {
        eprintln!("forms-api: '{listen}' is not an address:port such as 127.0.0.1:3000");
        return ExitCode::from(2);
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("forms-api: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("forms-api listening on http://{addr}");
    forms_api::serve(listener).await;
    ExitCode::SUCCESS
}
