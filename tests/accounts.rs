//! Registered nicknames and rooms in the chat protocol: `/register`, `/identify`, `/drop`,
//! the grace period of a taken registered nickname, password guessing, and the rights of
//! a registered room's owner.

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use smolchat::client::Client;
use smolchat::core::{Memory as _, Scope, Stamped};
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::Config;
use smolchat::store::{Retention, Store};

const PASSWORD: &str = "correct-horse";

fn account(nick: &str) -> Line {
    Line::Account { nick: Some(s(nick)) }
}

/// Sends `line` and waits for `want`.
async fn expect_after(client: &mut Client, line: &str, want: Line) {
    client.sender.send_line(line).await.expect("send");
    let what = format!("{want:?} after {line}");
    wait_for(client, &what, |seen| *seen == want).await;
}

/// Sends `line` and returns the code of the `ERROR` it gets.
async fn error_after(client: &mut Client, line: &str) -> ErrorCode {
    client.sender.send_line(line).await.expect("send");
    next_error(client).await
}

/// Says goodbye and waits until the server has closed the connection, so the nickname
/// is free.
async fn leave(mut client: Client) {
    client.sender.quit(None).await.expect("quit");
    drain(&mut client).await;
}

/// A server with `config` where `ann` registered her nickname and left.
async fn ann_registered_and_gone(config: Config) -> TestServer {
    let server = TestServer::start(config).await;
    leave(registered(&server, "ann").await).await;
    server
}

/// `nick` joins and registers its nickname.
async fn registered(server: &TestServer, nick: &str) -> Client {
    let mut client = server.join(nick).await;
    expect_after(&mut client, &format!("/register {PASSWORD}"), account(nick)).await;
    client
}

#[test]
fn register_identify_and_drop() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = registered(&server, "ann").await;
        assert_eq!(error_after(&mut ann, "/register another-one").await, ErrorCode::AccountExists);
        leave(ann).await;

        let (mut back, _) = within("ann again", Client::join(server.addr, "ann")).await.expect("j");
        let ask = Line::Identify { nick: s("ann"), seconds: 30 };
        wait_for(&mut back, "IDENTIFY", |line| *line == ask).await;
        assert_eq!(error_after(&mut back, "/identify wrong-horse").await, ErrorCode::WrongPassword);
        expect_after(&mut back, &format!("/identify {PASSWORD}"), account("ann")).await;
        expect_after(&mut back, "/drop", Line::Account { nick: None }).await;
        assert_eq!(error_after(&mut back, "/drop").await, ErrorCode::NotIdentified);
        // Free again: anyone may register it.
        expect_after(&mut back, "/register new-password", account("ann")).await;
        server.stop().await;
    });
}

#[test]
fn passwords_must_be_long_enough_and_without_spaces() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = server.join("ann").await;
        assert_eq!(error_after(&mut ann, "/register short").await, ErrorCode::PasswordInvalid);
        // The longest is 256 bytes, whatever the characters: 129 two-byte ones are too many.
        let line = format!("/register {}", "é".repeat(129));
        assert_eq!(error_after(&mut ann, &line).await, ErrorCode::PasswordInvalid);
        assert_eq!(error_after(&mut ann, "/identify nobody whatever1").await, ErrorCode::NoAccount);
        expect_after(&mut ann, &format!("/register {}", "é".repeat(128)), account("ann")).await;
        server.stop().await;
    });
}

#[test]
fn a_registered_nickname_taken_without_identifying_becomes_a_guest_after_the_grace() {
    smol::block_on(async {
        let grace = Config { identify_grace: Duration::from_millis(300), ..quick() };
        let server = ann_registered_and_gone(grace).await;
        let mut watcher = server.join("watcher").await;

        let (mut taker, _) = within("taker", Client::join(server.addr, "ann")).await.expect("j");
        let ask = Line::Identify { nick: s("ann"), seconds: 1 };
        wait_for(&mut taker, "IDENTIFY", |line| *line == ask).await;
        let renamed = |line: &Line| matches!(line, Line::Rename { old, .. } if old == "ann");
        let Line::Rename { new, .. } = wait_for(&mut taker, "RENAME", renamed).await else {
            unreachable!()
        };
        assert!(new.starts_with("Guest"), "{new}");
        wait_for(&mut watcher, "the rename", renamed).await;
        server.stop().await;
    });
}

