//! A fixed set of threads for the pipeline's CPU work (parse, verify, XSD,
//! adapters, sign — blocking libxml2, xmlsec1 and crypto calls kept off the
//! async reactor).
//!
//! Why not `tokio::task::spawn_blocking`: its pool wakes whichever idle
//! thread comes first and grows whenever none is idle at that instant, so
//! under load a message lands on one of two dozen threads in turn, each
//! with a cold cache and a cold allocator heap of its own (`perf` of the
//! end-to-end benchmark: ≈ 25 blocking threads, allocation a tenth of the
//! pipeline's time). Here `workers` threads, started once, take the
//! messages from one queue, and a new message wakes the thread that went
//! idle last, so below saturation the same one or two threads (and their
//! thread-local libxml2 state) stay warm (end-to-end benchmark at half
//! rate, against a first-in, first-out queue: ≈ 12 % less pipeline CPU per
//! message). The pool is a mutex, a queue and a condition variable per
//! thread: written here because the wake order is the point of it.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// One job: runs on a pool thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of named threads that run closures off the async reactor.
///
/// Dropping the pool lets its threads finish the jobs already queued and
/// end; they are not joined.
pub struct Workers {
    shared: Arc<Shared>,
}

/// The queue and the idle threads, under one lock; one condition variable
/// per thread, so a job wakes the thread that went idle last.
struct Shared {
    state: Mutex<State>,
    wake: Vec<Condvar>,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Idle threads, the most recently idle last.
    idle: Vec<usize>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and catch their panics: a poisoned lock
        // holds a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a job gave no result.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job panicked; the panic message, for the log and the dead letter.
    #[error("the pipeline panicked: {0}")]
    Panicked(String),
    /// The job was dropped without running to its end.
    #[error("the pipeline job was dropped unfinished")]
    Lost,
}

impl Workers {
    /// Starts `threads` (at least one) threads named `{name}-{i}`; each
    /// enters the runtime of `rt`, so jobs may use `Handle::current()`
    /// and `Handle::block_on` as on tokio's blocking threads.
    pub fn start(name: &str, threads: usize, rt: &tokio::runtime::Handle) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            wake: (0..threads).map(|_| Condvar::new()).collect(),
        });
        // Built first: if a thread cannot be started, dropping the pool
        // ends the ones that were.
        let pool = Self { shared };
        for me in 0..threads {
            let (shared, rt) = (pool.shared.clone(), rt.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{me}"))
                .spawn(move || {
                    let _runtime = rt.enter();
                    work(&shared, me);
                })?;
        }
        Ok(pool)
    }

    /// Runs `f` on a pool thread and waits (asynchronously) for its result.
    /// A panic in `f` is caught and returned as [`JobError::Panicked`]; the
    /// thread goes on with the next job.
    pub async fn run<T, F>(&self, f: F) -> Result<T, JobError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(f))
                .map_err(|panic| JobError::Panicked(panic_message(panic.as_ref())));
            // The caller may have gone (its task cancelled): nothing to tell.
            let _ = done.send(outcome);
        });
        {
            // Never closed here: only dropping the pool closes it.
            let mut state = self.shared.lock();
            state.jobs.push_back(job);
            if let Some(thread) = state.idle.pop() {
                self.shared.wake[thread].notify_one();
            }
        }
        result.await.map_err(|_| JobError::Lost)?
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        for wake in &self.shared.wake {
            wake.notify_one();
        }
    }
}

/// Thread `me`: runs jobs until the pool is dropped and the queue is empty.
fn work(shared: &Shared, me: usize) {
    let mut state = shared.lock();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            state = shared.lock();
            continue;
        }
        if state.closed {
            return;
        }
        state.idle.push(me);
        state = shared.wake[me]
            .wait(state)
            .unwrap_or_else(|e| e.into_inner());
        // Woken by a job (already taken off `idle`), by the drop, or
        // spuriously (still on it).
        state.idle.retain(|&t| t != me);
    }
}

/// The text of a panic payload (`&str` or `String`), else a placeholder.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_run_on_the_pools_own_threads_only() {
        let pool =
            Arc::new(Workers::start("t-pool", 3, &tokio::runtime::Handle::current()).unwrap());
        let names = Arc::new(Mutex::new(HashSet::new()));
        let mut all = Vec::new();
        for i in 0..200u32 {
            let (pool, names) = (pool.clone(), names.clone());
            all.push(tokio::spawn(async move {
                pool.run(move || {
                    let name = std::thread::current().name().unwrap_or("").to_owned();
                    names.lock().unwrap().insert(name);
                    i * 2
                })
                .await
            }));
        }
        let mut sum = 0;
        for t in all {
            sum += t.await.unwrap().unwrap();
        }
        assert_eq!(sum, (0..200u32).map(|i| i * 2).sum::<u32>());
        let names = names.lock().unwrap();
        assert!(!names.is_empty() && names.len() <= 3, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("t-pool-")), "{names:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_goes_to_the_thread_that_went_idle_last() {
        let pool = Workers::start("t-lifo", 3, &tokio::runtime::Handle::current()).unwrap();
        let mut names = Vec::new();
        for _ in 0..20 {
            // Time for the thread to go back to sleep between jobs.
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            let name = pool
                .run(|| std::thread::current().name().unwrap_or("").to_owned())
                .await
                .unwrap();
            names.push(name);
        }
        let first = &names[0];
        let same = names.iter().filter(|n| *n == first).count();
        // First in, first out would rotate over all three threads.
        assert!(same >= 18, "{names:?}");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_thread_goes_on() {
        let pool = Workers::start("t-panic", 1, &tokio::runtime::Handle::current()).unwrap();
        let err = pool
            .run(|| -> u8 { panic!("bad input {}", 7) })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("bad input 7"), "{err}");
        // The one thread survived the panic.
        assert_eq!(pool.run(|| 41 + 1).await.unwrap(), 42);
    }

    #[tokio::test]
    async fn dropping_the_pool_finishes_the_queued_jobs_then_ends_the_threads() {
        let pool = Workers::start("t-drop", 1, &tokio::runtime::Handle::current()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        {
            // Queued behind each other (as jobs of cancelled callers would be).
            let mut state = pool.shared.lock();
            for i in 0..5 {
                let tx = tx.clone();
                state.jobs.push_back(Box::new(move || {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    tx.send(i).unwrap();
                }));
            }
        }
        drop(tx);
        let shared = Arc::downgrade(&pool.shared);
        drop(pool);
        // `rx` ends when every job (and its sender) is gone.
        assert_eq!(rx.iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while shared.upgrade().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the thread did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_can_block_on_the_runtime() {
        let pool = Workers::start("t-rt", 2, &tokio::runtime::Handle::current()).unwrap();
        let got = pool
            .run(|| {
                tokio::runtime::Handle::current().block_on(async {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    "slept"
                })
            })
            .await
            .unwrap();
        assert_eq!(got, "slept");
    }
}
