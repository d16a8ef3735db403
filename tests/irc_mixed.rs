//! IRC and smolchat clients in the same rooms: what each side says reaches the other in its
//! own protocol's form, nicknames are one namespace, and every member of a room sees one
//! order of events whichever protocol it speaks.

mod common;

use common::irc::*;
use common::*;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::{ErrorCode, Line};

/// A chat client `chat` in `#lobby` and an IRC client `irc` who joined it after, each
/// having seen the other.
async fn lobby(server: &TestServer, chat: &str, irc: &str) -> (Client, Irc) {
    let mut chatter = server.join(chat).await;
    let mut irc = Irc::online(server.irc, irc).await;
    let joined = irc.join(LOBBY).await;
    let mut names: Vec<&str> = joined[1].last().split(' ').collect();
    let mut want = [chat, irc.nick.as_str()];
    names.sort();
    want.sort();
    assert_eq!(names, want, "{joined:#?}");
    assert_eq!(next(&mut chatter).await, lobby_join(&irc.nick));
    (chatter, irc)
}

#[test]
fn irc_privmsg_action_and_notice_reach_chat_clients_as_msg_action_and_notice() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut bob, mut alice) = lobby(&server, "bob", "alice").await;
        alice.send("PRIVMSG #lobby :hello from irc").await;
        assert_eq!(next(&mut bob).await, lobby_message("alice", "hello from irc"));
        alice.send("PRIVMSG #LOBBY :\x01ACTION waves\x01").await;
        let action = Line::Action { room: s(LOBBY), from: s("alice"), text: s("waves") };
        assert_eq!(next(&mut bob).await, action);
        alice.send("NOTICE #lobby :the build is green").await;
        let notice =
            Line::Notice { room: s(LOBBY), from: s("alice"), text: s("the build is green") };
        assert_eq!(next(&mut bob).await, notice);
        // Formatting codes never reach a chat client.
        alice.send("PRIVMSG #lobby :\x02bold\x02 \x0304,12red\x03 \x1funder\x1f\x16\x0f!").await;
        assert_eq!(next(&mut bob).await, lobby_message("alice", "bold red under!"));
        server.stop().await;
    });
}

#[test]
fn chat_messages_and_actions_reach_irc_clients_as_privmsg_and_ctcp_action() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (bob, mut alice) = lobby(&server, "bob", "alice").await;
        bob.say("hello from chat").await.expect("say");
        alice.expect_from("bob", "PRIVMSG", &["#lobby", "hello from chat"]).await;
        bob.sender.send_line("/me waves back").await.expect("act");
        alice.expect_from("bob", "PRIVMSG", &["#lobby", "\x01ACTION waves back\x01"]).await;
        // A chat line longer than IRC allows comes as several PRIVMSGs, cut between
        // characters, each within 512 bytes.
        let long: String = "héllo wörld ".repeat(90);
        let long = long.trim_end();
        bob.say(long).await.expect("say");
        let mut joined = String::new();
        while joined.len() < long.len() {
            let piece = alice.next().await;
            assert!(piece.raw.len() + 2 <= 512, "{} bytes: {:?}", piece.raw.len(), piece.raw);
            piece.assert_from("bob", "PRIVMSG", &["#lobby", piece.last()]);
            joined.push_str(piece.last());
        }
        assert_eq!(joined, long);
        server.stop().await;
    });
}

#[test]
fn private_messages_cross_protocols_both_ways() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut bob, mut alice) = lobby(&server, "bob", "alice").await;
        bob.sender.send_line("/msg ALICE psst").await.expect("msg");
        alice.expect_from("bob", "PRIVMSG", &["alice", "psst"]).await;
        let echo = Line::Private { from: s("bob"), to: s("alice"), text: s("psst") };
        assert_eq!(next(&mut bob).await, echo);
        alice.send("PRIVMSG Bob :hi \x02there\x02").await;
        let private = Line::Private { from: s("alice"), to: s("bob"), text: s("hi there") };
        assert_eq!(next(&mut bob).await, private);
        alice.send("PRIVMSG bob :\x01ACTION nods\x01").await;
        let act = Line::PrivateAction { from: s("alice"), to: s("bob"), text: s("nods") };
        assert_eq!(next(&mut bob).await, act);
        // Other CTCP means nothing to a chat client: it is not shown.
        alice.send("PRIVMSG bob :\x01VERSION\x01").await;
        alice.send("NOTICE bob :automated").await;
        let notice = Line::PrivateNotice { from: s("alice"), to: s("bob"), text: s("automated") };
        assert_eq!(next(&mut bob).await, notice);
        bob.sender.send_line("/me shrugs").await.expect("act");
        let shrug = Line::Action { room: s(LOBBY), from: s("bob"), text: s("shrugs") };
        assert_eq!(next(&mut bob).await, shrug);
        assert!(alice.sync().await.len() == 1, "the shrug, and no echo of alice's own lines");
        server.stop().await;
    });
}

