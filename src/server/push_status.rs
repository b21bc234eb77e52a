//! Pushes to upstream servers as operators see them: a registry that each push's thread joins
//! (and leaves when its handle drops) and updates through atomics, read by the metrics and the
//! status page without touching the push's data path.
//!
//! Each push (`server::push`) registers when it starts and reports through
//! `PushHandle::set_state`, `retried` and `add_bytes_out` as it runs; with no push configured
//! nothing registers, and readers show an empty list.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Where a push stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    /// Connecting or handshaking with the upstream.
    Connecting,
    /// Sending the stream.
    Live,
    /// Waiting before the next attempt after a failure.
    Retrying,
    /// Refused by the upstream (a wrong stream key or app): needs the operator; still
    /// retried at the backoff's pace, since a key may become valid (a scheduled event).
    Failed,
    /// The local stream is not live: nothing to push.
    Waiting,
}

impl PushState {
    /// Every state, in code order.
    pub const ALL: [PushState; 5] = [
        PushState::Connecting,
        PushState::Live,
        PushState::Retrying,
        PushState::Failed,
        PushState::Waiting,
    ];

    /// The name used in metrics labels, the JSON and the page.
    pub fn name(self) -> &'static str {
        match self {
            PushState::Connecting => "connecting",
            PushState::Live => "live",
            PushState::Retrying => "retrying",
            PushState::Failed => "failed",
            PushState::Waiting => "waiting",
        }
    }

    fn from_code(code: u8) -> PushState {
        PushState::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(PushState::Failed)
    }
}

/// One registered push.
struct PushEntry {
    id: u64,
    stream: String,
    target: String,
    state: AtomicU8,
    retries: AtomicU64,
    bytes_out: AtomicU64,
}

/// A copy of one push's status at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSnapshot {
    /// The hub name of the stream pushed (shown through the same redaction as streams).
    pub stream: String,
    /// The upstream as shown to operators: never with its stream key.
    pub target: String,
    /// Where it stands.
    pub state: PushState,
    /// Reconnection attempts so far.
    pub retries: u64,
    /// Bytes sent upstream.
    pub bytes_out: u64,
}

#[derive(Default)]
struct Entries {
    next_id: u64,
    list: Vec<Arc<PushEntry>>,
}

/// Every push running now.
#[derive(Default, Clone)]
pub struct PushRegistry {
    entries: Arc<Mutex<Entries>>,
}

/// A push's place in the registry; it leaves when this drops.
pub struct PushHandle {
    entries: Arc<Mutex<Entries>>,
    entry: Arc<PushEntry>,
}

fn lock(entries: &Mutex<Entries>) -> MutexGuard<'_, Entries> {
    entries.lock().unwrap_or_else(|p| p.into_inner())
}

impl PushRegistry {
    /// Adds a push of hub stream `stream` to `target`, connecting.
    ///
    /// `target` is what operators see: the upstream URL with its stream key redacted.
    pub fn register(&self, stream: &str, target: &str) -> PushHandle {
        let mut entries = lock(&self.entries);
        entries.next_id += 1;
        let entry = Arc::new(PushEntry {
            id: entries.next_id,
            stream: stream.to_string(),
            target: target.to_string(),
            state: AtomicU8::new(PushState::Connecting as u8),
            retries: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        });
        entries.list.push(entry.clone());
        PushHandle {
            entries: self.entries.clone(),
            entry,
        }
    }

    /// Number of pushes registered (their threads still running).
    pub fn len(&self) -> usize {
        lock(&self.entries).list.len()
    }

    /// Whether no push is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every push now, in the order they were registered.
    pub fn snapshot(&self) -> Vec<PushSnapshot> {
        lock(&self.entries)
            .list
            .iter()
            .map(|e| PushSnapshot {
                stream: e.stream.clone(),
                target: e.target.clone(),
                state: PushState::from_code(e.state.load(Ordering::Relaxed)),
                retries: e.retries.load(Ordering::Relaxed),
                bytes_out: e.bytes_out.load(Ordering::Relaxed),
            })
            .collect()
    }
}

impl PushHandle {
    /// Records where the push stands.
    pub fn set_state(&self, state: PushState) {
        self.entry.state.store(state as u8, Ordering::Relaxed);
    }

    /// Counts a reconnection attempt.
    pub fn retried(&self) {
        self.entry.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts bytes sent upstream.
    pub fn add_bytes_out(&self, n: usize) {
        self.entry.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Drop for PushHandle {
    fn drop(&mut self) {
        let id = self.entry.id;
        lock(&self.entries).list.retain(|e| e.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_shows_its_state_and_counts_until_its_handle_drops() {
        let registry = PushRegistry::default();
        assert!(registry.snapshot().is_empty());
        let push = registry.register("live/cam", "rtmp://upstream.example/app/abc...(20 chars)");
        push.set_state(PushState::Retrying);
        push.retried();
        push.retried();
        push.add_bytes_out(1500);
        let shown = registry.snapshot();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].state, PushState::Retrying);
        assert_eq!((shown[0].retries, shown[0].bytes_out), (2, 1500));
        let other = registry.register("live/cam", "rtmp://second.example/app/x...(9 chars)");
        drop(push);
        let shown = registry.snapshot();
        assert_eq!(shown.len(), 1);
        assert!(shown[0].target.starts_with("rtmp://second"));
        drop(other);
        assert!(registry.snapshot().is_empty());
    }

    #[test]
    fn state_codes_round_trip() {
        for state in PushState::ALL {
            assert_eq!(PushState::from_code(state as u8), state);
        }
    }
}
