//! A flush's writes, shared out over the executor's threads.
//!
//! A flush queues one chunk per member under the room's lock; the writes happen after it,
//! here. The flusher writes members' lines straight to their connections, and helpers on
//! the other executor threads take members from the same list, so a message to a hundred
//! people is written by every core at once instead of waking a hundred writer tasks on one.
//! The order of each member's lines is the queue's ([`Delivery::write_now`]); who writes
//! them does not change it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use futures_lite::future;

use super::writing::Delivery;

/// Below this many members one thread writes them all: waking another costs more.
const SHARE_FROM: usize = 16;

/// A writer yields to other tasks after this many members, so that a flush to ten
/// thousand does not hold a thread for tens of milliseconds.
const YIELD_EVERY: usize = 64;

/// Writes `deliveries` (or leaves them to their writer tasks), sharing them with helpers
/// on the other executor threads when there are enough.
pub async fn write(deliveries: Vec<Delivery>) {
    let helpers = helpers_for(deliveries.len());
    let work = Arc::new(Work { deliveries, next: AtomicUsize::new(0) });
    for _ in 0..helpers {
        let work = work.clone();
        smol::spawn(async move { work.run().await }).detach();
    }
    work.run().await;
}

/// How many helpers to wake for `members`: one per other executor thread, while each has
/// at least [`SHARE_FROM`] members to write.
fn helpers_for(members: usize) -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    let threads = *THREADS.get_or_init(executor_threads);
    (members / SHARE_FROM).min(threads.saturating_sub(1))
}

/// The global executor's threads, read as smol reads them: `SMOL_THREADS` (which the server
/// sets, `server::size_executor`), else one.
fn executor_threads() -> usize {
    std::env::var("SMOL_THREADS").ok().and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// One flush's deliveries, taken one at a time by whichever writer comes next.
struct Work {
    /// A chunk queued for each member.
    deliveries: Vec<Delivery>,
    /// The next delivery nobody has taken.
    next: AtomicUsize,
}

impl Work {
    /// Takes deliveries and writes them until none are left.
    async fn run(&self) {
        let mut buf = Vec::new();
        let mut since_yield = 0;
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(delivery) = self.deliveries.get(index) else { return };
            delivery.write_now(&mut buf);
            since_yield += 1;
            if since_yield == YIELD_EVERY {
                since_yield = 0;
                future::yield_now().await;
            }
        }
    }
}