#[test]
fn joins_parts_renames_and_quits_are_seen_on_both_sides() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut bob, mut alice) = lobby(&server, "bob", "alice").await;
        let mut carol = server.join("carol").await;
        alice.expect_from("carol", "JOIN", &["#lobby"]).await;
        assert_eq!(next(&mut bob).await, lobby_join("carol"));
        carol.sender.send_line("/nick carol2").await.expect("nick");
        alice.expect_from("carol", "NICK", &["carol2"]).await;
        alice.send("NICK alice2").await;
        alice.expect_from("alice", "NICK", &["alice2"]).await;
        let renames = [
            Line::Rename { old: s("carol"), new: s("carol2") },
            Line::Rename { old: s("alice"), new: s("alice2") },
        ];
        assert_eq!(lines_until_all(&mut bob, &renames).await, renames);
        carol.sender.send_line("/part").await.expect("part");
        alice.expect_from("carol2", "PART", &["#lobby"]).await;
        join_room(&mut carol, "carol2", LOBBY).await;
        alice.expect_from("carol2", "JOIN", &["#lobby"]).await;
        carol.sender.send_line("/part #lobby see you").await.expect("part");
        alice.expect_from("carol2", "PART", &["#lobby", "see you"]).await;
        join_room(&mut carol, "carol2", LOBBY).await;
        alice.send("PART #lobby :brb").await;
        let leave = Line::Leave { room: s(LOBBY), nick: s("alice2"), reason: s("part: brb") };
        wait_for(&mut bob, "alice's LEAVE", |l| *l == leave).await;
        alice.join(LOBBY).await;
        wait_for(&mut bob, "alice's JOIN", |l| *l == lobby_join("alice2")).await;
        carol.sender.quit(Some("see ya")).await.expect("quit");
        let quit = alice.wait_line("carol's QUIT", |m| m.is("QUIT")).await;
        quit.assert_from("carol2", "QUIT", &["Quit: see ya"]);
        wait_for(&mut bob, "carol's QUIT", |l| *l == common::quit("carol2", "quit: see ya")).await;
        let dave = server.join("dave").await;
        alice.wait_line("dave's JOIN", |m| m.is("JOIN")).await;
        drop(dave);
        alice.expect_from("dave", "QUIT", &["Connection closed"]).await;
        alice.send("QUIT :bye \x02all").await;
        wait_for(&mut bob, "alice's QUIT", |l| *l == common::quit("alice2", "quit: bye all")).await;
        server.stop().await;
    });
}

#[test]
fn a_rename_and_a_quit_reach_an_irc_client_once_however_many_rooms_are_shared() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let (mut bob, mut alice) = lobby(&server, "bob", "alice").await;
        let mut carol = server.join("carol").await;
        join_room(&mut bob, "bob", "#b").await;
        join_room(&mut carol, "carol", "#b").await;
        alice.join("#b").await;
        wait_for(
            &mut carol,
            "alice in #b",
            |l| matches!(l, Line::Join { nick, .. } if nick == "alice"),
        )
        .await;
        bob.sender.send_line("/nick bob2").await.expect("nick");
        let renamed = Line::Rename { old: s("bob"), new: s("bob2") };
        wait_for(&mut carol, "the rename", |l| *l == renamed).await;
        // Carol's markers, said in both rooms after she heard the event, come after any
        // copy of it in either room.
        mark(&carol, 1).await;
        bob.sender.quit(Some("gone")).await.expect("quit");
        wait_for(&mut carol, "the quit", |l| *l == common::quit("bob2", "quit: gone")).await;
        mark(&carol, 2).await;
        let mut seen = Vec::new();
        for marker in ["2 in lobby", "2 in b"] {
            if !seen.iter().any(|m: &Msg| m.last() == marker) {
                seen.extend(alice.lines_until(marker, |m| m.last() == marker).await);
            }
        }
        let about_bob: Vec<&str> =
            seen.iter().filter(|m| m.nick().starts_with("bob")).map(|m| m.raw.as_str()).collect();
        assert_eq!(
            about_bob,
            [":bob!chat@smolchat NICK bob2", ":bob2!chat@smolchat QUIT :Quit: gone"],
            "{seen:#?}"
        );
        server.stop().await;
    });
}

/// Says `N in lobby` and `N in b` as `carol`, one in each room.
async fn mark(carol: &Client, n: u32) {
    say_in(carol, LOBBY, &format!("{n} in lobby")).await;
    say_in(carol, "#b", &format!("{n} in b")).await;
}

