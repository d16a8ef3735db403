//! Raising the open-files limit at start-up, so that `--max-clients` connections fit.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors the server needs besides one per client: standard streams, listeners,
/// the reactor and its notifier, signals (about ten), and room to accept a few
/// connections it must refuse.
pub const SPARE_FDS: u64 = 16;

/// Raises the soft open-files limit to the hard limit (which any process may do) and
/// returns the soft limit now in force; `None` when there is no limit.
pub fn raise_open_files() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let _ = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, ..limit });
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let raised = raise_open_files();
        assert_eq!(raised, getrlimit(Resource::Nofile).maximum);
    }
}
