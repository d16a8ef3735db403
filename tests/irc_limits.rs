//! The limits of an IRC connection, and the rooms that go on around it: flood control,
//! keep-alive pings, stalled lines, a client that stops reading, and lines that must stay
//! within IRC's 512 bytes whatever the other protocol allowed.

mod common;

use std::time::Duration;

use common::irc::*;
use common::*;
use smol::Task;
use smolchat::proto::chat::Line;
use smolchat::server::Config;
use socket2::{Domain, Socket, Type};

/// Fails the test if `msg`, sent to an IRC client, is longer than 512 bytes without its
/// tags, `\r\n` included.
fn assert_fits(msg: &Msg) {
    let tags = msg.tags.as_ref().map_or(0, |tags| tags.len() + 2);
    let len = msg.raw.len() - tags + 2;
    let start: String = msg.raw.chars().take(60).collect();
    assert!(len <= 512, "a line of {len} bytes: {start:?}...");
}

/// Waits until `client` hears `nick` quit, and returns the reason.
async fn quit_reason(client: &mut smolchat::client::Client, nick: &str) -> String {
    match wait_for(client, "QUIT", |l| matches!(l, Line::Quit { nick: n, .. } if n == nick)).await {
        Line::Quit { reason, .. } => reason,
        _ => unreachable!("wait_for returned another line"),
    }
}

#[test]
fn a_flooder_is_noticed_then_closed_with_excess_flood_and_its_rooms_hear_why() {
    smol::block_on(async {
        let config = Config { flood_rate: 1, flood_burst: 5, ..irc_config() };
        let server = TestServer::start(config).await;
        let mut watcher = Irc::online(server.irc, "watcher").await;
        watcher.join("#flood").await;
        let mut flooder = Irc::online(server.irc, "flooder").await;
        flooder.join("#flood").await;
        let flood = "PRIVMSG #flood :spam\r\n".repeat(30);
        flooder.send_raw(flood.as_bytes()).await;
        let lines = flooder.until_closed().await;
        let slow_down = lines.iter().filter(|m| m.is("NOTICE")).count();
        assert_eq!(slow_down, 1, "one warning per episode: {lines:#?}");
        let last = lines.last().map(|m| m.raw.as_str());
        assert_eq!(last, Some("ERROR :Closing Link: 127.0.0.1 (Excess Flood)"));
        let quit = watcher.wait_line("flooder's QUIT", |m| m.is("QUIT")).await;
        assert_eq!(quit.source.as_deref(), Some(source("flooder").as_str()));
        assert_eq!(quit.params, ["Excess Flood"]);
        server.stop().await;
    });
}

#[test]
fn the_flood_warning_is_addressed_to_the_registered_nick() {
    smol::block_on(async {
        let config = Config { flood_rate: 1, flood_burst: 3, ..irc_config() };
        let server = TestServer::start(config).await;
        let mut flooder = Irc::online(server.irc, "flooder").await;
        flooder.send_raw("PING a\r\n".repeat(4).as_bytes()).await;
        let notice = flooder.wait_line("the warning", |m| m.is("NOTICE")).await;
        assert_eq!(notice.param(0), "flooder", "{notice:?}");
        server.stop().await;
    });
}

#[test]
fn a_silent_client_is_pinged_then_closed_and_one_that_answers_stays() {
    smol::block_on(async {
        let config = Config {
            ping_interval: Duration::from_millis(100),
            ping_timeout: Duration::from_millis(300),
            ..irc_config()
        };
        let server = TestServer::start(config).await;
        let mut bob = server.join("bob").await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join(LOBBY).await;
        wait_for(&mut bob, "alice's JOIN", |l| *l == lobby_join("alice")).await;
        // The chat client answers PINGs as it reads, so it reads all along.
        let heard = smol::spawn(async move {
            let reason = quit_reason(&mut bob, "alice").await;
            (bob, reason)
        });
        let is_ping = |m: &Msg| m.is("PING") && m.source.is_none();
        let ping = alice.wait_line("the server's PING", is_ping).await;
        assert!(ping.raw.starts_with("PING :"), "{ping:?}");
        alice.send(&format!("PONG :{}", ping.last())).await;
        // Answered, she is pinged again after another interval rather than closed.
        alice.wait_line("a second PING", is_ping).await;
        let lines = alice.until_closed().await;
        let last = lines.last().map(|m| m.raw.as_str());
        assert_eq!(last, Some("ERROR :Closing Link: 127.0.0.1 (Ping timeout)"), "{lines:#?}");
        let (mut bob, reason) = heard.await;
        assert_eq!(reason, "ping timeout");
        bob.say("still here").await.expect("say");
        wait_message(&mut bob, "bob", "still here").await;
        server.stop().await;
    });
}

