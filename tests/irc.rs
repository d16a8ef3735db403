//! The IRC listener with raw IRC clients: registration with and without capability
//! negotiation, the welcome burst, the numerics for malformed or early commands, the line
//! limits, and the ways a connection ends before registration (timeout, QUIT).

mod common;

use std::time::Duration;

use common::irc::*;
use common::*;
use smolchat::server::Config;

/// The numerics of the welcome burst, in order, with the default message of the day
/// (`005` twice: a line holds at most 15 parameters).
const BURST: [&str; 17] = [
    "001", "002", "003", "004", "005", "005", "251", "252", "254", "255", "265", "266", "375",
    "372", "372", "372", "376",
];

/// The `005` tokens (without the nick and the trailing text).
fn isupport(msg: &Msg) -> Vec<&str> {
    assert!(msg.is_numeric("005"), "{msg:?}");
    msg.params[1..msg.params.len() - 1].iter().map(String::as_str).collect()
}

#[test]
fn registration_without_cap_gets_the_whole_burst_from_the_server_name() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let _bob = server.join("bob").await; // a chat client, in #lobby
        let (_alice, burst) = Irc::register(server.irc, "alice").await;
        assert_eq!(commands(&burst), BURST, "{burst:#?}");
        for msg in &burst {
            assert_eq!(msg.source.as_deref(), Some(SERVER), "{msg:?}");
            assert_eq!(msg.param(0), "alice", "{msg:?}");
            assert_eq!(msg.tags, None, "no tags without server-time: {msg:?}");
        }
        assert!(burst[0].last().contains(NETWORK), "{:?}", burst[0]);
        assert!(burst[0].last().contains("alice"), "{:?}", burst[0]);
        assert!(burst[1].last().contains(SERVER), "{:?}", burst[1]);
        assert_eq!(burst[3].params[1], SERVER);
        assert_eq!(burst[3].params[3..], ["i", "n"]);
        // The counts include people of every protocol.
        assert_eq!(burst[6].last(), "There are 2 users and 0 invisible on 1 servers");
        assert_eq!(burst[8].params[1..], ["1", "channels formed"]);
        assert!(burst[12].last().contains(SERVER), "MOTD start: {:?}", burst[12]);
        server.stop().await;
    });
}

#[test]
fn isupport_announces_the_configured_limits_and_names() {
    smol::block_on(async {
        let config =
            Config { max_nick: 20, max_topic: 120, max_rooms_per_client: 7, ..irc_config() };
        let server = TestServer::start(config).await;
        let (mut alice, burst) = Irc::register(server.irc, "alice").await;
        let tokens = [isupport(&burst[4]), isupport(&burst[5])].concat();
        assert!(burst[4].params.len() <= 15 && burst[5].params.len() <= 15);
        for want in [
            "CASEMAPPING=ascii",
            "UTF8MAPPING=rfc8265",
            "CHANTYPES=#",
            "NICKLEN=20",
            "CHANNELLEN=51",
            "TOPICLEN=120",
            "NETWORK=TestNet",
            "CHANLIMIT=#:7",
            // As many channels as a line holds, as NAMES takes them (`NAMES #a,#b`).
            "TARGMAX=JOIN:,PART:,PRIVMSG:4,NOTICE:4,NAMES:,WHOIS:1",
        ] {
            assert!(tokens.contains(&want), "{want} missing from {tokens:?}");
        }
        assert_eq!(burst[4].last(), "are supported by this server");
        // VERSION repeats them after 351.
        alice.send("VERSION").await;
        let version = alice.expect_numeric("351").await;
        assert_eq!(version.param(2), SERVER);
        let first = alice.expect_numeric("005").await;
        let second = alice.expect_numeric("005").await;
        assert_eq!([isupport(&first), isupport(&second)].concat(), tokens);
        server.stop().await;
    });
}

