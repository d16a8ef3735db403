//! The room under load: one order for everyone, hundreds of clients, a reader that stops
//! reading, and a graceful shutdown.

mod common;

use std::net::SocketAddr;

use common::*;
use futures_lite::AsyncReadExt;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::Line;
use smolchat::server::Config;

/// Collects `count` room events (messages, joins, leaves, renames) a client sees, starting
/// with `s0`'s join: earlier receivers also saw later receivers join, which is not the test.
async fn room_events(mut client: Client, count: usize) -> Vec<Line> {
    within("room events", async {
        let mut seen = Vec::with_capacity(count);
        let start = lobby_join("s0");
        while seen.len() < count {
            match client.next().await {
                Ok(event) if seen.is_empty() && event != start => {}
                Ok(
                    event @ (Line::Message { .. }
                    | Line::Join { .. }
                    | Line::Quit { .. }
                    | Line::Rename { .. }),
                ) => seen.push(event),
                Ok(_) => {}
                Err(error) => panic!("connection ended: {error}"),
            }
        }
        seen
    })
    .await
}

#[test]
fn every_client_sees_the_room_in_the_same_order() {
    smol::block_on(async {
        let server = TestServer::default().await;
        const SENDERS: usize = 4;
        const PER_SENDER: usize = 100;
        let mut receivers = Vec::new();
        for i in 0..6 {
            receivers.push(server.join(&format!("r{i}")).await);
        }
        let mut senders = Vec::new();
        for i in 0..SENDERS {
            senders.push(server.join(&format!("s{i}")).await);
        }
        // The senders' joins, their messages, and a join and a leave in the middle.
        let expected = SENDERS + SENDERS * PER_SENDER + 2;
        let watchers: Vec<_> =
            receivers.into_iter().map(|r| smol::spawn(room_events(r, expected))).collect();
        let churn = server.join("churn").await;
        let tasks: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(i, sender)| {
                smol::spawn(async move {
                    for n in 0..PER_SENDER {
                        sender.say(&format!("{i}:{n}")).await.expect("say");
                    }
                    sender
                })
            })
            .collect();
        churn.sender.quit(None).await.expect("quit");
        let mut kept = Vec::new();
        for task in tasks {
            kept.push(within("senders", task).await);
        }
        let mut sequences = Vec::new();
        for watcher in watchers {
            sequences.push(within("watchers", watcher).await);
        }
        let first = &sequences[0];
        for other in &sequences[1..] {
            assert_eq!(other, first, "two clients saw the room in different orders");
        }
        for i in 0..SENDERS {
            let mine: Vec<String> = first
                .iter()
                .filter_map(|e| match e {
                    Line::Message { from, text, .. } if *from == format!("s{i}") => {
                        Some(text.clone())
                    }
                    _ => None,
                })
                .collect();
            let sent: Vec<String> = (0..PER_SENDER).map(|n| format!("{i}:{n}")).collect();
            assert_eq!(mine, sent, "sender {i}'s messages lost or reordered");
        }
        drop(kept);
        server.stop().await;
    });
}

#[test]
fn three_hundred_clients_all_receive_a_broadcast() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut clients = Vec::new();
        for i in 0..300 {
            clients.push(server.join(&format!("c{i}")).await);
        }
        clients[150].say("to all 300").await.expect("say");
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut client| {
                smol::spawn(async move {
                    wait_message(&mut client, "c150", "to all 300").await;
                    client
                })
            })
            .collect();
        let mut done = Vec::new();
        for task in tasks {
            done.push(within("broadcast", task).await);
        }
        assert_eq!(done.len(), 300);
        server.stop().await;
    });
}

/// Joins with a raw socket that, after the handshake, never reads again.
async fn join_and_stop_reading(addr: SocketAddr, nick: &str) -> async_net::TcpStream {
    let mut stream = within("connect", async_net::TcpStream::connect(addr)).await.expect("connect");
    futures_lite::AsyncWriteExt::write_all(&mut stream, format!("{nick}\n").as_bytes())
        .await
        .expect("nick");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("WELCOME") || seen.last() != Some(&b'\n') {
        within("welcome", stream.read_exact(&mut byte)).await.expect("read");
        seen.push(byte[0]);
    }
    stream
}

#[test]
fn a_client_that_never_reads_is_dropped_and_nobody_else_misses_a_line() {
    smol::block_on(async {
        let config = Config { queue_len: 32, queue_bytes: 64 * 1024, ..quick() };
        let server = TestServer::start(config).await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        let _sloth = join_and_stop_reading(server.addr, "sloth").await;
        wait_for(
            &mut alice,
            "sloth's join",
            |e| matches!(e, Line::Join { nick, .. } if nick == "sloth"),
        )
        .await;
        wait_for(
            &mut bob,
            "sloth's join",
            |e| matches!(e, Line::Join { nick, .. } if nick == "sloth"),
        )
        .await;
        let text = "x".repeat(4000);
        let mut sent = 0;
        let mut dropped = false;
        // Batches smaller than the queue, each awaited by the readers, until the sloth's
        // kernel buffers are full, its queue overflows and the room hears it leave.
        while !dropped {
            assert!(sent < 20_000, "the non-reader was never disconnected");
            for n in sent..sent + 8 {
                alice.say(&format!("{n} {text}")).await.expect("say");
            }
            sent += 8;
            for reader in [&mut alice, &mut bob] {
                let mut got = 0;
                while got < 8 {
                    match next(reader).await {
                        Line::Message { .. } => got += 1,
                        Line::Quit { nick, reason } if nick == "sloth" => {
                            assert_eq!(reason, "send queue full");
                            dropped = true;
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
        }
        alice.say("after").await.expect("say");
        wait_message(&mut bob, "alice", "after").await;
        server.stop().await;
    });
}

#[test]
fn shutdown_tells_every_client_and_flushes_their_queues() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut clients = Vec::new();
        for i in 0..20 {
            clients.push(server.join(&format!("c{i}")).await);
        }
        clients[0].say("last words").await.expect("say");
        wait_message(&mut clients[0], "c0", "last words").await;
        server.stop().await;
        for (i, client) in clients.iter_mut().enumerate() {
            let (seen, end) = drain(client).await;
            let last_words = lobby_message("c0", "last words");
            // c0 consumed it already, above, to know the server had it before stopping.
            assert!(i == 0 || seen.contains(&last_words), "c{i}: {seen:?}");
            assert_eq!(seen.last(), Some(&Line::Bye { reason: s("server shutting down") }));
            assert!(matches!(end, ClientError::Closed), "{end:?}");
        }
    });
}
