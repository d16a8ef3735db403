//! IRC commands between raw IRC clients other than channels': PRIVMSG and NOTICE, QUIT,
//! NICK, AWAY, user MODE, and the questions (WHO, WHOIS, WHOWAS, ISON, USERHOST, MOTD,
//! LUSERS, TIME, PING).

mod common;

use common::irc::*;
use common::*;

#[test]
fn privmsg_and_notice_to_a_channel_reach_the_other_members_only() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        let mut carol = Irc::online(server.irc, "carol").await;
        alice.send("PRIVMSG #a :hello  there").await;
        alice.send("NOTICE #A :fyi").await;
        bob.expect_from("alice", "PRIVMSG", &["#a", "hello  there"]).await;
        bob.expect_from("alice", "NOTICE", &["#a", "fyi"]).await;
        // Alice had no echo: the next line of the room she reads is bob's answer.
        bob.send("PRIVMSG #a :answer").await;
        let next = alice.next().await;
        next.assert_from("bob", "PRIVMSG", &["#a", "answer"]);
        carol.send("PRIVMSG #a :let me in").await;
        assert_eq!(carol.expect_numeric("404").await.param(1), "#a");
        carol.send("PRIVMSG #nowhere :anyone").await;
        assert_eq!(carol.expect_numeric("403").await.param(1), "#nowhere");
        assert!(carol.sync().await.is_empty(), "carol heard nothing of #a");
        // Several targets at once.
        alice.send("PRIVMSG #a,carol :both").await;
        bob.expect_from("alice", "PRIVMSG", &["#a", "both"]).await;
        carol.expect_from("alice", "PRIVMSG", &["carol", "both"]).await;
        server.stop().await;
    });
}

#[test]
fn privmsg_and_notice_to_a_nick_reach_that_nick_only() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        alice.send("PRIVMSG BOB :psst").await;
        alice.send("NOTICE bob :just so you know").await;
        alice.send("PRIVMSG bob :\x01ACTION winks\x01").await;
        bob.expect_from("alice", "PRIVMSG", &["bob", "psst"]).await;
        bob.expect_from("alice", "NOTICE", &["bob", "just so you know"]).await;
        bob.expect_from("alice", "PRIVMSG", &["bob", "\x01ACTION winks\x01"]).await;
        // Other CTCP passes between IRC clients, a request as PRIVMSG, its answer as NOTICE;
        // but never to a channel.
        alice.send("PRIVMSG bob :\x01VERSION\x01").await;
        bob.expect_from("alice", "PRIVMSG", &["bob", "\x01VERSION\x01"]).await;
        bob.send("NOTICE alice :\x01VERSION smolbot 1.0\x01").await;
        alice.expect_from("bob", "NOTICE", &["alice", "\x01VERSION smolbot 1.0\x01"]).await;
        alice.send("PRIVMSG #a :\x01VERSION\x01").await;
        assert!(alice.sync().await.is_empty(), "no echo and no error");
        assert!(bob.sync().await.is_empty(), "no CTCP to a channel");
        // Text that was nothing but formatting is no text.
        alice.send("PRIVMSG bob :\x02\x0304\x0f").await;
        alice.expect_numeric("412").await;
        alice.send("PRIVMSG nobody :hello?").await;
        assert_eq!(alice.expect_numeric("401").await.param(1), "nobody");
        // To oneself without echo-message: shown once.
        alice.send("PRIVMSG alice :note to self").await;
        assert_eq!(alice.sync().await.len(), 1);
        server.stop().await;
    });
}

#[test]
fn quit_is_heard_with_its_words_and_the_quitter_gets_error() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        bob.send("QUIT :gone \x0304fishing").await;
        let last = bob.until_closed().await.pop().map(|m| m.raw);
        assert_eq!(last.as_deref(), Some("ERROR :Closing Link: 127.0.0.1 (Quit: gone fishing)"));
        alice.expect_from("bob", "QUIT", &["Quit: gone fishing"]).await;
        for (nick, quit, reason) in [("carol", "QUIT", "Quit"), ("dave", "", "Connection closed")] {
            let mut other = Irc::online(server.irc, nick).await;
            other.join("#a").await;
            alice.wait_line("a JOIN", |m| m.is("JOIN")).await;
            if quit.is_empty() {
                drop(other);
            } else {
                other.send(quit).await;
            }
            alice.expect_from(nick, "QUIT", &[reason]).await;
        }
        // Bob's nick is free again.
        Irc::online(server.irc, "bob").await;
        server.stop().await;
    });
}

