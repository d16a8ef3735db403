//! Rooms end to end: joining, parting, listing, topics, the current room, and the errors at
//! each edge.

mod common;

use common::*;
use smolchat::core::RoomName;
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::Config;

fn join_line(room: &str, nick: &str) -> Line {
    Line::Join { room: s(room), nick: s(nick) }
}

fn message(room: &str, from: &str, text: &str) -> Line {
    Line::Message { room: s(room), from: s(from), text: s(text) }
}

#[test]
fn registration_lands_in_the_lobby_and_ends_with_room() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let (mut alice, _) = within("join", smolchat::client::Client::join(server.addr, "alice"))
            .await
            .expect("join");
        assert_eq!(next(&mut alice).await, join_line(LOBBY, "alice"));
        assert_eq!(next(&mut alice).await, Line::Room { room: Some(s(LOBBY)) });
        server.stop().await;
    });
}

#[test]
fn a_join_is_heard_only_in_its_room_and_text_goes_to_the_current_room() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        let mut carol = server.join("carol").await;
        assert_eq!(next(&mut alice).await, lobby_join("bob"));
        join_room(&mut alice, "alice", "#rust").await;
        join_room(&mut bob, "bob", "#rust").await;
        assert_eq!(next(&mut alice).await, join_line("#rust", "bob"));
        // Plain text goes to the room joined last; /msg #room to any room one is in.
        bob.say("in rust").await.expect("say");
        say_in(&bob, LOBBY, "in the lobby").await;
        assert_eq!(next(&mut alice).await, message("#rust", "bob", "in rust"));
        assert_eq!(next(&mut alice).await, message(LOBBY, "bob", "in the lobby"));
        // Carol, in the lobby only, heard nothing of #rust.
        let seen = lines_until_all(&mut carol, &[message(LOBBY, "bob", "in the lobby")]).await;
        assert_eq!(seen, [message(LOBBY, "bob", "in the lobby")]);
        server.stop().await;
    });
}

#[test]
fn joining_a_room_again_only_makes_it_current() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        join_room(&mut alice, "alice", "#rust").await;
        alice.sender.send_line("/join #LOBBY").await.expect("join");
        assert_eq!(next(&mut alice).await, Line::Room { room: Some(s(LOBBY)) });
        alice.say("back here").await.expect("say");
        // Bob hears no second JOIN: the next lobby line is the message.
        let seen = lines_until_all(&mut bob, &[message(LOBBY, "alice", "back here")]).await;
        assert!(
            !seen.iter().any(|l| matches!(l, Line::Join { nick, .. } if nick == "alice")),
            "{seen:?}"
        );
        server.stop().await;
    });
}

#[test]
fn part_is_heard_by_the_room_and_the_parter_and_moves_the_current_room() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        join_room(&mut alice, "alice", "#rust").await;
        join_room(&mut bob, "bob", "#rust").await;
        alice.sender.send_line("/part #rust off to bed").await.expect("part");
        let leave =
            Line::Leave { room: s("#rust"), nick: s("alice"), reason: s("part: off to bed") };
        wait_for(&mut bob, "LEAVE", |l| *l == leave).await;
        wait_for(&mut alice, "own LEAVE", |l| *l == leave).await;
        assert_eq!(next(&mut alice).await, Line::Room { room: Some(s(LOBBY)) });
        // Parting the last room leaves her in none.
        alice.sender.send_line("/part").await.expect("part");
        let leave = Line::Leave { room: s(LOBBY), nick: s("alice"), reason: s("part") };
        assert_eq!(next(&mut alice).await, leave);
        assert_eq!(next(&mut alice).await, Line::Room { room: None });
        alice.say("anyone?").await.expect("say");
        assert_eq!(next_error(&mut alice).await, ErrorCode::NotInRoom);
        alice.sender.send_line("/part #rust").await.expect("part");
        assert_eq!(next_error(&mut alice).await, ErrorCode::NotInRoom);
        server.stop().await;
    });
}

#[test]
fn list_shows_rooms_with_counts_and_topics_and_an_empty_room_is_gone() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        join_room(&mut alice, "alice", "#Rust").await;
        alice.sender.send_line("/topic all about rust").await.expect("topic");
        wait_for(&mut alice, "TOPIC", |l| matches!(l, Line::Topic { .. })).await;
        bob.sender.send_line("/list").await.expect("list");
        let list = lines_until_all(&mut bob, &[Line::ListEnd { rooms: 2 }]).await;
        let rooms: Vec<&Line> = list.iter().filter(|l| matches!(l, Line::List { .. })).collect();
        let lobby = Line::List { room: s(LOBBY), members: 2, topic: s("") };
        let rust = Line::List { room: s("#Rust"), members: 1, topic: s("all about rust") };
        assert_eq!(rooms, [&lobby, &rust]);
        // The last one out takes the room and its topic with it.
        alice.sender.send_line("/part #rust").await.expect("part");
        wait_for(&mut alice, "ROOM", |l| matches!(l, Line::Room { .. })).await;
        bob.sender.send_line("/list").await.expect("list");
        let list = lines_until_all(&mut bob, &[Line::ListEnd { rooms: 1 }]).await;
        assert!(!list.contains(&rust), "{list:?}");
        join_room(&mut bob, "bob", "#rust").await;
        bob.sender.send_line("/topic").await.expect("topic");
        let info = wait_for(&mut bob, "INFO", |l| matches!(l, Line::Info { .. })).await;
        assert_eq!(info, Line::Info { text: s("#rust has no topic") });
        server.stop().await;
    });
}

