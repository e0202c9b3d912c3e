//! `sigma_config`: where to get tokens and with which credentials.

use std::ffi::{c_char, c_int, CString};
use std::time::Duration;

use super::{
    box_out, call, call_out, free_box, guard, load, path_arg, sigma_error, sigma_status, string_arg, Boxed, Castable,
    Handle,
};
use crate::config::Config;
use crate::error::Result;
use crate::settings::ClientAuth;

/// Settings for token requests. Create with `sigma_config_new` or
/// `sigma_config_from_env`, adjust with the `sigma_config_set_*` functions, free
/// with `sigma_config_free`. The setters take a `sigma_config *` and must not run
/// while another thread uses the same config; functions taking a
/// `const sigma_config *` may run from many threads at once, and calls still
/// running when the config is freed finish normally.
pub struct sigma_config {
    _opaque: [u8; 0],
}

impl Castable for sigma_config {
    type Ownership = Boxed;
    type RustType = Handle<Config>;
}

/// A new config object, labelled as used from C.
fn config_object(mut config: Config) -> Result<*mut sigma_config> {
    config.set_language("c")?;
    Ok(box_out(Handle::new(config)))
}

/// Creates a config. `endpoint` is a cloud name (e.g. "aws-us-east") or an https
/// base URL (http only for loopback hosts). The secret is copied and wiped from
/// the library's memory when the config is freed.
/// On success `*config_out` receives a config owned by the caller, to be freed
/// with `sigma_config_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_new(
    endpoint: *const c_char,
    client_id: *const c_char,
    client_secret: *const c_char,
    config_out: *mut *mut sigma_config,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, config_out, "config_out", || {
        // SAFETY: NULL or NUL-terminated strings, per the contract.
        let (endpoint, id, secret) = unsafe {
            (
                string_arg(endpoint, "endpoint")?,
                string_arg(client_id, "client_id")?,
                string_arg(client_secret, "client_secret")?,
            )
        };
        config_object(Config::new(endpoint, id, secret)?)
    })
}

/// Creates a config from SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID and
/// SIGMA_CLIENT_SECRET; a missing one fails with SIGMA_STATUS_INVALID_ARGUMENT
/// naming it. On success `*config_out` receives a config owned by the caller, to
/// be freed with `sigma_config_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_from_env(
    config_out: *mut *mut sigma_config,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, config_out, "config_out", || config_object(Config::from_env()?))
}

/// A copy of `text` for C, freed by the caller with `sigma_string_free`
/// (NULL for none, or for text with a NUL byte, which settings never hold).
fn owned_string(text: Option<&str>) -> *mut c_char {
    owned_bytes(text.map(str::as_bytes))
}

fn owned_bytes(bytes: Option<&[u8]>) -> *mut c_char {
    bytes.and_then(|b| CString::new(b).ok()).map_or(std::ptr::null_mut(), CString::into_raw)
}

/// A path's bytes as the operating system has them (not necessarily UTF-8).
fn path_bytes(path: &std::path::Path) -> Option<&[u8]> {
    Some(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
}

/// The API base URL the config's endpoint resolved to (a cloud name becomes
/// its URL), e.g. `https://api.us-a.aws.sigmacomputing.com`: a copy the
/// caller frees with `sigma_string_free`. NULL for a NULL `config`.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_base_url(config: *const sigma_config) -> *mut c_char {
    // SAFETY: NULL or a live config, per the contract.
    guard(std::ptr::null_mut(), || match unsafe { load(config, "config") } {
        Ok(config) => owned_string(Some(config.endpoint().api_base_url())),
        Err(_) => std::ptr::null_mut(),
    })
}

/// The config's client id (as given to `sigma_config_new`; `sigma_config_from_env`
/// trims the variable's surrounding whitespace), a copy the
/// caller frees with `sigma_string_free`. NULL for a NULL `config`.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_client_id(config: *const sigma_config) -> *mut c_char {
    // SAFETY: NULL or a live config, per the contract.
    guard(std::ptr::null_mut(), || match unsafe { load(config, "config") } {
        Ok(config) => owned_string(Some(config.client_id())),
        Err(_) => std::ptr::null_mut(),
    })
}

/// The config's token-cache directory, a copy the caller frees with
/// `sigma_string_free`; NULL when it has none (and for a NULL `config`). On
/// Unix these are the path's bytes as the system has them, which need not be
/// UTF-8 (a directory from SIGMA_TOKEN_CACHE).
#[no_mangle]
pub unsafe extern "C" fn sigma_config_token_cache(config: *const sigma_config) -> *mut c_char {
    // SAFETY: NULL or a live config, per the contract.
    guard(std::ptr::null_mut(), || match unsafe { load(config, "config") } {
        Ok(config) => owned_bytes(config.token_cache().and_then(path_bytes)),
        Err(_) => std::ptr::null_mut(),
    })
}

/// Frees a config. Accepts NULL. Clients and tokens made from it stay valid.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_free(config: *mut sigma_config) {
    // SAFETY: NULL or a config from `sigma_config_new`, freed once per the contract.
    unsafe { free_box(config) }
}

/// Applies one setter to a config behind the common checks.
///
/// # Safety
/// `config` is NULL or a live config used by this thread only.
pub(super) unsafe fn set(
    config: *mut sigma_config,
    error_out: *mut *mut sigma_error,
    apply: impl FnOnce(&mut Config) -> Result<()>,
) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live config used by this thread only, per the contract.
        let handle = unsafe { super::borrow(config, "config")? };
        // Setters work on a copy, so a client or call reading the config meanwhile
        // (which the contract forbids, but a bug could do) never sees a torn value.
        let mut copy = (*handle.load()).clone();
        apply(&mut copy)?;
        handle.replace(copy);
        Ok(())
    })
}

