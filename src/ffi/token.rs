//! `sigma_token`: one access token, and the stateless get/refresh calls.

use std::ffi::c_char;
use std::sync::Arc;

use super::{
    arc_out, call_out, free_arc, load, optional_string_arg, read, sigma_config, sigma_error, sigma_status, string_arg,
    Castable, Shared,
};
use crate::token::Token;

/// An access token with its refresh token and lifetime. Immutable: a
/// `const sigma_token *` may be read from many threads at once. Owned by the
/// caller, who frees it with `sigma_token_free`; the strings its accessors return
/// are borrowed from it and wiped when it is freed.
pub struct sigma_token {
    _opaque: [u8; 0],
}

/// The core's own `Arc<Token>`: the same token handed out twice has the same
/// address, and nothing is copied.
impl Castable for sigma_token {
    type Ownership = Shared;
    type RustType = Token;
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
    call_out(error_out, token_out, "token_out", || {
        // SAFETY: NULL or a live config, per the contract.
        let config = unsafe { load(config, "config")? };
        Ok(arc_out(Arc::new(crate::get_token(&config)?)))
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
    call_out(error_out, token_out, "token_out", || {
        // SAFETY: NULL or a live config and a NUL-terminated string, per the contract.
        let (config, refresh) = unsafe { (load(config, "config")?, string_arg(refresh_token, "refresh_token")?) };
        Ok(arc_out(Arc::new(crate::refresh_token(&config, refresh)?)))
    })
}

/// A token for the user `user_email` (in the tenant organisation `tenant`; NULL
/// for none), without caching: a new admin token with the client-credentials
/// grant of `config` (which must hold an admin's credentials), then one token
/// exchange. Use `sigma_client_impersonate` to keep a user's token fresh. On
/// success `*token_out` receives a token owned by the caller, to be freed with
/// `sigma_token_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_impersonate(
    config: *const sigma_config,
    user_email: *const c_char,
    tenant: *const c_char,
    token_out: *mut *mut sigma_token,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, token_out, "token_out", || {
        // SAFETY: NULL or a live config and NUL-terminated strings, per the contract.
        let (config, email, tenant) = unsafe {
            (load(config, "config")?, string_arg(user_email, "user_email")?, optional_string_arg(tenant, "tenant")?)
        };
        Ok(arc_out(Arc::new(crate::impersonate_token(&config, email, tenant)?)))
    })
}

/// Frees a token and wipes its strings. Accepts NULL. Each token must be freed
/// exactly once.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_free(token: *mut sigma_token) {
    // SAFETY: NULL or a token from this library, released once per the contract.
    unsafe { free_arc(token) }
}

/// The access token, for `Authorization: Bearer <token>`. Borrowed from `token`:
/// valid until `sigma_token_free(token)`. NULL when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_access_token(token: *const sigma_token) -> *const c_char {
    // SAFETY: NULL or a live token, per the contract.
    unsafe { read(token, std::ptr::null(), |t| t.access_token_with_nul().as_ptr().cast()) }
}

/// The refresh token, or NULL when the response had none. Borrowed from `token`:
/// valid until `sigma_token_free(token)`.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_refresh_token(token: *const sigma_token) -> *const c_char {
    // SAFETY: NULL or a live token, per the contract.
    unsafe {
        read(token, std::ptr::null(), |t| t.refresh_token_with_nul().map_or(std::ptr::null(), |r| r.as_ptr().cast()))
    }
}

/// The token type as issued ("bearer"). Borrowed from `token`: valid until
/// `sigma_token_free(token)`. NULL when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_type(token: *const sigma_token) -> *const c_char {
    // SAFETY: NULL or a live token, per the contract.
    unsafe { read(token, std::ptr::null(), |t| t.token_type_with_nul().as_ptr().cast()) }
}

/// The lifetime in seconds as issued (3600 from Sigma). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_expires_in(token: *const sigma_token) -> i64 {
    // SAFETY: NULL or a live token, per the contract.
    unsafe { read(token, 0, |t| t.expires_in().as_secs() as i64) }
}

/// When the token expires, in Unix seconds by the wall clock (for display; the
/// library's own expiry decisions use a monotonic clock). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_expires_at(token: *const sigma_token) -> i64 {
    // SAFETY: NULL or a live token, per the contract.
    unsafe { read(token, 0, |t| t.expires_at_unix()) }
}

/// The token's serial number: every token this library makes in a process gets
/// a larger one than the last, so two tokens are the same token exactly when
/// their serials are equal (compare serials, never addresses: a freed token's
/// address may be reused by a newer one). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_serial(token: *const sigma_token) -> u64 {
    // SAFETY: NULL or a live token, per the contract.
    unsafe { read(token, 0, |t| t.serial()) }
}
