//! `sigma-token`: prints a valid Sigma API access token, for shell scripts.
//!
//!     curl -H "Authorization: Bearer $(sigma-token)" "$SIGMA_BASE_URL/v2/whoami"
//!
//! Tokens are shared between runs through a cache directory, so a script that
//! calls it a thousand times makes one token request an hour, not a thousand.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sigma_auth::{Client, Config, ErrorCode, CLOUDS};

const HELP: &str = "\
sigma-token: print a valid Sigma REST API access token on stdout.

USAGE:
    sigma-token [OPTIONS]
    sigma-token embed-url URL --email EMAIL [--claim NAME=VALUE]... [--ttl SECONDS]

EXAMPLES:
    export SIGMA_BASE_URL=aws-us-east SIGMA_CLIENT_ID=... SIGMA_CLIENT_SECRET=...
    curl -H \"Authorization: Bearer $(sigma-token)\" https://api.us-a.aws.sigmacomputing.com/v2/whoami
    sigma-token --json
    sigma-token --client-secret-file ~/.config/sigma/secret --endpoint aws-eu --client-id abc123
    pass show sigma | sigma-token --client-secret-file -
    sigma-token --impersonate viewer@example.com       (admin credentials: a token of that user)
    SIGMA_EMBED_CLIENT_ID=... SIGMA_EMBED_SECRET=... \
      sigma-token embed-url https://app.sigmacomputing.com/org/workbook/w --email viewer@example.com \
      --claim 'teams=[\"Sales\"]' --claim account_type=Viewer

OPTIONS:
    -e, --endpoint URL|CLOUD   Base URL or cloud name (default: $SIGMA_BASE_URL)
        --client-id ID         Client id (default: $SIGMA_CLIENT_ID)
        --client-secret-file F Read the client secret from file F, or from stdin if F is -
                               (default: $SIGMA_CLIENT_SECRET). There is deliberately no
                               option taking the secret itself: it would show in `ps`.
        --cache-dir DIR        Share tokens between runs in DIR (default: $SIGMA_TOKEN_CACHE,
                               else $XDG_CACHE_HOME/sigma-auth or ~/.cache/sigma-auth)
        --no-cache             Request a new token every run
        --timeout SECONDS      Overall deadline (default 30)
        --ca-file PEM          Trust only these CA certificates for HTTPS
        --json                 Print {access_token, token_type, expires_in, expires_at} as JSON
                               (the refresh token stays in the cache: using it elsewhere would
                               break rotation)
        --impersonate EMAIL    A token of this user instead, by token exchange (Sigma's
                               impersonation, beta): the credentials must be an admin's
        --tenant ID            With --impersonate: in this tenant organisation
        --clouds               List the cloud names and their base URLs
    -h, --help                 This help

EMBED-URL OPTIONS (signs a secure-embed URL and prints it):
        --email EMAIL          The user (the sub claim), required
        --claim NAME=VALUE     Another claim; VALUE is read as JSON when it parses (lists,
                               objects), else as text. Repeatable.
        --ttl SECONDS          Lifetime of the token (default 3600; at most 2592000)
        --client-id ID         Embed client id (default: $SIGMA_EMBED_CLIENT_ID)
        --secret-file F        Read the embed secret from file F, or stdin if F is -
                               (default: $SIGMA_EMBED_SECRET); never a flag value
    -V, --version              The version

EXIT STATUS:
    0 success; otherwise the sigma_status code: 1 invalid argument, 2 insecure URL,
    3 network, 4 timeout, 5 invalid client, 6 invalid grant, 7 rate limited,
    8 server error, 9 unexpected HTTP status, 10 protocol, 11 internal,
    12 forbidden; 64 usage error.";

const EXIT_USAGE: u8 = 64;

/// A failure with the exit status it maps to: the library's `sigma_status`
/// code, or INVALID_ARGUMENT / INTERNAL for the command's own checks.
struct Failure {
    code: ErrorCode,
    message: String,
}

