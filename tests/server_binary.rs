//! The real `smolchat-server` binary: it says where each listener listens (chat and IRC
//! alike, into the same rooms), refuses a bad one clearly, warns when its file limit cannot
//! fit its clients, and SIGTERM shuts it down gracefully (every client told, exit 0); a
//! second Ctrl-C stops it at once while it waits for a client that reads nothing.

mod common;

use std::io::{BufRead, BufReader, Write as _};
use std::process::Command as Process;

use clap::Parser as _;
use common::binary::{server_binary, server_binary_in, start_up_failure, Server};
use common::*;
use smolchat::client::{Client, ClientError};
use smolchat::proto::chat::Line;
use smolchat::server::ServerFlags;

#[test]
fn sigterm_tells_every_client_and_exits_zero() {
    let mut command = server_binary();
    command.args(["--bind", "127.0.0.1:0", "--shutdown-grace", "1s"]).env("RUST_LOG", "info");
    let mut server = Server::start(command, 1);
    let addr = server.addrs[0];
    smol::block_on(async {
        let (mut alice, _) = within("join", Client::join(addr, "alice")).await.expect("join");
        settle(&mut alice).await;
        alice.say("before the end").await.expect("say");
        wait_message(&mut alice, "alice", "before the end").await;
        let status = std::thread::scope(|scope| {
            let waiting = scope.spawn(|| server.terminate());
            let (seen, end) = smol::block_on(drain(&mut alice));
            assert_eq!(seen, [Line::Bye { reason: s("server shutting down") }]);
            assert!(matches!(end, ClientError::Closed), "{end:?}");
            waiting.join().expect("the waiting thread")
        });
        assert_eq!(status.code(), Some(0), "the server should exit 0 after SIGTERM");
    });
    let rest: Vec<String> = server.rest_of_log().collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    // The log goes to a pipe here: no colours.
    assert!(!rest.iter().any(|l| l.contains('\u{1b}')), "{rest:?}");
}

#[test]
fn every_listen_flag_is_a_listener_into_the_same_rooms() {
    let mut command = server_binary();
    command.args(["--listen", "chat://127.0.0.1:0", "--listen", "chat://127.0.0.1:0"]);
    command.env("RUST_LOG", "info");
    let server = Server::start(command, 2);
    assert_ne!(server.addrs[0], server.addrs[1]);
    smol::block_on(async {
        let (mut alice, _) =
            within("join", Client::join(server.addrs[0], "alice")).await.expect("join");
        let (bob, _) = within("join", Client::join(server.addrs[1], "bob")).await.expect("join");
        bob.say("from the other port").await.expect("say");
        wait_message(&mut alice, "bob", "from the other port").await;
    });
}

#[test]
fn an_irc_listener_says_where_and_shares_the_rooms() {
    let mut command = server_binary();
    command.args(["--listen", "irc://127.0.0.1:0", "--listen", "chat://127.0.0.1:0"]);
    command.args(["--server-name", "irc.test"]).env("RUST_LOG", "info");
    let server = Server::start(command, 2);
    assert_eq!(server.schemes, ["irc", "chat"]);
    let mut irc = std::net::TcpStream::connect(server.addrs[0]).expect("connect to irc://");
    irc.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    irc.write_all(b"NICK ircuser\r\nUSER u 0 * :U\r\nJOIN #lobby\r\n").expect("register");
    let mut lines = BufReader::new(irc.try_clone().expect("clone")).lines();
    let mut next = || lines.next().expect("a line").expect("read");
    assert_eq!(next(), ":irc.test 001 ircuser :Welcome to the smolchat IRC network, ircuser");
    while !next().contains(" 366 ") {}
    smol::block_on(async {
        let (alice, _) =
            within("join", Client::join(server.addrs[1], "alice")).await.expect("join");
        alice.say("hi irc").await.expect("say");
    });
    while next() != ":alice!chat@smolchat PRIVMSG #lobby :hi irc" {}
}

#[test]
fn a_listener_it_cannot_use_stops_it_with_a_clear_error() {
    let output = server_binary().args(["--listen", "gopher://127.0.0.1:0"]).output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown scheme \"gopher\""), "{stderr}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let output = server_binary().args(["--bind", &addr]).output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on chat://{addr}")), "{stderr}");
    // No port: said how to write one, not just `invalid socket address`.
    let output = server_binary().args(["--bind", "127.0.0.1"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on chat://127.0.0.1: invalid"), "{stderr}");
    assert!(stderr.contains("write HOST:PORT, as 127.0.0.1:55555"), "{stderr}");
}

#[test]
fn help_opens_with_each_binarys_own_description() {
    for (binary, opening) in [
        (env!("CARGO_BIN_EXE_smolchat-server"), "The smolchat server:"),
        (env!("CARGO_BIN_EXE_smolchat"), "The smolchat client:"),
    ] {
        let output = Process::new(binary).arg("--help").output().expect("run --help");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.starts_with(opening), "{binary}: {help}");
    }
}

