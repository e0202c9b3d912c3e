//! The background refreshes of every client in the process share a few
//! threads, started on demand and ended when idle, instead of one thread each.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::Shared;
use crate::sys::PerProcess;

/// At most this many refreshes run at once in a process. A client whose
/// refresh is still queued when its token stops being usable does not wait:
/// its next caller takes the refresh over (see `Process::fetch_or_wait`).
const MAX_THREADS: usize = 4;
/// A thread with nothing to do for this long ends, except the last one: it
/// waits for the next refresh, so that no caller starts a thread when a
/// refresh falls due (a thread start costs ~100 µs on a small VM).
const IDLE_EXIT: Duration = Duration::from_secs(30);

static REFRESHER: PerProcess<Refresher> = PerProcess::new();

#[derive(Default)]
struct Refresher {
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Weak<Shared>>,
    threads: usize,
    idle: usize,
}

/// Queues a refresh of this client, starting a thread if none is free.
pub(super) fn submit(job: Weak<Shared>) {
    let refresher = REFRESHER.get_full(|_| Refresher::default());
    let mut queue = refresher.lock();
    queue.jobs.push_back(job);
    if queue.idle > 0 {
        refresher.wake.notify_one();
        return;
    }
    if queue.threads >= MAX_THREADS {
        return; // a busy thread takes it next
    }
    queue.threads += 1;
    drop(queue);
    start(&refresher);
}

/// Makes sure a thread waits for refreshes. Called once a client has a token
/// (by the caller that just waited for it on the network), so the caller who
/// finds the refresh due later only queues it.
pub(super) fn prepare() {
    let refresher = REFRESHER.get_full(|_| Refresher::default());
    let mut queue = refresher.lock();
    if queue.threads > 0 {
        return;
    }
    queue.threads += 1;
    drop(queue);
    start(&refresher);
}

fn start(refresher: &std::sync::Arc<crate::sys::Tagged<Refresher>>) {
    let worker = refresher.clone();
    let started = std::thread::Builder::new().name("sigma-auth-refresh".into()).spawn(move || worker.work());
    if started.is_err() {
        // A job stays queued: a later submit may start a thread, and callers
        // take it over themselves once the token stops being usable.
        refresher.lock().threads -= 1;
    }
}

impl Refresher {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn work(&self) {
        loop {
            let job = {
                let mut queue = self.lock();
                loop {
                    if let Some(job) = queue.jobs.pop_front() {
                        break job;
                    }
                    queue.idle += 1;
                    let (guard, waited) = self.wake.wait_timeout(queue, IDLE_EXIT).unwrap_or_else(|e| e.into_inner());
                    queue = guard;
                    queue.idle -= 1;
                    if waited.timed_out() && queue.jobs.is_empty() && queue.threads > 1 {
                        queue.threads -= 1;
                        return;
                    }
                }
            };
            if let Some(shared) = job.upgrade() {
                shared.run_queued();
            }
        }
    }
}