impl From<sigma_auth::Error> for Failure {
    fn from(error: sigma_auth::Error) -> Self {
        Failure { code: error.code(), message: error.to_string() }
    }
}

fn failure(code: ErrorCode, message: String) -> Failure {
    Failure { code, message: format!("{code}: {message}") }
}

#[derive(Default)]
struct Options {
    endpoint: Option<String>,
    client_id: Option<String>,
    secret_file: Option<String>,
    cache_dir: Option<PathBuf>,
    no_cache: bool,
    timeout: Option<f64>,
    ca_file: Option<PathBuf>,
    json: bool,
    impersonate: Option<String>,
    tenant: Option<String>,
}

#[derive(Default)]
struct EmbedOptions {
    url: Option<String>,
    email: Option<String>,
    claims: Vec<(String, String)>,
    ttl: Option<String>,
    client_id: Option<String>,
    secret_file: Option<String>,
}

enum Command {
    Token(Options),
    EmbedUrl(EmbedOptions),
    Clouds,
    Help,
    Version,
}

fn main() -> ExitCode {
    let command = match parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("sigma-token: {message} (see sigma-token --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("sigma-token {}", sigma_auth::VERSION);
            return ExitCode::SUCCESS;
        }
        Command::Clouds => {
            for (name, url) in CLOUDS {
                println!("{name:<12} {url}");
            }
            return ExitCode::SUCCESS;
        }
        Command::Token(options) => print_token(options),
        Command::EmbedUrl(options) => print_embed_url(options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("sigma-token: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut options = Options::default();
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|a| a == "embed-url") {
        args.next();
        return parse_embed(args);
    }
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--clouds" => return Ok(Command::Clouds),
            "-e" | "--endpoint" => options.endpoint = Some(value(&arg)?),
            "--client-id" => options.client_id = Some(value(&arg)?),
            "--client-secret-file" => options.secret_file = Some(value(&arg)?),
            "--cache-dir" => options.cache_dir = Some(PathBuf::from(value(&arg)?)),
            "--no-cache" => options.no_cache = true,
            "--timeout" => {
                let v = value(&arg)?;
                options.timeout = Some(v.parse().map_err(|_| format!("--timeout: not a number of seconds: {v}"))?);
            }
            "--ca-file" => options.ca_file = Some(PathBuf::from(value(&arg)?)),
            "--json" => options.json = true,
            "--impersonate" => options.impersonate = Some(value(&arg)?),
            "--tenant" => options.tenant = Some(value(&arg)?),
            "--client-secret" => {
                return Err("--client-secret is not accepted (it would show in `ps`); use \
                            SIGMA_CLIENT_SECRET or --client-secret-file"
                    .into())
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if options.tenant.is_some() && options.impersonate.is_none() {
        return Err("--tenant goes with --impersonate".into());
    }
    Ok(Command::Token(options))
}

fn parse_embed(args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut options = EmbedOptions::default();
    let mut args = args;
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--email" => options.email = Some(value(&arg)?),
            "--claim" => {
                let claim = value(&arg)?;
                let (name, text) =
                    claim.split_once('=').ok_or_else(|| format!("--claim {claim}: expected NAME=VALUE"))?;
                options.claims.push((name.to_string(), text.to_string()));
            }
            "--ttl" => options.ttl = Some(value(&arg)?),
            "--client-id" => options.client_id = Some(value(&arg)?),
            "--secret-file" => options.secret_file = Some(value(&arg)?),
            "--secret" | "--embed-secret" => {
                return Err(format!(
                    "{arg} is not accepted (it would show in `ps`); use SIGMA_EMBED_SECRET or --secret-file"
                ))
            }
            flag if flag.starts_with('-') => return Err(format!("unknown embed-url argument: {flag}")),
            url if options.url.is_none() => options.url = Some(url.to_string()),
            extra => return Err(format!("unexpected argument: {extra}")),
        }
    }
    if options.url.is_none() {
        return Err("embed-url needs the URL to sign".into());
    }
    if options.email.is_none() {
        return Err("embed-url needs --email (the user)".into());
    }
    Ok(Command::EmbedUrl(options))
}