#[test]
fn identifying_in_time_keeps_the_nickname() {
    smol::block_on(async {
        let grace = Config { identify_grace: Duration::from_millis(300), ..quick() };
        let server = ann_registered_and_gone(grace).await;
        let (mut back, _) = within("back", Client::join(server.addr, "ann")).await.expect("j");
        expect_after(&mut back, &format!("/identify {PASSWORD}"), account("ann")).await;
        // Past the grace, a line still comes from ann: nobody renamed her.
        smol::Timer::after(Duration::from_millis(500)).await;
        back.say("still me").await.expect("say");
        wait_message(&mut back, "ann", "still me").await;
        server.stop().await;
    });
}

#[test]
fn taking_a_registered_nickname_again_starts_a_whole_new_grace_period() {
    smol::block_on(async {
        let grace = Duration::from_millis(2000);
        let server = ann_registered_and_gone(Config { identify_grace: grace, ..quick() }).await;
        let (mut taker, _) = within("taker", Client::join(server.addr, "ann")).await.expect("j");
        let away = Line::Rename { old: s("ann"), new: s("other") };
        expect_after(&mut taker, "/nick other", away).await;
        smol::Timer::after(grace / 2).await;
        let back = Line::Rename { old: s("other"), new: s("ann") };
        expect_after(&mut taker, "/nick ann", back).await;
        // The first grace period has ended by now; the second has not.
        smol::Timer::after(grace * 7 / 10).await;
        taker.say("still ann").await.expect("say");
        wait_message(&mut taker, "ann", "still ann").await;
        server.stop().await;
    });
}

#[test]
fn identify_with_a_nickname_takes_it_from_a_guest() {
    smol::block_on(async {
        let server = ann_registered_and_gone(quick()).await;
        let mut squatter = server.join("ann").await;
        let mut real = server.join("elsewhere").await;
        real.sender.send_line(&format!("/identify ann {PASSWORD}")).await.expect("identify");
        let mine = Line::Rename { old: s("elsewhere"), new: s("ann") };
        // Renamed first, then told of the account.
        let seen = lines_until_all(&mut real, &[mine.clone(), account("ann")]).await;
        let at = |want: &Line| seen.iter().position(|line| line == want);
        assert!(at(&mine) < at(&account("ann")), "{seen:?}");
        let gone = |line: &Line| matches!(line, Line::Rename { old, .. } if old == "ann");
        wait_for(&mut squatter, "the squatter renamed", gone).await;
        server.stop().await;
    });
}

/// A server where `ann` is registered (three attempts per account) and gone, and a
/// guesser who has tried two wrong passwords for her: one attempt is left.
async fn two_wrong_guesses_at_ann() -> (TestServer, Client) {
    let config = Config { identify_attempts: 3, flood_rate: 10, flood_burst: 1000, ..quick() };
    let server = ann_registered_and_gone(config).await;
    let mut guesser = server.join("guesser").await;
    for _ in 0..2 {
        let code = error_after(&mut guesser, "/identify ann wrong-guess").await;
        assert_eq!(code, ErrorCode::WrongPassword);
    }
    (server, guesser)
}

#[test]
fn password_guessing_is_limited_per_account() {
    smol::block_on(async {
        let (server, mut guesser) = two_wrong_guesses_at_ann().await;
        let code = error_after(&mut guesser, "/identify ann wrong-guess").await;
        assert_eq!(code, ErrorCode::TooManyGuesses);
        // Even the right password is refused until the account's budget refills, from
        // any address that has not given it before.
        let mut other = joined_from(&server, [127, 0, 0, 3], "other").await;
        let right = format!("/identify ann {PASSWORD}");
        assert_eq!(raw_error_after(&mut other, &right).await, ErrorCode::TooManyGuesses);
        server.stop().await;
    });
}

/// A chat client registered as `nick` from the local address `from` (another host).
async fn joined_from(server: &TestServer, from: [u8; 4], nick: &str) -> password::RawChat {
    let mut chat = password::RawChat::connect_from(from.into(), server.addrs().chat);
    assert_eq!(chat.next().await, "NICK choose a nickname");
    chat.send(nick).await;
    chat
}

/// Sends `line` over `chat` and returns the code of the `ERROR` it gets.
async fn raw_error_after(chat: &mut password::RawChat, line: &str) -> ErrorCode {
    chat.send(line).await;
    loop {
        if let Ok(Line::Error { code, .. }) = Line::parse(&chat.next().await) {
            return code;
        }
    }
}