#[test]
fn nicknames_are_one_namespace_across_protocols() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut alice = server.join("alice").await;
        let mut irc = Irc::connect(server.irc).await;
        irc.send("NICK ALICE").await;
        irc.send("USER x 0 * :X").await;
        assert_eq!(irc.expect_numeric("433").await.params[..2], ["*", "ALICE"]);
        irc.send("NICK \u{430}lice").await; // a Cyrillic 'а'
        assert_eq!(irc.expect_numeric("433").await.param(1), "\u{430}lice");
        irc.send("NICK bob").await;
        irc.nick = "bob".into();
        irc.until_motd_end().await;
        for (nick, code) in
            [("BOB", ErrorCode::NickTaken), ("b\u{43E}b", ErrorCode::NickConfusable)]
        {
            match within("chat registration", Client::join(server.addr, nick)).await {
                Err(ClientError::Refused { code: refused, .. }) => {
                    assert_eq!(refused, code, "{nick}")
                }
                other => panic!("{nick} was not refused: {other:?}"),
            }
        }
        // Renames collide the same way, in either direction.
        irc.send("NICK Alice").await;
        assert_eq!(irc.expect_numeric("433").await.params[..2], ["bob", "Alice"]);
        alice.sender.send_line("/nick Bob").await.expect("nick");
        assert_eq!(next_error(&mut alice).await, ErrorCode::NickTaken);
        // A nick freed on one side can be taken on the other.
        irc.send("QUIT").await;
        irc.until_closed().await;
        alice.sender.send_line("/nick bob").await.expect("nick");
        let renamed = Line::Rename { old: s("alice"), new: s("bob") };
        wait_for(&mut alice, "the rename", |l| *l == renamed).await;
        server.stop().await;
    });
}

#[test]
fn irc_and_chat_members_see_one_order_of_events_per_room() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut chats = vec![server.join("c1").await, server.join("c2").await];
        let mut ircs = Vec::new();
        for nick in ["i1", "i2"] {
            let mut irc = Irc::online_with(server.irc, nick, "echo-message").await;
            irc.join(LOBBY).await;
            ircs.push(irc);
        }
        let mut quiet = Irc::online(server.irc, "i3").await; // no echo-message
        quiet.join(LOBBY).await;
        // Everyone starts counting after the last of these joins.
        for chat in &mut chats {
            wait_for(chat, "i3's JOIN", |l| *l == lobby_join("i3")).await;
        }
        for irc in &mut ircs {
            irc.wait_line("i3's JOIN", |m| m.is("JOIN") && m.nick() == "i3").await;
        }
        const EACH: usize = 25;
        // Every sender writes all its lines at once, one of them a topic half-way; the
        // server interleaves them, and two newcomers join meanwhile.
        for irc in ircs.iter_mut().chain([&mut quiet]) {
            let nick = irc.nick.clone();
            let mut lines: Vec<String> =
                (0..EACH).map(|n| format!("PRIVMSG #lobby :{nick} {n}\r\n")).collect();
            if nick == "i1" {
                lines.insert(EACH / 2, "TOPIC #lobby :half-way\r\n".into());
            }
            irc.send_raw(lines.concat().as_bytes()).await;
        }
        for (chat, nick) in chats.iter().zip(["c1", "c2"]) {
            let lines: String = (0..EACH).map(|n| format!("{nick} {n}\n")).collect();
            chat.sender.send_bytes(lines.as_bytes()).await.expect("say");
        }
        let mut late = Irc::online(server.irc, "late").await;
        late.join(LOBBY).await;
        let _c3 = server.join("c3").await;
        // Five senders' messages, the topic and two joins.
        let events = EACH * 5 + 3;
        let mut orders = Vec::new();
        for chat in &mut chats {
            orders.push(chat_order(chat, events).await);
        }
        for irc in &mut ircs {
            orders.push(irc_order(irc, events).await);
        }
        for order in &orders[1..] {
            assert_eq!(*order, orders[0]);
        }
        // Without echo, i3 sees the same order less its own lines.
        let without_own: Vec<String> =
            orders[0].iter().filter(|text| !text.starts_with("i3 ")).cloned().collect();
        assert_eq!(irc_order(&mut quiet, events - EACH).await, without_own);
        server.stop().await;
    });
}

/// The next `count` room events a chat client reads, written alike for both protocols:
/// a message as its text, `join NICK`, `topic TEXT`.
async fn chat_order(client: &mut Client, count: usize) -> Vec<String> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        match next(client).await {
            Line::Message { from, text, .. } => {
                assert!(text.starts_with(&format!("{from} ")), "{from}: {text}");
                events.push(text);
            }
            Line::Join { nick, .. } => events.push(format!("join {nick}")),
            Line::Topic { text, .. } => events.push(format!("topic {text}")),
            _ => {}
        }
    }
    events
}

/// The next `count` room events an IRC client reads, written as [`chat_order`] writes them.
async fn irc_order(irc: &mut Irc, count: usize) -> Vec<String> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        let msg = irc.next().await;
        match msg.command.as_str() {
            "PRIVMSG" => {
                assert!(msg.last().starts_with(&format!("{} ", msg.nick())), "{msg:?}");
                events.push(msg.last().to_string());
            }
            "JOIN" => events.push(format!("join {}", msg.nick())),
            "TOPIC" => events.push(format!("topic {}", msg.last())),
            _ => {}
        }
    }
    events
}
