//! The server: accepts connections on its listeners, runs a session for each against the
//! shared chat core, and shuts down cleanly.
//!
//! `run(listeners, config, shutdown)` is the whole server; the binary only parses flags and
//! binds, and the tests start the same thing on `127.0.0.1:0`.
//!
//! - [`listener`]: which protocol a port speaks (and whether over TLS), and binding it.
//! - `flags` and `config_file`: the command line, and the TOML file that can stand in for it.
//! - `admission`: connection limits, and the ticket an admitted connection holds;
//!   `refusal`: the polite refusal of the rest.
//! - `password`: the server password (`--password-file`) and each address's budget of
//!   wrong ones.
//! - [`tls`]: the certificate TLS listeners present, reloadable; `tls_accept`: the
//!   handshake of one connection.
//! - `transport`: connections as read and write halves; `writer`: the task that writes one.
//! - `session`: one adapter per protocol, turning its lines into core calls and back.
//! - `web`: the web listener: the page, `/metrics`, `/healthz`, and the line protocol over
//!   a WebSocket at `/ws`, served by the chat session.

mod admission;
mod budget;
mod config;
mod config_file;
mod fd_limit;
mod flags;
mod flood;
mod guesses;
pub mod listener;
mod metrics;
mod password;
mod refusal;
mod session;
mod stop;
mod threads;
pub mod tls;
mod tls_accept;
mod transport;
mod web;
mod writer;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::Sender;
use futures_lite::future;
use smol::{Task, Timer};
use tracing::{debug, info, warn};

pub use config::{parse_default_room, Config, DEFAULT_ROOM};
pub use config_file::{config_keys, parse_flags, ConfigFileError, Problem};
pub use fd_limit::{raise_open_files, SPARE_FDS};
pub use flags::ServerFlags;
pub use listener::{
    bind, default_listeners, ListenSpec, Listener, Protocol, Scheme, DEFAULT_IRC, DEFAULT_WEB,
    LISTEN_BACKLOG,
};
pub use password::{Password, PasswordError, MAX_PASSWORD};
pub use threads::size_executor;
pub use tls::{CertFiles, Tls, TlsError};

use crate::core::{Chat, Forgetful, Memory, Recalled};
use admission::Shared;
use transport::Tcp;

/// How long the accept loop pauses after an error such as running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A chat client silent for this share of `--handshake-timeout` at a TLS port (6 s of the
/// default 60) is taken for a plain one waiting for the server, and told so.
const QUIET_SHARE: u32 = 10;

/// Runs the chat server on `listeners` until `shutdown` completes, then tells every client
/// goodbye, lets queued lines drain (up to `shutdown_grace`), and returns. It keeps
/// nothing across restarts: history lives only as long as its room.
pub async fn run(
    listeners: Vec<Listener>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    run_remembering(listeners, config, Arc::new(Forgetful), Recalled::default(), shutdown).await
}

/// Runs the chat server as [`run`] does, keeping history, accounts and registered rooms
/// in `memory`, which held `recalled` at start. Everything handed to it is durably
/// written before this returns.
pub async fn run_remembering(
    listeners: Vec<Listener>,
    config: Config,
    memory: Arc<dyn Memory>,
    recalled: Recalled,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let chat = Chat::remembering(config.limits(), memory.clone(), recalled);
    run_with(listeners, config, Arc::new(chat), memory, shutdown).await
}

