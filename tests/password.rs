//! The server password (`--password-file`): chat clients answer `PASS` before `NICK`, IRC
//! clients send `PASS`; wrong passwords count against the address, across connections and
//! protocols; the password stays out of logs and `Debug` output; a file that cannot be
//! used stops the server at start-up, naming it. Without a password nothing changes.

mod common;

use std::io;
use std::time::Duration;

use async_net::TcpListener;
use common::irc::*;
use common::password::*;
use common::*;
use futures_lite::future;
use smolchat::proto::chat::{ErrorCode, Line};
use smolchat::server::{self, Config, Listener, Password};

/// The server's password in most tests.
const SECRET: &str = "correct horse battery staple";

/// The `ERROR` code of a chat line, if it is an `ERROR`.
fn error_code(line: &str) -> Option<ErrorCode> {
    match Line::parse(line) {
        Ok(Line::Error { code, .. }) => Some(code),
        _ => None,
    }
}

/// Gives `password` and, once asked for a nickname, `nick`; returns the `WELCOME` line.
async fn register(chat: &mut RawChat, password: &str, nick: &str) -> Line {
    chat.send(password).await;
    assert_eq!(chat.next().await, "NICK choose a nickname");
    chat.send(nick).await;
    Line::parse(&chat.next().await).expect("a server line")
}

/// Sends `PASS` (if any), `NICK` and `USER`, and returns every line up to the end of the
/// connection.
async fn irc_refused(addr: std::net::SocketAddr, pass: Option<&str>) -> Vec<Msg> {
    let mut irc = Irc::connect(addr).await;
    if let Some(pass) = pass {
        irc.send(&format!("PASS :{pass}")).await;
    }
    irc.send("NICK carol").await;
    irc.send("USER carol 0 * :Carol").await;
    irc.until_closed().await
}

/// Fails unless `lines` are `464 * :Password incorrect` and then the closing `ERROR`
/// with `reason`.
fn assert_refused(lines: &[Msg], reason: &str) {
    let raw: Vec<&str> = lines.iter().map(|m| m.raw.as_str()).collect();
    assert_eq!(lines.len(), 2, "{raw:#?}");
    assert!(lines[0].is_numeric("464"), "{raw:#?}");
    assert_eq!(lines[0].params, ["*", "Password incorrect"], "{raw:#?}");
    let closing = format!("Closing Link: 127.0.0.1 ({reason})");
    assert!(lines[1].is("ERROR") && lines[1].last() == closing, "{raw:#?}");
}

#[test]
fn a_chat_client_gives_the_password_before_its_nickname() {
    smol::block_on(async {
        let file = PasswordFile::holding("chat-right", SECRET);
        let server = TestServer::start(file.config()).await;
        let mut chat = RawChat::asked_for_password(server.addr).await;
        let welcome = register(&mut chat, SECRET, "alice").await;
        assert!(matches!(&welcome, Line::Welcome { nick, .. } if nick == "alice"), "{welcome:?}");
        assert_eq!(chat.next().await, "JOIN #lobby alice");
        assert_eq!(chat.next().await, "ROOM #lobby");
        chat.send("hello").await;
        assert_eq!(chat.next().await, "MSG #lobby alice hello");
        server.stop().await;
    });
}

#[test]
fn a_wrong_password_is_refused_and_asked_again() {
    smol::block_on(async {
        let file = PasswordFile::holding("chat-wrong", SECRET);
        let server = TestServer::start(file.config()).await;
        let mut chat = RawChat::asked_for_password(server.addr).await;
        // A blank line is ignored; the password is the whole line, spaces and all.
        chat.send("").await;
        chat.send(&format!("{SECRET} ")).await;
        let refused = chat.next().await;
        assert_eq!(error_code(&refused), Some(ErrorCode::BadPassword), "{refused}");
        assert!(!refused.contains(SECRET), "the attempt is not echoed: {refused}");
        assert_eq!(chat.next().await, pass_request());
        // A nickname is not a password either.
        chat.send("alice").await;
        assert_eq!(error_code(&chat.next().await), Some(ErrorCode::BadPassword));
        assert_eq!(chat.next().await, pass_request());
        let welcome = register(&mut chat, SECRET, "alice").await;
        assert!(matches!(welcome, Line::Welcome { .. }), "{welcome:?}");
        server.stop().await;
    });
}

