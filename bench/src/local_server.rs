//! `--spawn`: a server started in this process on its own thread, stopped after the run,
//! listening for the protocol the clients speak.

use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use smolchat::server::{self, Config, Listener};

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
    /// `protocol`.
    pub fn start(protocol: Protocol) -> io::Result<LocalServer> {
        LocalServer::start_with(bench_config(), protocol)
    }

    /// Binds 127.0.0.1:0 and starts the server with `config`, listening for `protocol`:
    /// for tests that need a server set up otherwise, such as one without a default room.
    pub fn start_with(config: Config, protocol: Protocol) -> io::Result<LocalServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let tcp = async_net::TcpListener::try_from(listener)?;
        let listener = match protocol {
            Protocol::Chat => vec![Listener::chat(tcp)],
            Protocol::Irc => vec![Listener::irc(tcp)],
        };
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let thread = thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || smol::block_on(server::run(listener, config, shutdown)))?;
        Ok(LocalServer { addr, stop, thread })
    }

    /// Shuts the server down and waits for it to finish.
    pub fn stop(self) -> io::Result<()> {
        drop(self.stop);
        self.thread.join().map_err(|_| io::Error::other("the in-process server panicked"))?
    }
}
