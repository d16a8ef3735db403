//! An IRC client that stops reading is dropped without stalling the room, the room hears
//! it leave with `SendQ exceeded`, and the client, should it read again, finds the rest of
//! the line it was being sent and then `ERROR :Closing Link: ... (SendQ exceeded)`.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};

use common::*;
use smolchat::server::Config;
use socket2::{Domain, Socket, Type};

/// A blocking IRC connection with a receive buffer kept small, so that a client that
/// does not read fills the server's side quickly.
fn connect_small(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    stream
}

/// Reads lines until one contains `needle`.
fn read_until(reader: &mut BufReader<TcpStream>, needle: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).expect("a line before the timeout");
        assert!(read > 0, "connection ended before {needle:?}");
        if line.contains(needle) {
            return;
        }
    }
}

#[test]
fn a_stalled_irc_reader_is_dropped_told_why_and_the_room_goes_on() {
    smol::block_on(async {
        let config = Config { queue_len: 4, queue_bytes: 4096, ..quick() };
        let server = TestServer::start(config).await;
        let mut alice = server.join("alice").await;
        let stream = connect_small(server.irc);
        let mut writer = stream.try_clone().expect("clone");
        writer.write_all(b"NICK sleepy\r\nUSER s 0 * :S\r\nJOIN #lobby\r\n").expect("register");
        let mut reader = BufReader::new(stream);
        read_until(&mut reader, " 366 ");
        wait_for(&mut alice, "sleepy's JOIN", |l| *l == lobby_join("sleepy")).await;

        // sleepy stops reading; alice talks until the room says it left.
        let gone = quit("sleepy", "send queue full");
        let text = "x".repeat(400);
        within("sleepy dropped", async {
            let mut said = 0;
            loop {
                alice.say(&text).await.expect("say");
                said += 1;
                if said % 50 == 0 {
                    // Everyone else keeps hearing the room meanwhile.
                    let marker = format!("marker {said}");
                    alice.say(&marker).await.expect("say");
                    let seen =
                        lines_until_all(&mut alice, &[lobby_message("alice", &marker)]).await;
                    if seen.contains(&gone) {
                        return;
                    }
                }
            }
        })
        .await;

        // Reading again, sleepy finds the farewell last, then the end of the connection.
        let lines = smol::unblock(move || {
            let mut lines = Vec::new();
            for line in reader.lines() {
                match line {
                    Ok(line) => lines.push(line),
                    Err(_) => break,
                }
            }
            lines
        });
        let lines = within("sleepy's last lines", lines).await;
        let last = lines.last().expect("some lines");
        assert_eq!(last, "ERROR :Closing Link: (SendQ exceeded)");

        // The room goes on.
        alice.say("still here").await.expect("say");
        wait_message(&mut alice, "alice", "still here").await;
        server.stop().await;
    });
}