#[test]
fn cap_ls_holds_registration_until_cap_end() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        irc.send("CAP LS 302").await;
        let ls = irc.next().await;
        assert_eq!(ls.source.as_deref(), Some(SERVER));
        assert_eq!((ls.command.as_str(), ls.param(0), ls.param(1)), ("CAP", "*", "LS"));
        let offered: Vec<&str> = ls.last().split(' ').collect();
        for cap in ["echo-message", "message-tags", "multi-prefix", "server-time"] {
            assert!(offered.contains(&cap), "{cap} not offered: {ls:?}");
        }
        irc.send("NICK alice").await;
        irc.send("USER alice 0 * :Alice").await;
        let held = irc.sync().await;
        assert!(held.is_empty(), "registered before CAP END: {held:#?}");
        irc.send("CAP END").await;
        irc.nick = "alice".into();
        irc.expect_numeric("001").await;
        server.stop().await;
    });
}

#[test]
fn cap_ls_offers_every_capability_the_docs_list_and_each_can_be_had() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        irc.send("CAP LS 302").await;
        let ls = irc.next().await;
        assert_eq!(
            ls.last(),
            "away-notify batch echo-message message-tags multi-prefix server-time"
        );
        for cap in ls.last().split(' ') {
            assert_eq!(irc.cap_req(cap).await.params, ["*", "ACK", cap]);
        }
        server.stop().await;
    });
}

#[test]
fn cap_req_is_granted_whole_or_refused_whole() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        let ack = irc.cap_req("server-time echo-message").await;
        assert_eq!(ack.params, ["*", "ACK", "server-time echo-message"]);
        let nak = irc.cap_req("multi-prefix sasl").await;
        assert_eq!(nak.params, ["*", "NAK", "multi-prefix sasl"]);
        irc.send("CAP LIST").await;
        assert_eq!(irc.next().await.params, ["*", "LIST", "echo-message server-time"]);
        irc.send("CAP BOGUS").await;
        let invalid = irc.next().await;
        assert!(invalid.is_numeric("410"), "{invalid:?}");
        assert_eq!(invalid.params[..2], ["*", "BOGUS"]);
        // CAP REQ alone held registration, as CAP LS does.
        irc.send("NICK alice").await;
        irc.send("USER alice 0 * :Alice").await;
        assert!(irc.sync().await.is_empty());
        irc.send("CAP END").await;
        irc.nick = "alice".into();
        irc.until_motd_end().await;
        // After registration the nick is the first parameter; a capability that changes
        // how lines are encoded is fixed by then, others can still be asked for.
        assert_eq!(irc.cap_req("multi-prefix").await.params, ["alice", "ACK", "multi-prefix"]);
        assert_eq!(irc.cap_req("-server-time").await.params, ["alice", "NAK", "-server-time"]);
        irc.send("CAP LIST").await;
        let list = irc.next().await;
        assert_eq!(list.params, ["alice", "LIST", "echo-message multi-prefix server-time"]);
        server.stop().await;
    });
}

#[test]
fn weechats_order_of_lines_registers_with_the_capabilities_it_asked_for() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut weechat = Irc::connect(server.irc).await;
        // WeeChat writes its first three lines at once, then asks, then ends in one write.
        weechat.send_raw(b"CAP LS 302\r\nNICK wee\r\nUSER wee 0 * :WeeChat\r\n").await;
        weechat.wait_line("CAP LS", |m| m.is("CAP") && m.param(1) == "LS").await;
        weechat.send_raw(b"CAP REQ :message-tags server-time\r\nCAP END\r\n").await;
        weechat.nick = "wee".into();
        let lines = weechat.until_motd_end().await;
        assert_eq!(lines[0].params, ["*", "ACK", "message-tags server-time"]);
        assert_eq!(commands(&lines[1..]), BURST);
        // server-time is on: its own JOIN carries the time.
        let joined = weechat.join("#weechat").await;
        let time = joined[0].tags.as_deref().and_then(|t| t.strip_prefix("time="));
        assert!(time.is_some_and(|t| t.ends_with('Z') && t.len() == 24), "{:?}", joined[0]);
        server.stop().await;
    });
}

