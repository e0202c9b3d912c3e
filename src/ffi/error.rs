//! `sigma_error`: an owned error object with a stable code.

use std::ffi::{c_char, CString};

use super::{guard, sigma_status};
use crate::error::Error;

/// An error returned through an `error_out` argument. Owned by the caller, who
/// frees it with `sigma_error_free`. Its strings never contain a secret or token.
/// A `const sigma_error *` may be read from several threads at once.
pub struct sigma_error {
    code: sigma_status,
    http_status: u16,
    message: CString,
    request_id: Option<CString>,
}

impl sigma_error {
    pub(super) fn into_raw(error: Error) -> *mut sigma_error {
        let c_string = |s: String| CString::new(s.replace('\0', " ")).unwrap_or_default();
        Box::into_raw(Box::new(sigma_error {
            code: error.code().into(),
            http_status: error.http_status().unwrap_or(0),
            message: c_string(error.to_string()),
            request_id: error.request_id().map(|id| c_string(id.to_string())),
        }))
    }
}

/// The error's status (never SIGMA_STATUS_OK). Returns
/// SIGMA_STATUS_INVALID_ARGUMENT when `error` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_code(error: *const sigma_error) -> sigma_status {
    // SAFETY: NULL or a live error, per the contract.
    guard(sigma_status::SIGMA_STATUS_INTERNAL, || match unsafe { error.as_ref() } {
        Some(error) => error.code,
        None => sigma_status::SIGMA_STATUS_INVALID_ARGUMENT,
    })
}

/// A one-line description, e.g. "INVALID_CLIENT: Sigma refused the client
/// credentials: Invalid client credentials (HTTP 401, requestId 3f2a...)".
/// Borrowed from `error`: valid until `sigma_error_free(error)`. NULL when `error` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_message(error: *const sigma_error) -> *const c_char {
    // SAFETY: NULL or a live error, per the contract.
    guard(std::ptr::null(), || unsafe { error.as_ref() }.map_or(std::ptr::null(), |e| e.message.as_ptr()))
}

/// The HTTP status of the response that caused the error, or 0 when there was none.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_http_status(error: *const sigma_error) -> u16 {
    // SAFETY: NULL or a live error, per the contract.
    guard(0, || unsafe { error.as_ref() }.map_or(0, |e| e.http_status))
}

/// Sigma's requestId from the error response, or NULL when there was none.
/// Borrowed from `error`: valid until `sigma_error_free(error)`.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_request_id(error: *const sigma_error) -> *const c_char {
    // SAFETY: NULL or a live error, per the contract.
    guard(std::ptr::null(), || {
        unsafe { error.as_ref() }.and_then(|e| e.request_id.as_ref()).map_or(std::ptr::null(), |id| id.as_ptr())
    })
}

/// Frees an error. Accepts NULL. Each error must be freed exactly once.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_free(error: *mut sigma_error) {
    if !error.is_null() {
        // SAFETY: made by `Box::into_raw` in `into_raw`, freed once per the contract.
        guard((), || drop(unsafe { Box::from_raw(error) }));
    }
}