#[test]
fn a_guesser_elsewhere_cannot_lock_the_owner_out() {
    smol::block_on(async {
        let config = Config { identify_attempts: 3, flood_rate: 10, flood_burst: 1000, ..quick() };
        let server = ann_registered_and_gone(config).await;
        let mut guesser = joined_from(&server, [127, 0, 0, 2], "guesser").await;
        for _ in 0..2 {
            let code = raw_error_after(&mut guesser, "/identify ann wrong-guess").await;
            assert_eq!(code, ErrorCode::WrongPassword);
        }
        let code = raw_error_after(&mut guesser, "/identify ann wrong-guess").await;
        assert_eq!(code, ErrorCode::TooManyGuesses, "the third wrong one spends it");
        // The right password from another address that never gave it is refused too...
        let right = format!("/identify ann {PASSWORD}");
        let mut stranger = joined_from(&server, [127, 0, 0, 3], "stranger").await;
        assert_eq!(raw_error_after(&mut stranger, &right).await, ErrorCode::TooManyGuesses);
        // ...but not from the address that registered the account.
        let mut ann = server.join("ann").await;
        expect_after(&mut ann, &right, account("ann")).await;
        server.stop().await;
    });
}

#[test]
fn password_guessing_is_limited_per_address() {
    smol::block_on(async {
        // Registering costs the address an attempt too: two of four.
        let config = Config { identify_attempts: 100, flood_rate: 10, flood_burst: 4, ..quick() };
        let server = TestServer::start(config).await;
        for nick in ["ann", "bob"] {
            leave(registered(&server, nick).await).await;
        }
        let mut guesser = server.join("guesser").await;
        let code = error_after(&mut guesser, "/identify ann wrong-guess").await;
        assert_eq!(code, ErrorCode::WrongPassword);
        let code = error_after(&mut guesser, "/identify bob wrong-guess").await;
        assert_eq!(code, ErrorCode::TooManyGuesses);
        server.stop().await;
    });
}

#[test]
fn only_the_owner_of_a_registered_room_sets_its_topic_and_kicks() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = registered(&server, "ann").await;
        let mut bob = server.join("bob").await;
        // An unregistered room: anyone sets the topic, nobody kicks.
        expect_after(&mut bob, "/topic anyone", topic("bob", "anyone")).await;
        assert_eq!(error_after(&mut ann, "/kick bob").await, ErrorCode::NotOwner);
        assert_eq!(error_after(&mut bob, "/register-room").await, ErrorCode::NotIdentified);

        ann.sender.send_line("/register-room").await.expect("register room");
        wait_for(&mut ann, "INFO", |line| matches!(line, Line::Info { .. })).await;
        assert_eq!(error_after(&mut bob, "/register-room").await, ErrorCode::NotIdentified);
        assert_eq!(error_after(&mut bob, "/topic mine now").await, ErrorCode::NotOwner);
        assert_eq!(error_after(&mut bob, "/kick ann").await, ErrorCode::NotOwner);
        expect_after(&mut ann, "/topic ann's room", topic("ann", "ann's room")).await;
        assert_eq!(error_after(&mut ann, "/kick nobody").await, ErrorCode::NotMember);

        let kick =
            Line::Kick { room: s(LOBBY), nick: s("bob"), by: s("ann"), reason: s("be nice") };
        ann.sender.send_line("/kick bob be nice").await.expect("kick");
        wait_for(&mut ann, "KICK", |line| *line == kick).await;
        wait_for(&mut bob, "KICK", |line| *line == kick).await;
        // Bob's next line learns it is in no room now.
        bob.say("hello?").await.expect("say");
        wait_for(&mut bob, "ROOM", |line| *line == Line::Room { room: None }).await;
        assert_eq!(next_error(&mut bob).await, ErrorCode::NotInRoom);
        server.stop().await;
    });
}

#[test]
fn a_registered_room_keeps_its_topic_while_empty() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = registered(&server, "ann").await;
        join_room(&mut ann, "ann", "#kept").await;
        ann.sender.send_line("/register-room #kept").await.expect("register room");
        wait_for(&mut ann, "INFO", |line| matches!(line, Line::Info { .. })).await;
        let set = Line::Topic { room: s("#kept"), by: s("ann"), text: s("still here") };
        expect_after(&mut ann, "/topic #kept still here", set.clone()).await;
        expect_after(&mut ann, "/part #kept", Line::Room { room: Some(s(LOBBY)) }).await;

        let mut bob = server.join("bob").await;
        bob.sender.send_line("/join #kept").await.expect("join");
        wait_for(&mut bob, "the kept topic", |line| *line == set).await;
        server.stop().await;
    });
}

