//! The token store shared by hosts: Redis (`Config::set_token_store`).
//!
//! The in-process client stays the first level (its cached path never comes
//! here) and the disk cache, when on, the second; this is consulted when a
//! process has no usable token, and written when it gets one. It holds the
//! admin token and the token of each user acted as, one entry per (token URL,
//! client id, user, tenant, extra subject claims), expiring with its token.
//! Refresh tokens never leave their host.
//!
//! - **One fetch across the fleet.** A process that finds no fresh entry takes
//!   the entry's lock (`SET NX PX`, a random fencing value, expiring with the
//!   holder's deadline or in 10 s), reads again, fetches, then writes the entry and
//!   releases the lock in one script that does either only while the lock is
//!   still its own (or free), so a holder that outlived its lock never
//!   overwrites the next holder's work. The others poll the entry for at most
//!   half their time left, then fetch themselves: a stuck or dead host never
//!   blocks the rest.
//! - **Nothing usable at rest.** Keys are HMACs (no user's email, no client id
//!   in clear); values are AES-256-GCM under a key derived (HKDF-SHA-256) from
//!   the client secret, bound to their key name: whoever reads Redis without
//!   the secret gets nothing usable, a host with another secret misses, and a
//!   value tampered with or moved to another key is a miss.
//! - **Failure never fails a call.** Every command is bounded
//!   (`transport/redis.rs`); a store that is down, slow, full or answering
//!   garbage means "go on without it", with a STORE_UNAVAILABLE event.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::error::Result;
use crate::oauth::Subject;
use crate::observe::{Event, EventKind, Trace};
use crate::settings::Settings;
use crate::token::{Issued, Parts, Token};
use crate::transport::redis::{Link, Unavailable};

/// How often a process waiting for another's fetch looks at the entry.
const POLL: Duration = Duration::from_millis(40);
/// The format of a value: a version byte before the nonce.
const VERSION: u8 = 1;
const MAX_VALUE_BYTES: usize = 64 * 1024;
/// The shortest lock: a holder always gets this long to fetch.
const MIN_LOCK: Duration = Duration::from_secs(1);
/// The longest: a holder killed mid-fetch holds the others back this long at
/// most (a fetch that takes longer lets another host fetch too).
const MAX_LOCK: Duration = Duration::from_secs(10);

/// What taking the lock found.
enum Lock {
    Held,
    /// Someone else holds it, for this long still (None: forever).
    Taken {
        expires_in: Option<Duration>,
    },
}

/// What a caller of [`obtain`] wants: whose token, by when, and which token
/// (if any) it wants replaced rather than handed back.
#[derive(Clone, Copy)]
pub(crate) struct Want<'a> {
    pub subject: Option<&'a Subject>,
    pub deadline: Instant,
    pub replacing: Option<&'a str>,
}

