//! A real weechat against the IRC listeners: the README's way of connecting (a server
//! added, then `/connect`) registers with the capabilities weechat asks for, joins
//! `#lobby`, talks both ways with a smolchat client, changes nick and quits; and over
//! `ircs://` it talks trusting the server's certificate through a CA file or by its pinned
//! fingerprint.
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

use common::irc::irc_config;
use common::tls::join_chats;
use common::tls::{Pki, TlsServer};
use common::*;
use smol::Timer;
use smolchat::client::{Client, Trust};
use smolchat::proto::chat::Line;

/// How long weechat gets to do something on loopback before the test gives up.
const WEECHAT_TIMEOUT: Duration = Duration::from_secs(8);

/// How often a wait reads weechat's files again: they are the only way it tells what it saw.
const POLL: Duration = Duration::from_millis(20);

#[test]
fn weechat_connects_as_the_readme_says_talks_renames_and_quits() {
    if !weechat_here() {
        return;
    }
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let weechat = Weechat::start(server.irc, "wee", Security::Plain);
        weechat.wait_log("irc.server.smol", "client capability, enabled: away-notify").await;
        join_and_talk(&weechat, &mut alice).await;

        // A new nick, and a goodbye with words.
        weechat.type_in("#lobby", "/nick wee2").await;
        let renamed = Line::Rename { old: s("wee"), new: s("wee2") };
        wait_for(&mut alice, "RENAME wee wee2", |l| *l == renamed).await;
        leave(weechat, &mut alice, "wee2").await;
        server.stop().await;
    });
}

#[test]
fn weechat_over_ircs_verifies_the_certificate_with_a_ca_file() {
    if !weechat_here() {
        return;
    }
    let pki = Pki::new("weechat-ca");
    smol::block_on(async {
        // weechat, unlike irssi, matches the certificate's IP addresses too.
        let server = TlsServer::start(irc_config(), pki.localhost()).await;
        let trust = Trust::CaFile(pki.ca_file.clone());
        let mut alice = join_chats(server.chats, trust, "alice").await;
        let weechat = Weechat::start(server.ircs, "wee", Security::CaFile(&pki.ca_file));
        weechat.wait_log("irc.server.smol", "gnutls: peer's certificate is trusted").await;
        join_and_talk(&weechat, &mut alice).await;
        leave(weechat, &mut alice, "wee").await;
        server.stop().await;
    });
}

#[test]
fn weechat_over_ircs_trusts_a_pinned_certificate_whatever_its_name() {
    if !weechat_here() {
        return;
    }
    let pki = Pki::new("weechat-pin");
    smol::block_on(async {
        // Another name, and an authority weechat has never heard of: only the pin trusts it.
        let files = pki.issue("other", &["chat.example.org"], false);
        let server = TlsServer::start(irc_config(), files).await;
        let fingerprint = server.tls.fingerprint();
        let trust = Trust::pinned(&fingerprint).expect("a fingerprint");
        let mut alice = join_chats(server.chats, trust, "alice").await;

        // A wrong pin is refused.
        let wrong = ["AB"; 32].join(":");
        let refused = Weechat::start(server.ircs, "wee", Security::Pinned(&wrong));
        refused.wait_log("irc.server.smol", "certificate fingerprint does NOT match").await;
        drop(refused);
        let weechat = Weechat::start(server.ircs, "wee", Security::Pinned(&fingerprint));
        weechat.wait_log("irc.server.smol", "certificate fingerprint matches").await;
        join_and_talk(&weechat, &mut alice).await;
        leave(weechat, &mut alice, "wee").await;
        server.stop().await;
    });
}

/// Whether weechat-headless is here to run; says why not (or fails) when it is missing.
fn weechat_here() -> bool {
    programs::available("weechat", &["weechat-headless"], "weechat-headless")
}

