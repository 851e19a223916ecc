//! `keyward users …` and `keyward members …`: people and their access.

use crate::cli::backend::{not_remote, Backend};
use crate::cli::{operator, Confirm};
use crate::output::{outln, print_fields, print_json, print_table, Failure};
use clap::Subcommand;
use keyward_app::{Keyward, MemberInput};
use keyward_core::echo::echo;
use keyward_core::timestamp::{format, format_for_people};
use keyward_core::{Level, MemberAccess, Role, Timestamp, User};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a person (add them to organizations with `keyward members set`).
    Create {
        /// The person's e-mail address; it identifies them.
        email: String,
        /// Their name as shown to others.
        #[arg(long)]
        name: Option<String>,
    },
    /// List everyone, oldest first.
    List,
    /// Show a person and the organizations they belong to.
    Show {
        /// User id or e-mail address.
        user: String,
    },
    /// Print a one-time link (valid 1 hour) with which the person sets a new password;
    /// it replaces any earlier link, and using it signs them out everywhere.
    ResetLink {
        /// User id or e-mail address.
        user: String,
    },
    /// End every session of a person: they must sign in again everywhere.
    SignOut {
        /// User id or e-mail address.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a person to an organization or change their access.
    Set {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
        /// User id or e-mail address.
        user: String,
        /// owner, admin or member.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// For members: PROJECT:LEVEL, such as Website:write. Repeatable; replaces
        /// earlier project levels.
        #[arg(long = "project", value_name = "PROJECT:LEVEL", value_parser = parse_project_level)]
        projects: Vec<(String, Level)>,
    },
    /// Remove a person from an organization: their user-bound keys stop working there.
    Remove {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
        /// User id or e-mail address.
        user: String,
        #[command(flatten)]
        confirm: Confirm,
    },
    /// List an organization's members.
    List {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
    },
    /// Invite someone to an organization: prints a one-time token, valid 7 days, that
    /// they (or you, with `members accept`) use to join.
    Invite {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
        /// The e-mail address to invite.
        email: String,
        /// owner, admin or member.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// For members: PROJECT:LEVEL, such as Website:write. Repeatable.
        #[arg(long = "project", value_name = "PROJECT:LEVEL", value_parser = parse_project_level)]
        projects: Vec<(String, Level)>,
    },
    /// List an organization's pending invitations.
    Invitations {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
    },
    /// Accept an invitation on the person's behalf, creating their account if needed.
    Accept {
        /// The invitation's token, or `-` to read it from standard input.
        #[arg(value_parser = crate::cli::secret)]
        token: SecretString,
    },
    /// Withdraw a pending invitation: its token stops working.
    Withdraw {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
        /// The invitation's id (inv_…).
        invitation: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| format!("unknown role '{}': use owner, admin or member", echo(s, 40)))
}

fn parse_project_level(s: &str) -> Result<(String, Level), String> {
    let (project, level) = s.rsplit_once(':').ok_or_else(|| {
        format!(
            "'{}' is not PROJECT:LEVEL, such as Website:write",
            echo(s, 40)
        )
    })?;
    Ok((
        project.to_owned(),
        Level::parse(level).map_err(|e| e.to_string())?,
    ))
}

/// A role and project levels, as `members` and `users show` print them.
fn access_json(access: &MemberAccess) -> serde_json::Value {
    let projects: serde_json::Map<String, serde_json::Value> = access
        .projects
        .iter()
        .map(|(p, l)| (p.to_string(), json!(l)))
        .collect();
    json!({ "role": access.role, "projects": projects })
}

fn member_json(user: &User, access: &MemberAccess) -> serde_json::Value {
    let mut out = access_json(access);
    out["user_id"] = json!(user.id);
    out["email"] = json!(user.email);
    out
}

fn user_json(user: &User) -> serde_json::Value {
    json!({ "id": user.id, "email": user.email, "display_name": user.display_name, "created_at": format(user.created_at) })
}

