//! `sigma-token doctor`: checks the settings, the network path and the
//! credentials step by step, one line per finding (`ok`, `warn` or `fail`,
//! and for a problem what to do). Never prints a secret, a password or a
//! token. Exits 0 when nothing failed, else with the first failure's status
//! code; a warning (such as a token store that is down, which calls go on
//! without) does not count.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use sigma_auth::{Config, ErrorCode, Probe};

use crate::{cache_dir, make_config, Options, SECRET_VARIABLE};

/// A clock this far from Sigma's is worth a warning (signed embed URLs carry
/// the local time).
const CLOCK_TOLERANCE: f64 = 60.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// The findings so far; each is printed as it is made.
struct Report {
    first_failure: Option<ErrorCode>,
}

impl Report {
    fn line(&mut self, level: Level, topic: &str, text: &str) {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "fail",
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{tag}  {topic:<12} {text}");
        let _ = out.flush();
    }

    fn ok(&mut self, topic: &str, text: &str) {
        self.line(Level::Ok, topic, text);
    }

    /// A problem that does not stop tokens from working, and what to do.
    fn warn(&mut self, topic: &str, text: &str, todo: &str) {
        self.line(Level::Warn, topic, text);
        self.todo(todo);
    }

    fn fail(&mut self, code: ErrorCode, topic: &str, text: &str, todo: &str) {
        self.first_failure.get_or_insert(code);
        self.line(Level::Fail, topic, text);
        self.todo(todo);
    }

