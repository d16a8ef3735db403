//! One generator thread: its share of the clients on a single-threaded executor, each client
//! joining (and entering its rooms), then reading (and, for senders, sending) until the
//! conductor says stop.
//!
//! Client `i` lives on thread `i % threads`, so senders and silent clients spread evenly;
//! it connects to the server [`Plan::server_of`] names, whichever thread it lives on.
//! Everything inside a thread is `Rc`/`RefCell`: no locks on the hot path.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use async_lock::{Mutex, Semaphore};
use futures_lite::future;
use smol::{LocalExecutor, Timer};

use super::board::Board;
use super::config::Plan;
use super::connection::{Destination, Scratch};
use super::join::{join, JoinError, Joined};
use super::protocol::Protocol;
use super::receive::{receive, Me};
use super::send::send;
use super::tally::Tally;
use super::window::Windows;

/// How long one client's connect and handshake, room joins included, may take.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The size of a thread's read buffer: one read takes whatever the kernel has, up to this.
const SCRATCH_BYTES: usize = 256 * 1024;

/// What a client does once in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends messages (this is its sender number) and reads.
    Sender(u32),
    /// Only reads.
    Reader,
    /// Never reads a byte: a slow consumer.
    Silent,
}

/// The conductor's two signals; each fires by closing its channel.
#[derive(Debug, Clone)]
pub struct Signals {
    /// Closed when every client has joined and the window is set: senders start.
    pub go: async_channel::Receiver<()>,
    /// Closed when the run is over: every client leaves.
    pub stop: async_channel::Receiver<()>,
}

/// What every client on one generator thread shares.
#[derive(Debug)]
pub struct Shard {
    /// The thread's number.
    index: usize,
    /// The servers, in `--addr`'s order, each with how the bytes travel there: plain, in
    /// TLS, in WebSocket frames.
    destinations: Arc<[Destination]>,
    /// The run.
    pub plan: Arc<Plan>,
    /// The counters shared with the other threads and the conductor.
    pub board: Arc<Board>,
    /// The senders' windows, shared with the other threads: a witness may live on any.
    windows: Arc<Windows>,
    /// When to start and stop.
    pub signals: Signals,
    /// Limits handshakes in progress on this thread.
    gate: Semaphore,
    /// The one set of read buffers of this thread: a read and the parsing of what it
    /// returned happen without an await in between, so every client can use the same.
    pub scratch: RefCell<Scratch>,
    /// This thread's observations.
    pub tally: RefCell<Tally>,
}

/// Starts `plan.threads` generator threads, whose clients connect to the `destinations`
/// (one per server, in the plan's order), each client to its own; each thread returns its
/// tally when `stop` fires.
pub fn spawn_all(
    plan: &Arc<Plan>,
    destinations: Vec<Destination>,
    board: &Arc<Board>,
    signals: &Signals,
) -> io::Result<Vec<JoinHandle<Tally>>> {
    debug_assert_eq!(destinations.len(), plan.target.servers(), "one destination per server");
    let threads = plan.threads.max(1);
    let per_thread_gate = plan.connect_concurrency.div_ceil(threads).max(1);
    let windows = Arc::new(Windows::new(plan));
    // Every server is reached the same way, so one answer holds for all of them.
    let wrapped = destinations.iter().any(|d| d.transport.is_wrapped());
    let destinations: Arc<[Destination]> = destinations.into();
    (0..threads)
        .map(|index| {
            let shard = Shard {
                index,
                destinations: destinations.clone(),
                plan: plan.clone(),
                board: board.clone(),
                windows: windows.clone(),
                signals: signals.clone(),
                gate: Semaphore::new(per_thread_gate),
                scratch: RefCell::new(Scratch::new(SCRATCH_BYTES, wrapped)),
                tally: RefCell::new(Tally::new()),
            };
            thread::Builder::new().name(format!("bench-{index}")).spawn(move || shard.run())
        })
        .collect()
}

