//! The server: accepts connections, runs each one against the shared room, shuts down cleanly.
//!
//! `run(listener, config, shutdown)` is the whole server; the binary only parses flags and
//! binds, and the tests start the same thing on `127.0.0.1:0`.

mod config;
mod conn;
mod flood;
mod listen;
mod outbox;
mod room;
mod threads;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_channel::{Receiver, Sender};
use async_net::{TcpListener, TcpStream};
use futures_lite::{future, AsyncWriteExt};
use smol::Timer;
use tracing::{info, warn};

pub use config::Config;
pub use listen::{bind, LISTEN_BACKLOG};
pub use room::{Room, RoomError};
pub use threads::size_executor;

use crate::protocol::{ErrorCode, Event};

/// How long the accept loop pauses after an error such as running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a refused connection is given to receive its error line.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    /// The limits.
    config: Config,
    /// The one room.
    room: Room,
    /// Open connections, registered or not, checked against `max_clients`.
    clients: AtomicUsize,
    /// Open connections per address, checked against `max_per_ip`.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Source of connection ids.
    next_id: AtomicU64,
    /// Never sent on; closes when the server stops, waking every reader.
    stop: Receiver<()>,
}

/// Proof of one admitted connection: counts it while alive, and its drop tells `run` that
/// one fewer connection is still finishing.
#[derive(Debug)]
struct Ticket {
    /// What every connection shares.
    shared: Arc<Shared>,
    /// Who is connected: its address is counted against `max_per_ip`.
    peer: SocketAddr,
    /// Dropped last thing, it tells `run` the connection has finished.
    _alive: Sender<()>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.shared.clients.fetch_sub(1, Ordering::Relaxed);
        let mut per_ip = self.shared.lock_per_ip();
        if let Some(count) = per_ip.get_mut(&self.peer.ip()) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.peer.ip());
            }
        }
    }
}

impl Shared {
    /// The per-address counts. The lock is held for a map update only, never across an
    /// await, and a panic elsewhere cannot leave the counts unusable.
    fn lock_per_ip(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_ip.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a new connection from `ip`, or says which limit it hits.
    fn try_count(&self, ip: IpAddr) -> Result<(), Event> {
        let max = self.config.max_clients;
        if self.clients.fetch_add(1, Ordering::Relaxed) >= max {
            self.clients.fetch_sub(1, Ordering::Relaxed);
            let text = format!("server is full ({max} clients); try again later");
            return Err(Event::Error { code: ErrorCode::ServerFull, text });
        }
        let max = self.config.max_per_ip;
        let mut per_ip = self.lock_per_ip();
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= max {
            drop(per_ip);
            self.clients.fetch_sub(1, Ordering::Relaxed);
            let text = format!("too many connections from your address (at most {max})");
            return Err(Event::Error { code: ErrorCode::TooManyConnections, text });
        }
        *count += 1;
        Ok(())
    }
}

/// Runs the chat server on `listener` until `shutdown` completes, then tells every client
/// `BYE server shutting down`, lets queued lines drain (up to `shutdown_grace`), and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (stop_tx, stop) = async_channel::bounded(1);
    let (alive_tx, alive_rx) = async_channel::bounded::<()>(1);
    let grace = config.shutdown_grace;
    let shared = Arc::new(Shared {
        config,
        room: Room::new(),
        clients: AtomicUsize::new(0),
        per_ip: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        stop,
    });
    info!("listening on {}", listener.local_addr()?);

    let flusher = smol::spawn({
        let shared = shared.clone();
        async move { shared.room.run_flusher().await }
    });
    future::or(accept_loop(&listener, &shared, &alive_tx), shutdown).await;

    info!("shutting down");
    drop(listener);
    shared.room.close(&Event::Bye { reason: "server shutting down".into() }).await;
    flusher.await;
    drop(stop_tx);
    drop(alive_tx);
    drop(shared);
    // Each connection holds a clone of `alive_tx`: `recv` fails once all have ended.
    let drained = future::or(async { alive_rx.recv().await.is_err() }, async {
        Timer::after(grace + Duration::from_secs(1)).await;
        false
    });
    if !drained.await {
        warn!("some connections did not finish within the shutdown grace period");
    }
    info!("stopped");
    Ok(())
}

async fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, alive: &Sender<()>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                admit(stream, peer, shared, alive);
                // Under a connection flood, let the connections (and the shutdown) run.
                future::yield_now().await;
            }
            Err(error) => {
                warn!(%error, "accept failed; backing off");
                Timer::after(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Starts a connection's task, or refuses it when a connection limit is reached.
fn admit(stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>, alive: &Sender<()>) {
    // Without this, small lines wait for delayed ACKs and p99 latency sits near 28 ms.
    let _ = stream.set_nodelay(true);
    if let Err(refusal) = shared.try_count(peer.ip()) {
        warn!(%peer, "refused: {refusal}");
        smol::spawn(refuse(stream, refusal)).detach();
        return;
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let ticket = Ticket { shared: shared.clone(), peer, _alive: alive.clone() };
    smol::spawn(conn::serve(stream, id, ticket)).detach();
}

/// Tells a connection why it is not admitted, then closes it.
async fn refuse(mut stream: TcpStream, event: Event) {
    let write = async {
        let _ = stream.write_all(&event.encode()).await;
        let _ = stream.flush().await;
    };
    future::or(write, async {
        Timer::after(REFUSAL_TIMEOUT).await;
    })
    .await;
    let _ = stream.shutdown(Shutdown::Both);
}
