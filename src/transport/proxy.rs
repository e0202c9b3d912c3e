//! Which proxy, if any, carries requests to the token endpoint.
//!
//! The endpoint is always https (plain http is only ever loopback, which is
//! never proxied), so as curl does for https URLs: `HTTPS_PROXY` (or
//! `https_proxy`), else `ALL_PROXY` (or `all_proxy`); `HTTP_PROXY` is not used
//! for https. `NO_PROXY` (or `no_proxy`) is a comma-separated list of `*`, host
//! names (`example.com`, `.example.com` and `*.example.com` all match
//! example.com and every name under it), IP addresses and CIDR blocks
//! (`10.0.0.0/8`, `fd00::/8`), each optionally with a `:port` that is ignored.

use std::net::IpAddr;

use crate::endpoint::{unbracket, Endpoint};

/// The decision for one endpoint, and why, for `sigma-token doctor`. Its
/// `Debug` shows the URL as [`ProxyChoice::display_url`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyChoice {
    /// The proxy URL, or None for a direct connection.
    pub url: Option<String>,
    /// Why, in a few words (which variable, or which NO_PROXY entry).
    pub reason: String,
}

impl ProxyChoice {
    /// The proxy URL with its credentials (everything before the last `@`,
    /// user name included: it may be a token, or name someone) replaced,
    /// safe to print.
    pub fn display_url(&self) -> Option<String> {
        let url = self.url.as_deref()?;
        let (scheme, credentials, rest) = split_credentials(url);
        Some(match credentials {
            Some(_) => format!("{scheme}://[redacted]@{rest}"),
            None => format!("{scheme}://{rest}"),
        })
    }

    /// Whether the proxy speaks SOCKS, which this library does not: such a
    /// proxy is refused (INVALID_ARGUMENT) rather than half used.
    pub fn is_socks(&self) -> bool {
        self.url.as_deref().is_some_and(|url| url.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("socks")))
    }
}

/// The characters that end a URL's authority.
const AUTHORITY_ENDS: [char; 3] = ['/', '?', '#'];

/// A proxy URL as (scheme, credentials, the rest). Everything before the last
/// `@` is taken for credentials, whatever it holds: a password may carry an
/// `@`, or a `/` that a URL parser would read as the end of the host.
fn split_credentials(url: &str) -> (&str, Option<&str>, &str) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    match rest.rsplit_once('@') {
        Some((userinfo, rest)) => (scheme, Some(userinfo), rest),
        None => (scheme, None, rest),
    }
}

/// Whether a proxy URL's credentials hold a character that ends a URL's
/// authority (`/`, `?`, `#`) unencoded: a URL parser would then read part of
/// the password as the host and the request would go somewhere else.
pub(crate) fn credentials_need_encoding(url: &str) -> bool {
    split_credentials(url).1.is_some_and(|userinfo| userinfo.contains(AUTHORITY_ENDS))
}

impl std::fmt::Debug for ProxyChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyChoice").field("url", &self.display_url()).field("reason", &self.reason).finish()
    }
}

/// The proxy for `endpoint`, from the process environment.
pub(crate) fn choose(endpoint: &Endpoint) -> ProxyChoice {
    choose_with(endpoint, |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

fn choose_with(endpoint: &Endpoint, var: impl Fn(&str) -> Option<String>) -> ProxyChoice {
    let direct = |reason: String| ProxyChoice { url: None, reason };
    if endpoint.is_loopback() {
        return direct("the endpoint is loopback, which is never proxied".into());
    }
    let Some((name, url)) = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|name| var(name).map(|url| (*name, url.trim().to_string())))
    else {
        return direct("neither HTTPS_PROXY nor ALL_PROXY is set".into());
    };
    let no_proxy = var("NO_PROXY").or_else(|| var("no_proxy")).unwrap_or_default();
    if let Some(entry) = bypass(&no_proxy, endpoint.host()) {
        return direct(format!("NO_PROXY entry {entry:?} matches {}", endpoint.host()));
    }
    ProxyChoice { url: Some(url), reason: format!("from {name}") }
}

/// The NO_PROXY entry that matches `host`, if any.
fn bypass<'a>(no_proxy: &'a str, host: &str) -> Option<&'a str> {
    let host = unbracket(host).trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    no_proxy.split(',').map(str::trim).filter(|e| !e.is_empty()).find(|entry| {
        if *entry == "*" {
            return true;
        }
        let bare = strip_port(entry);
        let bare = bare.as_str();
        if let Some(ip) = ip {
            return match bare.split_once('/') {
                Some((network, bits)) => in_block(ip, network, bits),
                None => bare.parse::<IpAddr>().is_ok_and(|e| e == ip),
            };
        }
        let name = bare.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    })
}