#[test]
fn irssis_order_of_lines_registers_without_holding_after_cap_end() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irssi = Irc::connect(server.irc).await;
        // irssi sends CAP LS 302 first, NICK and the old four-word USER after it, and asks
        // for its capabilities once it has the list, ending only after the ACK.
        irssi.send("CAP LS 302").await;
        irssi.send("NICK irssi").await;
        irssi.send("USER irssi irssi 127.0.0.1 :irssi user").await;
        irssi.wait_line("CAP LS", |m| m.is("CAP") && m.param(1) == "LS").await;
        assert_eq!(irssi.cap_req("multi-prefix").await.param(1), "ACK");
        irssi.send("CAP END").await;
        irssi.nick = "irssi".into();
        assert_eq!(commands(&irssi.until_motd_end().await), BURST);
        // No server-time asked for: events carry no tags.
        let joined = irssi.join("#irssi").await;
        assert_eq!(joined[0].tags, None, "{:?}", joined[0]);
        assert_eq!(joined[0].source.as_deref(), Some(source("irssi").as_str()));
        server.stop().await;
    });
}

#[test]
fn cap_ls_after_nick_and_user_comes_too_late_to_hold_registration() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, _) = Irc::register(server.irc, "alice").await;
        alice.send("CAP LS 302").await;
        let ls = alice.next().await;
        assert_eq!(ls.params[..2], ["alice", "LS"]);
        server.stop().await;
    });
}

#[test]
fn before_registration_commands_get_451_and_bad_registration_lines_their_numerics() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        for line in ["JOIN #lobby", "PRIVMSG alice :hi", "WHOIS alice", "MODE *"] {
            irc.send(line).await;
            let refused = irc.expect_numeric("451").await;
            assert_eq!(refused.params, ["*", "You have not registered"], "{line}");
        }
        for short in ["USER alice 0 *", "USER alice 0 * :"] {
            irc.send(short).await;
            assert_eq!(irc.expect_numeric("461").await.param(1), "USER", "{short}");
        }
        irc.send("NICK").await;
        irc.expect_numeric("431").await;
        irc.send("NICK bad!nick").await;
        assert_eq!(irc.expect_numeric("432").await.param(1), "bad!nick");
        irc.send(&format!("NICK {}", "n".repeat(33))).await;
        irc.expect_numeric("432").await;
        irc.send("PING before").await;
        let pong = irc.next().await;
        assert_eq!(pong.source.as_deref(), Some(SERVER));
        assert_eq!(pong.command, "PONG");
        assert_eq!(pong.params, [SERVER, "before"]);
        // None of it spoiled registration.
        irc.register_as("alice").await;
        server.stop().await;
    });
}

#[test]
fn a_taken_nick_is_433_during_registration_and_another_can_be_tried() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let _alice = Irc::online(server.irc, "alice").await;
        let mut other = Irc::connect(server.irc).await;
        other.send("NICK alice").await;
        other.send("USER x 0 * :X").await;
        let taken = other.expect_numeric("433").await;
        assert_eq!(taken.params[..2], ["*", "alice"]);
        // Case and look-alikes (a Cyrillic 'а') are the same nick.
        for nick in ["ALICE", "\u{430}lice"] {
            other.send(&format!("NICK {nick}")).await;
            assert_eq!(other.expect_numeric("433").await.param(1), nick);
        }
        other.send("NICK alice2").await;
        other.nick = "alice2".into();
        assert_eq!(commands(&other.until_motd_end().await), BURST);
        server.stop().await;
    });
}

#[test]
fn after_registration_462_421_and_461_for_each_command_that_needs_a_parameter() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        for line in ["USER alice 0 * :Alice", "PASS secret"] {
            alice.send(line).await;
            alice.expect_numeric("462").await;
        }
        alice.send("FROBNICATE now").await;
        let unknown = alice.expect_numeric("421").await;
        assert_eq!(unknown.params[..2], ["alice", "FROBNICATE"]);
        for command in ["JOIN", "PART", "TOPIC", "MODE", "WHOIS", "WHOWAS", "ISON", "USERHOST"] {
            alice.send(command).await;
            let short = alice.expect_numeric("461").await;
            assert_eq!(short.params, ["alice", command, "Not enough parameters"]);
        }
        alice.send("PRIVMSG").await;
        alice.expect_numeric("411").await;
        alice.send("PRIVMSG #lobby").await;
        alice.expect_numeric("412").await;
        alice.send("NICK").await;
        alice.expect_numeric("431").await;
        // A notice is never answered with an error.
        for line in ["NOTICE", "NOTICE #nowhere :x", "NOTICE nobody :x", "NOTICE alice"] {
            alice.send(line).await;
        }
        assert!(alice.sync().await.is_empty());
        server.stop().await;
    });
}

