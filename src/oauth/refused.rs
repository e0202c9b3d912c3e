//! A credential Sigma refused is not offered again at once. A program that
//! retries a wrong secret in a loop would otherwise send a request per turn,
//! the pattern that gets a host's address blocked at Sigma's edge for every
//! client on it. For a few seconds after an `INVALID_CLIENT`, the same token
//! URL, client id and secret (known by a keyed fingerprint, never kept) get the
//! same refusal without a request, saying when they will be asked about again.
//! Another secret is another credential. Per process, like all mutable state.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::settings::Settings;
use crate::sys::PerProcess;

/// How long a refusal is remembered.
pub(crate) const WINDOW: Duration = Duration::from_secs(3);
/// At most this many refusals are remembered (expired ones go first).
const MAX_REMEMBERED: usize = 256;
const LABEL: &[u8] = b"sigma-auth: refused credential v1";

static REFUSED: PerProcess<Mutex<HashMap<String, Refusal>>> = PerProcess::new();

struct Refusal {
    at: Instant,
    error: Error,
}

/// What identifies a credential: where it is used, the client id, and a
/// fingerprint of the secret.
pub(super) fn key(settings: &Settings) -> String {
    format!(
        "{}\n{}\n{:?}\n{}",
        settings.token_url(),
        settings.client_id,
        settings.client_auth,
        settings.client_secret.fingerprint(LABEL)
    )
}

fn with<R>(f: impl FnOnce(&mut HashMap<String, Refusal>) -> R) -> R {
    let map = REFUSED.get(|_| Mutex::default());
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut map)
}

/// The refusal of this credential, if it is recent, told as such.
pub(super) fn recent(key: &str) -> Option<Error> {
    with(|map| {
        let refusal = map.get(key).filter(|r| r.at.elapsed() < WINDOW)?;
        let ago = refusal.at.elapsed();
        let message = format!(
            "{} (refused {} ms ago; not asked again for {} ms, to spare Sigma's rate limit)",
            refusal.error.message(),
            ago.as_millis(),
            (WINDOW - ago).as_millis()
        );
        Some(refusal.error.clone().with_message(message))
    })
}

pub(super) fn remember(key: String, error: &Error) {
    with(|map| {
        if map.len() >= MAX_REMEMBERED {
            map.retain(|_, r| r.at.elapsed() < WINDOW);
        }
        if map.len() < MAX_REMEMBERED {
            map.insert(key, Refusal { at: Instant::now(), error: error.clone() });
        }
    });
}

pub(super) fn forget(key: &str) {
    with(|map| map.remove(key));
}
