//! The C ABI: the only module with raw pointers and `unsafe` (besides the few
//! system calls in `os.rs`).
//!
//! Every export follows one pattern: check pointers and UTF-8 first, then call
//! the safe core behind a panic boundary (`call`, or `call_out` for a call with
//! an output), write outputs only on success, and on failure hand the caller an
//! owned `sigma_error`.
//!
//! Ownership, one pattern for every C type: the type is an opaque struct, and
//! its `Castable` impl declares the Rust value a pointer to it really points to
//! and how C holds it (see ARCHITECTURE.md for a new type in a few lines):
//! - `Boxed`: one owner. Made with `box_out`, freed with `free_box`
//!   (`sigma_config`, `sigma_client`, `sigma_error`).
//! - `Shared`: each pointer handed out is one reference of an `Arc`. Made with
//!   `arc_out`, freed with `free_arc` (`sigma_token`: the core's own
//!   `Arc<Token>`, so the same token handed out twice has the same address).
//! - `Lent`: lent by the library for the duration of a callback, never freed
//!   by C (`sigma_event`).
//!
//! A call borrows an object with `borrow` (INVALID_ARGUMENT naming a NULL
//! argument), or `read` for an accessor that answers a fallback instead.
//! `sigma_config` and `sigma_client` box a `Handle`: a lock-free slot holding an
//! `Arc` of the Rust value. A call borrows the value with `load`, which keeps it
//! alive until the call returns, so `_free` racing with calls on other threads
//! lets those calls finish.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract is in the header docs

mod client;
mod config;
mod embed;
mod error;
mod event;
mod login;
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
pub use login::*;
pub use status::*;
pub use token::*;

/// How C holds the objects of a C type (see the module documentation).
pub(crate) trait Ownership {}

/// One owner: made with [`box_out`], freed with [`free_box`].
pub(crate) enum Boxed {}

/// One `Arc` reference per pointer handed out: made with [`arc_out`], freed
/// with [`free_arc`].
pub(crate) enum Shared {}

/// Lent to C for the duration of a call ([`lend`]); never freed by C.
pub(crate) enum Lent {}

impl Ownership for Boxed {}
impl Ownership for Shared {}
impl Ownership for Lent {}

/// A C type: an opaque struct whose pointers really point to a `RustType`,
/// held as its `Ownership` says.
pub(crate) trait Castable {
    type Ownership: Ownership;
    type RustType;
}

/// Hands `value` to C as a new object it owns, to free with [`free_box`].
fn box_out<C: Castable<Ownership = Boxed>>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Hands C one reference to `value`, to release with [`free_arc`].
fn arc_out<C: Castable<Ownership = Shared>>(value: Arc<C::RustType>) -> *mut C {
    Arc::into_raw(value).cast_mut().cast()
}

/// Lends `value` to C for as long as the borrow lasts.
fn lend<C: Castable<Ownership = Lent>>(value: &C::RustType) -> *const C {
    (value as *const C::RustType).cast()
}

/// Frees an object made by [`box_out`]; NULL is ignored.
///
/// # Safety
/// `ptr` is NULL or came from [`box_out`], and is freed only once.
unsafe fn free_box<C: Castable<Ownership = Boxed>>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: made by `Box::into_raw` in `box_out`, freed once per the contract.
        guard((), || drop(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) }));
    }
}

/// Releases a reference made by [`arc_out`]; NULL is ignored.
///
/// # Safety
/// `ptr` is NULL or came from [`arc_out`], and is released only once.
unsafe fn free_arc<C: Castable<Ownership = Shared>>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: made by `Arc::into_raw` in `arc_out`, released once per the contract.
        guard((), || drop(unsafe { Arc::from_raw(ptr.cast_const().cast::<C::RustType>()) }));
    }
}

/// The Rust value behind a C pointer, or None for NULL.
///
/// # Safety
/// `ptr` is NULL or a live object of type `C` for the returned lifetime.
unsafe fn as_ref<'a, C: Castable>(ptr: *const C) -> Option<&'a C::RustType> {
    // SAFETY: upheld by the caller; a `C *` points to a `C::RustType`.
    unsafe { ptr.cast::<C::RustType>().as_ref() }
}

