//! The capabilities that change what an IRC client reads, negotiated or not:
//! echo-message, server-time, away-notify and message-tags (`TAGMSG`).

mod common;

use common::irc::*;
use common::*;

#[test]
fn echo_message_returns_ones_own_messages_only_when_negotiated() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut echoed = Irc::online_with(server.irc, "echoed", "echo-message").await;
        echoed.join("#a").await;
        let mut plain = Irc::online(server.irc, "plain").await;
        plain.join("#a").await;
        echoed.wait_line("plain's JOIN", |m| m.is("JOIN")).await;
        echoed.send("PRIVMSG #a :one").await;
        echoed.expect_from("echoed", "PRIVMSG", &["#a", "one"]).await;
        plain.send("PRIVMSG #a :two").await;
        echoed.expect_from("plain", "PRIVMSG", &["#a", "two"]).await;
        echoed.send("PRIVMSG #a :three").await;
        echoed.expect_from("echoed", "PRIVMSG", &["#a", "three"]).await;
        // Plain reads the room in its one order: one, (not two), three.
        let heard = plain.lines_until("three", |m| m.last() == "three").await;
        let texts: Vec<&str> = heard.iter().map(Msg::last).collect();
        assert_eq!(texts, ["one", "three"]);
        echoed.send("PRIVMSG plain :private").await;
        echoed.expect_from("echoed", "PRIVMSG", &["plain", "private"]).await;
        plain.expect_from("echoed", "PRIVMSG", &["plain", "private"]).await;
        plain.send("PRIVMSG echoed :back").await;
        assert!(plain.sync().await.is_empty(), "no echo of private messages either");
        echoed.expect_from("plain", "PRIVMSG", &["echoed", "back"]).await;
        // Notices come back too.
        echoed.send("NOTICE #a :fyi").await;
        echoed.expect_from("echoed", "NOTICE", &["#a", "fyi"]).await;
        plain.expect_from("echoed", "NOTICE", &["#a", "fyi"]).await;
        server.stop().await;
    });
}

#[test]
fn server_time_tags_events_only_for_clients_that_negotiated_it() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut timed = Irc::online_with(server.irc, "timed", "server-time").await;
        timed.join("#a").await;
        let mut plain = Irc::online(server.irc, "plain").await;
        plain.join("#a").await;
        let join = timed.next().await;
        join.assert_from("plain", "JOIN", &["#a"]);
        let time = join.tags.as_deref().and_then(|t| t.strip_prefix("time=")).expect("a time tag");
        let at: jiff::Timestamp = time.parse().expect("an RFC 3339 time");
        let age = jiff::Timestamp::now().duration_since(at);
        assert!(age.as_secs().abs() < 60, "{time}");
        assert!(time.len() == 24 && time.ends_with('Z'), "milliseconds in UTC: {time}");
        timed.send("PRIVMSG #a :hi").await;
        let hi = plain.next().await;
        assert_eq!(hi.tags, None, "{hi:?}");
        // Numerics are not events: no tag.
        timed.send("LUSERS").await;
        assert_eq!(timed.wait_numeric("251").await.tags, None);
        server.stop().await;
    });
}

#[test]
fn away_changes_are_not_told_to_clients_without_away_notify() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        bob.send("AWAY :lunch").await;
        bob.expect_numeric("306").await;
        bob.send("AWAY").await;
        bob.expect_numeric("305").await;
        // Bob's next line in the room is the first alice hears after his JOIN.
        bob.send("PRIVMSG #a :back").await;
        alice.expect_from("bob", "PRIVMSG", &["#a", "back"]).await;
        server.stop().await;
    });
}

#[test]
fn away_notify_tells_each_member_of_shared_rooms_once() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online_with(server.irc, "alice", "away-notify").await;
        alice.join("#a").await;
        alice.join("#b").await;
        let mut bob = Irc::online(server.irc, "bob").await;
        bob.join("#a").await;
        bob.join("#b").await;
        alice.wait_line("bob in #b", |m| m.is("JOIN") && m.param(0) == "#b").await;
        bob.send("AWAY :\x02lunch").await;
        bob.expect_numeric("306").await;
        alice.expect_from("bob", "AWAY", &["lunch"]).await;
        bob.send("AWAY").await;
        bob.expect_numeric("305").await;
        alice.expect_from("bob", "AWAY", &[]).await;
        // Someone away who joins is announced as away right after the JOIN.
        bob.send("AWAY :again").await;
        bob.expect_numeric("306").await;
        alice.expect_from("bob", "AWAY", &["again"]).await;
        alice.join("#c").await;
        bob.join("#c").await;
        alice.expect_from("bob", "JOIN", &["#c"]).await;
        alice.expect_from("bob", "AWAY", &["again"]).await;
        // Once each, though they share two rooms; and bob hears none of his own.
        bob.send("PRIVMSG #a :done").await;
        alice.expect_from("bob", "PRIVMSG", &["#a", "done"]).await;
        assert!(bob.sync().await.is_empty());
        server.stop().await;
    });
}

#[test]
fn tagmsg_is_accepted_with_message_tags_and_unknown_without() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online_with(server.irc, "alice", "message-tags").await;
        alice.join("#a").await;
        alice.send("@+typing=active TAGMSG #a").await;
        let answer = alice.sync().await;
        assert!(answer.is_empty(), "{answer:#?}");
        let mut plain = Irc::online(server.irc, "plain").await;
        plain.send("@+typing=active TAGMSG #a").await;
        assert_eq!(plain.expect_numeric("421").await.param(1), "TAGMSG");
        server.stop().await;
    });
}
