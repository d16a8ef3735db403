//! Script mode end to end: the real `smolchat` binary playing the bots in `bots/` (and a
//! few broken scripts) against an in-process server.

mod common_client;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use common_client::{
    assert_in_order, bot, smolchat, smolchat_at, wait_for, wait_join, wait_leave, wait_message,
    within, TestServer,
};
use smol::process::Child;
use smolchat::proto::chat::Line;

/// Starts `smolchat --script FILE` with extra arguments.
fn run_script(server: &TestServer, file: &str, extra: &[&str]) -> Child {
    run_script_at(&server.addr.to_string(), file, extra)
}

/// [`run_script`] against any address.
fn run_script_at(address: &str, file: &str, extra: &[&str]) -> Child {
    smolchat_at(address).arg("--script").arg(file).args(extra).spawn().expect("spawn smolchat")
}

/// Waits for a bot to finish and returns what it printed.
async fn finish(name: &str, child: Child) -> (Output, String, String) {
    let output = within(name, child.output()).await.expect("wait for smolchat");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// A script file under the test's temporary directory.
fn script_file(name: &str, text: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scripts");
    std::fs::create_dir_all(&dir).expect("create script dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    path.to_string_lossy().into_owned()
}

#[test]
fn ping_and_pong_play_three_rounds_and_both_exit_zero() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let ping = run_script(&server, &bot("ping.chat"), &[]);
        wait_join(&mut watcher, "ping").await;
        let pong = run_script(&server, &bot("pong.chat"), &[]);

        let (ping_out, ping_stdout, ping_stderr) = finish("ping", ping).await;
        let (pong_out, pong_stdout, pong_stderr) = finish("pong", pong).await;
        assert!(ping_out.status.success(), "ping failed: {ping_stderr}\n{ping_stdout}");
        assert!(pong_out.status.success(), "pong failed: {pong_stderr}\n{pong_stdout}");
        assert_in_order(
            &ping_stdout,
            &[
                "*** you joined as ping; 2 online",
                "--> pong joined",
                "[ping] ping 1",
                "<pong> pong 1",
                "[ping] ping 2",
                "<pong> pong 2",
                "[ping] ping 3",
                "<pong> pong 3",
                "* ping wins on points",
            ],
        );
        assert_in_order(
            &pong_stdout,
            &[
                "<ping> ping 1",
                "[pong] pong 1",
                "<ping> ping 2",
                "[pong] pong 2",
                "<ping> ping 3",
                "[pong] pong 3",
                "* ping wins on points",
                "<-- ping left (quit: good game)",
            ],
        );
        assert_eq!(wait_leave(&mut watcher, "ping").await, "quit: good game");
        assert_eq!(wait_leave(&mut watcher, "pong").await, "quit");
        server.stop().await;
    });
}

#[test]
fn three_bots_hold_a_conversation() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let mut bots = Vec::new();
        for name in ["alice", "bob", "carol"] {
            let file = bot(&format!("conversation/{name}.chat"));
            bots.push((name, run_script(&server, &file, &[])));
            wait_join(&mut watcher, name).await;
        }
        let mut printed = Vec::new();
        for (name, child) in bots {
            let (output, stdout, stderr) = finish(name, child).await;
            assert!(output.status.success(), "{name} failed: {stderr}\n{stdout}");
            printed.push(stdout);
        }
        wait_message(&mut watcher, "alice", "Hello bob, hello carol! What are you two building?")
            .await;
        wait_message(&mut watcher, "bob", "Deal, if the tests pass.").await;
        wait_message(&mut watcher, "carol", "see you all in #bots").await;
        // The goodbyes were said in #bots, where the watcher is not.
        assert_in_order(
            &printed[1],
            &["*** you joined #bots", "--> carol joined", "<carol> Bye bob!", "[bob] Bye carol!"],
        );
        assert_in_order(
            &printed[2],
            &["*** you joined #bots", "#lobby [carol] see you all in #bots", "[carol] Bye bob!"],
        );
        server.stop().await;
    });
}

