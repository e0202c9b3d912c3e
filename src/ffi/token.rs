//! `sigma_token`: one access token, and the stateless get/refresh calls.

use std::ffi::c_char;
use std::sync::Arc;

use super::{call, guard, handle, out_arg, sigma_config, sigma_error, sigma_status, string_arg};
use crate::token::Token;

/// An access token with its refresh token and lifetime. Immutable: a
/// `const sigma_token *` may be read from many threads at once. Owned by the
/// caller, who frees it with `sigma_token_free`; the strings its accessors return
/// are borrowed from it and wiped when it is freed.
///
/// In Rust this is never constructed: a `sigma_token *` is an `Arc<Token>` made
/// raw, and the same token handed out twice has the same address.
pub struct sigma_token {
    _opaque: [u8; 0],
}

/// Hands a shared token to C; `sigma_token_free` releases this reference.
pub(super) fn into_raw(token: Arc<Token>) -> *mut sigma_token {
    Arc::into_raw(token).cast_mut().cast()
}

/// Borrows the token behind a C pointer.
///
/// # Safety
/// `token` is NULL or came from [`into_raw`] and has not been freed.
unsafe fn as_token<'a>(token: *const sigma_token) -> Option<&'a Token> {
    // SAFETY: per the contract, a non-NULL pointer is a live `Arc<Token>` payload.
    unsafe { token.cast::<Token>().as_ref() }
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
        let config = unsafe { handle(config, "config")? };
        let out = out_arg(token_out, "token_out")?;
        let raw = into_raw(Arc::new(crate::get_token(&config)?));
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
        let (config, refresh) = unsafe { (handle(config, "config")?, string_arg(refresh_token, "refresh_token")?) };
        let out = out_arg(token_out, "token_out")?;
        let raw = into_raw(Arc::new(crate::refresh_token(&config, refresh)?));
        // SAFETY: `out` is a checked, non-NULL `sigma_token **`.
        unsafe { out.write(raw) };
        Ok(())
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
    call(error_out, || {
        // SAFETY: NULL or a live config and NUL-terminated strings, per the contract.
        let (config, email) = unsafe { (handle(config, "config")?, string_arg(user_email, "user_email")?) };
        // SAFETY: NULL or a NUL-terminated string, per the contract.
        let tenant = if tenant.is_null() { None } else { Some(unsafe { string_arg(tenant, "tenant")? }) };
        let out = out_arg(token_out, "token_out")?;
        let raw = into_raw(Arc::new(crate::impersonate_token(&config, email, tenant)?));
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
        guard((), || drop(unsafe { Arc::from_raw(token.cast_const().cast::<Token>()) }));
    }
}

/// Runs an accessor on a token that may be NULL.
unsafe fn read<T: Copy>(token: *const sigma_token, fallback: T, f: impl FnOnce(&Token) -> T) -> T {
    // SAFETY: NULL or a live token, per the contract.
    guard(fallback, || unsafe { as_token(token) }.map_or(fallback, f))
}

/// The access token, for `Authorization: Bearer <token>`. Borrowed from `token`:
/// valid until `sigma_token_free(token)`. NULL when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_access_token(token: *const sigma_token) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { read(token, std::ptr::null(), |t| t.access_token_with_nul().as_ptr().cast()) }
}

/// The refresh token, or NULL when the response had none. Borrowed from `token`:
/// valid until `sigma_token_free(token)`.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_refresh_token(token: *const sigma_token) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe {
        read(token, std::ptr::null(), |t| t.refresh_token_with_nul().map_or(std::ptr::null(), |r| r.as_ptr().cast()))
    }
}

/// The token type as issued ("bearer"). Borrowed from `token`: valid until
/// `sigma_token_free(token)`. NULL when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_type(token: *const sigma_token) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { read(token, std::ptr::null(), |t| t.token_type_with_nul().as_ptr().cast()) }
}

/// The lifetime in seconds as issued (3600 from Sigma). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_expires_in(token: *const sigma_token) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { read(token, 0, |t| t.expires_in().as_secs() as i64) }
}

/// When the token expires, in Unix seconds by the wall clock (for display; the
/// library's own expiry decisions use a monotonic clock). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_expires_at(token: *const sigma_token) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { read(token, 0, |t| t.expires_at_unix()) }
}

/// The token's serial number: every token this library makes in a process gets
/// a larger one than the last, so two tokens are the same token exactly when
/// their serials are equal (compare serials, never addresses: a freed token's
/// address may be reused by a newer one). 0 when `token` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_token_serial(token: *const sigma_token) -> u64 {
    // SAFETY: forwarded contract.
    unsafe { read(token, 0, |t| t.serial()) }
}
