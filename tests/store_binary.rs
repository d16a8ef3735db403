//! The store with the real server binary: one server per data directory, what a restart
//! keeps, and what a `kill -9` in the middle of traffic may lose (at most the last commit
//! interval, never the store itself).

mod common;

use std::time::Duration;

use common::binary::{server_binary_in, Server};
use common::*;
use smolchat::client::Client;
use smolchat::proto::chat::Line;

/// The binary keeping its store in `dir`, with a chat listener and `extra` flags.
fn start_in(dir: &TempDir, extra: &[&str]) -> Server {
    let mut command = server_binary_in(dir.path());
    command.args(["--bind", "127.0.0.1:0", "--flood-rate", "0", "--shutdown-grace", "1s"]);
    command.args(extra).env("RUST_LOG", "info");
    Server::start(command, 1)
}

/// The texts of the lobby's history as a newcomer is given it.
async fn replayed(server: &Server, nick: &str) -> Vec<String> {
    let (mut client, _) = within("join", Client::join(server.addrs[0], nick)).await.expect("join");
    let mut texts = Vec::new();
    loop {
        match next(&mut client).await {
            Line::History { line, .. } => {
                if let Line::Message { text, .. } = *line {
                    texts.push(text);
                }
            }
            Line::Room { .. } => return texts,
            _ => {}
        }
    }
}

#[test]
fn a_second_server_on_one_data_directory_is_refused() {
    let dir = TempDir::new("store-twice");
    let _first = start_in(&dir, &[]);
    let output = server_binary_in(dir.path())
        .args(["--bind", "127.0.0.1:0"])
        .output()
        .expect("run the second server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is in use by another smolchat-server"), "{stderr}");
}

#[test]
fn a_restart_keeps_history_and_accounts() {
    let dir = TempDir::new("store-restart");
    let mut server = start_in(&dir, &[]);
    smol::block_on(async {
        let mut ann = within("ann", Client::join(server.addrs[0], "ann")).await.expect("ann").0;
        settle(&mut ann).await;
        ann.sender.send_line("/register correct-horse").await.expect("register");
        let account = Line::Account { nick: Some(s("ann")) };
        wait_for(&mut ann, "ACCOUNT", |line| *line == account).await;
        for text in ["one", "two", "three"] {
            ann.say(text).await.expect("say");
        }
        wait_message(&mut ann, "ann", "three").await;
    });
    assert!(server.terminate().success());

    let server = start_in(&dir, &[]);
    smol::block_on(async {
        assert_eq!(replayed(&server, "bob").await, ["one", "two", "three"]);
        let (mut ann, _) = within("ann", Client::join(server.addrs[0], "ann")).await.expect("j");
        let ask = |line: &Line| matches!(line, Line::Identify { nick, .. } if nick == "ann");
        wait_for(&mut ann, "IDENTIFY", ask).await;
    });
}

#[test]
fn kill_nine_in_the_middle_of_traffic_loses_at_most_the_last_commit_interval() {
    let dir = TempDir::new("store-kill");
    let interval = Duration::from_millis(100);
    let mut server = start_in(&dir, &["--commit-interval", "100ms", "--history-replay", "500"]);
    let unclean =
        |server: &Server| server.before.iter().any(|line| line.contains("not closed cleanly"));
    assert!(!unclean(&server), "a new store is not a repaired one: {:?}", server.before);
    let sent = smol::block_on(async {
        let mut ann = within("ann", Client::join(server.addrs[0], "ann")).await.expect("ann").0;
        settle(&mut ann).await;
        // Acknowledged well before the kill: these must all survive it.
        // In tens, reading the echoes: a client that only writes is cut off as not reading.
        for n in 0..100 {
            ann.say(&format!("m{n}")).await.expect("say");
            if n % 10 == 9 {
                wait_message(&mut ann, "ann", &format!("m{n}")).await;
            }
        }
        smol::Timer::after(interval * 5).await;
        // Then traffic that the kill cuts short.
        let mut n = 100;
        while n < 400 {
            ann.say(&format!("m{n}")).await.expect("say");
            n += 1;
            if n % 10 == 0 && n < 250 {
                wait_message(&mut ann, "ann", &format!("m{}", n - 1)).await;
            }
            if n == 250 {
                wait_message(&mut ann, "ann", "m249").await;
                let pid = server.pid().to_string();
                let killed = std::process::Command::new("kill").args(["-9", &pid]).status();
                assert!(killed.expect("run kill").success());
                break;
            }
        }
        n
    });
    let status = server.child.wait().expect("wait for the killed server");
    assert!(!status.success());

    let server = start_in(&dir, &["--history-replay", "500"]);
    assert!(unclean(&server), "the repair is logged: {:?}", server.before);
    let kept = smol::block_on(replayed(&server, "bob"));
    // In order, from the first, without a gap: a prefix of what was sent.
    let expected: Vec<String> = (0..kept.len()).map(|n| format!("m{n}")).collect();
    assert_eq!(kept, expected);
    assert!(kept.len() >= 100 && kept.len() <= sent, "{} of {sent} kept", kept.len());
}
