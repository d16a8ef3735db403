//! Several servers, one chat, against a real `redis-server` of each test's own: people on
//! different servers meet in one room and see one order of its events, whatever protocol
//! they speak; one nickname namespace; private messages, names and lists across servers;
//! history kept once; Redis going away and coming back, or pausing.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::irc::*;
use common::redis::{Proxy, RedisServer};
use common::*;
use futures_lite::future;
use smolchat::client::{Client, ClientError};
use smolchat::cluster::Node;
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::Config;

/// A lease no test waits for, long enough that a busy test machine never misses one (a
/// server beats every third of it).
const LEASE: Duration = Duration::from_millis(6000);

/// Starts `n` servers of one cluster on `redis`.
async fn cluster(redis: &RedisServer, n: usize) -> Vec<TestServer> {
    cluster_leased(redis, n, LEASE).await
}

/// Starts `n` servers of one cluster on `redis`, declared dead `lease` after their last
/// heartbeat.
async fn cluster_leased(redis: &RedisServer, n: usize, lease: Duration) -> Vec<TestServer> {
    cluster_of(redis, n, irc_config(), lease).await
}

/// Starts `n` servers of one cluster on `redis`, each with `config`, declared dead `lease`
/// after their last heartbeat.
async fn cluster_of(
    redis: &RedisServer,
    n: usize,
    config: Config,
    lease: Duration,
) -> Vec<TestServer> {
    let mut servers = Vec::with_capacity(n);
    for _ in 0..n {
        servers.push(TestServer::start_clustered(config.clone(), &redis.url(), lease).await);
    }
    servers
}

/// Two servers of a cluster on `redis`, with ann on the first and bob on the second, in
/// `#lobby`, each having heard the other arrive.
async fn ann_and_bob(redis: &RedisServer) -> (Vec<TestServer>, Client, Client) {
    ann_and_bob_leased(redis, LEASE).await
}

/// [`ann_and_bob`] with servers declared dead `lease` after their last heartbeat.
async fn ann_and_bob_leased(
    redis: &RedisServer,
    lease: Duration,
) -> (Vec<TestServer>, Client, Client) {
    let servers = cluster_leased(redis, 2, lease).await;
    let mut ann = servers[0].join("ann").await;
    let bob = servers[1].join("bob").await;
    wait_for(&mut ann, "bob's join", |line| *line == lobby_join("bob")).await;
    (servers, ann, bob)
}

/// Says `text` as `nick` until it is taken (echoed) rather than refused, a little apart:
/// the cluster may still be coming back.
async fn say_until_taken(client: &mut Client, nick: &str, text: &str) {
    let echo = lobby_message(nick, text);
    within("a line taken", async {
        loop {
            client.say(text).await.expect("say");
            let answer = wait_for(client, "its echo or a refusal", |line| {
                *line == echo || matches!(line, Line::Error { .. })
            })
            .await;
            if answer == echo {
                return;
            }
            smol::Timer::after(Duration::from_millis(100)).await;
        }
    })
    .await;
}

/// Registers `nick` on the server at `addr` once it takes changes again: a registration
/// refused as `cluster-unavailable` is tried again, a little apart. The client, settled,
/// or why the nickname was refused.
async fn join_when_back(addr: SocketAddr, nick: &str) -> Result<Client, ClientError> {
    within("a registration taken or refused", async {
        loop {
            match Client::join(addr, nick).await {
                Ok((mut client, _)) => {
                    settle(&mut client).await;
                    return Ok(client);
                }
                Err(ClientError::Refused { code: ErrorCode::ClusterUnavailable, .. }) => {
                    smol::Timer::after(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error),
            }
        }
    })
    .await
}

/// The fields of the hash at `key`, asked of Redis directly.
fn hash_fields(redis: &RedisServer, key: &str) -> Vec<String> {
    let client = ::redis::Client::open(redis.url()).expect("a redis url");
    let mut connection = client.get_connection().expect("connect");
    ::redis::cmd("HKEYS").arg(key).query(&mut connection).expect("HKEYS")
}

/// Stops every server.
async fn stop_all(servers: Vec<TestServer>) {
    for server in servers {
        server.stop().await;
    }
}

/// Skips lines until `MSG #lobby from text`.
async fn heard(client: &mut Client, from: &str, text: &str) {
    let want = lobby_message(from, text);
    wait_for(client, &format!("{from}: {text}"), |line| *line == want).await;
}

/// The room's messages a chat client reads until it has seen `count` of them.
async fn messages(client: &mut Client, count: usize) -> Vec<String> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        if let Line::Message { from, text, .. } = next(client).await {
            seen.push(format!("{from}: {text}"));
        }
    }
    seen
}