/// Gets a token through the store of `config`: a fresh stored one other than
/// `want.replacing`, or one from `fetch` (made under the store's lock when it
/// can be taken in time) and then stored. Whatever happens to the store,
/// `fetch`'s result is the answer.
pub(crate) fn obtain(
    config: &Config,
    want: Want<'_>,
    trace: &mut Trace,
    fetch: impl FnOnce(&mut Trace) -> Result<Token>,
) -> Result<Token> {
    let settings = config.settings();
    let Want { subject, deadline, replacing } = want;
    let unavailable = |why: Unavailable, trace: &mut Trace| {
        trace.push(Event { message: Some(why.0), ..Event::new(EventKind::StoreUnavailable) });
    };
    let link = match config.store_link() {
        Some(Ok(link)) => link,
        Some(Err(why)) => {
            unavailable(why, trace);
            return fetch(trace);
        }
        None => return fetch(trace),
    };
    let entry = Entry::new(settings, subject);
    let usable = |token: &Token| {
        token.remaining() > config.refresh_margin_for(token.expires_in()) && Some(token.access_token()) != replacing
    };
    let hit = |token: Token, trace: &mut Trace| {
        trace.push(Event { serial: Some(token.serial()), ..Event::new(EventKind::StoreHit) });
        Ok(token)
    };
    match entry.read(&link, deadline) {
        Ok(Some(token)) if usable(&token) => return hit(token, trace),
        Ok(_) => {}
        Err(why) => {
            unavailable(why, trace);
            return fetch(trace);
        }
    }
    // Someone has to fetch: us, if the lock is free; else wait for the holder
    // for at most half the time left.
    let fence = fence();
    // Once the store has failed a command, this call leaves it alone.
    let mut reachable = true;
    let now = Instant::now();
    let wait_until = now + deadline.saturating_duration_since(now) / 2;
    let mut checked_holder = false;
    let held = loop {
        match entry.lock(&link, &fence, deadline) {
            Ok(Lock::Held) => break true,
            // A lock that never expires, or later than any of ours would, is
            // not a holder's: not waited for.
            Ok(Lock::Taken { expires_in }) if !checked_holder => {
                checked_holder = true;
                if expires_in.is_none_or(|left| left > MAX_LOCK + POLL) {
                    trace.push(Event {
                        message: Some(
                            "the token store's lock has no expiry or a longer one than sigma-auth sets: not waited \
                             for, and removed"
                                .into(),
                        ),
                        ..Event::new(EventKind::StoreUnavailable)
                    });
                    // No holder of ours set it, so no holder of ours loses it:
                    // removed, the entry can be written again.
                    let _ = entry.remove_planted_lock(&link, deadline);
                    break false;
                }
            }
            Ok(Lock::Taken { .. }) => {}
            Err(why) => {
                unavailable(why, trace);
                reachable = false;
                break false;
            }
        }
        let now = Instant::now();
        if now >= wait_until {
            trace.push(Event {
                message: Some("another process held the token store's lock past half of this call's time".into()),
                ..Event::new(EventKind::StoreUnavailable)
            });
            break false;
        }
        std::thread::sleep(POLL.min(wait_until - now));
        match entry.read(&link, deadline) {
            Ok(Some(token)) if usable(&token) => return hit(token, trace),
            Ok(_) => {}
            Err(why) => {
                unavailable(why, trace);
                reachable = false;
                break false;
            }
        }
    };
    if held {
        // The previous holder may have written just before we took the lock.
        if let Ok(Some(token)) = entry.read(&link, deadline) {
            if usable(&token) {
                let _ = entry.release(&link, &fence, deadline);
                return hit(token, trace);
            }
        }
    }
    let result = fetch(trace);
    // Written only while the lock is ours (or nobody's): never over the work
    // of a holder that came after us. A failed write costs others a fetch.
    let stored = match &result {
        _ if !reachable => Ok(()),
        Ok(token) => entry.write(&link, token, held.then_some(fence.as_str()), deadline),
        Err(_) if held => entry.release(&link, &fence, deadline),
        Err(_) => Ok(()),
    };
    if let Err(why) = stored {
        unavailable(why, trace);
    }
    result
}

