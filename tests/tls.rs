//! TLS listeners, in process: chats:// and ircs:// into the same rooms as plain chat://,
//! the client's verification (authority, name, dates, pinning) failing in one clear line,
//! and hostile connections (plain text, silence, half a ClientHello) closed without cost.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use async_net::TcpStream;
use common::irc::{irc_config, Irc};
use common::tls::{chats, join_chats, Pki, TlsServer};
use common::*;
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use futures_rustls::rustls::pki_types::ServerName;
use smolchat::client::{connect, Client, Destination, Trust};
use smolchat::server::Config;

/// Why connecting to `destination` failed, as the client says it.
async fn refusal(destination: &Destination) -> String {
    match within("connect", connect(destination)).await {
        Ok(_) => panic!("connecting to {} should fail", destination.server),
        Err(error) => error.to_string(),
    }
}

#[test]
fn chats_and_chat_clients_share_a_room() {
    let pki = Pki::new("share");
    smol::block_on(async {
        let server = TlsServer::start(quick(), pki.localhost()).await;
        let mut alice = join_chats(server.chats, Trust::CaFile(pki.ca_file.clone()), "alice").await;
        let (mut bob, _) = within("join", Client::join(server.chat, "bob")).await.expect("join");
        settle(&mut bob).await;
        alice.say("over TLS").await.expect("say");
        wait_message(&mut bob, "alice", "over TLS").await;
        bob.say("in the clear").await.expect("say");
        wait_message(&mut alice, "bob", "in the clear").await;
        server.stop().await;
    });
}

#[test]
fn ircs_clients_register_and_hear_the_room() {
    let pki = Pki::new("ircs");
    smol::block_on(async {
        let server = TlsServer::start(irc_config(), pki.localhost()).await;
        let connector = Trust::CaFile(pki.ca_file.clone()).connector().expect("connector");
        let tcp = TcpStream::connect(server.ircs).await.expect("connect");
        let name = ServerName::try_from("127.0.0.1").expect("a name");
        let tls = within("handshake", connector.connect(name, tcp)).await.expect("TLS");
        let (reader, writer) = futures_lite::io::split(tls);
        let mut irc = Irc::over_halves(Box::new(reader), Box::new(writer));
        irc.register_as("carol").await;
        irc.join("#lobby").await;
        let alice = join_chats(server.chats, Trust::CaFile(pki.ca_file.clone()), "alice").await;
        alice.say("hello irc").await.expect("say");
        irc.wait_line("alice's line", |m| m.is("PRIVMSG")).await.assert_from(
            "alice",
            "PRIVMSG",
            &["#lobby", "hello irc"],
        );
        server.stop().await;
    });
}

#[test]
fn a_certificate_from_another_authority_is_refused_with_the_reason() {
    let (pki, stranger) = (Pki::new("authority"), Pki::new("stranger"));
    smol::block_on(async {
        let server = TlsServer::start(quick(), pki.localhost()).await;
        let why = refusal(&chats(server.chats, Trust::CaFile(stranger.ca_file.clone()))).await;
        assert!(why.contains("not signed by an authority this client trusts"), "{why}");
        assert!(why.contains("--tls-fingerprint"), "{why}");
        server.stop().await;
    });
}

#[test]
fn a_certificate_for_another_name_is_refused_naming_both() {
    let pki = Pki::new("name");
    smol::block_on(async {
        let files = pki.issue("other", &["chat.example.org"], false);
        let server = TlsServer::start(quick(), files).await;
        let why = refusal(&chats(server.chats, Trust::CaFile(pki.ca_file.clone()))).await;
        assert!(why.contains("is for chat.example.org, not for 127.0.0.1"), "{why}");
        server.stop().await;
    });
}

#[test]
fn an_expired_certificate_is_refused_with_its_date() {
    let pki = Pki::new("expired");
    smol::block_on(async {
        let files = pki.issue("old", &["127.0.0.1"], true);
        let server = TlsServer::start(quick(), files).await;
        let why = refusal(&chats(server.chats, Trust::CaFile(pki.ca_file.clone()))).await;
        assert!(why.contains("expired at 2020-01-01"), "{why}");
        server.stop().await;
    });
}