/// The room's messages an IRC client reads until it has seen `count` of them.
async fn irc_messages(irc: &mut Irc, count: usize) -> Vec<String> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        let msg = irc.next().await;
        if msg.is("PRIVMSG") && msg.param(0) == LOBBY {
            seen.push(format!("{}: {}", msg.nick(), msg.last()));
        }
    }
    seen
}

#[test]
fn members_on_three_servers_and_two_protocols_see_one_order() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let servers = cluster(&redis, 3).await;
        let mut chats = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            chats.push(server.join(&format!("chat{i}")).await);
        }
        let mut ircs = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let mut irc = Irc::online(server.irc, &format!("irc{i}")).await;
            irc.join(LOBBY).await;
            ircs.push(irc);
        }
        // Everyone has heard everyone arrive: the last IRC client's join, everywhere.
        let last = lobby_join("irc2");
        for chat in &mut chats {
            wait_for(chat, "the last join", |line| *line == last).await;
        }
        for irc in &mut ircs[..2] {
            irc.wait_line("the last join", |msg| msg.is("JOIN") && msg.nick() == "irc2").await;
        }
        const EACH: usize = 40;
        let talk = chats.iter().enumerate().map(|(i, chat)| async move {
            for n in 0..EACH {
                chat.say(&format!("c{i} {n}")).await.expect("say");
            }
        });
        let irc_talk = ircs.iter_mut().enumerate().map(|(i, irc)| async move {
            for n in 0..EACH {
                irc.send(&format!("PRIVMSG {LOBBY} :i{i} {n}")).await;
            }
        });
        let sends = future::zip(
            async {
                for sending in talk {
                    sending.await;
                }
            },
            async {
                for sending in irc_talk {
                    sending.await;
                }
            },
        );
        within("every send", sends).await;
        let total = EACH * 6;
        let mut orders = Vec::new();
        for chat in &mut chats {
            orders.push(within("chat messages", messages(chat, total)).await);
        }
        for irc in &mut ircs {
            // IRC clients are not echoed their own messages: compare the others'.
            let own = irc.nick.clone();
            let seen = within("irc messages", irc_messages(irc, total - EACH)).await;
            orders.push(seen.into_iter().filter(|line| !line.starts_with(&own)).collect());
        }
        let reference: Vec<&String> = orders[0].iter().collect();
        assert_eq!(orders[0].iter().collect::<HashSet<_>>().len(), total, "each message once");
        for (i, order) in orders.iter().enumerate() {
            let expected: Vec<&String> = match i {
                0..=2 => reference.clone(),
                _ => {
                    let own = format!("irc{}:", i - 3);
                    reference.iter().copied().filter(|line| !line.starts_with(&own)).collect()
                }
            };
            assert_eq!(order.iter().collect::<Vec<_>>(), expected, "reader {i} saw another order");
        }
        stop_all(servers).await;
    });
}

