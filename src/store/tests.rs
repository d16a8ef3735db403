//! The store end to end on real files: what it keeps, what it trims, what it forgets of a
//! dropped account, what survives a reopening, and what it skips when a record is corrupt.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::Database;

use super::history::{scope_key, ACCOUNTS, HISTORY};
use super::*;
use crate::core::{Account, Event, Nick, RoomName, RoomRecord, Speech, Topic};

/// A directory of its own under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!("smolchat-store-{test}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Retention that commits only when asked to (or on closing), within any test's time.
fn slow() -> Retention {
    Retention { commit_interval: Duration::from_secs(3600), ..Retention::default() }
}

fn open(dir: &TempDir, retention: Retention) -> (Store, Recalled) {
    Store::open(dir.path(), retention).expect("the store opens")
}

/// Now, to the millisecond, as the store keeps times.
fn now() -> SystemTime {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis();
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).expect("a sane clock"))
}

fn nick(text: &str) -> Nick {
    Nick::parse(text, 32).expect("a valid nickname")
}

fn room_name(text: &str) -> RoomName {
    RoomName::parse(text).expect("a valid room name")
}

fn lobby() -> Scope {
    Scope::Room("#lobby".into())
}

/// Message `n` in #Lobby, said at `at`.
fn message(n: usize, at: SystemTime) -> Stamped {
    let event =
        Event::Message { room: room_name("#Lobby"), from: nick("Alice"), text: n.to_string() };
    Stamped { at, event }
}

fn keep_messages(store: &Store, numbers: std::ops::Range<usize>, at: SystemTime) {
    for n in numbers {
        store.keep(Change::Said { scope: lobby(), event: message(n, at) });
    }
}

/// The numbers of the messages `recall` gives back.
fn recalled_numbers(store: &Store, scope: Scope, last: usize) -> Vec<String> {
    let said = smol::block_on(store.recall(scope, last));
    said.into_iter()
        .map(|s| match s.event {
            Event::Message { text, .. } => text,
            other => format!("{other:?}"),
        })
        .collect()
}

fn numbers(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| n.to_string()).collect()
}

fn settle(store: &Store) {
    assert_eq!(smol::block_on(store.settled()), Ok(()));
}

/// How many records `scope` has in the file of a closed store.
fn records_on_disk(dir: &TempDir, scope: &Scope) -> usize {
    let db = Database::open(dir.path().join(FILE)).expect("the file opens");
    let txn = db.begin_read().expect("a read transaction");
    let table = txn.open_table(HISTORY).expect("the history table");
    let key = scope_key(scope);
    let range = table.range((key.as_str(), 0)..=(key.as_str(), u64::MAX)).expect("a range");
    range.count()
}

fn account(name: &str) -> Account {
    Account { nick: nick(name), hash: format!("$argon2id${name}"), registered: now() }
}

#[test]
fn recall_gives_the_last_oldest_first_before_any_commit() {
    let dir = TempDir::new("recall");
    let (store, _) = open(&dir, slow());
    keep_messages(&store, 0..10, now());
    assert_eq!(recalled_numbers(&store, lobby(), 3), numbers(7..10));
    assert_eq!(recalled_numbers(&store, lobby(), 50), numbers(0..10));
    assert_eq!(recalled_numbers(&store, lobby(), 0), numbers(0..0));
    assert_eq!(recalled_numbers(&store, Scope::Room("#other".into()), 5), numbers(0..0));
    assert_eq!(store.stats().commits, 0, "nothing was committed yet");
}

#[test]
fn settled_commits_and_counts() {
    let dir = TempDir::new("settled");
    let (store, _) = open(&dir, slow());
    keep_messages(&store, 0..4, now());
    store.keep(Change::Account { fold: "bob".into(), account: Some(account("Bob")) });
    settle(&store);
    let stats = store.stats();
    assert_eq!((stats.commits, stats.changes, stats.history_written), (1, 5, 4));
    assert!(stats.file_bytes > 0);
    // Nothing pending: answered at once, and nothing more committed.
    settle(&store);
    assert_eq!(store.stats().commits, 1);
}

