//! How many executor threads run the connections: one per core unless told otherwise.

/// The most threads the executor is given: more than the cores of nearly any machine, and
/// few enough that it can start them all (smol panics on a thread it cannot start, and
/// `--threads 100000` ran out of memory maps).
pub const MAX_THREADS: i64 = 1024;

/// Sizes smol's global executor, which reads `SMOL_THREADS` once, on first use, so this is
/// called before anything has started a task: `threads` wins, then `SMOL_THREADS`, then one
/// thread per core. Two threads on two cores measured a quarter off a small room's fan-out
/// latency and no loss in a big room's join storm (docs/BENCHMARKS.md).
pub fn size_executor(threads: Option<usize>) {
    let threads = match threads {
        Some(threads) => threads,
        None if std::env::var_os("SMOL_THREADS").is_some() => return,
        None => std::thread::available_parallelism().map_or(1, |cores| cores.get()),
    };
    let most = usize::try_from(MAX_THREADS).unwrap_or(usize::MAX);
    let threads = threads.clamp(1, most);
    std::env::set_var("SMOL_THREADS", threads.to_string());
}
