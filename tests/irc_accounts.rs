//! IRC and what survives people: history replayed on `JOIN` and asked for with `HISTORY`,
//! registered nicknames through `NickServ` and SASL `PLAIN` (over TLS only), the grace
//! period of a registered nickname taken without identifying, password guessing locked
//! out, and a registered room's owner alone setting its topic and kicking.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::irc::*;
use common::tls::{Pki, TlsServer};
use common::*;
use smolchat::server::Config;

/// A password good enough for an account.
const PASSWORD: &str = "correct-horse";

/// Whether `msg` is a notice from `NickServ` (or `ChanServ`).
fn from_service(msg: &Msg, service: &str) -> bool {
    msg.is("NOTICE") && msg.source.as_deref() == Some(&format!("{service}!{service}@services"))
}

/// Sends `text` to NickServ and returns its answer.
async fn nickserv(irc: &mut Irc, text: &str) -> Msg {
    irc.send(&format!("PRIVMSG NickServ :{text}")).await;
    irc.wait_line("NickServ's answer", |m| from_service(m, "NickServ")).await
}

/// `nick` online with its nickname registered to `PASSWORD`.
async fn registered(addr: std::net::SocketAddr, nick: &str) -> Irc {
    let mut irc = Irc::online(addr, nick).await;
    let answer = nickserv(&mut irc, &format!("REGISTER {PASSWORD}")).await;
    assert!(answer.last().contains("now registered to you"), "{answer:?}");
    irc
}

/// `nick` online from the local address `from` (another host).
async fn online_from(from: [u8; 4], addr: std::net::SocketAddr, nick: &str) -> Irc {
    let mut irc = Irc::over(connect_from(from.into(), addr));
    irc.register_as(nick).await;
    irc
}

/// Says goodbye and waits until the server has let `irc` go.
async fn leave(mut irc: Irc) {
    irc.send("QUIT").await;
    irc.until_closed().await;
}

/// Whether `text` begins with the time of a replayed line, `[hh:mm] `.
fn has_time_prefix(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() > 8 && bytes[0] == b'[' && bytes[3] == b':' && &bytes[6..8] == b"] "
}

/// `text` without the time prefix of a replayed line.
fn without_time(text: &str) -> &str {
    assert!(has_time_prefix(text), "no time prefix in {text:?}");
    &text[8..]
}

/// The base64 of a SASL `PLAIN` response for `nick` and `password`.
fn plain(nick: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{nick}\0{password}"))
}

#[test]
fn history_is_replayed_after_the_join_and_before_live_lines() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        // A chat client says three things in the lobby before anyone from IRC is there.
        let mut carol = server.join("carol").await;
        for text in ["one", "two", "three"] {
            carol.say(text).await.expect("say");
            wait_message(&mut carol, "carol", text).await;
        }
        let mut bob = Irc::online(server.irc, "bob").await;
        let joined = bob.join(LOBBY).await;
        assert_eq!(commands(&joined), ["JOIN", "353", "366"], "{joined:#?}");
        for text in ["one", "two", "three"] {
            let line = bob.next().await;
            assert!(line.tags.is_none(), "{line:?}");
            assert_eq!(line.source.as_deref(), Some(source("carol").as_str()));
            assert_eq!((line.command.as_str(), line.param(0)), ("PRIVMSG", LOBBY));
            assert_eq!(without_time(line.last()), text);
        }
        carol.say("live").await.expect("say");
        bob.expect_from("carol", "PRIVMSG", &[LOBBY, "live"]).await;
        server.stop().await;
    });
}

