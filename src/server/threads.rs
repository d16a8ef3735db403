//! How many executor threads run the connections: one per core unless told otherwise.

/// The most threads the executor is given: more than the cores of nearly any machine, and
/// few enough that it can start them all (smol panics on a thread it cannot start, and
/// `--threads 100000` ran out of memory maps).
pub const MAX_THREADS: i64 = 1024;

/// Sizes smol's global executor, which reads `SMOL_THREADS` once, on first use, so this is
/// called before anything has started a task: `threads` wins, then `SMOL_THREADS`, then one
/// thread per core, each held to 1 to [`MAX_THREADS`]. Two threads on two cores measured a
/// quarter off a small room's fan-out latency and no loss in a big room's join storm
/// (docs/BENCHMARKS.md).
pub fn size_executor(threads: Option<usize>) {
    let from_env = std::env::var("SMOL_THREADS").ok();
    let threads = executor_threads(threads, from_env.as_deref(), || {
        std::thread::available_parallelism().map_or(1, |cores| cores.get())
    });
    std::env::set_var("SMOL_THREADS", threads.to_string());
}

/// The threads to start: `flag` if given, else `env` (`SMOL_THREADS`) if it is a number,
/// else `cores()`; at least one and at most [`MAX_THREADS`], since smol panics on a thread
/// it cannot start, whoever asked for it.
fn executor_threads(flag: Option<usize>, env: Option<&str>, cores: impl Fn() -> usize) -> usize {
    let asked = flag.or_else(|| env.and_then(|env| env.trim().parse().ok())).unwrap_or_else(cores);
    let most = usize::try_from(MAX_THREADS).unwrap_or(usize::MAX);
    asked.clamp(1, most)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_smol_threads_then_the_cores_each_within_bounds() {
        let cores = || 2;
        assert_eq!(executor_threads(Some(3), Some("8"), cores), 3);
        assert_eq!(executor_threads(None, Some("8"), cores), 8);
        assert_eq!(executor_threads(None, Some("100000"), cores), 1024);
        assert_eq!(executor_threads(None, Some("0"), cores), 1);
        assert_eq!(executor_threads(None, Some("many"), cores), 2);
        assert_eq!(executor_threads(None, None, cores), 2);
    }
}
