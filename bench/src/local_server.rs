//! `--spawn`: a server started in this process on its own thread, stopped after the run,
//! listening for the protocol the clients speak, over plain TCP, over TLS (`--tls`) with a
//! self-signed certificate made for the run, or over HTTP for WebSocket (`--websocket`).

use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use smolchat::server::{self, Config, Listener, Tls};

use super::protocol::Protocol;

/// The name of the thread the in-process server's accept loop runs on; its connections run
/// on smol's global executor threads (`smol-N`, as many as the server binary would use),
/// which the generator never uses.
pub const THREAD_NAME: &str = "smolchat-server";

/// A server running in this process until [`LocalServer::stop`].
#[derive(Debug)]
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Over TLS, the SHA-256 fingerprint of its certificate, which clients pin.
    pub fingerprint: Option<String>,
    /// Dropping it starts the graceful shutdown.
    stop: async_channel::Sender<()>,
    /// The thread running it.
    thread: JoinHandle<io::Result<()>>,
}

/// The server's defaults with what gets in a benchmark's way turned off: flood control (the
/// senders go as fast as allowed) and the per-address cap (every client is 127.0.0.1).
pub fn bench_config() -> Config {
    Config {
        flood_rate: 0,
        max_per_ip: 1_000_000,
        max_clients: 1_000_000,
        shutdown_grace: Duration::from_millis(500),
        ..Config::default()
    }
}

impl LocalServer {
    /// Binds 127.0.0.1:0 and starts the server with [`bench_config`], listening for
    /// `protocol`, over TLS if `tls`.
    pub fn start(protocol: Protocol, tls: bool) -> io::Result<LocalServer> {
        if tls {
            LocalServer::start_tls(bench_config(), protocol)
        } else {
            LocalServer::start_with(bench_config(), protocol)
        }
    }

    /// Binds 127.0.0.1:0 and starts the server with `config`, listening for `protocol`:
    /// for tests that need a server set up otherwise, such as one without a default room.
    pub fn start_with(config: Config, protocol: Protocol) -> io::Result<LocalServer> {
        let (tcp, addr) = bind()?;
        let listener = match protocol {
            Protocol::Chat => Listener::chat(tcp),
            Protocol::Irc => Listener::irc(tcp),
        };
        LocalServer::launch(config, listener, addr, None)
    }

    /// As [`LocalServer::start_with`], over TLS with a self-signed certificate for
    /// `localhost` and `127.0.0.1`, made in memory for this server alone.
    pub fn start_tls(config: Config, protocol: Protocol) -> io::Result<LocalServer> {
        let names = ["localhost".to_string(), "127.0.0.1".to_string()];
        let tls = Tls::in_memory(&smolchat::tls::self_signed(&names)?).map_err(io::Error::other)?;
        let fingerprint = tls.fingerprint();
        let (tcp, addr) = bind()?;
        let protocol = match protocol {
            Protocol::Chat => server::Protocol::Chat,
            Protocol::Irc => server::Protocol::Irc,
        };
        LocalServer::launch(config, Listener::tls(protocol, tcp, tls), addr, Some(fingerprint))
    }

    /// Binds 127.0.0.1:0 and starts the server with `config`, listening on http://, whose
    /// `/ws` speaks the chat protocol over WebSocket.
    pub fn start_web(config: Config) -> io::Result<LocalServer> {
        let (tcp, addr) = bind()?;
        LocalServer::launch(config, Listener::web(tcp), addr, None)
    }

    /// Runs `listener` on a thread of its own.
    fn launch(
        config: Config,
        listener: Listener,
        addr: SocketAddr,
        fingerprint: Option<String>,
    ) -> io::Result<LocalServer> {
        let listener = vec![listener];
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let thread = thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || smol::block_on(server::run(listener, config, shutdown)))?;
        Ok(LocalServer { addr, fingerprint, stop, thread })
    }

    /// Shuts the server down and waits for it to finish.
    pub fn stop(self) -> io::Result<()> {
        drop(self.stop);
        self.thread.join().map_err(|_| io::Error::other("the in-process server panicked"))?
    }
}

/// A listening socket on a free port of 127.0.0.1, and its address.
fn bind() -> io::Result<(async_net::TcpListener, SocketAddr)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    Ok((async_net::TcpListener::try_from(listener)?, addr))
}
