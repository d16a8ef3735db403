//! The core's [`Memory`] on the cluster's Redis: registered accounts and rooms, and
//! history, live in Redis when clustered, so that every server sees the same ones.
//!
//! - Accounts are one hash, `smolchat:accounts` (nickname fold to an account record), and
//!   registered rooms another, `smolchat:rooms` (name fold to a room record), in the
//!   store's record format (`store/record.rs`). One hash rather than a key per fold: a
//!   starting server reads all of them with one `HGETALL`, a consistent snapshot, where
//!   keys would need a `SCAN` of the whole keyspace that can miss or repeat some.
//! - History is a stream per scope, `smolchat:history:{scope}` (the store's scope key:
//!   `r` and the room's fold, or `p`, two account ids and a NUL between), each entry one
//!   field `r` holding the record, appended with `XADD ... MAXLEN ~ history_len`. Each
//!   append also trims records older than `history_age` (`XTRIM MINID`) and makes the
//!   stream expire `history_age` after it (`PEXPIRE`): a room spoken in once does not
//!   keep a key in Redis for ever.
//! - Each account's private conversations are indexed by a set,
//!   `smolchat:partners:{id}`, of the ids it has talked with, added to with each private
//!   record (and made to expire with it); dropping the account deletes the streams it
//!   names, in both directions, without a `SCAN` of the keyspace.
//! - [`Memory::keep`] never waits: it counts the change into a queue of at most
//!   [`Retention::queue`] (past it the change is dropped and counted) and returns. One
//!   writer task takes everything queued, up to [`BATCH`] commands, and sends it to Redis
//!   as one pipeline; `settled` and `recall` ride in the same queue and the same pipelines,
//!   so each answers after every change handed over before it.
//! - A new account is written only if its nickname is not registered already (`HSETNX`,
//!   in a script that also accepts its own earlier write when a pipeline is retried): of two
//!   servers registering one nickname, one wins, and the other's next
//!   [`Memory::settled`] fails with [`MemoryError::Write`] saying so.
//! - While Redis cannot be reached the writer keeps what it has (within the queue's cap)
//!   and tries again with backoff, logging once per outage; `settled` answers with an error
//!   and `recall` with nothing meanwhile. A pipeline that timed out may have been applied,
//!   so after an outage a few history records may be written twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_channel::{Receiver, Sender};
use futures_lite::future;
use redis::aio::ConnectionManager;
use redis::{Pipeline, Value};
use smol::{Task, Timer};
use tracing::{error, info, warn};

use super::{ClusterError, DEFAULT_TIMEOUT};
use crate::core::{Change, Memory, MemoryError, MemoryStats, Recalled, Recalling, Scope, Stamped};
use crate::store::history::scope_key;
use crate::store::queue::{self, Command};
use crate::store::record::{self, RecordError};
use crate::store::Retention;

/// The hash of every account: nickname fold to account record.
pub const ACCOUNTS_KEY: &str = "smolchat:accounts";

/// The hash of every registered room: name fold to room record.
pub const ROOMS_KEY: &str = "smolchat:rooms";

/// What the key of a scope's history stream starts with; the scope key follows.
pub const HISTORY_PREFIX: &str = "smolchat:history:";

/// What the key of an account's partner set starts with; the account's id follows.
pub const PARTNERS_PREFIX: &str = "smolchat:partners:";

/// The most commands the writer sends in one pipeline.
pub const BATCH: usize = 512;

/// The first wait before writing again after Redis failed.
const BACKOFF_FIRST: Duration = Duration::from_millis(50);

/// The longest wait between two tries while Redis is away.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Tries left to a writer whose memory was dropped while Redis is away, before it gives up
/// on what it still holds.
const CLOSED_TRIES: u32 = 3;

/// Registers an account unless its nickname is registered already: 1 if it is written
/// (or was, by an earlier try of the same pipeline), 0 if another account has the name.
const REGISTER: &str = r"
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return 1 end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 1 end
return 0
";