#[test]
fn of_two_people_racing_for_one_nickname_on_two_servers_exactly_one_wins() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let servers = cluster(&redis, 2).await;
        for round in 0..20 {
            let nick = format!("racer{round}");
            // Every other round, a look-alike (Cyrillic а) races the plain name.
            let other = match round % 2 {
                0 => nick.clone(),
                _ => nick.replacen('a', "а", 1),
            };
            let (a, b) = within(
                "the race",
                future::zip(
                    Client::join(servers[0].addr, &nick),
                    Client::join(servers[1].addr, &other),
                ),
            )
            .await;
            let won = [a.is_ok(), b.is_ok()];
            assert_eq!(won.iter().filter(|won| **won).count(), 1, "round {round}: {won:?}");
            let refusal = match (a, b) {
                (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
                _ => unreachable!("one won"),
            };
            let ClientError::Refused { code, .. } = refusal else { panic!("{refusal:?}") };
            assert!(matches!(code, ErrorCode::NickTaken | ErrorCode::NickConfusable), "{code:?}");
        }
        stop_all(servers).await;
    });
}

#[test]
fn private_messages_names_lists_and_renames_cross_servers() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (servers, mut ann, mut bob) = ann_and_bob(&redis).await;
        bob.sender.send_line("/msg ann psst").await.expect("msg");
        let private = Line::Private { from: s("bob"), to: s("ann"), text: s("psst") };
        wait_for(&mut ann, "the private message", |line| *line == private).await;
        ann.sender.send_line("/names").await.expect("names");
        let names = Line::Names { room: s(LOBBY), nicks: vec![s("ann"), s("bob")] };
        wait_for(&mut ann, "NAMES", |line| *line == names).await;
        ann.sender.send_line("/ison BOB nobody").await.expect("ison");
        let online = Line::Online { nicks: vec![s("bob")] };
        wait_for(&mut ann, "ONLINE", |line| *line == online).await;
        join_room(&mut bob, "bob", "#side").await;
        ann.sender.send_line("/list").await.expect("list");
        let side = Line::List { room: s("#side"), members: 1, topic: String::new() };
        wait_for(&mut ann, "#side in the list", |line| *line == side).await;
        ann.sender.send_line("/nick anna").await.expect("nick");
        let rename = Line::Rename { old: s("ann"), new: s("anna") };
        wait_for(&mut bob, "ann's rename", |line| *line == rename).await;
        // The old name is free everywhere, the new one taken everywhere.
        let (mut again, _) = Client::join(servers[1].addr, "ann").await.expect("ann is free");
        settle(&mut again).await;
        let Err(taken) = Client::join(servers[1].addr, "anna").await else {
            panic!("anna was free on the other server");
        };
        assert!(matches!(taken, ClientError::Refused { code: ErrorCode::NickTaken, .. }));
        // An IRC client on the other server asks who is who.
        let mut irc = Irc::online(servers[1].irc, "carol").await;
        irc.send("WHOIS anna").await;
        let whois = irc.wait_numeric("311").await;
        assert_eq!(whois.param(1), "anna", "{whois:?}");
        // Invisible on one server, she is invisible on the other.
        let mut dora = Irc::online(servers[0].irc, "dora").await;
        dora.send("MODE dora +i").await;
        dora.wait_line("her MODE", |m| m.is("MODE")).await;
        // What she says next comes after it in the log, on every server.
        dora.send("PRIVMSG carol :now you don't").await;
        irc.wait_line("dora's message", |m| m.is("PRIVMSG")).await;
        irc.send("LUSERS").await;
        let lusers = irc.lines_until("266", |m| m.is_numeric("266")).await;
        let users = lusers.iter().find(|m| m.is_numeric("251")).expect("251");
        assert_eq!(users.last(), "There are 4 users and 1 invisible on 1 servers");
        irc.send("WHO d*").await;
        let who = irc.lines_until("315", |m| m.is_numeric("315")).await;
        assert_eq!(commands(&who), ["315"], "{who:#?}");
        drop(again);
        stop_all(servers).await;
    });
}

