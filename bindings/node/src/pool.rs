//! The threads on which cold token fetches wait for the network, so the
//! JavaScript thread never does: at most [`MAX_THREADS`], started when work
//! arrives and no thread is idle, ended after [`IDLE`] without work. A process
//! acting for many users at once (a cold token per user) thus gets a few
//! threads, not one per user; the core's pacing lets only a couple of
//! requests per client id be in flight anyway.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Most threads waiting on fetches at once.
const MAX_THREADS: usize = 16;
/// How long an idle thread waits for work before it ends.
const IDLE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

static POOL: Pool =
    Pool { state: Mutex::new(State { jobs: VecDeque::new(), threads: 0, idle: 0 }), work: Condvar::new() };

fn lock() -> MutexGuard<'static, State> {
    POOL.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `job` on a thread of the pool. Fails only when no thread exists and
/// none can be started (the job is then not run).
pub(crate) fn run(job: Job) -> std::io::Result<()> {
    let mut state = lock();
    state.jobs.push_back(job);
    if state.idle >= state.jobs.len() || state.threads >= MAX_THREADS {
        POOL.work.notify_one();
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
        POOL.work.notify_one();
    }
    Ok(())
}

fn work() {
    let mut state = lock();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            state = lock();
            continue;
        }
        state.idle += 1;
        let (next, timeout) = POOL.work.wait_timeout(state, IDLE).unwrap_or_else(|e| e.into_inner());
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.jobs.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}
