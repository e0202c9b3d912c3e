//! Token requests are paced, per token endpoint and client id, in a process.
//!
//! Sigma's token endpoint is reported to take about one request a second per
//! client, and every impersonation is a request to it: an embed backend acting
//! as twenty users at once sent twenty requests together and had eight of them
//! fail. So:
//! - at most [`MAX_IN_FLIGHT`] requests of one endpoint and client id are in
//!   flight at once; the others queue;
//! - once the endpoint throttles (429, or its edge's HTML page), requests are
//!   spaced by an interval learned from it: [`FIRST_INTERVAL`] at first,
//!   doubled at each further throttle up to [`MAX_INTERVAL`], halved after
//!   each [`QUIET`] without one until it is gone.
//!
//! A caller queues within its own deadline: when its turn would come too late,
//! it fails at once with `RATE_LIMITED` instead of waiting in vain. Nothing
//! here touches the cached path; a lone caller with nothing learned waits for
//! nothing. Shared by every client and derived client of the process.
//!
//! With a token store shared by hosts (`Config::set_token_store`), the
//! spacing is shared too: the interval learned from throttling and the time of
//! the next request live in Redis, and each request reserves its slot there
//! in one script (a token bucket of one, refilled every interval: GCRA), so
//! ten replicas together keep to the rate one would. The store being
//! unavailable leaves the pacing of this process alone.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::sys::PerProcess;
use crate::transport::redis::{self as store, Link};

/// Requests of one endpoint and client id in flight at once.
pub(crate) const MAX_IN_FLIGHT: usize = 2;
/// The spacing after a first throttled answer.
pub(crate) const FIRST_INTERVAL: Duration = Duration::from_millis(600);
/// The widest spacing learned.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(5);
/// After this long without a throttled answer, the spacing halves.
pub(crate) const QUIET: Duration = Duration::from_secs(10);
/// A request in flight this long no longer holds its place: a server that
/// hangs on two requests must not hold back every other caller.
pub(crate) const SLOW: Duration = Duration::from_secs(2);

static PACERS: PerProcess<Mutex<HashMap<String, Arc<Pacer>>>> = PerProcess::new();

#[derive(Default)]
struct Pacer {
    state: Mutex<State>,
    turn: Condvar,
}

#[derive(Default)]
struct State {
    /// When each request in flight started, by its id.
    in_flight: HashMap<u64, Instant>,
    next_id: u64,
    /// The spacing between requests (zero: none).
    interval: Duration,
    /// When the next request may start.
    next: Option<Instant>,
    /// When the endpoint last throttled.
    throttled_at: Option<Instant>,
}

impl State {
    /// Lets the interval decay for every quiet period since the last throttle.
    fn recover(&mut self, now: Instant) {
        while let Some(at) = self.throttled_at.filter(|at| now.duration_since(*at) >= QUIET) {
            self.interval /= 2;
            self.throttled_at = Some(at + QUIET);
            if self.interval < Duration::from_millis(50) {
                self.interval = Duration::ZERO;
                self.throttled_at = None;
            }
        }
    }
}

/// A place in flight, given back on drop.
pub(super) struct Turn {
    pacer: Arc<Pacer>,
    id: u64,
    /// The spacing shared through the token store, if there is one.
    shared: Option<Shared>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        lock(&self.pacer.state).in_flight.remove(&self.id);
        self.pacer.turn.notify_all();
    }
}