#[test]
fn running_out_of_file_descriptors_is_warned_of_and_survived() {
    // A descriptor limit of 64 leaves room for a few dozen clients at most.
    let script = format!(
        "ulimit -n 64 && exec {} --bind 127.0.0.1:0 --data-dir none",
        env!("CARGO_BIN_EXE_smolchat-server")
    );
    let mut command = Process::new("sh");
    command.args(["-c", &script]).env("RUST_LOG", "warn,smolchat::server=info");
    let mut server = Server::start(command, 1);
    let addr = server.addrs[0];
    let warned = server.before.iter().any(|line| line.contains("open-files limit fits about 48"));
    assert!(warned, "{:?}", server.before);
    smol::block_on(async {
        // More connections than descriptors: the kernel completes them, the server cannot.
        let mut crowd = Vec::new();
        for _ in 0..100 {
            crowd.push(
                within("connect", async_net::TcpStream::connect(addr)).await.expect("connect"),
            );
        }
        let logged = server.wait_log("accept failed");
        assert!(logged.contains("backing off"), "{logged}");
        drop(crowd);
        // Once they are gone the server accepts again, and works.
        let (mut alice, _) = within("join after", Client::join(addr, "alice")).await.expect("join");
        alice.say("still serving").await.expect("say");
        wait_message(&mut alice, "alice", "still serving").await;
    });
    assert_eq!(server.terminate().code(), Some(0));
}

/// Every duration flag takes up to a century. Past that a deadline overflows the clock: a
/// ping interval of 400 billion years once started the server and then panicked each
/// client's session as it registered.
#[test]
fn durations_go_up_to_a_century_and_no_further() {
    let durations = ["--handshake-timeout", "--ping-interval", "--ping-timeout", "--line-timeout"];
    let mut command = server_binary();
    command.args(["--bind", "127.0.0.1:0"]).env("RUST_LOG", "info");
    for flag in durations.iter().chain(&["--identify-grace", "--history-age", "--commit-interval"])
    {
        command.args([flag, "100y"]);
    }
    let mut server = Server::start(command, 1);
    smol::block_on(async {
        let (mut alice, _) =
            within("join", Client::join(server.addrs[0], "alice")).await.expect("join");
        alice.say("a century").await.expect("say");
        wait_message(&mut alice, "alice", "a century").await;
    });
    assert_eq!(server.terminate().code(), Some(0));
    for too_long in ["101y", "400000000000y"] {
        let mut command = server_binary();
        command.args(["--bind", "127.0.0.1:0", "--ping-interval", too_long]);
        let (code, stderr) = start_up_failure(command);
        assert_eq!(code, Some(2), "{too_long}: {stderr}");
        let said = format!("invalid value '{too_long}' for '--ping-interval");
        assert!(stderr.contains(&said) && stderr.contains("the longest"), "{stderr}");
    }
}

/// A timeout of 0 is refused at start: a connection sets its line timer that far ahead
/// again each time it fires, so `--line-timeout 0s` once kept a core busy for every idle
/// client.
#[test]
fn a_timeout_of_zero_is_refused_at_start() {
    for flag in ["--line-timeout", "--handshake-timeout", "--ping-interval", "--ping-timeout"] {
        let mut command = server_binary();
        command.args(["--bind", "127.0.0.1:0", flag, "0s"]);
        let (code, stderr) = start_up_failure(command);
        assert_eq!(code, Some(2), "{flag}: {stderr}");
        assert!(stderr.contains("0s is less than 10ms, the shortest this may be"), "{stderr}");
    }
}