#[test]
fn a_line_left_unfinished_closes_the_link_with_line_timeout() {
    smol::block_on(async {
        let config = Config { line_timeout: Duration::from_millis(200), ..irc_config() };
        let server = TestServer::start(config).await;
        let mut bob = server.join("bob").await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join(LOBBY).await;
        alice.send_raw(b"PRIVMSG #lobby :I am typing very slo").await;
        let last = alice.until_closed().await.pop().map(|m| m.raw);
        assert_eq!(last.as_deref(), Some("ERROR :Closing Link: 127.0.0.1 (Line timeout)"));
        assert_eq!(quit_reason(&mut bob, "alice").await, "line timeout");
        server.stop().await;
    });
}

/// Connects with a small receive buffer, so that a client that stops reading fills the
/// server's side after a few kilobytes rather than megabytes.
fn connect_small(addr: std::net::SocketAddr) -> Irc {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream = async_net::TcpStream::try_from(std::net::TcpStream::from(socket));
    Irc::over(stream.expect("an async socket"))
}

#[test]
fn a_slow_irc_reader_is_dropped_with_sendq_exceeded_and_nobody_waits_for_it() {
    smol::block_on(async {
        let config = Config { queue_len: 4, queue_bytes: 16 * 1024, ..irc_config() };
        let server = TestServer::start(config).await;
        let mut alice = server.join("alice").await;
        let mut watcher = Irc::online(server.irc, "watcher").await;
        watcher.join(LOBBY).await;
        let mut sloth = connect_small(server.irc);
        sloth.register_as("sloth").await;
        sloth.join(LOBBY).await;
        // From here on the sloth reads nothing.
        wait_for(&mut alice, "sloth's JOIN", |l| *l == lobby_join("sloth")).await;
        watcher.wait_line("sloth's JOIN", |m| m.is("JOIN") && m.nick() == "sloth").await;
        let big = "x".repeat(4000);
        let (mut chat_heard, mut irc_heard) = (None, None);
        for round in 0.. {
            assert!(round < 500, "the sloth was never dropped");
            for n in 0..8 {
                alice.say(&format!("{round}.{n} {big}")).await.expect("say");
            }
            let end = format!("end of round {round}");
            alice.say(&end).await.expect("say");
            // Both readers keep up, round after round, whatever the sloth does.
            let mine = lobby_message("alice", &end);
            for line in lines_until_all(&mut alice, std::slice::from_ref(&mine)).await {
                if let Line::Quit { nick, reason } = line {
                    assert_eq!(nick, "sloth");
                    chat_heard = Some(reason);
                }
            }
            let seen = watcher.lines_until(&end, |m| m.is("PRIVMSG") && m.last() == end).await;
            if let Some(quit) = seen.iter().find(|m| m.is("QUIT")) {
                quit.assert_from("sloth", "QUIT", &["SendQ exceeded"]);
                irc_heard = Some(quit.clone());
            }
            if chat_heard.is_some() && irc_heard.is_some() {
                break;
            }
        }
        assert_eq!(chat_heard.as_deref(), Some("send queue full"));
        alice.say("after").await.expect("say");
        watcher.expect_from("alice", "PRIVMSG", &["#lobby", "after"]).await;
        // Reading again, the sloth finds the rest of its line, then the farewell, last.
        let last = sloth.until_closed().await.pop().expect("some lines");
        assert_eq!(last.raw, "ERROR :Closing Link: (SendQ exceeded)");
        server.stop().await;
    });
}

#[test]
fn a_long_irc_message_is_relayed_to_irc_within_512_bytes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        // The longest line alice may send; her source makes it longer for bob.
        let text = "é".repeat(245);
        alice.send(&format!("PRIVMSG #a :{text}")).await;
        let mut heard = String::new();
        while heard.len() < text.len() {
            let piece = bob.next().await;
            assert_fits(&piece);
            piece.assert_from("alice", "PRIVMSG", &["#a", piece.last()]);
            heard.push_str(piece.last());
        }
        assert_eq!(heard, text);
        drop(alice);
        server.stop().await;
    });
}

