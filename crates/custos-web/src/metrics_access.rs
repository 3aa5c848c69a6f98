//! Who may read `/metrics`. Its counters name every route with its status and latency —
//! how busy the system is, which operations fail, when people work — so it is not
//! public: a peer address in the allowed networks (default: loopback only, for a
//! Prometheus on the same host) or a request bearing the configured metrics token.
//! Anyone else gets the same 404 as for a path that does not exist.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use sha2::{Digest, Sha256};

/// Settings of `/metrics` access (`[metrics]` in the configuration file).
#[derive(Clone)]
pub struct MetricsAccess {
    /// Peers allowed without a token. Default: `127.0.0.0/8` and `::1`.
    pub allow: Vec<IpNet>,
    /// A bearer token that admits any peer (`Authorization: Bearer …`).
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("allow", &self.allow)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Default for MetricsAccess {
    fn default() -> Self {
        MetricsAccess {
            allow: vec![
                Ipv4Net::new_assert(Ipv4Addr::LOCALHOST, 8).trunc().into(),
                Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128).into(),
            ],
            token: None,
        }
    }
}

impl MetricsAccess {
    /// Parse an allow-list entry: an address (`10.0.0.5`, `::1`) or a network
    /// (`10.0.0.0/8`).
    pub fn parse_allowed(entry: &str) -> Result<IpNet, String> {
        let entry = entry.trim();
        entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("not an IP address or network: {entry:?}"))
    }

    /// May a request from `peer` (None: unknown) with this `Authorization` header read
    /// the metrics?
    pub fn permits(&self, peer: Option<IpAddr>, authorization: Option<&[u8]>) -> bool {
        if let (Some(token), Some(given)) = (&self.token, authorization) {
            let given = given
                .strip_prefix(b"Bearer ")
                .or_else(|| given.strip_prefix(b"bearer "))
                .unwrap_or(b"");
            // Digests are compared, so the time taken says nothing about the token.
            if !token.is_empty() && Sha256::digest(given) == Sha256::digest(token.as_bytes()) {
                return true;
            }
        }
        // An IPv4 peer on a dual-stack listener arrives as ::ffff:a.b.c.d.
        peer.map(|p| p.to_canonical())
            .is_some_and(|p| self.allow.iter().any(|net| net.contains(&p)))
    }
}

/// Settings of the HTTP face that are not business rules.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    pub metrics: MetricsAccess,
    /// Console cookies carry `Secure`: always when custos serves TLS itself; set this
    /// when a TLS-terminating proxy stands in front.
    pub secure_cookies: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn loopback_by_default_token_from_anywhere() {
        let m = MetricsAccess::default();
        assert!(m.permits(Some("127.0.0.1".parse().unwrap()), None));
        assert!(m.permits(Some("127.8.9.1".parse().unwrap()), None));
        assert!(m.permits(Some("::1".parse().unwrap()), None));
        assert!(m.permits(Some("::ffff:127.0.0.1".parse().unwrap()), None));
        assert!(!m.permits(Some("10.0.0.1".parse().unwrap()), None));
        assert!(!m.permits(None, None));
        let m = MetricsAccess {
            allow: vec![MetricsAccess::parse_allowed("10.1.0.0/16").unwrap()],
            token: Some("s3cret-token".into()),
        };
        assert!(m.permits(Some("10.1.2.3".parse().unwrap()), None));
        assert!(!m.permits(Some("127.0.0.1".parse().unwrap()), None));
        let peer = Some("192.0.2.1".parse().unwrap());
        assert!(m.permits(peer, Some(b"Bearer s3cret-token")));
        assert!(!m.permits(peer, Some(b"Bearer s3cret-tokeN")));
        assert!(!m.permits(peer, Some(b"s3cret-token")));
        assert!(MetricsAccess::parse_allowed("10.0.0.300").is_err());
        assert_eq!(
            MetricsAccess::parse_allowed(" ::1 ").unwrap().to_string(),
            "::1/128"
        );
    }
}
