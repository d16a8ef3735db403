//! Whether this server can reach the cluster's log now, as its heartbeats and its reader
//! find: while it cannot, its sessions' changes are refused at once rather than left
//! waiting, and its people are told when that starts and ends.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the log is in reach. Starts in reach: the server connected to start.
#[derive(Debug)]
pub struct Health {
    /// True while the last heartbeat got through and the reader runs.
    up: AtomicBool,
}

impl Default for Health {
    fn default() -> Health {
        Health { up: AtomicBool::new(true) }
    }
}

/// What a report changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The log was in reach and is not anymore.
    Lost,
    /// The log was out of reach and is back.
    Back,
}

impl Health {
    /// Whether the log is in reach now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records whether the log was just reached; says whether that changed anything, so
    /// that the change is told once.
    pub fn report(&self, reached: bool) -> Option<Change> {
        let was = self.up.swap(reached, Ordering::Relaxed);
        match (was, reached) {
            (true, false) => Some(Change::Lost),
            (false, true) => Some(Change::Back),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_reported_once() {
        let health = Health::default();
        assert!(health.is_up());
        assert_eq!(health.report(true), None);
        assert_eq!(health.report(false), Some(Change::Lost));
        assert_eq!(health.report(false), None);
        assert!(!health.is_up());
        assert_eq!(health.report(true), Some(Change::Back));
        assert!(health.is_up());
    }
}
