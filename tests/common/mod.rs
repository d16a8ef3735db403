//! Shared test harness: an in-process server on 127.0.0.1:0 and clients with timeouts.

#![allow(dead_code)] // each test file uses its own subset

pub mod binary;
pub mod irc;
pub mod password;
#[cfg(unix)]
pub mod programs;
pub mod redis;
pub mod tls;
pub mod webdriver;
pub mod websocket;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_net::TcpListener;
use futures_lite::future;
use smol::{Task, Timer};
use smolchat::client::{Client, ClientError};
use smolchat::cluster::Node;
use smolchat::core::Memory;
use smolchat::proto::chat::Line;
use smolchat::server::{self, Config, Listener};
use smolchat::store::Store;

/// A connection to `addr` from the local address `from`: another loopback address
/// (`127.0.0.2`) stands for another host.
pub fn connect_from(from: std::net::IpAddr, addr: SocketAddr) -> async_net::TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket.bind(&SocketAddr::new(from, 0).into()).expect("bind the local address");
    // Blocking, on loopback: answered at once.
    socket.connect(&addr.into()).expect("connect");
    async_net::TcpStream::try_from(std::net::TcpStream::from(socket)).expect("an async socket")
}

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test with `what` if it takes longer than [`TIMEOUT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    let timeout = async {
        Timer::after(TIMEOUT).await;
        panic!("timed out waiting for {what}");
    };
    future::or(fut, timeout).await
}

/// A directory of its own for one test, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A fresh, empty directory named after `test`.
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("smolchat-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Its path, as an argument.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server running in-process until [`TestServer::stop`].
pub struct TestServer {
    /// Where it listens for the chat protocol.
    pub addr: SocketAddr,
    /// Where it listens for IRC.
    pub irc: SocketAddr,
    /// Where it serves the web page and the WebSocket (`/ws`).
    pub web: SocketAddr,
    stop: async_channel::Sender<()>,
    task: Task<io::Result<()>>,
    /// The store, if it keeps one: stopping waits until it is closed, so that the next
    /// server can open it.
    store: Option<std::sync::Weak<Store>>,
    /// Its node, if it is one of a cluster: left once the server has stopped.
    node: Option<Node>,
}

impl TestServer {
    /// Starts a server with `config` on a free loopback port, keeping nothing.
    pub async fn start(config: Config) -> TestServer {
        TestServer::start_with(config, None).await
    }

    /// Starts a server with `config` that keeps its store in `dir`.
    pub async fn start_in(config: Config, dir: &TempDir) -> TestServer {
        TestServer::start_with(config, Some(dir.path())).await
    }

    /// Starts a server with `config` that keeps its store in `dir`, on the addresses of an
    /// earlier one (see [`TestServer::addrs`]), so that what was connected to that one can
    /// come back to this one. A port still held by the one just stopped is tried again for
    /// a few seconds.
    pub async fn start_in_at(config: Config, dir: &TempDir, addrs: Addrs) -> TestServer {
        TestServer::start_on(config, Some(dir.path()), addrs).await
    }

    /// Where it listens, to start another server at the same addresses after this one.
    pub fn addrs(&self) -> Addrs {
        Addrs { chat: self.addr, irc: self.irc, web: self.web }
    }

    async fn start_with(config: Config, dir: Option<&std::path::Path>) -> TestServer {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        TestServer::start_on(config, dir, Addrs { chat: any, irc: any, web: any }).await
    }

    async fn start_on(config: Config, dir: Option<&std::path::Path>, at: Addrs) -> TestServer {
        let listener = bind(at.chat).await;
        let addr = listener.local_addr().expect("local addr");
        let irc_listener = bind(at.irc).await;
        let irc = irc_listener.local_addr().expect("local addr");
        let web_listener = bind(at.web).await;
        let web = web_listener.local_addr().expect("local addr");
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let listeners = vec![
            Listener::chat(listener),
            Listener::irc(irc_listener),
            Listener::web(web_listener),
        ];
        let (task, store) = match dir {
            None => (smol::spawn(server::run(listeners, config, shutdown)), None),
            Some(dir) => {
                let (store, recalled) = Store::open(dir, config.retention()).expect("open store");
                let store = Arc::new(store);
                let kept = Arc::downgrade(&store);
                let memory: Arc<dyn Memory> = store;
                let run = server::run_remembering(listeners, config, memory, recalled, shutdown);
                (smol::spawn(run), Some(kept))
            }
        };
        TestServer { addr, irc, web, stop, task, store, node: None }
    }

    /// Starts a server with `config` as a node of the cluster whose Redis is at `url`,
    /// whose servers are declared dead `lease` after their last heartbeat.
    pub async fn start_clustered(config: Config, url: &str, lease: Duration) -> TestServer {
        let retention = config.retention();
        let node = Node::join(url, config.limits(), retention, lease).await.expect("join");
        let (chat, memory) = (node.chat().clone(), node.memory());
        let (listeners, at) = listeners().await;
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let task = smol::spawn(server::run_with(listeners, config, chat, memory, shutdown));
        TestServer {
            addr: at.chat,
            irc: at.irc,
            web: at.web,
            stop,
            task,
            store: None,
            node: Some(node),
        }
    }

    /// Starts a server with the default limits, but a short shutdown grace so tests
    /// that end with clients still connected do not wait a full second for each.
    pub async fn default() -> TestServer {
        TestServer::start(quick()).await
    }

    /// Triggers a graceful shutdown and waits for `run` to return.
    pub async fn stop(self) {
        drop(self.stop);
        within("server shutdown", self.task).await.expect("server run returned an error");
        if let Some(node) = self.node {
            within("the node to leave", node.close()).await;
        }
        if let Some(store) = self.store {
            // The rooms' last tasks let go of it just after the server returns.
            within("the store to close", async {
                while store.strong_count() > 0 {
                    Timer::after(Duration::from_millis(5)).await;
                }
            })
            .await;
        }
    }

    /// Connects and registers `nick`, and reads what follows up to the `ROOM` line that
    /// ends registration (in the default room: its own `JOIN #lobby nick`, then `ROOM`).
    pub async fn join(&self, nick: &str) -> Client {
        let (mut client, welcome) =
            within("join", Client::join(self.addr, nick)).await.expect("join");
        assert_eq!(welcome.nick, nick);
        settle(&mut client).await;
        client
    }
}

