//! A real IRC client against the IRC listeners: irssi, driven in tmux, joins `#lobby`, talks
//! both ways with a smolchat client, changes nick and quits; and over `ircs://` it does the
//! same trusting the server's certificate either through a CA file or by its pinned
//! fingerprint.
//!
//! Needs `irssi` and `tmux` on PATH (`apt-get install -y irssi tmux`). Without them the test
//! says why on stderr and passes as skipped, unless `SMOLCHAT_REQUIRE_IRC_CLIENT=1` (set by
//! `.ci/run`), where it fails instead. On a failure it prints irssi's screen and its raw log
//! of every IRC line it sent and received.
#![cfg(unix)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{self, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::irc::irc_config;
use common::tls::join_chats;
use common::tls::{Pki, TlsServer};
use common::*;
use smol::process::Command;
use smol::Timer;
use smolchat::client::{Client, Trust};
use smolchat::proto::chat::Line;

#[test]
fn irssi_joins_the_lobby_talks_both_ways_changes_nick_and_quits() {
    if !irssi_here() {
        return;
    }
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut alice = server.join("alice").await;
        let irssi = Irssi::start("ircuser").await;
        irssi.connect("", &server.irc.ip().to_string(), server.irc.port()).await;
        join_lobby(&irssi, &mut alice, "ircuser").await;
        talk(&irssi, &mut alice, "ircuser").await;

        // Actions, both ways.
        irssi.type_line("/me waves").await;
        let waved = Line::Action { room: s(LOBBY), from: s("ircuser"), text: s("waves") };
        wait_for(&mut alice, "irssi's action", |l| *l == waved).await;
        alice.sender.send_line("/me waves back").await.expect("act");
        irssi.wait_screen("alice's action", &["* alice waves back"]).await;

        // A new nick, heard by smolchat and confirmed to irssi, which is still spoken to.
        irssi.type_line("/nick ircuser2").await;
        irssi.wait_screen("its new nick", &["You're now known as ircuser2"]).await;
        let renamed = Line::Rename { old: s("ircuser"), new: s("ircuser2") };
        wait_for(&mut alice, "RENAME ircuser ircuser2", |l| *l == renamed).await;
        alice.say("still there?").await.expect("say");
        irssi.wait_screen("alice's message after the rename", &["alice>", "still there?"]).await;

        leave(irssi, &mut alice, "ircuser2").await;
        server.stop().await;
    });
}

#[test]
fn irssi_over_ircs_verifies_the_certificate_with_a_ca_file() {
    if !irssi_here() {
        return;
    }
    let (pki, stranger) = (Pki::new("irssi-ca"), Pki::new("irssi-stranger"));
    smol::block_on(async {
        let server = TlsServer::start(irc_config(), pki.localhost()).await;
        let trust = Trust::CaFile(pki.ca_file.clone());
        let mut alice = join_chats(server.chats, trust, "alice").await;
        let irssi = Irssi::start("ircuser").await;
        // irssi matches the certificate's DNS names only, never its IP addresses, so it goes
        // by `localhost`; `-4` because the server listens on 127.0.0.1 alone.
        let with_ca = |ca: &Path| format!("-4 -tls -tls_cafile {}", ca.display());
        let port = server.ircs.port();

        // A CA file turns verification on: another authority's is refused.
        irssi.dial(&with_ca(&stranger.ca_file), "localhost", port).await;
        let refused = ["Could not verify TLS servers certificate", "unable to get local issuer"];
        irssi.wait_screen("the refusal of an unknown authority", &refused).await;
        irssi.connect(&with_ca(&pki.ca_file), "localhost", port).await;
        join_lobby(&irssi, &mut alice, "ircuser").await;
        talk(&irssi, &mut alice, "ircuser").await;
        leave(irssi, &mut alice, "ircuser").await;
        server.stop().await;
    });
}

#[test]
fn irssi_over_ircs_trusts_a_pinned_certificate_whatever_its_name() {
    if !irssi_here() {
        return;
    }
    let pki = Pki::new("irssi-pin");
    smol::block_on(async {
        // Another name, and an authority irssi has never heard of. A pin without
        // `-tls_verify` is all irssi checks; with it, the certificate would have to pass both.
        let files = pki.issue("other", &["chat.example.org"], false);
        let server = TlsServer::start(irc_config(), files).await;
        let fingerprint = server.tls.fingerprint();
        let trust = Trust::pinned(&fingerprint).expect("a fingerprint");
        let mut alice = join_chats(server.chats, trust, "alice").await;
        let irssi = Irssi::start("ircuser").await;
        let (host, port) = ("127.0.0.1", server.ircs.port());

        // A wrong pin is refused, and irssi shows the right one as the server logs it.
        let wrong = ["AB"; 32].join(":");
        irssi.dial(&format!("-tls -tls_pinned_cert {wrong}"), host, port).await;
        irssi.wait_screen("the refusal of a wrong pin", &["Pinned certificate mismatch"]).await;
        irssi.wait_screen("the fingerprint", &["Certificate Fingerprint:", &fingerprint]).await;
        irssi.connect(&format!("-tls -tls_pinned_cert {fingerprint}"), host, port).await;
        join_lobby(&irssi, &mut alice, "ircuser").await;
        talk(&irssi, &mut alice, "ircuser").await;
        leave(irssi, &mut alice, "ircuser").await;
        server.stop().await;
    });
}