#[test]
fn a_nick_change_is_seen_by_the_renamer_and_its_rooms_only() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        let mut carol = Irc::online(server.irc, "carol").await;
        alice.send("NICK alice2").await;
        for who in [&mut alice, &mut bob] {
            let nick = who.next().await;
            nick.assert_from("alice", "NICK", &["alice2"]);
        }
        alice.nick = "alice2".into();
        assert!(carol.sync().await.is_empty(), "carol shares no room with alice");
        alice.send("PRIVMSG #a :renamed").await;
        bob.expect_from("alice2", "PRIVMSG", &["#a", "renamed"]).await;
        alice.send("NICK BOB").await;
        assert_eq!(alice.expect_numeric("433").await.params[..2], ["alice2", "BOB"]);
        alice.send("NICK b\u{43E}b").await; // a Cyrillic 'о'
        assert_eq!(alice.expect_numeric("433").await.param(1), "b\u{43E}b");
        alice.send("NICK bad,nick").await;
        alice.expect_numeric("432").await;
        // The same nick again changes nothing; another spelling of it is a change.
        alice.send("NICK alice2").await;
        assert!(alice.sync().await.is_empty());
        alice.send("NICK Alice2").await;
        alice.expect_from("alice2", "NICK", &["Alice2"]).await;
        // In no room, the renamer alone hears it.
        carol.send("NICK carol2").await;
        carol.expect_from("carol", "NICK", &["carol2"]).await;
        server.stop().await;
    });
}

#[test]
fn who_whois_and_whowas() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        bob.send("AWAY :lunch").await;
        bob.expect_numeric("306").await;
        alice.send("WHO #a").await;
        let who = alice.lines_until("315", |m| m.is_numeric("315")).await;
        let mut rows: Vec<&[String]> = who[..who.len() - 1].iter().map(|m| &m.params[..]).collect();
        rows.sort();
        let row = |nick: &str, here: &str| {
            ["alice", "#a", "chat", "smolchat", SERVER, nick, here, &format!("0 {nick}")].map(s)
        };
        assert_eq!(rows, [&row("alice", "H")[..], &row("bob", "G")[..]]);
        assert_eq!(who.last().map(|m| m.param(1)), Some("#a"));
        alice.send("WHO BOB").await;
        let who = alice.lines_until("315", |m| m.is_numeric("315")).await;
        assert_eq!(who[0].params[1..7], ["*", "chat", "smolchat", SERVER, "bob", "G"]);
        // A mask matches nicknames under folding.
        alice.send("WHO B?b*").await;
        let who = alice.lines_until("315", |m| m.is_numeric("315")).await;
        assert_eq!(commands(&who), ["352", "315"], "{who:#?}");
        assert_eq!(who[0].param(5), "bob");
        alice.send("WHO *").await;
        let who = alice.lines_until("315", |m| m.is_numeric("315")).await;
        assert_eq!(commands(&who), ["352", "352", "315"], "{who:#?}");
        alice.send("WHOIS bob").await;
        let whois = alice.lines_until("318", |m| m.is_numeric("318")).await;
        assert_eq!(commands(&whois), ["311", "319", "312", "301", "318"], "{whois:#?}");
        assert_eq!(whois[0].params, ["alice", "bob", "chat", "smolchat", "*", "bob"]);
        assert_eq!(whois[1].params, ["alice", "bob", "#a"]);
        assert_eq!(whois[2].params, ["alice", "bob", SERVER, NETWORK]);
        assert_eq!(whois[3].params, ["alice", "bob", "lunch"]);
        alice.send("WHOIS nobody").await;
        assert_eq!(alice.expect_numeric("401").await.param(1), "nobody");
        assert_eq!(alice.expect_numeric("318").await.param(1), "nobody");
        alice.send("WHOWAS bob").await;
        assert_eq!(alice.expect_numeric("406").await.param(1), "bob");
        assert_eq!(alice.expect_numeric("369").await.param(1), "bob");
        server.stop().await;
    });
}

#[test]
fn user_modes_are_ones_own_and_only_invisible() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, _bob) = pair(&server, "#a").await;
        alice.send("MODE alice").await;
        assert_eq!(alice.expect_numeric("221").await.params, ["alice", "+"]);
        alice.send("MODE alice +i").await;
        alice.expect_from("alice", "MODE", &["alice", "+i"]).await;
        alice.send("MODE ALICE").await;
        assert_eq!(alice.expect_numeric("221").await.params, ["alice", "+i"]);
        alice.send("MODE alice +x").await;
        alice.expect_numeric("501").await;
        for other in ["MODE bob +i", "MODE bob"] {
            alice.send(other).await;
            alice.expect_numeric("502").await;
        }
        alice.send("MODE nobody").await;
        assert_eq!(alice.expect_numeric("401").await.param(1), "nobody");
        server.stop().await;
    });
}