#[test]
fn a_pinned_fingerprint_is_trusted_alone() {
    let pki = Pki::new("pinned");
    smol::block_on(async {
        // Pinning trusts the certificate itself: its name and issuer do not matter.
        let files = pki.issue("pinned", &["chat.example.org"], false);
        let server = TlsServer::start(quick(), files).await;
        let pinned = Trust::pinned(&server.tls.fingerprint()).expect("a fingerprint");
        join_chats(server.chats, pinned, "alice").await;
        let wrong = Trust::pinned(&"AB".repeat(32)).expect("a fingerprint");
        let why = refusal(&chats(server.chats, wrong)).await;
        let want = format!("fingerprint {}, not the pinned AB:AB:", server.tls.fingerprint());
        assert!(why.contains(&want), "{why}");
        server.stop().await;
    });
}

#[test]
fn a_tls_client_at_a_plain_port_is_told_so() {
    let pki = Pki::new("plainport");
    smol::block_on(async {
        let server = TlsServer::start(quick(), pki.localhost()).await;
        let why = refusal(&chats(server.chat, Trust::CaFile(pki.ca_file.clone()))).await;
        assert!(why.contains("does not speak TLS here"), "{why}");
        server.stop().await;
    });
}

/// Everything the server sends until it closes the connection.
async fn read_to_end(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    within("the server to close", stream.read_to_end(&mut bytes)).await.expect("read");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn plain_text_at_a_tls_port_is_answered_and_closed() {
    let pki = Pki::new("plaintext");
    smol::block_on(async {
        let server = TlsServer::start(quick(), pki.localhost()).await;
        let mut chat = TcpStream::connect(server.chats).await.expect("connect");
        chat.write_all(b"alice\n").await.expect("send");
        let said = read_to_end(&mut chat).await;
        assert_eq!(said, "ERROR tls-required this port speaks TLS: connect with chats://\n");
        let mut irc = TcpStream::connect(server.ircs).await.expect("connect");
        irc.write_all(b"NICK alice\r\n").await.expect("send");
        let said = read_to_end(&mut irc).await;
        assert_eq!(said, "ERROR :Closing Link: 127.0.0.1 (this port speaks TLS)\r\n");
        server.stop().await;
    });
}

/// The first bytes of a TLS 1.2 ClientHello record: a handshake record announcing more
/// bytes than ever come.
const HALF_A_HELLO: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];

#[test]
fn a_plain_chat_client_waiting_for_the_server_at_a_tls_port_is_told_soon() {
    let pki = Pki::new("quiet");
    smol::block_on(async {
        // Told at a tenth of the handshake timeout: long before the timeout itself.
        let config = Config { handshake_timeout: Duration::from_secs(3), ..quick() };
        let server = TlsServer::start(config, pki.localhost()).await;
        let mut chat = TcpStream::connect(server.chats).await.expect("connect");
        let mut said = [0; 64];
        let read = within("the server to speak first", chat.read(&mut said)).await.expect("read");
        let said = String::from_utf8_lossy(&said[..read]);
        assert_eq!(said, "ERROR tls-required this port speaks TLS: connect with chats://\n");
        server.stop().await;
    });
}

#[test]
fn silence_and_half_a_hello_are_closed_at_the_handshake_timeout() {
    let pki = Pki::new("silence");
    smol::block_on(async {
        // Two connections fill the server: only their closing lets anyone else in.
        let config =
            Config { handshake_timeout: Duration::from_millis(300), max_clients: 2, ..quick() };
        let server = TlsServer::start(config, pki.localhost()).await;
        // Both IRC: a chat client's silence is taken for plain text sooner (see above).
        let mut silent = TcpStream::connect(server.ircs).await.expect("connect");
        let mut half = TcpStream::connect(server.ircs).await.expect("connect");
        half.write_all(HALF_A_HELLO).await.expect("send");
        assert_eq!(read_to_end(&mut silent).await, "");
        assert_eq!(read_to_end(&mut half).await, "");
        let trust = Trust::CaFile(pki.ca_file.clone());
        join_chats(server.chats, trust, "alice").await;
        server.stop().await;
    });
}

/// A full server's refusals wait for the TLS handshake, so that the refusal can be read;
/// only so many wait at once (64), and past them a connection is closed at once.
#[test]
fn refusals_waiting_for_a_handshake_are_bounded() {
    let pki = Pki::new("refusals");
    smol::block_on(async {
        let server = TlsServer::start(Config { max_clients: 0, ..quick() }, pki.localhost()).await;
        let mut waiting = Vec::new();
        for _ in 0..64 {
            waiting
                .push(within("connect", TcpStream::connect(server.chats)).await.expect("connect"));
        }
        let mut over = within("connect", TcpStream::connect(server.chats)).await.expect("connect");
        assert_eq!(read_to_end(&mut over).await, "");
        let mut byte = [0; 1];
        let first = future::poll_once(waiting[0].read(&mut byte)).await;
        assert!(first.is_none(), "the first refusal still waits for its handshake: {first:?}");
        server.stop().await;
    });
}

