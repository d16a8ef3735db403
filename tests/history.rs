//! Room history in the chat protocol: what a newcomer is given when it enters a room, what
//! `/history` gives, the limits on both, and private history between registered nicknames.

mod common;

use std::time::Duration;

use common::*;
use smolchat::client::Client;
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::Config;

/// Reads lines up to and including the first that `last` matches, and returns them.
async fn until(client: &mut Client, what: &str, last: impl Fn(&Line) -> bool) -> Vec<Line> {
    within(what, async {
        let mut seen = Vec::new();
        loop {
            let line = client.next().await.expect("a line");
            let done = last(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    })
    .await
}

/// Reads lines up to and including the `ROOM` line, and returns them.
async fn until_room(client: &mut Client) -> Vec<Line> {
    until(client, "lines up to ROOM", |line| matches!(line, Line::Room { .. })).await
}

/// Reads lines up to and including the next `HISTORYEND`, and returns them.
async fn until_history_end(client: &mut Client) -> Vec<Line> {
    until(client, "lines up to HISTORYEND", |line| matches!(line, Line::HistoryEnd { .. })).await
}

/// The texts of the `HISTORY` lines among `lines`, in order.
fn replayed(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| match line {
            Line::History { line, .. } => match line.as_ref() {
                Line::Message { text, .. } | Line::Action { text, .. } => Some(text.clone()),
                Line::Private { text, .. } => Some(text.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `ann` says `count` numbered messages in the lobby and reads their echoes.
async fn say_numbered(ann: &mut Client, count: usize) {
    for n in 1..=count {
        ann.say(&format!("m{n}")).await.expect("say");
    }
    wait_message(ann, "ann", &format!("m{count}")).await;
}

fn numbered(range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|n| format!("m{n}")).collect()
}

#[test]
fn a_newcomer_gets_the_last_messages_in_order_before_live_traffic() {
    smol::block_on(async {
        let server = TestServer::start(Config { history_replay: 5, ..quick() }).await;
        let mut ann = server.join("ann").await;
        say_numbered(&mut ann, 8).await;
        ann.sender.send_line("/me waves").await.expect("act");
        wait_for(&mut ann, "own action", |line| matches!(line, Line::Action { .. })).await;

        let (mut bob, _) =
            within("bob joins", Client::join(server.addr, "bob")).await.expect("bob");
        let landing = until_room(&mut bob).await;
        assert_eq!(replayed(&landing), ["m5", "m6", "m7", "m8", "waves"]);
        assert!(matches!(landing[0], Line::Join { .. }), "{landing:?}");
        let end = Line::HistoryEnd { of: s(LOBBY), count: 5 };
        assert_eq!(landing[landing.len() - 2], end, "{landing:?}");
        match &landing[1] {
            Line::History { line, .. } => assert_eq!(**line, lobby_message("ann", "m5")),
            other => panic!("expected the oldest replayed line first, got {other:?}"),
        }
        ann.say("live").await.expect("say");
        assert_eq!(next(&mut bob).await, lobby_message("ann", "live"));
        server.stop().await;
    });
}

#[test]
fn history_times_are_the_servers_and_in_order() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = server.join("ann").await;
        let before = std::time::SystemTime::now();
        say_numbered(&mut ann, 3).await;
        let (mut bob, _) =
            within("bob joins", Client::join(server.addr, "bob")).await.expect("bob");
        let times: Vec<_> = until_room(&mut bob)
            .await
            .into_iter()
            .filter_map(|line| match line {
                Line::History { at, .. } => Some(at),
                _ => None,
            })
            .collect();
        assert_eq!(times.len(), 3);
        assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
        // The wire carries milliseconds.
        let floor = before - Duration::from_millis(1);
        assert!(times[0] >= floor && times[2] <= std::time::SystemTime::now(), "{times:?}");
        server.stop().await;
    });
}

#[test]
fn an_empty_room_replays_nothing() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let (mut ann, _) =
            within("ann joins", Client::join(server.addr, "ann")).await.expect("ann");
        let landing = until_room(&mut ann).await;
        assert_eq!(landing, [lobby_join("ann"), Line::Room { room: Some(s(LOBBY)) }]);
        server.stop().await;
    });
}

#[test]
fn history_asks_for_more_within_the_limit() {
    smol::block_on(async {
        let config = Config { history_replay: 2, history_len: 6, ..quick() };
        let server = TestServer::start(config).await;
        let mut ann = server.join("ann").await;
        say_numbered(&mut ann, 4).await;
        // Without a store a room keeps only what it replays.
        ann.sender.send_line("/history 3").await.expect("history");
        let lines = until_history_end(&mut ann).await;
        assert_eq!(replayed(&lines), numbered(3..=4));
        assert_eq!(lines.last(), Some(&Line::HistoryEnd { of: s(LOBBY), count: 2 }));

        ann.sender.send_line("/history #nowhere").await.expect("history");
        assert_eq!(next_error(&mut ann).await, ErrorCode::NoSuchRoom);
        ann.sender.send_line("/history #lobby lots").await.expect("history");
        assert_eq!(next_error(&mut ann).await, ErrorCode::Usage);
        server.stop().await;
    });
}

