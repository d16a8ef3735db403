//! Soak: 2,000 clients (good, flooding, stalling, vanishing, not reading) against the real
//! server binary for a minute. Ignored by default; run it with
//! `cargo test --release --test soak -- --ignored --nocapture` (`SOAK_SECS` sets the length).
//! It reports what the issue asks for and fails if a good client lost a message.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::within;
use futures_lite::AsyncWriteExt;
use smol::Timer;
use smolchat::client::Client;
use smolchat::proto::chat::Line;

const GOOD: usize = 1_700;
const SPEAKERS: usize = 50;
const EACH_BAD: usize = 75;

/// The server under test, a separate process so its memory and descriptors are its own.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Server {
        let mut child = Process::new(env!("CARGO_BIN_EXE_smolchat-server"))
            .args(["--bind", "127.0.0.1:0", "--data-dir", "none", "--max-per-ip", "5000"])
            .args(["--flood-rate", "5"])
            .args(["--flood-burst", "10", "--line-timeout", "2s", "--ping-interval", "5s"])
            .args(["--ping-timeout", "2s", "--handshake-timeout", "5s"])
            .env("RUST_LOG", "warn,smolchat::server=info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server binary");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines.next().expect("server exited").expect("read log");
            if let Some((_, addr)) = line.split_once("listening on chat://") {
                break addr.trim().parse().expect("address");
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .filter(|l| l.contains("WARN"))
                .take(20)
                .for_each(|l| eprintln!("server: {l}"))
        });
        Server { child, addr }
    }

    /// (resident memory in KiB, open descriptors) of the server process.
    fn footprint(&self) -> (u64, usize) {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
        (rss, fds)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the soak's tasks share.
struct Soak {
    /// Good clients registered so far.
    joined: AtomicUsize,
    /// Closed when all good clients are in: the speakers start.
    go: async_channel::Receiver<()>,
    /// Cleared when the speakers should stop.
    speaking: AtomicBool,
    /// Messages the speakers have sent.
    sent: AtomicU64,
}

/// A good client: reads everything, counts the speakers' messages, maybe speaks once a second.
async fn good(addr: SocketAddr, n: usize, soak: Arc<Soak>) -> u64 {
    let (client, _) = Client::join(addr, &format!("good{n}")).await.expect("good client joins");
    soak.joined.fetch_add(1, Ordering::Relaxed);
    let (mut events, sender) = client.split();
    if n < SPEAKERS {
        let go = soak.go.clone();
        let speaking = soak.clone();
        smol::spawn(async move {
            // Everyone is in the room before anyone speaks, so everyone can hear it all.
            let _ = go.recv().await;
            let (speaking, sent) = (&speaking.speaking, &speaking.sent);
            let mut seq = 0u64;
            while speaking.load(Ordering::Relaxed) {
                if sender.send_line(&format!("speaker {n} {seq}")).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                seq += 1;
                Timer::after(Duration::from_secs(1)).await;
            }
        })
        .detach();
    }
    let mut received = 0;
    while let Ok(event) = events.next().await {
        if matches!(&event, Line::Message { text, .. } if text.starts_with("speaker ")) {
            received += 1;
        }
        if matches!(event, Line::Bye { .. }) {
            break;
        }
    }
    received
}

/// Bad clients, over and over until the soak ends: each kind misbehaves its own way.
async fn bad(addr: SocketAddr, n: usize, running: Arc<AtomicBool>) {
    let mut round = 0;
    while running.load(Ordering::Relaxed) {
        round += 1;
        let nick = format!("bad{n}x{round}");
        let Ok(mut stream) = async_net::TcpStream::connect(addr).await else { continue };
        let _ = stream.write_all(format!("{nick}\n").as_bytes()).await;
        match n % 4 {
            0 => {
                // Floods until disconnected.
                for i in 0..1_000 {
                    if stream.write_all(format!("flood {i}\n").as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
            1 => {
                // Starts a line and stalls.
                let _ = stream.write_all(b"I am typing very slo").await;
            }
            2 => {
                // Vanishes a moment after joining.
            }
            _ => {
                // Never reads while the room talks.
                let _ = stream.write_all(b"hello, I will not read\n").await;
            }
        }
        Timer::after(Duration::from_millis(500 + (n as u64 * 37) % 2_000)).await;
        drop(stream);
    }
}

#[test]
#[ignore = "a minute long; run by hand with --release (see the module docs)"]
fn soak_two_thousand_clients_with_bad_ones_among_them() {
    let secs = std::env::var("SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let server = Server::start();
    let addr = server.addr;
    let start = server.footprint();
    let running = Arc::new(AtomicBool::new(true));
    let (go, gate) = async_channel::bounded(1);
    let soak = Arc::new(Soak {
        joined: AtomicUsize::new(0),
        go: gate,
        speaking: AtomicBool::new(true),
        sent: AtomicU64::new(0),
    });
    smol::block_on(async {
        let mut goods = Vec::new();
        // In waves of a hundred, as a listen backlog of 128 would have it anyway.
        for n in 0..GOOD {
            goods.push(smol::spawn(good(addr, n, soak.clone())));
            if (n + 1) % 100 == 0 || n + 1 == GOOD {
                within("a wave of good clients to join", async {
                    while soak.joined.load(Ordering::Relaxed) < n + 1 {
                        Timer::after(Duration::from_millis(20)).await;
                    }
                })
                .await;
            }
        }
        drop(go);
        eprintln!("soak: all {GOOD} good clients joined");
        for n in 0..4 * EACH_BAD {
            smol::spawn(bad(addr, n, running.clone())).detach();
        }
        let began = Instant::now();
        Timer::after(Duration::from_secs(secs)).await;
        let during = server.footprint();
        soak.speaking.store(false, Ordering::Relaxed);
        running.store(false, Ordering::Relaxed);
        Timer::after(Duration::from_secs(4)).await; // last messages, bad clients winding down
        let end = server.footprint();
        let sent = soak.sent.load(Ordering::Relaxed);
        // Closing the server sends BYE to everyone, which ends each good client's count.
        terminate(&server);
        let mut lost = 0;
        for task in goods {
            let received = within("good client", task).await;
            lost += sent.saturating_sub(received);
        }
        println!(
            "soak: {secs} s, {GOOD} good clients ({SPEAKERS} speaking at 1 msg/s), {} bad",
            4 * EACH_BAD
        );
        println!("soak: messages sent by speakers: {sent}; lost by good clients: {lost}");
        println!(
            "soak: server RSS start {} KiB, under load {} KiB, end {} KiB",
            start.0, during.0, end.0
        );
        println!("soak: server fds start {}, under load {}, end {}", start.1, during.1, end.1);
        println!("soak: wall time {:?}", began.elapsed());
        assert_eq!(lost, 0, "good clients lost messages");
    });
}

/// Stops the server with SIGTERM, its graceful path.
fn terminate(server: &Server) {
    let _ = Process::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
}
