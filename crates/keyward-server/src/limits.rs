//! How long a client may take and how many may be connected at once: the settings that
//! keep slow or idle clients from holding the server's memory and file descriptors.
//! [`crate::launch`] enforces them; the binary reads them from its configuration.

use std::time::Duration;

/// The limits of one server. [`ServerLimits::default`] is what `keyward serve` uses
/// with no configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a client has to send a request's header: from the connection's start,
    /// or from the first byte of a later request on a kept-alive connection. Then the
    /// connection is closed without an answer.
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive, from the moment the server first
    /// waits for it. Then the answer is 408.
    pub request_body_timeout: Duration,
    /// How long a kept-alive connection may wait, after an answer, for the first byte
    /// of the next request before it is closed.
    pub idle_timeout: Duration,
    /// Connections served at once. Beyond it, new connections wait in the listen queue
    /// until one ends.
    pub max_connections: usize,
    /// After shutdown is asked for: how long requests under way may take to finish
    /// before the connections still open are closed.
    pub shutdown_deadline: Duration,
}

impl ServerLimits {
    /// Long enough for any client on a slow link to send a few KiB of header.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// Bodies are at most 64 KiB ([`crate::BODY_LIMIT`]): 30 seconds is a very slow link.
    pub const DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    /// Longer than most clients keep an unused pooled connection open, so that a
    /// backend calling the verify API reuses its connections rather than reconnecting.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Requests of this API take milliseconds; anything still open after this long is
    /// a stalled client. Short enough to finish before a supervisor's kill (Docker
    /// waits 10 s by default, Kubernetes 30 s) so the database is closed cleanly.
    pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
    /// The most connections served at once when the open-file limit allows it.
    pub const MAX_CONNECTIONS_CEILING: usize = 10_000;
    /// File descriptors kept back from connections: the database pool (8 connections,
    /// each with its file, write-ahead log and shared memory), the listener, the
    /// runtime's own descriptors, standard streams, files read at start, and slack.
    pub const RESERVED_FILES: u64 = 128;

    /// The default connection limit for an open-file limit of `files` (`None`:
    /// unlimited): what is left after [`Self::RESERVED_FILES`] (at least half of
    /// `files`, for tiny limits), and at most [`Self::MAX_CONNECTIONS_CEILING`]. A
    /// connection costs one descriptor, so with this limit the server never runs out of
    /// descriptors for its database or for accepting, whatever clients do.
    pub fn max_connections_for(files: Option<u64>) -> usize {
        let Some(files) = files else {
            return Self::MAX_CONNECTIONS_CEILING;
        };
        let usable = files.saturating_sub(Self::RESERVED_FILES).max(files / 2);
        usize::try_from(usable)
            .unwrap_or(usize::MAX)
            .clamp(1, Self::MAX_CONNECTIONS_CEILING)
    }

    /// [`Self::max_connections_for`] this process's open-file limit.
    pub fn default_max_connections() -> usize {
        Self::max_connections_for(open_file_limit())
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            request_body_timeout: Self::DEFAULT_REQUEST_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::default_max_connections(),
            shutdown_deadline: Self::DEFAULT_SHUTDOWN_DEADLINE,
        }
    }
}

/// The soft limit on open files (`ulimit -n`); `None` when unlimited or unknown.
#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::ServerLimits;

    #[test]
    fn the_connection_limit_leaves_descriptors_for_the_database() {
        // The common default soft limit: connections can never take the descriptors
        // the database and the listener need.
        assert_eq!(ServerLimits::max_connections_for(Some(1024)), 896);
        assert_eq!(ServerLimits::max_connections_for(Some(100)), 50);
        assert_eq!(ServerLimits::max_connections_for(Some(1)), 1);
        assert_eq!(ServerLimits::max_connections_for(Some(0)), 1);
        assert_eq!(
            ServerLimits::max_connections_for(Some(1 << 20)),
            ServerLimits::MAX_CONNECTIONS_CEILING
        );
        assert_eq!(
            ServerLimits::max_connections_for(None),
            ServerLimits::MAX_CONNECTIONS_CEILING
        );
    }
}
