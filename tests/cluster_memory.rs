//! The cluster's memory against a real `redis-server`: history kept and recalled in order
//! and trimmed, by length and by age (streams nobody writes to expire), a dropped
//! account's conversations forgotten, accounts and rooms read by another server, two
//! servers registering one nickname, and Redis going away (stopped, or not answering) and
//! coming back. Skipped (saying why) where `redis-server` is not installed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::redis::RedisServer;
use common::within;
use smol::Timer;
use smolchat::cluster::RedisMemory;
use smolchat::core::{
    Account, Change, Event, Memory, MemoryError, Nick, Recalled, RoomName, RoomRecord, Scope,
    Stamped, Topic,
};
use smolchat::store::Retention;

/// Opens a memory ("a server") on `redis`.
async fn open(redis: &RedisServer, retention: Retention) -> (RedisMemory, Recalled) {
    within("open", RedisMemory::open(&redis.url(), retention)).await.expect("open")
}

fn nick(text: &str) -> Nick {
    Nick::parse(text, 32).expect("a valid nickname")
}

fn room(text: &str) -> RoomName {
    RoomName::parse(text).expect("a valid room name")
}

/// A time in whole milliseconds, as records keep it.
fn now() -> SystemTime {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
    UNIX_EPOCH + Duration::from_millis(since.as_millis() as u64)
}

/// `text` said in `#lobby` by alice, now.
fn said(text: &str) -> Change {
    let event = Event::Message { room: room("#lobby"), from: nick("alice"), text: text.into() };
    Change::Said { scope: lobby(), event: Stamped { at: now(), event } }
}

fn lobby() -> Scope {
    Scope::Room("#lobby".into())
}

/// The texts of what was recalled.
fn texts(recalled: &[Stamped]) -> Vec<String> {
    recalled
        .iter()
        .map(|one| match &one.event {
            Event::Message { text, .. } | Event::Private { text, .. } => text.clone(),
            other => panic!("not talk: {other:?}"),
        })
        .collect()
}

/// The texts `from..to`.
fn numbered(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|n| n.to_string()).collect()
}

fn account(name: &str, hash: &str) -> Change {
    let account = Account { nick: nick(name), hash: hash.into(), registered: now() };
    Change::Account { fold: name.to_lowercase().into(), account: Some(account) }
}

/// The length of a stream, asked of Redis directly.
fn stream_len(redis: &RedisServer, key: &str) -> usize {
    let client = redis::Client::open(redis.url()).expect("a redis url");
    let mut connection = client.get_connection().expect("connect");
    redis::cmd("XLEN").arg(key).query(&mut connection).expect("XLEN")
}

#[test]
fn history_is_recalled_in_order_last_n_and_trimmed_to_its_length() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (memory, recalled) = open(&redis, Retention::default()).await;
        assert!(recalled.accounts.is_empty() && recalled.rooms.is_empty());
        for n in 0..10 {
            memory.keep(said(&n.to_string()));
        }
        // A private conversation is a scope of its own, whichever way round it is named.
        let private = Event::Private {
            from: nick("bob"),
            to: nick("alice"),
            text: "psst".into(),
            kind: smolchat::core::Speech::Say,
        };
        let pair = Scope::pair("bob".into(), "alice".into());
        memory.keep(Change::Said { scope: pair, event: Stamped { at: now(), event: private } });
        within("settled", memory.settled()).await.expect("settled");
        assert_eq!(texts(&within("recall", memory.recall(lobby(), 4)).await), numbered(6, 10));
        assert_eq!(texts(&within("recall", memory.recall(lobby(), 100)).await), numbered(0, 10));
        let pair = Scope::pair("alice".into(), "bob".into());
        assert_eq!(texts(&within("recall", memory.recall(pair, 5)).await), ["psst"]);
        assert!(within("recall", memory.recall(Scope::Room("#none".into()), 5)).await.is_empty());
        let stats = memory.stats().expect("stats");
        assert_eq!((stats.changes, stats.history_written, stats.dropped), (11, 11, 0));
        assert!(stats.commits >= 1);

        // A short history: Redis trims it about, the recall exactly.
        let short = Retention { history_len: 5, ..Retention::default() };
        let (memory, _) = open(&redis, short).await;
        for n in 10..1000 {
            memory.keep(said(&n.to_string()));
        }
        within("settled", memory.settled()).await.expect("settled");
        assert_eq!(texts(&within("recall", memory.recall(lobby(), 50)).await), numbered(995, 1000));
        let len = stream_len(&redis, "smolchat:history:r#lobby");
        assert!((5..500).contains(&len), "the stream holds {len} records");
    });
}

/// A private message `text` between the accounts with ids `a` and `b`.
fn private(a: &str, b: &str, text: &str) -> Change {
    let kind = smolchat::core::Speech::Say;
    let event = Event::Private { from: nick("a"), to: nick("b"), text: text.into(), kind };
    Change::Said { scope: Scope::pair(a.into(), b.into()), event: Stamped { at: now(), event } }
}

