//! IRC channels between raw IRC clients: JOIN (several at once, `JOIN 0`), PART, NAMES,
//! TOPIC, LIST and channel MODE, with the numerics for each refusal.

mod common;

use common::irc::*;
use common::*;
use smolchat::server::Config;

/// Seconds since 1970, as IRC writes times.
fn now_secs() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.expect("after 1970").as_secs()
}

#[test]
fn join_several_channels_at_once_then_join_0_leaves_them_all() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.send("JOIN #a,#b").await;
        let lines =
            alice.lines_until("366 #b", |m| m.is_numeric("366") && m.param(1) == "#b").await;
        assert_eq!(commands(&lines), ["JOIN", "353", "366", "JOIN", "353", "366"], "{lines:#?}");
        lines[0].assert_from("alice", "JOIN", &["#a"]);
        assert_eq!(lines[1].params, ["alice", "=", "#a", "alice"]);
        assert_eq!(lines[2].params, ["alice", "#a", "End of /NAMES list"]);
        lines[3].assert_from("alice", "JOIN", &["#b"]);
        let mut bob = Irc::online(server.irc, "bob").await;
        let joined = bob.join("#A").await;
        // The room keeps the name it was made with.
        joined[0].assert_from("bob", "JOIN", &["#a"]);
        assert_eq!(joined[1].params, ["bob", "=", "#a", "alice bob"]);
        let heard = alice.next().await;
        heard.assert_from("bob", "JOIN", &["#a"]);
        alice.send("JOIN 0").await;
        let mut parts = [alice.next().await, alice.next().await];
        parts.sort_by(|x, y| x.params.cmp(&y.params));
        parts[0].assert_from("alice", "PART", &["#a"]);
        parts[1].assert_from("alice", "PART", &["#b"]);
        let heard = bob.next().await;
        heard.assert_from("alice", "PART", &["#a"]);
        alice.send("WHOIS alice").await;
        let whois = alice.lines_until("318", |m| m.is_numeric("318")).await;
        assert_eq!(commands(&whois), ["311", "312", "318"], "in no channel: {whois:#?}");
        server.stop().await;
    });
}

#[test]
fn bad_channel_names_are_refused_with_479_and_names_without_hash_with_403() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.join("#lobby").await;
        alice.send("JOIN lobby").await;
        assert_eq!(alice.expect_numeric("403").await.param(1), "lobby");
        // Too long, a bad character, an IRC nick special, a look-alike of #lobby.
        let long = format!("#{}", "x".repeat(51));
        for name in [long.as_str(), "#no!bang", "#a|b", "#l\u{43E}bby"] {
            alice.send(&format!("JOIN {name}")).await;
            let refused = alice.expect_numeric("479").await;
            assert_eq!(refused.param(1), name);
        }
        server.stop().await;
    });
}

#[test]
fn part_with_and_without_words_and_its_errors() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        bob.join("#b").await;
        bob.send("PART #a :see \x02you\x02").await;
        for who in [&mut alice, &mut bob] {
            who.expect_from("bob", "PART", &["#a", "see you"]).await;
        }
        bob.send("PART #b").await;
        bob.expect_from("bob", "PART", &["#b"]).await;
        bob.send("PART #a").await;
        assert_eq!(bob.expect_numeric("442").await.param(1), "#a");
        bob.send("PART #nowhere").await;
        assert_eq!(bob.expect_numeric("403").await.param(1), "#nowhere");
        assert!(alice.sync().await.is_empty(), "alice heard nothing of #b");
        server.stop().await;
    });
}

#[test]
fn names_of_a_channel_of_none_and_of_no_such_channel() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, _bob) = pair(&server, "#a").await;
        alice.send("NAMES #a").await;
        assert_eq!(alice.expect_numeric("353").await.params, ["alice", "=", "#a", "alice bob"]);
        assert_eq!(alice.expect_numeric("366").await.param(1), "#a");
        alice.send("NAMES #nowhere").await;
        assert_eq!(alice.expect_numeric("366").await.param(1), "#nowhere");
        alice.send("NAMES").await;
        assert_eq!(alice.expect_numeric("366").await.param(1), "*");
        server.stop().await;
    });
}