#[test]
fn with_server_time_and_batch_history_is_a_batch_of_its_own_times() {
    smol::block_on(async {
        let server = TestServer::start(Config { history_replay: 2, ..irc_config() }).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join("#h").await;
        for text in ["one", "two", "three"] {
            alice.send(&format!("PRIVMSG #h :{text}")).await;
        }
        // Answered after the three lines are in the room.
        alice.sync().await;
        let mut bob = Irc::online_with(server.irc, "bob", "server-time batch").await;
        bob.join("#h").await;
        let start = bob.next().await;
        assert_eq!(
            (start.command.as_str(), start.param(1), start.param(2)),
            ("BATCH", "chathistory", "#h")
        );
        let id = start.param(0).strip_prefix('+').expect("a batch opens with +").to_string();
        let mut times = Vec::new();
        // The last two only: --history-replay 2.
        for text in ["two", "three"] {
            let line = bob.next().await;
            line.assert_from("alice", "PRIVMSG", &["#h", text]);
            assert_eq!(line.tag("batch"), Some(id.as_str()), "{line:?}");
            times.push(line.tag("time").expect("a time tag").to_string());
        }
        assert!(times[0] <= times[1], "{times:?}");
        let end = bob.next().await;
        assert_eq!((end.command.as_str(), end.param(0)), ("BATCH", format!("-{id}").as_str()));
        // With server-time alone: the original times in tags, the texts as they were.
        let mut carol = Irc::online_with(server.irc, "carol", "server-time").await;
        carol.join("#h").await;
        let replayed = carol.next().await;
        replayed.assert_from("alice", "PRIVMSG", &["#h", "two"]);
        assert_eq!(replayed.tag("time"), Some(times[0].as_str()));
        assert_eq!(replayed.tag("batch"), None);
        carol.next().await.assert_from("alice", "PRIVMSG", &["#h", "three"]);
        alice.send("PRIVMSG #h :live").await;
        let live = bob.wait_line("the live line", |m| m.is("PRIVMSG")).await;
        live.assert_from("alice", "PRIVMSG", &["#h", "live"]);
        assert!(live.tag("time").is_some() && live.tag("batch").is_none(), "{live:?}");
        server.stop().await;
    });
}

#[test]
fn history_gives_the_last_messages_of_a_room_on_request() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#h").await;
        for text in ["one", "two", "three"] {
            alice.send(&format!("PRIVMSG #h :{text}")).await;
            bob.wait_line(text, |m| m.is("PRIVMSG") && m.last() == text).await;
        }
        bob.send("HISTORY #h 2").await;
        for text in ["two", "three"] {
            let line = bob.next().await;
            assert_eq!((line.nick(), line.param(0)), ("alice", "#h"));
            assert_eq!(without_time(line.last()), text);
        }
        bob.send("HISTORY #H").await;
        let all = bob.sync().await;
        let texts: Vec<&str> = all.iter().map(|m| without_time(m.last())).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        for (asked, answer) in [
            ("HISTORY #nothing", "No history of #nothing"),
            ("HISTORY #h many", "Usage: HISTORY"),
            ("HISTORY alice", "Private history is kept only between registered nicknames"),
        ] {
            bob.send(asked).await;
            let notice = bob.next().await;
            assert!(
                notice.is("NOTICE") && notice.last().starts_with(answer),
                "{asked}: {notice:?}"
            );
        }
        bob.send("HISTORY").await;
        assert_eq!(bob.expect_numeric("461").await.param(1), "HISTORY");
        server.stop().await;
    });
}

#[test]
fn private_history_is_kept_between_registered_nicknames() {
    smol::block_on(async {
        let dir = TempDir::new("irc-private-history");
        let server = TestServer::start_in(irc_config(), &dir).await;
        let mut alice = registered(server.irc, "alice").await;
        let mut bob = registered(server.irc, "bob").await;
        alice.send("PRIVMSG bob :psst").await;
        bob.expect_from("alice", "PRIVMSG", &["bob", "psst"]).await;
        bob.send("HISTORY alice").await;
        let line = bob.next().await;
        assert_eq!(
            (line.nick(), line.command.as_str(), line.param(0)),
            ("alice", "PRIVMSG", "bob")
        );
        assert_eq!(without_time(line.last()), "psst");
        let mut carol = Irc::online(server.irc, "carol").await;
        carol.send("HISTORY alice").await;
        assert!(carol.next().await.last().contains("/msg NickServ IDENTIFY"));
        server.stop().await;
    });
}

