//! The server's stop: every open connection is registered by how to cut it, so that
//! stopping wakes each one by ending its reading, and nothing waits per connection.
//!
//! A connection waiting for input is woken by its socket; a stop signal it also waited on
//! would cost each idle connection a listener (56 B) and every line read two turns of a lock
//! shared by all connections, to register and drop that listener.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use slab::Slab;

use crate::core::Cut;

/// The open connections, and whether the server is stopping.
#[derive(Default)]
pub struct Stop {
    /// Set once, when the server starts stopping; read by every connection it wakes.
    stopping: AtomicBool,
    /// How to end the reading of each open connection.
    links: Mutex<Slab<Arc<dyn Cut>>>,
}

/// A connection's place in the [`Stop`], given back when it closes.
#[derive(Debug)]
pub struct Registration(usize);

impl Stop {
    /// Registers a connection that `cut` stops reading. One opened after the stop has
    /// begun is stopped at once.
    pub fn register(&self, cut: Arc<dyn Cut>) -> Registration {
        let mut links = self.links();
        // Read under the lock that `stop` takes after setting the flag: either it sees
        // this connection, or this connection sees the flag.
        if self.is_stopping() {
            cut.stop_reading();
        }
        Registration(links.insert(cut))
    }

    /// Forgets a closed connection.
    pub fn deregister(&self, registration: Registration) {
        self.links().try_remove(registration.0);
    }

    /// Stops the server: every connection stops reading, which wakes its session, and
    /// its session, seeing [`Stop::is_stopping`], says goodbye.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for (_, cut) in self.links().iter() {
            cut.stop_reading();
        }
    }

    /// True once the server is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn links(&self) -> MutexGuard<'_, Slab<Arc<dyn Cut>>> {
        self.links.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts how often reading was stopped.
    #[derive(Default)]
    struct Stops(AtomicUsize);

    impl Cut for Stops {
        fn cut(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn stopping_stops_every_open_connection_and_any_opened_after() {
        let stop = Stop::default();
        let (open, closed, late) =
            (Arc::new(Stops::default()), Arc::new(Stops::default()), Arc::new(Stops::default()));
        let _open = stop.register(open.clone());
        let gone = stop.register(closed.clone());
        stop.deregister(gone);
        assert!(!stop.is_stopping());
        stop.stop();
        assert!(stop.is_stopping());
        let _late = stop.register(late.clone());
        assert_eq!(open.0.load(Ordering::SeqCst), 1);
        assert_eq!(closed.0.load(Ordering::SeqCst), 0, "a closed connection is forgotten");
        assert_eq!(late.0.load(Ordering::SeqCst), 1);
    }
}
