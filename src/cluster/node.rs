//! This server as one node of a cluster: its connections to Redis, the core it orders
//! through the log, the reader that replays the log into that core, and its heartbeats.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use smol::{Task, Timer};
use tracing::{error, info, warn};

use super::health::{Change, Health};
use super::log::{Appender, Entry, EntryId, LogError, Missed, Reader, LOG_LEN};
use super::ordering::{Ghosts, LogOrder};
use super::presence::{beat_reporting, Liveness};
use super::replica::Replica;
use super::turns::{run_reader, Follow, Turns};
use super::{ClusterError, RedisMemory, ServerId};
use crate::core::{Chat, Limits, Memory};
use crate::store::Retention;

/// The default lease: how long after its last heartbeat a server is declared dead.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The first wait before reading the log again, after a connection that did read.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between two attempts to read the log again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a node is told to tell its people when the log goes out of reach, and back.
const LOST: &str = "the cluster is unavailable: what you send is refused until it is back";
const BACK: &str = "the cluster is back";

/// A running node: its core, and the tasks that keep it in the cluster.
pub struct Node {
    /// The core every session of this server shares.
    chat: Arc<Chat>,
    /// Accounts, registered rooms and history, in Redis.
    memory: Arc<RedisMemory>,
    /// The log's reader and the heartbeats; dropped, they stop.
    _tasks: Vec<Task<()>>,
}

impl Node {
    /// Joins the cluster of the Redis at `url` as a new server: reads the accounts and
    /// rooms, replays the log from its start into a new core with `limits`, and beats every
    /// third of `lease`.
    pub async fn join(
        url: &str,
        limits: Limits,
        retention: Retention,
        lease: Duration,
    ) -> Result<Node, ClusterError> {
        let client = redis::Client::open(url)?;
        agree_on_limits(url, &limits).await?;
        let server = new_server_id()?;
        let log = Arc::new(Appender::connect(&client, server.as_str()).await?);
        let (memory, recalled) = RedisMemory::open(url, retention).await?;
        let memory = Arc::new(memory);
        let health = Arc::new(Health::default());
        let ghosts = Ghosts::default();
        let turns = Turns::new(log.clone());
        let order = LogOrder::new(turns.clone(), server.clone(), ghosts.clone(), health.clone());
        let kept: Arc<dyn Memory> = memory.clone();
        let chat = Arc::new(Chat::remembering(limits, kept, recalled).ordered_by(Arc::new(order)));
        let replica =
            Replica::new(chat.clone(), server.clone(), log.clone(), ghosts, Liveness::new(lease));
        let reading = smol::spawn(read(client, turns, replica));
        let beating = smol::spawn(beat_reporting(log, lease, watch(health, chat.clone())));
        info!(server = %server, url, ?lease, "joined the cluster");
        Ok(Node { chat, memory, _tasks: vec![reading, beating] })
    }

    /// The core, ordered by the cluster's log.
    pub fn chat(&self) -> &Arc<Chat> {
        &self.chat
    }

    /// Where accounts, rooms and history are kept.
    pub fn memory(&self) -> Arc<dyn Memory> {
        self.memory.clone()
    }

    /// Waits until what was handed to the memory is written (or given up on).
    pub async fn close(&self) {
        self.memory.close().await;
    }
}

/// Checks that `limits` are the cluster's, writing them if this is its first server:
/// every server applies every change, and where the limits differ, so would the results.
async fn agree_on_limits(url: &str, limits: &Limits) -> Result<(), ClusterError> {
    let ours = format!(
        "rooms-per-client={} rooms={} topic-len={}",
        limits.rooms_per_client, limits.rooms, limits.topic_len
    );
    let mut redis = super::connect(url, super::DEFAULT_TIMEOUT).await?;
    let key = format!("{}limits", super::PREFIX);
    let _: Option<String> =
        redis::cmd("SET").arg(&key).arg(&ours).arg("NX").query_async(&mut redis).await?;
    let theirs: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut redis).await?;
    match theirs {
        Some(theirs) if theirs != ours => Err(ClusterError::Limits { ours, theirs }),
        _ => Ok(()),
    }
}

