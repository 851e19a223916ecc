//! Black-box tests of the HTTP API: the real server on a real socket, a fresh database
//! per test. One test binary, one module per area.
#![allow(clippy::unwrap_used)]

mod auth;
mod check_path;
mod contract;
mod dashboard;
mod docs;
mod errors;
mod forward_auth;
mod helpers;
mod keys;
mod limits;
mod metrics;
mod model;
mod orgs;
mod permissions;
mod plans;
mod race;
mod ratelimits;
mod request_log;
mod sessions;
mod setup;
mod tenancy;
mod usage;
mod verify;
