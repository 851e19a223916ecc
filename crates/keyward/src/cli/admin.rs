//! `keyward admin tokens …`: operator admin tokens for the management and verify APIs.

use crate::cli::{operator, Confirm};
use crate::output::{errln, outln, print_json, print_table, Failure};
use clap::Subcommand;
use keyward_app::Keyward;
use keyward_core::timestamp::{format, format_for_people, relative};
use keyward_core::token::AdminToken;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Operator admin tokens: full access to every organization through the API.
    #[command(subcommand, name = "tokens", visible_alias = "token")]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (alone on stdout, or as JSON with --json).
    Create {
        /// What the token is for, such as "billing backend".
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id, as `admin tokens list` shows it.
        token_id: String,
        #[command(flatten)]
        confirm: Confirm,
    },
}

fn token_json(t: &AdminToken) -> serde_json::Value {
    json!({
        "id": t.id,
        "name": t.name,
        "created_by": t.created_by,
        "created_at": format(t.created_at),
        "revoked_at": t.revoked_at.map(format),
    })
}

pub async fn run(app: &Keyward, command: AdminCommand, json: bool) -> Result<(), Failure> {
    let AdminCommand::Token(command) = command;
    match command {
        TokenCommand::Create { name } => {
            let created = app.create_admin_token(&operator(), &name).await?;
            if json {
                let mut v = token_json(&created.token);
                v["token"] = created.secret.expose_secret().into();
                print_json(&v);
            } else {
                outln!("{}", created.secret.expose_secret());
                errln!(
                    "Admin token {} created. Copy it now: it is shown only once.",
                    created.token.id
                );
            }
        }
        TokenCommand::List => {
            let tokens = app.list_admin_tokens().await?;
            let now = app.now();
            if json {
                print_json(&tokens.iter().map(token_json).collect::<Vec<_>>());
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.to_string(),
                            format_for_people(t.created_at, now),
                            t.revoked_at.map_or("active".into(), |at| {
                                format!("revoked {}", relative(at, now))
                            }),
                        ]
                    })
                    .collect();
                print_table(&["ID", "NAME", "CREATED", "STATUS"], &rows, &["NAME"]);
            }
        }
        TokenCommand::Revoke { token_id, confirm } => {
            confirm.confirm(&format!(
                "Revoke admin token {token_id}? It stops working at once."
            ))?;
            app.revoke_admin_token(&operator(), &token_id).await?;
            if json {
                print_json(&json!({ "id": token_id, "revoked": true }));
            } else {
                outln!("Admin token {token_id} is revoked.");
            }
        }
    }
    Ok(())
}
