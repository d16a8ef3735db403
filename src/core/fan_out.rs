//! A flush's writes, shared out over the machine's cores.
//!
//! A flush queues one chunk per member under the room's lock; the writes happen after it,
//! here. The flusher writes members' lines straight to their connections, and fan-out
//! threads, one for each core beyond the flusher's, take members from the same list, so a
//! message to a hundred people is written by every core at once instead of waking a
//! hundred writer tasks on one. The order of each member's lines is the queue's
//! ([`Delivery::write_now`]); who writes them does not change it.
//!
//! They are threads of their own, not executor tasks: a task spawned for the work waits in
//! the executor's queue until a ticker notices it, and in traces of S1 only about half the
//! messages had their writes on both cores that way, against six in seven with a thread
//! parked on the queue below (docs/BENCHMARKS.md). Their writes never block: a connection
//! that does not take its bytes at once is left to its writer task.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;

use async_channel::{Receiver, Sender};
use futures_lite::future;
use tracing::error;

use super::writing::Delivery;

/// Below this many members one thread writes them all: waking another costs more.
const SHARE_FROM: usize = 16;

/// At most this many requests to join a flush wait for a fan-out thread (or one per
/// thread, if there are more): beyond it the threads are busy with earlier flushes, whose
/// flushers write what the threads do not take.
const JOBS_WAITING: usize = 64;

/// A writer yields after this many members, so that a flush to ten thousand does not
/// hold a core for tens of milliseconds.
const YIELD_EVERY: usize = 64;

/// Writes `deliveries` (or leaves them to their writer tasks), sharing them with the
/// fan-out threads when there are enough.
pub async fn write(deliveries: Vec<Delivery>) {
    write_with(FanOutThreads::get(), deliveries).await;
}

/// [`write`], with `threads`.
async fn write_with(threads: &FanOutThreads, deliveries: Vec<Delivery>) {
    // Encoded connections (TLS, WebSocket) are their writer tasks' to write.
    let writable = deliveries.iter().filter(|delivery| delivery.can_write_now()).count();
    let wanted = (writable / SHARE_FROM).min(threads.count);
    let work = Arc::new(Work { deliveries, next: AtomicUsize::new(0) });
    for _ in 0..wanted {
        // A thread still busy with an earlier flush takes this one late or finds it done;
        // the flusher writes whatever nobody has taken, so nothing waits on a thread.
        let _ = threads.jobs.try_send(work.clone());
    }
    work.run().await;
}

/// The fan-out threads and the queue of work they take from.
struct FanOutThreads {
    /// Each entry asks one thread to join a flush.
    jobs: Sender<Arc<Work>>,
    /// How many threads take from `jobs`.
    count: usize,
}

impl FanOutThreads {
    /// The process's fan-out threads, started on first use: one per core beyond the
    /// first, and no more than the executor's threads beyond the first (`--threads 1`
    /// writes on one).
    fn get() -> &'static FanOutThreads {
        static THREADS: OnceLock<FanOutThreads> = OnceLock::new();
        THREADS.get_or_init(|| {
            let cores = thread::available_parallelism().map_or(1, |cores| cores.get());
            FanOutThreads::start(thread_count(executor_threads(), cores))
        })
    }

    /// Starts `count` threads; one the system cannot start is one fewer.
    fn start(count: usize) -> FanOutThreads {
        let (jobs, queue) = async_channel::bounded(JOBS_WAITING.max(count));
        let count = (1..=count).filter(|n| spawn_thread(*n, queue.clone())).count();
        FanOutThreads { jobs, count }
    }
}

/// How many fan-out threads: one per core beyond the flusher's, but no more than the
/// executor's other threads, since `--threads` is the operator's word on how many cores
/// to use.
fn thread_count(executor_threads: usize, cores: usize) -> usize {
    executor_threads.min(cores).saturating_sub(1)
}