fn user_rows(users: &[User], now: Timestamp) {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.id.to_string(),
                u.email.clone(),
                u.display_name.clone().unwrap_or_default(),
                format_for_people(u.created_at, now),
            ]
        })
        .collect();
    print_table(
        &["ID", "EMAIL", "NAME", "CREATED"],
        &rows,
        &["EMAIL", "NAME"],
    );
}

pub async fn user(
    b: &Backend<'_>,
    command: UserCommand,
    json: bool,
    public_url: &str,
) -> Result<(), Failure> {
    match command {
        UserCommand::Create { email, name } => {
            let user = b.create_user(&email, name.as_deref()).await?;
            if json {
                print_json(&user_json(&user));
            } else {
                user_rows(&[user], b.now());
            }
        }
        UserCommand::List => {
            let users = b.list_users().await?;
            if json {
                print_json(&users.iter().map(user_json).collect::<Vec<_>>());
            } else {
                user_rows(&users, b.now());
            }
        }
        UserCommand::Show { user } => {
            let (user, orgs) = b.user_memberships(&user).await?;
            if json {
                let mut out = user_json(&user);
                out["organizations"] = orgs
                    .iter()
                    .map(|(org_id, name, access)| {
                        let mut m = access_json(access);
                        m["org_id"] = json!(org_id);
                        m["org"] = json!(name);
                        m
                    })
                    .collect();
                print_json(&out);
            } else {
                let memberships: Vec<String> = orgs
                    .iter()
                    .map(|(_, name, access)| format!("{name} ({})", access.role.as_str()))
                    .collect();
                print_fields(&[
                    ("id", user.id.to_string()),
                    ("email", user.email.clone()),
                    ("name", user.display_name.clone().unwrap_or_default()),
                    ("created", format_for_people(user.created_at, b.now())),
                    (
                        "organizations",
                        if memberships.is_empty() {
                            "none".into()
                        } else {
                            memberships.join(", ")
                        },
                    ),
                ]);
            }
        }
        UserCommand::ResetLink { user } => {
            let app = local_only(b, "`users reset-link`")?;
            let link = app.password_reset_link(&operator(), &user).await?;
            // In the fragment, which browsers never send: the token stays out of every
            // server's and proxy's logs.
            let url = format!(
                "{public_url}/reset-password#token={}",
                link.token.expose_secret()
            );
            if json {
                print_json(&json!({
                    "user_id": link.person.id,
                    "email": link.person.email,
                    "link": url,
                    "expires_at": format(link.expires_at),
                }));
            } else {
                outln!("{url}");
                crate::output::write_err(format_args!(
                    "A one-time link for {} to set a new password; it works until {} and replaces any earlier one. Using it signs them out everywhere.\n",
                    link.person.email,
                    format_for_people(link.expires_at, app.now())
                ));
            }
        }
        UserCommand::SignOut { user } => {
            let app = local_only(b, "`users sign-out`")?;
            let ended = app.sign_out_everywhere(&operator(), &user).await?;
            if json {
                print_json(&json!({ "sessions_ended": ended }));
            } else {
                outln!("{ended} session{} ended", if ended == 1 { "" } else { "s" });
            }
        }
    }
    Ok(())
}

/// The data directory, for what the API does not offer: reset links and ending
/// another person's sessions.
fn local_only<'a>(b: &Backend<'a>, what: &str) -> Result<&'a Keyward, Failure> {
    match b {
        Backend::Local(app) => Ok(app),
        Backend::Remote(_) => Err(not_remote(
            what,
            "the API makes no reset links and ends no one else's sessions",
        )),
    }
}