#[test]
fn a_store_keeps_history_len_per_room_and_gives_it_to_history() {
    smol::block_on(async {
        let dir = TempDir::new("history-len");
        let config = Config { history_replay: 2, history_len: 6, ..quick() };
        let server = TestServer::start_in(config, &dir).await;
        let mut ann = server.join("ann").await;
        say_numbered(&mut ann, 10).await;
        ann.sender.send_line("/history #lobby 50").await.expect("history");
        let lines = until_history_end(&mut ann).await;
        assert_eq!(replayed(&lines), numbered(5..=10));
        server.stop().await;
    });
}

#[test]
fn history_len_zero_keeps_and_replays_nothing() {
    smol::block_on(async {
        let dir = TempDir::new("history-off");
        let config = Config { history_len: 0, ..quick() };
        let server = TestServer::start_in(config, &dir).await;
        let mut ann = server.join("ann").await;
        say_numbered(&mut ann, 3).await;
        let (mut bob, _) =
            within("bob joins", Client::join(server.addr, "bob")).await.expect("bob");
        assert!(replayed(&until_room(&mut bob).await).is_empty());
        bob.sender.send_line("/history").await.expect("history");
        let lines = until_history_end(&mut bob).await;
        assert_eq!(lines, [Line::HistoryEnd { of: s(LOBBY), count: 0 }]);
        server.stop().await;
    });
}

#[test]
fn a_room_made_again_replays_its_earlier_life_from_the_store() {
    smol::block_on(async {
        let dir = TempDir::new("history-again");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut ann = server.join("ann").await;
        join_room(&mut ann, "ann", "#old").await;
        say_in(&ann, "#old", "from before").await;
        wait_message(&mut ann, "ann", "from before").await;
        ann.sender.send_line("/part #old").await.expect("part");
        wait_for(&mut ann, "LEAVE", |line| matches!(line, Line::Leave { .. })).await;
        // The room is gone; made again, it remembers.
        let mut bob = server.join("bob").await;
        bob.sender.send_line("/join #old").await.expect("join");
        let lines = until_room(&mut bob).await;
        assert_eq!(replayed(&lines), ["from before"]);
        server.stop().await;
    });
}

#[test]
fn history_survives_a_restart_on_the_same_data_directory() {
    smol::block_on(async {
        let dir = TempDir::new("history-restart");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut ann = server.join("ann").await;
        say_numbered(&mut ann, 3).await;
        server.stop().await;

        let server = TestServer::start_in(quick(), &dir).await;
        let (mut bob, _) =
            within("bob joins", Client::join(server.addr, "bob")).await.expect("bob");
        assert_eq!(replayed(&until_room(&mut bob).await), numbered(1..=3));
        server.stop().await;
    });
}

#[test]
fn private_history_is_kept_only_between_identified_nicknames() {
    smol::block_on(async {
        let dir = TempDir::new("history-private");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut ann = server.join("ann").await;
        let mut bob = server.join("bob").await;
        ann.sender.send_line("/msg bob before registering").await.expect("msg");
        wait_for(&mut bob, "PRIV", |line| matches!(line, Line::Private { .. })).await;
        for (client, nick) in [(&mut ann, "ann"), (&mut bob, "bob")] {
            client.sender.send_line("/register correct-horse").await.expect("register");
            let account = Line::Account { nick: Some(s(nick)) };
            wait_for(client, "ACCOUNT", |line| *line == account).await;
        }
        ann.sender.send_line("/msg bob kept").await.expect("msg");
        wait_for(&mut bob, "PRIV", |line| matches!(line, Line::Private { .. })).await;
        bob.sender.send_line("/history ann").await.expect("history");
        let lines = until_history_end(&mut bob).await;
        assert_eq!(replayed(&lines), ["kept"]);
        assert_eq!(lines.last(), Some(&Line::HistoryEnd { of: s("ann"), count: 1 }));

        let mut cid = server.join("cid").await;
        cid.sender.send_line("/history ann").await.expect("history");
        assert_eq!(next_error(&mut cid).await, ErrorCode::NotIdentified);
        ann.sender.send_line("/history cid").await.expect("history");
        assert_eq!(next_error(&mut ann).await, ErrorCode::NoAccount);
        server.stop().await;
    });
}

#[test]
fn history_asked_by_a_member_never_shows_a_line_before_it_comes_live() {
    smol::block_on(async {
        let dir = TempDir::new("history-flush");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut ann = server.join("ann").await;
        // Said and asked about in one breath: the live line comes first.
        ann.say("just now").await.expect("say");
        ann.sender.send_line("/history 1").await.expect("history");
        let lines = until_history_end(&mut ann).await;
        let live = lines.iter().position(|line| *line == lobby_message("ann", "just now"));
        let replayed = lines.iter().position(|line| matches!(line, Line::History { .. }));
        assert!(live.is_some() && live < replayed, "{lines:?}");
        server.stop().await;
    });
}
