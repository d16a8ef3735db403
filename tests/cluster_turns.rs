//! Turn-taking between a server's log reader and its sessions, against a real
//! `redis-server`: two servers apply every entry in the log's one order, own entries by the
//! sessions that appended them; a held turn holds the reader; a session that goes away
//! while it waits does not.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis::{read_entries, RedisServer};
use common::within;
use futures_lite::future;
use smol::{Task, Timer};
use smolchat::cluster::log::{Appender, Entry, EntryId, Reader};
use smolchat::cluster::turns::{run_reader, Turns};
use smolchat::cluster::ClusterError;

/// How an entry was applied on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// By the session that appended it, in its turn.
    Turn,
    /// By the reader's `apply`.
    Apply,
}

/// One applied entry, as a server recorded it.
#[derive(Debug, Clone)]
struct Applied {
    /// Which entry.
    id: EntryId,
    /// Its body, as text.
    body: String,
    /// By whom.
    how: How,
    /// When.
    at: Instant,
}

/// What one server applied, in order.
type Record = Arc<Mutex<Vec<Applied>>>;

/// One server: its turns, what it applied, and its reader.
struct Server {
    /// Its sessions' way to the log.
    turns: Turns,
    /// What it applied, in order.
    record: Record,
    /// Its reader, stopped when dropped.
    _reader: Task<Result<(), ClusterError>>,
}

impl Server {
    /// Server `id` on the Redis of `client`, reading the log from its start.
    async fn start(client: &redis::Client, id: &str) -> Server {
        let appender = Appender::connect(client, id).await.expect("an appender");
        let reader = Reader::connect(client, EntryId::default()).await.expect("a reader");
        let turns = Turns::new(appender);
        let record = Record::default();
        let applied = record.clone();
        let apply = move |entry: Entry| {
            push(&applied, &entry, How::Apply);
            future::ready(())
        };
        let reader = smol::spawn(run_reader(reader, turns.clone(), apply));
        Server { turns, record, _reader: reader }
    }

    /// Appends `body`, and applies it in its turn.
    async fn say(&self, body: &str) {
        let turn =
            within("a turn", self.turns.append_and_wait(body.as_bytes())).await.expect("an append");
        push(&self.record, turn.entry(), How::Turn);
        turn.done();
    }

    /// What it applied so far.
    fn applied(&self) -> Vec<Applied> {
        self.record.lock().expect("the record").clone()
    }

    /// Waits until it has applied `count` entries; returns them.
    async fn wait_applied(&self, count: usize) -> Vec<Applied> {
        within("entries applied", async {
            loop {
                let applied = self.applied();
                if applied.len() >= count {
                    return applied;
                }
                Timer::after(Duration::from_millis(5)).await;
            }
        })
        .await
    }
}

/// Records `entry` as applied `how`, now.
fn push(record: &Record, entry: &Entry, how: How) {
    let body = String::from_utf8_lossy(&entry.body).into_owned();
    let applied = Applied { id: entry.id, body, how, at: Instant::now() };
    record.lock().expect("the record").push(applied);
}

/// The whole log, in order, read by a reader of its own.
async fn log(client: &redis::Client, count: usize) -> Vec<Entry> {
    let mut reader = Reader::connect(client, EntryId::default()).await.expect("a reader");
    read_entries(&mut reader, count).await
}

#[test]
fn two_servers_apply_every_entry_in_the_logs_order() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let a = Arc::new(Server::start(&client, "a").await);
        let b = Arc::new(Server::start(&client, "b").await);
        // Four sessions on each server, appending at once.
        let (sessions, each) = (4, 50);
        let mut talking = Vec::new();
        for (server, name) in [(&a, "a"), (&b, "b")] {
            for session in 0..sessions {
                let server = Arc::clone(server);
                talking.push(smol::spawn(async move {
                    for n in 0..each {
                        server.say(&format!("{name}{session}-{n}")).await;
                    }
                }));
            }
        }
        for session in talking {
            within("a session", session).await;
        }
        let total = 2 * sessions * each;
        let (seen_a, seen_b) = (a.wait_applied(total).await, b.wait_applied(total).await);
        let ids = |seen: &[Applied]| seen.iter().map(|applied| applied.id).collect::<Vec<_>>();
        let log: Vec<EntryId> = log(&client, total).await.iter().map(|entry| entry.id).collect();
        assert_eq!(ids(&seen_a), log, "server a applied the log's order");
        assert_eq!(ids(&seen_b), log, "server b applied the log's order");
        // Own entries by their sessions, the other server's by the reader.
        for (seen, own) in [(&seen_a, "a"), (&seen_b, "b")] {
            for applied in seen {
                let expected = if applied.body.starts_with(own) { How::Turn } else { How::Apply };
                assert_eq!(applied.how, expected, "{applied:?} on {own}");
            }
        }
    });
}

#[test]
fn a_held_turn_holds_the_reader() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let a = Server::start(&client, "a").await;
        let b = Server::start(&client, "b").await;
        let turn = within("a turn", a.turns.append_and_wait(b"held")).await.expect("an append");
        // b's entry comes after a's in the log; a may not apply it while the turn is held.
        b.say("after").await;
        Timer::after(Duration::from_millis(50)).await;
        assert_eq!(a.applied().len(), 0, "a applied nothing while its turn was held");
        let released = Instant::now();
        push(&a.record, turn.entry(), How::Turn);
        drop(turn);
        let seen = a.wait_applied(2).await;
        assert_eq!((seen[0].body.as_str(), seen[0].how), ("held", How::Turn));
        assert_eq!((seen[1].body.as_str(), seen[1].how), ("after", How::Apply));
        assert!(seen[1].at >= released, "the entry after waited for the turn");
    });
}

#[test]
fn a_session_gone_while_it_waits_does_not_stall_the_reader() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let a = Server::start(&client, "a").await;
        // Hold the reader, so that the next session surely waits.
        let turn = within("a turn", a.turns.append_and_wait(b"held")).await.expect("an append");
        // This session appends, registers, waits, and goes away (a client that left).
        let gone = a.turns.append_and_wait(b"gone");
        let timeout = async {
            Timer::after(Duration::from_millis(200)).await;
            Err(ClusterError::Timeout)
        };
        assert!(future::or(gone, timeout).await.is_err(), "no turn while the reader is held");
        // This one goes away after its first step, the append perhaps still in flight.
        let mut vanished = Box::pin(a.turns.append_and_wait(b"vanished"));
        assert!(future::poll_once(&mut vanished).await.is_none());
        drop(vanished);
        push(&a.record, turn.entry(), How::Turn);
        drop(turn);
        // The reader goes on past both.
        a.say("later").await;
        let seen = a.applied();
        let bodies: Vec<(&str, How)> =
            seen.iter().map(|applied| (applied.body.as_str(), applied.how)).collect();
        let expected = [("held", How::Turn), ("gone", How::Apply)];
        assert_eq!(bodies[..2], expected, "the gone session's entry is applied by the reader");
        assert_eq!(bodies.last(), Some(&("later", How::Turn)));
        // "vanished" is in the log only if its append was sent; applied by the reader if so.
        if bodies.len() == 4 {
            assert_eq!(bodies[2], ("vanished", How::Apply));
        }
    });
}