#[test]
fn the_handshake_timeout_covers_the_password() {
    smol::block_on(async {
        let file = PasswordFile::holding("chat-slow", SECRET);
        let config = Config { handshake_timeout: Duration::from_millis(200), ..file.config() };
        let server = TestServer::start(config).await;
        let mut chat = RawChat::asked_for_password(server.addr).await;
        let lines = chat.until_closed().await;
        assert_eq!(lines, ["ERROR handshake-timeout no password given in time; goodbye"]);
        server.stop().await;
    });
}

#[test]
fn without_a_password_nothing_changes() {
    smol::block_on(async {
        let server = TestServer::start(irc_config()).await;
        let mut chat = RawChat::connect(server.addr).await;
        assert_eq!(chat.next().await, "NICK choose a nickname");
        let _alice = server.join("alice").await;
        // IRC's PASS is accepted and ignored.
        let mut irc = Irc::connect(server.irc).await;
        irc.send("PASS :anything at all").await;
        let burst = irc.register_as("bob").await;
        assert!(burst[0].is_numeric("001"), "{burst:?}");
        server.stop().await;
    });
}

#[test]
fn an_irc_client_with_the_password_registers() {
    smol::block_on(async {
        let file = PasswordFile::holding("irc-right", SECRET);
        let server =
            TestServer::start(Config { server_name: SERVER.into(), ..file.config() }).await;
        let mut irc = Irc::connect(server.irc).await;
        // Several may be sent: the last counts; one without a password is an error.
        irc.send("PASS").await;
        assert_eq!(irc.next().await.params, ["*", "PASS", "Not enough parameters"]);
        irc.send("PASS :not it").await;
        irc.send(&format!("PASS :{SECRET}")).await;
        let burst = irc.register_as("alice").await;
        assert!(burst[0].is_numeric("001"), "{burst:?}");
        // Once registered, PASS is refused.
        irc.send(&format!("PASS :{SECRET}")).await;
        irc.expect_numeric("462").await;
        server.stop().await;
    });
}

#[test]
fn an_irc_client_with_a_wrong_or_no_password_gets_464_and_is_closed() {
    smol::block_on(async {
        let file = PasswordFile::holding("irc-wrong", SECRET);
        let server =
            TestServer::start(Config { server_name: SERVER.into(), ..file.config() }).await;
        assert_refused(&irc_refused(server.irc, Some("not it")).await, "Bad password");
        assert_refused(&irc_refused(server.irc, None).await, "Bad password");
        server.stop().await;
    });
}

#[test]
fn wrong_passwords_spend_the_address_budget_across_connections_and_protocols() {
    smol::block_on(async {
        let file = PasswordFile::holding("budget", SECRET);
        // Three wrong passwords, then one a minute: nothing refills during the test.
        let config =
            Config { flood_rate: 1, flood_burst: 3, server_name: SERVER.into(), ..file.config() };
        let server = TestServer::start(config).await;
        let mut first = RawChat::asked_for_password(server.addr).await;
        for _ in 0..2 {
            first.send("wrong").await;
            assert_eq!(error_code(&first.next().await), Some(ErrorCode::BadPassword));
            assert_eq!(first.next().await, pass_request());
        }
        // The third, over IRC, spends what is left.
        let spent = irc_refused(server.irc, Some("also wrong")).await;
        assert_refused(&spent, "Too many failed passwords");
        // Now even the right password is refused, and the connection closed.
        first.send(SECRET).await;
        let lines = first.until_closed().await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(error_code(&lines[0]), Some(ErrorCode::TooManyPasswords), "{lines:?}");
        assert!(lines[0].contains("try again in"), "{lines:?}");
        // A new chat connection is refused without being asked.
        let mut second = RawChat::connect(server.addr).await;
        let lines = second.until_closed().await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(error_code(&lines[0]), Some(ErrorCode::TooManyPasswords), "{lines:?}");
        // And so is an IRC client with the right password.
        let refused = irc_refused(server.irc, Some(SECRET)).await;
        assert_refused(&refused, "Too many failed passwords");
        server.stop().await;
    });
}