    fn todo(&mut self, todo: &str) {
        let _ = writeln!(std::io::stdout().lock(), "      {:<12} -> {todo}", "");
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

pub(crate) fn run(options: &Options) -> ExitCode {
    let mut report = Report { first_failure: None };
    println!("sigma-token doctor (sigma-auth {})", sigma_auth::VERSION);
    if let Some(config) = settings(options, &mut report) {
        network(&config, &mut report);
        cache(options, &mut report);
        store(&config, &mut report);
    }
    match report.first_failure {
        None => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(code as u8),
    }
}

/// The endpoint, the credentials, the proxy and the trust store: the config,
/// or None when there is not enough to go on.
fn settings(options: &Options, report: &mut Report) -> Option<Config> {
    if let Some(profile) = crate::profile(options) {
        return signin_settings(options, &profile, report);
    }
    let given = |flag: &Option<String>, variable: &str| {
        flag.clone().or_else(|| std::env::var(variable).ok()).filter(|v| !v.trim().is_empty())
    };
    let mut missing = false;
    if given(&options.endpoint, "SIGMA_BASE_URL").is_none() {
        missing = true;
        report.fail(
            ErrorCode::InvalidArgument,
            "endpoint",
            "not set",
            "set SIGMA_BASE_URL (or pass --endpoint) to your cloud's name (sigma-token --clouds) or its API base URL",
        );
    }
    if given(&options.client_id, "SIGMA_CLIENT_ID").is_none() {
        missing = true;
        report.fail(
            ErrorCode::InvalidArgument,
            "client id",
            "not set",
            "set SIGMA_CLIENT_ID (or pass --client-id): Administration > Developer access in Sigma",
        );
    }
    let secret_from = match &options.secret_file {
        Some(path) => format!("the file {path}"),
        None => SECRET_VARIABLE.to_string(),
    };
    if options.secret_file.is_none() && given(&None, SECRET_VARIABLE).is_none() {
        missing = true;
        report.fail(
            ErrorCode::InvalidArgument,
            "secret",
            "not set",
            "set SIGMA_CLIENT_SECRET, or pass --client-secret-file FILE (- for stdin)",
        );
    }
    if missing {
        return None;
    }
    let config = match make_config(options) {
        Ok(config) => config,
        Err(failure) => {
            report.fail(failure.code, "settings", &failure.message, "fix the setting named above");
            return None;
        }
    };
    report.ok("endpoint", config.endpoint().token_url());
    report.ok("credentials", &format!("client id {}, secret from {secret_from} (never shown)", config.client_id()));
    connection_settings(&config, report);
    Some(config)
}

/// A person's sign-in (`--profile`): what is stored, then the same checks.
fn signin_settings(options: &Options, profile: &str, report: &mut Report) -> Option<Config> {
    let config = match make_config(options) {
        Ok(config) => config,
        Err(failure) => {
            let todo = format!("sign in: sigma-token login --profile {profile} --endpoint URL|CLOUD");
            report.fail(failure.code, "sign-in", &failure.message, &todo);
            return None;
        }
    };
    let stored = sigma_auth::profiles().ok().and_then(|all| all.into_iter().find(|p| p.name == profile));
    let (who, scopes, kept) = stored.map_or(("-".to_string(), "-".to_string(), "-"), |p| {
        (p.email.unwrap_or_else(|| "an unnamed person".into()), p.scopes, p.backend.name())
    });
    report.ok("sign-in", &format!("profile {profile}: {who}, scopes {scopes}, kept in {kept} (no token shown)"));
    report.ok("endpoint", config.endpoint().api_base_url());
    connection_settings(&config, report);
    Some(config)
}

/// The proxy and the trust store.
fn connection_settings(config: &Config, report: &mut Report) {
    let proxy = config.proxy();
    match proxy.display_url() {
        Some(url) if proxy.is_socks() => report.fail(
            ErrorCode::InvalidArgument,
            "proxy",
            &format!("{url} ({}) is a SOCKS proxy, which sigma-auth does not support", proxy.reason),
            "use an HTTP CONNECT proxy (HTTPS_PROXY=http://host:port), or list Sigma's host in NO_PROXY",
        ),
        Some(url) => report.ok("proxy", &format!("{url} ({})", proxy.reason)),
        None => {
            let unused =
                ["HTTP_PROXY", "http_proxy"].iter().any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
            let text = format!("none: direct connection ({})", proxy.reason);
            if unused && !proxy.reason.starts_with("NO_PROXY") && !proxy.reason.contains("loopback") {
                report.warn(
                    "proxy",
                    &text,
                    "HTTP_PROXY is set but is not used for https (as with curl): set HTTPS_PROXY if this network \
                     needs a proxy",
                );
            } else {
                report.ok("proxy", &text);
            }
        }
    }
    report.ok("trust", &config.trust_description());
}

/// Name lookup, connection, TLS, the token request and `/v2/whoami`, timed.
fn network(config: &Config, report: &mut Report) {
    let probe = sigma_auth::probe(config);
    let host = config.endpoint().host().to_string();
    for lookup in &probe.lookups {
        let bare = lookup.host.as_str();
        if bare.parse::<std::net::IpAddr>().is_ok() {
            report.ok("dns", &format!("{bare}: an address, nothing to look up"));
            continue;
        }
        let addresses: Vec<String> = lookup.addresses.iter().map(|a| a.ip().to_string()).collect();
        report.ok("dns", &format!("{bare} -> {} ({})", addresses.join(", "), ms(lookup.duration)));
    }
    let error = probe.token.as_ref().err();
    let network_error = error.is_some_and(|e| matches!(e.code(), ErrorCode::Network | ErrorCode::Timeout));
    let through = match config.proxy().display_url() {
        Some(proxy) => format!(" through the proxy {proxy}"),
        None => String::new(),
    };
    if probe.lookups.is_empty() && network_error {
        let e = error.expect("a network error");
        return report.fail(
            e.code(),
            "dns",
            e.message(),
            &format!(
                "check the host name {host} and this machine's DNS; where only a proxy reaches the internet, set \
                 HTTPS_PROXY"
            ),
        );
    }
    match probe.connect {
        Some(took) => report.ok("connect", &format!("{host}{through} ({})", ms(took))),
        None if network_error => {
            let e = error.expect("a network error");
            return report.fail(
                e.code(),
                "connect",
                e.message(),
                "check the endpoint, the firewall and the proxy settings (HTTPS_PROXY, NO_PROXY)",
            );
        }
        None => {}
    }
    let https = config.endpoint().token_url().starts_with("https:");
    match probe.tls {
        Some(took) => report.ok("tls", &format!("handshake, certificate trusted ({})", ms(took))),
        None if !https => report.ok("tls", "none: plain http, allowed for loopback addresses only"),
        None if network_error && error.is_some_and(|e| e.message().contains("proxy")) => {
            // The proxy refused the tunnel (407, 403, 502...): no handshake was tried.
            let e = error.expect("a network error");
            return report.fail(
                e.code(),
                "proxy",
                e.message(),
                &format!(
                    "check the proxy's address and credentials (HTTPS_PROXY=http://user:password@host:port) and that \
                     it lets this machine CONNECT to {host}"
                ),
            );
        }
        None if network_error => {
            let e = error.expect("a network error");
            return report.fail(
                e.code(),
                "tls",
                e.message(),
                "if a proxy inspects TLS, install its CA in the system trust store or point SSL_CERT_FILE at it; \
                 with --ca-file, check that the file holds the CA that issued the server's certificate",
            );
        }
        None => {}
    }
    token(&probe, report);
    whoami(&probe, report);
}

fn token(probe: &Probe, report: &mut Report) {
    let took = probe.request.map(|d| format!(" ({})", ms(d))).unwrap_or_default();
    match &probe.token {
        Ok(token) => {
            report.ok("token", &format!("granted, expires in {} s{took}", token.expires_in().as_secs()));
        }
        Err(e) => {
            let todo = match e.code() {
                ErrorCode::InvalidClient => {
                    "check the client id and secret (Administration > Developer access in Sigma), and that they \
                     belong to this endpoint's cloud"
                }
                ErrorCode::RateLimited => "wait, and share tokens between runs (leave the token cache on)",
                ErrorCode::Server => "Sigma's side: try again later",
                ErrorCode::Timeout => "raise --timeout, or check the network path",
                ErrorCode::Http | ErrorCode::Protocol => {
                    "this may not be Sigma's API: check the endpoint (a proxy or captive portal may be answering)"
                }
                _ => "see the message",
            };
            report.fail(e.code(), "token", &format!("{}{took}", e.message()), todo);
        }
    }
}

fn whoami(probe: &Probe, report: &mut Report) {
    let Some(who) = &probe.whoami else { return };
    let took = ms(who.duration);
    match (who.status, &who.error) {
        (Some(200), _) if who.fields.is_empty() => report.ok(
            "whoami",
            &format!("the API accepted the token but named no one (no email, memberId or clientId) ({took})"),
        ),
        (Some(200), _) => {
            let fields: Vec<String> = who.fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
            report.ok("whoami", &format!("{} ({took})", fields.join(", ")));
        }
        (Some(status), _) => report.fail(
            ErrorCode::Http,
            "whoami",
            &format!("GET /v2/whoami answered HTTP {status} to the new token ({took})"),
            "the API refused a token its own endpoint issued: check that the endpoint is the API's base URL for \
             your organisation's cloud",
        ),
        (None, error) => report.fail(
            ErrorCode::Network,
            "whoami",
            &format!("GET /v2/whoami failed: {}", error.as_deref().unwrap_or("no answer")),
            "check the network path to the API",
        ),
    }
    if let Some(offset) = who.clock_offset {
        let side = if offset > 0.0 { "behind" } else { "ahead of" };
        let text = format!("this machine's clock is {:.0} s {side} Sigma's", offset.abs());
        if offset.abs() > CLOCK_TOLERANCE {
            report.warn("clock", &text, "synchronise it (NTP): signed embed URLs carry the local time");
        } else {
            report.ok("clock", &format!("within {CLOCK_TOLERANCE:.0} s of Sigma's ({text})"));
        }
    }
}

fn cache(options: &Options, report: &mut Report) {
    if crate::profile(options).is_some() {
        return report.ok("cache", "not used with a sign-in: its store shares tokens between processes");
    }
    let Some(dir) = cache_dir(options) else {
        let why = if options.no_cache { "--no-cache" } else { "no SIGMA_TOKEN_CACHE, XDG_CACHE_HOME or HOME" };
        return report.ok("cache", &format!("off ({why}): every run requests a token"));
    };
    let shown = dir.display();
    match sigma_auth::check_token_cache_dir(&dir) {
        Ok(true) => report.ok("cache", &format!("{shown}: a private directory of this user")),
        Ok(false) => report.ok("cache", &format!("{shown}: not there yet; made (mode 700) on first use")),
        Err(why) => report.fail(
            ErrorCode::InvalidArgument,
            "cache",
            &format!("{shown} {why}; the cache is not used, so every run requests a token"),
            &format!(
                "if {shown} is the cache's own directory, chmod 700 it; else point --cache-dir (or \
                 SIGMA_TOKEN_CACHE) at a directory of its own, such as {}",
                dir.join("sigma-auth").display()
            ),
        ),
    }
}

/// The token store shared by hosts, when one is set: a connection of its own
/// and a PING, timed. A store that cannot be used is a warning, not a
/// failure: every call goes on without it (each host then requests its own
/// tokens). Its URL is only ever shown as the library shows it (no password).
fn store(config: &Config, report: &mut Report) {
    let Some(probe) = sigma_auth::probe_token_store(config) else { return };
    let tls = if probe.tls { "yes" } else { "no" };
    let url = if probe.url.is_empty() { "the token store" } else { probe.url.as_str() };
    match (&probe.error, probe.connect) {
        (None, Some(connect)) => {
            let round_trip = probe.round_trip.map_or_else(|| "-".to_string(), ms);
            let version = probe.version.as_deref().unwrap_or("unknown");
            report.ok(
                "store",
                &format!("{url}: TLS {tls}, connect {}, round trip {round_trip}, server {version}", ms(connect)),
            );
        }
        (error, connect) => {
            let why = error.as_deref().unwrap_or("no answer");
            let text = match connect {
                None => format!("{url} (TLS {tls}) is unreachable: {why}; tokens are not shared with other hosts"),
                Some(took) => format!(
                    "{url} (TLS {tls}) connected ({}) but is not usable: {why}; tokens are not shared with other hosts",
                    ms(took)
                ),
            };
            report.warn(
                "store",
                &text,
                "check that Redis runs there and that this host may reach it (firewall; rediss:// if it requires TLS, \
                 with --ca-file if its certificate is not in the system store; the user and password in \
                 SIGMA_TOKEN_STORE); calls go on without it meanwhile",
            );
        }
    }
}
