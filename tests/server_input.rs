//! Bad input gets an error line and loses nothing: limits, encodings, control characters,
//! trickled bytes, and the limits on connecting.

mod common;

use std::time::Duration;

use common::*;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::Config;

/// Sends `bytes` as bob, expects bob to get `code`, then checks both still work and that
/// alice saw nothing but bob's next good message.
async fn refused_without_harm(config: Config, bytes: &[u8], code: ErrorCode) {
    let server = TestServer::start(config).await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    assert_eq!(next(&mut alice).await, lobby_join("bob"));
    bob.sender.send_bytes(bytes).await.expect("send");
    match next(&mut bob).await {
        Line::Error { code: got, .. } => assert_eq!(got, code),
        other => panic!("expected {code}, got {other:?}"),
    }
    bob.say("still here").await.expect("say");
    assert_eq!(next(&mut bob).await, lobby_message("bob", "still here"));
    assert_eq!(next(&mut alice).await, lobby_message("bob", "still here"));
    server.stop().await;
}

#[test]
fn an_over_long_line_is_refused_and_the_next_line_works() {
    smol::block_on(async {
        let config = Config { max_line: 64, ..quick() };
        let line = [vec![b'x'; 65], b"\n".to_vec()].concat();
        refused_without_harm(config, &line, ErrorCode::LineTooLong).await;
    });
}

#[test]
fn a_huge_line_is_refused_once_without_being_buffered() {
    smol::block_on(async {
        let config = Config { max_line: 64, ..quick() };
        let line = [vec![b'y'; 1 << 20], b"\n".to_vec()].concat();
        refused_without_harm(config, &line, ErrorCode::LineTooLong).await;
    });
}

#[test]
fn a_line_exactly_at_the_limit_is_accepted() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_line: 64, ..quick() }).await;
        let mut alice = server.join("alice").await;
        let text = "z".repeat(64);
        alice.sender.send_line(&text).await.expect("send");
        alice.sender.send_bytes(format!("{text}\r\n").as_bytes()).await.expect("send crlf");
        assert_eq!(next(&mut alice).await, lobby_message("alice", &text));
        assert_eq!(next(&mut alice).await, lobby_message("alice", &text));
        server.stop().await;
    });
}

#[test]
fn invalid_utf8_is_refused() {
    smol::block_on(refused_without_harm(quick(), b"caf\xe9\n", ErrorCode::InvalidUtf8));
}

#[test]
fn terminal_escapes_and_other_control_characters_are_refused() {
    smol::block_on(async {
        refused_without_harm(quick(), b"\x1b[2J\x1b[31mgotcha\n", ErrorCode::ControlChar).await;
        refused_without_harm(quick(), "c1 \u{9b}31m\n".as_bytes(), ErrorCode::ControlChar).await;
        refused_without_harm(quick(), b"bell\x07\n", ErrorCode::ControlChar).await;
    });
}

#[test]
fn empty_lines_are_ignored() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        alice.sender.send_bytes(b"\n\r\n   \nreal\n").await.expect("send");
        assert_eq!(next(&mut alice).await, lobby_message("alice", "real"));
        server.stop().await;
    });
}

#[test]
fn a_line_delivered_one_byte_at_a_time_arrives_whole() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let bob = within("connect", Client::connect(server.addr)).await.expect("connect");
        for byte in "bob\nhéllo byte by byte\n".bytes() {
            bob.sender.send_bytes(&[byte]).await.expect("send");
        }
        let want = lobby_message("bob", "héllo byte by byte");
        wait_for(&mut alice, "trickled message", |e| *e == want).await;
        server.stop().await;
    });
}

#[test]
fn a_silent_newcomer_is_dropped_after_the_handshake_timeout() {
    smol::block_on(async {
        let config = Config { handshake_timeout: Duration::from_millis(300), ..quick() };
        let server = TestServer::start(config).await;
        let mut mute = within("connect", Client::connect(server.addr)).await.expect("connect");
        let (seen, end) = drain(&mut mute).await;
        assert!(
            seen.iter().any(|e| matches!(e, Line::Error { code: ErrorCode::HandshakeTimeout, .. })),
            "{seen:?}"
        );
        assert!(matches!(end, ClientError::Closed), "{end:?}");
        let _alice = server.join("alice").await;
        server.stop().await;
    });
}

#[test]
fn at_the_client_cap_a_newcomer_gets_an_error_and_others_carry_on() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_clients: 2, ..quick() }).await;
        let mut alice = server.join("alice").await;
        let _bob = server.join("bob").await;
        match within("refusal", Client::connect(server.addr)).await {
            Err(ClientError::Refused { code: ErrorCode::ServerFull, .. }) => {}
            other => panic!("expected server-full, got {other:?}"),
        }
        alice.say("unaffected").await.expect("say");
        wait_message(&mut alice, "alice", "unaffected").await;
        server.stop().await;
    });
}