pub async fn member(b: &Backend<'_>, command: MemberCommand, json: bool) -> Result<(), Failure> {
    match command {
        MemberCommand::Set {
            org,
            user,
            role,
            projects,
        } => {
            let org = b.org(&org).await?;
            let (user, access) = b
                .set_member(&org.id, &user, MemberInput { role, projects })
                .await?;
            if json {
                print_json(&member_json(&user, &access));
            } else {
                outln!(
                    "{} is now {} of {}",
                    user.email,
                    access.role.as_str(),
                    org.name
                );
            }
        }
        MemberCommand::Remove { org, user, confirm } => {
            let org = b.org(&org).await?;
            confirm.confirm(&format!(
                "Remove {user} from {}? Their user-bound keys stop working there.",
                org.name
            ))?;
            b.remove_member(&org.id, &user).await?;
            if json {
                print_json(&json!({ "removed": user }));
            } else {
                outln!("{user} is no longer a member of {}", org.name);
            }
        }
        MemberCommand::List { org } => {
            let org = b.org(&org).await?;
            let members = b.list_members(&org.id).await?;
            if json {
                print_json(
                    &members
                        .iter()
                        .map(|(u, a)| member_json(u, a))
                        .collect::<Vec<_>>(),
                );
            } else {
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|(u, a)| {
                        let projects: Vec<String> =
                            a.projects.iter().map(|(p, l)| format!("{p}:{l}")).collect();
                        vec![
                            u.id.to_string(),
                            u.email.clone(),
                            a.role.as_str().to_owned(),
                            projects.join(", "),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "EMAIL", "ROLE", "PROJECTS"],
                    &rows,
                    &["EMAIL", "PROJECTS"],
                );
            }
        }
        MemberCommand::Invite {
            org,
            email,
            role,
            projects,
        } => {
            let org = b.org(&org).await?;
            let created = b
                .invite_member(&org.id, &email, MemberInput { role, projects })
                .await?;
            let i = &created.invitation;
            if json {
                let mut out = invitation_json(i);
                out["token"] = json!(created.token.expose_secret());
                print_json(&out);
            } else {
                outln!(
                    "{} is invited to {} as {}",
                    i.email,
                    org.name,
                    i.access.role.as_str()
                );
                outln!(
                    "  token (shown once, valid until {}):",
                    format(i.expires_at)
                );
                outln!("  {}", created.token.expose_secret());
                outln!("  they join with it, or you on their behalf: keyward members accept TOKEN");
            }
        }
        MemberCommand::Invitations { org } => {
            let org = b.org(&org).await?;
            let pending = b.list_invitations(&org.id).await?;
            if json {
                print_json(&pending.iter().map(invitation_json).collect::<Vec<_>>());
            } else {
                let now = b.now();
                let rows: Vec<Vec<String>> = pending
                    .iter()
                    .map(|i| {
                        vec![
                            i.id.to_string(),
                            i.email.clone(),
                            i.access.role.as_str().to_owned(),
                            i.invited_by.encode(),
                            format_for_people(i.expires_at, now),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "EMAIL", "ROLE", "INVITED BY", "EXPIRES"],
                    &rows,
                    &["EMAIL"],
                );
            }
        }
        MemberCommand::Accept { token } => {
            let token = crate::cli::secret_or_stdin(token, "token")?;
            let (user, org_id, access) = b.accept_invitation(&token).await?;
            let org = b.org(org_id.as_str()).await?;
            if json {
                let mut out = member_json(&user, &access);
                out["org_id"] = json!(org.id);
                print_json(&out);
            } else {
                outln!(
                    "{} is now {} of {}",
                    user.email,
                    access.role.as_str(),
                    org.name
                );
            }
        }
        MemberCommand::Withdraw { org, invitation } => {
            let org = b.org(&org).await?;
            b.withdraw_invitation(&org.id, &invitation).await?;
            if json {
                print_json(&json!({ "withdrawn": invitation }));
            } else {
                outln!("invitation {invitation} is withdrawn");
            }
        }
    }
    Ok(())
}

fn invitation_json(i: &keyward_core::Invitation) -> serde_json::Value {
    let mut out = access_json(&i.access);
    out["id"] = json!(i.id);
    out["org_id"] = json!(i.org_id);
    out["email"] = json!(i.email);
    out["invited_by"] = json!(i.invited_by.encode());
    out["created_at"] = json!(format(i.created_at));
    out["expires_at"] = json!(format(i.expires_at));
    out
}