/// Appends a record to a room's stream: `KEYS[1]` the stream; `ARGV` the length to keep,
/// the record, the oldest id to keep (milliseconds) and how long the stream lives after
/// its last record (milliseconds, `-1` for ever). Records older than the age go
/// (`XTRIM MINID`, from Redis 6.2; an older Redis keeps them, unshown), and so does a
/// stream nobody has written to for that long, so that every room anyone ever spoke in
/// does not keep a key for ever.
const SAID_ROOM: &str = r"
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'r', ARGV[2])
redis.pcall('XTRIM', KEYS[1], 'MINID', ARGV[3])
if ARGV[4] ~= '-1' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
";

/// Appends a private record and notes each end as the other's partner (so that a drop
/// finds the conversation): `KEYS` the stream and the two partner sets; `ARGV` the length
/// to keep, the record, the two ids in the order of the sets, the oldest id to keep and
/// the time to live, as for [`SAID_ROOM`]. The partner sets live as long as the longest
/// lived of their conversations: each is renewed with every record of each.
const SAID_PRIVATE: &str = r"
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'r', ARGV[2])
redis.pcall('XTRIM', KEYS[1], 'MINID', ARGV[5])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[3])
if ARGV[6] ~= '-1' then
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
end
return 1
";

/// The longest time to live given to a history key, in milliseconds; a longer
/// `--history-age` keeps it for ever (Redis refuses an expiry past its clock's range).
const MAX_TIME_TO_LIVE: u128 = 1 << 52;

/// Forgets a dropped account's private conversations: `KEYS[1]` its partner set; `ARGV`
/// its id, the history key prefix and the partner-set key prefix. Both orders of each
/// pair's key are deleted, so that the script need not sort as Rust does; the streams'
/// keys are built here, which a single Redis allows (Redis Cluster would not).
const FORGET: &str = r"
local gone = 0
for _, other in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local a = ARGV[2] .. 'p' .. ARGV[1] .. '\0' .. other
  local b = ARGV[2] .. 'p' .. other .. '\0' .. ARGV[1]
  gone = gone + redis.call('DEL', a, b)
  redis.call('SREM', ARGV[3] .. other, ARGV[1])
end
redis.call('DEL', KEYS[1])
return gone
";

/// Accounts, registered rooms and history in Redis, shared by every server of a cluster.
/// Implements [`Memory`]; dropping it lets the writer finish what is queued in the
/// background, [`RedisMemory::close`] waits for it.
pub struct RedisMemory {
    /// The queue to the writer task; closed to stop it.
    commands: Sender<Command>,
    /// How many changes may wait before they are dropped.
    queue: usize,
    /// What has been done, shared with the writer.
    counters: Arc<Counters>,
    /// The writer, awaited by `close` and detached on drop.
    writer: Mutex<Option<Task<()>>>,
}

impl RedisMemory {
    /// Connects to the Redis at `url`, reads every account and registered room, and starts
    /// the writer. Records that do not read are skipped with a warning.
    pub async fn open(
        url: &str,
        retention: Retention,
    ) -> Result<(RedisMemory, Recalled), ClusterError> {
        let redis = super::connect(url, DEFAULT_TIMEOUT).await?;
        let recalled = load(&redis).await?;
        info!(
            accounts = recalled.accounts.len(),
            rooms = recalled.rooms.len(),
            "accounts and rooms read from Redis"
        );
        let counters = Arc::new(Counters::default());
        // Unbounded, with its length counted beside it, as the store's.
        let (commands, receiver) = async_channel::unbounded();
        let writer = Writer::new(redis, receiver, retention, counters.clone());
        let writer = Mutex::new(Some(smol::spawn(writer.run())));
        let memory = RedisMemory { commands, queue: retention.queue, counters, writer };
        Ok((memory, recalled))
    }

    /// Stops taking changes and waits until the writer has written what is queued (or
    /// given up on it, if Redis stays away).
    pub async fn close(&self) {
        self.commands.close();
        let writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(writer) = writer {
            writer.await;
        }
    }
}

impl Drop for RedisMemory {
    fn drop(&mut self) {
        self.commands.close();
        let writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        // Dropping a task would cancel it: let it write what is queued.
        if let Some(writer) = writer {
            writer.detach();
        }
    }
}