/// A server id nobody else uses: random, so that a server started again is a new life.
fn new_server_id() -> Result<ServerId, ClusterError> {
    let random = ring::rand::SystemRandom::new();
    let bytes = ring::rand::generate::<[u8; 6]>(&random)
        .map_err(|_| ClusterError::Unexpected("no randomness for a server id".into()))?
        .expose();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    ServerId::parse(&format!("s-{hex}"))
}

/// What the heartbeats tell `health`; a change is told to everyone connected here.
fn watch(health: Arc<Health>, chat: Arc<Chat>) -> impl FnMut(bool) {
    move |reached| {
        let text = match health.report(reached) {
            Some(Change::Lost) => LOST,
            Some(Change::Back) => BACK,
            None => return,
        };
        match reached {
            true => info!("the cluster's log is in reach again"),
            false => warn!("the cluster's log is out of reach; changes are refused"),
        }
        let chat = chat.clone();
        smol::spawn(async move { chat.tell_everyone_here(text).await }).detach();
    }
}

/// Replays the log into `replica` for as long as the node runs: from the log's start,
/// then, after a failed read, from where it stopped, with a growing pause between tries.
/// The pause starts over only after a connection that read: one that connects and fails
/// at its first read (the log's key of another type, Redis loading, a refused login) is
/// as failed as one that cannot connect.
async fn read(client: redis::Client, turns: Turns<Arc<Appender>>, replica: Replica) {
    let replica = Arc::new(async_lock::Mutex::new(replica));
    let position = Arc::new(Mutex::new(EntryId::default()));
    let mut backoff = FIRST_BACKOFF;
    loop {
        let after = *position.lock().unwrap_or_else(PoisonError::into_inner);
        let read_once = Arc::new(AtomicBool::new(false));
        let ended = match Reader::connect(&client, after).await {
            Ok(reader) => {
                let reader =
                    Tracked { reader, position: position.clone(), read_once: read_once.clone() };
                let replica = replica.clone();
                let apply = move |entry: Entry| {
                    let replica = replica.clone();
                    async move { replica.lock().await.apply(entry).await }
                };
                run_reader(reader, turns.clone(), apply).await
            }
            Err(error) => Err(error.into()),
        };
        if read_once.load(Ordering::Relaxed) {
            backoff = FIRST_BACKOFF;
        }
        if let Err(error) = ended {
            warn!(%error, ?backoff, "reading the cluster's log failed; trying again");
        }
        Timer::after(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A reader of the log that notes how far it got, to start again from there.
struct Tracked {
    /// The reader.
    reader: Reader,
    /// The last entry read.
    position: Arc<Mutex<EntryId>>,
    /// Set once a read succeeded on this connection.
    read_once: Arc<AtomicBool>,
}

impl Follow for Tracked {
    async fn next(&mut self) -> Result<Vec<Entry>, LogError> {
        let read = self.reader.next().await?;
        *self.position.lock().unwrap_or_else(PoisonError::into_inner) = self.reader.position();
        self.read_once.store(true, Ordering::Relaxed);
        if let Some(missed) = self.reader.missed() {
            report_missed(missed);
        }
        Ok(read)
    }
}

/// Says that the log's trimming overtook this server's reader. Nothing can bring back what
/// it took (docs/CLUSTER.md, "Where it falls short"), but whoever runs the server learns
/// why its view of the cluster may be wrong, and when.
fn report_missed(missed: Missed) {
    error!(
        after = %missed.after,
        first = %missed.first,
        "this server fell behind the cluster's log by more than it keeps (about {LOG_LEN} \
         entries): entries between `after` and `first` may have been trimmed before it read \
         them, so its view of the cluster may be wrong; restart it to join afresh"
    );
}