/// The nicknames in the `352` rows of a `WHO` answer, sorted.
fn who_nicks(who: &[Msg]) -> Vec<&str> {
    let mut nicks: Vec<&str> =
        who.iter().filter(|m| m.is_numeric("352")).map(|m| m.param(5)).collect();
    nicks.sort_unstable();
    nicks
}

#[test]
fn invisible_people_are_found_only_by_name_or_by_those_in_a_room_with_them() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join("#a").await;
        alice.send("MODE alice +i").await;
        alice.expect_from("alice", "MODE", &["alice", "+i"]).await;
        let mut carol = Irc::online(server.irc, "carol").await;
        for (ask, want) in
            [("WHO *", vec!["carol"]), ("WHO #a", vec![]), ("WHO alice", vec!["alice"])]
        {
            carol.send(ask).await;
            let who = carol.lines_until("315", |m| m.is_numeric("315")).await;
            assert_eq!(who_nicks(&who), want, "{ask}");
        }
        carol.send("NAMES #a").await;
        assert_eq!(carol.expect_numeric("366").await.param(1), "#a", "no 353: nobody to show");
        carol.send("LUSERS").await;
        let users = carol.expect_numeric("251").await;
        assert_eq!(users.last(), "There are 1 users and 1 invisible on 1 servers");
        // In a room with her, carol sees her everywhere.
        carol.join("#a").await;
        carol.send("WHO *").await;
        let who = carol.lines_until("315", |m| m.is_numeric("315")).await;
        assert_eq!(who_nicks(&who), ["alice", "carol"]);
        // Visible again, she is anyone's to find.
        carol.send("PART #a").await;
        carol.expect_from("carol", "PART", &["#a"]).await;
        alice.send("MODE alice -i").await;
        let mode = alice.wait_line("her MODE", |m| m.is("MODE")).await;
        mode.assert_from("alice", "MODE", &["alice", "-i"]);
        carol.send("WHO *").await;
        let who = carol.lines_until("315", |m| m.is_numeric("315")).await;
        assert_eq!(who_nicks(&who), ["alice", "carol"]);
        server.stop().await;
    });
}

#[test]
fn away_answers_privmsg_with_301_and_shows_in_userhost_and_ison() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        bob.send("AWAY :\x02out\x02 to lunch").await;
        assert_eq!(bob.expect_numeric("306").await.last(), "You have been marked as being away");
        alice.send("PRIVMSG bob :are you there?").await;
        assert_eq!(alice.expect_numeric("301").await.params, ["alice", "bob", "out to lunch"]);
        // A notice is never answered, away or not.
        alice.send("NOTICE bob :fyi").await;
        assert!(alice.sync().await.is_empty());
        alice.send("USERHOST bob alice nobody").await;
        let userhost = alice.expect_numeric("302").await;
        assert_eq!(userhost.last(), "bob=-chat@smolchat alice=+chat@smolchat");
        alice.send("ISON BOB nobody Alice").await;
        assert_eq!(alice.expect_numeric("303").await.last(), "bob alice");
        alice.send("ISON :nobody").await;
        assert_eq!(alice.expect_numeric("303").await.last(), "");
        // Each name once, however often it is asked for.
        alice.send(&format!("ISON {}", "bob ".repeat(100))).await;
        assert_eq!(alice.expect_numeric("303").await.last(), "bob");
        bob.sync().await;
        bob.send("AWAY").await;
        bob.expect_numeric("305").await;
        alice.send("PRIVMSG bob :back?").await;
        assert!(alice.sync().await.is_empty(), "no 301 once back");
        server.stop().await;
    });
}

#[test]
fn motd_lusers_version_and_time_come_from_the_server() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, _bob) = pair(&server, "#a").await;
        // Carol, in #lobby, makes three people and two rooms; dave was a fourth, once.
        let _carol = server.join("carol").await;
        let mut dave = Irc::online(server.irc, "dave").await;
        dave.send("QUIT").await;
        dave.until_closed().await;
        alice.send("LUSERS").await;
        let lusers = alice.lines_until("266", |m| m.is_numeric("266")).await;
        assert_eq!(commands(&lusers), ["251", "252", "254", "255", "265", "266"]);
        assert_eq!(lusers[0].last(), "There are 3 users and 0 invisible on 1 servers");
        assert_eq!(lusers[2].params[1..], ["2", "channels formed"]);
        assert_eq!(lusers[4].params[1..3], ["3", "4"], "now, and the most at once");
        assert_eq!(lusers[5].params[1..3], ["3", "4"]);
        alice.send("MOTD").await;
        let motd = alice.lines_until("376", |m| m.is_numeric("376")).await;
        assert_eq!(commands(&motd), ["375", "372", "372", "372", "376"]);
        assert!(motd.iter().all(|m| m.source.as_deref() == Some(SERVER)));
        alice.send("TIME").await;
        let time = alice.expect_numeric("391").await;
        assert_eq!(time.param(1), SERVER);
        assert!(time.last().ends_with("UTC"), "{time:?}");
        server.stop().await;
    });
}