impl std::fmt::Debug for RedisMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMemory").field("queue", &self.queue).finish_non_exhaustive()
    }
}

impl Memory for RedisMemory {
    fn keep(&self, change: Change) {
        if !self.counters.queue(self.queue) {
            self.counters.dropped();
        } else if self.commands.try_send(Command::Keep(change)).is_err() {
            self.counters.unqueued(1);
            self.counters.dropped();
        }
    }

    fn settled(&self) -> Recalling<'_, Result<(), MemoryError>> {
        Box::pin(queue::settle(&self.commands, self.counters.dropped.load(Ordering::Relaxed)))
    }

    fn recall(&self, scope: Scope, last: usize) -> Recalling<'static, Vec<Stamped>> {
        queue::recall(&self.commands, scope, last)
    }

    /// `bytes` is always zero: Redis's memory is the whole cluster's, not this server's.
    fn stats(&self) -> Option<MemoryStats> {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let counters = &self.counters;
        Some(MemoryStats {
            commits: load(&counters.pipelines),
            changes: load(&counters.changes),
            history_written: load(&counters.history),
            dropped: load(&counters.dropped),
            bytes: 0,
        })
    }
}

/// A hash as `HGETALL` answers it: each field (a fold) with its record.
type Fields = Vec<(String, Vec<u8>)>;

/// Every account and registered room Redis holds.
async fn load(redis: &ConnectionManager) -> Result<Recalled, ClusterError> {
    let mut redis = redis.clone();
    let (accounts, rooms): (Fields, Fields) = redis::pipe()
        .cmd("HGETALL")
        .arg(ACCOUNTS_KEY)
        .cmd("HGETALL")
        .arg(ROOMS_KEY)
        .query_async(&mut redis)
        .await?;
    Ok(Recalled {
        accounts: decode_all(accounts, record::decode_account, "account"),
        rooms: decode_all(rooms, record::decode_room, "room"),
    })
}

/// The records of a hash read with `decode`; one that does not read is skipped.
fn decode_all<T>(
    fields: Fields,
    decode: fn(&[u8]) -> Result<T, RecordError>,
    what: &str,
) -> Vec<(Arc<str>, T)> {
    let mut all = Vec::with_capacity(fields.len());
    for (fold, bytes) in fields {
        match decode(&bytes) {
            Ok(one) => all.push((fold.into(), one)),
            Err(error) => warn!(fold, %error, "skipping a corrupt {what} record in Redis"),
        }
    }
    all
}

/// What one command put in a pipeline, to read its answer by.
enum Sent {
    /// Nothing: a change not kept (no history kept, or a record that does not encode),
    /// or a recall of nothing.
    Nothing,
    /// A history record.
    Said,
    /// A new account, whose answer says whether the name was free.
    Register(Arc<str>),
    /// An account dropped, or a room written or dropped.
    Put,
    /// A history read.
    Recall,
}

/// The writer task: the one sender of changes to Redis.
struct Writer {
    /// The connection, remade by itself after a failure.
    redis: ConnectionManager,
    /// The commands, in the order they were handed over.
    commands: Receiver<Command>,
    /// How much history to keep.
    retention: Retention,
    /// What the memory reports.
    counters: Arc<Counters>,
    /// Commands taken off the queue and not yet done: kept here while Redis is away.
    pending: VecDeque<Command>,
    /// Why changes were lost since the last settle was answered, for the next one to say.
    unreported: Option<String>,
    /// Dropped changes a settle has already owned up to.
    dropped_reported: u64,
}

impl Writer {
    /// A writer to `redis` of the commands from `commands`.
    fn new(
        redis: ConnectionManager,
        commands: Receiver<Command>,
        retention: Retention,
        counters: Arc<Counters>,
    ) -> Writer {
        let pending = VecDeque::new();
        Writer {
            redis,
            commands,
            retention,
            counters,
            pending,
            unreported: None,
            dropped_reported: 0,
        }
    }

