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

impl DedupWindow {
    /// A window remembering up to `capacity` keys (oldest forgotten first).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Window {
                capacity: capacity.max(1),
                order: VecDeque::new(),
                keys: HashSet::new(),
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