#[test]
fn ping_and_pong_play_whichever_registers_first() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let pong = run_script(&server, &bot("pong.chat"), &[]);
        wait_join(&mut watcher, "pong").await;
        let ping = run_script(&server, &bot("ping.chat"), &[]);
        let (ping_out, ping_stdout, ping_stderr) = finish("ping", ping).await;
        let (pong_out, pong_stdout, pong_stderr) = finish("pong", pong).await;
        assert!(ping_out.status.success(), "ping failed: {ping_stderr}\n{ping_stdout}");
        assert!(pong_out.status.success(), "pong failed: {pong_stderr}\n{pong_stdout}");
        assert_in_order(&ping_stdout, &["--- online: pong", "<pong> pong 3"]);
        assert_in_order(&pong_stdout, &["--> ping joined", "<ping> ping 1", "[pong] pong 3"]);
        server.stop().await;
    });
}

#[test]
fn the_greeter_welcomes_each_newcomer_by_name_once_an_hour() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut first = server.join("first").await;
        let greeter = run_script(&server, &bot("greeter.chat"), &[]);
        wait_join(&mut first, "greeter").await;
        let welcome = |nick: &str| {
            format!("Welcome to #lobby, {nick}! /names lists who is here, /help the rest.")
        };
        let second = server.join("second").await;
        wait_message(&mut first, "greeter", &welcome("second")).await;
        // Back within the hour: not greeted again, while the next newcomer is.
        drop(second);
        wait_leave(&mut first, "second").await;
        let _second = server.join("second").await;
        let _third = server.join("third").await;
        let seen = lines_until(&mut first, &welcome("third")).await;
        let greeted = seen.iter().filter(|line| line.contains("second!")).count();
        assert_eq!(greeted, 0, "{seen:?}");
        server.stop().await;
        let (output, stdout, stderr) = finish("greeter", greeter).await;
        assert!(output.status.success(), "greeter failed: {stderr}\n{stdout}");
        let greeting = format!("[greeter] {}", welcome("second"));
        assert_in_order(&stdout, &["--> second joined", &greeting]);
    });
}

/// The texts of the messages `client` receives, up to and including `text`.
async fn lines_until(client: &mut smolchat::client::Client, text: &str) -> Vec<String> {
    within(text, async {
        let mut seen = Vec::new();
        loop {
            let line = client.next().await.expect("connection ended");
            if let Line::Message { text: said, .. } = line {
                let done = said == text;
                seen.push(said);
                if done {
                    return seen;
                }
            }
        }
    })
    .await
}

#[test]
fn the_faq_answers_in_the_room_that_asked() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut asker = server.join("asker").await;
        let faq = run_script(&server, &bot("faq.chat"), &[]);
        wait_join(&mut asker, "faq").await;
        asker.say("!help").await.expect("say");
        wait_message(&mut asker, "faq", "asker: I answer !help, !rules and !time.").await;
        asker.say("!rules").await.expect("say");
        wait_message(&mut asker, "faq", "Rules: be kind, stay on topic, no flooding.").await;
        asker.say("!time").await.expect("say");
        let time = wait_for(
            &mut asker,
            "the time",
            |line| matches!(line, Line::Message { from, .. } if from == "faq"),
        )
        .await;
        let Line::Message { text, room, .. } = time else { unreachable!("a message") };
        assert_eq!(room, "#lobby");
        assert!(text.starts_with("asker: it is ") && text.ends_with(" UTC."), "{text}");
        server.stop().await;
        let (output, _, stderr) = finish("faq", faq).await;
        assert!(output.status.success(), "faq failed: {stderr}");
    });
}

#[test]
fn dice_rolls_the_same_under_a_seed() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut roller = server.join("roller").await;
        let dice = run_script(&server, &bot("dice.chat"), &["--seed", "7"]);
        wait_join(&mut roller, "dice").await;
        // The bot picks with fastrand seeded with 7, one pick per roll.
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..3 {
            roller.say("!roll").await.expect("say");
            let want = format!("roller rolls {}", rng.usize(..6) + 1);
            wait_message(&mut roller, "dice", &want).await;
        }
        server.stop().await;
        let (output, _, stderr) = finish("dice", dice).await;
        assert!(output.status.success(), "dice failed: {stderr}");
    });
}