impl Turn {
    /// The answer was the endpoint throttling: space the requests more.
    pub(super) fn throttled(&self) {
        let mut state = lock(&self.pacer.state);
        let now = Instant::now();
        // Requests turned away together are one signal, not several.
        let same_burst = state.throttled_at.is_some_and(|at| now.duration_since(at) < state.interval);
        if !same_burst {
            state.interval = (state.interval * 2).clamp(FIRST_INTERVAL, MAX_INTERVAL);
        }
        state.throttled_at = Some(now);
        // The next request one interval from now (not one more on top of the
        // turn already given out).
        state.next = Some(state.next.map_or(now, |n| n.max(now)).max(now + state.interval));
        drop(state);
        if let Some(shared) = &self.shared {
            shared.throttled();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits for this request's turn, by `deadline`.
pub(super) fn turn(config: &Config, deadline: Instant) -> Result<Turn> {
    let settings = config.settings();
    let key = format!("{}\n{}", settings.token_url(), settings.client_id);
    let pacer = {
        let pacers = PACERS.get(|_| Mutex::default());
        let mut pacers = pacers.lock().unwrap_or_else(|e| e.into_inner());
        pacers.entry(key).or_default().clone()
    };
    let mut state = lock(&pacer.state);
    loop {
        let now = Instant::now();
        state.recover(now);
        let at = state.next.filter(|next| *next > now);
        // Only requests that started within SLOW hold their places.
        let holding: Vec<Instant> =
            state.in_flight.values().copied().filter(|s| now.duration_since(*s) < SLOW).collect();
        if holding.len() < MAX_IN_FLIGHT && at.is_none() {
            state.next_id += 1;
            let id = state.next_id;
            state.in_flight.insert(id, now);
            if !state.interval.is_zero() {
                state.next = Some(now + state.interval);
            }
            drop(state);
            let shared = Shared::of(config);
            let turn = Turn { pacer, id, shared };
            if let Some(shared) = &turn.shared {
                shared.reserve(deadline);
            }
            return Ok(turn);
        }
        if at.is_some_and(|at| at >= deadline) {
            return Err(Error::new(
                ErrorCode::RateLimited,
                format!(
                    "Sigma's token endpoint was throttling: token requests are spaced {} ms apart, and this call's \
                     turn would come after its deadline",
                    state.interval.as_millis()
                ),
            ));
        }
        // Wake for the spacing, or when the oldest place stops holding.
        let freed = (holding.len() >= MAX_IN_FLIGHT).then(|| holding.iter().min().map(|s| *s + SLOW)).flatten();
        let wake = at.into_iter().chain(freed).max().unwrap_or(deadline).min(deadline);
        let Some(wait) = wake.checked_duration_since(now).filter(|w| !w.is_zero()) else {
            // Queued behind slow requests, nothing throttled: the deadline passed.
            let code = if state.interval.is_zero() { ErrorCode::Timeout } else { ErrorCode::RateLimited };
            return Err(Error::new(
                code,
                "the deadline passed while this call's token request was queued behind others still in flight",
            ));
        };
        state = pacer.turn.wait_timeout(state, wait).map(|(s, _)| s).unwrap_or_else(|e| e.into_inner().0);
    }
}

/// The spacing of one endpoint and client id shared by the hosts of a token store.
struct Shared {
    link: Arc<Link>,
    key: String,
}

/// Recovers the interval as `State::recover` does (halved for each quiet
/// period, gone under 50 ms; never wider than ARGV[3] ms, whatever was
/// written there); then reserves the next slot unless it comes after ARGV[1]
/// ms: returns the wait (ms), or -1 when it would come too late.
const RESERVE: &str = "
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'next', 'interval', 'throttled')
local nxt, interval, thr = tonumber(s[1]) or 0, tonumber(s[2]) or 0, tonumber(s[3]) or 0
local quiet = tonumber(ARGV[2])
interval = math.min(interval, tonumber(ARGV[3]))
while interval > 0 and thr > 0 and now - thr >= quiet do
  interval = math.floor(interval / 2)
  thr = thr + quiet
  if interval < 50 then interval = 0 thr = 0 end
end
if interval == 0 then return 0 end
local at = math.max(nxt, now)
if at - now > tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'next', at + interval, 'interval', interval, 'throttled', thr)
redis.call('PEXPIRE', KEYS[1], 120000)
return at - now
";

/// A throttled answer: doubles the shared interval (within ARGV[1]..ARGV[2]
/// ms) unless it is the same burst, and pushes the next slot out.
const THROTTLED: &str = "
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'next', 'interval', 'throttled')
local nxt, interval, thr = tonumber(s[1]) or 0, tonumber(s[2]) or 0, tonumber(s[3]) or 0
if not (thr > 0 and now - thr < interval) then
  interval = math.min(math.max(interval * 2, tonumber(ARGV[1])), tonumber(ARGV[2]))
end
redis.call('HSET', KEYS[1], 'next', math.max(nxt, now + interval), 'interval', interval, 'throttled', now)
redis.call('PEXPIRE', KEYS[1], 120000)
return interval
";

static RESERVE_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| redis::Script::new(RESERVE));
static THROTTLED_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(THROTTLED));

impl Shared {
    /// The shared spacing of these settings' endpoint and client id, when they
    /// have a token store (not for a person's sign-in, which has no secret to
    /// name it by).
    fn of(config: &Config) -> Option<Shared> {
        let settings = config.settings();
        if settings.signin.is_some() {
            return None;
        }
        let link = config.store_link()?.ok()?;
        let label = format!("sigma-auth token store v1: pacing\n{}\n{}", settings.token_url(), settings.client_id);
        let name = settings.client_secret.fingerprint(label.as_bytes());
        Some(Shared { link, key: format!("sigma-auth:{{{}}}:pace", &name[..32]) })
    }

    /// Waits for this request's slot in the fleet's spacing, for at most half
    /// the time left before `deadline` and two of the widest intervals. A
    /// slot later than that (a fleet queued deep, or a value someone planted
    /// in the store) is not waited for: the request goes ahead under this
    /// process's own pacing, as it would without a store, so the store can
    /// slow a call but never fail it. The store being unavailable means no
    /// shared wait either.
    fn reserve(&self, deadline: Instant) {
        let most = (deadline.saturating_duration_since(Instant::now()) / 2).min(MAX_INTERVAL * 2);
        let answer = self.link.run(deadline, |c| {
            RESERVE_SCRIPT
                .key(&self.key)
                .arg(most.as_millis() as u64)
                .arg(QUIET.as_millis() as u64)
                .arg(MAX_INTERVAL.as_millis() as u64)
                .invoke::<i64>(c)
        });
        if let Ok(wait) = answer.map(|w| Duration::from_millis(w.max(0) as u64)) {
            std::thread::sleep(wait.min(most));
        }
    }

    fn throttled(&self) {
        let deadline = Instant::now() + store::COMMAND_TIMEOUT;
        let _ = self.link.run(deadline, |c| {
            THROTTLED_SCRIPT
                .key(&self.key)
                .arg(FIRST_INTERVAL.as_millis() as u64)
                .arg(MAX_INTERVAL.as_millis() as u64)
                .invoke::<i64>(c)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_endpoint_sheds_the_interval_it_learned() {
        let now = Instant::now();
        let mut state = State { interval: Duration::from_secs(4), throttled_at: Some(now), ..State::default() };
        state.recover(now + QUIET * 2 + Duration::from_millis(1));
        assert_eq!(state.interval, Duration::from_secs(1));
        state.recover(now + QUIET * 10);
        assert_eq!((state.interval, state.throttled_at), (Duration::ZERO, None));
    }
}
