//! Where tokens come from: a cloud name or a base URL, resolved to the token URL.

use ureq::http::Uri;

mod host;
mod origin;

pub(crate) use host::{is_loopback, percent_decode, unbracket};
pub use origin::Origin;

use crate::error::{Error, ErrorCode, Result};

/// The cloud names this project uses and their API base URLs. The cloud is fixed
/// when a Sigma organisation is created (Administration > Developer Access).
pub const CLOUDS: &[(&str, &str)] = &[
    ("gcp-us", "https://api.sigmacomputing.com"),
    ("gcp-ksa", "https://api.sa.gcp.sigmacomputing.com"),
    ("aws-us-west", "https://aws-api.sigmacomputing.com"),
    ("aws-us-east", "https://api.us-a.aws.sigmacomputing.com"),
    ("aws-ca", "https://api.ca.aws.sigmacomputing.com"),
    ("aws-eu", "https://api.eu.aws.sigmacomputing.com"),
    ("aws-uk", "https://api.uk.aws.sigmacomputing.com"),
    ("aws-au", "https://api.au.aws.sigmacomputing.com"),
    ("azure-us", "https://api.us.azure.sigmacomputing.com"),
    ("azure-eu", "https://api.eu.azure.sigmacomputing.com"),
    ("azure-ca", "https://api.ca.azure.sigmacomputing.com"),
    ("azure-uk", "https://api.uk.azure.sigmacomputing.com"),
    ("azure-au", "https://api.au.azure.sigmacomputing.com"),
];

const TOKEN_PATH: &str = "/v2/auth/token";
const MAX_URL_LEN: usize = 2048;

/// A resolved token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    token_url: String,
    host: String,
    loopback: bool,
    origin: Origin,
}

impl Endpoint {
    /// Resolves a cloud name (`"aws-us-east"`) or a base URL
    /// (`"https://api.sigmacomputing.com"`, with or without a trailing `/`, `/v2`
    /// or the full `/v2/auth/token`) to the token URL.
    ///
    /// Plain `http://` is refused with [`ErrorCode::InsecureUrl`] unless the host is
    /// loopback (127.0.0.0/8, ::1, localhost): the client secret must not cross a
    /// network in clear text.
    pub fn parse(input: &str) -> Result<Endpoint> {
        let input = input.trim();
        if input.is_empty() {
            return Err(Error::invalid_argument("the endpoint is empty: give a base URL or a cloud name"));
        }
        if let Some((_, url)) = CLOUDS.iter().find(|(name, _)| name.eq_ignore_ascii_case(input)) {
            return Endpoint::from_url(url);
        }
        if !input.contains("://") {
            let names: Vec<&str> = CLOUDS.iter().map(|(name, _)| *name).collect();
            return Err(Error::invalid_argument(format!(
                "unknown cloud name (expected one of {} or an https:// base URL)",
                names.join(", ")
            )));
        }
        Endpoint::from_url(input)
    }