/// A chat, an IRC and a web listener on free loopback ports, and their addresses.
async fn listeners() -> (Vec<Listener>, Addrs) {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let (chat, irc, web) = (bind(any).await, bind(any).await, bind(any).await);
    let addr = |listener: &TcpListener| listener.local_addr().expect("local addr");
    let at = Addrs { chat: addr(&chat), irc: addr(&irc), web: addr(&web) };
    (vec![Listener::chat(chat), Listener::irc(irc), Listener::web(web)], at)
}

/// The addresses a [`TestServer`] listens on.
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    /// The chat protocol's.
    pub chat: SocketAddr,
    /// IRC's.
    pub irc: SocketAddr,
    /// The web page's and the WebSocket's.
    pub web: SocketAddr,
}

/// A listener on `addr`. A given port may still be held for a moment by a server that has
/// just stopped: it is tried again, for up to a few seconds. (The standard library's
/// listener, which async-net wraps, sets `SO_REUSEADDR` on Unix, so connections of the
/// stopped server left in `TIME_WAIT` do not hold it.)
async fn bind(addr: SocketAddr) -> TcpListener {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(error)
                if error.kind() == io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                Timer::after(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("bind {addr}: {error}"),
        }
    }
}

/// Reads until the `ROOM` line that ends registration (or a join), and returns it.
pub async fn settle(client: &mut Client) -> Line {
    wait_for(client, "ROOM", |line| matches!(line, Line::Room { .. })).await
}

