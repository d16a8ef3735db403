//! Abuse and faults: floods, too many sockets, stalled lines, dead peers, abrupt endings.
//! Each test checks what happened to the bad client and that the healthy ones lost nothing.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::{Command, ErrorCode, Line};
use smolchat::server::Config;
use socket2::{Domain, Socket, Type};

/// Waits until the room hears `nick` quit, and returns the reason.
async fn leave_reason(client: &mut Client, nick: &str) -> String {
    match wait_for(client, "QUIT", |e| matches!(e, Line::Quit { nick: n, .. } if n == nick)).await {
        Line::Quit { reason, .. } => reason,
        _ => unreachable!("wait_for returned a non-matching event"),
    }
}

/// The codes of every ERROR in `events`.
fn error_codes(events: &[Line]) -> Vec<ErrorCode> {
    events
        .iter()
        .filter_map(|e| match e {
            Line::Error { code, .. } => Some(code.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_flooder_is_warned_then_disconnected_and_others_see_only_what_was_accepted() {
    smol::block_on(async {
        let config = Config { flood_rate: 1, flood_burst: 4, ..quick() };
        let server = TestServer::start(config).await;
        let mut alice = server.join("alice").await;
        let mut flooder = server.join("flooder").await;
        // Private messages and commands count too.
        flooder.say("m0").await.expect("say");
        flooder.say("m1").await.expect("say");
        flooder.send(&Command::Msg { to: "alice".into(), text: "p2".into() }).await.expect("msg");
        flooder.send(&Command::Names(None)).await.expect("names");
        for n in 4..20 {
            if flooder.say(&format!("m{n}")).await.is_err() {
                break;
            }
        }
        let (seen, end) = drain(&mut flooder).await;
        let codes = error_codes(&seen);
        assert_eq!(codes, [ErrorCode::RateLimited, ErrorCode::Flood], "{seen:?}");
        assert!(matches!(end, ClientError::Closed), "{end:?}");
        assert_eq!(leave_reason(&mut alice, "flooder").await, "flooding");
        alice.say("after").await.expect("say");
        wait_message(&mut alice, "alice", "after").await;
        server.stop().await;
    });
}

#[test]
fn the_flooders_accepted_lines_reach_the_room_in_order() {
    smol::block_on(async {
        let server = TestServer::start(Config { flood_rate: 1, flood_burst: 3, ..quick() }).await;
        let mut alice = server.join("alice").await;
        let flooder = server.join("flooder").await;
        assert_eq!(next(&mut alice).await, lobby_join("flooder"));
        for n in 0..10 {
            let _ = flooder.say(&format!("m{n}")).await;
        }
        let mut messages = Vec::new();
        loop {
            match next(&mut alice).await {
                Line::Message { text, .. } => messages.push(text),
                Line::Quit { reason, .. } => {
                    assert_eq!(reason, "flooding");
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // The nickname line took the first of the three tokens.
        assert_eq!(messages, ["m0", "m1"]);
        server.stop().await;
    });
}

#[test]
fn the_per_address_cap_refuses_the_next_connection_only() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_per_ip: 2, ..quick() }).await;
        let mut alice = server.join("alice").await;
        let bob = server.join("bob").await;
        match within("refusal", Client::connect(server.addr)).await {
            Err(ClientError::Refused { code: ErrorCode::TooManyConnections, .. }) => {}
            other => panic!("expected too-many-connections, got {other:?}"),
        }
        bob.sender.quit(None).await.expect("quit");
        assert_eq!(leave_reason(&mut alice, "bob").await, "quit");
        // Bob's slot is free again once his connection has fully closed.
        let carol = within("carol", async {
            loop {
                match Client::join(server.addr, "carol").await {
                    Ok((client, _)) => break client,
                    Err(ClientError::Refused { code: ErrorCode::TooManyConnections, .. }) => {
                        smol::Timer::after(Duration::from_millis(20)).await;
                    }
                    Err(error) => panic!("{error}"),
                }
            }
        })
        .await;
        carol.say("in").await.expect("say");
        wait_message(&mut alice, "carol", "in").await;
        server.stop().await;
    });
}

#[test]
fn a_stalled_partial_line_is_closed_after_the_line_timeout() {
    smol::block_on(async {
        let server =
            TestServer::start(Config { line_timeout: Duration::from_millis(300), ..quick() }).await;
        let mut alice = server.join("alice").await;
        let mut sloth = server.join("sloth").await;
        sloth.sender.send_bytes(b"I am typing very slo").await.expect("send");
        let (seen, _) = drain(&mut sloth).await;
        assert_eq!(error_codes(&seen), [ErrorCode::LineTimeout], "{seen:?}");
        assert_eq!(leave_reason(&mut alice, "sloth").await, "line timeout");
        alice.say("still fine").await.expect("say");
        wait_message(&mut alice, "alice", "still fine").await;
        server.stop().await;
    });
}

/// A client that talks moves its deadlines later without resetting the timer for every
/// line (the timer fires early and is set again); a line it then leaves unfinished must
/// still time out.
#[test]
fn a_line_stalled_after_talking_past_every_deadline_is_still_closed_after_the_line_timeout() {
    smol::block_on(async {
        let config = Config {
            line_timeout: Duration::from_millis(200),
            ping_interval: Duration::from_millis(300),
            ..quick()
        };
        let server = TestServer::start(config).await;
        let mut alice = server.join("alice").await;
        let mut chatty = server.join("chatty").await;
        // Lines 50 ms apart for 600 ms: past the line timeout and the ping interval both.
        for n in 0..12 {
            chatty.say(&n.to_string()).await.expect("say");
            wait_message(&mut alice, "chatty", &n.to_string()).await;
            smol::Timer::after(Duration::from_millis(50)).await;
        }
        chatty.sender.send_bytes(b"and then I stopped typing").await.expect("send");
        let (seen, _) = drain(&mut chatty).await;
        assert_eq!(error_codes(&seen), [ErrorCode::LineTimeout], "{seen:?}");
        assert_eq!(leave_reason(&mut alice, "chatty").await, "line timeout");
        server.stop().await;
    });
}

/// Reads lines until one starts with `prefix`; returns every line read, that one last.
/// The end of the stream before it fails the test.
async fn lines_until(reader: &mut BufReader<async_net::TcpStream>, prefix: &str) -> Vec<String> {
    within(prefix, async {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).await.expect("read");
            assert!(n > 0, "the connection ended before {prefix:?}: {seen:?}");
            let done = line.starts_with(prefix);
            seen.push(line);
            if done {
                return seen;
            }
        }
    })
    .await
}

