//! [`DedupWindow`]: remembers recently settled messages so a redelivery takes effect once.

use std::collections::{HashSet, VecDeque};
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
#[derive(Debug, Clone)]
pub struct DedupWindow {
    inner: Arc<Mutex<Window>>,
}

#[derive(Debug)]
struct Window {
    capacity: usize,
    order: VecDeque<String>,
    keys: HashSet<String>,
}

impl DedupWindow {
    /// A window remembering up to `capacity` keys (oldest forgotten first).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Window {
                capacity: capacity.max(1),
                order: VecDeque::new(),
                keys: HashSet::new(),
            })),
        }
    }

    /// The key of a delivery: its queue, message id and attempt count.
    pub fn key(queue: &str, message_id: &str, attempts: u32) -> String {
        format!("{queue}\n{message_id}\n{attempts}")
    }

    /// Whether `key` was settled before.
    pub fn contains(&self, key: &str) -> bool {
        self.lock().keys.contains(key)
    }

    /// Records `key` as settled.
    pub fn insert(&self, key: String) {
        let mut w = self.lock();
        if w.keys.contains(&key) {
            return;
        }
        if w.order.len() >= w.capacity
            && let Some(old) = w.order.pop_front()
        {
            w.keys.remove(&old);
        }
        w.keys.insert(key.clone());
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
}