/// weechat, as `wee` and set to join `#lobby`, is seen there by alice, and a message goes
/// each way.
async fn join_and_talk(weechat: &Weechat, alice: &mut Client) {
    wait_for(alice, "JOIN #lobby wee", |l| *l == lobby_join("wee")).await;
    // Its buffer for the room exists once it has logged its own join there.
    weechat.wait_log("irc.smol.#lobby", "wee (chat@smolchat) has joined #lobby").await;
    weechat.type_in("#lobby", "hello from weechat").await;
    let said = lobby_message("wee", "hello from weechat");
    wait_for(alice, "wee's message", |l| *l == said).await;
    alice.say("hi wee").await.expect("say");
    weechat.wait_log("irc.smol.#lobby", "alice\thi wee").await;
}

/// weechat, as `nick`, quits with words that alice hears, and exits.
async fn leave(weechat: Weechat, alice: &mut Client, nick: &str) {
    weechat.type_in("#lobby", "/quit see you").await;
    let gone = quit(nick, "quit: see you");
    wait_for(alice, &format!("QUIT {nick}"), |l| *l == gone).await;
    weechat.wait_exit().await;
}

/// How weechat's server is added: in the clear, or over TLS trusting a CA file or a pinned
/// SHA-256 fingerprint (given as the server logs it, `AB:CD:...`).
enum Security<'a> {
    /// Plain IRC.
    Plain,
    /// TLS, the certificate verified (weechat's default) against this CA too.
    CaFile(&'a Path),
    /// TLS, the certificate trusted if it has this fingerprint, whatever else it says.
    Pinned(&'a str),
}

impl Security<'_> {
    /// The commands that add the server `smol` at `addr` this way, as a user would type them.
    fn server_add(&self, addr: SocketAddr) -> Vec<String> {
        let tls = tls_word();
        let add = format!("/server add smol {}/{}", addr.ip(), addr.port());
        match self {
            // Since 4.0 a server added without saying otherwise speaks TLS.
            Security::Plain if tls == "tls" => vec![format!("{add} -notls")],
            Security::Plain => vec![add],
            Security::CaFile(ca) => vec![
                format!("/set weechat.network.gnutls_ca_user {}", ca.display()),
                format!("{add} -{tls}"),
            ],
            // weechat wants the hex digits alone, in either case: the colons go.
            Security::Pinned(fingerprint) => {
                let hex = fingerprint.replace(':', "");
                vec![format!("{add} -{tls} -{tls}_fingerprint={hex}")]
            }
        }
    }
}

/// What weechat calls TLS in its options and `/server add` flags: `ssl` before 4.0
/// (`-ssl`, `ssl_fingerprint`), `tls` since.
fn tls_word() -> &'static str {
    let version = Command::new("weechat-headless").arg("--version").output();
    let version = version.map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
    let major = version.ok().and_then(|v| v.trim().split('.').next()?.parse::<u32>().ok());
    if major.is_some_and(|major| major < 4) {
        "ssl"
    } else {
        "tls"
    }
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
    /// Starts weechat as `nick`, with a server added for `addr` as the README says (with
    /// `security`), set to join `#lobby`, and connected.
    fn start(addr: SocketAddr, nick: &str, security: Security) -> Weechat {
        let home = programs::unique_dir("weechat");
        fs::create_dir(&home).expect("create weechat's home folder");
        let mut commands = vec!["/set logger.file.flush_delay 0".to_string()];
        commands.extend(security.server_add(addr));
        commands.extend([
            // weechat's flood control spaces each line after the first by 2 s (a wait for a
            // timer, not for the server). The option's 3.x name, then its 4.x name: each
            // version refuses the other's with a line in its core log, and goes on.
            "/set irc.server.smol.anti_flood_prio_high 0".to_string(),
            "/set irc.server.smol.anti_flood 0".to_string(),
            format!("/set irc.server.smol.nicks {nick}"),
            "/set irc.server.smol.autojoin #lobby".to_string(),
            "/connect smol".to_string(),
        ]);
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