#[test]
fn an_account_owns_at_most_max_rooms_per_account_rooms_and_can_give_one_up() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_rooms_per_account: 2, ..quick() }).await;
        let mut ann = registered(&server, "ann").await;
        let info = |line: &Line| matches!(line, Line::Info { .. });
        for room in ["#one", "#two"] {
            join_room(&mut ann, "ann", room).await;
            ann.sender.send_line(&format!("/register-room {room}")).await.expect("register");
            wait_for(&mut ann, "INFO", info).await;
        }
        join_room(&mut ann, "ann", "#three").await;
        let code = error_after(&mut ann, "/register-room #three").await;
        assert_eq!(code, ErrorCode::TooManyOwnedRooms);
        // Registering an owned room again is no new room.
        ann.sender.send_line("/register-room #two").await.expect("register");
        wait_for(&mut ann, "INFO", info).await;
        // The refused room stays open to anyone's topic.
        let mut bob = server.join("bob").await;
        join_room(&mut bob, "bob", "#three").await;
        let set = Line::Topic { room: s("#three"), by: s("bob"), text: s("open") };
        expect_after(&mut bob, "/topic #three open", set).await;
        // Only its owner gives a room up, and that frees a place for another.
        assert_eq!(error_after(&mut bob, "/drop-room #one").await, ErrorCode::NotIdentified);
        expect_after(&mut bob, "/register bobs-password", account("bob")).await;
        assert_eq!(error_after(&mut bob, "/drop-room #one").await, ErrorCode::NotOwner);
        assert_eq!(error_after(&mut bob, "/drop-room #three").await, ErrorCode::NotOwner);
        let given_up = Line::Info { text: s("#one is no longer registered") };
        expect_after(&mut ann, "/drop-room #one", given_up).await;
        ann.sender.send_line("/register-room #three").await.expect("register");
        wait_for(&mut ann, "INFO", info).await;
        server.stop().await;
    });
}

#[test]
fn the_server_keeps_at_most_max_accounts_and_a_dropped_one_makes_room() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_accounts: 2, ..quick() }).await;
        let mut ann = registered(&server, "ann").await;
        let _bob = registered(&server, "bob").await;
        let mut cat = server.join("cat").await;
        let register = format!("/register {PASSWORD}");
        assert_eq!(error_after(&mut cat, &register).await, ErrorCode::ServerAccountsFull);
        expect_after(&mut ann, "/drop", Line::Account { nick: None }).await;
        expect_after(&mut cat, &register, account("cat")).await;
        server.stop().await;
    });
}

#[test]
fn registrations_hashing_at_once_do_not_pass_max_accounts_together() {
    smol::block_on(async {
        let server = TestServer::start(Config { max_accounts: 1, ..quick() }).await;
        let (mut ann, mut bob) = (server.join("ann").await, server.join("bob").await);
        let register = format!("/register {PASSWORD}");
        ann.sender.send_line(&register).await.expect("register");
        bob.sender.send_line(&register).await.expect("register");
        let mut outcomes = Vec::new();
        for client in [&mut ann, &mut bob] {
            let answer = |line: &Line| matches!(line, Line::Account { .. } | Line::Error { .. });
            outcomes.push(match wait_for(client, "an answer", answer).await {
                Line::Account { .. } => "registered".to_string(),
                Line::Error { code, .. } => code.as_str().to_string(),
                _ => unreachable!("wait_for returned another line"),
            });
        }
        outcomes.sort();
        assert_eq!(outcomes, ["registered", "server-accounts-full"]);
        server.stop().await;
    });
}