#[test]
fn nickserv_registers_identifies_and_drops() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        let short = nickserv(&mut alice, "REGISTER short").await;
        assert!(short.last().contains("at least 8 characters, at most 256 bytes"), "{short:?}");
        alice.send(&format!("NS REGISTER {PASSWORD}")).await;
        let logged_in = alice.expect_numeric("900").await;
        assert_eq!(logged_in.params[1..3], [source("alice").as_str(), "alice"]);
        let answer = alice.next().await;
        assert!(from_service(&answer, "NickServ") && answer.last().contains("now registered"));
        leave(alice).await;
        // Back, not yet identified: told to; a wrong password is counted, the right one
        // logs in.
        let (mut back, burst) = Irc::register(server.irc, "alice").await;
        assert!(burst.iter().all(|m| !from_service(m, "NickServ")));
        let warned = back.wait_line("NickServ's warning", |m| from_service(m, "NickServ")).await;
        assert!(warned.last().starts_with("This nickname is registered."), "{warned:?}");
        let wrong = nickserv(&mut back, "IDENTIFY wrong-password").await;
        assert!(wrong.last().starts_with("Wrong password for alice"), "{wrong:?}");
        back.send(&format!("PRIVMSG NickServ :IDENTIFY {PASSWORD}")).await;
        assert_eq!(back.expect_numeric("900").await.param(2), "alice");
        assert_eq!(back.next().await.last(), "You are now identified as alice.");
        back.send("NICKSERV DROP").await;
        assert_eq!(back.expect_numeric("901").await.param(1), source("alice"));
        assert!(back.next().await.last().starts_with("alice is no longer registered"));
        let again = nickserv(&mut back, "DROP").await;
        assert!(again.last().starts_with("You are not identified"), "{again:?}");
        let unknown = nickserv(&mut back, "GHOST bob").await;
        assert!(unknown.last().starts_with("Unknown command GHOST"), "{unknown:?}");
        server.stop().await;
    });
}

#[test]
fn identifying_as_another_nickname_takes_it_from_a_guest() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        leave(registered(server.irc, "alice").await).await;
        let mut squatter = Irc::online(server.irc, "alice").await;
        let mut owner = Irc::online(server.irc, "carol").await;
        owner.send(&format!("PRIVMSG NickServ :IDENTIFY Alice {PASSWORD}")).await;
        let renamed = squatter.wait_line("the squatter's rename", |m| m.is("NICK")).await;
        assert_eq!(renamed.nick(), "alice");
        assert!(renamed.param(0).starts_with("Guest"), "{renamed:?}");
        owner.expect_from("carol", "NICK", &["alice"]).await;
        let answer = owner.wait_line("NickServ's answer", |m| from_service(m, "NickServ")).await;
        assert_eq!(answer.last(), "You are now identified as alice.");
        server.stop().await;
    });
}

#[test]
fn nobody_may_be_called_like_a_service() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        irc.send("NICK NickServ").await;
        assert_eq!(irc.next().await.command, "432");
        let mut alice = Irc::online(server.irc, "alice").await;
        for name in ["nickserv", "ChanServ"] {
            alice.send(&format!("NICK {name}")).await;
            let refused = alice.expect_numeric("432").await;
            assert!(refused.last().contains("services"), "{refused:?}");
        }
        // A notice to a service is never answered.
        alice.send("NOTICE NickServ :HELP").await;
        assert!(alice.sync().await.is_empty());
        alice.send("PRIVMSG NickServ :HELP").await;
        let help = alice.sync().await;
        assert!(help.len() > 3 && help.iter().all(|m| from_service(m, "NickServ")), "{help:#?}");
        server.stop().await;
    });
}

#[test]
fn wrong_passwords_are_counted_and_lock_the_account() {
    smol::block_on(async {
        // Flood control on (the budgets are off without it), far above these few lines.
        let config = Config { identify_attempts: 2, flood_rate: 1000, ..irc_config() };
        let server = TestServer::start(config).await;
        leave(registered(server.irc, "alice").await).await;
        let mut guesser = online_from([127, 0, 0, 2], server.irc, "mallory").await;
        let first = nickserv(&mut guesser, "IDENTIFY alice guess-one").await;
        assert_eq!(first.last(), "Wrong password for alice; the attempt was counted.");
        let second = nickserv(&mut guesser, "IDENTIFY alice guess-two").await;
        assert!(second.last().contains("Too many wrong passwords: try again in"), "{second:?}");
        // Locked: even the right password is refused, from any address that has not
        // given it before, for a while.
        let right = nickserv(&mut guesser, &format!("IDENTIFY alice {PASSWORD}")).await;
        assert!(right.last().starts_with("Too many wrong passwords for alice; try again in"));
        let mut stranger = online_from([127, 0, 0, 3], server.irc, "bob").await;
        let refused = nickserv(&mut stranger, &format!("IDENTIFY alice {PASSWORD}")).await;
        assert!(refused.last().starts_with("Too many wrong passwords"), "{refused:?}");
        // The address that registered it is not locked out by the guesser.
        let mut owner = Irc::online(server.irc, "carol").await;
        let answer = nickserv(&mut owner, &format!("IDENTIFY alice {PASSWORD}")).await;
        assert_eq!(answer.last(), "You are now identified as alice.");
        server.stop().await;
    });
}