/// [`run`] with `chat` as its core (one ordered by a cluster, say), whose history,
/// accounts and rooms are kept in `memory`.
pub async fn run_with(
    listeners: Vec<Listener>,
    config: Config,
    chat: Arc<Chat>,
    memory: Arc<dyn Memory>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let (alive_tx, alive_rx) = async_channel::bounded::<()>(1);
    let grace = config.shutdown_grace;
    let shared = Arc::new(Shared::new(config, chat)?);
    let raise = stop::Raise(shared.stop.clone());
    for listener in &listeners {
        info!("listening on {}", listener.local_spec()?);
    }
    let accepting: Vec<Task<()>> = listeners
        .into_iter()
        .map(|listener| smol::spawn(accept_loop(listener, shared.clone(), alive_tx.clone())))
        .collect();
    shutdown.await;

    info!("shutting down");
    drop(accepting);
    // Every room delivers what is pending; then the stop is raised, and each session,
    // woken by it, says goodbye after it.
    shared.chat.close().await;
    drop(raise);
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
    let settled = future::or(async { Some(memory.settled().await) }, async {
        Timer::after(grace + Duration::from_secs(5)).await;
        None
    });
    match settled.await {
        Some(Ok(())) => {}
        Some(Err(error)) => warn!(%error, "the last of the history may not have been kept"),
        None => warn!("the store did not confirm the last of the history in time"),
    }
    info!("stopped");
    Ok(())
}

