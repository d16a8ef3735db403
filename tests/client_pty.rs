//! The interactive client under a real pseudo-terminal: what a person at a keyboard sees.
#![cfg(unix)]

mod common_client;

use std::process::Command;
use std::thread;

use common_client::pty::{exit_code, expect, Terminal};
use common_client::{
    events_until_leave, join_room, quick, wait_for, wait_join, wait_leave, wait_message, within,
    TempDir, TestServer, TIMEOUT,
};
use expectrl::{Expect, Regex, Session};
use smolchat::proto::chat::Line;

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

#[test]
fn a_message_arriving_mid_line_is_printed_above_the_prompt_and_the_line_survives() {
    let server = smol::block_on(TestServer::default());
    let mut terminal = start(&server, "alice");
    expect(&mut terminal, "*** you joined as alice; 1 online");
    expect(&mut terminal, "[#lobby] alice> ");
    let mut bob = smol::block_on(server.join("bob"));
    expect(&mut terminal, "--> bob joined");

    // Half a line typed, then bob speaks.
    terminal.send("hello wor").expect("type");
    expect(&mut terminal, "hello wor");
    smol::block_on(within("bob says hi", bob.say("incoming!"))).expect("say");
    let found = terminal
        .expect(Regex(r"<bob> incoming!\r?\n[\s\S]*\[#lobby\] alice> hello wor"))
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
fn a_server_that_stays_down_is_retried_until_ctrl_d() {
    let server = smol::block_on(TestServer::default());
    let mut watcher = smol::block_on(server.join("watcher"));
    let mut terminal = start(&server, "alice");
    smol::block_on(wait_join(&mut watcher, "alice"));
    expect(&mut terminal, "[#lobby] alice> ");
    terminal.send("not sent yet").expect("type");
    expect(&mut terminal, "not sent yet");
    smol::block_on(server.stop());
    expect(
        &mut terminal,
        "*** connection lost (the server closed the connection: server shutting down); \
         reconnecting in 1s",
    );
    expect(&mut terminal, "*** cannot reconnect (cannot connect to ");
    expect(&mut terminal, "reconnecting in 2s");
    // Enter while disconnected keeps the line for later.
    terminal.send("\r").expect("type");
    expect(&mut terminal, "*** not connected: the line is kept");
    expect(&mut terminal, "alice> not sent yet");
    // Ctrl-D leaves even then: it clears the line first, and leaves on the empty one.
    terminal.send("\x15\x04").expect("type");
    assert_eq!(exit_code(&terminal), 0);
}

#[test]
fn a_restarted_server_gets_the_client_back_identified_in_its_rooms_with_its_draft() {
    let dir = TempDir::new("client-reconnect");
    let server = smol::block_on(TestServer::start_in(quick(), &dir));
    let mut terminal = start(&server, "alice");
    expect(&mut terminal, "[#lobby] alice> ");
    terminal.send("/register correct-horse\r").expect("type");
    expect(&mut terminal, "*** you are identified as alice");
    terminal.send("/join #rust\r").expect("type");
    expect(&mut terminal, "[#rust] alice> ");
    terminal.send("half a dr").expect("type");
    expect(&mut terminal, "half a dr");

    let addrs = server.addrs();
    smol::block_on(server.stop());
    expect(&mut terminal, "reconnecting in 1s");
    let server = smol::block_on(TestServer::start_in_at(quick(), &dir, addrs));
    expect(&mut terminal, "*** reconnected as alice");
    expect(&mut terminal, "*** you are identified as alice");
    expect(&mut terminal, "*** you joined #rust");
    expect(&mut terminal, "[#rust] alice> half a dr");

    // The draft is still being edited, and goes to #rust once finished.
    let mut bob = smol::block_on(server.join("bob"));
    smol::block_on(join_room(&mut bob, "bob", "#rust"));
    expect(&mut terminal, "--> bob joined");
    terminal.send("aft\r").expect("type");
    let said =
        Line::Message { room: "#rust".into(), from: "alice".into(), text: "half a draft".into() };
    smol::block_on(wait_for(&mut bob, "alice's draft", |line| *line == said));

    terminal.send("/quit\r").expect("type");
    assert_eq!(smol::block_on(wait_leave(&mut bob, "alice")), "quit");
    assert_eq!(exit_code(&terminal), 0);
    smol::block_on(server.stop());
}

#[test]
fn tab_completes_nicknames_of_the_room_and_rooms_after_join() {
    let server = smol::block_on(TestServer::default());
    let mut bob = smol::block_on(server.join("bobby_tables"));
    smol::block_on(join_room(&mut bob, "bobby_tables", "#rustaceans"));
    let mut terminal = start(&server, "alice");
    expect(&mut terminal, "[#lobby] alice> ");

    // Rooms are learnt from /list.
    terminal.send("/list\r").expect("type");
    expect(&mut terminal, "--- #rustaceans (1 person)");
    terminal.send("/join #rusta\t\r").expect("type");
    expect(&mut terminal, "*** you joined #rustaceans");
    expect(&mut terminal, "[#rustaceans] alice> ");

    // Who is in the room the client asks by itself on joining; the answer to this /names
    // comes after that one, so once it shows, the client knows.
    terminal.send("/names\r").expect("type");
    expect(&mut terminal, "--- in #rustaceans (2): alice bobby_tables");
    terminal.send("hi bob\t, welcome\r").expect("type");
    smol::block_on(wait_message(&mut bob, "alice", "hi bobby_tables, welcome"));
    terminal.send("/quit\r").expect("type");
    assert_eq!(exit_code(&terminal), 0);
    smol::block_on(server.stop());
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
    expect(&mut terminal, "[#lobby] alice2> ");
    // Ctrl-C clears the line; Ctrl-D on the empty line leaves.
    terminal.send("oops\x03").expect("type");
    expect(&mut terminal, "[#lobby] alice2> ");
    terminal.send("\x04").expect("type");
    let seen = smol::block_on(events_until_leave(&mut watcher, "alice2"));
    let leave = Line::Quit { nick: "alice2".into(), reason: "quit".into() };
    assert_eq!(seen, [leave], "the cleared line must not be sent");
    assert_eq!(exit_code(&terminal), 0);
    smol::block_on(server.stop());
}

#[test]
fn the_prompt_shows_the_current_room_and_other_rooms_lines_are_prefixed() {
    let server = smol::block_on(TestServer::default());
    let mut bob = smol::block_on(server.join("bob"));
    let mut terminal = start(&server, "alice");
    expect(&mut terminal, "[#lobby] alice> ");
    smol::block_on(wait_join(&mut bob, "alice"));
    terminal.send("/join #rust\r").expect("type");
    expect(&mut terminal, "*** you joined #rust");
    expect(&mut terminal, "[#rust] alice> ");
    // The lobby is no longer current: its lines carry its name.
    smol::block_on(within("bob says hi", bob.say("hi from the lobby"))).expect("say");
    expect(&mut terminal, "#lobby <bob> hi from the lobby");
    terminal.send("in rust\r").expect("type");
    expect(&mut terminal, "[alice] in rust");
    terminal.send("/part\r").expect("type");
    expect(&mut terminal, "*** you left #rust");
    expect(&mut terminal, "[#lobby] alice> ");
    terminal.send("/quit\r").expect("type");
    assert_eq!(smol::block_on(wait_leave(&mut bob, "alice")), "quit");
    assert_eq!(exit_code(&terminal), 0);
    smol::block_on(server.stop());
}

/// A hostile server: welcomes whoever connects, then sends `lines` and waits.
fn hostile_server(lines: &'static str) -> String {
    scripted_server(format!("WELCOME alice 1 online smolchat/2\nROOM #x\n{lines}"))
}

/// A server that asks whoever connects for a nickname, answers it with `reply` whatever
/// it is, and then waits for the client to go.
fn scripted_server(reply: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    thread::spawn(move || {
        use std::io::{Read, Write};
        let Ok((mut stream, _)) = listener.accept() else { return };
        let _ = stream.set_read_timeout(Some(TIMEOUT));
        let _ = stream.write_all(b"NICK choose a nickname\n");
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).is_ok_and(|n| n == 1 && byte[0] != b'\n') {}
        let _ = stream.write_all(reply.as_bytes());
        let _ = stream.read(&mut byte);
    });
    addr
}