#[test]
fn accounts_and_registered_rooms_survive_a_restart() {
    smol::block_on(async {
        let dir = TempDir::new("accounts-restart");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut ann = registered(&server, "ann").await;
        ann.sender.send_line("/register-room").await.expect("register room");
        wait_for(&mut ann, "INFO", |line| matches!(line, Line::Info { .. })).await;
        expect_after(&mut ann, "/topic kept", topic("ann", "kept")).await;
        server.stop().await;

        let server = TestServer::start_in(quick(), &dir).await;
        let (mut bob, _) = within("bob", Client::join(server.addr, "bob")).await.expect("join");
        wait_for(&mut bob, "the kept topic", |line| *line == topic("ann", "kept")).await;
        let (mut ann, _) = within("ann", Client::join(server.addr, "ann")).await.expect("join");
        let ask = Line::Identify { nick: s("ann"), seconds: 30 };
        wait_for(&mut ann, "IDENTIFY", |line| *line == ask).await;
        expect_after(&mut ann, &format!("/identify {PASSWORD}"), account("ann")).await;
        assert_eq!(error_after(&mut bob, "/topic not yours").await, ErrorCode::NotOwner);
        expect_after(&mut ann, "/kick bob", kick_of("bob")).await;
        server.stop().await;
    });
}

fn topic(by: &str, text: &str) -> Line {
    Line::Topic { room: s(LOBBY), by: s(by), text: s(text) }
}

fn kick_of(nick: &str) -> Line {
    Line::Kick { room: s(LOBBY), nick: s(nick), by: s("ann"), reason: s("") }
}

#[test]
fn attempts_sent_at_once_each_take_one_before_the_password_is_checked() {
    smol::block_on(async {
        let (server, _guesser) = two_wrong_guesses_at_ann().await;
        // One attempt is left; eight come at once, all with the right password, from an
        // address that has not given it before (one that had would not need the attempt).
        let mut crowd = Vec::new();
        for n in 0..8 {
            crowd.push(joined_from(&server, [127, 0, 0, 4], &format!("crowd{n}")).await);
        }
        let right = format!("/identify ann {PASSWORD}");
        for chat in &mut crowd {
            chat.send(&right).await;
        }
        let mut identified = 0;
        for chat in &mut crowd {
            loop {
                match Line::parse(&chat.next().await) {
                    Ok(Line::Account { .. }) => identified += 1,
                    Ok(Line::Error { code, .. }) => assert_eq!(code, ErrorCode::TooManyGuesses),
                    _ => continue,
                }
                break;
            }
        }
        assert_eq!(identified, 1, "only the attempt left was checked");
        server.stop().await;
    });
}

#[test]
fn a_dropped_account_identifies_nobody_and_its_private_history_stays_its_own() {
    smol::block_on(async {
        let dir = TempDir::new("accounts-drop");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut ann = registered(&server, "ann").await;
        let mut bob = registered(&server, "bob").await;
        ann.sender.send_line("/msg bob secret").await.expect("msg");
        wait_for(&mut bob, "PRIV", |line| matches!(line, Line::Private { .. })).await;
        // A second connection identified as ann.
        let mut other = server.join("elsewhere").await;
        expect_after(&mut other, &format!("/identify ann {PASSWORD}"), account("ann")).await;
        expect_after(&mut ann, "/drop", Line::Account { nick: None }).await;
        leave(ann).await;
        assert_eq!(error_after(&mut other, "/register-room").await, ErrorCode::NotIdentified);
        // Someone else registers the name: a new account, which reads nothing of the old.
        let mut eve = registered(&server, "ann").await;
        eve.sender.send_line("/history bob").await.expect("history");
        let end = Line::HistoryEnd { of: s("bob"), count: 0 };
        wait_for(&mut eve, "HISTORYEND", |line| *line == end).await;
        server.stop().await;
    });
}

/// The id of `nick`'s account as the store in `dir` holds it (its fold, `@`, the
/// millisecond it was registered), read with the store's own API; the store is closed
/// again before this returns.
fn account_id_in_store(dir: &TempDir, nick: &str) -> Arc<str> {
    let (_store, recalled) = Store::open(dir.path(), Retention::default()).expect("open");
    let (fold, account) = recalled.accounts.iter().find(|(fold, _)| &**fold == nick).expect(nick);
    let ms = account.registered.duration_since(UNIX_EPOCH).expect("after 1970").as_millis();
    format!("{fold}@{ms}").into()
}

/// The private history between the accounts `a` and `b` that the store in `dir` holds.
async fn private_history_in_store(dir: &TempDir, a: &Arc<str>, b: &Arc<str>) -> Vec<Stamped> {
    let (store, _) = Store::open(dir.path(), Retention::default()).expect("open");
    within("recall", store.recall(Scope::pair(a.clone(), b.clone()), 500)).await
}