/// An over-long line is skipped to its end once reported; its end stops the line timer,
/// so a client that then goes quiet is not closed for a line it finished.
#[test]
fn an_over_long_line_that_ends_leaves_no_line_timer_running() {
    smol::block_on(async {
        let config = Config {
            max_line: 64,
            line_timeout: Duration::from_millis(100),
            ping_interval: Duration::from_millis(500),
            ..quick()
        };
        let server = TestServer::start(config).await;
        let mut bob = raw_join(server.addr, "bob").await;
        let mut reader = BufReader::new(bob.clone());
        lines_until(&mut reader, "ROOM ").await;
        bob.write_all(&[b'x'; 200]).await.expect("send");
        // Refused before its end arrives: the rest is skipped as it comes.
        lines_until(&mut reader, "ERROR line-too-long ").await;
        bob.write_all(b"xx\n").await.expect("send");
        // The keep-alive comes several line timeouts later, and bob is still there.
        let seen = lines_until(&mut reader, "PING ").await;
        assert!(!seen.iter().any(|l| l.starts_with("ERROR")), "{seen:?}");
        bob.write_all(b"still here\n").await.expect("send");
        lines_until(&mut reader, "MSG #lobby bob still here").await;
        server.stop().await;
    });
}

/// Registers over a raw socket and returns it with what it has read so far.
async fn raw_join(addr: SocketAddr, nick: &str) -> async_net::TcpStream {
    let mut stream = within("connect", async_net::TcpStream::connect(addr)).await.expect("connect");
    stream.write_all(format!("{nick}\n").as_bytes()).await.expect("nick");
    stream
}

