//! `sigma-token`: prints a valid Sigma API access token, for shell scripts.
//!
//!     curl -H "Authorization: Bearer $(sigma-token)" "$SIGMA_BASE_URL/v2/whoami"
//!     sigma-token --format curl-header | curl -H @- "$SIGMA_BASE_URL/v2/whoami"
//!     sigma-token exec -- python report.py          (SIGMA_API_TOKEN in its environment)
//!     sigma-token --format header-json --output-file ~/.config/mcp/sigma.json --watch
//!
//! Tokens are shared between runs through a cache directory, so a script that
//! calls it a thousand times makes one token request an hour, not a thousand.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sigma_auth::{Client, Config, ErrorCode, CLOUDS};
use zeroize::Zeroizing;

mod doctor;
mod login;
mod output;

use output::{file_failure, render, watch, write_output_file, Format};

const HELP: &str = "\
sigma-token: print a valid Sigma REST API access token on stdout.

USAGE:
    sigma-token [OPTIONS]
    sigma-token [OPTIONS] --output-file PATH [--watch]
    sigma-token [OPTIONS] exec [--env NAME] -- COMMAND [ARGS...]
    sigma-token [OPTIONS] doctor
    sigma-token embed-url URL --email EMAIL [--claim NAME=VALUE]... [--ttl SECONDS]
    sigma-token login [--endpoint URL|CLOUD] [--profile NAME] [--scope \"api:access mcp:access\"]
                      [--no-browser] [--timeout SECONDS]
    sigma-token --profile NAME [OPTIONS]               (a token of the person signed in)
    sigma-token logout [--profile NAME]
    sigma-token profiles

EXAMPLES:
    export SIGMA_BASE_URL=aws-us-east SIGMA_CLIENT_ID=... SIGMA_CLIENT_SECRET=...
    curl -H \"Authorization: Bearer $(sigma-token)\" https://api.us-a.aws.sigmacomputing.com/v2/whoami
    sigma-token --format curl-header | curl -H @- https://api.us-a.aws.sigmacomputing.com/v2/whoami
    eval \"$(sigma-token --format env)\"; curl -H \"Authorization: Bearer $SIGMA_API_TOKEN\" \"$SIGMA_API_BASE_URL/v2/whoami\"
    sigma-token exec -- python report.py               (SIGMA_API_TOKEN and SIGMA_API_BASE_URL set for it)
    sigma-token --format header-json --output-file ~/.config/sigma/headers.json --watch
    sigma-token --client-secret-file ~/.config/sigma/secret --endpoint aws-eu --client-id abc123
    pass show sigma | sigma-token --client-secret-file -
    sigma-token --impersonate viewer@example.com       (admin credentials: a token of that user)
    sigma-token login --endpoint aws-us-east --scope \"api:access mcp:access\"   (a person signs in)
    sigma-token --profile default --format header-json  (their token, e.g. for Sigma's MCP server)
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
        --token-store URL      Share tokens between hosts through Redis (default: $SIGMA_TOKEN_STORE;
                               this option wins): redis://host[:port][/db], or rediss:// for
                               TLS. A URL with a user or password is refused here (it would
                               show in `ps`): put that one in SIGMA_TOKEN_STORE. Redis down never fails
                               a run: it goes on without the store
        --timeout SECONDS      Overall deadline (default 30)
        --ca-file PEM          Trust only these CA certificates for HTTPS
        --format FORMAT        What to print (the refresh token is never printed: using it
                               elsewhere would break rotation):
            token              the token alone (default); a newline follows only on a terminal
            header-json        {\"Authorization\": \"Bearer TOKEN\"} (MCP clients' header helpers)
            credential-json    {\"version\": 1, \"token_type\": \"Bearer\", \"access_token\": ...,
                               \"expires_at\": \"2026-11-29T10:00:00Z\"} (like AWS credential_process)
            env                export SIGMA_API_TOKEN='...' and export SIGMA_API_BASE_URL='...',
                               quoted for sh: eval \"$(sigma-token --format env)\"
            curl-header        Authorization: Bearer TOKEN (for curl -H @-)
            json               {access_token, token_type, expires_in, expires_at (Unix seconds)}
        --json                 The older spelling of --format json (same output)
        --output-file PATH     Write the output to PATH instead of stdout: atomically (a temp
                               file in the same directory, mode 0600, renamed over PATH), and
                               only when it changed (PATH and its mtime are left alone otherwise)
        --watch                With --output-file: keep running and rewrite PATH each time the
                               token is refreshed (once per refresh window, before expiry),
                               or if something else changed or removed it; exits 0 on SIGTERM
                               or SIGINT (11 if stopped before it wrote a token). A failed
                               refresh keeps the old file, prints one line on stderr and is
                               retried.
        --profile NAME         A token of the person signed in under NAME (sigma-token login;
                               default: $SIGMA_PROFILE) instead of client credentials; the
                               profile knows its endpoint. Refreshed through the stored sign-in,
                               shared by every process; no token cache is used
        --impersonate EMAIL    A token of this user instead, by token exchange (Sigma's
                               impersonation, beta): the credentials must be an admin's
        --tenant ID            With --impersonate: in this tenant organisation
        --clouds               List the cloud names and their base URLs
    -v, --verbose              Print the library's events on stderr (requests, retries,
                               fallbacks, cache hits; never a secret or token)
    -h, --help                 This help

EXEC (sigma-token [OPTIONS] exec [--env NAME] -- COMMAND [ARGS...]):
    Gets the token as above (same options, same cache), then runs COMMAND in place of
    sigma-token (exec: same process, COMMAND's exit status is the exit status) with
    the token in the environment variable NAME (default SIGMA_API_TOKEN) and the API
    base URL in SIGMA_API_BASE_URL, and without SIGMA_CLIENT_SECRET (it gets a token
    instead of the secret); the rest of the environment is passed on as it is.
    sigma-token's options go before `exec`; `--` is required before COMMAND. If COMMAND
    cannot be run: 127 when it is not found, else 126.
        --env NAME             The variable that gets the token (default SIGMA_API_TOKEN)

DOCTOR (sigma-token [OPTIONS] doctor):
    Checks the settings (endpoint, credentials, proxy, trusted CAs), then times the name
    lookup, the connection, the TLS handshake and a token request, calls /v2/whoami with
    the token to show who you are, compares the clocks, checks the token cache
    directory, and, when one is set, connects to the token store (its URL shown without
    the password, TLS, connect and round-trip times, the server's version). One line per
    finding: ok, warn or fail, and for a problem what to do. Prints no secret, password
    or token. Exit status 0 when nothing failed, else the first failure's code (below);
    warnings do not count, and a token store that cannot be reached is a warning (runs go
    on without it), while a token store URL the library refuses is a failure.

LOGIN (sigma-token login [OPTIONS]): a person signs in from a browser (Sigma's OAuth for the
REST API): the sign-in is discovered from the endpoint, this program registers itself, the
browser is sent to Sigma's sign-in page and back to this program on 127.0.0.1. The sign-in is
kept in the OS keyring (Secret Service) or, without one, in a private file under
$XDG_CONFIG_HOME/sigma-auth (SIGMA_KEYRING=secret-service|file chooses); its refresh token is
never printed.
        --endpoint URL|CLOUD   Where to sign in (default: $SIGMA_BASE_URL)
        --profile NAME         Store it under NAME (default: default)
        --scope SCOPES         Space-separated: api:access (the REST API, default), mcp:access
                               (Sigma's hosted MCP server, which takes only people's tokens)
        --no-browser           Print the URL instead of opening a browser, and also accept the
                               URL the browser was sent back to, pasted on stdin (SSH sessions)
        --timeout SECONDS      How long to wait for the browser (default 300)
    The browser: $BROWSER when set (run with the URL as its argument), else xdg-open on a
    desktop, else the URL is printed.
LOGOUT (sigma-token logout [--profile NAME]): revokes the sign-in at Sigma, then forgets it.
PROFILES (sigma-token profiles): the stored sign-ins: name, email, scopes, expiry. No token.

EMBED-URL OPTIONS (signs a secure-embed URL and prints it):
        --email EMAIL          The user (the sub claim), required
        --claim NAME=VALUE     Another claim; VALUE is read as JSON when it parses (lists,
                               objects), else as text. Repeatable.
        --ttl SECONDS          Lifetime of the token (default 3600; at most 2592000)
        --client-id ID         Embed client id (default: $SIGMA_EMBED_CLIENT_ID)
        --secret-file F        Read the embed secret from file F, or stdin if F is -
                               (default: $SIGMA_EMBED_SECRET); never a flag value
        --oauth-token-file F   A warehouse OAuth token (file F, or - for stdin) for the
                               oauth_token claim, encrypted with the embed secret as Sigma's
                               Node embed SDK does; sets ver 1.1 and aud sigmacomputing
    Claims sigma-token or the library set (sub, exp, iat, jti, kid, oauth_token) are
    refused as --claim.
    -V, --version              The version

SIGMA_API_BASE_URL (env format and exec) is the API base URL, the token URL without
its /v2/auth/token, e.g. https://api.us-a.aws.sigmacomputing.com.

EXIT STATUS (the library's sigma_status codes, and the command's own):";

const EXIT_USAGE: u8 = 64;

/// The help: [`HELP`], then the exit statuses, one line each, from the
/// library's table of error codes.
fn help() -> String {
    let mut help = format!("{HELP}\n    0   success\n");
    for code in sigma_auth::ErrorCode::ALL {
        let mut line = format!("    {:<3} {:<17}", *code as u8, code.name());
        for word in code.description().split(' ') {
            if line.len() + 1 + word.len() > HELP_WIDTH {
                help.push_str(&line);
                help.push('\n');
                line = " ".repeat(25);
            }
            line.push(' ');
            line.push_str(word);
        }
        help.push_str(&line);
        help.push('\n');
    }
    help.push_str(&format!("    {EXIT_USAGE:<3} usage error\n"));
    help.push_str("    exec: COMMAND's status, or 126/127 as above.");
    help
}

/// Where the generated lines of the help wrap.
const HELP_WIDTH: usize = 100;

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
    token_store: Option<String>,
    timeout: Option<f64>,
    ca_file: Option<PathBuf>,
    json: bool,
    format: Option<Format>,
    output_file: Option<PathBuf>,
    watch: bool,
    impersonate: Option<String>,
    tenant: Option<String>,
    profile: Option<String>,
    verbose: bool,
}

impl Options {
    fn format(&self) -> Format {
        self.format.unwrap_or(if self.json { Format::Json } else { Format::Token })
    }
}

/// `exec [--env NAME] -- COMMAND [ARGS...]`.
struct ExecOptions {
    env: String,
    command: OsString,
    args: Vec<OsString>,
}

const DEFAULT_TOKEN_VARIABLE: &str = "SIGMA_API_TOKEN";
const BASE_URL_VARIABLE: &str = "SIGMA_API_BASE_URL";
const SECRET_VARIABLE: &str = "SIGMA_CLIENT_SECRET";

#[derive(Default)]
struct EmbedOptions {
    url: Option<String>,
    email: Option<String>,
    claims: Vec<(String, String)>,
    ttl: Option<String>,
    client_id: Option<String>,
    secret_file: Option<String>,
    oauth_token_file: Option<String>,
}

/// `login [OPTIONS]`.
struct LoginOptions {
    endpoint: Option<String>,
    profile: Option<String>,
    scope: Option<String>,
    no_browser: bool,
    timeout: Option<f64>,
}

enum Command {
    Login(LoginOptions),
    Logout(Option<String>),
    Profiles,
    Token(Options),
    Exec(Options, ExecOptions),
    Doctor(Options),
    EmbedUrl(EmbedOptions),
    Clouds,
    Help,
    Version,
}

fn main() -> ExitCode {
    let command = match parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("sigma-token: {message} (see sigma-token --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{}", help());
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
        Command::Token(options) => print_token(options).map(|()| ExitCode::SUCCESS),
        Command::Exec(options, exec) => exec_command(options, exec),
        Command::Doctor(options) => Ok(doctor::run(&options)),
        Command::EmbedUrl(options) => print_embed_url(options).map(|()| ExitCode::SUCCESS),
        Command::Login(options) => login::login(options).map(|()| ExitCode::SUCCESS),
        Command::Logout(profile) => login::logout(profile).map(|()| ExitCode::SUCCESS),
        Command::Profiles => login::profiles().map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("sigma-token: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}

fn utf8(arg: OsString) -> Result<String, String> {
    arg.into_string().map_err(|arg| format!("not valid UTF-8: {}", arg.to_string_lossy()))
}

fn next_value(args: &mut impl Iterator<Item = OsString>, flag: &str) -> Result<String, String> {
    utf8(args.next().ok_or_else(|| format!("{flag} needs a value"))?)
}

fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut options = Options::default();
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|a| a == "embed-url") {
        args.next();
        return parse_embed(args.map(utf8).collect::<Result<Vec<_>, _>>()?.into_iter());
    }
    if let Some(word) = args.peek().and_then(|a| a.to_str()).filter(|a| ["login", "logout", "profiles"].contains(a)) {
        let word = word.to_string();
        args.next();
        return parse_signin(&word, args.map(utf8).collect::<Result<Vec<_>, _>>()?.into_iter());
    }
    while let Some(arg) = args.next() {
        let arg = utf8(arg)?;
        let args = &mut args;
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--clouds" => return Ok(Command::Clouds),
            "-e" | "--endpoint" => options.endpoint = Some(next_value(args, &arg)?),
            "--client-id" => options.client_id = Some(next_value(args, &arg)?),
            "--client-secret-file" => options.secret_file = Some(next_value(args, &arg)?),
            "--cache-dir" => options.cache_dir = Some(PathBuf::from(next_value(args, &arg)?)),
            "--no-cache" => options.no_cache = true,
            "--token-store" => options.token_store = Some(next_value(args, &arg)?),
            "--timeout" => {
                let v = next_value(args, &arg)?;
                options.timeout = Some(v.parse().map_err(|_| format!("--timeout: not a number of seconds: {v}"))?);
            }
            "--ca-file" => options.ca_file = Some(PathBuf::from(next_value(args, &arg)?)),
            "--json" => options.json = true,
            "--format" => options.format = Some(Format::parse(&next_value(args, &arg)?)?),
            "--output-file" => {
                let path = args.next().ok_or("--output-file needs a value")?;
                if path.is_empty() {
                    return Err("--output-file needs a path".into());
                }
                options.output_file = Some(PathBuf::from(path));
            }
            "--watch" => options.watch = true,
            "-v" | "--verbose" => options.verbose = true,
            "--impersonate" => options.impersonate = Some(next_value(args, &arg)?),
            "--tenant" => options.tenant = Some(next_value(args, &arg)?),
            "--profile" => options.profile = Some(next_value(args, &arg)?),
            "--client-secret" => {
                return Err("--client-secret is not accepted (it would show in `ps`); use \
                            SIGMA_CLIENT_SECRET or --client-secret-file"
                    .into())
            }
            "doctor" => {
                if let Some(extra) = args.next() {
                    return Err(format!("doctor takes no arguments after it: {}", extra.to_string_lossy()));
                }
                check(&options, Mode::Doctor)?;
                return Ok(Command::Doctor(options));
            }
            "exec" => {
                let exec = parse_exec(args)?;
                check(&options, Mode::Exec)?;
                return Ok(Command::Exec(options, exec));
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    check(&options, Mode::Print)?;
    Ok(Command::Token(options))
}

/// `login`, `logout` and `profiles`, with what follows them.
fn parse_signin(word: &str, mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut options = LoginOptions { endpoint: None, profile: None, scope: None, no_browser: false, timeout: None };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match (word, arg.as_str()) {
            (_, "-h" | "--help") => return Ok(Command::Help),
            ("login" | "logout", "--profile") => options.profile = Some(value(&arg)?),
            ("login", "-e" | "--endpoint") => options.endpoint = Some(value(&arg)?),
            ("login", "--scope") => options.scope = Some(value(&arg)?),
            ("login", "--no-browser") => options.no_browser = true,
            ("login", "--timeout") => {
                let v = value(&arg)?;
                let seconds: f64 = v.parse().map_err(|_| format!("--timeout: not a number of seconds: {v}"))?;
                if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0) {
                    return Err("--timeout must be between 0 and 3600 seconds".into());
                }
                options.timeout = Some(seconds);
            }
            (_, other) => return Err(format!("unknown {word} argument: {other}")),
        }
    }
    Ok(match word {
        "login" => Command::Login(options),
        "logout" => Command::Logout(options.profile),
        _ => Command::Profiles,
    })
}

/// The combinations of options that make no sense.
fn check(options: &Options, mode: Mode) -> Result<(), String> {
    if options.profile.is_some() && (options.client_id.is_some() || options.secret_file.is_some()) {
        return Err("--profile is a person's sign-in: it takes no --client-id or --client-secret-file".into());
    }
    if options.profile.is_some() && options.impersonate.is_some() {
        return Err("--impersonate needs an admin's client credentials, not a person's sign-in (--profile)".into());
    }
    if options.tenant.is_some() && options.impersonate.is_none() {
        return Err("--tenant goes with --impersonate".into());
    }
    if options.json && options.format.is_some_and(|f| f != Format::Json) {
        return Err("--json is the older spelling of --format json: give one format".into());
    }
    let output = options.json || options.format.is_some() || options.output_file.is_some() || options.watch;
    match mode {
        Mode::Exec if output => Err("exec takes no --format, --json, --output-file or --watch: the token goes into \
                                     the command's environment"
            .into()),
        Mode::Doctor if output || options.impersonate.is_some() => {
            Err("doctor takes the connection options only (no --format, --output-file, --watch or --impersonate)"
                .into())
        }
        Mode::Print if options.watch && options.output_file.is_none() => {
            Err("--watch goes with --output-file PATH (the file it keeps fresh)".into())
        }
        _ => Ok(()),
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Print,
    Exec,
    Doctor,
}

/// After `exec`: `[--env NAME] -- COMMAND [ARGS...]`, `--` required.
fn parse_exec(args: &mut impl Iterator<Item = OsString>) -> Result<ExecOptions, String> {
    let mut env = DEFAULT_TOKEN_VARIABLE.to_string();
    loop {
        let arg = utf8(args.next().ok_or("exec needs -- COMMAND [ARGS...]")?)?;
        match arg.as_str() {
            "--" => break,
            "--env" => env = next_value(args, &arg)?,
            flag if flag.starts_with('-') => return Err(format!("unknown exec argument: {flag}")),
            word => {
                return Err(format!(
                    "exec needs `--` before the command: sigma-token [OPTIONS] exec [--env NAME] -- {word} ..."
                ))
            }
        }
    }
    let valid = env.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(format!("exec --env: {env:?} is not a variable name (letters, digits and _)"));
    }
    if env == BASE_URL_VARIABLE {
        return Err(format!("exec --env: {BASE_URL_VARIABLE} holds the base URL; choose another name"));
    }
    let command = args.next().ok_or("exec needs a COMMAND after --")?;
    Ok(ExecOptions { env, command, args: args.collect() })
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
                if ["sub", "exp", "iat", "jti", "kid", "oauth_token"].contains(&name) {
                    return Err(format!(
                        "--claim {name}: set by sigma-token (--email, --ttl, --oauth-token-file) or the library, \
                         never by a claim"
                    ));
                }
                options.claims.push((name.to_string(), text.to_string()));
            }
            "--ttl" => options.ttl = Some(value(&arg)?),
            "--client-id" => options.client_id = Some(value(&arg)?),
            "--secret-file" => options.secret_file = Some(value(&arg)?),
            "--oauth-token-file" => options.oauth_token_file = Some(value(&arg)?),
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
    let secret = Zeroizing::new(match options.secret_file.as_deref() {
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
    if let Some(path) = options.oauth_token_file.as_deref() {
        // Encrypted as Sigma's Node embed SDK does; it takes ver 1.1 and aud.
        let token = Zeroizing::new(read_secret(path)?);
        let encrypted = sigma_auth::encrypt_embed_oauth_token(token.trim(), secret.trim())?;
        claims.insert("oauth_token".into(), serde_json::Value::from(encrypted));
        claims.entry("ver").or_insert_with(|| serde_json::Value::from("1.1"));
        claims.entry("aud").or_insert_with(|| serde_json::Value::from("sigmacomputing"));
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

/// The profile whose sign-in gives the tokens: `--profile`, else
/// `$SIGMA_PROFILE` when no client id is given either way.
fn profile(options: &Options) -> Option<String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    options.profile.clone().or_else(|| {
        (options.client_id.is_none() && options.secret_file.is_none() && set("SIGMA_CLIENT_ID").is_none())
            .then(|| set("SIGMA_PROFILE"))
            .flatten()
    })
}

/// The config for the token options (events to stderr with `-v`).
fn make_config(options: &Options) -> Result<Config, Failure> {
    let mut config = match profile(options) {
        Some(profile) => Config::from_login(profile.trim())?,
        None => {
            let endpoint = required(options.endpoint.clone(), "SIGMA_BASE_URL", "--endpoint")?;
            let client_id = required(options.client_id.clone(), "SIGMA_CLIENT_ID", "--client-id")?;
            let secret = Zeroizing::new(match options.secret_file.as_deref() {
                Some(path) => read_secret(path)?,
                None => required(None, SECRET_VARIABLE, "--client-secret-file")?,
            });
            Config::new(&endpoint, client_id.trim(), secret.trim())?
        }
    };
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
    if let Some(dir) = cache_dir(options).filter(|_| config.login_profile().is_none()) {
        config.set_token_cache(dir)?;
    }
    // A person's sign-in never goes through the store.
    if let Some(url) = token_store(options)?.filter(|_| config.login_profile().is_none()) {
        // The library's own check first: its message never repeats the URL.
        config.set_token_store(&url)?;
        let shown = config.token_store().unwrap_or_default();
        if options.token_store.is_some() && shown.contains("***@") {
            return Err(failure(
                ErrorCode::InvalidArgument,
                format!(
                    "--token-store {shown}: a password on the command line would show in `ps`; put the URL in \
                     SIGMA_TOKEN_STORE instead"
                ),
            ));
        }
    }
    if options.verbose {
        // Events never hold a secret or a token.
        config.set_event_callback(|event| eprintln!("sigma-token: {event}"));
    }
    Ok(config)
}

/// The token cache directory in use, if any.
fn cache_dir(options: &Options) -> Option<PathBuf> {
    if options.no_cache {
        return None;
    }
    options.cache_dir.clone().or_else(default_cache_dir)
}

/// The token store's URL: `--token-store`, else `$SIGMA_TOKEN_STORE` (trimmed,
/// as the library reads it); None when neither is set.
fn token_store(options: &Options) -> Result<Option<Zeroizing<String>>, Failure> {
    if let Some(url) = &options.token_store {
        return Ok(Some(Zeroizing::new(url.clone())));
    }
    match std::env::var("SIGMA_TOKEN_STORE").map(Zeroizing::new) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(Zeroizing::new(url.trim().to_string()))),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(failure(ErrorCode::InvalidArgument, "SIGMA_TOKEN_STORE is not valid UTF-8".into()))
        }
    }
}

/// The client for the token options: the credentials' own, or the user's
/// with `--impersonate`.
fn make_client(options: &Options) -> Result<Client, Failure> {
    let client = Client::new(make_config(options)?);
    match &options.impersonate {
        Some(email) => Ok(client.impersonate(email, options.tenant.as_deref())?),
        None => Ok(client),
    }
}

fn print_token(options: Options) -> Result<(), Failure> {
    let format = options.format();
    let client = make_client(&options)?;
    let base_url = client.config().endpoint().api_base_url().to_string();
    if let Some(path) = &options.output_file {
        if options.watch {
            return watch(&client, format, &base_url, path);
        }
        let token = client.token()?;
        write_output_file(path, render(format, &token, &base_url, false).as_bytes())
            .map_err(|e| file_failure(path, e))?;
        return Ok(());
    }
    let token = client.token()?;
    let mut out = std::io::stdout().lock();
    // The bare token has no newline for $(...) and pipes that would keep it.
    let text = render(format, &token, &base_url, out.is_terminal());
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| failure(ErrorCode::Internal, format!("cannot write the token to stdout: {e}")))
}

/// `exec`: the token into COMMAND's environment, then COMMAND in place of this
/// process. Returns only when COMMAND cannot be run (127 not found, else 126).
fn exec_command(options: Options, exec: ExecOptions) -> Result<ExitCode, Failure> {
    let client = make_client(&options)?;
    let base_url = client.config().endpoint().api_base_url().to_string();
    let token = client.token()?;
    let mut command = std::process::Command::new(&exec.command);
    // The command gets a token instead of the secret, not as well as it.
    command
        .args(&exec.args)
        .env_remove(SECRET_VARIABLE)
        .env(&exec.env, token.access_token())
        .env(BASE_URL_VARIABLE, &base_url);
    let error = std::os::unix::process::CommandExt::exec(&mut command);
    let status = if error.kind() == io::ErrorKind::NotFound { 127 } else { 126 };
    eprintln!("sigma-token: cannot run {}: {error}", exec.command.to_string_lossy());
    Ok(ExitCode::from(status))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_grammar() {
        let parse_args = |args: &[&str]| parse(args.iter().map(OsString::from));
        match parse_args(&["--no-cache", "exec", "--env", "MY_TOKEN", "--", "sh", "-c", "exit 7"]) {
            Ok(Command::Exec(options, exec)) => {
                assert!(options.no_cache);
                assert_eq!(exec.env, "MY_TOKEN");
                assert_eq!(exec.command, "sh");
                assert_eq!(exec.args, ["-c", "exit 7"]);
            }
            _ => panic!("not an exec"),
        }
        match parse_args(&["exec", "--", "env", "--", "x"]) {
            Ok(Command::Exec(_, exec)) => {
                assert_eq!(exec.env, DEFAULT_TOKEN_VARIABLE);
                assert_eq!(exec.args, ["--", "x"]);
            }
            _ => panic!("not an exec"),
        }
        for bad in [
            &["exec", "sh"][..],
            &["exec"],
            &["exec", "--"],
            &["exec", "--env", "1X", "--", "sh"],
            &["exec", "--env", "A-B", "--", "sh"],
            &["exec", "--env", BASE_URL_VARIABLE, "--", "sh"],
            &["--format", "env", "exec", "--", "sh"],
            &["--output-file", "f", "exec", "--", "sh"],
        ] {
            assert!(parse_args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn format_options() {
        let parse_args = |args: &[&str]| parse(args.iter().map(OsString::from));
        for (args, want) in [
            (&[][..], Format::Token),
            (&["--json"], Format::Json),
            (&["--format", "json", "--json"], Format::Json),
            (&["--format", "header-json"], Format::HeaderJson),
            (&["--format", "credential-json"], Format::CredentialJson),
            (&["--format", "env"], Format::Env),
            (&["--format", "curl-header"], Format::CurlHeader),
            (&["--format", "token"], Format::Token),
            (&["-v", "--no-cache"], Format::Token),
        ] {
            match parse_args(args) {
                Ok(Command::Token(options)) => assert_eq!(options.format(), want, "{args:?}"),
                _ => panic!("{args:?}"),
            }
        }
        for bad in [
            &["--format", "yaml"][..],
            &["--format"],
            &["--json", "--format", "env"],
            &["--watch"],
            &["--output-file", ""],
            &["--format", "env", "doctor"],
            &["--impersonate", "a@b.c", "doctor"],
            &["doctor", "--verbose"],
        ] {
            assert!(parse_args(bad).is_err(), "{bad:?}");
        }
    }
}