#[test]
fn a_registered_nickname_taken_without_identifying_is_renamed_after_the_grace() {
    smol::block_on(async {
        let grace = Duration::from_millis(300);
        let server = TestServer::start(Config { identify_grace: grace, ..irc_config() }).await;
        leave(registered(server.irc, "alice").await).await;
        let mut taker = Irc::online(server.irc, "alice").await;
        let warned = taker.wait_line("NickServ's warning", |m| from_service(m, "NickServ")).await;
        assert!(warned.last().contains("IDENTIFY password within 300 ms"), "{warned:?}");
        let renamed = taker.wait_line("the guest rename", |m| m.is("NICK")).await;
        assert_eq!(renamed.nick(), "alice");
        assert!(renamed.param(0).starts_with("Guest"), "{renamed:?}");
        // A rename to it is a claim too.
        let mut other = Irc::online(server.irc, "mal").await;
        other.send("NICK Alice").await;
        other.expect_from("mal", "NICK", &["Alice"]).await;
        assert!(from_service(&other.next().await, "NickServ"));
        let renamed = other.wait_line("the guest rename", |m| m.is("NICK")).await;
        assert!(renamed.nick() == "Alice" && renamed.param(0).starts_with("Guest"), "{renamed:?}");
        server.stop().await;
    });
}

#[test]
fn sasl_plain_over_tls_logs_in_before_registration() {
    let pki = Pki::new("irc-sasl");
    smol::block_on(async {
        let server = TlsServer::start(irc_config(), pki.localhost()).await;
        let mut first = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        first.register_as("alice").await;
        let answer = nickserv(&mut first, &format!("REGISTER {PASSWORD}")).await;
        assert!(answer.last().contains("now registered"), "{answer:?}");
        leave(first).await;
        let mut irc = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        irc.send("CAP LS 302").await;
        let ls = irc.next().await;
        assert!(ls.last().split(' ').any(|cap| cap == "sasl=PLAIN"), "{ls:?}");
        log_in_as_alice(&mut irc).await;
        let logged_in = irc.next().await;
        assert!(logged_in.is_numeric("900"), "{logged_in:?}");
        assert_eq!(
            logged_in.params,
            ["*", &source("alice"), "alice", "You are now logged in as alice"]
        );
        assert!(irc.next().await.is_numeric("903"));
        irc.send("CAP END").await;
        irc.nick = "alice".into();
        irc.until_motd_end().await;
        // Identified from the start: no grace, no warning.
        assert!(irc.sync().await.is_empty());
        irc.send("AUTHENTICATE PLAIN").await;
        irc.expect_numeric("907").await;
        server.stop().await;
    });
}

/// Sends `NICK alice` and `USER`, then logs in as alice with SASL PLAIN, up to the
/// server's answer (after `CAP LS`, which holds registration until `CAP END`).
async fn log_in_as_alice(irc: &mut Irc) {
    irc.send("NICK alice").await;
    irc.send("USER alice 0 * :Alice").await;
    assert_eq!(irc.cap_req("sasl").await.param(1), "ACK");
    irc.send("AUTHENTICATE PLAIN").await;
    assert_eq!(irc.next().await.params, ["+"]);
    irc.send(&format!("AUTHENTICATE {}", plain("alice", PASSWORD))).await;
}

/// A TLS server with `alice` registered (and gone), with a minute's grace.
async fn with_alice_registered(pki: &Pki) -> TlsServer {
    let config = Config { identify_grace: Duration::from_secs(60), ..irc_config() };
    let server = TlsServer::start(config, pki.localhost()).await;
    let mut first = Irc::connect_tls(server.ircs, &pki.ca_file).await;
    first.register_as("alice").await;
    nickserv(&mut first, &format!("REGISTER {PASSWORD}")).await;
    leave(first).await;
    server
}

#[test]
fn a_sasl_login_takes_its_nickname_back_from_whoever_holds_it_unidentified() {
    let pki = Pki::new("irc-sasl-reclaim");
    smol::block_on(async {
        let server = with_alice_registered(&pki).await;
        let mut squatter = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        squatter.register_as("alice").await;

        let mut irc = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        // CAP LS first holds registration until CAP END.
        irc.send("CAP LS 302").await;
        irc.next().await;
        log_in_as_alice(&mut irc).await;
        assert!(irc.next().await.is_numeric("900"));
        assert!(irc.next().await.is_numeric("903"));
        irc.send("CAP END").await;
        irc.nick = "alice".into();
        irc.until_motd_end().await;
        let renamed = squatter.wait_line("the squatter renamed", |m| m.is("NICK")).await;
        assert!(renamed.nick() == "alice" && renamed.param(0).starts_with("Guest"), "{renamed:?}");
        server.stop().await;
    });
}