/// Whether irssi and tmux are here to run; says why not (or fails) when they are missing.
fn irssi_here() -> bool {
    programs::available("irssi", &["irssi", "tmux"], "irssi tmux")
}

/// irssi, as `nick`, joins `#lobby`, and each side sees the other there.
async fn join_lobby(irssi: &Irssi, alice: &mut Client, nick: &str) {
    irssi.type_line("/join #lobby").await;
    irssi.wait_screen("its own join", &[nick, "has joined #lobby"]).await;
    irssi.wait_screen("the names in #lobby", &["#lobby: Total of 2 nicks"]).await;
    wait_for(alice, &format!("JOIN #lobby {nick}"), |l| *l == lobby_join(nick)).await;
}

/// A message each way between irssi, as `nick`, and alice, in `#lobby`.
async fn talk(irssi: &Irssi, alice: &mut Client, nick: &str) {
    irssi.type_line("héllo from irssi").await;
    let said = lobby_message(nick, "héllo from irssi");
    wait_for(alice, "irssi's message", |l| *l == said).await;
    alice.say("hello from smolchat").await.expect("say");
    irssi.wait_screen("alice's message", &["alice>", "hello from smolchat"]).await;
}

/// irssi, as `nick`, quits with words that alice hears, and exits.
async fn leave(irssi: Irssi, alice: &mut Client, nick: &str) {
    irssi.type_line("/quit gone for now").await;
    let gone = quit(nick, "quit: gone for now");
    wait_for(alice, &format!("QUIT {nick}"), |l| *l == gone).await;
    irssi.wait_exit().await;
}

/// How long irssi gets to show something or write a line to its raw log: on loopback that
/// is milliseconds, so a few seconds means it is never coming.
const IRSSI_TIMEOUT: Duration = Duration::from_secs(8);

/// How often a wait looks at the screen or the raw log again: tmux tells nobody when a pane
/// changes (short of its control mode), so looking again is the event wait here.
const POLL: Duration = Duration::from_millis(20);

/// irssi in a detached tmux session of its own, with a home folder of its own (config, raw
/// log of the IRC traffic, tmux socket). Dropping it ends both programs and removes the
/// folder; if the test is failing it shows irssi's screen and raw log first.
struct Irssi {
    /// The folder passed as `--home`; also holds the tmux socket and the raw log.
    home: PathBuf,
}

impl Irssi {
    /// Starts irssi as `nick`, connected to nothing, and waits for its prompt.
    async fn start(nick: &str) -> Irssi {
        let home = programs::unique_dir("irssi");
        fs::create_dir(&home).expect("create irssi's home folder");
        let irssi = Irssi { home };
        fs::write(irssi.home.join("config"), config(nick)).expect("write irssi's config");
        let home_arg = format!("--home={}", irssi.home.display());
        // A pane that outlives irssi tells that it exited, and with what status.
        let start = ["new-session", "-d", "-x", "200", "-y", "50", "irssi", &home_arg];
        irssi
            .tmux(&[&start[..], &[";", "set-option", "-g", "remain-on-exit", "on"]].concat())
            .await;
        irssi.wait_screen("its prompt", &["[(status)]"]).await;
        irssi
    }

    /// Types `/connect OPTIONS HOST PORT`, and waits for nothing: for a connection that is
    /// to be refused.
    async fn dial(&self, options: &str, host: &str, port: u16) {
        // irssi reads past the second space that no options leave.
        self.type_line(&format!("/connect {options} {host} {port}")).await;
    }

    /// Connects to the IRC server at `host` `port` with `/connect` `options` (`-tls ...`),
    /// keeps a raw log of the traffic from the start, and waits for the `001` that ends
    /// registration.
    async fn connect(&self, options: &str, host: &str, port: u16) {
        self.dial(options, host, port).await;
        self.wait_screen("the connection", &[&format!("Connection to {host} established")]).await;
        // `/rawlog open` needs a connection; it writes what came before it too.
        self.type_line(&format!("/rawlog open {}", self.rawlog_path().display())).await;
        self.wait_raw("the welcome numeric 001", |line| numeric(line) == Some("001")).await;
    }