#[test]
fn a_long_chat_quit_reason_reaches_irc_within_512_bytes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let bob = server.join("bob").await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join(LOBBY).await;
        bob.sender.quit(Some(&"y".repeat(600))).await.expect("quit");
        let quit = alice.wait_line("bob's QUIT", |m| m.is("QUIT")).await;
        assert_fits(&quit);
        server.stop().await;
    });
}

#[test]
fn a_long_chat_part_reason_reaches_irc_within_512_bytes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let bob = server.join("bob").await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join(LOBBY).await;
        let words = "y".repeat(600);
        bob.sender.send_line(&format!("/part #lobby {words}")).await.expect("part");
        let part = alice.wait_line("bob's PART", |m| m.is("PART")).await;
        assert_fits(&part);
        server.stop().await;
    });
}

#[test]
fn a_topic_of_many_bytes_reaches_irc_within_512_bytes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut bob = server.join("bob").await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join(LOBBY).await;
        let topic = "ü".repeat(300);
        bob.sender.send_line(&format!("/topic #lobby {topic}")).await.expect("topic");
        let set = Line::Topic { room: s(LOBBY), by: s("bob"), text: topic };
        wait_for(&mut bob, "the topic", |l| *l == set).await;
        let mut lines = vec![alice.wait_line("TOPIC", |m| m.is("TOPIC")).await];
        alice.send("TOPIC #lobby").await;
        lines.push(alice.expect_numeric("332").await);
        alice.send("LIST #lobby").await;
        lines.extend(alice.lines_until("323", |m| m.is_numeric("323")).await);
        for line in &lines {
            assert_fits(line);
        }
        server.stop().await;
    });
}

#[test]
fn whois_of_someone_in_many_channels_stays_within_512_bytes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        let names: Vec<String> = (0..12).map(|n| format!("#{n:02}{}", "c".repeat(48))).collect();
        for half in names.chunks(6) {
            alice.send(&format!("JOIN {}", half.join(","))).await;
        }
        let last = names.last().expect("twelve names").clone();
        alice.lines_until("the last 366", |m| m.is_numeric("366") && m.param(1) == last).await;
        let mut bob = Irc::online(server.irc, "bob").await;
        bob.send("WHOIS alice").await;
        let whois = bob.lines_until("318", |m| m.is_numeric("318")).await;
        let channels: Vec<&str> =
            whois.iter().filter(|m| m.is("319")).flat_map(|m| m.last().split(' ')).collect();
        assert_eq!(channels.len(), 12, "{whois:#?}");
        for line in &whois {
            assert_fits(line);
        }
        server.stop().await;
    });
}

#[test]
fn at_shutdown_irc_clients_are_told_why_after_what_was_queued() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, bob) = pair(&server, "#a").await;
        drop(bob);
        alice.wait_line("bob's QUIT", |m| m.is("QUIT")).await;
        let stopping = smol::spawn(server.stop());
        let last = alice.until_closed().await.pop().map(|m| m.raw);
        assert_eq!(last.as_deref(), Some("ERROR :Closing Link: 127.0.0.1 (Server shutting down)"));
        stopping.await;
    });
}

#[test]
fn a_connection_over_the_per_address_cap_is_refused_with_error() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_per_ip: 1, ..irc_config() }).await;
        let _alice = Irc::online(server.irc, "alice").await;
        let mut refused = Irc::connect(server.irc).await;
        let lines = refused.until_closed().await;
        let raws: Vec<&str> = lines.iter().map(|m| m.raw.as_str()).collect();
        let why = "ERROR :Closing Link: 127.0.0.1 (Too many connections from your address)";
        assert_eq!(raws, [why]);
        server.stop().await;
    });
}

#[test]
fn an_away_message_is_told_within_512_bytes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online_with(server.irc, "alice", "away-notify").await;
        alice.join("#a").await;
        let mut bob = Irc::online(server.irc, "bob").await;
        bob.join("#a").await;
        alice.expect_from("bob", "JOIN", &["#a"]).await;
        bob.send(&format!("AWAY :{}", "z".repeat(500))).await;
        bob.expect_numeric("306").await;
        let mut lines = vec![alice.wait_line("AWAY", |m| m.is("AWAY")).await];
        alice.send("PRIVMSG bob :there?").await;
        lines.push(alice.expect_numeric("301").await);
        for line in &lines {
            assert_fits(line);
        }
        server.stop().await;
    });
}