#[test]
fn ctrl_c_ends_a_client_whose_server_welcomes_it_and_then_says_nothing() {
    // No ROOM line ever: the client waits for one before its first prompt.
    let addr = scripted_server("WELCOME alice 1 online smolchat/2\n".into());
    let mut command = Command::new(env!("CARGO_BIN_EXE_smolchat"));
    command.args(["--server", &addr, "--nick", "alice", "--no-history"]);
    command.env("NO_COLOR", "1").env("TERM", "xterm");
    let mut terminal: Terminal = Session::spawn(command).expect("spawn smolchat in a pty");
    terminal.set_expect_timeout(Some(TIMEOUT));
    expect(&mut terminal, "*** you joined as alice");
    terminal.send("\x03").expect("type Ctrl-C");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while terminal.get_process().is_alive().expect("process status") {
        assert!(std::time::Instant::now() < deadline, "Ctrl-C did not end the client");
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn bidi_controls_and_zero_width_characters_from_a_hostile_server_are_never_written_raw() {
    let addr = hostile_server("MSG #x b\u{202E}ob evil\u{200B}text\u{2066}end\nMSG #x b done\n");
    let mut command = Command::new(env!("CARGO_BIN_EXE_smolchat"));
    command.args(["--server", &addr, "--nick", "alice", "--no-history"]);
    command.env("NO_COLOR", "1").env("TERM", "xterm");
    let mut terminal = Session::spawn(command).expect("spawn smolchat in a pty");
    terminal.set_expect_timeout(Some(TIMEOUT));
    let shown = expect(&mut terminal, "<b> done");
    assert!(shown.contains("<b\u{FFFD}ob> evil\u{FFFD}text\u{FFFD}end"), "{shown:?}");
    for raw in ['\u{202E}', '\u{200B}', '\u{2066}'] {
        assert!(!shown.contains(raw), "{raw:?} written raw: {shown:?}");
    }
}
