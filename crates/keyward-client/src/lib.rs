//! A Rust client for keyward's HTTP APIs, and a tower layer that checks API keys for
//! axum (or any tower) services.
//!
//! * [`Client`]: the verify API (`POST /v1/keys/verify`) and the management API
//!   (organizations, projects, keys, members, invitations, users, audit events,
//!   usage), typed with the wire types of [`types`]. Errors are an [`Error`]:
//!   keyward's problem answers typed as [`Problem`], transport failures, unexpected
//!   answers, configuration mistakes. The token never appears in `Debug` output or an
//!   error.
//! * [`KeywardLayer`]: asks keyward about each request, with a short-lived local cache,
//!   fails closed, answers refusals as keyward does, and puts the key's identity
//!   ([`KeyIdentity`]) into the request's extensions.
//!
//! **Forward compatible.** A keyward newer than this crate may answer values it does
//! not know (an outcome, a key kind added later): they read as the vocabulary's
//! `Other(text)` variant (such as [`types::Outcome::Other`]) with keyward's exact text,
//! rather than failing the answer, and the layer refuses a request whose outcome it
//! does not know (fail closed, with keyward's 4xx status or else 401), logging the
//! outcome. Upgrading keyward ahead of its clients thus refuses at most the requests
//! that get a new outcome, rather than every request.
//!
//! The crate depends on nothing server-side: reqwest (without default features; https
//! with the `rustls` feature), serde, `http` and tower.

#![forbid(unsafe_code)]

mod api;
mod client;
mod error;
pub mod layer;
pub mod types;

#[cfg(test)]
mod schema_check;

pub use client::{Client, ClientBuilder};
pub use error::{Error, Problem, TransportError};
pub use layer::{Ask, KeyIdentity, KeywardLayer, KeywardService, Unverified};
pub use secrecy::SecretString;