#[test]
fn a_join_storm_of_irc_clients_drops_nobody_with_the_default_queue() {
    smol::block_on(async {
        let config = Config { max_per_ip: 10_000, ..irc_config() };
        let server = TestServer::start(config).await;
        let mut watcher = server.join("watcher").await;
        // Registered a hundred at a time (the test listener's backlog is 128), then all
        // joining at once: each JOIN answered with the room's names must not cost every
        // member a queue entry, or the first members' queues (16 entries) overflow.
        let mut clients = Vec::new();
        for wave in 0..3 {
            let addr = server.irc;
            let registering: Vec<Task<Irc>> = (0..100)
                .map(|i| {
                    let nick = format!("storm{}", wave * 100 + i);
                    smol::spawn(async move { Irc::online(addr, &nick).await })
                })
                .collect();
            for client in registering {
                clients.push(within("registration", client).await);
            }
        }
        for client in &mut clients {
            client.send("JOIN #lobby").await;
        }
        for client in &mut clients {
            client.wait_line("366", |m| m.is_numeric("366")).await;
        }
        // Everyone is still there: the last one's message reaches the watcher after every
        // join, and nobody's quit came before it.
        let last = clients.last_mut().expect("300 clients");
        last.send("PRIVMSG #lobby :all in").await;
        let seen = lines_until_all(&mut watcher, &[lobby_message("storm299", "all in")]).await;
        let quits: Vec<&Line> = seen.iter().filter(|l| matches!(l, Line::Quit { .. })).collect();
        assert!(quits.is_empty(), "{} dropped, first {:?}", quits.len(), quits.first());
        server.stop().await;
    });
}

#[test]
fn a_service_notice_and_the_closing_error_that_repeat_the_client_stay_within_512_bytes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        // The longest service command a client may send, which the service repeats.
        alice.send(&format!("NS {}", "Z".repeat(480))).await;
        let said = alice.sync().await;
        assert!(said.iter().any(|m| m.is("NOTICE") && m.nick() == "NickServ"), "{said:#?}");
        said.iter().for_each(assert_fits);
        // Quit words as long as a line allows, repeated in the last line.
        let words = "é".repeat(250);
        alice.send(&format!("QUIT :{words}")).await;
        let last = alice.until_closed().await.pop().expect("the closing ERROR");
        assert!(last.is("ERROR"), "{last:?}");
        assert!(last.last().starts_with("Closing Link: 127.0.0.1 (Quit: éé"), "{last:?}");
        assert_fits(&last);
        server.stop().await;
    });
}

/// A client that asks for the channel list again and again and reads none of it is sent
/// the lists as fast as it reads them, as over the chat protocol: it is not cut off, and
/// when it reads at last every list is there, whole.
#[test]
fn channel_lists_asked_for_faster_than_they_are_read_wait_for_the_reader() {
    smol::block_on(async {
        let config = Config { max_rooms_per_client: 400, ..irc_config() };
        let server = TestServer::start(config).await;
        let mut owner = Irc::online(server.irc, "owner").await;
        let topic = "t".repeat(290);
        let rooms: String =
            (0..300).map(|n| format!("JOIN #r{n}\r\nTOPIC #r{n} :{topic}\r\n")).collect();
        owner.send_raw(rooms.as_bytes()).await;
        owner.wait_line("the last topic", |m| m.is("TOPIC") && m.param(0) == "#r299").await;
        let mut bob = Irc::online(server.irc, "bob").await;
        // Each list is about 100 kB: 300 of them are more than the sockets' buffers hold.
        bob.send_raw("LIST\r\n".repeat(300).as_bytes()).await;
        // Bob reads nothing for a while: the scenario, not a wait for an event.
        smol::Timer::after(Duration::from_millis(500)).await;
        for n in 0..300 {
            let list = bob.lines_until("the list's end", |m| m.is_numeric("323")).await;
            let rooms = list.iter().filter(|m| m.is_numeric("322")).count();
            assert_eq!(rooms, 300, "list {n}");
        }
        server.stop().await;
    });
}
