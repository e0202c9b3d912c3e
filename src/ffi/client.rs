//! `sigma_client`: a cached, self-refreshing token source.

use std::ffi::{c_char, c_int};

use super::token::into_raw;
use super::{borrow, call, guard, out_arg, sigma_config, sigma_error, sigma_status, sigma_token, string_arg};
use crate::client::Client;

/// Keeps a token fresh. Thread-safe: every function taking a
/// `const sigma_client *` may run from any number of threads at once. Owned by
/// the caller, who frees it with `sigma_client_free` once no other call on it is
/// running; tokens obtained from it stay valid after that.
pub struct sigma_client {
    client: Client,
}

/// Creates a client from a copy of `config` (which may be freed afterwards). No
/// request is made until the first `sigma_client_token`. On success
/// `*client_out` receives a client owned by the caller, to be freed with
/// `sigma_client_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_new(
    config: *const sigma_config,
    client_out: *mut *mut sigma_client,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live config, per the contract.
        let config = unsafe { borrow(config, "config")? };
        let out = out_arg(client_out, "client_out")?;
        let client = sigma_client { client: Client::new(config.inner.clone()) };
        // SAFETY: `out` is a checked, non-NULL `sigma_client **`.
        unsafe { out.write(Box::into_raw(Box::new(client))) };
        Ok(())
    })
}

/// A token valid for at least 10 more seconds (or a tenth of its lifetime).
/// While the cached token stays current, every call returns the same
/// `sigma_token` address (a new reference to it).
/// Returns at once while one is cached, even during a background refresh; when
/// none is usable, one request is made and concurrent callers share its result.
/// On success `*token_out` receives a token owned by the caller, to be freed
/// with `sigma_token_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_token(
    client: *const sigma_client,
    token_out: *mut *mut sigma_token,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call(error_out, || {
        // SAFETY: NULL or a live client, per the contract.
        let client = unsafe { borrow(client, "client")? };
        let out = out_arg(token_out, "token_out")?;
        let token = into_raw(client.client.token()?);
        // SAFETY: `out` is a checked, non-NULL `sigma_token **`.
        unsafe { out.write(token) };
        Ok(())
    })
}

/// Returns 1 when `token` is this client's current token and still valid for at
/// least the safety skew, 0 otherwise (and when either argument is NULL). Never
/// waits on the network; starts the background refresh when it is due, as
/// `sigma_client_token` would. Lets a caller that keeps a token check it
/// cheaply, calling `sigma_client_token` only when this returns 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_token_is_current(
    client: *const sigma_client,
    token: *const sigma_token,
) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a live client, per the contract.
        let Ok(client) = (unsafe { borrow(client, "client") }) else {
            return 0;
        };
        // SAFETY: NULL or a live token from this library, per the contract.
        let current = unsafe { super::token::with_arc(token, |token| client.client.is_current(token)) };
        c_int::from(current.unwrap_or(false))
    })
}

/// Tells the client that an API call was refused (401) with
/// `rejected_access_token`. The cached token is dropped only if it is still that
/// one, so a burst of 401s causes one new fetch. Does nothing when either
/// argument is NULL or not UTF-8.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_invalidate(client: *const sigma_client, rejected_access_token: *const c_char) {
    guard((), || {
        // SAFETY: NULL or a live client and a NUL-terminated string, per the contract.
        let (Ok(client), Ok(rejected)) = (unsafe { borrow(client, "client") }, unsafe {
            string_arg(rejected_access_token, "rejected_access_token")
        }) else {
            return;
        };
        client.client.invalidate(rejected);
    })
}

/// Frees a client. Accepts NULL. No other call on this client may be running or
/// start afterwards; a background refresh in progress finishes on its own.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_free(client: *mut sigma_client) {
    if !client.is_null() {
        // SAFETY: made by `Box::into_raw` in `sigma_client_new`, freed once per the contract.
        guard((), || drop(unsafe { Box::from_raw(client) }));
    }
}