#[test]
fn an_expect_that_never_matches_fails_with_file_and_line() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let file = script_file("never.chat", "# waits in vain\nhello\n/expect a reply\n");
        let child = run_script(&server, &file, &["--nick", "hopeful", "--expect-timeout", "200ms"]);
        let (output, stdout, stderr) = finish("hopeful", child).await;
        assert!(!output.status.success());
        let want = format!("{file}:3: no line containing \"a reply\" arrived within 200ms");
        assert_eq!(stderr.trim_end(), want);
        assert!(stdout.contains("[hopeful] hello"), "{stdout}");
        server.stop().await;
    });
}

#[test]
fn a_taken_nickname_fails_clearly() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let _ping = server.join("PING").await;
        let file = bot("ping.chat");
        let (output, _, stderr) = finish("ping", run_script(&server, &file, &[])).await;
        assert!(!output.status.success());
        let want = format!("{file}:4: nickname refused: nickname ping is taken");
        assert_eq!(stderr.trim_end(), want);
        server.stop().await;
    });
}

#[test]
fn a_broken_script_is_refused_before_connecting() {
    smol::block_on(async {
        // Nothing listens at this address: the script must fail before trying it.
        let file = script_file("broken.chat", "hello\n\n/sleep forever\n");
        let child = run_script_at(&unused_address(), &file, &[]);
        let (output, stdout, stderr) = finish("broken", child).await;
        assert!(!output.status.success());
        assert!(stderr.starts_with(&format!("{file}:3: bad duration \"forever\"")), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    });
}

#[test]
fn an_unreachable_server_fails_clearly() {
    smol::block_on(async {
        let address = unused_address();
        let file = bot("pong.chat");
        let (output, _, stderr) = finish("pong", run_script_at(&address, &file, &[])).await;
        assert!(!output.status.success());
        let want = format!(
            "{file}:3: cannot connect to {address}: connection refused (is the server running?)"
        );
        assert_eq!(stderr.trim_end(), want);
    });
}

/// A loopback address nothing listens on (it did a moment ago).
fn unused_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

#[test]
fn a_script_from_stdin_is_heard_in_full_before_it_leaves() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let mut child = smolchat(&server)
            .args(["--script", "-", "--nick", "piper"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn smolchat");
        let script = "one\n/me two\n/msg watcher three\nfour\n";
        let mut stdin = child.stdin.take().expect("stdin");
        within(
            "write script",
            futures_lite::AsyncWriteExt::write_all(&mut stdin, script.as_bytes()),
        )
        .await
        .expect("write script");
        drop(stdin);
        let (output, stdout, stderr) = finish("piper", child).await;
        assert!(output.status.success(), "{stderr}");
        assert_in_order(
            &stdout,
            &["[piper] one", "* piper two", "-> *watcher* three", "[piper] four"],
        );
        wait_message(&mut watcher, "piper", "four").await;
        assert_eq!(wait_leave(&mut watcher, "piper").await, "quit");
        server.stop().await;
    });
}

#[test]
fn ping_and_pong_started_at_once_play_every_time() {
    smol::block_on(async {
        let server = TestServer::default().await;
        for round in 0..3 {
            let ping = run_script(&server, &bot("ping.chat"), &[]);
            let pong = run_script(&server, &bot("pong.chat"), &[]);
            let (ping, pong) =
                futures_lite::future::zip(finish("ping", ping), finish("pong", pong)).await;
            assert!(ping.0.status.success(), "round {round}, ping: {}\n{}", ping.2, ping.1);
            assert!(pong.0.status.success(), "round {round}, pong: {}\n{}", pong.2, pong.1);
        }
        server.stop().await;
    });
}
