//! The C ABI: the only module with raw pointers and `unsafe` (besides the few
//! system calls in `os.rs`).
//!
//! Every export follows one pattern: check pointers and UTF-8 first, then call
//! the safe core behind a panic boundary ([`call`]), write outputs only on
//! success, and on failure hand the caller an owned `sigma_error`.
//!
//! Ownership, one pattern per kind of object:
//! - `sigma_config` and `sigma_client` are boxed [`Handle`]s: a slot holding an
//!   `Arc` of the Rust value. A call borrows the value with a lock-free load
//!   that keeps it alive until the call returns, so `_free` racing with calls on
//!   other threads lets those calls finish (made with [`handle_out`], read with
//!   [`handle`], freed with [`free_handle`]).
//! - `sigma_token` is the core's `Arc<Token>` made raw (see `token.rs`).
//! - `sigma_error` is a plain box.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract is in the header docs

mod client;
mod config;
mod embed;
mod error;
mod event;
mod status;
mod token;

use std::ffi::{c_char, CStr};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use arc_swap::{ArcSwapOption, Guard};

use crate::error::{Error, Result};

pub use client::*;
pub use config::*;
pub use embed::*;
pub use error::*;
pub use event::*;
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

/// The inside of a C object the caller creates and frees: the Rust value in a
/// lock-free slot (see the module documentation).
pub(crate) struct Handle<T> {
    slot: ArcSwapOption<T>,
}

/// A value borrowed from a [`Handle`] for the duration of one call.
pub(crate) struct Loaded<T>(Guard<Option<Arc<T>>>);

impl<T> std::ops::Deref for Loaded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("a handle holds its value until it is freed")
    }
}

impl<T> Handle<T> {
    fn new(value: T) -> Self {
        Handle { slot: ArcSwapOption::from_pointee(value) }
    }

    fn load(&self) -> Loaded<T> {
        Loaded(self.slot.load())
    }

    /// Replaces the value (a setter; callers hold the object exclusively).
    fn replace(&self, value: T) {
        self.slot.store(Some(Arc::new(value)));
    }
}

/// The C objects that are [`Handle`]s.
pub(crate) trait HandleType: Sized {
    type Value;
    fn wrap(handle: Handle<Self::Value>) -> Self;
    fn handle(&self) -> &Handle<Self::Value>;
}

/// Writes a new object owning `value` to a checked `*out`.
fn handle_out<H: HandleType>(out: *mut *mut H, value: H::Value) {
    let object = Box::into_raw(Box::new(H::wrap(Handle::new(value))));
    // SAFETY: `out` was checked non-NULL by `out_arg` and points to a writable `H *`.
    unsafe { out.write(object) };
}

/// Borrows the value of the object at `ptr`, or INVALID_ARGUMENT naming it.
///
/// # Safety
/// `ptr` is NULL or an object made by [`handle_out`] and not yet freed when
/// this call began.
unsafe fn handle<H: HandleType>(ptr: *const H, name: &str) -> Result<Loaded<H::Value>> {
    // SAFETY: upheld by the caller.
    let object = unsafe { borrow(ptr, name)? };
    Ok(object.handle().load())
}

/// Frees an object made by [`handle_out`]; NULL is ignored. Calls on it still
/// running in other threads keep the value alive until they return.
///
/// # Safety
/// `ptr` is NULL or an object made by [`handle_out`], freed only once.
unsafe fn free_handle<H: HandleType>(ptr: *mut H) {
    if !ptr.is_null() {
        // SAFETY: made by `Box::into_raw` in `handle_out`, freed once per the contract.
        guard((), || drop(unsafe { Box::from_raw(ptr) }));
    }
}