/// The global executor's threads, read as smol reads them: `SMOL_THREADS` (which the server
/// sets, `server::size_executor`), else one.
fn executor_threads() -> usize {
    std::env::var("SMOL_THREADS").ok().and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// Starts fan-out thread `n`, which writes whatever work comes until the process ends;
/// whether it started.
fn spawn_thread(n: usize, queue: Receiver<Arc<Work>>) -> bool {
    let fan_out = move || {
        let mut buf = Vec::new();
        while let Ok(work) = queue.recv_blocking() {
            // A bug in one write must not take the thread, and every later flush's help,
            // with it.
            if panic::catch_unwind(AssertUnwindSafe(|| work.run_here(&mut buf))).is_err() {
                error!("a fan-out thread's write panicked; the thread goes on");
                buf = Vec::new();
            }
        }
    };
    thread::Builder::new().name(format!("fan-out-{n}")).spawn(fan_out).is_ok()
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

    /// Takes deliveries and writes them until none are left, on a fan-out thread. It
    /// gives up its core after every [`YIELD_EVERY`] members all the same: on a busy
    /// machine the executor's threads wait for that core, and without it a flush to ten
    /// thousand held them off for whole time slices (S5-all's p50 rose from 17 to 60 ms).
    fn run_here(&self, buf: &mut Vec<u8>) {
        let mut since_yield = 0;
        while let Some(delivery) = self.take() {
            delivery.write_now(buf);
            since_yield += 1;
            if since_yield == YIELD_EVERY {
                since_yield = 0;
                thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::AtomicBool;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::core::outbox::{Chunk, Cut, Outbox, TryWrite};
    use crate::core::writing::Queue;

    /// How long a test waits for what a fan-out thread does.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A connection that takes every write at once. The first one's write, made by the
    /// flusher, waits until a fan-out thread has written to another, or until a deadline.
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
                let deadline = Instant::now() + PATIENCE;
                while !self.helped.load(Ordering::SeqCst) && Instant::now() < deadline {
                    thread::yield_now();
                }
            }
            self.written.store(true, Ordering::SeqCst);
            Ok(bytes.len())
        }
    }

    /// While the flusher is held up on one member, a fan-out thread writes the others.
    #[test]
    fn a_fan_out_thread_writes_while_the_flusher_is_busy() {
        let threads = FanOutThreads::start(1);
        assert_eq!(threads.count, 1);
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
        future::block_on(write_with(&threads, deliveries));
        assert!(helped.load(Ordering::SeqCst), "a fan-out thread wrote to a member");
        // The flusher returns once nothing is left to take; the thread may still be
        // finishing the write it took last.
        let all_written = || wires.iter().all(|wire| wire.written.load(Ordering::SeqCst));
        let deadline = Instant::now() + PATIENCE;
        while !all_written() && Instant::now() < deadline {
            thread::yield_now();
        }
        assert!(all_written(), "every member written");
    }

    /// A connection that takes a random part of each write made without waiting, and
    /// records what it is sent.
    #[derive(Default)]
    struct Short {
        sent: Mutex<Vec<u8>>,
    }

    impl Cut for Short {
        fn cut(&self) {}
    }

    impl TryWrite for Short {
        fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
            let taken = bytes.len().min(fastrand::usize(0..24));
            if taken == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.extend(&bytes[..taken]);
            Ok(taken)
        }
    }

    impl Short {
        fn extend(&self, bytes: &[u8]) {
            self.sent.lock().expect("unpoisoned").extend_from_slice(bytes);
        }
    }

    /// The writer task's loop, reduced to what the test needs.
    async fn drain(queue: Queue, wire: Arc<Short>) {
        while let Some(turn) = queue.turn().await {
            while let Some(chunk) = turn.next() {
                wire.extend(chunk.as_slice());
            }
        }
    }

    /// Two rooms flush to the same members at once, with two fan-out threads, over
    /// connections that take a random part of each write: every member gets every line
    /// once, in the order it was queued, whoever wrote it.
    #[test]
    fn each_members_lines_keep_their_order_whoever_writes_them() {
        let threads = Arc::new(FanOutThreads::start(2));
        let wires: Vec<_> = (0..SHARE_FROM * 2).map(|_| Arc::new(Short::default())).collect();
        let (outboxes, queues): (Vec<_>, Vec<_>) = wires
            .iter()
            .map(|wire| Outbox::new(100_000, usize::MAX, wire.clone(), Some(wire.clone())))
            .unzip();
        let order = Arc::new(Mutex::new(Vec::new()));
        let rooms: Vec<_> = (0..2)
            .map(|room| {
                let (threads, outboxes, order) = (threads.clone(), outboxes.clone(), order.clone());
                thread::spawn(move || {
                    for n in 0..300 {
                        let line = format!("{room}:{n}\n");
                        // Queued and noted under one lock, as a room's lock orders a flush.
                        let deliveries = {
                            let mut order = order.lock().expect("unpoisoned");
                            order.push(line.clone());
                            let chunk = || Chunk::from(line.clone().into_bytes());
                            let push = |outbox: &Outbox| outbox.push_later(chunk()).expect("room");
                            outboxes.iter().map(push).collect()
                        };
                        future::block_on(write_with(&threads, deliveries));
                    }
                })
            })
            .collect();
        let writers: Vec<_> = queues
            .into_iter()
            .zip(&wires)
            .map(|(queue, wire)| smol::spawn(drain(queue, wire.clone())))
            .collect();
        rooms.into_iter().for_each(|room| room.join().expect("flushed"));
        outboxes.iter().for_each(Outbox::finish);
        drop(outboxes);
        writers.into_iter().for_each(future::block_on);
        let expected = order.lock().expect("unpoisoned").concat();
        for wire in &wires {
            let sent = wire.sent.lock().expect("unpoisoned").clone();
            assert_eq!(String::from_utf8(sent).expect("text"), expected);
        }
    }

    #[test]
    fn one_thread_per_core_beyond_the_first_within_the_executors_threads() {
        assert_eq!(thread_count(2, 2), 1);
        assert_eq!(thread_count(8, 2), 1);
        assert_eq!(thread_count(2, 8), 1);
        assert_eq!(thread_count(4, 8), 3);
        assert_eq!(thread_count(1, 8), 0);
        assert_eq!(thread_count(8, 1), 0);
    }
}