#[test]
fn a_full_server_refuses_over_tls_with_its_reason() {
    let pki = Pki::new("full");
    smol::block_on(async {
        let config = Config { max_clients: 1, ..quick() };
        let server = TlsServer::start(config, pki.localhost()).await;
        let trust = Trust::CaFile(pki.ca_file.clone());
        let _alice = join_chats(server.chats, trust.clone(), "alice").await;
        let why = refusal(&chats(server.chats, trust)).await;
        assert!(why.contains("server is full (1 clients)"), "{why}");
        server.stop().await;
    });
}

/// Connects to `addr`, waits `delay` before the TLS handshake, then sends nothing: returns
/// what the server said until it closed, and how long after connecting it closed.
async fn late_and_silent(addr: SocketAddr, ca_file: &Path, delay: Duration) -> (String, Duration) {
    let connector = Trust::CaFile(ca_file.to_path_buf()).connector().expect("connector");
    let started = Instant::now();
    let tcp = within("connect", TcpStream::connect(addr)).await.expect("connect");
    // Late on purpose: the point is a client that spends most of its time on the handshake.
    smol::Timer::after(delay).await;
    let name = ServerName::try_from("127.0.0.1").expect("a name");
    let mut tls = within("handshake", connector.connect(name, tcp)).await.expect("TLS");
    let mut said = Vec::new();
    // A close without close_notify is an error to rustls, and an end all the same here.
    let _ = within("the server to close", tls.read_to_end(&mut said)).await;
    (String::from_utf8_lossy(&said).into_owned(), started.elapsed())
}

/// The handshake timeout is one budget from the accept: a client that finishes its TLS
/// handshake late has only what is left of it to register, not a fresh timeout. (An IRC
/// client: a chat client that starts its handshake as late is taken for a plain one, see
/// above.)
#[test]
fn a_late_tls_handshake_leaves_only_the_rest_of_the_registration_time() {
    let pki = Pki::new("late");
    smol::block_on(async {
        let timeout = Duration::from_secs(1);
        let config = Config { handshake_timeout: timeout, ..irc_config() };
        let server = TlsServer::start(config, pki.localhost()).await;
        let delay = timeout.mul_f32(0.8);
        let (said, took) = late_and_silent(server.ircs, &pki.ca_file, delay).await;
        assert!(said.contains("(Registration timed out)"), "{said}");
        // Two timeouts would be 1.8; one, with room for a slow machine, is under 1.6.
        assert!(took < timeout.mul_f32(1.6), "closed {took:?} after connecting");
        server.stop().await;
    });
}

/// Completes a TLS handshake with the listener at `addr`, then hangs up.
async fn handshake(addr: SocketAddr, ca_file: &Path) {
    let connector = Trust::CaFile(ca_file.to_path_buf()).connector().expect("connector");
    let tcp = within("connect", TcpStream::connect(addr)).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("a name");
    within("handshake", connector.connect(name, tcp)).await.expect("TLS");
}

/// The server's stop reaches connections that have no session yet, one in its TLS
/// handshake and one still sending its request head: neither holds it for the grace.
#[test]
fn a_stop_does_not_wait_for_handshakes_or_request_heads() {
    let pki = Pki::new("stop");
    smol::block_on(async {
        let config = Config { shutdown_grace: Duration::from_secs(10), ..quick() };
        let server = TlsServer::start(config, pki.localhost()).await;
        let _silent = within("connect", TcpStream::connect(server.chats)).await.expect("connect");
        let mut half = within("connect", TcpStream::connect(server.http)).await.expect("connect");
        within("send", half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")).await.expect("send");
        // A listener accepts in order: once a later connection is served, these are in.
        handshake(server.chats, &pki.ca_file).await;
        let mut health = within("connect", TcpStream::connect(server.http)).await.expect("connect");
        within("send", health.write_all(b"GET /healthz HTTP/1.1\r\n\r\n")).await.expect("send");
        assert!(read_to_end(&mut health).await.starts_with("HTTP/1.1 200"));
        let started = Instant::now();
        server.stop().await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "the stop took {took:?}");
        assert_eq!(read_to_end(&mut half).await, "", "the half-sent request is closed");
    });
}
