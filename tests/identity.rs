//! One namespace that people cannot game: nicknames and room names are the same under
//! Unicode case folding and width, look-alikes of a name in use are refused, and text that
//! could reorder what a reader sees is refused.

mod common;

use common::*;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::{Command, ErrorCode, Line};

/// Registers `first`, then tries `second` on a new connection; returns the refusal's code.
async fn refused_after(first: &str, second: &str) -> Option<ErrorCode> {
    let server = TestServer::default().await;
    let _holder = server.join(first).await;
    let mut client = within("connect", Client::connect(server.addr)).await.expect("connect");
    let code = match within("register", client.register(second)).await {
        Err(ClientError::Refused { code, .. }) => Some(code),
        Ok(_) => None,
        Err(error) => panic!("{second}: {error}"),
    };
    server.stop().await;
    code
}

#[test]
fn sharp_s_and_double_s_are_one_nickname() {
    smol::block_on(async {
        assert_eq!(refused_after("straße", "STRASSE").await, Some(ErrorCode::NickTaken));
    });
}

#[test]
fn every_sigma_is_one_nickname() {
    smol::block_on(async {
        assert_eq!(refused_after("ΣΧ", "σχ").await, Some(ErrorCode::NickTaken));
        assert_eq!(refused_after("σχ", "ςχ").await, Some(ErrorCode::NickTaken));
        assert_eq!(refused_after("ΣX", "ςx").await, Some(ErrorCode::NickTaken));
    });
}

#[test]
fn fullwidth_letters_are_the_same_nickname() {
    smol::block_on(async {
        assert_eq!(refused_after("alice", "ａlice").await, Some(ErrorCode::NickTaken));
        assert_eq!(refused_after("ＡＬＩＣＥ", "alice").await, Some(ErrorCode::NickTaken));
    });
}

#[test]
fn a_cyrillic_lookalike_is_refused_while_the_original_is_online() {
    smol::block_on(async {
        // `а` is U+0430 CYRILLIC SMALL LETTER A.
        assert_eq!(refused_after("alice", "\u{430}lice").await, Some(ErrorCode::NickConfusable));
        // All Cyrillic, one script: still looks like the Latin `ape`.
        assert_eq!(
            refused_after("ape", "\u{430}\u{440}\u{435}").await,
            Some(ErrorCode::NickConfusable)
        );
        assert_eq!(refused_after("m", "rn").await, Some(ErrorCode::NickConfusable));
        assert_eq!(refused_after("alice", "alicia").await, None);
    });
}

#[test]
fn a_lookalike_is_free_once_the_original_has_left() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let alice = server.join("alice").await;
        alice.sender.quit(None).await.expect("quit");
        wait_for(&mut watcher, "QUIT", |l| matches!(l, Line::Quit { .. })).await;
        let _impostor = server.join("\u{430}lice").await;
        server.stop().await;
    });
}

#[test]
fn renames_follow_the_same_rules_and_a_new_spelling_of_ones_own_name_is_allowed() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let _alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        bob.send(&Command::Nick("\u{430}lice".into())).await.expect("nick");
        assert_eq!(next_error(&mut bob).await, ErrorCode::NickConfusable);
        bob.send(&Command::Nick("ＡＬＩＣＥ".into())).await.expect("nick");
        assert_eq!(next_error(&mut bob).await, ErrorCode::NickTaken);
        bob.send(&Command::Nick("Bob".into())).await.expect("nick");
        let renamed = Line::Rename { old: s("bob"), new: s("Bob") };
        wait_for(&mut bob, "RENAME", |l| *l == renamed).await;
        server.stop().await;
    });
}

#[test]
fn the_same_nickname_again_changes_nothing_and_announces_nothing() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let alice = server.join("alice").await;
        alice.send(&Command::Nick("alice".into())).await.expect("nick");
        alice.say("still alice").await.expect("say");
        let seen = lines_until_all(&mut watcher, &[lobby_message("alice", "still alice")]).await;
        assert!(!seen.iter().any(|l| matches!(l, Line::Rename { .. })), "{seen:?}");
        server.stop().await;
    });
}

#[test]
fn private_messages_find_their_target_under_folding() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("Alice").await;
        let bob = server.join("bob").await;
        for to in ["ALICE", "ａlice"] {
            bob.send(&Command::Msg { to: s(to), text: s("psst") }).await.expect("msg");
            let want = Line::Private { from: s("bob"), to: s("Alice"), text: s("psst") };
            wait_for(&mut alice, "PRIV", |l| *l == want).await;
        }
        server.stop().await;
    });
}

#[test]
fn room_names_fold_and_a_lookalike_room_is_refused() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        // `#LOBBY` is the lobby: joining it only makes it current.
        bob.sender.send_line("/join #LOBBY").await.expect("join");
        assert_eq!(next(&mut bob).await, Line::Room { room: Some(s(LOBBY)) });
        // `о` is U+043E CYRILLIC SMALL LETTER O.
        alice.sender.send_line("/join #l\u{43e}bby").await.expect("join");
        assert_eq!(next_error(&mut alice).await, ErrorCode::RoomConfusable);
        join_room(&mut alice, "alice", "#Straße").await;
        // The room keeps the name its maker wrote.
        bob.sender.send_line("/join #STRASSE").await.expect("join");
        let joined = Line::Join { room: s("#Straße"), nick: s("bob") };
        wait_for(&mut bob, "own JOIN #Straße", |l| *l == joined).await;
        wait_for(&mut alice, "bob in #Straße", |l| *l == joined).await;
        server.stop().await;
    });
}

#[test]
fn bidirectional_overrides_and_isolates_are_refused_and_marks_are_not() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        for control in ["\u{202E}", "\u{202A}", "\u{2066}", "\u{2069}"] {
            alice.say(&format!("evil{control}txt.exe")).await.expect("say");
            assert_eq!(next_error(&mut alice).await, ErrorCode::ControlChar, "{control:?}");
        }
        let marked = "abc \u{200F}שלום\u{200E} def";
        alice.say(marked).await.expect("say");
        wait_message(&mut alice, "alice", marked).await;
        // A nickname with one is refused before it is even read as a nickname.
        let mut client = within("connect", Client::connect(server.addr)).await.expect("connect");
        match within("register", client.register("bob\u{202E}")).await {
            Err(ClientError::Refused { code: ErrorCode::ControlChar, .. }) => {}
            other => panic!("expected control-char, got {other:?}"),
        }
        server.stop().await;
    });
}