fn print_embed_url(options: EmbedOptions) -> Result<(), Failure> {
    let client_id = required(options.client_id, "SIGMA_EMBED_CLIENT_ID", "--client-id")?;
    let secret = zeroize::Zeroizing::new(match options.secret_file.as_deref() {
        Some(path) => read_secret(path)?,
        None => required(None, "SIGMA_EMBED_SECRET", "--secret-file")?,
    });
    let ttl: u64 = match options.ttl {
        Some(text) => text
            .parse()
            .map_err(|_| failure(ErrorCode::InvalidArgument, format!("--ttl: not a number of seconds: {text}")))?,
        None => 3600,
    };
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), serde_json::Value::from(options.email.unwrap_or_default()));
    for (name, text) in options.claims {
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        claims.insert(name, value);
    }
    let url = sigma_auth::sign_embed_url(
        &options.url.unwrap_or_default(),
        client_id.trim(),
        secret.trim(),
        &claims,
        Duration::from_secs(ttl),
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{url}")
        .and_then(|_| out.flush())
        .map_err(|e| failure(ErrorCode::Internal, format!("cannot write the URL to stdout: {e}")))
}

fn print_token(options: Options) -> Result<(), Failure> {
    let endpoint = required(options.endpoint, "SIGMA_BASE_URL", "--endpoint")?;
    let client_id = required(options.client_id, "SIGMA_CLIENT_ID", "--client-id")?;
    let secret = zeroize::Zeroizing::new(match options.secret_file.as_deref() {
        Some(path) => read_secret(path)?,
        None => required(None, "SIGMA_CLIENT_SECRET", "--client-secret-file")?,
    });
    let mut config = Config::new(&endpoint, client_id.trim(), secret.trim())?;
    config.set_language("cli")?;
    if let Some(seconds) = options.timeout {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(failure(ErrorCode::InvalidArgument, "--timeout must be a positive number of seconds".into()));
        }
        config.set_timeout(Duration::from_secs_f64(seconds.min(3600.0)))?;
    }
    if let Some(ca) = &options.ca_file {
        config.set_ca_file(ca)?;
    }
    if !options.no_cache {
        if let Some(dir) = options.cache_dir.or_else(default_cache_dir) {
            config.set_token_cache(dir)?;
        }
    }

    let client = Client::new(config);
    let token = match &options.impersonate {
        Some(email) => client.impersonate(email, options.tenant.as_deref())?.token()?,
        None => client.token()?,
    };
    let mut out = std::io::stdout().lock();
    let written = if options.json {
        let json = serde_json::json!({
            "access_token": token.access_token(),
            "token_type": token.token_type(),
            "expires_in": token.expires_in().as_secs(),
            "expires_at": token.expires_at_unix(),
        });
        writeln!(out, "{json}")
    } else if out.is_terminal() {
        writeln!(out, "{}", token.access_token())
    } else {
        // No newline for $(...) and pipes that keep it.
        write!(out, "{}", token.access_token())
    };
    written
        .and_then(|_| out.flush())
        .map_err(|e| failure(ErrorCode::Internal, format!("cannot write the token to stdout: {e}")))
}

fn required(flag_value: Option<String>, variable: &str, flag: &str) -> Result<String, Failure> {
    flag_value
        .or_else(|| std::env::var(variable).ok())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| failure(ErrorCode::InvalidArgument, format!("set {variable} or pass {flag}")))
}

fn read_secret(path: &str) -> Result<String, Failure> {
    let mut secret = String::new();
    let read = if path == "-" {
        std::io::stdin().read_to_string(&mut secret).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut secret)).map(|_| ())
    };
    read.map_err(|e| failure(ErrorCode::InvalidArgument, format!("cannot read the client secret from {path}: {e}")))?;
    Ok(secret)
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SIGMA_TOKEN_CACHE").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("sigma-auth"))
}
