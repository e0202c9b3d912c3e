//! `sigma_error`: an owned error object with a stable code.

use std::ffi::{c_char, CString};

use super::{as_ref, free_box, guard, read, sigma_status, Boxed, Castable};
use crate::error::Error;

/// An error returned through an `error_out` argument. Owned by the caller, who
/// frees it with `sigma_error_free`. Its strings never contain a secret or token.
/// A `const sigma_error *` may be read from several threads at once.
pub struct sigma_error {
    _opaque: [u8; 0],
}

impl Castable for sigma_error {
    type Ownership = Boxed;
    type RustType = ErrorData;
}

/// What a `sigma_error` holds: the error, with its strings ready to lend to C.
pub(crate) struct ErrorData {
    code: sigma_status,
    http_status: u16,
    message: CString,
    request_id: Option<CString>,
}

impl ErrorData {
    pub(super) fn new(error: Error) -> ErrorData {
        let c_string = |s: String| CString::new(s.replace('\0', " ")).unwrap_or_default();
        ErrorData {
            code: error.code().into(),
            http_status: error.http_status().unwrap_or(0),
            message: c_string(error.to_string()),
            request_id: error.request_id().map(|id| c_string(id.to_string())),
        }
    }
}

/// The error's status (never SIGMA_STATUS_OK). Returns
/// SIGMA_STATUS_INVALID_ARGUMENT when `error` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_code(error: *const sigma_error) -> sigma_status {
    guard(sigma_status::SIGMA_STATUS_INTERNAL, || {
        // SAFETY: NULL or a live error, per the contract.
        unsafe { as_ref(error) }.map_or(sigma_status::SIGMA_STATUS_INVALID_ARGUMENT, |e| e.code)
    })
}

/// A one-line description, e.g. "INVALID_CLIENT: Sigma refused the client
/// credentials: Invalid client credentials (HTTP 401, requestId 3f2a...)".
/// Borrowed from `error`: valid until `sigma_error_free(error)`. NULL when `error` is NULL.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_message(error: *const sigma_error) -> *const c_char {
    // SAFETY: NULL or a live error, per the contract.
    unsafe { read(error, std::ptr::null(), |e| e.message.as_ptr()) }
}

/// The HTTP status of the response that caused the error, or 0 when there was none.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_http_status(error: *const sigma_error) -> u16 {
    // SAFETY: NULL or a live error, per the contract.
    unsafe { read(error, 0, |e| e.http_status) }
}

/// Sigma's requestId from the error response, or NULL when there was none.
/// Borrowed from `error`: valid until `sigma_error_free(error)`.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_request_id(error: *const sigma_error) -> *const c_char {
    // SAFETY: NULL or a live error, per the contract.
    unsafe { read(error, std::ptr::null(), |e| e.request_id.as_ref().map_or(std::ptr::null(), |id| id.as_ptr())) }
}

/// Frees an error. Accepts NULL. Each error must be freed exactly once.
#[no_mangle]
pub unsafe extern "C" fn sigma_error_free(error: *mut sigma_error) {
    // SAFETY: NULL or an error from this library, freed once per the contract.
    unsafe { free_box(error) }
}
