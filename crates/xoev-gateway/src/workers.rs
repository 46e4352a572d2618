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
//! messages from one queue; the process keeps the same few threads (and
//! their thread-local libxml2 state) warm. crossbeam's channel is the
//! multi-consumer queue; the pool itself is a few lines, which is why no
//! thread-pool crate is pulled in.

use std::panic::AssertUnwindSafe;
use tokio::sync::oneshot;

/// One job: runs on a pool thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of named threads that run closures off the async reactor.
///
/// Dropping the pool lets its threads finish the jobs already queued and
/// end; they are not joined.
pub struct Workers {
    jobs: crossbeam_channel::Sender<Job>,
    threads: usize,
}

/// A job that panicked: the panic message, for the log and the dead letter.
#[derive(Debug, thiserror::Error)]
#[error("the pipeline panicked: {0}")]
pub struct JobPanicked(pub String);

impl Workers {
    /// Starts `threads` (at least one) threads named `{name}-{i}`; each
    /// enters the runtime of `rt`, so jobs may use `Handle::current()`
    /// and `Handle::block_on` as on tokio's blocking threads.
    pub fn start(name: &str, threads: usize, rt: &tokio::runtime::Handle) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads {
            let (queue, rt) = (queue.clone(), rt.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    let _runtime = rt.enter();
                    // Ends when the pool is dropped and the queue is empty.
                    while let Ok(job) = queue.recv() {
                        job();
                    }
                })?;
        }
        Ok(Self { jobs, threads })
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on a pool thread and waits (asynchronously) for its result.
    /// A panic in `f` is caught and returned as [`JobPanicked`]; the thread
    /// goes on with the next job.
    pub async fn run<T, F>(&self, f: F) -> Result<T, JobPanicked>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(f))
                .map_err(|panic| JobPanicked(panic_message(panic.as_ref())));
            // The caller may have gone (its task cancelled): nothing to tell.
            let _ = done.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| JobPanicked("the worker threads have ended".into()))?;
        result
            .await
            .map_err(|_| JobPanicked("the worker thread ended during the job".into()))?
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
