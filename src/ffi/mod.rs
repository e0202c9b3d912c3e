//! The C ABI: the only module with raw pointers and `unsafe`.
//!
//! Every export follows one pattern: check pointers and UTF-8 first, then call
//! the safe core behind a panic boundary ([`call`]), write outputs only on
//! success, and on failure hand the caller an owned `sigma_error`.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract is in the header docs

mod client;
mod config;
mod error;
mod status;
mod token;

use std::ffi::{c_char, CStr};
use std::panic::{self, AssertUnwindSafe};

use crate::error::{Error, Result};

pub use client::*;
pub use config::*;
pub use error::*;
pub use status::*;
pub use token::*;

/// Runs `body` behind the panic boundary. On failure, stores an owned error in
/// `*error_out` (when `error_out` is not NULL) and returns its status.
fn call(error_out: *mut *mut sigma_error, body: impl FnOnce() -> Result<()>) -> sigma_status {
    let result = panic::catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|_| Err(Error::internal("a panic was caught at the C boundary; please report this bug")));
    match result {
        Ok(()) => sigma_status::SIGMA_STATUS_OK,
        Err(error) => {
            let status = sigma_status::from(error.code());
            if !error_out.is_null() {
                // SAFETY: the caller passes either NULL or a valid `sigma_error **`.
                unsafe { error_out.write(sigma_error::into_raw(error)) };
            }
            status
        }
    }
}

/// Runs an accessor behind the panic boundary, answering `fallback` on a panic.
fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Borrows `*ptr`, or fails with INVALID_ARGUMENT naming the argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for the returned lifetime.
unsafe fn borrow<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: upheld by the caller.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid_argument(format!("{name} is NULL")))
}

/// Borrows `*ptr` mutably, or fails with INVALID_ARGUMENT naming the argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing else uses meanwhile.
unsafe fn borrow_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: upheld by the caller.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::invalid_argument(format!("{name} is NULL")))
}

/// Reads a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string alive for the returned lifetime.
unsafe fn string_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::invalid_argument(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|_| Error::invalid_argument(format!("{name} is not valid UTF-8")))
}

/// Checks an output pointer before any work is done.
fn out_arg<T>(out: *mut *mut T, name: &str) -> Result<*mut *mut T> {
    if out.is_null() {
        return Err(Error::invalid_argument(format!("{name} is NULL")));
    }
    Ok(out)
}
