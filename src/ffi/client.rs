//! `sigma_client`: a cached, self-refreshing token source.

use std::ffi::{c_char, c_int};
use std::sync::Arc;

use super::{
    arc_out, as_ref, box_out, call_out, free_box, guard, load, optional_string_arg, sigma_config, sigma_error,
    sigma_status, sigma_token, string_arg, Boxed, Castable, Handle,
};
use crate::client::{Client, Fast};
use crate::endpoint::Origin;

/// Keeps a token fresh. Thread-safe: every function taking a
/// `const sigma_client *` may run from any number of threads at once. Owned by
/// the caller, who frees it with `sigma_client_free`; calls on it already running
/// in other threads when it is freed finish normally, calls made after are the
/// caller's bug. Tokens obtained from it stay valid after it is freed. Safe to
/// keep using in a child process after fork(): the child gets fresh locks, its
/// own connections and no inherited refresh token.
pub struct sigma_client {
    _opaque: [u8; 0],
}

/// The client's lock-free part (`Fast`) is fixed at creation, so the "still
/// current?" check reads it without loading the handle.
impl Castable for sigma_client {
    type Ownership = Boxed;
    type RustType = Handle<Client, Arc<Fast>>;
}

/// A new client object.
fn client_object(client: Client) -> *mut sigma_client {
    let fast = client.fast().clone();
    box_out(Handle::with_fixed(client, fast))
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
    call_out(error_out, client_out, "client_out", || {
        // SAFETY: NULL or a live config, per the contract.
        let config = unsafe { load(config, "config")? };
        Ok(client_object(Client::new((*config).clone())))
    })
}

/// Derives a client whose tokens are the user `user_email`'s (in the tenant
/// organisation `tenant`; NULL for none), obtained with Sigma's token-exchange
/// grant and vouched for by `admin`'s tokens: `admin`'s credentials must be an
/// admin's, and the user must not be an admin (else SIGMA_STATUS_FORBIDDEN when
/// a token is asked for). Any number of derived clients share `admin`'s one
/// token; each keeps its user's token cached and fresh as any client does, and
/// calls for the same user and tenant return clients sharing one token, which
/// `admin` keeps while any client holds it or its token is usable (deriving and
/// freeing a client per request costs one exchange per user per token
/// lifetime; to force a new exchange, invalidate the user's token). A bad
/// email (empty, whitespace, no @, over 320 bytes) is
/// SIGMA_STATUS_INVALID_ARGUMENT, before any request. On success `*client_out`
/// receives a client owned by the caller, to be freed with `sigma_client_free`;
/// it keeps working after `admin` is freed (it holds the admin's token source).
#[no_mangle]
pub unsafe extern "C" fn sigma_client_impersonate(
    admin: *const sigma_client,
    user_email: *const c_char,
    tenant: *const c_char,
    client_out: *mut *mut sigma_client,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, client_out, "client_out", || {
        // SAFETY: NULL or a live client and NUL-terminated strings, per the contract.
        let (admin, email, tenant) = unsafe {
            (load(admin, "admin")?, string_arg(user_email, "user_email")?, optional_string_arg(tenant, "tenant")?)
        };
        Ok(client_object(admin.impersonate(email, tenant)?))
    })
}

/// A token valid for at least 10 more seconds (or a tenth of its lifetime).
/// While the cached token stays current, every call returns a new reference to
/// the same token: same serial (`sigma_token_serial`), same address.
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
    call_out(error_out, token_out, "token_out", || {
        // SAFETY: NULL or a live client, per the contract.
        let client = unsafe { load(client, "client")? };
        Ok(arc_out(client.token()?))
    })
}

/// Returns 1 and writes the current token to `*token_out` when one is usable
/// now; returns 0 and writes nothing when a caller would have to wait for a
/// request (or when an argument is NULL). Never waits on the network, and starts
/// the background refresh when it is due. Lets a binding do the waiting itself
/// (the Go binding parks goroutines instead of blocking threads in C), calling
/// the blocking `sigma_client_token` from one place only. On 1, `*token_out`
/// is owned by the caller, to be freed with `sigma_token_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_cached_token(
    client: *const sigma_client,
    token_out: *mut *mut sigma_token,
) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a live client, per the contract.
        let Some(client) = (unsafe { as_ref(client) }) else {
            return 0;
        };
        if token_out.is_null() {
            return 0;
        }
        match client.load().cached_token() {
            Some(token) => {
                // SAFETY: non-NULL, and a writable `sigma_token *` per the contract.
                unsafe { token_out.write(arc_out(token)) };
                1
            }
            None => 0,
        }
    })
}

/// Returns 1 when `token` is this client's current token (same serial) and still
/// valid for at least the safety skew, 0 otherwise (and when either argument is
/// NULL). Never waits on the network; starts the background refresh when it is
/// due, as `sigma_client_token` would. Lets a caller that keeps a token check it
/// cheaply, calling `sigma_client_token` only when this returns 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_token_is_current(
    client: *const sigma_client,
    token: *const sigma_token,
) -> c_int {
    // SAFETY: NULL or a live token from this library, per the contract.
    let serial = unsafe { super::token::sigma_token_serial(token) };
    // SAFETY: forwarded contract.
    unsafe { sigma_client_serial_is_current(client, serial) }
}

/// Returns 1 when the token with this serial (`sigma_token_serial`) is this
/// client's current token and still valid for at least the safety skew, 0
/// otherwise (and when `client` is NULL or `serial` is 0). The same check as
/// `sigma_client_token_is_current` for a caller that keeps a copy of the token
/// rather than the `sigma_token` itself, so no freed pointer is ever passed in.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_serial_is_current(client: *const sigma_client, serial: u64) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a live client, per the contract.
        let Some(client) = (unsafe { as_ref(client) }) else {
            return 0;
        };
        // The common answer, from two loads: current, and its refresh not due.
        if client.fixed().is_current(serial) {
            return 1;
        }
        c_int::from(serial != 0 && client.load().is_current(serial))
    })
}