#[test]
fn a_message_over_512_bytes_gets_417_but_4096_bytes_of_tags_pass() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        // `PING ` and a token: 510 bytes, 512 with CRLF, is the most there may be.
        let ping = |len: usize| format!("PING {}", "t".repeat(len - 5));
        irc.send(&ping(511)).await;
        let long = irc.next().await;
        assert!(long.is_numeric("417"), "before registration: {long:?}");
        irc.register_as("alice").await;
        irc.send(&ping(511)).await;
        irc.expect_numeric("417").await;
        irc.send(&ping(510)).await;
        // Accepted; its answer, with the server's name around the token, is cut to 512.
        let pong = irc.next().await;
        assert!(pong.is("PONG") && "t".repeat(505).starts_with(pong.last()), "{pong:?}");
        // Tags: `@`, the tags and the space after them, at most 4096 bytes (IRCv3 gives
        // clients 4094 bytes of tag data).
        let tagged = |len: usize| format!("@a={} PING tagged", "v".repeat(len - 4));
        irc.send(&tagged(4096)).await;
        let pong = irc.next().await;
        assert_eq!((pong.command.as_str(), pong.last()), ("PONG", "tagged"));
        irc.send(&tagged(4097)).await;
        irc.expect_numeric("417").await;
        // Still connected and served.
        irc.send("PING after").await;
        assert_eq!(irc.next().await.last(), "after");
        server.stop().await;
    });
}

#[test]
fn registration_timeout_closes_the_link() {
    smol::block_on(async {
        let config = Config { handshake_timeout: Duration::from_millis(200), ..irc_config() };
        let server = TestServer::start(config).await;
        let mut slow = Irc::connect(server.irc).await;
        slow.send("NICK slow").await;
        let lines = slow.until_closed().await;
        let last = lines.last().map(|m| m.raw.as_str());
        assert_eq!(last, Some("ERROR :Closing Link: 127.0.0.1 (Registration timed out)"));
        server.stop().await;
    });
}

#[test]
fn quit_before_registration_closes_the_link() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        irc.send("NICK early").await;
        irc.send("QUIT :changed my mind").await;
        let lines = irc.until_closed().await;
        let raws: Vec<&str> = lines.iter().map(|m| m.raw.as_str()).collect();
        assert_eq!(raws, ["ERROR :Closing Link: 127.0.0.1 (Quit: changed my mind)"]);
        // The nick was never taken.
        Irc::online(server.irc, "early").await;
        server.stop().await;
    });
}

#[test]
fn user_before_nick_and_irc_specials_in_the_nick_register_as_well() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut bot = Irc::connect(server.irc).await;
        bot.send("PASS unused").await;
        bot.send("USER bot 0 * :A bot").await;
        // IRC's specials are nick characters too.
        bot.send("NICK [bot]^|away").await;
        bot.nick = "[bot]^|away".into();
        assert_eq!(commands(&bot.until_motd_end().await), BURST);
        server.stop().await;
    });
}

#[test]
fn lines_that_are_not_utf8_or_hold_nul_are_dropped_with_a_notice() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        for bad in [&b"PRIVMSG #a :caf\xe9\r\n"[..], b"PRIVMSG #a :nul\0here\r\n"] {
            alice.send_raw(bad).await;
            let notice = alice.next().await;
            assert_eq!((notice.command.as_str(), notice.param(0)), ("NOTICE", "alice"));
            assert_eq!(notice.source.as_deref(), Some(SERVER));
            assert!(notice.last().ends_with("the line was dropped"), "{notice:?}");
        }
        alice.send("PRIVMSG #a :caf\u{e9}").await;
        bob.expect_from("alice", "PRIVMSG", &["#a", "caf\u{e9}"]).await;
        server.stop().await;
    });
}
