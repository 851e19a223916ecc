//! IP allow-lists: the networks a key may be used from, as IPv4 and IPv6 CIDRs. An
//! empty list allows every address. Entries are validated and normalised (host bits
//! cleared, a bare address made a /32 or /128, IPv4-mapped IPv6 networks written as the
//! IPv4 networks they are), so that `10.0.0.7/8` and `::ffff:10.0.0.0/104` are stored,
//! shown and compared as `10.0.0.0/8`.

use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

/// At most this many entries per key.
pub const MOST_ENTRIES: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAllowlist {
    #[error(
        "'{0}' is not an IP address or network: use CIDRs such as 203.0.113.0/24 or 2001:db8::/32"
    )]
    Entry(String),
    #[error("at most {MOST_ENTRIES} networks in an allow-list")]
    TooMany,
}

/// A network as keyward keeps it: host bits cleared, IPv4-mapped IPv6 as IPv4.
fn normal(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.network().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            if let Ok(n) = Ipv4Net::new(v4, v6.prefix_len() - 96) {
                return IpNet::V4(n.trunc());
            }
        }
    }
    net.trunc()
}

impl IpAllowlist {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidAllowlist> {
        if entries.len() > MOST_ENTRIES {
            return Err(InvalidAllowlist::TooMany);
        }
        let mut nets: Vec<IpNet> = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.as_ref().trim();
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| InvalidAllowlist::Entry(crate::echo::echo(text, 60)))?;
            let net = normal(net);
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(IpAllowlist(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request from `from` may use the key: always with an empty list;
    /// never from an unknown address otherwise.
    pub fn allows(&self, from: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = from else {
            return false;
        };
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether every address this list allows, `outer` allows too (an empty list allows
    /// every address, so it is within only an empty one).
    pub fn within(&self, outer: &IpAllowlist) -> bool {
        if outer.0.is_empty() {
            return true;
        }
        !self.0.is_empty()
            && self
                .0
                .iter()
                .all(|net| outer.0.iter().any(|o| o.contains(net)))
    }

    /// The entries, normalised, as they are stored and shown.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn networks_are_normalised_and_matched_at_their_edges() {
        let list = IpAllowlist::parse(&[
            "10.0.0.7/8",
            "203.0.113.5",
            "2001:db8::1/32",
            "::ffff:192.0.2.0/120",
        ])
        .unwrap();
        assert_eq!(
            list.to_strings(),
            [
                "10.0.0.0/8",
                "203.0.113.5/32",
                "2001:db8::/32",
                "192.0.2.0/24"
            ]
        );
        for allowed in [
            "10.255.255.255",
            "10.0.0.0",
            "203.0.113.5",
            "2001:db8:ffff::1",
            "192.0.2.77",
            "::ffff:10.1.2.3",
        ] {
            assert!(list.allows(ip(allowed)), "{allowed}");
        }
        for refused in [
            "11.0.0.0",
            "203.0.113.6",
            "2001:db9::",
            "192.0.3.0",
            "::ffff:11.0.0.1",
        ] {
            assert!(!list.allows(ip(refused)), "{refused}");
        }
        assert!(!list.allows(None), "an unknown address is refused");
        assert!(
            IpAllowlist::default().allows(None),
            "an empty list allows all"
        );
    }

    #[test]
    fn a_list_is_within_another_when_every_network_is() {
        let outer = IpAllowlist::parse(&["10.0.0.0/8"]).unwrap();
        assert!(IpAllowlist::parse(&["10.1.0.0/16", "10.2.3.4"])
            .unwrap()
            .within(&outer));
        assert!(!IpAllowlist::parse(&["10.0.0.0/7"]).unwrap().within(&outer));
        assert!(
            !IpAllowlist::default().within(&outer),
            "anywhere is not within 10/8"
        );
        assert!(outer.within(&IpAllowlist::default()));
    }

    #[test]
    fn the_whole_internet_and_single_hosts() {
        let all = IpAllowlist::parse(&["0.0.0.0/0", "::/0"]).unwrap();
        assert!(all.allows(ip("198.51.100.1")) && all.allows(ip("2001:db8::7")));
        let v4 = IpAllowlist::parse(&["0.0.0.0/0"]).unwrap();
        assert!(!v4.allows(ip("2001:db8::7")), "IPv4 /0 is not IPv6");
        let one = IpAllowlist::parse(&["2001:db8::7/128"]).unwrap();
        assert!(one.allows(ip("2001:db8::7")) && !one.allows(ip("2001:db8::8")));
    }

    #[test]
    fn bad_entries_and_long_lists_are_refused() {
        for bad in ["10.0.0.0/33", "nope", "2001:db8::/129", "", "1.2.3"] {
            assert!(
                matches!(IpAllowlist::parse(&[bad]), Err(InvalidAllowlist::Entry(_))),
                "{bad}"
            );
        }
        let many: Vec<String> = (0..=MOST_ENTRIES)
            .map(|i| format!("10.0.{}.0/24", i % 256))
            .collect();
        assert_eq!(IpAllowlist::parse(&many), Err(InvalidAllowlist::TooMany));
        assert_eq!(
            IpAllowlist::parse(&["10.0.0.1", "10.0.0.1/32"])
                .unwrap()
                .to_strings()
                .len(),
            1
        );
    }
}
