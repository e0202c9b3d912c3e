//! Command-line options. The flag names are an interface: harnesses in every
//! language start the mock with them.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::users::{Directory, DEFAULT_ADMIN};

pub const USAGE: &str = "\
sigma-mock: a loopback stand-in for Sigma's token endpoint, for tests and benchmarks.

USAGE:
    sigma-mock [--host 127.0.0.1] [--port 0] [--client-id ID --client-secret SECRET]...
               [--expires-in SECONDS] [--refresh-expires-in SECONDS] [--token-delay-ms MS]
               [--throttle RATE/BURST[/STATUS]] [--auto-approve EMAIL]
               [--admin-user EMAIL]... [--user EMAIL]... [--non-admin-client ID]...
               [--embed-client-id ID] [--embed-secret SECRET]
               [--tls --cert-out PATH] [--exit-with-stdin]

The first line printed on stdout is the base URL served, e.g. http://127.0.0.1:41233.
Defaults: port 0 (any free port), client demo-client / demo-secret, access tokens
3600 s, refresh tokens 86400 s. --token-delay-ms holds every token answer back
that long (faults come on top), for tests that need requests in flight. --throttle plays
Sigma's CDN edge: a token bucket of BURST requests refilled at RATE a second in front of
the token endpoint; a request past it gets STATUS (429 by default, or 403) with an HTML
page and no Retry-After. People sign in through an HTML page with Allow and Deny;
--auto-approve EMAIL approves every sign-in at once as EMAIL (POST /__mock/signin changes
the sign-in's settings while running). Repeat --client-id/--client-secret to accept several
clients. --tls serves HTTPS with a certificate made at start, signed by a fresh CA
whose PEM is written to --cert-out. --exit-with-stdin makes the mock exit when its
standard input closes, so a harness that dies never leaves it running.

Impersonation (grant_type urn:ietf:params:oauth:grant-type:token-exchange): every
configured client is an admin client that may impersonate, except those named by
--non-admin-client (repeatable). --admin-user (repeatable; default admin@example.com)
names users that cannot be impersonated. --user (repeatable) restricts subjects to
these users; without it any subject that is not an admin user is known.
Secure embed URLs are checked against --embed-client-id (default demo-embed) and
--embed-secret (default demo-embed-secret).

Endpoints: POST /v2/auth/token, GET /v2/whoami, /v2/redirect?status=&location=
(an API endpoint that redirects), /v2/echo[?status=N] (any method; shows the headers
received), and
for tests POST /__mock/faults, GET /__mock/stats, POST /__mock/reset[?tokens=1],
POST /__mock/expire[?refresh=1], POST /__mock/users ({\"users\": [...],
\"admin_users\": [...]} replaces both lists; an empty users list means any user),
GET /__mock/embed/verify?url=URL (checks a signed embed URL). Stats list the headers
of the last 200 requests to API paths, so tests see where a bearer token went, and
count token exchanges answered 200 by user (exchanges_by_subject).";

#[derive(Debug, Clone)]
pub struct Options {
    pub host: IpAddr,
    pub port: u16,
    pub clients: Vec<(String, String)>,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    pub token_delay_ms: u64,
    /// `--throttle RATE/BURST[/STATUS]`: Sigma's edge in front of the token endpoint.
    pub throttle: Option<(f64, f64, u16)>,
    /// `--auto-approve EMAIL`: people's sign-ins are approved at once as EMAIL.
    pub auto_approve: Option<String>,
    pub tls: bool,
    pub cert_out: Option<PathBuf>,
    pub exit_with_stdin: bool,
    pub directory: Directory,
    pub non_admin_clients: Vec<String>,
    pub embed_client_id: String,
    pub embed_secret: String,
}

pub enum Parsed {
    Run(Box<Options>),
    Help,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut host: IpAddr = "127.0.0.1".parse().expect("literal address");
    let mut port = 0u16;
    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    let mut expires_in = 3600u64;
    let mut refresh_expires_in = 86400u64;
    let mut token_delay_ms = 0u64;
    let mut throttle = None;
    let mut auto_approve = None;
    let mut tls = false;
    let mut cert_out = None;
    let mut exit_with_stdin = false;
    let mut directory = Directory::default();
    let mut non_admin_clients = Vec::new();
    let mut embed_client_id = "demo-embed".to_string();
    let mut embed_secret = "demo-embed-secret".to_string();

    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--host" => {
                let v = value("--host")?;
                host = v.parse().map_err(|_| format!("--host: not an IP address: {v}"))?;
            }
            "--port" => port = parse_number("--port", &value("--port")?)?,
            "--client-id" => ids.push(value("--client-id")?),
            "--client-secret" => secrets.push(value("--client-secret")?),
            "--expires-in" => expires_in = parse_number("--expires-in", &value("--expires-in")?)?,
            "--refresh-expires-in" => {
                refresh_expires_in = parse_number("--refresh-expires-in", &value("--refresh-expires-in")?)?
            }
            "--token-delay-ms" => token_delay_ms = parse_number("--token-delay-ms", &value("--token-delay-ms")?)?,
            "--throttle" => throttle = Some(parse_throttle(&value("--throttle")?)?),
            "--auto-approve" => auto_approve = Some(value("--auto-approve")?),
            "--tls" => tls = true,
            "--cert-out" => cert_out = Some(PathBuf::from(value("--cert-out")?)),
            "--exit-with-stdin" => exit_with_stdin = true,
            "--admin-user" => directory.admin_users.push(value("--admin-user")?),
            "--user" => directory.users.push(value("--user")?),
            "--non-admin-client" => non_admin_clients.push(value("--non-admin-client")?),
            "--embed-client-id" => embed_client_id = value("--embed-client-id")?,
            "--embed-secret" => embed_secret = value("--embed-secret")?,
            other => return Err(format!("unknown argument: {other}")),
        }
    }

    if ids.len() != secrets.len() {
        return Err("give --client-id and --client-secret in pairs".into());
    }
    let clients = if ids.is_empty() {
        vec![("demo-client".to_string(), "demo-secret".to_string())]
    } else {
        ids.into_iter().zip(secrets).collect()
    };
    if let Some(unknown) = non_admin_clients.iter().find(|id| !clients.iter().any(|(c, _)| c == *id)) {
        // A typo here would silently leave the client an admin.
        return Err(format!("--non-admin-client {unknown}: not a configured client id"));
    }
    if directory.admin_users.is_empty() {
        directory.admin_users.push(DEFAULT_ADMIN.to_string());
    }
    if tls && cert_out.is_none() {
        return Err("--tls needs --cert-out PATH (where the CA certificate is written)".into());
    }
    if !tls && cert_out.is_some() {
        return Err("--cert-out only makes sense with --tls".into());
    }
    Ok(Parsed::Run(Box::new(Options {
        host,
        port,
        clients,
        expires_in,
        refresh_expires_in,
        token_delay_ms,
        throttle,
        auto_approve,
        tls,
        cert_out,
        exit_with_stdin,
        directory,
        non_admin_clients,
        embed_client_id,
        embed_secret,
    })))
}

fn parse_number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: not a valid number: {v}"))
}

/// `RATE/BURST[/STATUS]`: a token bucket of BURST requests refilled at RATE a
/// second; past it, STATUS (429, or 403 as an edge block) with an HTML page.
fn parse_throttle(text: &str) -> Result<(f64, f64, u16), String> {
    let bad = || format!("--throttle: expected RATE/BURST[/STATUS], e.g. 2/2/429, got {text}");
    let parts: Vec<&str> = text.split('/').collect();
    let (rate, burst) = match parts.as_slice() {
        [rate, burst] | [rate, burst, _] => {
            (rate.parse::<f64>().map_err(|_| bad())?, burst.parse::<f64>().map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    };
    let status = match parts.get(2) {
        Some(status) => status.parse::<u16>().map_err(|_| bad())?,
        None => 429,
    };
    if !(rate > 0.0 && burst >= 1.0 && matches!(status, 403 | 429 | 503)) {
        return Err(bad());
    }
    Ok((rate, burst, status))
}
