//! `sigma-token login`, `logout` and `profiles`: a person's sign-in.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use sigma_auth::{ErrorCode, LoginBackend, LoginOptions as Options, Profile, DEFAULT_PROFILE};

use super::{failure, Failure, LoginOptions};

pub(super) fn login(options: LoginOptions) -> Result<(), Failure> {
    let endpoint =
        options
            .endpoint
            .or_else(|| std::env::var("SIGMA_BASE_URL").ok())
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| failure(ErrorCode::InvalidArgument, "set SIGMA_BASE_URL or pass --endpoint".into()))?;
    let mut request = Options::new(endpoint.trim());
    if let Some(profile) = options.profile {
        request.profile = profile;
    }
    if let Some(scope) = options.scope {
        request.scopes = scope;
    }
    if let Some(seconds) = options.timeout {
        request.timeout = Duration::from_secs_f64(seconds);
    }
    let pending = sigma_auth::begin_login(&request)?;
    let url = pending.authorize_url().to_string();
    let mut stderr = std::io::stderr().lock();
    let pasted = if options.no_browser {
        let _ = writeln!(
            stderr,
            "sigma-token: open this URL in a browser and sign in:\n\n    {url}\n\n\
             Then, if the browser cannot reach this machine, paste the URL it was sent to (starting with {}) here:",
            pending.redirect_uri()
        );
        Some(read_lines())
    } else {
        match open_browser(&url) {
            Some(how) => {
                let _ = writeln!(
                    stderr,
                    "sigma-token: opened {how}; waiting for the sign-in (or open this URL):\n    {url}"
                );
            }
            None => {
                let _ = writeln!(stderr, "sigma-token: open this URL in a browser and sign in:\n    {url}");
            }
        }
        None
    };
    drop(stderr);
    let done = match pasted {
        Some(lines) => pending.wait_with(|| lines.try_recv().ok()),
        None => pending.wait(),
    }?;
    let profile = &done.profile;
    let mut stderr = std::io::stderr().lock();
    if let Some(warning) = &done.warning {
        let _ = writeln!(stderr, "sigma-token: warning: {warning}");
    }
    let _ = writeln!(
        stderr,
        "sigma-token: signed in as {} (profile {}, scopes {}), kept in {}. Use: sigma-token --profile {}",
        profile.email.as_deref().unwrap_or("an unnamed person"),
        profile.name,
        profile.scopes,
        kept_in(profile.backend),
        profile.name
    );
    Ok(())
}

fn kept_in(backend: LoginBackend) -> &'static str {
    match backend {
        LoginBackend::SecretService => "the OS keyring",
        LoginBackend::File => "a private file",
    }
}

/// Lines of stdin, as they come, on a thread of their own.
fn read_lines() -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if !line.trim().is_empty() && send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

/// Opens `url` in a browser, without waiting for it: `$BROWSER` (entries
/// separated by `:`, each a command that gets the URL as its last argument,
/// or in place of `%s`), else `xdg-open` on a desktop. What was opened, or
/// None when nothing could be.
fn open_browser(url: &str) -> Option<String> {
    if let Some(browsers) = std::env::var("BROWSER").ok().filter(|b| !b.trim().is_empty()) {
        for entry in browsers.split(':').filter(|e| !e.trim().is_empty()) {
            let mut words: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
            if words.iter().any(|w| w.contains("%s")) {
                words.iter_mut().for_each(|w| *w = w.replace("%s", url));
            } else {
                words.push(url.to_string());
            }
            if spawn(&words) {
                return Some(format!("$BROWSER ({})", words[0]));
            }
        }
        return None;
    }
    let desktop = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    (desktop && spawn(&["xdg-open".to_string(), url.to_string()])).then(|| "a browser (xdg-open)".to_string())
}

/// Starts `words` detached from our streams; a thread reaps it.
fn spawn(words: &[String]) -> bool {
    let Some((program, args)) = words.split_first() else {
        return false;
    };
    let child =
        Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    match child {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

pub(super) fn logout(profile: Option<String>) -> Result<(), Failure> {
    let profile = profile.unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    match sigma_auth::logout(&profile) {
        Ok(true) => eprintln!("sigma-token: signed out of profile {profile}"),
        Ok(false) => eprintln!("sigma-token: no sign-in is stored for profile {profile}"),
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

pub(super) fn profiles() -> Result<(), Failure> {
    let profiles = sigma_auth::profiles()?;
    let mut out = std::io::stdout().lock();
    let lines: Vec<String> = profiles.iter().map(line).collect();
    for line in lines {
        writeln!(out, "{line}").map_err(|e| failure(ErrorCode::Internal, format!("cannot write to stdout: {e}")))?;
    }
    Ok(())
}

/// `NAME  EMAIL  SCOPES  expires in ... (BASE URL)`: no token.
fn line(profile: &Profile) -> String {
    let expiry = match profile.expires_at.map(|at| at.duration_since(SystemTime::now())) {
        Some(Ok(left)) => format!("token for {} min more", left.as_secs() / 60),
        Some(Err(_)) => "token expired (refreshed on next use)".to_string(),
        None => "no token yet".to_string(),
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        profile.name,
        profile.email.as_deref().unwrap_or("-"),
        profile.scopes,
        expiry,
        profile.base_url,
        profile.backend.name()
    )
}
