//! A flush's writes, shared out over the machine's cores.
//!
//! A flush queues one chunk per member under the room's lock; the writes happen after it,
//! here. The flusher writes members' lines straight to their connections, and fan-out
//! threads, one for each core beyond the flusher's, take members from the same list, so a
//! message to a hundred people is written by every core at once instead of waking a
//! hundred writer tasks on one. The order of each member's lines is the queue's
//! ([`Delivery::write_now`]); who writes them does not change it.
//!
//! The helpers are threads of their own, not executor tasks: a task spawned for the work
//! waits in the executor's queue until a ticker parked in the reactor notices it, and in
//! half the messages it came after the flusher had written everything. A thread parked on
//! a futex joins within microseconds (docs/BENCHMARKS.md). Its writes never block: a
//! connection that does not take its bytes at once is left to its writer task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;

use async_channel::{Receiver, Sender};
use futures_lite::future;

use super::writing::Delivery;

/// Below this many members one thread writes them all: waking another costs more.
const SHARE_FROM: usize = 16;

/// Requests to join a flush waiting for a helper at most: beyond this the helpers are
/// busy with earlier flushes, and their flushers write what they do not take.
const JOBS_WAITING: usize = 64;

/// The flusher yields to other tasks after this many members, so that a flush to ten
/// thousand does not hold an executor thread for tens of milliseconds.
const YIELD_EVERY: usize = 64;

/// Writes `deliveries` (or leaves them to their writer tasks), sharing them with the
/// fan-out threads when there are enough.
pub async fn write(deliveries: Vec<Delivery>) {
    write_with(Helpers::get(), deliveries).await;
}

/// [`write`], with `helpers`.
async fn write_with(helpers: &Helpers, deliveries: Vec<Delivery>) {
    let wanted = (deliveries.len() / SHARE_FROM).min(helpers.threads);
    let work = Arc::new(Work { deliveries, next: AtomicUsize::new(0) });
    for _ in 0..wanted {
        // A helper still busy with an earlier flush takes this one late or finds it done;
        // the flusher writes whatever nobody has taken, so nothing waits on a helper.
        let _ = helpers.jobs.try_send(work.clone());
    }
    work.run().await;
}

/// The fan-out threads and the queue of work they take from.
struct Helpers {
    /// Each entry asks one helper to join a flush.
    jobs: Sender<Arc<Work>>,
    /// How many threads take from `jobs`.
    threads: usize,
}

impl Helpers {
    /// The process's helpers, started on first use: one per core beyond the first, and
    /// no more than the executor's threads beyond the first (`--threads 1` writes on one).
    fn get() -> &'static Helpers {
        static HELPERS: OnceLock<Helpers> = OnceLock::new();
        HELPERS.get_or_init(|| {
            let cores = thread::available_parallelism().map_or(1, |cores| cores.get());
            Helpers::start(helper_count(executor_threads(), cores))
        })
    }

    /// Starts `count` helpers; one the system cannot start is one fewer.
    fn start(count: usize) -> Helpers {
        let (jobs, queue) = async_channel::bounded(JOBS_WAITING);
        let threads = (1..=count).filter(|n| spawn_helper(*n, queue.clone())).count();
        Helpers { jobs, threads }
    }
}

/// How many helpers: one per core beyond the flusher's, but no more than the executor's
/// other threads, since `--threads` is the operator's word on how many cores to use.
fn helper_count(executor_threads: usize, cores: usize) -> usize {
    executor_threads.min(cores).saturating_sub(1)
}

/// The global executor's threads, read as smol reads them: `SMOL_THREADS` (which the server
/// sets, `server::size_executor`), else one.
fn executor_threads() -> usize {
    std::env::var("SMOL_THREADS").ok().and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// Starts helper `n`, which writes whatever work comes until the process ends; whether
/// it started.
fn spawn_helper(n: usize, queue: Receiver<Arc<Work>>) -> bool {
    let helper = move || {
        let mut buf = Vec::new();
        while let Ok(work) = queue.recv_blocking() {
            work.run_here(&mut buf);
        }
    };
    thread::Builder::new().name(format!("fan-out-{n}")).spawn(helper).is_ok()
}

/// One flush's deliveries, taken one at a time by whichever writer comes next.
struct Work {
    /// A chunk queued for each member.
    deliveries: Vec<Delivery>,
    /// The next delivery nobody has taken.
    next: AtomicUsize,
}

impl Work {
    /// The next delivery nobody has taken, now taken.
    fn take(&self) -> Option<&Delivery> {
        self.deliveries.get(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Takes deliveries and writes them until none are left, for the flusher's task.
    async fn run(&self) {
        let mut buf = Vec::new();
        let mut since_yield = 0;
        while let Some(delivery) = self.take() {
            delivery.write_now(&mut buf);
            since_yield += 1;
            if since_yield == YIELD_EVERY {
                since_yield = 0;
                future::yield_now().await;
            }
        }
    }

    /// Takes deliveries and writes them until none are left, on a fan-out thread, which
    /// has nobody to yield to.
    fn run_here(&self, buf: &mut Vec<u8>) {
        while let Some(delivery) = self.take() {
            delivery.write_now(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::core::outbox::{Chunk, Cut, Outbox, TryWrite};

    /// A connection that takes every write at once. The first one's write, made by the
    /// flusher, waits until a helper has written to another, or until a deadline.
    struct Wire {
        first: bool,
        written: AtomicBool,
        helped: Arc<AtomicBool>,
    }

    impl Cut for Wire {
        fn cut(&self) {}
    }

    impl TryWrite for Wire {
        fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
            if thread::current().name().is_some_and(|name| name.starts_with("fan-out-")) {
                self.helped.store(true, Ordering::SeqCst);
            } else if self.first {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !self.helped.load(Ordering::SeqCst) && Instant::now() < deadline {
                    thread::yield_now();
                }
            }
            self.written.store(true, Ordering::SeqCst);
            Ok(bytes.len())
        }
    }

    /// While the flusher is held up on one member, a helper writes the others.
    #[test]
    fn a_helper_writes_while_the_flusher_is_busy() {
        let helpers = Helpers::start(1);
        assert_eq!(helpers.threads, 1);
        let helped = Arc::new(AtomicBool::new(false));
        let wires: Vec<_> = (0..SHARE_FROM * 2)
            .map(|n| {
                Arc::new(Wire { first: n == 0, written: false.into(), helped: helped.clone() })
            })
            .collect();
        let mut queues = Vec::new();
        let deliveries = wires
            .iter()
            .map(|wire| {
                let (outbox, queue) = Outbox::new(8, 1 << 16, wire.clone(), Some(wire.clone()));
                queues.push(queue);
                outbox.push_later(Chunk::from(&b"MSG #a b hi\n"[..])).expect("queued")
            })
            .collect();
        future::block_on(write_with(&helpers, deliveries));
        assert!(helped.load(Ordering::SeqCst), "a fan-out thread wrote to a member");
        assert!(wires.iter().all(|wire| wire.written.load(Ordering::SeqCst)), "all written");
    }

    #[test]
    fn one_helper_per_core_beyond_the_first_within_the_executors_threads() {
        assert_eq!(helper_count(2, 2), 1);
        assert_eq!(helper_count(8, 2), 1);
        assert_eq!(helper_count(2, 8), 1);
        assert_eq!(helper_count(4, 8), 3);
        assert_eq!(helper_count(1, 8), 0);
        assert_eq!(helper_count(8, 1), 0);
    }
}
