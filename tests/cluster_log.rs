//! The cluster's log against a real `redis-server`: what two servers append concurrently,
//! each reads back in one and the same order, a reader resumes where it stopped, a reader
//! the log's trimming overtook says what it missed, and a server whose log cannot be read
//! backs off.

mod common;

use std::time::Duration;

use common::redis::{read_entries, RedisServer};
use common::within;
use smol::Timer;
use smolchat::cluster::log::{Appender, EntryId, Missed, Reader, LOG_KEY};
use smolchat::cluster::Node;
use smolchat::core::Limits;
use smolchat::store::Retention;

#[test]
fn two_servers_appending_at_once_read_back_one_order() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let a = Appender::connect(&client, "a").await.expect("a connects");
        let b = Appender::connect(&client, "b").await.expect("b connects");
        let mut reader_a = Reader::connect(&client, EntryId::default()).await.expect("reader");
        let mut reader_b = Reader::connect(&client, EntryId::default()).await.expect("reader");
        let appending = |appender: Appender, name: &'static str| {
            smol::spawn(async move {
                for n in 0..200 {
                    let body = format!("{name}{n}");
                    appender.append(body.as_bytes()).await.expect("an append");
                }
            })
        };
        let (one, two) = (appending(a.clone(), "a"), appending(b, "b"));
        one.await;
        two.await;
        let seen_a = read_entries(&mut reader_a, 400).await;
        let seen_b = read_entries(&mut reader_b, 400).await;
        assert_eq!(seen_a, seen_b, "both readers see one order");
        assert!(seen_a.windows(2).all(|pair| pair[0].id < pair[1].id));
        // Each server's own entries, in the order it appended them.
        for server in ["a", "b"] {
            let mine: Vec<String> = seen_a
                .iter()
                .filter(|entry| entry.server == server)
                .map(|entry| String::from_utf8_lossy(&entry.body).into_owned())
                .collect();
            let sent: Vec<String> = (0..200).map(|n| format!("{server}{n}")).collect();
            assert_eq!(mine, sent);
        }
        assert_eq!(a.last().await.expect("the last id"), seen_a[399].id);
    });
}

#[test]
fn a_reader_resumes_after_the_last_entry_it_read() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let a = Appender::connect(&client, "a").await.expect("a connects");
        assert_eq!(a.last().await.expect("the last id"), EntryId::default());
        for body in ["one", "two"] {
            a.append(body.as_bytes()).await.expect("an append");
        }
        let mut reader = Reader::connect(&client, EntryId::default()).await.expect("reader");
        let first = read_entries(&mut reader, 2).await;
        let resumed_at = reader.position();
        assert_eq!(resumed_at, first[1].id);
        a.append(b"three").await.expect("an append");
        let mut later = Reader::connect(&client, resumed_at).await.expect("reader");
        let rest = read_entries(&mut later, 1).await;
        assert_eq!(rest[0].body, b"three");
    });
}

#[test]
fn a_reader_overtaken_by_the_trimming_says_what_it_missed() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let mut connection = client.get_connection().expect("connect");
        let a = Appender::connect(&client, "a").await.expect("a connects");
        let mut appended = Vec::new();
        for n in 0..4000 {
            appended.push(a.append(format!("{n}").as_bytes()).await.expect("an append"));
        }
        let trim = |connection: &mut redis::Connection, keep: usize| {
            let _: usize = redis::cmd("XTRIM")
                .arg(LOG_KEY)
                .arg("MAXLEN")
                .arg(keep)
                .query(connection)
                .expect("XTRIM");
        };

        // A reader a whole batch into the log: what was trimmed it had read.
        let mut reader = Reader::connect(&client, EntryId::default()).await.expect("reader");
        assert_eq!(within("a read", reader.next()).await.expect("a read").len(), 1024);
        assert_eq!(reader.missed(), None);
        trim(&mut connection, 3000);
        assert_eq!(within("a read", reader.next()).await.expect("a read").len(), 1024);
        assert_eq!(reader.missed(), None, "the trimmed entries had been read");

        // The trimming overtakes it: its next full read says what it skipped.
        trim(&mut connection, 1500);
        let read = within("a read", reader.next()).await.expect("a read");
        assert_eq!((read.len(), read[0].id), (1024, appended[2500]));
        let skipped = Missed { after: appended[2047], first: appended[2500] };
        assert_eq!(reader.missed(), Some(skipped));

        // So does a reader that starts on a new connection behind it; not one that starts
        // where the log now begins, nor one from the log's start (what was trimmed before
        // it came is the known limit of joining by replay).
        let mut behind = Reader::connect(&client, appended[10]).await.expect("reader");
        within("a read", behind.next()).await.expect("a read");
        assert_eq!(behind.missed(), Some(Missed { after: appended[10], first: appended[2500] }));
        for start in [appended[2500], EntryId::default()] {
            let mut level = Reader::connect(&client, start).await.expect("reader");
            within("a read", level.next()).await.expect("a read");
            assert_eq!(level.missed(), None);
        }
    });
}

/// How many connections Redis has accepted since it started, asked on `connection`.
fn connections_received(connection: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(connection).expect("INFO stats");
    let count = info.lines().find_map(|line| line.strip_prefix("total_connections_received:"));
    count.and_then(|count| count.trim().parse().ok()).expect("total_connections_received")
}

#[test]
fn a_server_that_connects_but_cannot_read_the_log_backs_off() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let client = redis::Client::open(redis.url()).expect("a client");
        let mut connection = client.get_connection().expect("connect");
        // The log's key holds a string: every XREAD fails (WRONGTYPE) on a good connection.
        let _: () =
            redis::cmd("SET").arg(LOG_KEY).arg("not a stream").query(&mut connection).expect("SET");
        let lease = Duration::from_secs(6);
        let (url, limits, retention) = (redis.url(), Limits::default(), Retention::default());
        let node = within("the server to join", Node::join(&url, limits, retention, lease))
            .await
            .expect("join");
        let before = connections_received(&mut connection);
        // The window measured: a reader trying again every 100 ms would connect about
        // twenty times in it; one that backs off from 100 ms, four or five.
        Timer::after(Duration::from_secs(2)).await;
        let made = connections_received(&mut connection) - before;
        assert!(made <= 8, "the log's reader connected {made} times in 2 s");
        drop(node);
    });
}