#[test]
fn each_scope_keeps_its_last_history_len() {
    let dir = TempDir::new("length");
    let retention = Retention { history_len: 3, ..slow() };
    let (store, _) = open(&dir, retention);
    keep_messages(&store, 0..8, now());
    let private =
        Event::Private { from: nick("a"), to: nick("b"), text: "hi".into(), kind: Speech::Act };
    let pair = Scope::pair("b".into(), "a".into());
    store.keep(Change::Said { scope: pair.clone(), event: Stamped { at: now(), event: private } });
    assert_eq!(recalled_numbers(&store, lobby(), 10), numbers(5..8));
    assert_eq!(smol::block_on(store.recall(pair.clone(), 10)).len(), 1);
    store.close();
    assert_eq!(records_on_disk(&dir, &lobby()), 3);
    assert_eq!(records_on_disk(&dir, &pair), 1);
}

/// Keeps a private message `text` between the accounts with ids `a` and `b`.
fn keep_private(store: &Store, a: &str, b: &str, text: &str) {
    let event =
        Event::Private { from: nick("a"), to: nick("b"), text: text.into(), kind: Speech::Say };
    let scope = Scope::pair(a.into(), b.into());
    store.keep(Change::Said { scope, event: Stamped { at: now(), event } });
}

/// The texts of the private history between `a` and `b`.
fn private_texts(store: &Store, a: &str, b: &str) -> Vec<String> {
    let said = smol::block_on(store.recall(Scope::pair(a.into(), b.into()), 10));
    said.into_iter()
        .map(|s| match s.event {
            Event::Private { text, .. } => text,
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn forgetting_an_account_deletes_its_conversations_both_ways_and_no_others() {
    let dir = TempDir::new("forget");
    let (store, _) = open(&dir, slow());
    // bob@2 sorts after alice@1 and before carol@3; bob@20 only looks like him.
    keep_private(&store, "alice@1", "bob@2", "ab");
    keep_private(&store, "bob@2", "carol@3", "bc");
    keep_private(&store, "alice@1", "carol@3", "ac");
    keep_private(&store, "bob@20", "carol@3", "b20c");
    store.keep(Change::Forget { account: "bob@2".into() });
    assert_eq!(private_texts(&store, "alice@1", "bob@2"), numbers(0..0));
    settle(&store);
    store.close();
    let (store, _) = open(&dir, slow());
    assert_eq!(private_texts(&store, "alice@1", "bob@2"), numbers(0..0));
    assert_eq!(private_texts(&store, "carol@3", "bob@2"), numbers(0..0));
    assert_eq!(private_texts(&store, "alice@1", "carol@3"), ["ac"]);
    assert_eq!(private_texts(&store, "bob@20", "carol@3"), ["b20c"]);
    // A conversation forgotten can begin again.
    keep_private(&store, "bob@2", "carol@3", "again");
    assert_eq!(private_texts(&store, "bob@2", "carol@3"), ["again"]);
    store.close();
    assert_eq!(records_on_disk(&dir, &Scope::pair("bob@2".into(), "carol@3".into())), 1);
}

#[test]
fn a_lower_history_len_trims_at_the_next_opening() {
    let dir = TempDir::new("lowered");
    let (store, _) = open(&dir, slow());
    keep_messages(&store, 0..6, now());
    store.close();
    let (store, _) = open(&dir, Retention { history_len: 2, ..slow() });
    settle(&store);
    assert_eq!(recalled_numbers(&store, lobby(), 10), numbers(4..6));
    store.close();
    assert_eq!(records_on_disk(&dir, &lobby()), 2);
}

#[test]
fn no_history_len_keeps_no_history() {
    let dir = TempDir::new("none");
    let (store, _) = open(&dir, Retention { history_len: 0, ..slow() });
    keep_messages(&store, 0..3, now());
    settle(&store);
    assert_eq!(recalled_numbers(&store, lobby(), 10), numbers(0..0));
    assert_eq!(store.stats().commits, 0, "an empty transaction is not committed");
}

#[test]
fn records_older_than_history_age_are_not_recalled_and_are_trimmed() {
    let dir = TempDir::new("age");
    let retention = Retention { history_age: Duration::from_secs(24 * 3600), ..slow() };
    let (store, _) = open(&dir, retention);
    let two_days_ago = now() - Duration::from_secs(2 * 24 * 3600);
    keep_messages(&store, 0..3, two_days_ago);
    keep_messages(&store, 3..5, now());
    assert_eq!(recalled_numbers(&store, lobby(), 10), numbers(3..5));
    store.close();
    assert_eq!(records_on_disk(&dir, &lobby()), 5, "not trimmed before the next pass");
    // The pass at opening deletes the old ones; the settle waits for it.
    let (store, _) = open(&dir, retention);
    settle(&store);
    store.close();
    assert_eq!(records_on_disk(&dir, &lobby()), 2);
}

#[test]
fn reopening_keeps_accounts_rooms_and_history() {
    let dir = TempDir::new("reopen");
    let (store, recalled) = open(&dir, slow());
    assert!(recalled.accounts.is_empty() && recalled.rooms.is_empty());
    let alice = account("Alice");
    let topic = Topic { text: "hello".into(), by: nick("Alice"), at: now() };
    let room = RoomRecord { name: room_name("#Lobby"), owner: "alice".into(), topic: Some(topic) };
    store.keep(Change::Account { fold: "alice".into(), account: Some(alice.clone()) });
    store.keep(Change::Account { fold: "bob".into(), account: Some(account("Bob")) });
    store.keep(Change::Account { fold: "bob".into(), account: None });
    store.keep(Change::Room { fold: "#lobby".into(), record: Some(room.clone()) });
    store.keep(Change::Room { fold: "#gone".into(), record: Some(room.clone()) });
    store.keep(Change::Room { fold: "#gone".into(), record: None });
    keep_messages(&store, 0..3, now());
    // Dropping without a settle: closing commits what is pending.
    drop(store);
    let (store, recalled) = open(&dir, slow());
    assert_eq!(recalled.accounts, vec![(Arc::from("alice"), alice)]);
    assert_eq!(recalled.rooms, vec![(Arc::from("#lobby"), room)]);
    assert_eq!(recalled_numbers(&store, lobby(), 10), numbers(0..3));
    // Numbering goes on after the records already there.
    keep_messages(&store, 3..5, now());
    assert_eq!(recalled_numbers(&store, lobby(), 10), numbers(0..5));
}

#[test]
fn a_second_open_of_the_directory_is_refused() {
    let dir = TempDir::new("locked");
    let (store, _) = open(&dir, slow());
    match Store::open(dir.path(), slow()) {
        Err(error @ StoreError::InUse { .. }) => {
            let expected = format!(
                "the data directory {} is in use by another smolchat-server \
                 (smolchat.redb is locked)",
                dir.path().display()
            );
            assert_eq!(error.to_string(), expected);
        }
        other => panic!("expected InUse, got {:?}", other.map(|_| ())),
    }
    store.close();
    assert!(Store::open(dir.path(), slow()).is_ok(), "free again once closed");
}

#[test]
fn corrupt_records_are_skipped() {
    let dir = TempDir::new("corrupt");
    let (store, _) = open(&dir, slow());
    keep_messages(&store, 0..3, now());
    store.keep(Change::Account { fold: "alice".into(), account: Some(account("Alice")) });
    store.close();
    corrupt(&dir);
    let (store, recalled) = open(&dir, slow());
    assert_eq!(recalled.accounts.len(), 1, "the corrupt account is skipped");
    assert_eq!(recalled_numbers(&store, lobby(), 10), vec!["0".to_string(), "2".to_string()]);
}

/// Spoils the second record of the lobby's history, and adds an account that does not read.
fn corrupt(dir: &TempDir) {
    let db = Database::open(dir.path().join(FILE)).expect("the file opens");
    let txn = db.begin_write().expect("a write transaction");
    {
        let key = scope_key(&lobby());
        let mut history = txn.open_table(HISTORY).expect("the history table");
        history.insert((key.as_str(), 1), [1u8, 2, 3].as_slice()).expect("an insert");
        let mut accounts = txn.open_table(ACCOUNTS).expect("the accounts table");
        accounts.insert("mallory", [9u8, 9].as_slice()).expect("an insert");
    }
    txn.commit().expect("a commit");
}

#[test]
fn a_full_queue_drops_and_counts_and_settled_owns_up_to_it() {
    let dir = TempDir::new("full");
    let (store, _) = open(&dir, slow());
    // A stand-in whose queue nobody reads, so that it fills.
    let (commands, _unread) = async_channel::unbounded();
    let stalled = Store {
        commands,
        queue: 4,
        writer: std::sync::Mutex::new(None),
        counters: Arc::new(Counters::new()),
        path: dir.0.join(FILE),
    };
    keep_messages(&stalled, 0..6, now());
    assert_eq!(stalled.stats().dropped, 2);
    // What the writer answers a settle asked after changes were dropped.
    store.counters.dropped(true);
    let answer = smol::block_on(store.settled());
    assert!(matches!(answer, Err(MemoryError::Write(_))), "{answer:?}");
    settle(&store);
}

#[test]
fn changes_are_committed_within_the_commit_interval_unasked() {
    let dir = TempDir::new("interval");
    let (store, _) = open(&dir, Retention { commit_interval: Duration::from_millis(20), ..slow() });
    keep_messages(&store, 0..3, now());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.stats().commits == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = store.stats();
    assert_eq!((stats.commits, stats.history_written), (1, 3));
}

#[test]
fn a_truncated_file_is_refused_with_an_error_not_a_panic() {
    let dir = TempDir::new("truncated");
    let (store, _) = open(&dir, slow());
    keep_messages(&store, 0..100, now());
    store.close();
    let path = dir.path().join(FILE);
    let whole = fs::read(&path).expect("the store's file");
    // Cut off after its header, as a copy that stopped short or a full disk leaves it.
    fs::write(&path, &whole[..4096]).expect("a shorter file");
    let opened = std::panic::catch_unwind(|| Store::open(dir.path(), slow()).map(|_| ()));
    match opened {
        Ok(Err(error @ StoreError::Damaged { .. })) => {
            let text = error.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains("damaged"), "{text}");
        }
        Ok(other) => panic!("expected Damaged, got {:?}", other.map_err(|e| e.to_string())),
        Err(_) => panic!("opening a truncated store panicked"),
    }
}

/// A store in memory whose writes fail while `full` is set, as on a full disk.
#[derive(Debug)]
struct FlakyDisk {
    /// The bytes, shared by every opening.
    bytes: Arc<redb::backends::InMemoryBackend>,
    /// Whether writes fail now.
    full: Arc<std::sync::atomic::AtomicBool>,
}

impl FlakyDisk {
    fn check(&self) -> std::io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full"));
        }
        Ok(())
    }
}