/// Reads a raw socket to its end.
async fn read_to_end(stream: &mut async_net::TcpStream) -> String {
    let mut all = Vec::new();
    within("end of stream", stream.read_to_end(&mut all)).await.expect("read");
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn a_peer_that_never_answers_ping_is_closed_and_one_that_does_stays() {
    smol::block_on(async {
        let config = Config {
            ping_interval: Duration::from_millis(150),
            ping_timeout: Duration::from_millis(150),
            ..quick()
        };
        let server = TestServer::start(config).await;
        let mut alice = server.join("alice").await; // the client answers PING by itself
        let mut dead = raw_join(server.addr, "dead").await;
        assert_eq!(leave_reason(&mut alice, "dead").await, "ping timeout");
        let transcript = read_to_end(&mut dead).await;
        assert!(transcript.contains("\nPING "), "{transcript}");
        assert!(transcript.contains("\nERROR ping-timeout "), "{transcript}");
        // Alice has been idle across several ping intervals and is still in the room.
        alice.say("alive").await.expect("say");
        wait_message(&mut alice, "alice", "alive").await;
        server.stop().await;
    });
}

#[test]
fn a_connection_reset_in_the_middle_of_writes_is_cleaned_up_and_announced() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let victim = raw_join(server.addr, "victim").await;
        wait_for(&mut alice, "victim joins", |e| matches!(e, Line::Join { .. })).await;
        let big = "z".repeat(4000);
        for n in 0..40 {
            alice.say(&format!("{n} {big}")).await.expect("say");
        }
        // SO_LINGER 0 turns the close into a reset while the server is still writing.
        socket2::SockRef::from(&victim).set_linger(Some(Duration::ZERO)).expect("linger");
        drop(victim);
        assert_eq!(leave_reason(&mut alice, "victim").await, "connection closed");
        alice.say("after the reset").await.expect("say");
        wait_message(&mut alice, "alice", "after the reset").await;
        server.stop().await;
    });
}

#[test]
fn a_peer_that_closes_half_way_through_a_line_is_announced_and_the_fragment_dropped() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let bob = server.join("bob").await;
        assert_eq!(next(&mut alice).await, lobby_join("bob"));
        bob.sender.send_bytes(b"half a li").await.expect("send");
        drop(bob);
        assert_eq!(next(&mut alice).await, quit("bob", "connection closed"));
        alice.say("next").await.expect("say");
        assert_eq!(next(&mut alice).await, lobby_message("alice", "next"));
        server.stop().await;
    });
}

#[test]
fn nickname_attempts_count_against_flood_control() {
    smol::block_on(async {
        let server = TestServer::start(Config { flood_rate: 1, flood_burst: 3, ..quick() }).await;
        let mut spinner = within("connect", Client::connect(server.addr)).await.expect("connect");
        for _ in 0..20 {
            if spinner.sender.send_line("not a nick!").await.is_err() {
                break;
            }
        }
        let (seen, end) = drain(&mut spinner).await;
        let codes = error_codes(&seen);
        assert_eq!(codes.last(), Some(&ErrorCode::Flood), "{seen:?}");
        assert!(codes.contains(&ErrorCode::RateLimited), "{seen:?}");
        assert!(matches!(end, ClientError::Closed), "{end:?}");
        server.stop().await;
    });
}