/// The overall deadline of one token call, retries included (default 30000 ms;
/// 1 ms to 1 hour).
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_timeout_ms(
    config: *mut sigma_config,
    timeout_ms: u64,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract.
    unsafe { set(config, error_out, |c| c.set_timeout(Duration::from_millis(timeout_ms))) }
}

/// The limit on one connect, TLS included (default 10000 ms; 1 ms to 1 hour).
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_connect_timeout_ms(
    config: *mut sigma_config,
    timeout_ms: u64,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract.
    unsafe { set(config, error_out, |c| c.set_connect_timeout(Duration::from_millis(timeout_ms))) }
}

/// Attempts per token call, the first included (default 3; 1 to 10). Network
/// errors, 429 and 5xx are retried with jittered backoff; 400/401 never are.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_max_attempts(
    config: *mut sigma_config,
    attempts: u32,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract.
    unsafe { set(config, error_out, |c| c.set_max_attempts(attempts)) }
}

/// Trusts only the CA certificates in this PEM file for HTTPS, instead of the
/// bundled web roots. The file is read now.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_ca_file(
    config: *mut sigma_config,
    pem_path: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract; `pem_path` is NULL or NUL-terminated.
    unsafe {
        set(config, error_out, |c| {
            let path = path_arg(pem_path, "pem_path")?;
            c.set_ca_file(path)
        })
    }
}

/// Nonzero: send the client id and secret as HTTP Basic instead of in the form
/// body (the default, as Sigma documents).
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_basic_auth(
    config: *mut sigma_config,
    use_basic: c_int,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    let auth = if use_basic != 0 { ClientAuth::Basic } else { ClientAuth::Form };
    // SAFETY: forwarded contract.
    unsafe {
        set(config, error_out, |c| {
            c.set_client_auth(auth);
            Ok(())
        })
    }
}

/// How long before expiry a `sigma_client` refreshes in the background
/// (default: min(5 minutes, half the token's lifetime); capped at half of it).
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_refresh_margin_ms(
    config: *mut sigma_config,
    margin_ms: u64,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract.
    unsafe { set(config, error_out, |c| c.set_refresh_margin(Duration::from_millis(margin_ms))) }
}

/// Turns on the token cache shared by processes, in directory `dir` (created
/// 0700 if missing). A `sigma_client` then looks there first, and only one
/// process at a time refreshes. The client secret is never stored. Off by
/// default; `sigma_config_from_env` turns it on when SIGMA_TOKEN_CACHE is set.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_token_cache(
    config: *mut sigma_config,
    dir: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract; `dir` is NULL or NUL-terminated.
    unsafe { set(config, error_out, |c| c.set_token_cache(path_arg(dir, "dir")?)) }
}

/// Shares tokens between hosts through a Redis server: `url` is
/// `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS (which
/// trusts the CA file of `sigma_config_set_ca_file` when one is set). Tokens
/// are stored there encrypted under a key derived from the client secret;
/// refresh tokens stay on their host. Redis down or slow never fails a call:
/// it goes on without the store (a SIGMA_EVENT_STORE_UNAVAILABLE event says
/// why). A malformed URL fails with SIGMA_STATUS_INVALID_ARGUMENT, whose
/// message never repeats it (it may hold a password). Off by default;
/// `sigma_config_from_env` turns it on when SIGMA_TOKEN_STORE is set.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_token_store(
    config: *mut sigma_config,
    url: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract; `url` is NULL or NUL-terminated.
    unsafe { set(config, error_out, |c| c.set_token_store(string_arg(url, "url")?)) }
}

/// Text appended to the User-Agent, e.g. "my-exporter/1.2" (printable ASCII).
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_user_agent_suffix(
    config: *mut sigma_config,
    suffix: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract; `suffix` is NULL or NUL-terminated.
    unsafe { set(config, error_out, |c| c.set_user_agent_suffix(string_arg(suffix, "suffix")?)) }
}

/// The calling language named in the User-Agent (default "c"; the Python and Go
/// bindings set theirs).
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_language(
    config: *mut sigma_config,
    language: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract; `language` is NULL or NUL-terminated.
    unsafe { set(config, error_out, |c| c.set_language(string_arg(language, "language")?)) }
}

/// Lets HTTP adapters send this config's tokens to `origin`
/// (`https://host[:port]`) too, besides the endpoint's own origin (the default
/// and usually the only one). Plain http only for loopback hosts.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_allow_origin(
    config: *mut sigma_config,
    origin: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract; `origin` is NULL or NUL-terminated.
    unsafe { set(config, error_out, |c| c.allow_origin(string_arg(origin, "origin")?)) }
}

/// Extra claims for the subject token of an impersonation, as a JSON object
/// (e.g. `{"aud":"sigmacomputing"}`). Sigma's sample sends only `sub` (and
/// `tenant`), and so does this library unless asked; `sub` and `tenant` cannot
/// be set here.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_set_subject_token_claims(
    config: *mut sigma_config,
    claims_json: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    // SAFETY: forwarded contract; `claims_json` is NULL or NUL-terminated.
    unsafe { set(config, error_out, |c| c.set_subject_token_claims(string_arg(claims_json, "claims_json")?)) }
}