impl Shard {
    /// Runs this thread's clients to the end and hands back what they saw.
    fn run(self) -> Tally {
        let executor = LocalExecutor::new();
        let shard = Rc::new(self);
        let clients = (shard.index..shard.plan.clients).step_by(shard.plan.threads.max(1));
        smol::block_on(executor.run(async {
            let tasks: Vec<_> =
                clients.map(|index| executor.spawn(client(shard.clone(), index))).collect();
            for task in tasks {
                task.await;
            }
        }));
        shard.tally.take()
    }

    /// What client `index` does.
    fn role(&self, index: usize) -> Role {
        if index < self.plan.talkers() {
            Role::Sender(u32::try_from(index).unwrap_or(u32::MAX))
        } else if index >= self.plan.clients - self.plan.no_read {
            Role::Silent
        } else {
            Role::Reader
        }
    }

    /// The server client `index` connects to.
    fn destination(&self, index: usize) -> &Destination {
        &self.destinations[self.plan.server_of(index)]
    }

    /// Waits for the stop signal.
    async fn stopped(&self) {
        let _ = self.signals.stop.recv().await;
    }
}

/// One client from connect to stop.
async fn client(shard: Rc<Shard>, index: usize) {
    let role = shard.role(index);
    let rooms = shard.plan.rooms_of(index);
    let protocol = shard.plan.protocol;
    let joined = {
        let _permit = shard.gate.acquire().await;
        let nick = protocol.nick(index);
        let Destination { addr, transport } = shard.destination(index);
        let attempt = async { Some(join(*addr, transport, protocol, &nick, &rooms).await) };
        let timeout = async {
            Timer::after(JOIN_TIMEOUT).await;
            None
        };
        future::or(
            attempt,
            future::or(timeout, async {
                shard.stopped().await;
                None
            }),
        )
        .await
        .unwrap_or(Err(JoinError::TimedOut))
    };
    let joined = match joined {
        Ok(joined) => joined,
        Err(error) => {
            shard.tally.borrow_mut().error(format_args!("join: {error}"));
            shard.board.failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Whoever this client was to witness stops: nobody will return their credits.
            drop(shard.windows.witnessed_by(index));
            return;
        }
    };
    let room = shard.plan.rooms.map(|rooms| rooms.room_of(index));
    shard.board.welcome(room, role != Role::Silent, joined.joins);
    future::or(session(&shard, index, role, joined), shard.stopped()).await;
}

/// A client's life in the room, until the stop signal drops it. Whatever ends it early
/// is counted as an error the moment it happens.
async fn session(shard: &Shard, index: usize, role: Role, joined: Joined) {
    let Joined { stream, leftover, .. } = joined;
    // A sender's messages and its answers to pings share the socket: one write at a time,
    // or a pong could land inside a message that went out in parts.
    let writing = Mutex::new(());
    let me = Me {
        witnessing: shard.windows.witnessed_by(index),
        answers_pings: answers_pings(shard.plan.protocol, role),
    };
    let Role::Sender(id) = role else {
        if role == Role::Reader {
            let ended = receive(shard, &stream, &writing, leftover, me).await;
            shard.tally.borrow_mut().error(ended);
        }
        // A silent client keeps its socket open and never reads it.
        return future::pending().await;
    };
    let reading = async {
        let ended = receive(shard, &stream, &writing, leftover, me).await;
        shard.tally.borrow_mut().error(ended);
    };
    let sending = async {
        let credits = shard.windows.credits_of(id);
        if let Err(error) = send(shard, &stream, &writing, id, credits).await {
            shard.tally.borrow_mut().error(format_args!("send failed: {error}"));
        }
    };
    future::zip(reading, sending).await;
    future::pending().await
}

/// Whether a client answers the server's pings. Readers do, lest a client that never
/// speaks be dropped. A chat sender's lines show it alive, as they always have in this
/// bench; over IRC senders answer too, as every IRC client must.
fn answers_pings(protocol: Protocol, role: Role) -> bool {
    match role {
        Role::Reader => true,
        Role::Sender(_) => protocol == Protocol::Irc,
        Role::Silent => false,
    }
}
