//! `sigma_login`: a person signs in from a browser; `sigma_config_from_login`
//! and `sigma_logout` in the `sigma_config` and `sigma_login` families.

use std::ffi::{c_char, CString};
use std::sync::Mutex;
use std::time::Duration;

use super::{
    borrow, box_out, call, call_out, free_box, guard, optional_string_arg, sigma_config, sigma_error, sigma_status,
    string_arg, Boxed, Castable, Handle,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::login::{begin_login, logout, LoginOptions, PendingLogin, DEFAULT_PROFILE};

/// A sign-in under way: made by `sigma_login_begin`, completed by
/// `sigma_login_wait` or `sigma_login_complete` (once), freed with
/// `sigma_login_free`. Not for use from several threads at once.
pub struct sigma_login {
    _opaque: [u8; 0],
}

/// The pending sign-in (taken by the call that completes it) and its URL.
pub(crate) struct Login {
    pending: Mutex<Option<PendingLogin>>,
    authorize_url: CString,
}

impl Castable for sigma_login {
    type Ownership = Boxed;
    type RustType = Login;
}

/// Starts a person's sign-in to `endpoint` (a cloud name or base URL): finds
/// the host's sign-in, listens on 127.0.0.1 for the browser's return,
/// registers this program, and makes the URL to open (`sigma_login_authorize_url`).
/// `profile` (NULL: "default") is where the sign-in will be stored; `scopes`
/// (NULL: "api:access") is space-separated, e.g. "api:access mcp:access";
/// `timeout_ms` (0: 5 minutes) bounds the wait for the browser. Fails with
/// SIGMA_STATUS_LOGIN_UNAVAILABLE, before any browser is involved, when the
/// host offers no sign-in or names endpoints off Sigma's hosts. On success
/// `*login_out` receives a sign-in owned by the caller, to be freed with
/// `sigma_login_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_login_begin(
    endpoint: *const c_char,
    profile: *const c_char,
    scopes: *const c_char,
    timeout_ms: u64,
    login_out: *mut *mut sigma_login,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, login_out, "login_out", || {
        // SAFETY: NULL or NUL-terminated strings, per the contract.
        let (endpoint, profile, scopes) = unsafe {
            (
                string_arg(endpoint, "endpoint")?,
                optional_string_arg(profile, "profile")?,
                optional_string_arg(scopes, "scopes")?,
            )
        };
        let mut options = LoginOptions::new(endpoint);
        if let Some(profile) = profile {
            options.profile = profile.to_string();
        }
        if let Some(scopes) = scopes {
            options.scopes = scopes.to_string();
        }
        if timeout_ms > 0 {
            options.timeout = Duration::from_millis(timeout_ms);
        }
        let pending = begin_login(&options)?;
        let authorize_url = CString::new(pending.authorize_url())
            .map_err(|_| Error::invalid_argument("the authorization URL has a NUL byte"))?;
        Ok(box_out(Login { pending: Mutex::new(Some(pending)), authorize_url }))
    })
}

/// The URL the person opens in a browser: borrowed, valid until
/// `sigma_login_free`. NULL for a NULL `login`.
#[no_mangle]
pub unsafe extern "C" fn sigma_login_authorize_url(login: *const sigma_login) -> *const c_char {
    // SAFETY: NULL or a live sign-in, per the contract.
    guard(std::ptr::null(), || unsafe { borrow(login, "login") }.map_or(std::ptr::null(), |l| l.authorize_url.as_ptr()))
}

/// The pending sign-in, taken: it completes once.
fn take(login: &Login) -> Result<PendingLogin> {
    login
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| Error::invalid_argument("this sign-in was already completed (or failed): begin another"))
}

/// Waits for the browser to come back to this program (until the timeout
/// given to `sigma_login_begin`), answers it with a page, and stores the
/// sign-in. A sign-in completes once, however it ends.
#[no_mangle]
pub unsafe extern "C" fn sigma_login_wait(login: *mut sigma_login, error_out: *mut *mut sigma_error) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live sign-in, per the contract.
        let login = unsafe { borrow(login.cast_const(), "login") }?;
        take(login)?.wait().map(drop)
    })
}

/// Completes the sign-in with `redirected_url`, the URL the browser was sent
/// back to (pasted by the person, when the browser cannot reach this
/// program), and stores it. A sign-in completes once, however it ends.
#[no_mangle]
pub unsafe extern "C" fn sigma_login_complete(
    login: *mut sigma_login,
    redirected_url: *const c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live sign-in and a NUL-terminated string, per the contract.
        let (login, url) =
            unsafe { (borrow(login.cast_const(), "login")?, string_arg(redirected_url, "redirected_url")?) };
        take(login)?.complete(url).map(drop)
    })
}

/// Frees a sign-in (an incomplete one stops listening). Accepts NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_login_free(login: *mut sigma_login) {
    // SAFETY: NULL or a sign-in from `sigma_login_begin`, freed once per the contract.
    unsafe { free_box(login) }
}

/// Creates a config whose tokens come from the sign-in stored under `profile`
/// (NULL: "default"): clients made from it refresh through the stored sign-in,
/// shared by every process, and never hand out its refresh token. Fails with
/// SIGMA_STATUS_LOGIN_REQUIRED when there is none. On success `*config_out`
/// receives a config owned by the caller, to be freed with `sigma_config_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_config_from_login(
    profile: *const c_char,
    config_out: *mut *mut sigma_config,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, config_out, "config_out", || {
        // SAFETY: NULL or a NUL-terminated string, per the contract.
        let profile = unsafe { optional_string_arg(profile, "profile") }?.unwrap_or(DEFAULT_PROFILE);
        let mut config = Config::from_login(profile)?;
        config.set_language("c")?;
        Ok(box_out::<sigma_config>(Handle::new(config)))
    })
}

/// Signs the person of `profile` (NULL: "default") out: revokes the sign-in at
/// Sigma when it offers revocation, then forgets it. No sign-in stored is not
/// an error.
#[no_mangle]
pub unsafe extern "C" fn sigma_logout(profile: *const c_char, error_out: *mut *mut sigma_error) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a NUL-terminated string, per the contract.
        let profile = unsafe { optional_string_arg(profile, "profile") }?.unwrap_or(DEFAULT_PROFILE);
        logout(profile).map(drop)
    })
}
