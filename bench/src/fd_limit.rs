//! Raising the open-file limit, so that ten thousand sockets (twice that with `--spawn`) fit.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// File descriptors kept for everything that is not a bench connection.
const SPARE_FDS: u64 = 256;

/// Descriptors a run needs: one per client, one more per client for an in-process server.
pub fn needed(clients: usize, in_process_server: bool) -> u64 {
    let clients = u64::try_from(clients).unwrap_or(u64::MAX);
    let per_client = if in_process_server { 2 } else { 1 };
    clients.saturating_mul(per_client).saturating_add(SPARE_FDS)
}

/// Raises the soft limit to `wanted` if it is lower: up to the hard limit, which any
/// process may do, and past it when privileged. Returns the limit now in force.
pub fn raise_open_files(wanted: u64) -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        return current;
    }
    let within_hard = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
    let attempts = [
        Rlimit { current: Some(wanted), maximum: limit.maximum.map(|hard| hard.max(wanted)) },
        Rlimit { current: Some(within_hard), maximum: limit.maximum },
    ];
    for attempt in attempts {
        if setrlimit(Resource::Nofile, attempt).is_ok() {
            return attempt.current.unwrap_or(u64::MAX);
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_in_process_server_doubles_the_need() {
        assert_eq!(needed(100, false), 100 + SPARE_FDS);
        assert_eq!(needed(100, true), 200 + SPARE_FDS);
    }

    #[test]
    fn a_limit_already_high_enough_is_kept() {
        let before = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        assert_eq!(raise_open_files(1), before);
    }
}