#[test]
fn a_flood_of_nickname_lines_in_one_write_ends_with_error_flood() {
    smol::block_on(async {
        let server = TestServer::start(Config { flood_rate: 1, flood_burst: 3, ..quick() }).await;
        let mut spinner = within("connect", Client::connect(server.addr)).await.expect("connect");
        let burst = "not a nick!\n".repeat(60);
        let _ = spinner.sender.send_bytes(burst.as_bytes()).await;
        let (seen, end) = drain(&mut spinner).await;
        let codes = error_codes(&seen);
        assert_eq!(codes.last(), Some(&ErrorCode::Flood), "{seen:?}");
        assert_eq!(codes.iter().filter(|c| **c == ErrorCode::RateLimited).count(), 1, "{seen:?}");
        assert!(matches!(end, ClientError::Closed), "{end:?}");
        server.stop().await;
    });
}

#[test]
fn empty_lines_do_not_count_against_flood_control() {
    smol::block_on(async {
        let server = TestServer::start(Config { flood_rate: 1, flood_burst: 2, ..quick() }).await;
        let mut alice = server.join("alice").await;
        alice.sender.send_bytes("\n \n\t\n\r\n".repeat(50).as_bytes()).await.expect("send");
        alice.say("after the blanks").await.expect("say");
        let seen = lines_until_all(&mut alice, &[lobby_message("alice", "after the blanks")]).await;
        assert_eq!(error_codes(&seen), [], "{seen:?}");
        server.stop().await;
    });
}

#[test]
fn a_flood_of_refused_lines_ends_with_error_flood_before_and_after_registration() {
    smol::block_on(async {
        let server = TestServer::start(Config { flood_rate: 1, flood_burst: 3, ..quick() }).await;
        let mut alice = server.join("alice").await;
        let burst = b"bad \xff line\n".repeat(60);
        let mut newcomer = within("connect", Client::connect(server.addr)).await.expect("connect");
        let _ = newcomer.sender.send_bytes(&burst).await;
        let (seen, _) = drain(&mut newcomer).await;
        assert_eq!(error_codes(&seen).last(), Some(&ErrorCode::Flood), "{seen:?}");
        let mut member = server.join("member").await;
        let _ = member.sender.send_bytes(&burst).await;
        let (seen, _) = drain(&mut member).await;
        let codes = error_codes(&seen);
        assert_eq!(codes.last(), Some(&ErrorCode::Flood), "{seen:?}");
        assert!(codes.len() <= 4 + 1 + 1, "one refusal per accepted line: {codes:?}");
        assert_eq!(leave_reason(&mut alice, "member").await, "flooding");
        server.stop().await;
    });
}

/// Starts a server with `config` where an owner has made 300 rooms with long topics, then
/// has bob ask for the room list 300 times over and read nothing for `unread`: each list is
/// about 100 kB, so the 300 are more than the sockets' buffers hold, and a server that did
/// not wait for bob would have his queue overflow. Returns the server, the owner's
/// connection (the rooms last while it does) and bob's reader, at his first list.
async fn lists_asked_unread(
    config: Config,
    unread: Duration,
) -> (TestServer, async_net::TcpStream, BufReader<async_net::TcpStream>) {
    let server = TestServer::start(Config { max_rooms_per_client: 400, ..config }).await;
    let mut owner = raw_join(server.addr, "owner").await;
    let topic = "t".repeat(290);
    let rooms: String = (0..300).map(|n| format!("/join #r{n}\n/topic #r{n} {topic}\n")).collect();
    owner.write_all(rooms.as_bytes()).await.expect("send");
    lines_until(&mut BufReader::new(owner.clone()), "TOPIC #r299 ").await;
    let mut bob = raw_join(server.addr, "bob").await;
    let mut reader = BufReader::new(bob.clone());
    lines_until(&mut reader, "ROOM ").await;
    bob.write_all("/list\n".repeat(300).as_bytes()).await.expect("send");
    // Bob reads nothing for a while: the scenario, not a wait for an event.
    smol::Timer::after(unread).await;
    (server, owner, reader)
}

