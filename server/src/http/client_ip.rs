//! The client address every throttle, audit event and page uses.
//!
//! Behind a reverse proxy the TCP peer is the proxy, so every throttle would key on
//! one address. Only when the peer is one of the configured `trusted_proxies` is
//! the forwarding header believed: RFC 7239 `Forwarded` (its `for=` values) if
//! present, else `X-Forwarded-For`. The list is walked from the right (the hop
//! nearest us), skipping hops that are trusted proxies themselves; the first
//! untrusted hop is the client. Anything to its left was written by the client and
//! may be forged. An unparsable hop, or a chain longer than [`MAX_HOPS`], leaves
//! the peer as the client: a header we can't read earns no trust.

use std::net::IpAddr;
use std::str::FromStr;

use hyper::header::HeaderMap;
use ipnet::IpNet;

/// Most hops examined in a forwarding header; real chains have one to three.
pub const MAX_HOPS: usize = 16;

/// Networks whose forwarding headers are believed. Empty (the default): headers
/// are ignored and the TCP peer is the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `trusted_proxies` entry that is neither a CIDR nor an address.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP network (want CIDR like 10.0.0.0/8 or an address)")]
pub struct BadNetwork(String);

impl FromStr for TrustedProxies {
    type Err = BadNetwork;

    /// Comma-separated CIDRs or bare addresses (a bare address is its /32 or /128).
    fn from_str(s: &str) -> Result<Self, BadNetwork> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                IpNet::from_str(p)
                    .or_else(|_| IpAddr::from_str(p).map(IpNet::from))
                    .map_err(|_| BadNetwork(p.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl TrustedProxies {
    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (IPv4-mapped IPv6 counts as IPv4) is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request that arrived from `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let hops = forwarded_for(headers).or_else(|| x_forwarded_for(headers));
        let Some(hops) = hops else {
            return peer;
        };
        let mut leftmost = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            let Some(ip) = hop else {
                return peer;
            };
            if !self.contains(*ip) {
                return *ip;
            }
            leftmost = *ip;
        }
        if hops.len() > MAX_HOPS {
            return peer;
        }
        // Every hop is a trusted proxy: the first one is as close to the client as
        // the chain goes.
        leftmost
    }
}

/// The `for=` values of all `Forwarded` headers, left to right (`None` for one that
/// is not an address, such as `unknown` or `_hidden`); `None` when there is no
/// such header.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    let mut any = false;
    for value in headers.get_all(hyper::header::FORWARDED) {
        any = true;
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
            });
            // An element without `for=` says nothing about the client.
            if let Some(node) = node {
                hops.push(parse_node(node.trim_matches('"')));
            }
        }
        if hops.len() > MAX_HOPS * 4 {
            break;
        }
    }
    any.then_some(hops)
}

/// The hops of all `X-Forwarded-For` headers, left to right.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    let mut any = false;
    for value in headers.get_all("x-forwarded-for") {
        any = true;
        match value.to_str() {
            Ok(v) => hops.extend(v.split(',').map(|h| parse_node(h.trim()))),
            Err(_) => hops.push(None),
        }
        if hops.len() > MAX_HOPS * 4 {
            break;
        }
    }
    any.then_some(hops)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (addr, _) = rest.split_once(']')?;
        return addr.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (addr, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_lists_of_networks() {
        let t: TrustedProxies = "10.0.0.0/8, 127.0.0.1,::1".parse().unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("127.0.0.1")));
        assert!(t.contains(ip("::ffff:127.0.0.1")));
        assert!(!t.contains(ip("127.0.0.2")));
        assert_eq!(t.to_string(), "10.0.0.0/8,127.0.0.1/32,::1/128");
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
    }

    #[test]
    fn headers_count_only_from_trusted_peers() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(t.client_ip(ip("192.0.2.1"), &h), ip("192.0.2.1"));
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = ip("10.0.0.1");
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.8:1234"),
        ]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.8"));
        let h = headers(&[("x-forwarded-for", "garbage, 198.51.100.7")]);
        assert_eq!(t.client_ip(peer, &h), ip("198.51.100.7"));
        let h = headers(&[("x-forwarded-for", "198.51.100.7, garbage")]);
        assert_eq!(t.client_ip(peer, &h), peer);
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.5")]);
        assert_eq!(t.client_ip(peer, &h), ip("10.0.0.9"));
    }

    #[test]
    fn forwarded_header_is_preferred() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = ip("10.0.0.1");
        let h = headers(&[
            (
                "forwarded",
                "for=1.1.1.1;proto=https, For=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1",
            ),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(t.client_ip(peer, &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(t.client_ip(peer, &h), peer);
    }

    #[test]
    fn long_chains_of_trusted_hops_fall_back_to_the_peer() {
        let t: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let chain = vec!["10.0.0.2"; MAX_HOPS + 1].join(",");
        let h = headers(&[("x-forwarded-for", &chain)]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }
}