#[test]
fn joins_parts_and_quits_on_one_server_are_announced_on_the_others() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (servers, mut ann, bob) = ann_and_bob(&redis).await;
        bob.sender.send_line("/part #lobby see you").await.expect("part");
        let part = Line::Leave { room: s(LOBBY), nick: s("bob"), reason: s("part: see you") };
        wait_for(&mut ann, "bob's part", |line| *line == part).await;
        bob.sender.send_line("/join #lobby").await.expect("join");
        wait_for(&mut ann, "bob back", |line| *line == lobby_join("bob")).await;
        bob.sender.send_line("/quit bye now").await.expect("quit");
        wait_for(&mut ann, "bob's quit", |line| *line == quit("bob", "quit: bye now")).await;
        stop_all(servers).await;
    });
}

#[test]
fn what_is_said_on_two_servers_is_kept_once_and_replayed_to_a_newcomer() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (servers, mut ann, mut bob) = ann_and_bob(&redis).await;
        ann.say("one").await.expect("say");
        heard(&mut bob, "ann", "one").await;
        bob.say("two").await.expect("say");
        heard(&mut ann, "bob", "two").await;
        ann.sender.send_line("/history #lobby 10").await.expect("history");
        let mut replayed = Vec::new();
        loop {
            match next(&mut ann).await {
                Line::History { line, .. } => replayed.push(line),
                Line::HistoryEnd { .. } => break,
                _ => {}
            }
        }
        assert_eq!(replayed.len(), 2, "each line once: {replayed:?}");
        stop_all(servers).await;
    });
}

#[test]
fn while_redis_is_away_talk_is_refused_and_everyone_is_told_then_it_resumes() {
    let Some(mut redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (servers, mut ann, mut bob) = ann_and_bob(&redis).await;
        ann.say("before").await.expect("say");
        heard(&mut bob, "ann", "before").await;
        redis.stop();
        ann.say("during").await.expect("say");
        assert_eq!(next_error(&mut ann).await, ErrorCode::ClusterUnavailable);
        let lost =
            |line: &Line| matches!(line, Line::Info { text } if text.contains("unavailable"));
        wait_for(&mut bob, "the outage told", lost).await;
        redis.start_again();
        let back = |line: &Line| matches!(line, Line::Info { text } if text.contains("is back"));
        wait_for(&mut bob, "the end of the outage told", back).await;
        // Both servers read the new log from where they were: talk flows both ways again.
        say_until_taken(&mut bob, "bob", "after").await;
        heard(&mut ann, "bob", "after").await;
        stop_all(servers).await;
    });
}

#[test]
fn a_paused_redis_delays_or_refuses_talk_and_loses_none_of_it() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let lease = Duration::from_millis(4500);
        let (servers, mut ann, mut bob) = ann_and_bob_leased(&redis, lease).await;
        // Shorter than the lease by more than a beat (1.5 s): nobody is declared dead.
        redis.pause(1500);
        ann.say("held").await.expect("say");
        let echo = lobby_message("ann", "held");
        let outcome = wait_for(&mut ann, "its echo or a refusal", |line| {
            *line == echo || matches!(line, Line::Error { .. })
        })
        .await;
        say_until_taken(&mut ann, "ann", "after").await;
        let mut said = Vec::new();
        while said.last().map(String::as_str) != Some("after") {
            if let Line::Message { text, .. } = next(&mut bob).await {
                said.push(text);
            }
        }
        // Held by Redis, it comes before what followed; refused, it never comes.
        match outcome {
            Line::Error { code, .. } => {
                assert_eq!(code, ErrorCode::ClusterUnavailable);
                assert_eq!(said, ["after"]);
            }
            _ => assert_eq!(said, ["held", "after"]),
        }
        // Nobody left on either side.
        bob.sender.send_line("/names").await.expect("names");
        let names = Line::Names { room: s(LOBBY), nicks: vec![s("ann"), s("bob")] };
        wait_for(&mut bob, "NAMES", |line| *line == names).await;
        stop_all(servers).await;
    });
}

