//! Harness for the client tests: an in-process server on 127.0.0.1:0, watcher clients, the
//! real `smolchat` binary, and a timeout around every wait.

#![allow(dead_code)] // each test file uses its own subset

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use async_net::TcpListener;
use futures_lite::future;
use smol::process::Command;
use smol::{Task, Timer};
use smolchat::client::Client;
use smolchat::protocol::Event;
use smolchat::server::{self, Config};

/// How long any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test with `what` if it takes longer than [`TIMEOUT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    let timeout = async {
        Timer::after(TIMEOUT).await;
        panic!("timed out waiting for {what}");
    };
    future::or(fut, timeout).await
}

/// A server running in-process, on the global executor, until [`Server::stop`].
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Dropping it starts the graceful shutdown.
    stop: async_channel::Sender<()>,
    /// The running server.
    task: Task<io::Result<()>>,
}

impl Server {
    /// Starts a server with the default limits and a short shutdown grace.
    pub async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let config = Config { shutdown_grace: Duration::from_millis(200), ..Config::default() };
        let task = smol::spawn(server::run(listener, config, shutdown));
        Server { addr, stop, task }
    }

    /// The address as the binary's `--server` takes it.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Shuts the server down gracefully and waits until it has stopped.
    pub async fn stop(self) {
        drop(self.stop);
        within("server shutdown", self.task).await.expect("server run failed");
    }

    /// Connects and registers `nick` with the library client.
    pub async fn join(&self, nick: &str) -> Client {
        let (client, _) = within("join", Client::join(self.addr, nick)).await.expect("join");
        client
    }
}

/// Skips events until one matches `pred`, and returns it.
pub async fn wait_for(client: &mut Client, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
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

/// Waits for `JOIN nick`.
pub async fn wait_join(client: &mut Client, nick: &str) {
    let want = Event::Join { nick: nick.to_string() };
    wait_for(client, &format!("JOIN {nick}"), |e| *e == want).await;
}

/// Waits for `MSG from text`.
pub async fn wait_message(client: &mut Client, from: &str, text: &str) {
    let want = Event::Message { from: from.to_string(), text: text.to_string() };
    wait_for(client, &format!("MSG {from} {text}"), |e| *e == want).await;
}

/// Waits for `LEAVE nick ...` and returns the reason.
pub async fn wait_leave(client: &mut Client, nick: &str) -> String {
    let what = format!("LEAVE {nick}");
    match wait_for(client, &what, |e| matches!(e, Event::Leave { nick: n, .. } if n == nick)).await
    {
        Event::Leave { reason, .. } => reason,
        _ => unreachable!("wait_for returned another event"),
    }
}

/// Collects events until `LEAVE nick ...`, which is the last one returned.
pub async fn events_until_leave(client: &mut Client, nick: &str) -> Vec<Event> {
    within(&format!("LEAVE {nick}"), async {
        let mut seen = Vec::new();
        loop {
            let event = client.next().await.expect("connection ended before the leave");
            let done = matches!(&event, Event::Leave { nick: n, .. } if n == nick);
            seen.push(event);
            if done {
                return seen;
            }
        }
    })
    .await
}

/// The `smolchat` binary against `server`, with no colours, no history, nothing inherited
/// on stdin, and killed if the test drops it.
pub fn smolchat(server: &Server) -> Command {
    smolchat_at(&server.address())
}

/// [`smolchat`] against any address.
pub fn smolchat_at(address: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smolchat"));
    command
        .args(["--server", address, "--no-history"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The path of a bot in `bots/`.
pub fn bot(name: &str) -> String {
    format!("{}/bots/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Asserts that `lines` appear in `text` in this order (other lines may come between).
pub fn assert_in_order(text: &str, lines: &[&str]) {
    let mut rest = text.lines();
    for want in lines {
        assert!(rest.any(|line| line == *want), "missing {want:?} (in order) in:\n{text}");
    }
}