/// Whether Redis holds `key`, asked of it directly.
fn exists(redis: &RedisServer, key: &str) -> bool {
    let client = redis::Client::open(redis.url()).expect("a redis url");
    let mut connection = client.get_connection().expect("connect");
    redis::cmd("EXISTS").arg(key).query(&mut connection).expect("EXISTS")
}

/// The ids the account with id `id` has private history with, as Redis indexes them.
fn partners(redis: &RedisServer, id: &str) -> Vec<String> {
    let client = redis::Client::open(redis.url()).expect("a redis url");
    let mut connection = client.get_connection().expect("connect");
    let key = format!("smolchat:partners:{id}");
    redis::cmd("SMEMBERS").arg(key).query(&mut connection).expect("SMEMBERS")
}

#[test]
fn forgetting_an_account_deletes_its_conversations_both_ways_and_no_others() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (memory, _) = open(&redis, Retention::default()).await;
        // bob@2 sorts after alice@1 and before carol@3.
        memory.keep(private("alice@1", "bob@2", "ab"));
        memory.keep(private("bob@2", "carol@3", "bc"));
        memory.keep(private("alice@1", "carol@3", "ac"));
        memory.keep(Change::Forget { account: "bob@2".into() });
        within("settled", memory.settled()).await.expect("settled");
        let recall = |a: &str, b: &str| memory.recall(Scope::pair(a.into(), b.into()), 10);
        assert!(within("recall", recall("alice@1", "bob@2")).await.is_empty());
        assert!(within("recall", recall("carol@3", "bob@2")).await.is_empty());
        assert_eq!(texts(&within("recall", recall("alice@1", "carol@3")).await), ["ac"]);
        // Nor does the index of who talked with whom keep the dropped account.
        assert!(!exists(&redis, "smolchat:partners:bob@2"));
        assert_eq!(partners(&redis, "carol@3"), ["alice@1"]);
        assert!(!exists(&redis, "smolchat:history:pbob@2\0carol@3"));
    });
}

/// How long Redis keeps `key`, in milliseconds: `-1` for ever, `-2` if it is gone.
fn time_to_live(redis: &RedisServer, key: &str) -> i64 {
    let client = redis::Client::open(redis.url()).expect("a redis url");
    let mut connection = client.get_connection().expect("connect");
    redis::cmd("PTTL").arg(key).query(&mut connection).expect("PTTL")
}

#[test]
fn history_older_than_its_age_is_deleted_and_streams_nobody_writes_expire() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let age = Duration::from_secs(2);
        let (memory, _) =
            open(&redis, Retention { history_age: age, ..Retention::default() }).await;
        let room = "smolchat:history:r#lobby";
        let conversation = [
            "smolchat:history:palice@1\0bob@2",
            "smolchat:partners:alice@1",
            "smolchat:partners:bob@2",
        ];
        let start = Instant::now();
        memory.keep(said("old"));
        memory.keep(private("alice@1", "bob@2", "psst"));
        within("settled", memory.settled()).await.expect("settled");
        for key in conversation.iter().chain([&room]) {
            let ttl = time_to_live(&redis, key);
            assert!(ttl > 0 && ttl <= age.as_millis() as i64, "{key:?} lives {ttl} ms");
        }
        // The room is written to again within its age: it lives on...
        Timer::at(start + age / 2).await;
        memory.keep(said("middle"));
        within("settled", memory.settled()).await.expect("settled");
        // ... and past the first record's age, that record goes, the later one stays.
        Timer::at(start + age + Duration::from_millis(300)).await;
        memory.keep(said("new"));
        within("settled", memory.settled()).await.expect("settled");
        assert_eq!(stream_len(&redis, room), 2, "the record older than the age is still there");
        // The conversation, silent for its age, is gone, partner sets and all.
        for key in conversation {
            assert!(!exists(&redis, key), "{key:?} outlived its age");
        }
        // And the room, once nobody has written to it for its age.
        within("the room's history to expire", async {
            while exists(&redis, room) {
                Timer::after(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(start.elapsed() >= age * 2, "the room's history expired early");
        // An age too long for Redis keeps history for ever.
        let forever = Retention { history_age: Duration::MAX, ..Retention::default() };
        let (memory, _) = open(&redis, forever).await;
        memory.keep(said("kept"));
        within("settled", memory.settled()).await.expect("settled");
        assert_eq!(time_to_live(&redis, room), -1);
    });
}

#[test]
fn a_recall_includes_the_changes_handed_over_before_it() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (memory, _) = open(&redis, Retention::default()).await;
        for n in 0..300 {
            memory.keep(said(&n.to_string()));
        }
        // Asked before anything is awaited: the answer still follows all 300.
        let recall = memory.recall(lobby(), 1000);
        for n in 300..310 {
            memory.keep(said(&n.to_string()));
        }
        assert_eq!(texts(&within("recall", recall).await), numbered(0, 300));
    });
}

