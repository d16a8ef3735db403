//! One order per room while people talk in several rooms at once, and quits and renames
//! told exactly once to each person who shares a room, however many rooms they share.

mod common;

use common::*;
use smolchat::client::Client;
use smolchat::proto::chat::Line;
use smolchat::server::Config;

/// A server where nobody lands in a room, so each test says exactly who shares what.
async fn roomless() -> TestServer {
    TestServer::start(Config { default_room: None, ..quick() }).await
}

/// Registers `nick` and joins each of `rooms`.
async fn member(server: &TestServer, nick: &str, rooms: &[&str]) -> Client {
    let mut client = server.join(nick).await;
    for room in rooms {
        join_room(&mut client, nick, room).await;
    }
    client
}

fn message(room: &str, from: &str, text: &str) -> Line {
    Line::Message { room: s(room), from: s(from), text: s(text) }
}

/// The room a line is about, if it is about one.
fn room_of(line: &Line) -> Option<&str> {
    match line {
        Line::Message { room, .. }
        | Line::Action { room, .. }
        | Line::Join { room, .. }
        | Line::Leave { room, .. }
        | Line::Topic { room, .. } => Some(room),
        _ => None,
    }
}

/// What `lines` show of `room`, from its `go` marker on.
fn room_sequence(lines: &[Line], room: &str) -> Vec<Line> {
    let go = message(room, "conductor", "go");
    let start = lines.iter().position(|line| *line == go).expect("the go marker");
    lines[start..].iter().filter(|line| room_of(line) == Some(room)).cloned().collect()
}

const PER_ROOM: usize = 40;

/// Who talks where: each sender is in two or three rooms and talks in all of them.
const SENDERS: &[(&str, &[&str])] = &[
    ("s0", &["#a", "#b"]),
    ("s1", &["#b", "#c"]),
    ("s2", &["#c", "#a"]),
    ("s3", &["#a", "#b", "#c"]),
];

/// Who only listens, from which rooms.
const WATCHERS: &[(&str, &[&str])] = &[
    ("w0", &["#a"]),
    ("w1", &["#a", "#b"]),
    ("w2", &["#b", "#c"]),
    ("w3", &["#a", "#b", "#c"]),
    ("w4", &["#c"]),
];

/// How many messages each room carries.
fn expected_in(room: &str) -> usize {
    SENDERS.iter().filter(|(_, rooms)| rooms.contains(&room)).count() * PER_ROOM
}

/// Reads until every room of `rooms` has carried all its messages and the churner has
/// left the rooms it passed through.
async fn watch(mut client: Client, rooms: &'static [&'static str]) -> Vec<Line> {
    within("all the rooms' traffic", async {
        let mut seen: Vec<Line> = Vec::new();
        let done = |seen: &[Line]| {
            rooms.iter().all(|room| {
                let messages = seen
                    .iter()
                    .filter(|l| matches!(l, Line::Message { room: r, from, .. } if r == room && from != "conductor"))
                    .count();
                let churned = *room == "#c"
                    || seen.iter().any(|l| matches!(l, Line::Leave { room: r, nick, .. } if r == room && nick == "churn"));
                messages == expected_in(room) && churned
            })
        };
        while !done(&seen) {
            seen.push(client.next().await.expect("connection ended"));
        }
        seen
    })
    .await
}

#[test]
fn every_member_of_a_room_sees_it_in_one_order_while_people_talk_in_several() {
    smol::block_on(async {
        let server = roomless().await;
        let mut watchers = Vec::new();
        for (nick, rooms) in WATCHERS {
            watchers.push((rooms, member(&server, nick, rooms).await));
        }
        let mut senders = Vec::new();
        for (nick, rooms) in SENDERS {
            senders.push((*nick, *rooms, member(&server, nick, rooms).await));
        }
        let mut conductor = member(&server, "conductor", &["#a", "#b", "#c"]).await;
        for room in ["#a", "#b", "#c"] {
            say_in(&conductor, room, "go").await;
            wait_message(&mut conductor, "conductor", "go").await;
        }
        let watching: Vec<_> = watchers
            .into_iter()
            .map(|(rooms, client)| (*rooms, smol::spawn(watch(client, rooms))))
            .collect();
        let talking: Vec<_> = senders
            .into_iter()
            .map(|(nick, rooms, client)| {
                smol::spawn(async move {
                    for n in 0..PER_ROOM {
                        for room in rooms {
                            say_in(&client, room, &format!("{nick} {n}")).await;
                        }
                    }
                    client
                })
            })
            .collect();
        // Someone comes and goes through two rooms while the others talk.
        let mut churn = member(&server, "churn", &["#a", "#b"]).await;
        for room in ["#a", "#b"] {
            churn.sender.send_line(&format!("/part {room}")).await.expect("part");
        }
        wait_for(&mut churn, "ROOM", |l| *l == Line::Room { room: None }).await;
        let mut kept = Vec::new();
        for task in talking {
            kept.push(within("senders", task).await);
        }
        let mut seen = Vec::new();
        for (rooms, task) in watching {
            seen.push((rooms, within("watchers", task).await));
        }
        for room in ["#a", "#b", "#c"] {
            let sequences: Vec<Vec<Line>> = seen
                .iter()
                .filter(|(rooms, _)| rooms.contains(&room))
                .map(|(_, lines)| room_sequence(lines, room))
                .collect();
            assert!(sequences.len() >= 2, "{room} has too few watchers to compare");
            for other in &sequences[1..] {
                assert_eq!(other, &sequences[0], "two members saw {room} in different orders");
            }
            for (nick, rooms) in SENDERS.iter().filter(|(_, rooms)| rooms.contains(&room)) {
                let mine: Vec<String> = sequences[0]
                    .iter()
                    .filter_map(|l| match l {
                        Line::Message { from, text, .. } if from == nick => Some(text.clone()),
                        _ => None,
                    })
                    .collect();
                let sent: Vec<String> = (0..PER_ROOM).map(|n| format!("{nick} {n}")).collect();
                assert_eq!(mine, sent, "{nick}'s messages in {room} lost or reordered ({rooms:?})");
            }
        }
        drop(kept);
        server.stop().await;
    });
}

