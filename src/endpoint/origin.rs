//! Where a bearer token may go: the scheme, host and port of a request.
//!
//! HTTP adapters attach the token only to requests whose origin is allowed: the
//! configured Sigma API's (the endpoint's), plus origins added explicitly with
//! [`crate::Config::allow_origin`]. Every other request, every redirect hop to
//! another origin included, goes out without it.

use std::fmt;

use ureq::http::Uri;

use super::host::{is_loopback, unbracket};
use crate::error::{Error, ErrorCode, Result};

/// A scheme (https, or http for loopback hosts), a host and a port, normalised:
/// lower-case scheme and host, IPv6 without brackets, the port always explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `https://host[:port]` (a trailing `/` is accepted; a path, query,
    /// fragment or user name is not). Plain `http://` only for loopback hosts.
    pub fn parse(text: &str) -> Result<Origin> {
        let bad = |why: &str| Error::invalid_argument(format!("the origin is malformed: {why}"));
        let text = text.trim();
        if text.len() > 2048 || text.contains('#') || text.contains('?') {
            return Err(bad("expected scheme://host[:port] and nothing else"));
        }
        let uri: Uri = text.parse().map_err(|_| bad("not a valid absolute URL"))?;
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("it has a user name in it"));
        }
        if !matches!(uri.path(), "" | "/") {
            return Err(bad("it has a path; an origin is scheme://host[:port]"));
        }
        let origin = Origin::new(uri.scheme_str().unwrap_or_default(), authority.host(), authority.port_u16())
            .ok_or_else(|| bad("the scheme must be https (or http for loopback)"))?;
        if origin.host.is_empty() {
            return Err(bad("no host"));
        }
        if origin.scheme == "http" && !is_loopback(&origin.host) {
            return Err(Error::new(
                ErrorCode::InsecureUrl,
                "refusing to send tokens over plain http:// to a host that is not loopback",
            ));
        }
        Ok(origin)
    }

    /// The port (the scheme's default when the URL named none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The origin of a request as an HTTP library parsed it; `port` None means
    /// the scheme's default. None for schemes other than http and https.
    pub fn new(scheme: &str, host: &str, port: Option<u16>) -> Option<Origin> {
        let scheme = scheme.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let host = unbracket(host).to_ascii_lowercase();
        Some(Origin { scheme, host, port: port.filter(|p| *p != 0).unwrap_or(default) })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(f, "{}://{host}:{}", self.scheme, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_so_equal_ones_compare_equal() {
        let a = Origin::parse("https://API.sigmacomputing.com").unwrap();
        assert_eq!(a, Origin::parse("https://api.sigmacomputing.com:443/").unwrap());
        assert_eq!(Some(a.clone()), Origin::new("HTTPS", "api.sigmacomputing.com", None));
        assert_ne!(Some(a.clone()), Origin::new("https", "api.sigmacomputing.com", Some(8443)));
        assert_ne!(Some(a.clone()), Origin::new("https", "evil.api.sigmacomputing.com", None));
        assert_eq!(a.to_string(), "https://api.sigmacomputing.com:443");
        assert_eq!(Origin::parse("http://[::1]:8080").unwrap(), Origin::new("http", "::1", Some(8080)).unwrap());
        assert_eq!(Origin::new("ftp", "x", None), None);
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        for bad in
            ["", "api.sigmacomputing.com", "https://a.com/v2", "https://a.com?x", "https://u@a.com", "ftp://a.com"]
        {
            assert_eq!(Origin::parse(bad).unwrap_err().code(), ErrorCode::InvalidArgument, "{bad}");
        }
        assert_eq!(Origin::parse("http://example.com").unwrap_err().code(), ErrorCode::InsecureUrl);
        assert!(Origin::parse("http://127.0.0.2:9").is_ok());
    }
}
