//! [`DedupWindow`]: remembers recently settled messages so a redelivery takes effect once.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

/// A bounded, in-memory set of recently settled delivery keys (queue,
/// message id and attempt number), shared by all consumers of a transport.
///
/// RabbitMQ redelivers a message whose ack was lost, e.g. when the
/// connection broke after the outcome was published but before the ack
/// reached the broker. The consumer acks such a redelivery without handing
/// it to the pipeline again. The window lives in memory: it covers
/// redeliveries within one gateway process, not a crash of the process (see
/// docs/transport.md for why and what covers the rest).
///
/// It keeps a 128-bit fingerprint of each key (two SipHash values under
/// random per-process keys), not the key itself: 16 bytes instead of the
/// queue name and message id, twice (set and order), so a full window of
/// 100,000 keys takes a few MB. Two different keys share a fingerprint with
/// a probability of about 2⁻¹²⁸ per pair, and nobody outside the process
/// knows the hash keys to make them collide on purpose.
#[derive(Debug, Clone)]
pub struct DedupWindow {
    inner: Arc<Mutex<Window>>,
}

#[derive(Debug)]
struct Window {
    capacity: usize,
    order: VecDeque<u128>,
    keys: HashSet<u128>,
    hashers: (RandomState, RandomState),
}

impl Window {
    fn fingerprint(&self, key: &str) -> u128 {
        let (a, b) = (&self.hashers.0, &self.hashers.1);
        (u128::from(a.hash_one(key)) << 64) | u128::from(b.hash_one(key))
    }
}

/// Windows up to this many keys get their tables at once (larger ones
/// grow as they fill).
const PREALLOCATE_UP_TO: usize = 1 << 20;

impl DedupWindow {
    /// A window remembering up to `capacity` keys (oldest forgotten first).
    ///
    /// Its tables are allocated here, at their final size (≈ 6 MB for the
    /// default 100,000 keys), so memory does not step up while the window
    /// fills and no insert rehashes the set under the lock. The set gets
    /// room for twice the window: a full window forgets a key for every key
    /// it learns, removals leave tombstones in the table, and a table more
    /// than half full that runs out of free slots is grown rather than
    /// cleaned in place.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let reserve = if capacity <= PREALLOCATE_UP_TO {
            capacity
        } else {
            0
        };
        Self {
            inner: Arc::new(Mutex::new(Window {
                capacity,
                order: VecDeque::with_capacity(reserve),
                keys: HashSet::with_capacity(reserve * 2),
                hashers: (RandomState::new(), RandomState::new()),
            })),
        }
    }

    /// The key of a delivery: its queue, message id and attempt count.
    pub fn key(queue: &str, message_id: &str, attempts: u32) -> String {
        format!("{queue}\n{message_id}\n{attempts}")
    }

    /// Whether `key` was settled before.
    pub fn contains(&self, key: &str) -> bool {
        let w = self.lock();
        w.keys.contains(&w.fingerprint(key))
    }

    /// Records `key` as settled.
    pub fn insert(&self, key: String) {
        let mut w = self.lock();
        let key = w.fingerprint(&key);
        if w.keys.contains(&key) {
            return;
        }
        if w.order.len() >= w.capacity
            && let Some(old) = w.order.pop_front()
        {
            w.keys.remove(&old);
        }
        w.keys.insert(key);
        w.order.push_back(key);
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // A poisoned lock only means another thread panicked while holding
        // it; the set itself is always consistent, so keep using it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_oldest_beyond_capacity() {
        let w = DedupWindow::new(2);
        w.insert("a".into());
        w.insert("b".into());
        w.insert("a".into());
        assert_eq!(w.len(), 2);
        w.insert("c".into());
        assert!(!w.contains("a"));
        assert!(w.contains("b") && w.contains("c"));
    }

    #[test]
    fn a_full_window_keeps_its_tables() {
        let w = DedupWindow::new(20_000);
        let sizes = |w: &DedupWindow| {
            let g = w.lock();
            (g.keys.capacity(), g.order.capacity())
        };
        let allocated = sizes(&w);
        assert!(
            allocated.0 >= 40_000 && allocated.1 >= 20_000,
            "{allocated:?}"
        );
        for i in 0..100_000 {
            w.insert(DedupWindow::key("q", &i.to_string(), 1));
        }
        assert_eq!(w.len(), 20_000);
        // `capacity()` is live keys + free slots: tombstones make it read a
        // little lower, a grown table much higher
        let (keys, order) = sizes(&w);
        assert!(
            keys <= allocated.0 && keys >= 20_000,
            "{keys} vs {allocated:?}"
        );
        assert_eq!(order, allocated.1);
    }

    #[test]
    fn tells_many_keys_apart() {
        let w = DedupWindow::new(20_000);
        for i in 0..10_000 {
            w.insert(DedupWindow::key("q", &format!("m-{i}"), 1));
        }
        assert_eq!(w.len(), 10_000);
        for i in 0..10_000 {
            assert!(w.contains(&DedupWindow::key("q", &format!("m-{i}"), 1)));
            assert!(!w.contains(&DedupWindow::key("q", &format!("m-{i}"), 2)));
            assert!(!w.contains(&DedupWindow::key("r", &format!("m-{i}"), 1)));
            assert!(!w.contains(&DedupWindow::key("q", &format!("n-{i}"), 1)));
        }
    }
}
