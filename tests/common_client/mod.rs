//! Harness for the client tests: the server tests' harness (`tests/common`), plus the real
//! `smolchat` binary and waits on what watcher clients see.

#![allow(dead_code)] // each test file uses its own subset

use std::process::Stdio;

use smol::process::Command;
use smolchat::client::Client;
use smolchat::proto::chat::Line;

#[cfg(unix)]
pub mod pty;

// The server harness and the waits are the server tests' own; one copy serves both.
#[path = "../common/mod.rs"]
mod common;
#[allow(unused_imports)] // each test file uses its own subset
pub use common::{
    join_room, lobby_join, password::PasswordFile, quick, wait_for, wait_message, within, TempDir,
    TestServer, TIMEOUT,
};

/// Waits for `JOIN #lobby nick`.
pub async fn wait_join(client: &mut Client, nick: &str) {
    let want = lobby_join(nick);
    wait_for(client, &format!("JOIN {nick}"), |e| *e == want).await;
}

/// Waits for `QUIT nick ...` and returns the reason.
pub async fn wait_leave(client: &mut Client, nick: &str) -> String {
    let what = format!("QUIT {nick}");
    match wait_for(client, &what, |e| matches!(e, Line::Quit { nick: n, .. } if n == nick)).await {
        Line::Quit { reason, .. } => reason,
        _ => unreachable!("wait_for returned another event"),
    }
}

/// Collects lines until `QUIT nick ...`, which is the last one returned.
pub async fn events_until_leave(client: &mut Client, nick: &str) -> Vec<Line> {
    within(&format!("LEAVE {nick}"), async {
        let mut seen = Vec::new();
        loop {
            let event = client.next().await.expect("connection ended before the leave");
            let done = matches!(&event, Line::Quit { nick: n, .. } if n == nick);
            seen.push(event);
            if done {
                return seen;
            }
        }
    })
    .await
}

/// The `smolchat` binary against `server`, with no colours, no history, nothing inherited
/// on stdin, and killed if the test drops it.
pub fn smolchat(server: &TestServer) -> Command {
    smolchat_at(&server.addr.to_string())
}

/// [`smolchat`] against any address.
pub fn smolchat_at(address: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smolchat"));
    command
        .args(["--server", address, "--no-history"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The path of a bot in `bots/`.
pub fn bot(name: &str) -> String {
    format!("{}/bots/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Asserts that `lines` appear in `text` in this order (other lines may come between).
pub fn assert_in_order(text: &str, lines: &[&str]) {
    let mut rest = text.lines();
    for want in lines {
        assert!(rest.any(|line| line == *want), "missing {want:?} (in order) in:\n{text}");
    }
}
