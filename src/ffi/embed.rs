//! `sigma_embed_sign_url` and `sigma_string_free`.

use std::ffi::{c_char, CString};
use std::time::Duration;

use super::{call_out, guard, sigma_error, sigma_status, string_arg};
use crate::error::Error;

/// Signs a Sigma secure-embed URL: `claims_json` (a JSON object with at least
/// `sub`, the user's email) is signed HS256 with the embed `secret` for the
/// embed client `client_id`, valid for `ttl_seconds` (at most 2592000, 30 days);
/// the library adds `jti`, `iat`, `exp` and (unless given) `iss`, checks every
/// claim Sigma documents, and appends `:jwt=<token>&:embed=true` to the query of
/// `embed_url` (https, or http to loopback). A claim Sigma would refuse is
/// SIGMA_STATUS_INVALID_ARGUMENT with a message naming it (never its value).
/// On success `*url_out` receives a string owned by the caller, to be freed
/// with `sigma_string_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_embed_sign_url(
    embed_url: *const c_char,
    client_id: *const c_char,
    secret: *const c_char,
    claims_json: *const c_char,
    ttl_seconds: u32,
    url_out: *mut *mut c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, url_out, "url_out", || {
        // SAFETY: NULL or NUL-terminated strings, per the contract.
        let (url, id, secret, claims) = unsafe {
            (
                string_arg(embed_url, "embed_url")?,
                string_arg(client_id, "client_id")?,
                string_arg(secret, "secret")?,
                string_arg(claims_json, "claims_json")?,
            )
        };
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(claims).map_err(|_| Error::invalid_argument("claims_json must be a JSON object"))?;
        let signed = crate::sign_embed_url(url, id, secret, &claims, Duration::from_secs(u64::from(ttl_seconds)))?;
        let signed = CString::new(signed).map_err(|_| Error::invalid_argument("the embed URL holds a NUL byte"))?;
        Ok(signed.into_raw())
    })
}

/// Frees a string this library returned through a `char **` (such as
/// `sigma_embed_sign_url`'s). Accepts NULL. Each string must be freed exactly once.
#[no_mangle]
pub unsafe extern "C" fn sigma_string_free(string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: made by `CString::into_raw` in this library, freed once per the contract.
        guard((), || drop(unsafe { CString::from_raw(string) }));
    }
}

/// Encrypts a warehouse OAuth token for the `oauth_token` claim of a ver 1.1
/// embed token, the way Sigma's Node embed SDK does (PBKDF2-HMAC-SHA-256 with
/// 600,000 iterations over the embed `secret`, then AES-256-GCM; written
/// `base64(salt).base64(iv).base64(tag).base64(ciphertext)`). On success
/// `*encrypted_out` receives a string owned by the caller, to be freed with
/// `sigma_string_free`.
#[no_mangle]
pub unsafe extern "C" fn sigma_embed_encrypt_oauth_token(
    oauth_token: *const c_char,
    secret: *const c_char,
    encrypted_out: *mut *mut c_char,
    error_out: *mut *mut sigma_error,
) -> sigma_status {
    call_out(error_out, encrypted_out, "encrypted_out", || {
        // SAFETY: NULL or NUL-terminated strings, per the contract.
        let (token, secret) = unsafe { (string_arg(oauth_token, "oauth_token")?, string_arg(secret, "secret")?) };
        let encrypted = crate::embed::encrypt_embed_oauth_token(token, secret)?;
        Ok(CString::new(encrypted).map_err(|_| Error::invalid_argument("a NUL byte"))?.into_raw())
    })
}