/// Once the sentinel has heard `marker` (a quit or a rename), it says `after` in each of
/// `rooms`; returns what `client` saw up to every one of those.
async fn until_after(client: &mut Client, rooms: &[&str]) -> Vec<Line> {
    let ends: Vec<Line> = rooms.iter().map(|room| message(room, "sentinel", "after")).collect();
    lines_until_all(client, &ends).await
}

/// The sentinel (in every room) waits for `marker`, then says `after` in each of `rooms`;
/// returns everything it saw up to its own last `after`.
async fn sentinel_says_after(sentinel: &mut Client, marker: &Line, rooms: &[&str]) -> Vec<Line> {
    let mut seen = lines_until_all(sentinel, std::slice::from_ref(marker)).await;
    for room in rooms {
        say_in(sentinel, room, "after").await;
    }
    seen.extend(until_after(sentinel, rooms).await);
    seen
}

#[test]
fn a_person_in_three_rooms_who_leaves_is_announced_once_to_each_peer_after_their_last_words() {
    smol::block_on(async {
        let server = roomless().await;
        let rooms = ["#a", "#b", "#c", "#d"];
        let mut sentinel = member(&server, "sentinel", &rooms).await;
        let mut all = member(&server, "all", &["#a", "#b", "#c"]).await;
        let mut two = member(&server, "two", &["#a", "#b"]).await;
        let mut one = member(&server, "one", &["#c"]).await;
        let mut apart = member(&server, "apart", &["#d"]).await;
        let quitter = member(&server, "quitter", &["#a", "#b", "#c"]).await;
        for room in ["#a", "#b", "#c"] {
            say_in(&quitter, room, &format!("last in {room}")).await;
        }
        quitter.sender.quit(Some("bye")).await.expect("quit");
        let gone = quit("quitter", "quit: bye");
        let heard = sentinel_says_after(&mut sentinel, &gone, &rooms).await;
        assert_eq!(heard.iter().filter(|l| **l == gone).count(), 1, "{heard:?}");
        for (client, shared) in [
            (&mut all, &["#a", "#b", "#c"][..]),
            (&mut two, &["#a", "#b"][..]),
            (&mut one, &["#c"][..]),
        ] {
            let seen = until_after(client, shared).await;
            let quits: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] == gone).collect();
            assert_eq!(quits.len(), 1, "{seen:?}");
            for room in shared {
                let last = message(room, "quitter", &format!("last in {room}"));
                let said = seen.iter().position(|l| *l == last);
                assert!(said.is_some_and(|said| said < quits[0]), "{room}: {seen:?}");
            }
        }
        let seen = until_after(&mut apart, &["#d"]).await;
        assert!(!seen.contains(&gone), "{seen:?}");
        server.stop().await;
    });
}

#[test]
fn a_rename_is_announced_once_to_each_peer_and_to_the_renamer() {
    smol::block_on(async {
        let server = roomless().await;
        let rooms = ["#a", "#b", "#c", "#d"];
        let mut sentinel = member(&server, "sentinel", &rooms).await;
        let mut two = member(&server, "two", &["#a", "#b"]).await;
        let mut apart = member(&server, "apart", &["#d"]).await;
        let mut renamer = member(&server, "bob", &["#a", "#b", "#c"]).await;
        renamer.sender.send_line("/nick robert").await.expect("nick");
        let renamed = Line::Rename { old: s("bob"), new: s("robert") };
        let heard = sentinel_says_after(&mut sentinel, &renamed, &rooms).await;
        assert_eq!(heard.iter().filter(|l| **l == renamed).count(), 1, "{heard:?}");
        for (client, shared) in
            [(&mut two, &["#a", "#b"][..]), (&mut renamer, &["#a", "#b", "#c"][..])]
        {
            let seen = until_after(client, shared).await;
            assert_eq!(seen.iter().filter(|l| **l == renamed).count(), 1, "{seen:?}");
        }
        let seen = until_after(&mut apart, &["#d"]).await;
        assert!(!seen.contains(&renamed), "{seen:?}");
        // In no room at all, the renamer still hears its own rename.
        let mut loner = server.join("loner").await;
        loner.sender.send_line("/nick hermit").await.expect("nick");
        let own = Line::Rename { old: s("loner"), new: s("hermit") };
        assert_eq!(next(&mut loner).await, own);
        server.stop().await;
    });
}