impl redb::StorageBackend for FlakyDisk {
    fn len(&self) -> std::io::Result<u64> {
        self.bytes.len()
    }
    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        self.bytes.read(offset, len)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.bytes.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
        self.check()?;
        self.bytes.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.bytes.write(offset, data)
    }
}

#[test]
fn a_disk_that_filled_up_and_was_freed_keeps_changes_again() {
    let dir = TempDir::new("full-disk");
    let bytes = Arc::new(redb::backends::InMemoryBackend::new());
    let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let disk = (bytes.clone(), full.clone());
    let open_disk = move || {
        let backend = FlakyDisk { bytes: disk.0.clone(), full: disk.1.clone() };
        Database::builder().create_with_backend(backend).map_err(|error| error.to_string())
    };
    let db = open_disk().expect("the store opens");
    let store = Store::start(db, Box::new(open_disk), slow(), dir.0.join(FILE)).expect("started");
    keep_messages(&store, 0..3, now());
    settle(&store);
    full.store(true, Ordering::SeqCst);
    keep_messages(&store, 3..5, now());
    assert!(smol::block_on(store.settled()).is_err(), "a full disk keeps nothing");
    full.store(false, Ordering::SeqCst);
    // Opened again at most once a second after a failure.
    std::thread::sleep(Duration::from_millis(1100));
    keep_messages(&store, 5..8, now());
    assert_eq!(smol::block_on(store.settled()), Ok(()), "the disk has room again");
    let mut kept = numbers(0..3);
    kept.extend(numbers(5..8));
    assert_eq!(recalled_numbers(&store, lobby(), 10), kept);
}