#[test]
fn accounts_and_room_registrations_made_on_one_server_hold_on_the_others() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let (servers, mut ann, mut bob) = ann_and_bob(&redis).await;
        let account = Line::Account { nick: Some(s("ann")) };
        ann.sender.send_line("/register correct-horse").await.expect("register");
        wait_for(&mut ann, "ACCOUNT ann", |line| *line == account).await;
        ann.sender.send_line("/register-room").await.expect("register the room");
        wait_for(&mut ann, "INFO", |line| matches!(line, Line::Info { .. })).await;
        // The other server knows whose room it is.
        bob.sender.send_line("/topic mine now").await.expect("topic");
        assert_eq!(next_error(&mut bob).await, ErrorCode::NotOwner);
        ann.sender.quit(None).await.expect("quit");
        drain(&mut ann).await;
        wait_for(
            &mut bob,
            "ann's quit",
            |line| matches!(line, Line::Quit { nick, .. } if nick == "ann"),
        )
        .await;
        // And the account: identifying as ann on the other server takes her name and room.
        let mut carl = servers[1].join("carl").await;
        carl.sender.send_line("/identify ann correct-horse").await.expect("identify");
        wait_for(&mut carl, "ACCOUNT ann", |line| *line == account).await;
        carl.sender.send_line("/topic back").await.expect("topic");
        let topic = Line::Topic { room: s(LOBBY), by: s("ann"), text: s("back") };
        wait_for(&mut bob, "ann's topic", |line| *line == topic).await;
        // Given up on one server, the room is anyone's on the other.
        carl.sender.send_line("/drop-room").await.expect("drop the room");
        wait_for(&mut carl, "INFO", |line| matches!(line, Line::Info { .. })).await;
        let dave = servers[0].join("dave").await;
        dave.sender.send_line("/topic anyone's").await.expect("topic");
        let topic = Line::Topic { room: s(LOBBY), by: s("dave"), text: s("anyone's") };
        wait_for(&mut bob, "dave's topic", |line| *line == topic).await;
        stop_all(servers).await;
    });
}

#[test]
fn a_server_replaying_the_log_does_not_write_back_a_dropped_rooms_registration() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let mut servers = cluster(&redis, 1).await;
        let mut ann = servers[0].join("ann").await;
        // ann registers herself and the room, sets its topic, and drops it all.
        ann.sender.send_line("/register correct-horse").await.expect("register");
        let account = Line::Account { nick: Some(s("ann")) };
        wait_for(&mut ann, "ACCOUNT ann", |line| *line == account).await;
        ann.sender.send_line("/register-room").await.expect("register the room");
        wait_for(&mut ann, "INFO", |line| matches!(line, Line::Info { .. })).await;
        ann.sender.send_line("/topic ours").await.expect("topic");
        wait_for(&mut ann, "TOPIC", |line| matches!(line, Line::Topic { .. })).await;
        ann.sender.send_line("/drop").await.expect("drop");
        wait_for(&mut ann, "ACCOUNT", |line| *line == Line::Account { nick: None }).await;
        // Answered once Redis has it.
        assert_eq!(hash_fields(&redis, "smolchat:rooms"), Vec::<String>::new());
        // A new server replays the log, topic included. carl's registration there comes
        // after the replay, and his account is written after whatever the replay kept.
        servers.push(TestServer::start_clustered(irc_config(), &redis.url(), LEASE).await);
        let mut carl = servers[1].join("carl").await;
        carl.sender.send_line("/register battery-staple").await.expect("register");
        let account = Line::Account { nick: Some(s("carl")) };
        wait_for(&mut carl, "ACCOUNT carl", |line| *line == account).await;
        assert_eq!(hash_fields(&redis, "smolchat:accounts"), ["carl"]);
        let rooms = hash_fields(&redis, "smolchat:rooms");
        assert!(rooms.is_empty(), "the dropped room's registration is back: {rooms:?}");
        stop_all(servers).await;
    });
}