/// A client that asks for the room list again and again and reads none of it is sent the
/// lists as fast as it reads them: it is not cut off as a slow reader, the server does not
/// hold all the lists meanwhile, and when the client reads at last every list is there,
/// whole.
#[test]
fn room_lists_asked_for_faster_than_they_are_read_wait_for_the_reader() {
    smol::block_on(async {
        let unread = Duration::from_millis(500);
        let (server, _owner, mut reader) = lists_asked_unread(quick(), unread).await;
        for n in 0..300 {
            let list = lines_until(&mut reader, "LISTEND ").await;
            assert_eq!(list.len(), 302, "list {n}: {:?}", &list[list.len().saturating_sub(3)..]);
            assert_eq!(list[301], "LISTEND 301\n", "list {n}");
        }
        server.stop().await;
    });
}

/// At the stop, a client still being sent room lists it asked for gets its goodbye after
/// the part queued already, not a cut-off for the rest pushed at once.
#[test]
fn a_stop_during_a_room_list_ends_it_with_the_goodbye() {
    smol::block_on(async {
        let config = Config { shutdown_grace: Duration::from_secs(10), ..quick() };
        let unread = Duration::from_millis(300);
        let (server, _owner, mut reader) = lists_asked_unread(config, unread).await;
        let stopping = smol::spawn(server.stop());
        let mut rest = String::new();
        within("the end", reader.read_to_string(&mut rest)).await.expect("read");
        let last = rest.lines().last().unwrap_or("");
        assert_eq!(last, "BYE server shutting down");
        stopping.await;
    });
}

/// A list given up on, its client having read nothing for a whole ping timeout, still ends
/// with its `LISTEND` (counting the rooms it sent), so the client can tell it from the next.
#[test]
fn a_room_list_given_up_on_still_ends() {
    smol::block_on(async {
        let config = Config { ping_timeout: Duration::from_millis(300), ..quick() };
        let unread = Duration::from_secs(1);
        let (server, _owner, mut reader) = lists_asked_unread(config, unread).await;
        let mut cut_short = 0;
        for n in 0..300 {
            let list = lines_until(&mut reader, "LISTEND ").await;
            let rooms = list.len() - 1;
            assert!(rooms <= 301, "list {n} runs into the next: {rooms} rooms");
            assert_eq!(list[rooms], format!("LISTEND {rooms}\n"), "list {n}");
            cut_short += usize::from(rooms < 301);
        }
        assert!(cut_short > 0, "no list was given up on: the test did not test");
        server.stop().await;
    });
}

/// A client on a narrow link (a small receive buffer) that joins as many rooms as it may
/// in one write, and reads at once, is not cut off as a slow reader: each join's answer
/// waits for room in its queue, as IRC's do.
#[test]
fn joining_every_room_one_may_at_once_over_a_narrow_link_keeps_the_connection() {
    smol::block_on(async {
        let server = TestServer::start(quick()).await;
        // Rooms with a full replay of long lines: each join's answer is some 150 kB.
        let mut owner = raw_join(server.addr, "owner").await;
        let mut owner_reader = BufReader::new(owner.clone());
        let said = "s".repeat(3000);
        for n in 0..19 {
            let room: String = std::iter::once(format!("/join #j{n}\n"))
                .chain((0..50).map(|_| format!("/msg #j{n} {said}\n")))
                .collect();
            owner.write_all(room.as_bytes()).await.expect("send");
        }
        for _ in 0..19 * 50 {
            lines_until(&mut owner_reader, "MSG #j").await;
        }
        for attempt in 0..5 {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            socket.connect(&server.addr.into()).expect("connect");
            let stream = async_net::TcpStream::try_from(std::net::TcpStream::from(socket));
            let mut client = stream.expect("an async socket");
            client.write_all(format!("joiner{attempt}\n").as_bytes()).await.expect("nick");
            let mut reader = BufReader::new(client.clone());
            lines_until(&mut reader, "ROOM ").await;
            let joins: String = (0..19).map(|n| format!("/join #j{n}\n")).collect();
            client.write_all(joins.as_bytes()).await.expect("send");
            lines_until(&mut reader, "ROOM #j18").await;
        }
        server.stop().await;
    });
}
