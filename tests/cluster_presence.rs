//! Heartbeats and death, against a real `redis-server`: two servers beat into the log and
//! two readers judge who is alive from it; a server that stops beating is declared dead
//! once, soon after its lease, at the same entry by both; the one that beats on never is.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::within;
use smol::{Task, Timer};
use smolchat::cluster::log::{Appender, Entry, EntryId, Reader};
use smolchat::cluster::presence::{beat, beat_period, Liveness, Verdicts};

/// Short, so that the test takes about a second; long enough for a beat or two to be late.
const LEASE: Duration = Duration::from_millis(300);

/// What one reader read, in order, each entry with the verdicts it gave.
type Seen = Arc<Mutex<Vec<(Entry, Verdicts)>>>;

/// A reader of the whole log feeding a [`Liveness`] of its own.
struct Watch {
    /// What it read and judged.
    seen: Seen,
    /// Its loop, stopped when dropped.
    _task: Task<()>,
}

impl Watch {
    /// Reads the log of `client` from its start.
    async fn start(client: &redis::Client) -> Watch {
        let mut reader = Reader::connect(client, EntryId::default()).await.expect("a reader");
        let seen = Seen::default();
        let record = Arc::clone(&seen);
        let task = smol::spawn(async move {
            let mut liveness = Liveness::new(LEASE);
            loop {
                for entry in reader.next().await.expect("a read") {
                    let verdicts = liveness.observe(&entry);
                    record.lock().expect("the record").push((entry, verdicts));
                }
            }
        });
        Watch { seen, _task: task }
    }

    /// What it read so far.
    fn seen(&self) -> Vec<(Entry, Verdicts)> {
        self.seen.lock().expect("the record").clone()
    }

    /// Waits until what it read satisfies `done`; returns what it read.
    async fn until(
        &self,
        what: &str,
        done: impl Fn(&[(Entry, Verdicts)]) -> bool,
    ) -> Vec<(Entry, Verdicts)> {
        within(what, async {
            loop {
                let seen = self.seen();
                if done(&seen) {
                    return seen;
                }
                Timer::after(Duration::from_millis(5)).await;
            }
        })
        .await
    }

    /// Waits until it read an entry at or after `ms` (Redis's time).
    async fn until_time(&self, ms: u64) -> Vec<(Entry, Verdicts)> {
        self.until("the log to reach a time", |seen| {
            seen.last().is_some_and(|(e, _)| e.id.ms >= ms)
        })
        .await
    }
}

/// Server `id` beating into the log of `client`, until the task is dropped.
async fn beating(client: &redis::Client, id: &str) -> Task<()> {
    let appender = Appender::connect(client, id).await.expect("an appender");
    smol::spawn(beat(appender, LEASE))
}

/// A duration in milliseconds.
fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).expect("a short duration")
}

/// The deaths among `seen`: each verdict's entry and who died there.
fn deaths(seen: &[(Entry, Verdicts)]) -> Vec<(EntryId, Vec<String>)> {
    seen.iter()
        .filter(|(_, verdicts)| !verdicts.dead.is_empty())
        .map(|(entry, verdicts)| (entry.id, verdicts.dead.clone()))
        .collect()
}

#[test]
fn a_server_that_stops_beating_dies_once_at_the_same_entry_for_every_reader() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let first = Watch::start(&client).await;
        let second = Watch::start(&client).await;
        let a = beating(&client, "a").await;
        let _b = beating(&client, "b").await;

        // Both beat for three leases: nobody dies.
        let both = first
            .until("both servers' heartbeats", |seen| {
                ["a", "b"].iter().all(|id| seen.iter().any(|(entry, _)| entry.server == *id))
            })
            .await;
        let start = both.last().expect("entries").0.id.ms;
        let seen = first.until_time(start + 3 * ms(LEASE)).await;
        assert!(seen.iter().all(|(_, verdicts)| verdicts.is_empty()), "{:?}", deaths(&seen));

        // a stops beating.
        drop(a);
        let stopped = Instant::now();
        let seen = first.until("a declared dead", |seen| !deaths(seen).is_empty()).await;
        let waited = stopped.elapsed();
        let period = beat_period(LEASE);
        let slack = Duration::from_millis(150);
        assert!(waited <= LEASE + period + slack, "a declared dead {waited:?} after it stopped");

        // At the first entry more than a lease after a's last heartbeat, and about a beat
        // after that deadline.
        let at = seen.iter().position(|(_, verdicts)| !verdicts.dead.is_empty()).expect("a death");
        assert_eq!(seen[at].1, Verdicts { dead: vec!["a".into()], revived: None });
        let last_a = seen[..at].iter().rposition(|(entry, _)| entry.server == "a").expect("a beat");
        let deadline = seen[last_a].0.id.ms + ms(LEASE);
        let verdict = seen[at].0.id.ms;
        assert!(verdict > deadline, "declared at {verdict}, before the deadline {deadline}");
        assert!(seen[last_a + 1..at].iter().all(|(entry, _)| entry.id.ms <= deadline));
        assert!(
            verdict <= deadline + ms(period + slack),
            "declared {} ms past the deadline",
            verdict - deadline
        );

        // b beats on for two more leases: it never dies, nor does a a second time.
        let seen = first.until_time(verdict + 2 * ms(LEASE)).await;
        let judged = seen.len();
        let other = second.until("the second reader to catch up", |s| s.len() >= judged).await;
        assert_eq!(deaths(&seen), vec![(seen[at].0.id, vec!["a".to_string()])]);
        assert!(seen.iter().all(|(_, verdicts)| verdicts.revived.is_none()));
        // The second reader read the same log, perhaps in other batches: the same verdicts.
        assert_eq!(other[..judged], seen[..], "two readers of one log judge alike");
    });
}