/// The Rust value behind a C pointer, or INVALID_ARGUMENT naming the argument.
///
/// # Safety
/// As for [`as_ref`].
unsafe fn borrow<'a, C: Castable>(ptr: *const C, name: &str) -> Result<&'a C::RustType> {
    // SAFETY: upheld by the caller.
    unsafe { as_ref(ptr) }.ok_or_else(|| Error::invalid_argument(format!("{name} is NULL")))
}

/// Runs an accessor behind the panic boundary on an object that may be NULL,
/// answering `fallback` for NULL or a panic.
///
/// # Safety
/// As for [`as_ref`].
unsafe fn read<C: Castable, T: Copy>(ptr: *const C, fallback: T, f: impl FnOnce(&C::RustType) -> T) -> T {
    // SAFETY: upheld by the caller.
    guard(fallback, || unsafe { as_ref(ptr) }.map_or(fallback, f))
}

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
                unsafe { error_out.write(box_out(ErrorData::new(error))) };
            }
            status
        }
    }
}

/// [`call`] for a call with one output: fails with INVALID_ARGUMENT naming
/// `out_name` when `out` is NULL, before any work; otherwise runs `body` and
/// writes what it returns to `*out`, only on success.
fn call_out<T>(
    error_out: *mut *mut sigma_error,
    out: *mut *mut T,
    out_name: &str,
    body: impl FnOnce() -> Result<*mut T>,
) -> sigma_status {
    call(error_out, || {
        if out.is_null() {
            return Err(Error::invalid_argument(format!("{out_name} is NULL")));
        }
        let value = body()?;
        // SAFETY: non-NULL, and a writable `T *` per the contract.
        unsafe { out.write(value) };
        Ok(())
    })
}

/// Runs an accessor behind the panic boundary, answering `fallback` on a panic.
fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Reads a NUL-terminated argument, refusing NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string alive for the returned lifetime.
unsafe fn c_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a CStr> {
    if ptr.is_null() {
        return Err(Error::invalid_argument(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// Reads a NUL-terminated UTF-8 argument.
///
/// # Safety
/// As for [`c_str_arg`].
unsafe fn string_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_str_arg(ptr, name) }?;
    bytes.to_str().map_err(|_| Error::invalid_argument(format!("{name} is not valid UTF-8")))
}

/// Reads a NUL-terminated file path: any bytes but NUL name a file on Unix,
/// so a path need not be UTF-8.
///
/// # Safety
/// As for [`c_str_arg`].
unsafe fn path_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a std::path::Path> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_str_arg(ptr, name) }?.to_bytes();
    Ok(std::path::Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes)))
}

/// Reads an optional NUL-terminated UTF-8 argument: None for NULL.
///
/// # Safety
/// As for [`string_arg`].
unsafe fn optional_string_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: upheld by the caller.
    unsafe { string_arg(ptr, name) }.map(Some)
}

/// The inside of a C object whose Rust value a setter may replace while calls
/// read it (`sigma_config`, `sigma_client`): the value in a lock-free slot,
/// and `fixed`, parts set at creation that calls read without loading the slot.
pub(crate) struct Handle<T, Fixed = ()> {
    slot: ArcSwapOption<T>,
    fixed: Fixed,
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
        Handle::with_fixed(value, ())
    }
}

impl<T, Fixed> Handle<T, Fixed> {
    fn with_fixed(value: T, fixed: Fixed) -> Self {
        Handle { slot: ArcSwapOption::from_pointee(value), fixed }
    }

    fn load(&self) -> Loaded<T> {
        Loaded(self.slot.load())
    }

    /// Replaces the value (a setter; callers hold the object exclusively).
    fn replace(&self, value: T) {
        self.slot.store(Some(Arc::new(value)));
    }

    fn fixed(&self) -> &Fixed {
        &self.fixed
    }
}

/// Borrows the value of the handle object at `ptr` for this call, or
/// INVALID_ARGUMENT naming it.
///
/// # Safety
/// `ptr` is NULL or an object made by [`box_out`] and not yet freed when this
/// call began.
unsafe fn load<C, T, Fixed>(ptr: *const C, name: &str) -> Result<Loaded<T>>
where
    C: Castable<Ownership = Boxed, RustType = Handle<T, Fixed>>,
{
    // SAFETY: upheld by the caller.
    Ok(unsafe { borrow(ptr, name)? }.load())
}