#[test]
fn servers_cut_off_for_longer_than_the_lease_hang_up_rather_than_split_their_rooms() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let servers = cluster_leased(&redis, 2, Duration::from_millis(1500)).await;
        let mut ann = servers[0].join("ann").await;
        let mut bob = servers[1].join("bob").await;
        wait_for(&mut ann, "bob's join", |line| *line == lobby_join("bob")).await;
        // Every server misses its heartbeats for longer than the lease: when Redis answers
        // again, the log declares them all dead at one entry, and each hangs up on its
        // people, who were quit on the others, rather than let them talk to half a room.
        redis.pause(3500);
        for client in [&mut ann, &mut bob] {
            let (seen, _) = drain(client).await;
            let told = seen
                .iter()
                .any(|line| matches!(line, Line::Info { text } if text.contains("reconnect")));
            assert!(told, "{seen:?}");
        }
        // The servers live on, as new lives: people meet again across them.
        let mut carl = servers[0].join("carl").await;
        let dora = servers[1].join("dora").await;
        wait_for(&mut carl, "dora's join", |line| *line == lobby_join("dora")).await;
        dora.say("hello again").await.expect("say");
        wait_for(&mut carl, "dora's message", |line| *line == lobby_message("dora", "hello again"))
            .await;
        stop_all(servers).await;
    });
}

#[test]
fn a_nick_freed_by_a_servers_death_and_retaken_elsewhere_is_known_on_the_revived_server() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let lease = Duration::from_millis(1500);
        let proxy = Proxy::start(redis.port()).await;
        let a = TestServer::start_clustered(irc_config(), &proxy.url(), lease).await;
        let b = TestServer::start_clustered(irc_config(), &redis.url(), lease).await;
        let mut ann = b.join("ann").await;
        let mut old_bob = a.join("bob").await;
        wait_for(&mut ann, "bob's join", |line| *line == lobby_join("bob")).await;
        // A is cut off for longer than the lease: B quits bob, and his nickname is free.
        proxy.cut().await;
        let lost = quit("bob", "server lost");
        wait_for(&mut ann, "bob lost", |line| *line == lost).await;
        let new_bob = b.join("bob").await;
        // A comes back, reads its own death, and hangs up on the old bob.
        proxy.heal();
        drain(&mut old_bob).await;
        // A knows the new bob: nobody else takes his name there, and he is heard there.
        let second = join_when_back(a.addr, "bob").await;
        let refused =
            matches!(second, Err(ClientError::Refused { code: ErrorCode::NickTaken, .. }));
        assert!(refused, "a second bob on the revived server: {:?}", second.map(|_| ()));
        let mut carl = join_when_back(a.addr, "carl").await.expect("carl on the revived server");
        new_bob.say("hello from the new bob").await.expect("say");
        heard(&mut carl, "bob", "hello from the new bob").await;
        stop_all(vec![a, b]).await;
    });
}