/// A random fencing value for one holder of a lock.
fn fence() -> String {
    let mut bytes = [0u8; 16];
    // A failure of the OS's random source leaves a value that is still unique
    // enough per process and moment; the lock only orders fetches.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&(nanos ^ u128::from(std::process::id())).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The plaintext of a value. No refresh token: those never leave their host.
#[derive(Serialize, Deserialize)]
struct Sealed {
    access_token: String,
    token_type: String,
    expires_in: u64,
    /// Unix milliseconds: hosts share no monotonic clock.
    expires_at_ms: u64,
}

/// One entry: its key names and its encryption key.
struct Entry {
    key: String,
    lock: String,
    cipher: LessSafeKey,
}

impl Entry {
    fn new(settings: &Settings, subject: Option<&Subject>) -> Entry {
        let (email, tenant) = subject.map_or(("", ""), |s| (s.email.as_str(), s.tenant.as_deref().unwrap_or("")));
        let claims = if subject.is_some() { settings.subject_token_claims.clone() } else { Default::default() };
        let claims = serde_json::Value::Object(claims).to_string();
        let name = names(settings, &["token", email, tenant, &claims]);
        Entry {
            // One hash tag, so a Redis Cluster keeps both in one slot (the
            // scripts take both).
            key: format!("sigma-auth:{{{name}}}:token"),
            lock: format!("sigma-auth:{{{name}}}:lock"),
            cipher: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &derive(settings, b"sigma-auth token store v1: entries")[..])
                    .expect("AES-256 takes a 32-byte key"),
            ),
        }
    }

    /// The stored token, if there is one this secret can open.
    /// At most [`MAX_VALUE_BYTES`] + 1 of the value are read (a bigger one
    /// is not ours), and its time to live: the token is taken to expire
    /// by the stored expiry or Redis's clock, whichever comes first, so a
    /// host whose clock is behind never uses it too long.
    fn read(&self, link: &std::sync::Arc<Link>, deadline: Instant) -> std::result::Result<Option<Token>, Unavailable> {
        let (value, ttl_ms): (Vec<u8>, i64) = link.run(deadline, |c| {
            redis::pipe().cmd("GETRANGE").arg(&self.key).arg(0).arg(MAX_VALUE_BYTES).cmd("PTTL").arg(&self.key).query(c)
        })?;
        let ttl = (ttl_ms > 0).then(|| SystemTime::now() + Duration::from_millis(ttl_ms as u64));
        Ok(self.open(value, ttl))
    }

    fn open(&self, value: Vec<u8>, ttl: Option<SystemTime>) -> Option<Token> {
        let value = Zeroizing::new(value);
        if value.len() > MAX_VALUE_BYTES || value.len() < 1 + NONCE_LEN + 16 || value[0] != VERSION {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&value[1..1 + NONCE_LEN]).ok()?;
        let mut sealed = Zeroizing::new(value[1 + NONCE_LEN..].to_vec());
        let plain = self.cipher.open_in_place(nonce, Aad::from(self.key.as_bytes()), &mut sealed).ok()?;
        let stored: Sealed = serde_json::from_slice(plain).ok()?;
        let Sealed { access_token, token_type, expires_in, expires_at_ms } = stored;
        let access_token = Zeroizing::new(access_token);
        let stored_expiry = UNIX_EPOCH + Duration::from_millis(expires_at_ms);
        Token::new(Parts {
            access_token: &access_token,
            refresh_token: None,
            token_type: &token_type,
            expires_in: expires_in as f64,
            issued: Issued::ExpiresAt(ttl.map_or(stored_expiry, |ttl| ttl.min(stored_expiry))),
        })
        .ok()
    }

    fn seal(&self, token: &Token) -> Option<Vec<u8>> {
        let expires_at_ms = token.expires_at().duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
        let plain = Zeroizing::new(
            serde_json::to_vec(&Sealed {
                access_token: token.access_token().to_string(),
                token_type: token.token_type().to_string(),
                expires_in: token.expires_in().as_secs(),
                expires_at_ms,
            })
            .ok()?,
        );
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).ok()?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plain.len() + 16);
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&plain);
        let mut body = sealed.split_off(1 + NONCE_LEN);
        let tag = self
            .cipher
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(self.key.as_bytes()), &mut body)
            .ok()?;
        sealed.extend_from_slice(&body);
        sealed.extend_from_slice(tag.as_ref());
        Some(sealed)
    }

    /// Takes the lock for this holder, until its deadline (within
    /// [`MIN_LOCK`]..[`MAX_LOCK`]); or says how long another holds it.
    fn lock(
        &self,
        link: &std::sync::Arc<Link>,
        fence: &str,
        deadline: Instant,
    ) -> std::result::Result<Lock, Unavailable> {
        let ttl = deadline.saturating_duration_since(Instant::now()).clamp(MIN_LOCK, MAX_LOCK);
        let set: Option<String> = link.run(deadline, |c| {
            redis::cmd("SET").arg(&self.lock).arg(fence).arg("NX").arg("PX").arg(ttl.as_millis() as u64).query(c)
        })?;
        if set.is_some() {
            return Ok(Lock::Held);
        }
        let (holder, ttl_ms): (Option<String>, i64) =
            link.run(deadline, |c| redis::pipe().cmd("GET").arg(&self.lock).cmd("PTTL").arg(&self.lock).query(c))?;
        Ok(match (holder, ttl_ms) {
            // Our own SET, answered on a connection that then broke.
            (Some(holder), _) if holder == fence => Lock::Held,
            // Gone meanwhile: the next try takes it.
            (None, _) => Lock::Taken { expires_in: Some(Duration::ZERO) },
            (Some(_), ms) if ms >= 0 => Lock::Taken { expires_in: Some(Duration::from_millis(ms as u64)) },
            (Some(_), _) => Lock::Taken { expires_in: None },
        })
    }

    /// Deletes the lock if it still has no expiry or a longer one than any
    /// holder of ours sets (checked again, in case it changed meanwhile).
    fn remove_planted_lock(
        &self,
        link: &std::sync::Arc<Link>,
        deadline: Instant,
    ) -> std::result::Result<(), Unavailable> {
        link.run(deadline, |c| {
            let ttl_ms: i64 = redis::cmd("PTTL").arg(&self.lock).query(c)?;
            if ttl_ms == -1 || ttl_ms > (MAX_LOCK + POLL).as_millis() as i64 {
                redis::cmd("DEL").arg(&self.lock).query::<()>(c)?;
            }
            Ok(())
        })
    }

    /// Lets the lock go if it is still this holder's.
    fn release(
        &self,
        link: &std::sync::Arc<Link>,
        fence: &str,
        deadline: Instant,
    ) -> std::result::Result<(), Unavailable> {
        static RELEASE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            )
        });
        link.run(deadline, |c| match RELEASE.key(&self.lock).arg(fence).invoke::<i64>(c) {
            // Scripts refused (an ACL, a renamed EVAL): the same in two steps.
            Err(e) if e.code().is_some() => release_in_two_steps(c, &self.lock, fence),
            other => other.map(drop),
        })
    }

    /// Stores `token` until it expires, and lets the lock go, in one step,
    /// only while the lock is `fence`'s (None: only while nobody holds it).
    fn write(
        &self,
        link: &std::sync::Arc<Link>,
        token: &Token,
        fence: Option<&str>,
        deadline: Instant,
    ) -> std::result::Result<(), Unavailable> {
        static WRITE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "local holder = redis.call('GET', KEYS[2]) \
                 if holder and holder ~= ARGV[3] then return 0 end \
                 redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
                 if holder then redis.call('DEL', KEYS[2]) end \
                 return 1",
            )
        });
        let ttl = token.remaining().as_millis() as u64;
        let Some(value) = self.seal(token).filter(|_| ttl > 0) else {
            return match fence {
                Some(fence) => self.release(link, fence, deadline),
                None => Ok(()),
            };
        };
        let value = Zeroizing::new(value);
        link.run(deadline, |c| {
            let written =
                WRITE.key(&self.key).key(&self.lock).arg(&value[..]).arg(ttl).arg(fence.unwrap_or("")).invoke::<i64>(c);
            match (written, fence) {
                // Scripts refused: a holder still stores its token and lets the
                // lock go, in steps; anyone else leaves the store alone.
                (Err(e), Some(fence)) if e.code().is_some() => {
                    redis::cmd("SET").arg(&self.key).arg(&value[..]).arg("PX").arg(ttl).query::<()>(c)?;
                    release_in_two_steps(c, &self.lock, fence)
                }
                (written, _) => written.map(drop),
            }
        })
    }
}