#[test]
fn a_sasl_login_to_an_account_dropped_before_cap_end_identifies_nobody() {
    let pki = Pki::new("irc-sasl-dropped");
    smol::block_on(async {
        let config = Config { identify_grace: Duration::from_secs(60), ..irc_config() };
        let server = TlsServer::start(config, pki.localhost()).await;
        let mut owner = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        owner.register_as("alice").await;
        nickserv(&mut owner, &format!("REGISTER {PASSWORD}")).await;
        let mut early = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        early.send("CAP LS 302").await;
        early.next().await;
        log_in_as_alice(&mut early).await;
        assert!(early.next().await.is_numeric("900"));
        assert!(early.next().await.is_numeric("903"));
        // Before CAP END, alice's account ends and someone else registers the nickname.
        owner.send("NICKSERV DROP").await;
        owner.expect_numeric("901").await;
        leave(owner).await;
        let mut newcomer = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        newcomer.register_as("alice").await;
        let answer = nickserv(&mut newcomer, "REGISTER another-password").await;
        assert!(answer.last().contains("now registered"), "{answer:?}");
        leave(newcomer).await;
        // The login proved the old account, not the new one: registered without one.
        early.send("CAP END").await;
        early.nick = "alice".into();
        early.until_motd_end().await;
        let after = early.sync().await;
        let [logged_out, told, warned] = &after[..] else { panic!("{after:#?}") };
        assert!(logged_out.is_numeric("901"), "{logged_out:?}");
        assert_eq!(logged_out.params[..2], ["alice", source("alice").as_str()]);
        assert!(from_service(told, "NickServ") && told.last().contains("dropped"), "{told:?}");
        assert!(warned.last().starts_with("This nickname is registered."), "{warned:?}");
        let refused = nickserv(&mut early, "DROP").await;
        assert!(refused.last().starts_with("You are not identified"), "{refused:?}");
        server.stop().await;
    });
}

#[test]
fn sasl_failures_have_their_numerics() {
    let pki = Pki::new("irc-sasl-fail");
    smol::block_on(async {
        let server = with_alice_registered(&pki).await;
        let mut irc = Irc::connect_tls(server.ircs, &pki.ca_file).await;
        irc.send("AUTHENTICATE PLAIN").await;
        assert!(irc.next().await.is_numeric("904"), "sasl not asked for");
        assert_eq!(irc.cap_req("sasl").await.param(1), "ACK");
        irc.send("AUTHENTICATE SCRAM-SHA-256").await;
        assert_eq!(irc.next().await.params, ["*", "PLAIN", "are available SASL mechanisms"]);
        assert!(irc.next().await.is_numeric("904"));
        irc.send("AUTHENTICATE PLAIN").await;
        irc.next().await;
        irc.send(&format!("AUTHENTICATE {}", plain("alice", "wrong-password"))).await;
        let wrong = irc.next().await;
        assert!(wrong.is_numeric("904") && wrong.last().contains("wrong password"), "{wrong:?}");
        irc.send("AUTHENTICATE PLAIN").await;
        irc.next().await;
        irc.send("AUTHENTICATE *").await;
        assert!(irc.next().await.is_numeric("906"));
        irc.send("AUTHENTICATE PLAIN").await;
        irc.next().await;
        irc.send(&format!("AUTHENTICATE {}", "A".repeat(401))).await;
        assert!(irc.next().await.is_numeric("905"));
        // Registering in the middle of an exchange ends it (906), without an account.
        irc.send("AUTHENTICATE PLAIN").await;
        irc.next().await;
        irc.send("NICK alice").await;
        irc.send("USER alice 0 * :Alice").await;
        irc.send("CAP END").await;
        assert!(irc.next().await.is_numeric("906"));
        irc.nick = "alice".into();
        irc.until_motd_end().await;
        let warned = irc.next().await;
        assert!(from_service(&warned, "NickServ"), "{warned:?}");
        server.stop().await;
    });
}

