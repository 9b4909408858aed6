//! Where a webhook may be sent. A URL is `http` or `https`, names a host, carries no user
//! name or password and no fragment, and is at most [`MAX_URL_LEN`] bytes. Unless the
//! operator allows private targets, every address the host resolves to must be public: no
//! loopback, private, link-local, shared (carrier NAT), multicast, documentation or reserved
//! range, in IPv4 or IPv6 (IPv4-mapped addresses are judged as IPv4). The check runs when an
//! endpoint is added and again at each delivery, which connects only to an address it
//! checked, so a name that changes its answer (DNS rebinding) cannot reach inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::Uri;

/// The longest endpoint URL taken.
pub const MAX_URL_LEN: usize = 2048;

/// A checked endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Over TLS.
    pub tls: bool,
    /// The host as written (a name, or an address literal without brackets).
    pub host: String,
    /// The port (the scheme's default when none is written).
    pub port: u16,
    /// The path and query sent in the request line.
    pub path: String,
}

/// Why a URL or its addresses are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL this service sends to.
    #[error("{0}")]
    Invalid(String),
    /// The host resolves only to addresses the operator keeps out of reach.
    #[error(
        "{0} resolves only to loopback, private or reserved addresses, which webhooks may not reach"
    )]
    Private(String),
    /// The name did not resolve.
    #[error("{host} does not resolve: {reason}")]
    Unresolved {
        /// The host.
        host: String,
        /// The resolver's error.
        reason: String,
    },
}

impl Target {
    /// Parses and checks `url`'s form (not its addresses).
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let invalid = |m: &str| TargetError::Invalid(m.to_owned());
        if url.len() > MAX_URL_LEN {
            return Err(invalid("the URL is longer than 2048 bytes"));
        }
        if url.contains('#') {
            return Err(invalid("the URL may not have a fragment"));
        }
        let uri: Uri =
            url.parse().map_err(|_| invalid("not a valid URL: write https://host/path"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("the URL must start with https:// or http://")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("the URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("the URL may not hold a user name or password"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid("the URL has no host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
        Ok(Self { tls, host: host.to_ascii_lowercase(), port, path: path.clone() })
    }

    /// The addresses to connect to: the host's, keeping only public ones unless
    /// `allow_private`.
    pub async fn resolve(&self, allow_private: bool) -> Result<Vec<SocketAddr>, TargetError> {
        let found: Vec<SocketAddr> = match self.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, self.port)],
            Err(_) => tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map_err(|e| TargetError::Unresolved {
                    host: self.host.clone(),
                    reason: e.to_string(),
                })?
                .collect(),
        };
        let allowed: Vec<SocketAddr> =
            found.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
        if allowed.is_empty() {
            return Err(TargetError::Private(self.host.clone()));
        }
        Ok(allowed)
    }
}

/// Whether `ip` is reachable on the public Internet (not a range kept for local, private,
/// shared or special use).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64, which reaches IPv4 inside
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0)) // IPv4-compatible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_that_are_not_plain_web_addresses() {
        for (url, why) in [
            ("ftp://example.com/", "https://"),
            ("example.com/hook", "https://"),
            ("https://user:pw@example.com/", "user name"),
            ("https://example.com/#frag", "fragment"),
            ("https:///nohost", "valid URL"),
            ("javascript:alert(1)", "https://"),
        ] {
            let error = Target::parse(url).unwrap_err().to_string();
            assert!(error.contains(why), "{url}: {error}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(Target::parse(&long).unwrap_err().to_string().contains("2048"));
        let t = Target::parse("https://Hooks.Example.com/in?x=1").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (true, "hooks.example.com", 443, "/in?x=1")
        );
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port, t.path.as_str()), (false, "::1", 8080, "/"));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn a_private_target_is_refused_unless_allowed() {
        let t = Target::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(matches!(t.resolve(false).await, Err(TargetError::Private(_))));
        assert_eq!(t.resolve(true).await.unwrap(), vec!["127.0.0.1:9".parse().unwrap()]);
        let t = Target::parse("http://localhost:9/hook").unwrap();
        assert!(matches!(t.resolve(false).await, Err(TargetError::Private(_))));
    }
}