/// A start-up error is one line a person can act on, even with `RUST_BACKTRACE=1` set (as
/// many a Rust programmer's shell has): not a Debug dump of causes and a stack trace.
#[test]
fn a_start_up_error_is_one_line_even_with_backtraces_on() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut command = server_binary();
    command.args(["--bind", &addr]).env("RUST_BACKTRACE", "1").env("RUST_LOG", "off");
    let (code, stderr) = start_up_failure(command);
    assert_eq!(code, Some(1), "{stderr}");
    let want = format!("error: cannot listen on chat://{addr}: Address already in use");
    assert!(stderr.starts_with(&want), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// `--threads` is 1 to 1024: smol panics on an executor thread it cannot start, and
/// `--threads 100000` once aborted the server that way; 0 was quietly taken for 1.
#[test]
fn threads_are_one_to_a_thousand_and_twenty_four() {
    let parse =
        |threads: &str| ServerFlags::try_parse_from(["smolchat-server", "--threads", threads]);
    assert_eq!(parse("1024").expect("the most").threads, Some(1024));
    assert_eq!(parse("1").expect("the least").threads, Some(1));
    for threads in ["100000", "1025", "0"] {
        let mut command = server_binary();
        command.args(["--bind", "127.0.0.1:0", "--threads", threads]);
        let (code, stderr) = start_up_failure(command);
        assert_eq!(code, Some(2), "{threads}: {stderr}");
        assert!(stderr.contains(&format!("{threads} is not in 1..=1024")), "{stderr}");
    }
}

/// A data directory is a path, and a path on Unix need not be UTF-8: one such was refused
/// as "invalid UTF-8 was detected in one or more arguments", without saying which.
#[cfg(unix)]
#[test]
fn a_data_directory_whose_name_is_not_utf8_is_used() {
    use std::os::unix::ffi::OsStrExt as _;
    let parent = TempDir::new("non-utf8");
    let dir = parent.path().join(std::ffi::OsStr::from_bytes(b"data-\xff"));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_smolchat-server"));
    command.arg("--data-dir").arg(&dir).args(["--bind", "127.0.0.1:0"]).env("RUST_LOG", "info");
    let mut server = Server::start(command, 1);
    assert!(dir.join("smolchat.redb").exists(), "the store is in {}", dir.display());
    assert_eq!(server.terminate().code(), Some(0));
}

/// `--queue-len` is at most 4096: room for every entry is set aside once a client falls
/// behind, and `--queue-len 4294967295` once aborted the whole server on the first slow
/// reader (a failed allocation of 64 GiB).
#[test]
fn a_send_queue_longer_than_4096_entries_is_refused_at_start() {
    for len in ["4097", "4294967295"] {
        let mut command = server_binary();
        command.args(["--bind", "127.0.0.1:0", "--queue-len", len]);
        let (code, stderr) = start_up_failure(command);
        assert_eq!(code, Some(2), "{len}: {stderr}");
        assert!(stderr.contains(&format!("{len} is not in 1..=4096")), "{stderr}");
    }
}

/// A server waiting out its shutdown grace for a client that reads nothing stops at once
/// on a second Ctrl-C, with the exit status of a process stopped by SIGINT, and its store
/// closed: started again, it has nothing to repair.
#[test]
fn a_second_ctrl_c_stops_a_server_waiting_for_a_slow_client() {
    let dir = TempDir::new("second-ctrl-c");
    let mut command = server_binary_in(dir.path());
    command.args(["--bind", "127.0.0.1:0", "--flood-rate", "0", "--shutdown-grace", "60s"]);
    command.args(["--queue-bytes", "67108864", "--queue-len", "4096"]).env("RUST_LOG", "info");
    let mut server = Server::start(command, 1);
    let addr = server.addrs[0];
    let _sink = smol::block_on(async {
        // The sink reads nothing: what the talker says fills its socket's buffers, and the
        // rest waits in its queue, which the stop would write before saying goodbye.
        let (sink, _) = within("join", Client::join(addr, "sink")).await.expect("join");
        let (mut talker, _) = within("join", Client::join(addr, "talker")).await.expect("join");
        let line = "x".repeat(4000);
        for _ in 0..3000 {
            talker.say(&line).await.expect("say");
        }
        for _ in 0..3000 {
            wait_message(&mut talker, "talker", &line).await;
        }
        sink
    });
    server.signal("INT");
    server.wait_log("shutting down");
    assert!(server.child.try_wait().expect("the server").is_none(), "it waits for the sink");
    server.signal("INT");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("the server") {
            break status;
        }
        assert!(started.elapsed() < TIMEOUT, "still running after a second Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    server.wait_log("a second signal");
    let mut again = server_binary_in(dir.path());
    again.args(["--bind", "127.0.0.1:0"]).env("RUST_LOG", "info");
    let again = Server::start(again, 1);
    let repaired = again.before.iter().find(|line| line.contains("not closed cleanly"));
    assert_eq!(repaired, None, "{:?}", again.before);
}