#[test]
fn sasl_is_not_offered_over_plain_text() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut irc = Irc::connect(server.irc).await;
        irc.send("CAP LS 302").await;
        assert!(!irc.next().await.last().contains("sasl"));
        assert_eq!(irc.cap_req("sasl").await.param(1), "NAK");
        irc.send(&format!("AUTHENTICATE {}", plain("alice", PASSWORD))).await;
        let refused = irc.next().await;
        assert!(refused.is_numeric("904") && refused.last().contains("TLS"), "{refused:?}");
        server.stop().await;
    });
}

#[test]
fn only_a_registered_rooms_owner_kicks_and_sets_its_topic() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = registered(server.irc, "alice").await;
        alice.join("#r").await;
        alice.send("PRIVMSG ChanServ :REGISTER #r").await;
        let answer = alice.wait_line("ChanServ's answer", |m| from_service(m, "ChanServ")).await;
        assert!(answer.last().starts_with("#r is now registered to you"), "{answer:?}");
        let mut bob = Irc::online(server.irc, "bob").await;
        bob.join("#r").await;
        let mut carol = Irc::online(server.irc, "carol").await;
        carol.join("#r").await;
        bob.wait_line("carol's JOIN", |m| m.is("JOIN") && m.nick() == "carol").await;
        carol.send("TOPIC #r :mine now").await;
        assert_eq!(carol.expect_numeric("482").await.param(1), "#r");
        carol.send("KICK #r bob").await;
        assert_eq!(carol.expect_numeric("482").await.param(1), "#r");
        alice.send("KICK #r bob :bye").await;
        for member in [&mut alice, &mut bob, &mut carol] {
            let kick = member.wait_line("the KICK", |m| m.is("KICK")).await;
            kick.assert_from("alice", "KICK", &["#r", "bob", "bye"]);
        }
        bob.send("PRIVMSG #r :still here?").await;
        assert_eq!(bob.expect_numeric("404").await.param(1), "#r");
        alice.send("KICK #r bob").await;
        assert_eq!(alice.expect_numeric("441").await.params[1..3], ["bob", "#r"]);
        alice.send("TOPIC #r :the owner's").await;
        carol.wait_line("the TOPIC", |m| m.is("TOPIC")).await.assert_from(
            "alice",
            "TOPIC",
            &["#r", "the owner's"],
        );
        // ChanServ wants an identified member.
        bob.send("PRIVMSG ChanServ :REGISTER #r").await;
        let refused = bob.wait_line("ChanServ's answer", |m| from_service(m, "ChanServ")).await;
        assert!(refused.last().starts_with("You are not in #r"), "{refused:?}");
        server.stop().await;
    });
}

#[test]
fn nickserv_refuses_an_account_past_max_accounts() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_accounts: 1, ..irc_config() }).await;
        let _alice = registered(server.irc, "alice").await;
        let mut bob = Irc::online(server.irc, "bob").await;
        let answer = nickserv(&mut bob, &format!("REGISTER {PASSWORD}")).await;
        let full = "The server has as many accounts as it may keep (1); none can be registered now";
        assert_eq!(answer.last(), full);
        server.stop().await;
    });
}

#[test]
fn chanserv_refuses_a_room_past_max_rooms_per_account_until_one_is_dropped() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_rooms_per_account: 1, ..irc_config() }).await;
        let mut alice = registered(server.irc, "alice").await;
        let mut answers = Vec::new();
        for room in ["#mine", "#more"] {
            alice.join(room).await;
            alice.send(&format!("PRIVMSG ChanServ :REGISTER {room}")).await;
            let answer =
                alice.wait_line("ChanServ's answer", |m| from_service(m, "ChanServ")).await;
            answers.push(answer.last().to_string());
        }
        assert!(answers[0].starts_with("#mine is now registered to you"), "{answers:?}");
        assert_eq!(answers[1], "You own as many rooms as one account may (1)");
        // Giving one up makes room for another.
        for text in ["DROP #mine", "REGISTER #more"] {
            alice.send(&format!("PRIVMSG ChanServ :{text}")).await;
            let answer =
                alice.wait_line("ChanServ's answer", |m| from_service(m, "ChanServ")).await;
            answers.push(answer.last().to_string());
        }
        assert!(answers[2].starts_with("#mine is no longer registered"), "{answers:?}");
        assert!(answers[3].starts_with("#more is now registered to you"), "{answers:?}");
        server.stop().await;
    });
}
