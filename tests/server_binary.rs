//! The real `smolchat-server` binary: it says where it listens, and SIGTERM shuts it down
//! gracefully (every client told, exit status 0).

mod common;

use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command as Process, Stdio};

use common::*;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::Line;

/// Starts the server `command` runs, and reads its log until it says where it listens.
/// Returns the process, that address, and the rest of its log.
fn start(mut command: Process) -> (Child, SocketAddr, Lines<BufReader<ChildStderr>>) {
    let mut server = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server binary");
    let mut log = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr: SocketAddr = log
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split("listening on chat://").nth(1).map(|a| a.trim().to_string()))
        .expect("a 'listening on chat://' line")
        .parse()
        .expect("an address");
    (server, addr, log)
}

#[test]
fn sigterm_tells_every_client_and_exits_zero() {
    let mut command = Process::new(env!("CARGO_BIN_EXE_smolchat-server"));
    command.args(["--bind", "127.0.0.1:0", "--shutdown-grace", "1s"]).env("RUST_LOG", "info");
    let (mut server, addr, log) = start(command);
    smol::block_on(async {
        let (mut alice, _) = within("join", Client::join(addr, "alice")).await.expect("join");
        alice.say("before the end").await.expect("say");
        wait_message(&mut alice, "alice", "before the end").await;
        let pid = server.id().to_string();
        let killed = Process::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(killed.success());
        let (seen, end) = drain(&mut alice).await;
        assert_eq!(seen, [Line::Bye { reason: s("server shutting down") }]);
        assert!(matches!(end, ClientError::Closed), "{end:?}");
    });
    let status = server.wait().expect("wait for the server");
    assert_eq!(status.code(), Some(0), "the server should exit 0 after SIGTERM");
    let rest: Vec<String> = log.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}

#[test]
fn running_out_of_file_descriptors_is_survived() {
    // A descriptor limit of 64 leaves room for a few dozen clients at most.
    let script = format!(
        "ulimit -n 64 && exec {} --bind 127.0.0.1:0",
        env!("CARGO_BIN_EXE_smolchat-server")
    );
    let mut command = Process::new("sh");
    command.args(["-c", &script]).env("RUST_LOG", "warn,smolchat::server=info");
    let (mut server, addr, log) = start(command);
    let (failures_tx, failures) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in log.map_while(Result::ok) {
            if line.contains("accept failed") {
                let _ = failures_tx.send(line);
            }
        }
    });
    smol::block_on(async {
        // More connections than descriptors: the kernel completes them, the server cannot.
        let mut crowd = Vec::new();
        for _ in 0..100 {
            crowd.push(
                within("connect", async_net::TcpStream::connect(addr)).await.expect("connect"),
            );
        }
        let logged = failures.recv_timeout(TIMEOUT).expect("an 'accept failed' log line");
        assert!(logged.contains("backing off"), "{logged}");
        drop(crowd);
        // Once they are gone the server accepts again, and works.
        let (mut alice, _) = within("join after", Client::join(addr, "alice")).await.expect("join");
        alice.say("still serving").await.expect("say");
        wait_message(&mut alice, "alice", "still serving").await;
    });
    let _ = Process::new("kill").args(["-TERM", &server.id().to_string()]).status();
    assert_eq!(server.wait().expect("wait").code(), Some(0));
}