    /// Types `text` and Enter, as someone at the keyboard would.
    async fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text, ";", "send-keys", "Enter"]).await;
    }

    /// Waits until one line of the screen contains all of `parts`.
    async fn wait_screen(&self, what: &str, parts: &[&str]) {
        let deadline = Instant::now() + IRSSI_TIMEOUT;
        loop {
            let screen = self.screen().await;
            if screen.lines().any(|l| parts.iter().all(|p| l.contains(p))) {
                return;
            }
            if Instant::now() > deadline {
                panic!("irssi did not show {what} ({parts:?}) within {IRSSI_TIMEOUT:?}");
            }
            Timer::after(POLL).await;
        }
    }

    /// Waits until a line of the raw log matches `pred`.
    async fn wait_raw(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + IRSSI_TIMEOUT;
        // Missing until irssi has opened it; then a line at a time.
        while !fs::read_to_string(self.rawlog_path()).is_ok_and(|log| log.lines().any(&pred)) {
            if Instant::now() > deadline {
                panic!("irssi's raw log did not show {what} within {IRSSI_TIMEOUT:?}");
            }
            Timer::after(POLL).await;
        }
    }

    /// Waits until irssi has exited (its pane is dead, kept by `remain-on-exit`).
    async fn wait_exit(&self) {
        let deadline = Instant::now() + IRSSI_TIMEOUT;
        while self.tmux(&["display-message", "-p", "#{pane_dead}"]).await.trim() != "1" {
            if Instant::now() > deadline {
                panic!("irssi did not exit within {IRSSI_TIMEOUT:?}");
            }
            Timer::after(POLL).await;
        }
    }

    /// What the terminal shows now, as plain text.
    async fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"]).await
    }

    /// Runs a tmux command on this session's server; returns its output.
    async fn tmux(&self, args: &[&str]) -> String {
        let output = Command::from(self.tmux_command(args)).output();
        let output = within(&format!("tmux {args:?}"), output)
            .await
            .unwrap_or_else(|e| panic!("run tmux {args:?}: {e}"));
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            panic!("tmux {args:?} failed ({}): {stderr}", output.status);
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `tmux` on this session's own socket, with no user config and a UTF-8 locale (which
    /// the tmux server, and irssi in it, inherit from the command that starts it).
    fn tmux_command(&self, args: &[&str]) -> process::Command {
        let mut command = process::Command::new("tmux");
        command
            .arg("-f")
            .arg("/dev/null")
            .arg("-S")
            .arg(self.home.join("tmux.sock"))
            .args(args)
            .env("LC_ALL", "C.UTF-8")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null());
        command
    }

    /// Where irssi writes every line it sends (`<<`) and receives (`>>`).
    fn rawlog_path(&self) -> PathBuf {
        self.home.join("raw.log")
    }

    /// Prints the screen and the raw log, for a failing test.
    fn show(&self) {
        let screen = self.tmux_command(&["capture-pane", "-p"]).output();
        let screen = screen.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let rawlog = fs::read_to_string(self.rawlog_path());
        eprintln!("irssi's screen:\n{}", screen.unwrap_or_else(|e| format!("(none: {e})")));
        eprintln!("irssi's raw log:\n{}", rawlog.unwrap_or_else(|e| format!("(none: {e})")));
    }
}

impl Drop for Irssi {
    fn drop(&mut self) {
        if thread::panicking() {
            self.show();
        }
        // Killing the server hangs up on irssi, if it is still running.
        let _ = self.tmux_command(&["kill-server"]).stderr(Stdio::null()).status();
        let _ = fs::remove_dir_all(&self.home);
    }
}

/// A config that connects nowhere by itself and never writes itself back, and that turns
/// off irssi's own flood control, which would space every command after the first few by
/// 2.2 s (a wait for a timer, not for the server).
fn config(nick: &str) -> String {
    format!(
        r#"settings = {{
  core = {{
    real_name = "smolchat test";
    user_name = "{nick}";
    nick = "{nick}";
    settings_autosave = "no";
  }};
  "irc/core" = {{
    cmd_queue_speed = "0";
    cmds_max_at_once = "0";
  }};
}};
"#
    )
}

/// The command of a line irssi received (`>> :server 001 nick :Welcome` gives `001`).
fn numeric(raw: &str) -> Option<&str> {
    let mut words = raw.strip_prefix(">> ")?.split(' ');
    let first = words.next()?;
    if first.starts_with(':') {
        words.next()
    } else {
        Some(first)
    }
}
