//! Churn: thousands of connections that come and go leave no file descriptors, tasks or
//! room entries behind. Alone in its test binary, so no other test's sockets are counted.

mod common;

use std::time::Duration;

use common::*;
use futures_lite::AsyncWriteExt;
use smolchat::client::Client;
use smolchat::proto::chat::{Command, Line};

/// File descriptors this process has open now.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|dir| dir.count()).unwrap_or(0)
}

/// One connection that ends in one of the ways real ones do.
async fn come_and_go(server: &TestServer, n: usize) {
    let nick = format!("churn{n}");
    match n % 4 {
        // Connects and vanishes before choosing a nickname.
        0 => drop(
            within("connect", async_net::TcpStream::connect(server.addr)).await.expect("connect"),
        ),
        // Registers, says something, quits politely.
        1 => {
            let client = server.join(&nick).await;
            client.say("hi").await.expect("say");
            client.sender.quit(None).await.expect("quit");
        }
        // Registers and drops the connection.
        2 => drop(server.join(&nick).await),
        // Sends half a nickname and hangs up.
        _ => {
            let mut raw = within("connect", async_net::TcpStream::connect(server.addr))
                .await
                .expect("connect");
            let _ = raw.write_all(b"half").await;
        }
    }
}

#[test]
fn thousands_of_connections_come_and_go_without_leaking() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        // Warm up the executor's threads and the allocator before taking the baseline.
        for n in 0..20 {
            come_and_go(&server, n).await;
        }
        within("warm-up settles", settle(&mut watcher)).await;
        let baseline = open_fds();
        for n in 20..2020 {
            come_and_go(&server, n).await;
        }
        within("churn settles", settle(&mut watcher)).await;
        within("descriptors return to the baseline", async {
            while open_fds() > baseline {
                smol::Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
        server.stop().await;
    });
}

/// Waits until `/who` shows the watcher alone: every churned client has left the room.
async fn settle(watcher: &mut Client) {
    loop {
        watcher.send(&Command::Names(None)).await.expect("names");
        let names = wait_for(watcher, "NAMES", |e| matches!(e, Line::Names { .. })).await;
        if names == (Line::Names { room: s(LOBBY), nicks: vec![s("watcher")] }) {
            return;
        }
        smol::Timer::after(Duration::from_millis(20)).await;
    }
}