#[test]
fn client_ping_is_answered_with_pong_from_the_server() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.send("PING :a token with spaces").await;
        let pong = alice.next().await;
        assert_eq!(pong.raw, ":irc.test PONG irc.test :a token with spaces");
        alice.send("PING").await;
        alice.expect_numeric("409").await;
        // A PONG nobody asked for is read past.
        alice.send("PONG :unasked").await;
        assert!(alice.sync().await.is_empty());
        server.stop().await;
    });
}

#[test]
fn formatting_codes_are_stripped_from_what_irc_clients_say() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        alice.send("PRIVMSG #a :\x02bold\x02 \x0304,12red\x03 \x1ditalic\x1d\x0f plain").await;
        let heard = bob.next().await;
        assert_eq!(heard.last(), "bold red italic plain");
        alice.send("PRIVMSG #a :\x01ACTION \x0312waves\x01").await;
        assert_eq!(bob.next().await.last(), "\x01ACTION waves\x01");
        server.stop().await;
    });
}

#[test]
fn targets_past_targmax_are_refused_not_silently_dropped() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        let mut others = Vec::new();
        for nick in ["b1", "b2", "b3", "b4", "b5"] {
            others.push(Irc::online(server.irc, nick).await);
        }
        alice.send("PRIVMSG b1,b2,b3,b4,b5 :hello all").await;
        for other in &mut others[..4] {
            other.wait_line("the message", |m| m.is("PRIVMSG")).await;
        }
        let answer = alice.sync().await;
        assert!(answer.iter().any(|m| m.is_numeric("407")), "b5 got nothing: {answer:#?}");
        server.stop().await;
    });
}

#[test]
fn who_with_a_mask_lists_at_most_two_hundred() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        // 205 others, joined a hundred at a time (the test listener's backlog is 128).
        let mut others = Vec::new();
        for wave in 0..3 {
            let joining: Vec<_> = (0..100.min(205 - wave * 100))
                .map(|i| {
                    let addr = server.addr;
                    smol::spawn(async move {
                        let nick = format!("many{}", wave * 100 + i);
                        smolchat::client::Client::join(addr, &nick).await.expect("join").0
                    })
                })
                .collect();
            for client in joining {
                others.push(within("a join", client).await);
            }
        }
        alice.send("WHO many*").await;
        let who = alice.lines_until("315", |m| m.is_numeric("315")).await;
        assert_eq!(who.len(), 200 + 1, "200 people, then the end");
        server.stop().await;
    });
}

#[test]
fn empty_parameters_are_answered_not_ignored() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.send("JOIN :").await;
        assert_eq!(alice.expect_numeric("461").await.param(1), "JOIN");
        alice.send("PART :").await;
        assert_eq!(alice.expect_numeric("461").await.param(1), "PART");
        alice.send("PRIVMSG , :hi").await;
        alice.expect_numeric("411").await;
        alice.send("PRIVMSG :").await;
        alice.expect_numeric("411").await;
        alice.send("MODE alice :").await;
        assert_eq!(alice.expect_numeric("221").await.params, ["alice", "+"]);
        assert!(alice.sync().await.is_empty(), "one answer each");
        server.stop().await;
    });
}

#[test]
fn who_of_a_room_bigger_than_a_page_lists_everyone_once() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut people = Vec::new();
        for n in 0..150 {
            people.push(server.join(&format!("p{n}")).await);
        }
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.send("WHO #lobby").await;
        let who = alice.lines_until("315", |m| m.is_numeric("315")).await;
        let mut nicks: Vec<&str> = who[..who.len() - 1].iter().map(|m| m.param(5)).collect();
        nicks.sort_unstable();
        nicks.dedup();
        assert_eq!((nicks.len(), who.len()), (150, 151), "{:#?}", &who[who.len() - 2..]);
        drop(people);
        server.stop().await;
    });
}
