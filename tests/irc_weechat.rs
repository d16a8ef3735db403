//! A real weechat against the IRC listener: the README's way of connecting (a server
//! added, then `/connect`) registers with the capabilities weechat asks for, joins
//! `#lobby`, talks both ways with a smolchat client, changes nick and quits.
//!
//! weechat runs headless (`weechat-headless`, Debian's package of that name): it is told
//! what to type through its FIFO plugin, and what it saw is read from its logger's files.
//! Without it the test says why on stderr and passes as skipped, unless
//! `SMOLCHAT_REQUIRE_IRC_CLIENT=1` (set by `.ci/run`), where it fails instead.
#![cfg(unix)]

mod common;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use smol::Timer;
use smolchat::proto::chat::Line;

/// How long weechat gets to do something on loopback before the test gives up.
const WEECHAT_TIMEOUT: Duration = Duration::from_secs(8);

/// How often a wait reads weechat's files again: they are the only way it tells what it saw.
const POLL: Duration = Duration::from_millis(20);

#[test]
fn weechat_connects_as_the_readme_says_talks_renames_and_quits() {
    if !programs::available("weechat", &["weechat-headless"], "weechat-headless") {
        return;
    }
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let weechat = Weechat::start(server.irc, "wee");
        wait_for(&mut alice, "JOIN #lobby wee", |l| *l == lobby_join("wee")).await;
        weechat.wait_log("irc.server.smol", "client capability, enabled: away-notify").await;
        // Its buffer for the room exists once it has logged its own join there.
        weechat.wait_log("irc.smol.#lobby", "wee (chat@smolchat) has joined #lobby").await;

        // From weechat to smolchat, and back.
        weechat.type_in("#lobby", "hello from weechat").await;
        wait_for(&mut alice, "wee's message", |l| *l == lobby_message("wee", "hello from weechat"))
            .await;
        alice.say("hi wee").await.expect("say");
        weechat.wait_log("irc.smol.#lobby", "alice\thi wee").await;

        // A new nick, and a goodbye with words.
        weechat.type_in("#lobby", "/nick wee2").await;
        let renamed = Line::Rename { old: s("wee"), new: s("wee2") };
        wait_for(&mut alice, "RENAME wee wee2", |l| *l == renamed).await;
        weechat.type_in("#lobby", "/quit see you").await;
        let gone = quit("wee2", "quit: see you");
        wait_for(&mut alice, "QUIT wee2", |l| *l == gone).await;
        weechat.wait_exit().await;
        server.stop().await;
    });
}

/// weechat-headless with a home folder of its own; dropping it ends the program and
/// removes the folder.
struct Weechat {
    /// The folder passed as `--dir`: config, logs and the FIFO.
    home: PathBuf,
    /// The running program.
    child: Child,
}

impl Weechat {
    /// Starts weechat as `nick`, with a server added for `addr` as the README says, set to
    /// join `#lobby`, and connected.
    fn start(addr: SocketAddr, nick: &str) -> Weechat {
        let home = programs::unique_dir("weechat");
        fs::create_dir(&home).expect("create weechat's home folder");
        let commands = [
            "/set logger.file.flush_delay 0".to_string(),
            format!("/server add smol {}/{}", addr.ip(), addr.port()),
            format!("/set irc.server.smol.nicks {nick}"),
            "/set irc.server.smol.autojoin #lobby".to_string(),
            "/connect smol".to_string(),
        ];
        let child = Command::new("weechat-headless")
            .arg("--dir")
            .arg(&home)
            .args(["--plugins", "irc,fifo,logger", "--run-command", &commands.join(";")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start weechat-headless");
        Weechat { home, child }
    }

    /// Types `text` into the buffer of `channel` on the server, through the FIFO.
    async fn type_in(&self, channel: &str, text: &str) {
        let fifo = self.fifo().await;
        let line = format!("irc.smol.{channel} *{text}\n");
        fs::write(&fifo, line).expect("write to weechat's FIFO");
    }

    /// The FIFO weechat made in its home (`weechat_fifo_PID`), once it is there.
    async fn fifo(&self) -> PathBuf {
        self.wait("its FIFO", || {
            let entries = fs::read_dir(&self.home).ok()?;
            let mut names = entries.filter_map(Result::ok).map(|entry| entry.path());
            names.find(|path| file_name_starts(path, "weechat_fifo"))
        })
        .await
    }

    /// Waits until weechat's log of `buffer` holds `text`.
    async fn wait_log(&self, buffer: &str, text: &str) {
        let file = self.home.join("logs").join(format!("{buffer}.weechatlog"));
        let what = format!("{text:?} in {}", file.display());
        self.wait(&what, || fs::read_to_string(&file).ok().filter(|log| log.contains(text))).await;
    }

    /// Waits for weechat to exit by itself (after `/quit`).
    async fn wait_exit(mut self) {
        let child = &mut self.child;
        let exited = within("weechat's exit", async {
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    return status;
                }
                Timer::after(POLL).await;
            }
        })
        .await;
        assert!(exited.success(), "weechat exited with {exited}");
    }

    /// Polls `look` until it finds something, failing the test after [`WEECHAT_TIMEOUT`].
    async fn wait<T>(&self, what: &str, look: impl Fn() -> Option<T>) -> T {
        let deadline = Instant::now() + WEECHAT_TIMEOUT;
        loop {
            if let Some(found) = look() {
                return found;
            }
            assert!(Instant::now() < deadline, "weechat: no {what} after {WEECHAT_TIMEOUT:?}");
            Timer::after(POLL).await;
        }
    }
}

/// Whether the file name of `path` starts with `prefix`.
fn file_name_starts(path: &Path, prefix: &str) -> bool {
    path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.starts_with(prefix))
}

impl Drop for Weechat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.home);
    }
}