async fn accept_loop(listener: Listener, shared: Arc<Shared>, alive: Sender<()>) {
    loop {
        match listener.tcp.accept().await {
            Ok((stream, peer)) => {
                start(&listener, stream, peer, &shared, &alive);
                // Under a connection flood, let the connections (and the shutdown) run.
                future::yield_now().await;
            }
            // Linux passes a connection's own pending network error on from accept: the
            // next connection is unaffected (accept(2), "Error handling"). Pausing for it
            // would let a peer that resets as it connects hold everyone else up.
            Err(error) if one_connections_error(&error) => {
                debug!(%error, "a connection failed before it was accepted");
            }
            Err(error) => {
                warn!(%error, "accept failed; backing off");
                Timer::after(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Whether an error of `accept` is one connection's, to retry at once, rather than the
/// server's (out of file descriptors or memory), to back off from.
fn one_connections_error(error: &io::Error) -> bool {
    use nix::errno::Errno;
    const ONE_CONNECTIONS: [Errno; 10] = [
        Errno::ECONNABORTED,
        Errno::ECONNRESET,
        Errno::ENETDOWN,
        Errno::EPROTO,
        Errno::ENOPROTOOPT,
        Errno::EHOSTDOWN,
        Errno::ENONET,
        Errno::EHOSTUNREACH,
        Errno::EOPNOTSUPP,
        Errno::ENETUNREACH,
    ];
    error.raw_os_error().is_some_and(|code| ONE_CONNECTIONS.contains(&Errno::from_raw(code)))
}

/// Starts the session for a connection, in the protocol its listener speaks and over TLS
/// if it says so, or refuses it when a connection limit is reached.
fn start(
    listener: &Listener,
    stream: async_net::TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    alive: &Sender<()>,
) {
    // Without this, small lines wait for delayed ACKs and p99 latency sits near 28 ms.
    let _ = stream.set_nodelay(true);
    let scheme = listener.scheme;
    let protocol = scheme.protocol();
    shared.metrics.accepted(scheme);
    let tcp = Tcp::new(stream);
    let accepted = Instant::now();
    match (shared.admit(peer, alive), &listener.tls) {
        (Ok(ticket), None) => serve(scheme, tcp.halves(), ticket, accepted),
        (Ok(ticket), Some(tls)) => {
            let acceptor = tls.acceptor();
            // A chat or IRC client's handshake spends its registration time; a web client's
            // has as long again as its request head.
            let deadline = match protocol {
                Protocol::Web => accepted + web::request_timeout(&shared.config),
                Protocol::Chat | Protocol::Irc => accepted + shared.config.handshake_timeout,
            };
            // Only the chat protocol's server speaks first: its plain clients stay quiet.
            let quiet = (protocol == Protocol::Chat)
                .then(|| accepted + shared.config.handshake_timeout / QUIET_SHARE);
            smol::spawn(async move {
                let times = (quiet, deadline);
                let handshake = tls_accept::accept(acceptor, tcp, protocol, peer, times);
                // Without the stop, a handshake under way would hold the shutdown for its
                // whole grace: it has no session yet to be told.
                if let Some(Ok(halves)) = ticket.shared.stop.unless_raised(handshake).await {
                    serve(scheme, halves, ticket, accepted);
                }
            })
            .detach();
        }
        (Err(full), tls) => {
            warn!(%peer, ?full, "refused");
            let line = match protocol {
                Protocol::Chat => session::chat::refusal(full),
                Protocol::Irc => session::irc::refusal(full, peer),
                Protocol::Web => web::refusal(full),
            };
            let acceptor = tls.as_ref().map(|tls| tls.acceptor());
            match shared.refusals.enter() {
                Some(place) => smol::spawn(refusal::refuse(tcp, acceptor, line, place)).detach(),
                None => tcp.close_both(),
            }
        }
    }
}

/// Starts the task that serves one client of a `scheme` listener over `halves`, accepted
/// at `accepted`.
///
/// Each protocol's session is a task of its own rather than a branch of one future: a task
/// is as large as its future for as long as it lives, and a web request's 3.8 kB would
/// otherwise size every chat and IRC connection's task.
fn serve<R, W>(
    scheme: Scheme,
    halves: transport::Halves<R, W>,
    ticket: admission::Ticket,
    accepted: Instant,
) where
    R: futures_lite::AsyncRead + Unpin + Send + 'static,
    W: futures_lite::AsyncWrite + Unpin + Send + 'static,
{
    let tls = scheme.is_tls();
    match scheme.protocol() {
        Protocol::Chat => smol::spawn(session::chat::serve(halves, ticket, accepted)).detach(),
        Protocol::Irc => smol::spawn(session::irc::serve(halves, ticket, tls, accepted)).detach(),
        Protocol::Web => smol::spawn(web::serve(halves, ticket, tls, accepted)).detach(),
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of_val;

    use super::*;

    /// A connection over loopback, with the listener it went to and that listener's address.
    fn loopback() -> (std::net::TcpListener, Tcp, SocketAddr) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let peer = listener.local_addr().expect("address");
        let stream = std::net::TcpStream::connect(peer).expect("connect");
        (listener, Tcp::new(async_net::TcpStream::try_from(stream).expect("async")), peer)
    }

    /// Every idle connection's task is as large as its session's future, so a session that
    /// grows (a web request held beside it once made each 3.8 kB) costs every client.
    #[test]
    fn a_connection_task_stays_small() {
        let config = Config::default();
        let chat = Arc::new(Chat::new(config.limits()));
        let shared = Arc::new(Shared::new(config, chat).expect("no password file"));
        let (alive, _alive_rx) = async_channel::bounded(1);
        let (_listener, tcp, peer) = loopback();
        let ticket = || shared.admit(peer, &alive).expect("admitted");
        let chat = session::chat::serve(tcp.clone().halves(), ticket(), Instant::now());
        let irc = session::irc::serve(tcp.halves(), ticket(), false, Instant::now());
        // 560 and 568 B today (the line timer's view of input a WebSocket holds back took 8).
        assert!(size_of_val(&chat) <= 576, "a chat session's task: {} B", size_of_val(&chat));
        assert!(size_of_val(&irc) <= 576, "an IRC session's task: {} B", size_of_val(&irc));
    }

    #[test]
    fn only_the_servers_own_accept_errors_pause_accepting() {
        use nix::errno::Errno;
        let error = |errno: Errno| io::Error::from_raw_os_error(errno as i32);
        for errno in [Errno::ECONNABORTED, Errno::EPROTO, Errno::ENETUNREACH] {
            assert!(one_connections_error(&error(errno)), "{errno}");
        }
        for errno in [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM] {
            assert!(!one_connections_error(&error(errno)), "{errno}");
        }
        assert!(!one_connections_error(&io::Error::other("not the system's")));
    }

    /// The same for the writer task, which idles beside every connection: what it holds
    /// while writing is boxed, and only for as long as it writes.
    #[test]
    fn a_writer_task_stays_small() {
        let (_listener, tcp, _) = loopback();
        let (_outbox, queue) = crate::core::Outbox::new(1, 1, Arc::new(tcp.clone()), None);
        let writer = writer::write_loop(queue, tcp);
        assert!(size_of_val(&writer) <= 128, "a writer task: {} B", size_of_val(&writer));
    }
}
