//! The interactive client under a real pseudo-terminal: what a person at a keyboard sees.
#![cfg(unix)]

mod common_client;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common_client::{
    events_until_leave, wait_join, wait_leave, wait_message, within, TestServer, TIMEOUT,
};
use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Regex, Session};
use smolchat::proto::chat::Line;

/// A pty session running `smolchat --nick NICK` against `server`.
type Terminal = Session<expectrl::process::unix::UnixProcess, expectrl::process::unix::PtyStream>;

fn start(server: &TestServer, nick: &str) -> Terminal {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smolchat"));
    command
        .args(["--server", &server.addr.to_string(), "--nick", nick, "--no-history"])
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut terminal = Session::spawn(command).expect("spawn smolchat in a pty");
    terminal.set_expect_timeout(Some(TIMEOUT));
    terminal
}

/// Waits until `text` has been written to the terminal; returns everything up to it.
fn expect(terminal: &mut Terminal, text: &str) -> String {
    let found = terminal.expect(text).unwrap_or_else(|e| panic!("expecting {text:?}: {e}"));
    String::from_utf8_lossy(found.before()).into_owned()
}

/// Waits for the client to exit; returns its exit code.
fn exit_code(terminal: &Terminal) -> i32 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match terminal.get_process().status().expect("process status") {
            WaitStatus::Exited(_, code) => return code,
            WaitStatus::StillAlive if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            other => panic!("smolchat did not exit cleanly: {other:?}"),
        }
    }
}

#[test]
fn a_message_arriving_mid_line_is_printed_above_the_prompt_and_the_line_survives() {
    let server = smol::block_on(TestServer::default());
    let mut terminal = start(&server, "alice");
    expect(&mut terminal, "*** you joined as alice; 1 online");
    expect(&mut terminal, "alice> ");
    let mut bob = smol::block_on(server.join("bob"));
    expect(&mut terminal, "--> bob joined");

    // Half a line typed, then bob speaks.
    terminal.send("hello wor").expect("type");
    expect(&mut terminal, "hello wor");
    smol::block_on(within("bob says hi", bob.say("incoming!"))).expect("say");
    let found = terminal
        .expect(Regex(r"<bob> incoming!\r?\n[\s\S]*alice> hello wor"))
        .expect("the message above a redrawn prompt holding the half-typed line");
    let shown = String::from_utf8_lossy(found.as_bytes()).into_owned();
    assert!(!shown.contains("incoming!hello"), "garbled: {shown:?}");

    // Finishing the line sends all of it.
    terminal.send("ld\r").expect("type");
    smol::block_on(wait_message(&mut bob, "alice", "hello world"));
    expect(&mut terminal, "[alice] hello world");

    terminal.send("/quit done\r").expect("type");
    assert_eq!(smol::block_on(wait_leave(&mut bob, "alice")), "quit: done");
    assert_eq!(exit_code(&terminal), 0);
    smol::block_on(server.stop());
}

#[test]
fn a_server_shutdown_while_typing_ends_with_one_sentence() {
    let server = smol::block_on(TestServer::default());
    let mut watcher = smol::block_on(server.join("watcher"));
    let mut terminal = start(&server, "alice");
    smol::block_on(wait_join(&mut watcher, "alice"));
    expect(&mut terminal, "alice> ");
    terminal.send("never sent").expect("type");
    expect(&mut terminal, "never sent");
    smol::block_on(server.stop());
    expect(&mut terminal, "smolchat: the server closed the connection: server shutting down");
    assert_eq!(exit_code(&terminal), 1);
}

#[test]
fn ctrl_d_leaves_and_a_taken_nickname_is_asked_again() {
    let server = smol::block_on(TestServer::default());
    let mut watcher = smol::block_on(server.join("alice"));
    let mut terminal = start(&server, "Alice");
    expect(&mut terminal, "nickname Alice is taken");
    expect(&mut terminal, "nickname: ");
    terminal.send("alice2\r").expect("type");
    expect(&mut terminal, "*** you joined as alice2; 2 online");
    smol::block_on(wait_join(&mut watcher, "alice2"));
    expect(&mut terminal, "alice2> ");
    // Ctrl-C clears the line; Ctrl-D on the empty line leaves.
    terminal.send("oops\x03").expect("type");
    expect(&mut terminal, "alice2> ");
    terminal.send("\x04").expect("type");
    let seen = smol::block_on(events_until_leave(&mut watcher, "alice2"));
    let leave = Line::Quit { nick: "alice2".into(), reason: "quit".into() };
    assert_eq!(seen, [leave], "the cleared line must not be sent");
    assert_eq!(exit_code(&terminal), 0);
    smol::block_on(server.stop());
}