    /// Writes until the memory closes and everything queued is written (or given up on).
    async fn run(mut self) {
        let mut backoff = BACKOFF_FIRST;
        let mut outage: Option<u32> = None;
        loop {
            // Wait for work, then take everything that is queued.
            if self.pending.is_empty() {
                match self.commands.recv().await {
                    Ok(command) => self.pending.push_back(command),
                    Err(_closed) => break,
                }
            }
            while let Ok(command) = self.commands.try_recv() {
                self.pending.push_back(command);
            }
            match self.write().await {
                Ok(()) => {
                    if let Some(tries) = outage.take() {
                        info!(tries, "Redis is back: the cluster's memory is writing again");
                    }
                    backoff = BACKOFF_FIRST;
                }
                Err(error) => {
                    let tries = outage.map_or(1, |tries| tries + 1);
                    if outage.is_none() {
                        warn!(%error, "cannot write to Redis: keeping changes and trying again");
                    }
                    outage = Some(tries);
                    let reason = format!("Redis is unavailable: {error}");
                    self.answer_questions(&reason);
                    let closed = self.wait(backoff, &reason).await;
                    if closed && tries >= CLOSED_TRIES {
                        let lost = self.pending.len();
                        error!(lost, "Redis stayed away after the memory closed: changes lost");
                        break;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Sends the first [`BATCH`] pending commands as one pipeline and answers them; on a
    /// failure to reach Redis they stay pending.
    async fn write(&mut self) -> Result<(), ClusterError> {
        let count = self.pending.len().min(BATCH);
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let sent: Vec<Sent> =
            self.pending.iter().take(count).map(|command| self.send(&mut pipe, command)).collect();
        let answers: Vec<Value> =
            if pipe.is_empty() { Vec::new() } else { pipe.query_async(&mut self.redis).await? };
        self.counters.pipelines.fetch_add(u64::from(!pipe.is_empty()), Ordering::Relaxed);
        let mut answers = answers.into_iter();
        let done: Vec<Command> = self.pending.drain(..count).collect();
        for (command, sent) in done.into_iter().zip(sent) {
            let answer = match sent {
                Sent::Nothing => None,
                _ => answers.next(),
            };
            self.answered(command, &sent, answer);
        }
        Ok(())
    }

    /// Adds what `command` asks to `pipe`.
    fn send(&self, pipe: &mut Pipeline, command: &Command) -> Sent {
        match command {
            Command::Keep(Change::Said { scope, event }) => {
                if self.retention.history_len == 0 {
                    return Sent::Nothing;
                }
                let bytes = match record::encode_said(event) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        warn!(%error, "not keeping an event in history");
                        return Sent::Nothing;
                    }
                };
                self.append(pipe, scope, bytes);
                Sent::Said
            }
            Command::Keep(Change::Account { fold, account: Some(account) }) => {
                match record::encode_account(account) {
                    Ok(bytes) => {
                        pipe.cmd("EVAL").arg(REGISTER).arg(1).arg(ACCOUNTS_KEY);
                        pipe.arg(&**fold).arg(bytes);
                        Sent::Register(fold.clone())
                    }
                    Err(error) => {
                        warn!(%fold, %error, "not keeping an account");
                        Sent::Nothing
                    }
                }
            }
            Command::Keep(Change::Account { fold, account: None }) => {
                pipe.cmd("HDEL").arg(ACCOUNTS_KEY).arg(&**fold);
                Sent::Put
            }
            Command::Keep(Change::Room { fold, record: Some(room) }) => {
                match record::encode_room(room) {
                    Ok(bytes) => {
                        pipe.cmd("HSET").arg(ROOMS_KEY).arg(&**fold).arg(bytes);
                        Sent::Put
                    }
                    Err(error) => {
                        warn!(%fold, %error, "not keeping a room");
                        Sent::Nothing
                    }
                }
            }
            Command::Keep(Change::Room { fold, record: None }) => {
                pipe.cmd("HDEL").arg(ROOMS_KEY).arg(&**fold);
                Sent::Put
            }
            Command::Keep(Change::Forget { account }) => {
                pipe.cmd("EVAL").arg(FORGET).arg(1).arg(partners_key(account));
                pipe.arg(&**account).arg(HISTORY_PREFIX).arg(PARTNERS_PREFIX);
                Sent::Put
            }
            Command::Recall { scope, last, .. } => {
                // Approximate trimming may leave more than `history_len`: never show them.
                let count = (*last).min(self.retention.history_len);
                if count == 0 {
                    return Sent::Nothing;
                }
                pipe.cmd("XREVRANGE").arg(history_key(scope)).arg("+").arg("-");
                pipe.arg("COUNT").arg(count);
                Sent::Recall
            }
            Command::Settle { .. } => Sent::Nothing,
        }
    }

    /// Adds the append of `record` to `scope`'s stream to `pipe`, trimming it to the
    /// length and age kept and making it expire that long after its last record; a
    /// private one also notes the two ends as partners.
    fn append(&self, pipe: &mut Pipeline, scope: &Scope, record: Vec<u8>) {
        let keep = self.retention.history_len;
        let (oldest, time_to_live) = self.age_limits(SystemTime::now());
        match scope {
            Scope::Room(_) => {
                pipe.cmd("EVAL").arg(SAID_ROOM).arg(1).arg(history_key(scope));
                pipe.arg(keep).arg(record).arg(oldest).arg(time_to_live);
            }
            Scope::Pair(a, b) => {
                pipe.cmd("EVAL").arg(SAID_PRIVATE).arg(3).arg(history_key(scope));
                pipe.arg(partners_key(a)).arg(partners_key(b));
                pipe.arg(keep).arg(record).arg(&**a).arg(&**b).arg(oldest).arg(time_to_live);
            }
        }
    }

    /// The oldest stream id a history stream keeps at `now` (milliseconds; `0` keeps all),
    /// and how long it lives after its last record (milliseconds; `-1` for ever), as the
    /// scripts take them.
    fn age_limits(&self, now: SystemTime) -> (String, String) {
        let oldest = self.retention.since(now).map_or(0, |since| {
            since.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis())
        });
        let age = self.retention.history_age.as_millis();
        let time_to_live = match age <= MAX_TIME_TO_LIVE {
            true => age.to_string(),
            false => "-1".to_string(),
        };
        (oldest.to_string(), time_to_live)
    }

    /// Answers `command` with what Redis said to it.
    fn answered(&mut self, command: Command, sent: &Sent, answer: Option<Value>) {
        let failure = match &answer {
            Some(Value::ServerError(error)) => Some(format!("Redis refused a write: {error:?}")),
            _ => None,
        };
        match command {
            Command::Keep(_) => {
                self.counters.unqueued(1);
                match (sent, failure, answer) {
                    (Sent::Nothing, _, _) => {}
                    (_, Some(reason), _) => {
                        error!(%reason, "the cluster's memory lost a change");
                        self.unreported.get_or_insert(reason);
                    }
                    (Sent::Register(fold), None, Some(Value::Int(0))) => {
                        warn!(%fold, "another server registered this nickname first");
                        let reason =
                            format!("the nickname {fold} was registered by another server");
                        self.unreported.get_or_insert(reason);
                    }
                    (sent, None, _) => {
                        self.counters.changes.fetch_add(1, Ordering::Relaxed);
                        if matches!(sent, Sent::Said) {
                            self.counters.history.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            Command::Settle { dropped, reply } => {
                let _ = reply.try_send(self.settle_answer(dropped));
            }
            Command::Recall { reply, .. } => {
                let said = match (failure, answer) {
                    (Some(reason), _) => {
                        error!(%reason, "could not read history");
                        Vec::new()
                    }
                    (None, Some(answer)) => self.said(answer),
                    (None, None) => Vec::new(),
                };
                let _ = reply.try_send(said);
            }
        }
    }

    /// The answer to a settle: an error if a change was lost since the last answer, or
    /// dropped before the settle was asked.
    fn settle_answer(&mut self, dropped: u64) -> Result<(), MemoryError> {
        let newly_dropped = dropped.saturating_sub(self.dropped_reported);
        self.dropped_reported = self.dropped_reported.max(dropped);
        match self.unreported.take() {
            Some(reason) => Err(MemoryError::Write(reason)),
            None if newly_dropped > 0 => Err(MemoryError::Write(format!(
                "{newly_dropped} changes were dropped because its queue was full"
            ))),
            None => Ok(()),
        }
    }

    /// Answers every pending question while Redis is away: a settle with `reason`, a
    /// recall with nothing. The changes stay pending.
    fn answer_questions(&mut self, reason: &str) {
        let pending = std::mem::take(&mut self.pending);
        for command in pending {
            match command {
                Command::Keep(_) => self.pending.push_back(command),
                question => self.unavailable(question, reason),
            }
        }
    }

    /// Answers a question that cannot be put to Redis now.
    fn unavailable(&self, question: Command, reason: &str) {
        match question {
            Command::Settle { reply, .. } => {
                let _ = reply.try_send(Err(MemoryError::Write(reason.to_string())));
            }
            Command::Recall { reply, .. } => {
                let _ = reply.try_send(Vec::new());
            }
            Command::Keep(_) => {}
        }
    }

    /// Waits `backoff` while Redis is away, taking changes and answering questions at
    /// once; returns whether the memory has closed.
    async fn wait(&mut self, backoff: Duration, reason: &str) -> bool {
        let mut timer = Timer::after(backoff);
        loop {
            let command = async { Some(self.commands.recv().await) };
            let timeout = async {
                (&mut timer).await;
                None
            };
            match future::or(command, timeout).await {
                None => return false,
                Some(Err(_closed)) => {
                    (&mut timer).await;
                    return true;
                }
                Some(Ok(Command::Keep(change))) => self.pending.push_back(Command::Keep(change)),
                Some(Ok(question)) => self.unavailable(question, reason),
            }
        }
    }

    /// The records of an `XREVRANGE` answer not older than the age limit, oldest first.
    fn said(&self, answer: Value) -> Vec<Stamped> {
        let since = self.retention.since(SystemTime::now());
        let mut said = Vec::new();
        for bytes in records(answer) {
            match record::decode_said(&bytes) {
                // Older records are older still: the age limit ends the reading.
                Ok(one) if since.is_some_and(|since| one.at < since) => break,
                Ok(one) => said.push(one),
                Err(error) => warn!(%error, "skipping a corrupt history record in Redis"),
            }
        }
        said.reverse();
        said
    }
}

/// The key of `scope`'s history stream.
fn history_key(scope: &Scope) -> String {
    format!("{HISTORY_PREFIX}{}", scope_key(scope))
}

/// The key of the set of ids the account with id `id` has private history with.
fn partners_key(id: &str) -> String {
    format!("{PARTNERS_PREFIX}{id}")
}

/// The `r` field of each entry of a list of `[id, [field, value, ...]]`, in its order.
fn records(answer: Value) -> Vec<Vec<u8>> {
    let Value::Array(entries) = answer else { return Vec::new() };
    let mut found = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Array(parts) = entry else { continue };
        let Some(Value::Array(fields)) = parts.into_iter().nth(1) else { continue };
        let mut fields = fields.into_iter();
        while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
            if let (Value::BulkString(name), Value::BulkString(value)) = (name, value) {
                if name == b"r" {
                    found.push(value);
                }
            }
        }
    }
    found
}

/// What the memory has done, in atomics the writer adds to and `stats` reads.
#[derive(Debug, Default)]
struct Counters {
    /// Pipelines written.
    pipelines: AtomicU64,
    /// Changes written.
    changes: AtomicU64,
    /// Of which history records.
    history: AtomicU64,
    /// Changes dropped: the queue was full, or the memory closed.
    dropped: AtomicU64,
    /// Changes handed over and not yet written (or given up on).
    queued: AtomicUsize,
}

impl Counters {
    /// Counts a change into the queue, unless `max` are waiting already.
    fn queue(&self, max: usize) -> bool {
        if self.queued.fetch_add(1, Ordering::Relaxed) < max {
            return true;
        }
        self.unqueued(1);
        false
    }

    /// Counts `count` changes out of the queue.
    fn unqueued(&self, count: usize) {
        self.queued.fetch_sub(count, Ordering::Relaxed);
    }

    /// Counts a change dropped; says so on the first of each thousand.
    fn dropped(&self) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped % 1000 == 1 {
            warn!(dropped, "the cluster's memory is full: changes are not being kept");
        }
    }
}
