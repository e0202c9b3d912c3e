//! The threads on which cold token fetches wait for the network, so the
//! JavaScript thread never does. At most [`MAX_THREADS`] in all, started when
//! work arrives and no thread is free, ended after [`IDLE`] without work; and
//! at most [`PER_KEY`] at once for one token endpoint and client id (the
//! core's pacing lets only a couple of that client's requests be in flight
//! anyway), so a slow endpoint cannot take every thread from the others. A
//! process acting for many users at once thus gets a few threads, not one per
//! user; a job waiting for its turn holds no thread.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Most threads waiting on fetches at once.
const MAX_THREADS: usize = 32;
/// Most jobs of one key running at once.
const PER_KEY: usize = 4;
/// How long an idle thread waits for work before it ends.
const IDLE: Duration = Duration::from_secs(10);

pub(crate) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    /// Jobs not started, in order, with their keys.
    jobs: VecDeque<(String, Job)>,
    /// Jobs running per key.
    running: HashMap<String, usize>,
    threads: usize,
}

impl State {
    /// The first job whose key may run now.
    fn next(&mut self) -> Option<(String, Job)> {
        let at = self.jobs.iter().position(|(key, _)| self.running.get(key).copied().unwrap_or(0) < PER_KEY)?;
        let (key, job) = self.jobs.remove(at)?;
        *self.running.entry(key.clone()).or_insert(0) += 1;
        Some((key, job))
    }

    fn runnable(&self) -> usize {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        self.jobs
            .iter()
            .filter(|(key, _)| {
                let n = counts.entry(key).or_insert_with(|| self.running.get(key).copied().unwrap_or(0));
                *n += 1;
                *n <= PER_KEY
            })
            .count()
    }

    fn done(&mut self, key: &str) {
        if let Some(n) = self.running.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.running.remove(key);
            }
        }
    }
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool { state: Mutex::new(State::default()), work: Condvar::new() })
}

fn lock() -> MutexGuard<'static, State> {
    pool().state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `job` on a thread of the pool, after the jobs of `key` queued before
/// it. Fails only when no thread exists and none can be started (the job is
/// then not run).
pub(crate) fn run(key: String, job: Job) -> std::io::Result<()> {
    let mut state = lock();
    state.jobs.push_back((key, job));
    // Threads not running a job are free, those started but not yet waiting
    // included (each takes a job before it waits): a burst of calls made
    // before any new thread has run must not start a thread each.
    let busy: usize = state.running.values().sum();
    let free = state.threads - busy;
    if state.runnable() <= free || state.threads >= MAX_THREADS {
        pool().work.notify_one();
        return Ok(());
    }
    state.threads += 1;
    drop(state);
    let started = std::thread::Builder::new().name("sigma-auth-node".into()).spawn(work);
    if let Err(error) = started {
        let mut state = lock();
        state.threads -= 1;
        if state.threads == 0 {
            state.jobs.pop_back();
            return Err(error);
        }
        pool().work.notify_one();
    }
    Ok(())
}

fn work() {
    let mut state = lock();
    loop {
        if let Some((key, job)) = state.next() {
            drop(state);
            job();
            state = lock();
            state.done(&key);
            // A job of this key may have been waiting for its turn.
            pool().work.notify_all();
            continue;
        }
        let (next, timeout) = pool().work.wait_timeout(state, IDLE).unwrap_or_else(|e| e.into_inner());
        state = next;
        if timeout.timed_out() && state.jobs.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}