/// The default room.
pub const LOBBY: &str = "#lobby";

/// The default configuration with a short shutdown grace, and flood control and the
/// per-address cap out of the way (every test client shares 127.0.0.1 and sends as fast
/// as it can); the tests of those limits turn them back on.
pub fn quick() -> Config {
    Config {
        shutdown_grace: Duration::from_millis(200),
        flood_rate: 0,
        max_per_ip: 100_000,
        ..Config::default()
    }
}

/// The next line, within the timeout.
pub async fn next(client: &mut Client) -> Line {
    within("next line", client.next()).await.expect("line")
}

/// Skips lines until one matches `pred`, and returns it.
pub async fn wait_for(client: &mut Client, what: &str, pred: impl Fn(&Line) -> bool) -> Line {
    within(what, async {
        loop {
            match client.next().await {
                Ok(event) if pred(&event) => return event,
                Ok(_) => {}
                Err(error) => panic!("connection ended waiting for {what}: {error}"),
            }
        }
    })
    .await
}

/// Skips lines until `MSG #room from text` arrives, in any room.
pub async fn wait_message(client: &mut Client, from: &str, text: &str) {
    let what = format!("MSG {from} {text}");
    wait_for(
        client,
        &what,
        |line| matches!(line, Line::Message { from: f, text: t, .. } if f == from && t == text),
    )
    .await;
}

/// `MSG #lobby from text`.
pub fn lobby_message(from: &str, text: &str) -> Line {
    Line::Message { room: s(LOBBY), from: s(from), text: s(text) }
}

/// `JOIN #lobby nick`.
pub fn lobby_join(nick: &str) -> Line {
    Line::Join { room: s(LOBBY), nick: s(nick) }
}

/// `QUIT nick reason`.
pub fn quit(nick: &str, reason: &str) -> Line {
    Line::Quit { nick: s(nick), reason: s(reason) }
}

/// Reads lines until the connection ends; returns them and how it ended.
pub async fn drain(client: &mut Client) -> (Vec<Line>, ClientError) {
    within("end of connection", async {
        let mut seen = Vec::new();
        loop {
            match client.next().await {
                Ok(event) => seen.push(event),
                Err(error) => return (seen, error),
            }
        }
    })
    .await
}

/// Shorthand for building owned strings in expected events.
pub fn s(text: &str) -> String {
    text.to_string()
}

/// Sends `/join room` as `nick` and waits for its own `JOIN` and the `ROOM` that follows.
pub async fn join_room(client: &mut Client, nick: &str, room: &str) {
    client.sender.send_line(&format!("/join {room}")).await.expect("join");
    let own = Line::Join { room: s(room), nick: s(nick) };
    wait_for(client, &format!("own JOIN {room}"), |line| *line == own).await;
    let current = Line::Room { room: Some(s(room)) };
    wait_for(client, &format!("ROOM {room}"), |line| *line == current).await;
}

/// Says `text` in `room` (one of the client's rooms) with `/msg #room text`.
pub async fn say_in(client: &Client, room: &str, text: &str) {
    client.sender.send_line(&format!("/msg {room} {text}")).await.expect("say");
}

/// Skips lines until an `ERROR`, and returns its code.
pub async fn next_error(client: &mut Client) -> smolchat::proto::chat::ErrorCode {
    match wait_for(client, "ERROR", |line| matches!(line, Line::Error { .. })).await {
        Line::Error { code, .. } => code,
        _ => unreachable!("wait_for returned another line"),
    }
}

/// Collects lines until every one of `ends` has been seen; returns all of them, in order.
pub async fn lines_until_all(client: &mut Client, ends: &[Line]) -> Vec<Line> {
    within("lines until the markers", async {
        let mut seen: Vec<Line> = Vec::new();
        while !ends.iter().all(|end| seen.contains(end)) {
            seen.push(client.next().await.expect("connection ended before the markers"));
        }
        seen
    })
    .await
}
