//! The client's side of history, accounts and registered rooms: how the new server lines
//! print (against a scripted server, so every line is known), that a piped client entering
//! a room hears its past above a rule, and that a password never reaches the line history
//! file or the screen.

mod common_client;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;

use common_client::{
    lobby_join, smolchat, smolchat_at, wait_for, wait_message, within, TestServer,
};
use futures_lite::io::BufReader as AsyncBufReader;
use futures_lite::{AsyncBufReadExt as _, StreamExt as _};

/// A fake server: it welcomes whoever connects as `alice`, sends its script, then reports
/// every line the client sends, and hangs up at `/quit`.
struct Scripted {
    /// Where it listens.
    addr: String,
    /// The client's lines, in order.
    heard: mpsc::Receiver<String>,
}

impl Scripted {
    fn start(script: String) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (tx, heard) = mpsc::channel();
        thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let Ok(mut writer) = stream.try_clone() else {
                return;
            };
            let mut lines = BufReader::new(stream).lines();
            let _ = writer.write_all(b"NICK choose a nickname\n");
            let _nick = lines.next();
            let welcome = format!("WELCOME alice 1 online smolchat/2\n{script}");
            let _ = writer.write_all(welcome.as_bytes());
            for line in lines.map_while(Result::ok) {
                let quit = line.starts_with("/quit");
                if tx.send(line).is_err() || quit {
                    return;
                }
            }
        });
        Scripted { addr, heard }
    }

    /// The next line the client sent, but for the `/names` it asks by itself on joining a
    /// room (to complete nicknames with Tab).
    fn next(&self) -> String {
        loop {
            let line =
                self.heard.recv_timeout(common_client::TIMEOUT).expect("a line from the client");
            if !line.starts_with("/names ") {
                return line;
            }
        }
    }
}

/// `MM-DDTHH:MM:SS.mmmZ` in this year (UTC), whose date prints without its year.
fn this_year(rest: &str) -> String {
    let year = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).year();
    format!("{year}-{rest}")
}

#[test]
fn the_lines_of_history_accounts_and_kicks_print_plainly() {
    let at = this_year("11-30T07:30:38.123Z");
    let script = [
        "JOIN #lobby alice".to_string(),
        format!("HISTORY {at} MSG #lobby ann hello  there"),
        format!("HISTORY {at} ACTION #lobby ann waves"),
        format!("HISTORY {at} PRIV ann alice psst"),
        "HISTORYEND #lobby 3".to_string(),
        "ROOM #lobby".to_string(),
        "MSG #lobby ann live now".to_string(),
        "KICK #lobby bob ann be nice".to_string(),
        "IDENTIFY alice 30 alice is registered: /identify PASSWORD within 30 s".to_string(),
        "ACCOUNT alice".to_string(),
        "ACCOUNT".to_string(),
        "HISTORYEND ann 0".to_string(),
        "KICK #lobby alice ann".to_string(),
    ];
    let server = Scripted::start(script.map(|line| line + "\n").concat());
    smol::block_on(async {
        // Input ends at once: the client leaves, printing everything up to the hang-up.
        let mut command = smolchat_at(&server.addr);
        command.args(["--nick", "alice"]).env("TZ", "UTC");
        let child = command.spawn().expect("spawn smolchat");
        let output = within("smolchat to exit", child.output()).await.expect("wait");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let want = [
            "*** you joined as alice; 1 online",
            "*** you joined #lobby",
            "[11-30 07:30] <ann> hello  there",
            "[11-30 07:30] * ann waves",
            "[11-30 07:30] *ann* psst",
            "── 3 earlier messages in #lobby; new below ──",
            "<ann> live now",
            "<-- bob was removed from #lobby by ann (be nice)",
            "*** alice is registered: type /identify PASSWORD within 30 s, or you will be renamed",
            "*** you are identified as alice",
            "*** you are no longer identified",
            "--- no earlier messages with ann",
            "*** you were removed from #lobby by ann",
        ];
        assert_eq!(stdout.lines().collect::<Vec<_>>(), want, "{stdout}");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    });
    assert_eq!(server.next(), "/quit");
}