#[test]
fn topics_are_set_shown_to_newcomers_and_cleared() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_topic: 10, ..quick() }).await;
        let mut alice = server.join("alice").await;
        alice.sender.send_line("/topic #lobby ten chars!").await.expect("topic");
        let topic = Line::Topic { room: s(LOBBY), by: s("alice"), text: s("ten chars!") };
        assert_eq!(next(&mut alice).await, topic);
        alice.sender.send_line("/topic eleven char").await.expect("topic");
        assert_eq!(next_error(&mut alice).await, ErrorCode::TopicTooLong);
        // A newcomer hears the topic between its own JOIN and ROOM.
        let (mut bob, _) =
            within("join", smolchat::client::Client::join(server.addr, "bob")).await.expect("join");
        assert_eq!(next(&mut bob).await, lobby_join("bob"));
        assert_eq!(next(&mut bob).await, topic);
        assert_eq!(next(&mut bob).await, Line::Room { room: Some(s(LOBBY)) });
        bob.sender.send_line("/topic -").await.expect("clear");
        let cleared = Line::Topic { room: s(LOBBY), by: s("bob"), text: s("") };
        wait_for(&mut alice, "cleared TOPIC", |l| *l == cleared).await;
        // Anyone may look at the topic of a room that exists, and nobody of one that does not.
        bob.sender.send_line("/topic #nowhere").await.expect("topic");
        assert_eq!(next_error(&mut bob).await, ErrorCode::NoSuchRoom);
        server.stop().await;
    });
}

#[test]
fn names_of_another_room_and_errors_for_bad_room_names() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        join_room(&mut bob, "bob", "#rust").await;
        alice.sender.send_line("/names #RUST").await.expect("names");
        let names = wait_for(&mut alice, "NAMES", |l| matches!(l, Line::Names { .. })).await;
        assert_eq!(names, Line::Names { room: s("#rust"), nicks: vec![s("bob")] });
        alice.sender.send_line("/names #nowhere").await.expect("names");
        assert_eq!(next_error(&mut alice).await, ErrorCode::NoSuchRoom);
        let too_long = format!("/join #{}", "a".repeat(51));
        for bad in ["/join rust", "/join #", "/join #a.b", too_long.as_str()] {
            alice.sender.send_line(bad).await.expect("join");
            assert_eq!(next_error(&mut alice).await, ErrorCode::RoomInvalid, "{bad}");
        }
        join_room(&mut alice, "alice", &format!("#{}", "a".repeat(50))).await;
        // Talking in a room one is not in is refused, and nobody there hears it.
        say_in(&alice, "#rust", "let me in").await;
        assert_eq!(next_error(&mut alice).await, ErrorCode::NotInRoom);
        server.stop().await;
    });
}

#[test]
fn rooms_per_client_and_rooms_on_the_server_are_limited_at_their_edges() {
    smol::block_on(async {
        let config = Config { max_rooms_per_client: 2, max_rooms: 3, ..quick() };
        let server = TestServer::start(config).await;
        let mut alice = server.join("alice").await;
        let mut bob = server.join("bob").await;
        // The lobby is one of alice's two rooms, and one of the server's three.
        join_room(&mut alice, "alice", "#a").await;
        alice.sender.send_line("/join #b").await.expect("join");
        assert_eq!(next_error(&mut alice).await, ErrorCode::TooManyRooms);
        join_room(&mut bob, "bob", "#b").await;
        bob.sender.send_line("/part #lobby").await.expect("part");
        // Not his current room: no ROOM line, only his own LEAVE.
        wait_for(&mut bob, "LEAVE", |l| matches!(l, Line::Leave { .. })).await;
        bob.sender.send_line("/join #c").await.expect("join");
        assert_eq!(next_error(&mut bob).await, ErrorCode::ServerRoomsFull);
        // Joining a room that exists is not making one.
        join_room(&mut bob, "bob", "#a").await;
        server.stop().await;
    });
}

#[test]
fn without_a_default_room_a_newcomer_is_in_none() {
    smol::block_on(async {
        let server = TestServer::start(Config { default_room: None, ..quick() }).await;
        let (mut alice, _) = within("join", smolchat::client::Client::join(server.addr, "alice"))
            .await
            .expect("join");
        assert_eq!(next(&mut alice).await, Line::Room { room: None });
        alice.say("hello?").await.expect("say");
        assert_eq!(next_error(&mut alice).await, ErrorCode::NotInRoom);
        let start = RoomName::parse("#start").ok();
        let server2 = TestServer::start(Config { default_room: start, ..quick() }).await;
        let (mut bob, _) = within("join", smolchat::client::Client::join(server2.addr, "bob"))
            .await
            .expect("join");
        assert_eq!(next(&mut bob).await, join_line("#start", "bob"));
        server.stop().await;
        server2.stop().await;
    });
}
