//! One room end to end (the default room): handshake, broadcast, commands, joins and leaves.

mod common;

use common::*;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::{Command, ErrorCode, Line};

#[test]
fn handshake_asks_for_a_nick_and_welcomes_with_the_count() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let _alice = server.join("alice").await;
        let (_bob, welcome) = within("join", Client::join(server.addr, "bob")).await.expect("join");
        assert_eq!(welcome.online, 2);
        server.stop().await;
    });
}

#[test]
fn a_taken_nick_is_refused_case_insensitively_and_a_retry_works() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let _alice = server.join("Alice").await;
        let mut second = within("connect", Client::connect(server.addr)).await.expect("connect");
        match within("register", second.register("alice")).await {
            Err(ClientError::Refused { code: ErrorCode::NickTaken, .. }) => {}
            other => panic!("expected nick-taken, got {other:?}"),
        }
        let welcome = within("register", second.register("alice2")).await.expect("retry");
        assert_eq!(welcome.nick, "alice2");
        server.stop().await;
    });
}

#[test]
fn invalid_and_too_long_nicks_are_refused_with_their_reason() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut client = within("connect", Client::connect(server.addr)).await.expect("connect");
        for (nick, want) in [
            ("bad nick", ErrorCode::NickInvalid),
            ("semi;colon", ErrorCode::NickInvalid),
            (&"x".repeat(33), ErrorCode::NickTooLong),
        ] {
            match within("register", client.register(nick)).await {
                Err(ClientError::Refused { code, .. }) => assert_eq!(code, want, "{nick}"),
                other => panic!("{nick}: expected a refusal, got {other:?}"),
            }
        }
        let at_limit = "é".repeat(32);
        assert!(within("register", client.register(&at_limit)).await.is_ok());
        server.stop().await;
    });
}

#[test]
fn the_room_hears_joins_and_leaves_with_reasons() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let bob = server.join("bob").await;
        assert_eq!(next(&mut alice).await, lobby_join("bob"));
        within("quit", bob.sender.quit(Some("lunch"))).await.expect("quit");
        assert_eq!(next(&mut alice).await, quit("bob", "quit: lunch"));
        let carol = server.join("carol").await;
        assert_eq!(next(&mut alice).await, lobby_join("carol"));
        within("quit", carol.sender.quit(None)).await.expect("quit");
        assert_eq!(next(&mut alice).await, quit("carol", "quit"));
        server.stop().await;
    });
}

#[test]
fn an_abrupt_disconnect_is_announced() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let bob = server.join("bob").await;
        assert_eq!(next(&mut alice).await, lobby_join("bob"));
        drop(bob);
        assert_eq!(next(&mut alice).await, quit("bob", "connection closed"));
        server.stop().await;
    });
}

#[test]
fn a_message_reaches_everyone_including_the_sender() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut clients = Vec::new();
        for nick in ["a", "b", "c", "d"] {
            clients.push(server.join(nick).await);
        }
        clients[1].say("hello, wörld ✓").await.expect("say");
        for client in &mut clients {
            wait_message(client, "b", "hello, wörld ✓").await;
        }
        server.stop().await;
    });
}

#[test]
fn nobody_can_write_someone_elses_name() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mallory = server.join("mallory").await;
        mallory.say("MSG alice I owe mallory money").await.expect("say");
        mallory.sender.send_line("alice: hi").await.expect("send");
        let joined = next(&mut alice).await;
        assert_eq!(joined, lobby_join("mallory"));
        let forged = next(&mut alice).await;
        assert_eq!(forged, lobby_message("mallory", "MSG alice I owe mallory money"));
        let prefixed = next(&mut alice).await;
        assert_eq!(prefixed, lobby_message("mallory", "alice: hi"));
        server.stop().await;
    });
}

#[test]
fn a_private_message_reaches_only_its_target_and_the_sender() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        let mut carol = server.join("carol").await;
        let psst = Command::Msg { to: s("BOB"), text: s("psst") };
        alice.send(&psst).await.expect("msg");
        alice.say("public").await.expect("say");
        let want = Line::Private { from: s("alice"), to: s("bob"), text: s("psst") };
        assert_eq!(wait_for(&mut bob, "PRIV", |e| matches!(e, Line::Private { .. })).await, want);
        assert_eq!(
            wait_for(&mut alice, "PRIV echo", |e| matches!(e, Line::Private { .. })).await,
            want
        );
        // Carol's next message is the public one: she never saw the private one.
        let seen = wait_for(&mut carol, "MSG", |e| {
            matches!(e, Line::Message { .. } | Line::Private { .. })
        })
        .await;
        assert_eq!(seen, lobby_message("alice", "public"));
        alice.send(&Command::Msg { to: s("nobody"), text: s("hi") }).await.expect("msg");
        let error = wait_for(&mut alice, "ERROR", |e| matches!(e, Line::Error { .. })).await;
        assert!(matches!(error, Line::Error { code: ErrorCode::NoSuchNick, .. }), "{error:?}");
        server.stop().await;
    });
}