#[test]
fn a_piped_client_entering_a_room_hears_its_past_then_a_rule_then_live_talk() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = server.join("ann").await;
        for text in ["one", "two", "three"] {
            ann.say(text).await.expect("ann says");
            wait_message(&mut ann, "ann", text).await;
        }
        let mut command = smolchat(&server);
        command.args(["--nick", "bob"]).env("TZ", "UTC").stdin(Stdio::piped());
        let mut child = command.spawn().expect("spawn smolchat");
        let stdout = child.stdout.take().expect("stdout");
        let mut printed = AsyncBufReader::new(stdout).lines();
        wait_for(&mut ann, "JOIN #lobby bob", |line| *line == lobby_join("bob")).await;
        ann.say("live").await.expect("ann says");

        let mut seen = Vec::new();
        within("bob to print ann's live line", async {
            while let Some(Ok(line)) = printed.next().await {
                let done = line == "<ann> live";
                seen.push(line);
                if done {
                    return;
                }
            }
            panic!("smolchat's output ended early: {seen:?}");
        })
        .await;
        let (past, present) = seen.split_at(seen.len().saturating_sub(2));
        assert_eq!(present, ["── 3 earlier messages in #lobby; new below ──", "<ann> live"]);
        let replayed: Vec<&str> = past.iter().filter_map(|line| dated(line)).collect();
        assert_eq!(replayed, ["<ann> one", "<ann> two", "<ann> three"], "{seen:?}");
        drop(child.stdin.take());
        within("smolchat to exit", child.status()).await.expect("wait");
        server.stop().await;
    });
}

#[test]
fn a_bot_prints_a_replayed_line_but_never_answers_it() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut ann = server.join("ann").await;
        ann.say("ping 1").await.expect("ann says");
        wait_message(&mut ann, "ann", "ping 1").await;
        let mut command = smolchat(&server);
        command.args(["--script", "-", "--nick", "pong", "--expect-timeout", "300ms"]);
        let mut child = command.env("TZ", "UTC").stdin(Stdio::piped()).spawn().expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        let script = b"/expect <ann> ping 1\npong 1\n";
        within("write the script", futures_lite::AsyncWriteExt::write_all(&mut stdin, script))
            .await
            .expect("write the script");
        drop(stdin);
        let output = within("the bot to give up", child.output()).await.expect("wait");
        let (stdout, stderr) = (output.stdout.as_slice(), output.stderr.as_slice());
        let (stdout, stderr) = (String::from_utf8_lossy(stdout), String::from_utf8_lossy(stderr));
        assert!(!output.status.success(), "{stdout}");
        assert!(stderr.contains("no line containing \"<ann> ping 1\""), "{stderr}");
        let printed = stdout.lines().filter_map(dated).collect::<Vec<_>>();
        assert_eq!(printed, ["<ann> ping 1"], "the replayed line is printed: {stdout}");
        server.stop().await;
    });
}

/// The rest of a replayed line, `[MM-DD HH:MM] rest`, checking the shape of its date.
fn dated(line: &str) -> Option<&str> {
    let (date, rest) = line.strip_prefix('[')?.split_once("] ")?;
    let shape = date.len() == 11 && date.as_bytes()[2] == b'-' && date.as_bytes()[8] == b':';
    shape.then_some(rest)
}

#[cfg(unix)]
mod terminal {
    use expectrl::{Expect as _, Session};
    use std::process::Command;

    use super::common_client::pty::{exit_code, expect};
    use super::common_client::TIMEOUT;
    use super::Scripted;

    /// A history file of its own, removed when dropped.
    struct HistoryFile(std::path::PathBuf);

    impl Drop for HistoryFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn passwords_stay_out_of_the_history_file_and_off_the_screen() {
        let server = Scripted::start("JOIN #lobby alice\nROOM #lobby\n".to_string());
        let name = format!("smolchat-secret-history-{}", std::process::id());
        let history = HistoryFile(std::env::temp_dir().join(name));
        let mut command = Command::new(env!("CARGO_BIN_EXE_smolchat"));
        command
            .args(["--server", &server.addr, "--nick", "alice", "--history"])
            .arg(&history.0)
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        let mut terminal = Session::spawn(command).expect("spawn smolchat in a pty");
        terminal.set_expect_timeout(Some(TIMEOUT));
        expect(&mut terminal, "[#lobby] alice> ");

        // Every line goes to the server as typed; the history keeps only the harmless ones.
        let typed = [
            "hello there",
            "/register hunter2",
            "/identify alice hunter2",
            "/IDENTIFY hunter2 and a typo",
            "/register-room",
        ];
        for line in typed {
            terminal.send(format!("{line}\r")).expect("type");
            assert_eq!(server.next(), line);
        }

        // Alone, /identify asks for the password without showing it.
        terminal.send("/identify\r").expect("type");
        expect(&mut terminal, "password for /identify (not shown): ");
        terminal.send("sekrit\r").expect("type");
        assert_eq!(server.next(), "/identify sekrit");
        let shown = expect(&mut terminal, "[#lobby] alice> ");
        assert!(!shown.contains("sekrit"), "the password was shown: {shown:?}");
        terminal.send("/quit\r").expect("type");
        assert_eq!(server.next(), "/quit");
        assert_eq!(exit_code(&terminal), 0);

        let kept = std::fs::read_to_string(&history.0).expect("the history file");
        assert!(kept.contains("hello there") && kept.contains("/register-room"), "{kept:?}");
        for secret in ["hunter2", "sekrit", "/identify", "/IDENTIFY"] {
            assert!(!kept.contains(secret), "{secret:?} kept in the history: {kept:?}");
        }
    }
}