/// `host:port` without the port (an IPv6 address keeps its colons) and an
/// IPv6 address without its brackets: `[fd00::1]:443` is `fd00::1`, and
/// `[fd00::]/8` the block `fd00::/8`.
fn strip_port(entry: &str) -> String {
    if let Some(inside) = entry.strip_prefix('[') {
        let (address, after) = inside.split_once(']').unwrap_or((inside, ""));
        return match after.strip_prefix('/') {
            Some(bits) => format!("{address}/{bits}"),
            None => address.to_string(),
        };
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ => entry.to_string(),
    }
}

fn in_block(ip: IpAddr, network: &str, bits: &str) -> bool {
    let (Ok(network), Ok(bits)) = (network.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(url: &str, vars: &[(&str, &str)]) -> ProxyChoice {
        let endpoint = Endpoint::parse(url).unwrap();
        choose_with(&endpoint, |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn https_proxy_then_all_proxy_never_http_proxy() {
        let p = "http://proxy.corp:3128";
        assert_eq!(choice("https://api.sigmacomputing.com", &[("HTTPS_PROXY", p)]).url.as_deref(), Some(p));
        assert_eq!(choice("https://api.sigmacomputing.com", &[("all_proxy", p)]).url.as_deref(), Some(p));
        assert_eq!(choice("https://api.sigmacomputing.com", &[("HTTP_PROXY", p)]).url, None);
        assert_eq!(choice("http://127.0.0.1:9", &[("HTTPS_PROXY", p)]).url, None, "loopback is never proxied");
    }

    #[test]
    fn no_proxy_matches_names_suffixes_addresses_and_blocks() {
        let p = ("HTTPS_PROXY", "http://proxy:3128");
        let bypassed = |url: &str, no_proxy: &str| choice(url, &[p, ("NO_PROXY", no_proxy)]).url.is_none();
        assert!(bypassed("https://api.sigmacomputing.com", "*"));
        assert!(bypassed("https://api.sigmacomputing.com", "sigmacomputing.com"));
        assert!(bypassed("https://api.sigmacomputing.com", "other, .sigmacomputing.com"));
        assert!(bypassed("https://api.sigmacomputing.com", "*.sigmacomputing.com:443"));
        assert!(bypassed("https://API.SigmaComputing.com", "api.sigmacomputing.com"));
        assert!(!bypassed("https://api.sigmacomputing.com", "computing.com"));
        assert!(!bypassed("https://api.sigmacomputing.com", "notsigmacomputing.com"));
        assert!(bypassed("https://10.1.2.3:8443", "10.0.0.0/8"));
        assert!(!bypassed("https://11.1.2.3:8443", "10.0.0.0/8"));
        assert!(bypassed("https://10.1.2.3:8443", "10.1.2.3"));
        assert!(bypassed("https://[fd00::1]:8443", "fd00::/8"));
        assert!(bypassed("https://[fd00::1]:8443", "[fd00::]/8"));
        assert!(bypassed("https://[fd00::1]:8443", "[fd00::1]:8443"));
        assert!(!bypassed("https://[fe80::1]:8443", "[fd00::]/8"));
        assert!(!bypassed("https://[fe80::1]:8443", "fd00::/8"));
        assert!(!bypassed("https://10.1.2.3", "10.0.0.0/99"));
        let lower = choice("https://api.sigmacomputing.com", &[p, ("no_proxy", "sigmacomputing.com")]);
        assert!(lower.url.is_none() && lower.reason.contains("sigmacomputing.com"));
    }

    #[test]
    fn credentials_that_would_end_the_host_must_be_encoded() {
        assert!(credentials_need_encoding("http://me:hunter2/pass@proxy:3128"));
        assert!(credentials_need_encoding("http://me:a?b@proxy:3128"));
        assert!(!credentials_need_encoding("http://me:hunter2%2Fpass@proxy:3128/"));
        assert!(!credentials_need_encoding("http://proxy:3128/path"));
    }

    #[test]
    fn a_proxy_password_is_never_displayed() {
        let c = choice("https://api.sigmacomputing.com", &[("HTTPS_PROXY", "http://me:hunter2@proxy:3128")]);
        assert_eq!(c.display_url().as_deref(), Some("http://[redacted]@proxy:3128"));
        for (url, shown) in [
            ("http://me:p@ss@w0rd@proxy:3128", "http://[redacted]@proxy:3128"),
            ("http://TOKEN123@proxy:3128/", "http://[redacted]@proxy:3128/"),
            ("http://me:hunter2/pass@proxy:3128", "http://[redacted]@proxy:3128"),
            ("http://me/x:ss@w0rd@proxy:3128", "http://[redacted]@proxy:3128"),
            ("proxy:3128", "http://proxy:3128"),
        ] {
            let choice = ProxyChoice { url: Some(url.into()), reason: String::new() };
            assert_eq!(choice.display_url().as_deref(), Some(shown));
            let debug = format!("{choice:?}");
            assert!(!["ss@w0rd", "TOKEN123", "hunter2"].iter().any(|s| debug.contains(s)), "{debug}");
        }
    }
}
