//! Group commit of access-log appends, shared by both backends.
//!
//! Appends that arrive while a batch is being made durable queue up; one
//! writer (a blocking thread for the file store, a task for PostgreSQL)
//! takes everything queued, appends it as consecutive entries of the chain in
//! arrival order and makes it durable at once (one `fsync`, one commit).
//! Each caller waits for its own entry's result; a failed batch fails every
//! caller of that batch. An idle writer starts at once: a lone append waits
//! for nothing.

use crate::error::StoreError;
use crate::log::{Entry, NewEntry};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Where one caller's result goes.
pub(crate) type Reply = oneshot::Sender<Result<Entry, StoreError>>;

/// The queue of appends waiting for the writer. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub(crate) struct Group(Arc<Mutex<Queue>>);

#[derive(Debug, Default)]
struct Queue {
    waiting: Vec<(NewEntry, Reply)>,
    /// A writer runs (it takes everything queued before it stops, so no
    /// second one is needed).
    writing: bool,
}

impl Group {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Only plain pushes and drains happen under the lock: a panic
        // elsewhere cannot leave the queue inconsistent.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `new`; returns where its result will come from and, if no
    /// writer runs, the [`Run`] the caller must start.
    pub(crate) fn enqueue(
        &self,
        new: NewEntry,
    ) -> (oneshot::Receiver<Result<Entry, StoreError>>, Option<Run>) {
        let (tx, rx) = oneshot::channel();
        let mut q = self.lock();
        q.waiting.push((new, tx));
        let start = !std::mem::replace(&mut q.writing, true);
        drop(q);
        let run = start.then(|| Run {
            group: self.clone(),
            finished: false,
        });
        (rx, run)
    }
}

/// Waits for the result of a queued append.
pub(crate) async fn wait(
    rx: oneshot::Receiver<Result<Entry, StoreError>>,
) -> Result<Entry, StoreError> {
    rx.await.unwrap_or_else(|_| Err(stopped()))
}

fn stopped() -> StoreError {
    StoreError::Task("the access-log writer stopped before this entry was written".into())
}

/// One run of the writer. Dropped before it found the queue empty (a
/// panic, or a runtime shutting down before the writer ran), it marks the
/// writer stopped and fails the entries still queued rather than leaving
/// their callers waiting forever.
pub(crate) struct Run {
    group: Group,
    finished: bool,
}

impl Run {
    /// The next batch (at most `max` entries, oldest first) with the
    /// replies of its callers; `None` when the queue is empty, which ends
    /// the run (the next append starts a new one).
    pub(crate) fn next_batch(&mut self, max: usize) -> Option<(Vec<NewEntry>, Vec<Reply>)> {
        let mut q = self.group.lock();
        if q.waiting.is_empty() {
            q.writing = false;
            self.finished = true;
            return None;
        }
        let n = q.waiting.len().min(max.max(1));
        Some(q.waiting.drain(..n).unzip())
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut q = self.group.lock();
        q.writing = false;
        for (_, tx) in q.waiting.drain(..) {
            let _ = tx.send(Err(stopped()));
        }
    }
}

/// Hands the outcome of a batch to its callers: one result each, or the
/// batch's error to every one of them (the first gets the error itself).
pub(crate) fn reply(
    replies: Vec<Reply>,
    outcome: Result<Vec<Result<Entry, StoreError>>, StoreError>,
) {
    match outcome {
        Ok(results) => {
            for (tx, r) in replies.into_iter().zip(results) {
                let _ = tx.send(r);
            }
        }
        Err(e) => {
            let mut replies = replies.into_iter();
            let first = replies.next();
            for tx in replies {
                let _ = tx.send(Err(e.duplicate()));
            }
            if let Some(tx) = first {
                let _ = tx.send(Err(e));
            }
        }
    }
}
