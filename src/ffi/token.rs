//! `sigma_token`: one access token, and the stateless get/refresh calls.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{borrow, call, guard, out_arg, sigma_config, sigma_error, sigma_status, string_arg};
use crate::token::Token;

/// An access token with its refresh token and lifetime. Immutable: a
/// `const sigma_token *` may be read from many threads at once. Owned by the
/// caller, who frees it with `sigma_token_free`; the strings its accessors return
/// are borrowed from it and wiped when it is freed.
pub struct sigma_token {
    pub(super) token: Arc<Token>,
    access: Zeroizing<Vec<u8>>,
    refresh: Option<Zeroizing<Vec<u8>>>,
    token_type: CString,
}

impl sigma_token {
    pub(super) fn new(token: Arc<Token>) -> sigma_token {
        // Tokens are visible ASCII (checked by the parser), so no interior NUL.
        let nul_terminated = |s: &str| {
            let mut bytes = Zeroizing::new(Vec::with_capacity(s.len() + 1));
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0);
            bytes
        };
        sigma_token {
            access: nul_terminated(token.access_token()),
            refresh: token.refresh_token().map(nul_terminated),
            token_type: CString::new(token.token_type()).unwrap_or_default(),
            token,
        }
    }

    /// Hands a shared token to C; `sigma_token_free` releases this reference.
    pub(super) fn into_raw(token: Arc<sigma_token>) -> *mut sigma_token {
        Arc::into_raw(token).cast_mut()
    }
}

/// Requests a new token with the client-credentials grant. No caching: use a
/// `sigma_client` for that. Blocks for at most the config's timeout.
/// Thread-safe for a shared `config`. On success `*token_out` receives a token
/// owned by the caller, to be freed with `sigma_token_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_get(
    config: *const sigma_config,
    token_out: *mut *mut sigma_token,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live config, per the contract.
        let config = unsafe { borrow(config, "config")? };
        let out = out_arg(token_out, "token_out")?;
        let token = crate::get_token(&config.inner)?;
        let raw = sigma_token::into_raw(Arc::new(sigma_token::new(Arc::new(token))));
        // SAFETY: `out` is a checked, non-NULL `sigma_token **`.
        unsafe { out.write(raw) };
        Ok(())
    })
}

/// Exchanges `refresh_token` for a new token (refresh grant). Sigma's refresh
/// tokens are single use: keep the new token's refresh token for next time.
/// On success `*token_out` receives a token owned by the caller, to be freed
/// with `sigma_token_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_refresh(
    config: *const sigma_config,
    refresh_token: *const c_char,
    token_out: *mut *mut sigma_token,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live config and a NUL-terminated string, per the contract.
        let (config, refresh) = unsafe { (borrow(config, "config")?, string_arg(refresh_token, "refresh_token")?) };
        let out = out_arg(token_out, "token_out")?;
        let token = crate::refresh_token(&config.inner, refresh)?;
        let raw = sigma_token::into_raw(Arc::new(sigma_token::new(Arc::new(token))));
        // SAFETY: `out` is a checked, non-NULL `sigma_token **`.
        unsafe { out.write(raw) };
        Ok(())
    })
}

/// Frees a token and wipes its strings. Accepts NULL. Each token must be freed
/// exactly once.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_free(token: *mut sigma_token) {
    if !token.is_null() {
        // SAFETY: made by `Arc::into_raw` in `into_raw`, released once per the contract.
        guard((), || drop(unsafe { Arc::from_raw(token.cast_const()) }));
    }
}

/// Runs an accessor on a token that may be NULL.
unsafe fn read<T: Copy>(token: *const sigma_token, fallback: T, f: impl FnOnce(&sigma_token) -> T) -> T {
    // SAFETY: NULL or a live token, per the contract.
    guard(fallback, || unsafe { token.as_ref() }.map_or(fallback, f))
}

/// The access token, for `Authorization: Bearer <token>`. Borrowed from `token`:
/// valid until `sigma_token_free(token)`. NULL when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_access_token(token: *const sigma_token) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { read(token, std::ptr::null(), |t| t.access.as_ptr().cast()) }
}

/// The refresh token, or NULL when the response had none. Borrowed from `token`:
/// valid until `sigma_token_free(token)`.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_refresh_token(token: *const sigma_token) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { read(token, std::ptr::null(), |t| t.refresh.as_ref().map_or(std::ptr::null(), |r| r.as_ptr().cast())) }
}

/// The token type as issued ("bearer"). Borrowed from `token`: valid until
/// `sigma_token_free(token)`. NULL when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_type(token: *const sigma_token) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { read(token, std::ptr::null(), |t| t.token_type.as_ptr()) }
}

/// The lifetime in seconds as issued (3600 from Sigma). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_expires_in(token: *const sigma_token) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { read(token, 0, |t| t.token.expires_in().as_secs() as i64) }
}

/// When the token expires, in Unix seconds by the wall clock (for display; the
/// library's own expiry decisions use a monotonic clock). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_expires_at(token: *const sigma_token) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { read(token, 0, |t| t.token.expires_at_unix()) }
}