/// Flood control off (`--flood-rate 0`) is for lines; wrong passwords are still counted,
/// refilled at the default rate.
#[test]
fn flood_control_off_leaves_the_password_budget_on() {
    smol::block_on(async {
        let file = PasswordFile::holding("no-flood", SECRET);
        let config =
            Config { flood_rate: 0, flood_burst: 2, server_name: SERVER.into(), ..file.config() };
        let server = TestServer::start(config).await;
        let mut chat = RawChat::asked_for_password(server.addr).await;
        chat.send("wrong").await;
        assert_eq!(error_code(&chat.next().await), Some(ErrorCode::BadPassword));
        assert_eq!(chat.next().await, pass_request());
        chat.send("wrong again").await;
        let lines = chat.until_closed().await;
        let codes: Vec<_> = lines.iter().filter_map(|line| error_code(line)).collect();
        assert_eq!(codes.last(), Some(&ErrorCode::TooManyPasswords), "{lines:?}");
        let refused = irc_refused(server.irc, Some(SECRET)).await;
        assert_refused(&refused, "Too many failed passwords");
        server.stop().await;
    });
}

#[test]
fn the_password_never_reaches_the_logs_or_debug_output() {
    smol::block_on(async {
        let logs = capture_logs();
        let secret = "swordfish-0f3a9c";
        let guess = "guess-7b2e51";
        let file = PasswordFile::holding("logs", secret);
        let config = Config { server_name: SERVER.into(), ..file.config() };
        let server = TestServer::start(config.clone()).await;
        let mut chat = RawChat::asked_for_password(server.addr).await;
        chat.send(guess).await;
        assert_eq!(error_code(&chat.next().await), Some(ErrorCode::BadPassword));
        assert_eq!(chat.next().await, pass_request());
        assert!(matches!(register(&mut chat, secret, "alice").await, Line::Welcome { .. }));
        assert_refused(&irc_refused(server.irc, Some(guess)).await, "Bad password");
        let mut irc = Irc::connect(server.irc).await;
        irc.send(&format!("PASS {secret}")).await;
        irc.register_as("bob").await;
        server.stop().await;

        let text = logs.text();
        assert!(text.contains("wrong password"), "the logs were not captured: {text}");
        assert!(text.contains("irc registered"), "the logs were not captured: {text}");
        assert!(!text.contains(secret) && !text.contains(guess), "{text}");
        let password = Password::read(&file.path, 4096).expect("the password file");
        let debug = format!("{config:?} {config:#?} {password:?} {password:#?}");
        assert!(!debug.contains(secret), "{debug}");
    });
}

/// Starts a server with `config` and returns the error it stops with at once.
async fn start_up_error(config: Config) -> io::Error {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let run = server::run(vec![Listener::chat(tcp)], config, future::pending::<()>());
    within("the start-up error", run).await.expect_err("the server started")
}

/// Fails unless `error` names the file at `path` and says `why`.
fn assert_names(error: &io::Error, path: &std::path::Path, why: &str) {
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(why), "{text}");
}

#[test]
fn a_password_file_that_cannot_be_used_stops_the_start_naming_it() {
    smol::block_on(async {
        let missing = unique_path("missing");
        let config = Config { password_file: Some(missing.clone()), ..quick() };
        let error = start_up_error(config).await;
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_names(&error, &missing, "cannot read the password file");

        let directory = PasswordFile::new("directory", b"");
        std::fs::remove_file(&directory.path).expect("remove the file");
        std::fs::create_dir(&directory.path).expect("make a directory in its place");
        let error = start_up_error(directory.config()).await;
        std::fs::remove_dir(&directory.path).expect("remove the directory");
        assert_names(&error, &directory.path, "cannot read the password file");

        let empty = PasswordFile::new("empty", b"\nnot the first line\n");
        let error = start_up_error(empty.config()).await;
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_names(&error, &empty.path, "first line is empty");
    });
}