    fn from_url(url: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::invalid_argument(format!("the endpoint URL is malformed: {why}"));
        if url.len() > MAX_URL_LEN {
            return Err(bad("longer than 2048 bytes"));
        }
        if url.contains('#') {
            return Err(bad("it has a fragment (#...)"));
        }
        let uri: Uri = url.parse().map_err(|_| bad("not a valid absolute URL"))?;
        let scheme = uri.scheme_str().map(str::to_ascii_lowercase).ok_or_else(|| bad("no scheme"))?;
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("it has user credentials in it; pass the client id and secret separately"));
        }
        if uri.query().is_some() {
            return Err(bad("it has a query string (?...)"));
        }
        let host = authority.host().to_string();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let loopback = is_loopback(&host);
        match scheme.as_str() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(Error::new(
                    ErrorCode::InsecureUrl,
                    "refusing plain http:// to a host that is not loopback; use https://",
                ))
            }
            _ => return Err(bad("the scheme must be https (or http for loopback)")),
        }

        let path = uri.path().trim_end_matches('/');
        let path = if path.ends_with(TOKEN_PATH) {
            path.to_string()
        } else if let Some(base) = path.strip_suffix("/v2") {
            format!("{base}{TOKEN_PATH}")
        } else {
            format!("{path}{TOKEN_PATH}")
        };
        let token_url = format!("{scheme}://{authority}{path}");
        let origin = Origin::new(&scheme, &host, authority.port_u16()).ok_or_else(|| bad("unsupported scheme"))?;
        Ok(Endpoint { token_url, host, loopback, origin })
    }

    /// The full URL tokens are requested from.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The API's base URL: the token URL without its `/v2/auth/token`, e.g.
    /// `https://api.us-a.aws.sigmacomputing.com`.
    pub fn api_base_url(&self) -> &str {
        self.token_url.strip_suffix(TOKEN_PATH).unwrap_or(&self.token_url)
    }

    /// The token URL's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The API's origin: where tokens from this endpoint may be sent.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether an endpoint a sign-in's discovery named (or a stored sign-in
    /// holds) may be used with this API: https on this API's origin (its host
    /// and port), or on a host under `sigmacomputing.com` on port 443; for a
    /// loopback API, loopback only. Err says why not.
    pub(crate) fn check_signin_url(&self, what: &str, url: &str) -> Result<()> {
        let refuse = |why: &str| {
            Err(Error::new(
                ErrorCode::LoginUnavailable,
                format!("the sign-in's {what} {why}; refused before anything was sent there"),
            ))
        };
        let Ok(uri) = url.parse::<Uri>() else {
            return refuse("is not a valid URL");
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return refuse("is not an absolute URL");
        };
        if authority.as_str().contains('@') || url.contains('#') || url.len() > MAX_URL_LEN {
            return refuse("has user credentials, a fragment or too long a URL");
        }
        let host = authority.host().to_ascii_lowercase();
        if self.loopback {
            return match scheme {
                "http" | "https" if is_loopback(&host) => Ok(()),
                _ => refuse(&format!("is on {host}, not on loopback like the API")),
            };
        }
        if scheme != "https" {
            return refuse("is not https");
        }
        let host = host.trim_end_matches('.');
        if !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            return refuse("has a host name with characters no host name has");
        }
        let port = authority.port_u16().unwrap_or(443);
        if host == self.host.to_ascii_lowercase().trim_end_matches('.') {
            return match port == self.origin.port() {
                true => Ok(()),
                false => {
                    refuse(&format!("is on port {port} of the API's host, not the API's port {}", self.origin.port()))
                }
            };
        }
        if host == "sigmacomputing.com" || host.ends_with(".sigmacomputing.com") {
            return match port {
                443 => Ok(()),
                _ => refuse(&format!("is on port {port} of a Sigma host, not 443")),
            };
        }
        refuse(&format!("is on {host}, which is neither the API's host nor Sigma's"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(input: &str) -> String {
        Endpoint::parse(input).unwrap().token_url().to_string()
    }

    fn code(input: &str) -> ErrorCode {
        Endpoint::parse(input).unwrap_err().code()
    }

    #[test]
    fn cloud_names_resolve_case_insensitively() {
        assert_eq!(url("aws-us-east"), "https://api.us-a.aws.sigmacomputing.com/v2/auth/token");
        assert_eq!(url(" AWS-US-East "), "https://api.us-a.aws.sigmacomputing.com/v2/auth/token");
        assert_eq!(CLOUDS.len(), 13);
        for (name, _) in CLOUDS {
            assert!(url(name).starts_with("https://"));
        }
    }

    #[test]
    fn base_urls_get_the_token_path_whatever_their_ending() {
        let want = "https://api.sigmacomputing.com/v2/auth/token";
        for input in [
            "https://api.sigmacomputing.com",
            "https://api.sigmacomputing.com/",
            "https://api.sigmacomputing.com//",
            "https://api.sigmacomputing.com/v2",
            "https://api.sigmacomputing.com/v2/",
            "https://api.sigmacomputing.com/v2/auth/token",
            "https://api.sigmacomputing.com/v2/auth/token/",
            "HTTPS://api.sigmacomputing.com",
        ] {
            assert_eq!(url(input), want, "{input}");
        }
        assert_eq!(url("https://gw.example.com/sigma"), "https://gw.example.com/sigma/v2/auth/token");
        assert_eq!(url("https://h.example.com:8443"), "https://h.example.com:8443/v2/auth/token");
    }

    #[test]
    fn plain_http_is_allowed_only_on_loopback() {
        assert_eq!(url("http://127.0.0.1:8080"), "http://127.0.0.1:8080/v2/auth/token");
        assert_eq!(url("http://127.3.2.1:8080"), "http://127.3.2.1:8080/v2/auth/token");
        assert_eq!(url("http://[::1]:8080"), "http://[::1]:8080/v2/auth/token");
        assert_eq!(url("http://localhost:1"), "http://localhost:1/v2/auth/token");
        assert_eq!(code("http://api.sigmacomputing.com"), ErrorCode::InsecureUrl);
        assert_eq!(code("http://10.0.0.1"), ErrorCode::InsecureUrl);
        assert_eq!(code("http://localhost.evil.com"), ErrorCode::InsecureUrl);
        assert_eq!(code("http://128.0.0.1"), ErrorCode::InsecureUrl);
    }

    #[test]
    fn malformed_or_dangerous_urls_are_invalid_arguments() {
        for input in [
            "",
            "   ",
            "not-a-cloud",
            "ftp://api.sigmacomputing.com",
            "https://",
            "https://user:pw@api.sigmacomputing.com",
            "https://api.sigmacomputing.com/#frag",
            "https://api.sigmacomputing.com/?a=b",
            "https://exa mple.com",
            "://x",
        ] {
            assert_eq!(code(input), ErrorCode::InvalidArgument, "{input:?}");
        }
        assert_eq!(code(&format!("https://{}.com", "a".repeat(5000))), ErrorCode::InvalidArgument);
    }
}

#[cfg(test)]
mod signin_url_tests {
    use super::*;

    #[test]
    fn a_signin_endpoint_must_be_on_the_apis_host_or_sigmas_and_loopback_stays_loopback() {
        let sigma = Endpoint::parse("https://api.us-a.aws.sigmacomputing.com").unwrap();
        let private = Endpoint::parse("https://sigma.corp.example").unwrap();
        let local = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        for (endpoint, url) in [
            (&sigma, "https://api.us-a.aws.sigmacomputing.com/oauth/token"),
            (&sigma, "https://login.sigmacomputing.com/authorize"),
            (&private, "https://sigma.corp.example/oauth/register"),
            (&local, "http://127.0.0.1:8080/oauth/authorize"),
            (&local, "http://localhost:9/x"),
        ] {
            assert!(endpoint.check_signin_url("x", url).is_ok(), "{url}");
        }
        for (endpoint, url) in [
            (&sigma, "http://api.us-a.aws.sigmacomputing.com/oauth/token"),
            (&sigma, "https://sigmacomputing.com.evil.example/token"),
            (&sigma, "https://evilsigmacomputing.com/token"),
            (&sigma, "https://user@login.sigmacomputing.com/token"),
            (&private, "https://login.corp.example/token"),
            (&local, "http://127.0.0.2.nip.io/token"),
            (&local, "https://api.sigmacomputing.com/token"),
            (&sigma, "not a url"),
            (&sigma, "https://api.us-a.aws.sigmacomputing.com:8443/oauth/token"),
            (&sigma, "https://login.sigmacomputing.com:444/token"),
            (&sigma, "https://evil.example;.sigmacomputing.com/token"),
            (&private, "https://sigma.corp.example:8443/token"),
        ] {
            let error = endpoint.check_signin_url("token endpoint", url).unwrap_err();
            assert_eq!(error.code(), ErrorCode::LoginUnavailable, "{url}");
        }
    }
}