/// Set in a client's published serial word once its token's refresh is due
/// (see `sigma_client_serial_word`).
pub const SIGMA_SERIAL_DUE: u64 = 0x8000_0000_0000_0000;
const _: () = assert!(SIGMA_SERIAL_DUE == crate::client::DUE);

/// `SIGMA_SERIAL_DUE`, for bindings that cannot read the header's macros
/// (Python's ctypes): they take the bit from here rather than copy it.
#[no_mangle]
pub extern "C" fn sigma_serial_due_bit() -> u64 {
    SIGMA_SERIAL_DUE
}

/// The address of the 64-bit word in which `client` publishes its current
/// token, or NULL for a NULL `client`. It holds the token's serial while the
/// token is fresh (usable, its refresh not due); the serial with the top bit
/// (`SIGMA_SERIAL_DUE`) set once its refresh is due; 0 when there is none. A
/// binding that keeps a copy of the token with serial `s` serves it with no
/// call while the word equals `s`; when it is `s | SIGMA_SERIAL_DUE`, it asks
/// `sigma_client_fresh_until` (at most once per deadline it answers); on any
/// other value it calls `sigma_client_token`. Read the word with an atomic load
/// (C11 `atomic_load_explicit(..., memory_order_acquire)` on a cast, Go
/// `atomic.LoadUint64`; on the supported platforms an aligned 64-bit load is
/// one). It stays readable for the life of the process: after the client is
/// freed it may serve another client, whose serials are never this client's.
/// In a child after fork() the library's `pthread_atfork` handler has cleared
/// every word, so the child's first check asks the library. (A raw clone or
/// glibc's `_Fork`, which skip atfork handlers, are not supported.)
#[no_mangle]
pub unsafe extern "C" fn sigma_client_serial_word(client: *const sigma_client) -> *const u64 {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a live client, per the contract.
        unsafe { as_ref(client) }.map_or(std::ptr::null(), |c| c.fixed().published.word().as_ptr())
    })
}

/// For a binding that keeps a copy of the token with this serial, once its
/// deadline has passed: the `sigma_monotonic_ns()` value until which it may
/// keep serving that token without asking again (while the serial word still
/// equals the serial), or 0 when it is not the current usable token (and for a
/// NULL `client`): then it calls `sigma_client_token`. While the token is
/// current and its refresh not due: until the refresh is due. Once due, this
/// starts the background refresh (as `sigma_client_token` would) and answers
/// 1 ms from now, never past the token's end of use, so a binding asks at most
/// once a millisecond per client while the refresh runs. Call it too after
/// obtaining a token, for its first deadline. Not counted in
/// `sigma_stats.tokens_served`: the binding counts the tokens it serves.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_fresh_until(client: *const sigma_client, serial: u64) -> u64 {
    guard(0, || {
        // SAFETY: NULL or a live client, per the contract.
        unsafe { as_ref(client) }.map_or(0, |c| c.load().fresh_until(serial))
    })
}

/// Nanoseconds on the clock of `sigma_client_fresh_until` (CLOCK_MONOTONIC on
/// Linux: the clock of Python's `time.monotonic_ns()` and of Go's monotonic
/// readings).
#[no_mangle]
pub extern "C" fn sigma_monotonic_ns() -> u64 {
    guard(0, crate::client::monotonic_ns)
}

/// Returns 1 when a request to this origin may carry the client's token: the
/// endpoint's own origin, or one added with `sigma_config_allow_origin`; 0
/// otherwise (and for NULL or non-UTF-8 arguments). `scheme` ("https"), `host`
/// and `port` (0 for the scheme's default) are the request's, as the HTTP
/// library that will send it parsed them. HTTP adapters ask this for every
/// request and every redirect hop, and send no token where it returns 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_origin_allowed(
    client: *const sigma_client,
    scheme: *const c_char,
    host: *const c_char,
    port: u16,
) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a live client and NUL-terminated strings, per the contract.
        let args = unsafe { (as_ref(client), string_arg(scheme, "scheme"), string_arg(host, "host")) };
        let (Some(client), Ok(scheme), Ok(host)) = args else {
            return 0;
        };
        let client = client.load();
        let origin = Origin::new(scheme, host, Some(port));
        c_int::from(origin.is_some_and(|o| client.config().allows_origin(&o)))
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
        let args = unsafe { (as_ref(client), string_arg(rejected_access_token, "rejected_access_token")) };
        let (Some(client), Ok(rejected)) = args else {
            return;
        };
        client.load().invalidate(rejected);
    })
}

/// Like `sigma_client_invalidate`, naming the refused token by its serial
/// (`sigma_token_serial`): the cached token is dropped only if it is still that
/// one. Does nothing when `client` is NULL or `serial` is 0.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_invalidate_serial(client: *const sigma_client, serial: u64) {
    guard((), || {
        // SAFETY: NULL or a live client, per the contract.
        if let Some(client) = unsafe { as_ref(client) } {
            client.load().invalidate_serial(serial);
        }
    })
}

/// Frees a client. Accepts NULL. Calls on it still running in other threads
/// finish normally; no call may start afterwards. A background refresh in
/// progress finishes on its own.
#[no_mangle]
pub unsafe extern "C" fn sigma_client_free(client: *mut sigma_client) {
    // SAFETY: NULL or a client from `sigma_client_new`, freed once per the contract.
    unsafe { free_box(client) }
}