/// `n` silent members of `room`, so that it is big enough for its batches to wait after a
/// flush (16 µs per member for arrivals and departures): kept, never read.
async fn crowd(server: &TestServer, tag: &str, room: &str, n: usize) -> Vec<Client> {
    let mut crowd = Vec::with_capacity(n);
    for i in 0..n {
        let nick = format!("{tag}{i}");
        crowd.push(member(server, &nick, &[room]).await);
    }
    crowd
}

/// Whether `first` comes before `then` in what `client` sees, reading until both came.
async fn comes_before(client: &mut Client, first: &Line, then: &Line) -> bool {
    let seen = lines_until_all(client, &[first.clone(), then.clone()]).await;
    let position = |line: &Line| seen.iter().position(|l| l == line);
    position(first) < position(then)
}

#[test]
fn a_rename_reaches_everyone_before_what_the_renamed_says_next_in_a_smaller_room() {
    smol::block_on(async {
        let server = roomless().await;
        let _crowd = crowd(&server, "c", "#big", 150).await;
        let mut bob = member(&server, "bob", &["#big", "#small"]).await;
        let mut alice = member(&server, "alice", &["#big", "#small"]).await;
        // A line in #big: its next batch now waits a few milliseconds after this flush.
        say_in(&alice, "#big", "hello big").await;
        wait_message(&mut alice, "alice", "hello big").await;
        alice.sender.send_line("/nick alice2").await.expect("nick");
        say_in(&alice, "#small", "hi").await;
        let renamed = Line::Rename { old: s("alice"), new: s("alice2") };
        assert!(comes_before(&mut bob, &renamed, &message("#small", "alice2", "hi")).await);
        server.stop().await;
    });
}

#[test]
fn a_join_reaches_everyone_before_the_joiners_quit() {
    smol::block_on(async {
        let server = roomless().await;
        let _big = crowd(&server, "c", "#big", 150).await;
        let _mid = crowd(&server, "d", "#mid", 100).await;
        let mut bob = member(&server, "bob", &["#big", "#mid"]).await;
        let mut alice = member(&server, "alice", &["#big"]).await;
        join_room(&mut alice, "alice", "#mid").await;
        alice.sender.quit(None).await.expect("quit");
        let joined = Line::Join { room: s("#mid"), nick: s("alice") };
        assert!(comes_before(&mut bob, &joined, &quit("alice", "quit")).await);
        server.stop().await;
    });
}

#[test]
fn a_part_reaches_everyone_before_the_parters_rename() {
    smol::block_on(async {
        let server = roomless().await;
        let _big = crowd(&server, "c", "#big", 150).await;
        let _mid = crowd(&server, "d", "#mid", 100).await;
        let mut bob = member(&server, "bob", &["#big", "#mid"]).await;
        let alice = member(&server, "alice", &["#big", "#mid"]).await;
        alice.sender.send_line("/part #mid").await.expect("part");
        alice.sender.send_line("/nick alice2").await.expect("nick");
        let left = Line::Leave { room: s("#mid"), nick: s("alice"), reason: s("part") };
        let renamed = Line::Rename { old: s("alice"), new: s("alice2") };
        assert!(comes_before(&mut bob, &left, &renamed).await);
        server.stop().await;
    });
}

#[test]
fn whoever_takes_a_name_next_is_heard_of_after_the_old_holders_quit() {
    smol::block_on(async {
        let server = roomless().await;
        let _crowd = crowd(&server, "c", "#big", 150).await;
        let mut bob = member(&server, "bob", &["#big", "#small"]).await;
        let alice = member(&server, "alice", &["#big"]).await;
        alice.sender.quit(None).await.expect("quit");
        // Told only by her quit, on the same connection: the name is free once it is done.
        let mut again = within("connect", Client::connect(server.addr)).await.expect("connect");
        let welcome = loop {
            match within("register", again.register("alice")).await {
                Ok(welcome) => break welcome,
                Err(_) => smol::Timer::after(std::time::Duration::from_millis(1)).await,
            };
        };
        assert_eq!(welcome.nick, "alice");
        join_room(&mut again, "alice", "#small").await;
        let joined = Line::Join { room: s("#small"), nick: s("alice") };
        assert!(comes_before(&mut bob, &quit("alice", "quit"), &joined).await);
        server.stop().await;
    });
}
