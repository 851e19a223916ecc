//! The client's address behind reverse proxies.
//!
//! Only a proxy the operator names may say who its client is. With
//! `trusted_proxies` set and the connection coming from one of them, the
//! `X-Forwarded-For` list is read from the right (the hop nearest to keyward)
//! and the first address that is not itself a trusted proxy is the client. An
//! entry that is not an address makes the client unknown: a key with an
//! allow-list is then refused, never let through on a guess. Without
//! `trusted_proxies`, or from any other peer, the header is ignored, so a
//! client cannot claim an address by sending it.

use axum::http::HeaderMap;
use keyward_core::allowlist::{InvalidAllowlist, IpAllowlist};
use std::net::IpAddr;

pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The networks of the reverse proxies in front of keyward. Empty: none.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(IpAllowlist);

impl TrustedProxies {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidAllowlist> {
        IpAllowlist::parse(entries).map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the connection's peer is one of these proxies, whose forwarded headers
    /// (`X-Forwarded-For`, `X-Forwarded-Proto`) are believed.
    pub fn trusts_peer(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|p| self.trusts(p.to_canonical()))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        // An empty allow-list allows everyone; an empty list of proxies trusts no one.
        !self.0.is_empty() && self.0.allows(Some(ip))
    }

    /// The client's address, given the connection's peer and the request's headers.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut hops: Vec<&str> = Vec::new();
        for value in headers.get_all(X_FORWARDED_FOR) {
            // Not text: nothing in it can be believed.
            let text = value.to_str().ok()?;
            hops.extend(text.split(','));
        }
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            let ip = parse_hop(hop.trim())?.to_canonical();
            if !self.trusts(ip) {
                return Some(ip);
            }
            nearest = ip;
        }
        // Every hop is a trusted proxy (or there were none): the farthest one is the
        // client, such as a health check made by the proxy itself.
        Some(nearest)
    }
}

/// An `X-Forwarded-For` entry: an address, as some proxies write it with a port
/// (`203.0.113.7:5123`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        let peer = Some(ip("10.0.0.5"));
        assert_eq!(none.client(peer, &with(&["203.0.113.7"])), peer);
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_an_address() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let peer = Some(ip("198.51.100.9"));
        assert_eq!(proxies.client(peer, &with(&["203.0.113.7"])), peer);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let peer = Some(ip("10.0.0.5"));
        // The client wrote its own (false) entry first; the proxies appended after it.
        let headers = with(&["192.0.2.66, 203.0.113.7", "10.1.1.1"]);
        assert_eq!(proxies.client(peer, &headers), Some(ip("203.0.113.7")));
    }

    #[test]
    fn ports_and_brackets_and_mapped_addresses_are_read() {
        let proxies = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        let peer = Some(ip("::ffff:127.0.0.1"));
        assert_eq!(
            proxies.client(peer, &with(&["203.0.113.7:5123"])),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            proxies.client(peer, &with(&["[2001:db8::1]:443"])),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            proxies.client(peer, &with(&["::ffff:203.0.113.7"])),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn a_hop_that_is_not_an_address_makes_the_client_unknown() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let peer = Some(ip("10.0.0.5"));
        assert_eq!(proxies.client(peer, &with(&["203.0.113.7, unknown"])), None);
        assert_eq!(proxies.client(peer, &with(&[""])), None);
    }

    #[test]
    fn a_request_from_the_proxy_itself_is_the_proxy() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let peer = Some(ip("10.0.0.5"));
        assert_eq!(proxies.client(peer, &HeaderMap::new()), peer);
        assert_eq!(
            proxies.client(peer, &with(&["10.9.9.9"])),
            Some(ip("10.9.9.9"))
        );
    }
}