#[test]
fn topic_asked_set_cut_cleared_and_shown_on_join() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_topic: 10, ..irc_config() }).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        alice.send("TOPIC #a").await;
        assert_eq!(alice.expect_numeric("331").await.params[1..], ["#a", "No topic is set"]);
        alice.send("TOPIC #a :\x02news\x02 of the day").await;
        for who in [&mut alice, &mut bob] {
            who.expect_from("alice", "TOPIC", &["#a", "news of th"]).await;
        }
        bob.send("TOPIC #A").await;
        assert_eq!(bob.expect_numeric("332").await.params, ["bob", "#a", "news of th"]);
        let who_when = bob.expect_numeric("333").await;
        assert_eq!(who_when.params[1..3], ["#a", "alice"]);
        let at: u64 = who_when.param(3).parse().expect("seconds since the epoch");
        assert!(now_secs().abs_diff(at) < 60, "{who_when:?}");
        let mut carol = Irc::online(server.irc, "carol").await;
        carol.send("TOPIC #a").await;
        assert_eq!(carol.expect_numeric("442").await.param(1), "#a");
        carol.send("TOPIC #nowhere :x").await;
        assert_eq!(carol.expect_numeric("403").await.param(1), "#nowhere");
        let joined = carol.join("#a").await;
        assert_eq!(commands(&joined), ["JOIN", "332", "333", "353", "366"], "{joined:#?}");
        alice.send("TOPIC #a :").await;
        let cleared = alice.wait_line("TOPIC", |m| m.is("TOPIC")).await;
        cleared.assert_from("alice", "TOPIC", &["#a", ""]);
        alice.send("TOPIC #a").await;
        alice.expect_numeric("331").await;
        server.stop().await;
    });
}

#[test]
fn list_shows_every_channel_or_those_asked_for() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, mut bob) = pair(&server, "#a").await;
        bob.join("#b").await;
        bob.send("TOPIC #b :bees").await;
        bob.wait_line("TOPIC", |m| m.is("TOPIC")).await;
        alice.send("LIST").await;
        let list = alice.lines_until("323", |m| m.is_numeric("323")).await;
        assert_eq!(list[0].params, ["alice", "Channel", "Users  Name"]);
        let mut rooms: Vec<&[String]> =
            list[1..list.len() - 1].iter().map(|m| &m.params[1..]).collect();
        rooms.sort();
        assert_eq!(rooms, [&[s("#a"), s("2"), s("")][..], &[s("#b"), s("1"), s("bees")][..]]);
        assert_eq!(
            list.last().map(|m| m.params.clone()),
            Some(vec![s("alice"), s("End of /LIST")])
        );
        alice.send("LIST #B").await;
        let list = alice.lines_until("323", |m| m.is_numeric("323")).await;
        assert_eq!(commands(&list), ["321", "322", "323"]);
        assert_eq!(list[1].params, ["alice", "#b", "1", "bees"]);
        server.stop().await;
    });
}

#[test]
fn channel_modes_are_shown_and_every_change_refused() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, _bob) = pair(&server, "#a").await;
        alice.send("MODE #a").await;
        assert_eq!(alice.expect_numeric("324").await.params, ["alice", "#a", "+n"]);
        let created = alice.expect_numeric("329").await;
        assert_eq!(created.param(1), "#a");
        let at: u64 = created.param(2).parse().expect("seconds since the epoch");
        assert!(now_secs().abs_diff(at) < 60, "{created:?}");
        for ban_list in ["MODE #a b", "MODE #a +b"] {
            alice.send(ban_list).await;
            assert_eq!(alice.expect_numeric("368").await.param(1), "#a");
        }
        for change in ["MODE #a +o bob", "MODE #a +t", "MODE #a -n", "MODE #a +b bob!*@*"] {
            alice.send(change).await;
            let refused = alice.expect_numeric("482").await;
            assert_eq!(refused.params, ["alice", "#a", "You're not channel operator"], "{change}");
        }
        alice.send("MODE #a +Z").await;
        assert_eq!(alice.expect_numeric("472").await.param(1), "Z");
        alice.send("MODE #nowhere").await;
        assert_eq!(alice.expect_numeric("403").await.param(1), "#nowhere");
        server.stop().await;
    });
}

