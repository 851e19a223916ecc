//! `GET /metrics`: the process's metrics in the Prometheus text format (see
//! `keyward_app::metrics`), for a Prometheus server to scrape.
//!
//! It takes no API key or admin token, which a scraper should not hold. With the
//! operator's metrics token configured, the request must carry that token; without
//! one, only clients on this machine (loopback) are answered, so a server listening on
//! a public address does not publish its traffic to anyone who asks. It is served on
//! the API listener, or on a listener of its own ([`crate::launch_metrics`]).

use crate::auth::ClientAddress;
use crate::error::{ApiError, ApiResult};
use crate::problems;
use crate::state::{AppState, MetricsAccess};
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::ExposeSecret;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// The Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(
    State(s): State<AppState>,
    ClientAddress(peer): ClientAddress,
    headers: HeaderMap,
) -> ApiResult<Response> {
    allowed(&s.metrics, &headers, peer)?;
    Ok(([(CONTENT_TYPE, TEXT_FORMAT)], s.app.render_metrics()).into_response())
}

/// The token of `Authorization: Bearer <token>`, if that is how the request
/// authenticates.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Whether a request from `peer` carrying `headers` may read the metrics.
pub fn allowed(
    access: &MetricsAccess,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<(), ApiError> {
    let Some(token) = &access.token else {
        if peer.is_some_and(|ip| ip.to_canonical().is_loopback()) {
            return Ok(());
        }
        return Err(ApiError::new(
            &problems::FORBIDDEN,
            "metrics are answered only to clients on the server's own machine, unless the operator sets a metrics token (metrics_token, KEYWARD_METRICS_TOKEN) for scrapers to send",
        )
        .with("required_permission", "metrics_token"));
    };
    let challenge = r#"Bearer realm="keyward-metrics""#;
    let mut refusal = match bearer(headers) {
        Some(sent)
            if bool::from(
                sent.as_bytes()
                    .ct_eq(token.expose_secret().as_bytes()),
            ) =>
        {
            return Ok(())
        }
        Some(_) => {
            let mut e = ApiError::new(
                &problems::TOKEN_REQUIRED,
                "this is not the metrics token; send the token the operator configured (metrics_token) as 'Authorization: Bearer <token>'",
            );
            e.challenge = Some(format!(r#"{challenge}, error="invalid_token""#));
            e
        }
        None => ApiError::new(
            &problems::TOKEN_REQUIRED,
            "metrics need the metrics token the operator configured (metrics_token): send it as 'Authorization: Bearer <token>'",
        ),
    };
    refusal
        .challenge
        .get_or_insert_with(|| challenge.to_owned());
    Err(refusal)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        h
    }

    fn status(r: Result<(), ApiError>) -> u16 {
        r.map_or_else(|e| e.problem.status.as_u16(), |()| 200)
    }

    /// Without a token, only this machine may read the metrics; a server on a public
    /// address does not publish them to others.
    #[test]
    fn without_a_token_only_loopback_clients_are_answered() {
        let open = MetricsAccess::default();
        let none = HeaderMap::new();
        for (peer, expected) in [
            ("127.0.0.1", 200),
            ("::1", 200),
            ("::ffff:127.0.0.1", 200),
            ("10.0.0.7", 403),
            ("203.0.113.7", 403),
            ("2001:db8::1", 403),
        ] {
            let peer: IpAddr = peer.parse().unwrap();
            assert_eq!(
                status(allowed(&open, &none, Some(peer))),
                expected,
                "{peer}"
            );
        }
        assert_eq!(status(allowed(&open, &none, None)), 403, "unknown peer");
    }

    /// With a token, everyone must send it, on this machine or not.
    #[test]
    fn with_a_token_everyone_must_send_it() {
        let access = MetricsAccess {
            on_api_listener: true,
            token: Some("scrape-token-0123456789".into()),
        };
        let local: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        let remote: Option<IpAddr> = Some("203.0.113.7".parse().unwrap());
        let right = with_bearer("scrape-token-0123456789");
        for peer in [local, remote] {
            assert_eq!(status(allowed(&access, &right, peer)), 200);
            assert_eq!(status(allowed(&access, &HeaderMap::new(), peer)), 401);
            assert_eq!(status(allowed(&access, &with_bearer("wrong"), peer)), 401);
        }
        let e = allowed(&access, &with_bearer("wrong"), local).unwrap_err();
        assert_eq!(e.problem.slug, "token-required");
        assert!(e.challenge.unwrap().contains("invalid_token"));
    }
}