#[test]
fn someone_who_leaves_a_server_cut_off_leaves_at_one_entry_everywhere_so_a_rename_agrees() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        // Nothing here waits for the lease; long, so that the cut never outlasts it.
        let lease = Duration::from_secs(20);
        let proxy = Proxy::start(redis.port()).await;
        let a = TestServer::start_clustered(irc_config(), &proxy.url(), lease).await;
        let b = TestServer::start_clustered(irc_config(), &redis.url(), lease).await;
        let mut ann = b.join("ann").await;
        let mut dora = a.join("dora").await;
        let mut bob = a.join("bob").await;
        wait_for(&mut ann, "bob's join", |line| *line == lobby_join("bob")).await;
        // bob leaves A while it is cut off: his departure is owed to the log.
        proxy.cut().await;
        bob.sender.quit(None).await.expect("quit");
        drain(&mut bob).await;
        // On B bob is still online: ann cannot take his name. Her rename is in the log,
        // for A to apply when it reads it.
        ann.sender.send_line("/nick bob").await.expect("nick");
        assert_eq!(next_error(&mut ann).await, ErrorCode::NickTaken);
        proxy.heal();
        let left = |line: &Line| matches!(line, Line::Quit { nick, .. } if nick == "bob");
        wait_for(&mut ann, "bob's quit on B", left).await;
        wait_for(&mut dora, "bob's quit on A", left).await;
        // A refused the rename too: both servers call ann ann.
        ann.say("who am i").await.expect("say");
        let said = |line: &Line| matches!(line, Line::Message { text, .. } if text == "who am i");
        let heard = wait_for(&mut dora, "ann's line on A", said).await;
        assert_eq!(heard, lobby_message("ann", "who am i"), "A and B disagree on ann's name");
        stop_all(vec![a, b]).await;
    });
}

#[test]
fn a_server_whose_limits_differ_from_the_cluster_s_is_refused() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let servers = cluster(&redis, 1).await;
        let config = Config { max_topic: 12, ..irc_config() };
        let joined = Node::join(&redis.url(), config.limits(), config.retention(), LEASE).await;
        let Err(refused) = joined else { panic!("a server with other limits joined") };
        let text = refused.to_string();
        assert!(text.contains("topic-len=12") && text.contains("topic-len=300"), "{text}");
        stop_all(servers).await;
    });
}

#[test]
fn a_registration_refused_for_the_room_limit_is_refused_on_every_server() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        let config = Config { max_rooms_per_account: 1, ..irc_config() };
        let servers = cluster_of(&redis, 2, config, LEASE).await;
        let mut ann = servers[0].join("ann").await;
        let account = Line::Account { nick: Some(s("ann")) };
        ann.sender.send_line("/register correct-horse").await.expect("register");
        wait_for(&mut ann, "ACCOUNT ann", |line| *line == account).await;
        ann.sender.send_line("/register-room").await.expect("register the room");
        wait_for(&mut ann, "INFO", |line| matches!(line, Line::Info { .. })).await;
        join_room(&mut ann, "ann", "#two").await;
        ann.sender.send_line("/register-room #two").await.expect("register the room");
        assert_eq!(next_error(&mut ann).await, ErrorCode::TooManyOwnedRooms);
        // Nobody owns #two on the other server either: anyone sets its topic.
        let mut bob = servers[1].join("bob").await;
        join_room(&mut bob, "bob", "#two").await;
        bob.sender.send_line("/topic #two anyone's").await.expect("topic");
        let topic = Line::Topic { room: s("#two"), by: s("bob"), text: s("anyone's") };
        wait_for(&mut bob, "bob's topic", |line| *line == topic).await;
        stop_all(servers).await;
    });
}

#[test]
fn an_account_registered_after_its_session_stopped_waiting_is_kept_in_redis() {
    let Some(redis) = RedisServer::start() else { return };
    smol::block_on(async {
        // Redis held longer than a session waits for its turn (4 s), and shorter than the
        // lease by more than a beat (3 s), so that nobody is declared dead.
        let servers = cluster_leased(&redis, 1, Duration::from_millis(9000)).await;
        let mut ann = servers[0].join("ann").await;
        redis.pause(5000);
        ann.sender.send_line("/register correct-horse").await.expect("register");
        assert_eq!(next_error(&mut ann).await, ErrorCode::ClusterUnavailable);
        // The registration was appended all the same, and lands once Redis answers: the
        // server applies it from the log, and keeps it as if the session had waited.
        within("the account kept in Redis", async {
            while hash_fields(&redis, "smolchat:accounts").is_empty() {
                smol::Timer::after(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert_eq!(hash_fields(&redis, "smolchat:accounts"), ["ann"]);
        stop_all(servers).await;
    });
}