#[test]
fn accounts_and_rooms_are_read_by_another_server() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (a, _) = open(&redis, Retention::default()).await;
        a.keep(account("Alice", "hash-a"));
        a.keep(account("Bob", "hash-b"));
        let topic = Topic { text: "welcome".into(), by: nick("Alice"), at: now() };
        let lobby = RoomRecord { name: room("#Lobby"), owner: "alice".into(), topic: Some(topic) };
        let attic = RoomRecord { name: room("#attic"), owner: "bob".into(), topic: None };
        a.keep(Change::Room { fold: "#lobby".into(), record: Some(lobby.clone()) });
        a.keep(Change::Room { fold: "#attic".into(), record: Some(attic) });
        // Bob drops his account and his room.
        a.keep(Change::Account { fold: "bob".into(), account: None });
        a.keep(Change::Room { fold: "#attic".into(), record: None });
        within("settled", a.settled()).await.expect("settled");

        let (_b, recalled) = open(&redis, Retention::default()).await;
        let accounts: Vec<(Arc<str>, String, String)> = recalled
            .accounts
            .iter()
            .map(|(fold, account)| (fold.clone(), account.nick.to_string(), account.hash.clone()))
            .collect();
        assert_eq!(accounts, [("alice".into(), "Alice".to_string(), "hash-a".to_string())]);
        assert_eq!(recalled.rooms, [("#lobby".into(), lobby)]);
    });
}

#[test]
fn of_two_servers_registering_one_nickname_the_second_is_told() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (a, _) = open(&redis, Retention::default()).await;
        let (b, _) = open(&redis, Retention::default()).await;
        a.keep(account("Carol", "hash-a"));
        within("a settled", a.settled()).await.expect("the first registration");
        b.keep(account("carol", "hash-b"));
        match within("b settled", b.settled()).await {
            Err(MemoryError::Write(reason)) => assert!(reason.contains("another server")),
            other => panic!("expected a conflict, got {other:?}"),
        }
        // Told once; the first registration stands.
        within("b settled", b.settled()).await.expect("nothing new to report");
        let (_c, recalled) = open(&redis, Retention::default()).await;
        assert_eq!(recalled.accounts.len(), 1);
        assert_eq!(recalled.accounts[0].1.hash, "hash-a");
    });
}

#[test]
fn while_redis_is_away_keep_goes_on_settled_fails_and_writing_resumes_after() {
    let Some(mut redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let retention = Retention { queue: 100, ..Retention::default() };
        let (memory, _) = open(&redis, retention).await;
        memory.keep(said("before"));
        within("settled", memory.settled()).await.expect("settled");

        redis.stop();
        // Keeping never waits; past the queue's 100 changes are dropped and counted.
        let began = Instant::now();
        for n in 0..150 {
            memory.keep(said(&n.to_string()));
        }
        assert!(began.elapsed() < Duration::from_millis(100), "keep waited for Redis");
        assert!(matches!(within("settled", memory.settled()).await, Err(MemoryError::Write(_))));
        assert!(within("recall", memory.recall(lobby(), 10)).await.is_empty());
        assert_eq!(memory.stats().expect("stats").dropped, 50);

        // Back, empty: what was held is written, and the drops are owned up to once.
        redis.start_again();
        let mut errors = 0;
        let deadline = Instant::now() + common::TIMEOUT;
        while within("settled", memory.settled()).await.is_err() {
            errors += 1;
            assert!(Instant::now() < deadline, "writing did not resume");
            Timer::after(Duration::from_millis(50)).await;
        }
        assert!(errors >= 1, "the dropped changes were never reported");
        memory.keep(said("after"));
        within("settled", memory.settled()).await.expect("settled");
        let mut expected = numbered(0, 100);
        expected.push("after".into());
        assert_eq!(texts(&within("recall", memory.recall(lobby(), 1000)).await), expected);
    });
}

#[test]
fn a_redis_that_stops_answering_fails_settled_and_gets_everything_once_it_answers() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (memory, _) = open(&redis, Retention::default()).await;
        redis.pause(3_000);
        let began = Instant::now();
        for n in 0..10 {
            memory.keep(said(&n.to_string()));
        }
        assert!(began.elapsed() < Duration::from_millis(100), "keep waited for Redis");
        assert!(matches!(within("settled", memory.settled()).await, Err(MemoryError::Write(_))));
        let deadline = Instant::now() + common::TIMEOUT;
        while within("settled", memory.settled()).await.is_err() {
            assert!(Instant::now() < deadline, "writing did not resume");
            Timer::after(Duration::from_millis(50)).await;
        }
        // A pipeline that timed out was still run once Redis answered, and then again by
        // the retry: each record is there at least once, the first copies in order.
        let mut recalled = texts(&within("recall", memory.recall(lobby(), 1000)).await);
        let mut seen = std::collections::HashSet::new();
        recalled.retain(|text| seen.insert(text.clone()));
        assert_eq!(recalled, numbered(0, 10));
    });
}