#[test]
fn a_dropped_accounts_private_history_leaves_the_store() {
    smol::block_on(async {
        let dir = TempDir::new("accounts-drop-history");
        let server = TestServer::start_in(quick(), &dir).await;
        let ann = registered(&server, "ann").await;
        let mut bob = registered(&server, "bob").await;
        ann.sender.send_line("/msg bob secret").await.expect("msg");
        wait_for(&mut bob, "PRIV", |line| matches!(line, Line::Private { .. })).await;
        server.stop().await;
        // Kept, under the ids the store's API reads it by.
        let (ann_id, bob_id) = (account_id_in_store(&dir, "ann"), account_id_in_store(&dir, "bob"));
        assert_eq!(private_history_in_store(&dir, &ann_id, &bob_id).await.len(), 1);

        let server = TestServer::start_in(quick(), &dir).await;
        let (mut ann, _) = within("ann", Client::join(server.addr, "ann")).await.expect("join");
        expect_after(&mut ann, &format!("/identify {PASSWORD}"), account("ann")).await;
        expect_after(&mut ann, "/drop", Line::Account { nick: None }).await;
        server.stop().await;
        TestServer::start_in(quick(), &dir).await.stop().await;
        assert!(private_history_in_store(&dir, &ann_id, &bob_id).await.is_empty());
    });
}

#[test]
fn a_look_alike_of_a_registered_nickname_must_identify_too_and_cannot_be_registered() {
    smol::block_on(async {
        let grace = Config { identify_grace: Duration::from_millis(300), ..quick() };
        let server = ann_registered_and_gone(grace).await;
        // With a Cyrillic а.
        let (mut taker, _) =
            within("taker", Client::join(server.addr, "\u{430}nn")).await.expect("j");
        let ask = |line: &Line| matches!(line, Line::Identify { .. });
        wait_for(&mut taker, "IDENTIFY", ask).await;
        assert_eq!(
            error_after(&mut taker, "/register another-pass").await,
            ErrorCode::AccountExists
        );
        let renamed =
            |line: &Line| matches!(line, Line::Rename { new, .. } if new.starts_with("Guest"));
        wait_for(&mut taker, "the guest rename", renamed).await;
        server.stop().await;
    });
}

#[test]
fn a_look_alike_of_an_empty_registered_room_is_refused_until_it_is_dropped() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = registered(&server, "alice").await;
        join_room(&mut alice, "alice", "#rust").await;
        alice.sender.send_line("/register-room #rust").await.expect("register room");
        wait_for(&mut alice, "INFO", |line| matches!(line, Line::Info { .. })).await;
        expect_after(&mut alice, "/part #rust", Line::Room { room: Some(s(LOBBY)) }).await;

        // With an Armenian ս: #rust is empty, not live, but registered.
        let impostor = "#r\u{57d}st";
        let mut mallory = server.join("mallory").await;
        let join = format!("/join {impostor}");
        assert_eq!(error_after(&mut mallory, &join).await, ErrorCode::RoomConfusable);
        join_room(&mut alice, "alice", "#rust").await;

        // Dropping the account unregisters the room, and its look is free again.
        expect_after(&mut alice, "/part #rust", Line::Room { room: Some(s(LOBBY)) }).await;
        expect_after(&mut alice, "/drop", Line::Account { nick: None }).await;
        join_room(&mut mallory, "mallory", impostor).await;
        server.stop().await;
    });
}

#[test]
fn guest_names_are_the_servers_to_give() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = server.join("ann").await;
        assert_eq!(error_after(&mut ann, "/nick Guest123456").await, ErrorCode::NickTaken);
        assert_eq!(error_after(&mut ann, "/nick guest_1").await, ErrorCode::NickTaken);
        ann.sender.send_line("/nick Guesthouse").await.expect("nick");
        let renamed = Line::Rename { old: s("ann"), new: s("Guesthouse") };
        wait_for(&mut ann, "RENAME", |line| *line == renamed).await;
        server.stop().await;
    });
}

#[test]
fn an_identified_owner_takes_the_nickname_back_with_nick() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = registered(&server, "ann").await;
        let away = Line::Rename { old: s("ann"), new: s("ann2") };
        expect_after(&mut ann, "/nick ann2", away).await;
        let mut squatter = server.join("ann").await;
        let back = Line::Rename { old: s("ann2"), new: s("ann") };
        expect_after(&mut ann, "/nick ann", back).await;
        let gone = |line: &Line| matches!(line, Line::Rename { old, new } if old == "ann" && new.starts_with("Guest"));
        wait_for(&mut squatter, "the squatter renamed", gone).await;
        server.stop().await;
    });
}