#[test]
fn a_nick_change_is_announced_and_frees_the_old_name() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        bob.send(&Command::Nick(s("robert"))).await.expect("nick");
        let rename = Line::Rename { old: s("bob"), new: s("robert") };
        wait_for(&mut alice, "RENAME", |e| *e == rename).await;
        wait_for(&mut bob, "RENAME", |e| *e == rename).await;
        bob.say("hi").await.expect("say");
        wait_message(&mut alice, "robert", "hi").await;
        let _new_bob = server.join("Bob").await;
        bob.send(&Command::Nick(s("ALICE"))).await.expect("nick");
        let error = wait_for(&mut bob, "ERROR", |e| matches!(e, Line::Error { .. })).await;
        assert!(matches!(error, Line::Error { code: ErrorCode::NickTaken, .. }), "{error:?}");
        server.stop().await;
    });
}

#[test]
fn names_and_who_list_everyone_in_the_room() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut carol = server.join("carol").await;
        let _alice = server.join("Alice").await;
        let _bob = server.join("bob").await;
        let want = Line::Names { room: s(LOBBY), nicks: vec![s("Alice"), s("bob"), s("carol")] };
        for line in ["/names", "/who", "/NAMES #Lobby"] {
            carol.sender.send_line(line).await.expect("names");
            let names = wait_for(&mut carol, "NAMES", |e| matches!(e, Line::Names { .. })).await;
            assert_eq!(names, want, "{line}");
        }
        server.stop().await;
    });
}

#[test]
fn commands_help_me_and_literal_slash() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        alice.send(&Command::Help).await.expect("help");
        let info = wait_for(&mut alice, "INFO", |e| matches!(e, Line::Info { .. })).await;
        assert!(matches!(&info, Line::Info { text } if text.contains("//text")), "{info:?}");
        alice.sender.send_line("/me waves").await.expect("me");
        let action = Line::Action { room: s(LOBBY), from: s("alice"), text: s("waves") };
        wait_for(&mut alice, "ACTION", |e| *e == action).await;
        alice.sender.send_line("//shrug").await.expect("literal");
        wait_message(&mut alice, "alice", "/shrug").await;
        alice.sender.send_line("/dance").await.expect("unknown");
        let error = wait_for(&mut alice, "ERROR", |e| matches!(e, Line::Error { .. })).await;
        assert!(matches!(error, Line::Error { code: ErrorCode::UnknownCommand, .. }), "{error:?}");
        server.stop().await;
    });
}

#[test]
fn a_quitter_still_gets_the_echo_of_its_last_message() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        alice.say("last words").await.expect("say");
        alice.sender.quit(None).await.expect("quit");
        let (seen, _) = drain(&mut alice).await;
        assert!(seen.contains(&lobby_message("alice", "last words")), "{seen:?}");
        server.stop().await;
    });
}

#[test]
fn help_before_a_nickname_is_answered_with_help() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut client = within("connect", Client::connect(server.addr)).await.expect("connect");
        client.sender.send_line("/help").await.expect("help");
        assert!(matches!(next(&mut client).await, Line::Info { .. }));
        wait_for(
            &mut client,
            "help on /join",
            |l| matches!(l, Line::Info { text } if text.starts_with("/join")),
        )
        .await;
        wait_for(&mut client, "NICK", |l| *l == Line::NickRequest).await;
        let welcome = within("register", client.register("alice")).await.expect("register");
        assert_eq!(welcome.nick, "alice");
        server.stop().await;
    });
}

#[test]
fn another_command_before_a_nickname_is_refused_as_one() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut client = within("connect", Client::connect(server.addr)).await.expect("connect");
        match within("register", client.register("/join #a")).await {
            Err(ClientError::Refused { code, .. }) => assert_eq!(code, ErrorCode::NickInvalid),
            other => panic!("expected nick-invalid, got {other:?}"),
        }
        let welcome = within("register", client.register("alice")).await.expect("register");
        assert_eq!(welcome.nick, "alice");
        server.stop().await;
    });
}

#[test]
fn refusals_carry_the_codes_the_protocol_gives_them() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        for (line, want) in [
            ("/history #nowhere", ErrorCode::NoSuchRoom),
            ("/kick #nowhere bob", ErrorCode::NotInRoom),
            ("/register-room #nowhere", ErrorCode::NotInRoom),
            ("/nick a b", ErrorCode::Usage),
            ("/join #a #b", ErrorCode::Usage),
            ("/history 0", ErrorCode::Usage),
            // Arguments are separated by spaces: a tab is part of its word.
            ("/join #a\t", ErrorCode::RoomInvalid),
        ] {
            alice.sender.send_line(line).await.expect("send");
            assert_eq!(next_error(&mut alice).await, want, "{line:?}");
        }
        // A line of white space alone is ignored, whatever the white space.
        alice.sender.send_line("\u{3000}\u{a0} ").await.expect("send");
        alice.say("after").await.expect("say");
        assert_eq!(next(&mut alice).await, lobby_message("alice", "after"));
        server.stop().await;
    });
}
