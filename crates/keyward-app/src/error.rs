//! What can go wrong in a use case, in words for the person who asked. Each variant
//! maps to one kind of answer (404, 422, 409, 500) in the server and to a message and
//! exit code in the CLI.

use keyward_core::lifecycle::LifecycleError;
use keyward_store::{Conflict, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Something named in the request does not exist (or is not visible to the caller).
    #[error("{what} '{reference}' not found{hint}")]
    NotFound {
        what: &'static str,
        reference: String,
        /// What to do instead, starting with "; " (or empty).
        hint: &'static str,
    },
    /// Input that breaks a rule; `field` names the input to fix.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A change the key's current state does not allow.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The caller is known but may not do this. `message` says what is lacking.
    #[error("{message}")]
    Forbidden {
        required_permission: String,
        message: String,
    },
    /// The organization's plan allows no more keys (or no API access at all).
    #[error("the organization's plan '{plan}' allows {limit} keys and it holds {held}: delete or let expire a key, or move the organization to a larger plan")]
    PlanLimit {
        plan: String,
        limit: u32,
        held: u64,
        api_access: bool,
    },
    /// A name or id already taken.
    #[error("{0}")]
    Conflict(String),
    /// The stored record changed between reading and writing; nothing was written.
    #[error(
        "this was changed by someone else at the same time; nothing was written: read it again and retry"
    )]
    Concurrent,
    /// A sign-in with a wrong e-mail address or password: which of the two is never
    /// said, so that nobody learns which accounts exist.
    #[error("wrong e-mail address or password")]
    WrongCredentials,
    /// Too many failed sign-ins for the e-mail address, or from the client's address:
    /// refused, even with the right password, for `retry_after` seconds.
    #[error("too many failed sign-ins for this e-mail address or from this network; try again in {}", wait(*retry_after))]
    Throttled { retry_after: u64 },
    /// The rate limits live in Redis, Redis does not answer, and the operator chose
    /// `redis_unreachable = "closed"`: the request is refused rather than admitted
    /// unmetered. The failure itself is logged where it happened.
    #[error("the rate limiter does not answer; retry in a moment")]
    LimiterUnavailable,
    /// The database failed. Details go to the log, never to the caller.
    #[error("internal storage error")]
    Storage(#[source] StoreError),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        AppError::Invalid {
            field,
            message: message.to_string(),
        }
    }

    pub fn not_found(what: &'static str, reference: impl Into<String>) -> Self {
        let reference: String = reference.into();
        AppError::NotFound {
            what,
            reference: keyward_core::echo::echo(&reference, 100),
            hint: "",
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Stale => AppError::Concurrent,
            StoreError::LastOwner => AppError::Conflict(
                "this is the organization's last owner; make someone else owner first".into(),
            ),
            StoreError::Conflict(Conflict::OrgName) => AppError::Conflict(
                "an organization with this name already exists; choose another name".into(),
            ),
            StoreError::Conflict(Conflict::ProjectName) => AppError::Conflict(
                "a project with this name already exists in the organization; choose another name"
                    .into(),
            ),
            StoreError::Conflict(Conflict::Membership) => {
                AppError::Conflict("this person is already a member of the organization".into())
            }
            StoreError::Conflict(Conflict::UserEmail) => {
                AppError::Conflict("a user with this e-mail address already exists".into())
            }
            StoreError::Conflict(Conflict::EnvironmentName) => AppError::Conflict(
                "an environment with this name already exists in the project".into(),
            ),
            other => AppError::Storage(other),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// A wait in words: seconds under a minute, whole minutes (rounded up) above.
fn wait(seconds: u64) -> String {
    match seconds {
        0..=1 => "1 second".into(),
        2..=59 => format!("{seconds} seconds"),
        60..=119 => "1 minute".into(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}