#[test]
fn joining_past_the_room_limit_is_refused_with_405() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_rooms_per_client: 2, ..irc_config() }).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        alice.send("JOIN #a,#b,#c").await;
        let lines = alice.lines_until("405", |m| m.is_numeric("405")).await;
        let joins: Vec<&str> = lines.iter().filter(|m| m.is("JOIN")).map(|m| m.param(0)).collect();
        assert_eq!(joins, ["#a", "#b"]);
        assert_eq!(lines.last().map(|m| m.param(1)), Some("#c"));
        server.stop().await;
    });
}

#[test]
fn kick_is_refused_after_the_checks_that_come_first() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut alice, _bob) = pair(&server, "#a").await;
        let mut carol = Irc::online(server.irc, "carol").await;
        carol.join("#c").await;
        alice.send("KICK #a bob :out").await;
        assert_eq!(
            alice.expect_numeric("482").await.params[1..],
            ["#a", "You're not channel operator"]
        );
        alice.send("KICK #a carol").await;
        assert_eq!(alice.expect_numeric("441").await.params[1..3], ["carol", "#a"]);
        alice.send("KICK #c carol").await;
        assert_eq!(alice.expect_numeric("442").await.param(1), "#c");
        alice.send("KICK #nowhere bob").await;
        assert_eq!(alice.expect_numeric("403").await.param(1), "#nowhere");
        alice.send("KICK #a").await;
        assert_eq!(alice.expect_numeric("461").await.param(1), "KICK");
        assert!(carol.sync().await.is_empty(), "nobody was kicked");
        server.stop().await;
    });
}

/// `#c0,#c1,...` up to the room limit, as one comma-joined list.
fn channel_list(count: usize) -> String {
    (0..count).map(|n| format!("#c{n}")).collect::<Vec<_>>().join(",")
}

/// Reads `alice`'s lines up to the `PART` of `last`, and checks that every channel of the
/// list was parted.
async fn expect_parts(alice: &mut Irc, count: usize) {
    let last = format!("#c{}", count - 1);
    let lines = alice.lines_until("the last PART", |m| m.is("PART") && m.param(0) == last).await;
    let parted: Vec<&str> = lines.iter().filter(|m| m.is("PART")).map(|m| m.param(0)).collect();
    let want: Vec<String> = (0..count).map(|n| format!("#c{n}")).collect();
    assert_eq!(parted, want, "{lines:#?}");
}

#[test]
fn joining_and_parting_as_many_channels_as_allowed_at_once_keeps_the_connection() {
    smol::block_on(async {
        // The default queue (16 entries) against the most channels one may be in.
        let config = irc_config();
        let count = config.max_rooms_per_client;
        assert!(count > config.queue_len, "the test needs more channels than queue entries");
        let server = TestServer::start(config).await;
        let mut bob = Irc::online(server.irc, "bob").await;
        bob.join("#c0").await;
        bob.send("TOPIC #c0 :the first").await;
        bob.wait_line("the TOPIC", |m| m.is("TOPIC")).await;
        let mut alice = Irc::online(server.irc, "alice").await;
        let list = channel_list(count);
        for round in 0..2 {
            alice.send(&format!("JOIN {list}")).await;
            let last = format!("#c{}", count - 1);
            let lines = alice
                .lines_until("the last 366", |m| m.is_numeric("366") && m.param(1) == last)
                .await;
            let joins = lines.iter().filter(|m| m.is("JOIN")).count();
            let ends = lines.iter().filter(|m| m.is_numeric("366")).count();
            assert_eq!((joins, ends), (count, count), "round {round}: {lines:#?}");
            let topic = lines.iter().find(|m| m.is_numeric("332")).map(|m| m.last());
            assert_eq!(topic, Some("the first"));
            assert!(lines.iter().any(|m| m.is_numeric("333")), "{lines:#?}");
            // Leaving them all: by name, then with `JOIN 0`.
            match round {
                0 => alice.send(&format!("PART {list} :bye")).await,
                _ => alice.send("JOIN 0").await,
            }
            expect_parts(&mut alice, count).await;
        }
        // As many `JOIN`s, then `PART`s, one a line, sent in one write.
        let joins: String = (0..count).map(|n| format!("JOIN #c{n}\r\nPART #c{n}\r\n")).collect();
        alice.send_raw(joins.as_bytes()).await;
        expect_parts(&mut alice, count).await;
        assert!(alice.sync().await.is_empty(), "nothing more, and still connected");
        server.stop().await;
    });
}