/// The release without a script: the lock is deleted if it still holds
/// `fence` (another holder could take it between the two steps only after it
/// expired, which a holder does not wait for).
fn release_in_two_steps(
    c: &mut crate::transport::redis::Connection,
    lock: &str,
    fence: &str,
) -> redis::RedisResult<()> {
    let holder: Option<String> = redis::cmd("GET").arg(lock).query(c)?;
    if holder.as_deref() == Some(fence) {
        redis::cmd("DEL").arg(lock).query::<()>(c)?;
    }
    Ok(())
}

/// 32 bytes for `purpose`, derived from the client secret (HKDF-SHA-256, the
/// token URL and client id as its info): another secret, another key.
fn derive(settings: &Settings, purpose: &[u8]) -> Zeroizing<[u8; 32]> {
    struct Len32;
    impl ring::hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, purpose);
    let prk = salt.extract(settings.client_secret.expose().as_bytes());
    let info = [settings.token_url().as_bytes(), b"\n", settings.client_id.as_bytes()];
    let mut out = Zeroizing::new([0u8; 32]);
    let filled = prk.expand(&info, Len32).and_then(|okm| okm.fill(&mut out[..]));
    filled.expect("HKDF-SHA-256 gives 32 bytes");
    out
}

/// A key name's middle: a keyed hash (HMAC-SHA-256 under a key derived from
/// the client secret) of the token URL, client id and `parts`, in hex. Names no
/// user and no client in clear; the same for every host with the same secret.
pub(crate) fn names(settings: &Settings, parts: &[&str]) -> String {
    let key = derive(settings, b"sigma-auth token store v1: names");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key[..]);
    let mut context = ring::hmac::Context::with_key(&key);
    for part in [settings.token_url(), settings.client_id.as_str()].iter().chain(parts) {
        context.update(&(part.len() as u64).to_le_bytes());
        context.update(part.as_bytes());
    }
    context.sign().as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Endpoint;
    use crate::secret::Secret;

    fn settings(secret: &str) -> Settings {
        Settings::new(Endpoint::parse("aws-us-east").unwrap(), "client-id", Secret::new(secret))
    }

    fn token() -> Token {
        Token::new(Parts {
            access_token: "access-token-value",
            refresh_token: Some("refresh-token-value"),
            token_type: "bearer",
            expires_in: 3600.0,
            issued: Issued::ExpiresAt(SystemTime::now() + Duration::from_secs(3000)),
        })
        .unwrap()
    }

    #[test]
    fn an_entry_opens_only_under_its_own_secret_and_key_and_never_holds_the_refresh_token() {
        let subject = Subject::new("someone@example.com", None).unwrap();
        let entry = Entry::new(&settings("secret-one"), Some(&subject));
        let sealed = entry.seal(&token()).unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("access-token-value") && !text.contains("refresh-token-value"));
        assert!(!entry.key.contains("someone") && !entry.key.contains("client-id"), "{}", entry.key);
        let opened = entry.open(sealed.clone(), None).unwrap();
        assert_eq!((opened.access_token(), opened.refresh_token()), ("access-token-value", None));
        assert_eq!(opened.expires_in(), Duration::from_secs(3600));
        // Another secret: another key name, and the value does not open.
        let other = Entry::new(&settings("secret-two"), Some(&subject));
        assert_ne!(other.key, entry.key);
        assert!(other.open(sealed.clone(), None).is_none());
        // Another user (same secret): the value is bound to its key name.
        let admin = Entry::new(&settings("secret-one"), None);
        assert!(admin.open(sealed.clone(), None).is_none());
        // Any byte changed: a miss.
        for at in [0, 5, sealed.len() / 2, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[at] ^= 1;
            assert!(entry.open(tampered, None).is_none(), "byte {at}");
        }
        assert!(entry.open(Vec::new(), None).is_none());
        // Redis's clock says it expires sooner: that wins.
        let soon = SystemTime::now() + Duration::from_secs(60);
        assert!(entry.open(sealed.clone(), Some(soon)).unwrap().remaining() <= Duration::from_secs(60));
    }
}
