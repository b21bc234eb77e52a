//! How the hub wakes a subscriber: a `Wake` the subscriber provides, behind a doorbell that
//! rings it only while the subscriber says it sleeps.

use std::sync::atomic::{AtomicBool, Ordering};

/// Wakes a subscriber's thread. A worker rings its poll's waker; a thread that blocks on its
/// queue needs nothing (the queue's own receive wakes it) and can use `NoWake`.
pub trait Wake: Send + Sync {
    /// Wakes the subscriber's thread.
    fn wake(&self);
}

/// A `Wake` that does nothing, for subscribers that block on their queue.
pub struct NoWake;

impl Wake for NoWake {
    fn wake(&self) {}
}

/// Rings a subscriber's `Wake` when its queue goes from empty to non-empty while it sleeps.
pub struct Doorbell {
    armed: AtomicBool,
    wake: Box<dyn Wake>,
}

impl Doorbell {
    /// A doorbell that rings `wake`.
    pub fn new(wake: impl Wake + 'static) -> Self {
        Doorbell {
            armed: AtomicBool::new(false),
            wake: Box::new(wake),
        }
    }

    /// Called by the subscriber before it sleeps; it must look at its queue once more afterwards.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Called by the subscriber when it wakes.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// Rings whether or not the subscriber sleeps (shutdown, or a notice it must see).
    pub fn force(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.wake.wake();
    }

    /// Rings if the subscriber sleeps.
    pub fn ring(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.wake.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    struct Count(Arc<AtomicUsize>);

    impl Wake for Count {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn rings_once_per_sleep_and_never_while_awake() {
        let rung = Arc::new(AtomicUsize::new(0));
        let bell = Doorbell::new(Count(rung.clone()));
        bell.ring();
        assert_eq!(rung.load(Ordering::SeqCst), 0, "awake: no ring");
        bell.arm();
        bell.ring();
        bell.ring();
        assert_eq!(rung.load(Ordering::SeqCst), 1, "one ring per sleep");
        bell.force();
        assert_eq!(rung.load(Ordering::SeqCst), 2, "force always rings");
    }
}
