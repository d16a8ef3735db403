//! The script format beyond a fixed sequence, end to end: patterns and variables, rules
//! that answer, timers, `/join` and `/part`, and pacing under the server's flood limit.
//! Each test runs the real `smolchat --script` against an in-process server.

mod common;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use common::{join_room, quick, wait_for, wait_message, within, TempDir, TestServer};
use futures_lite::future;
use smol::process::{Child, Command};
use smolchat::proto::chat::Line;
use smolchat::server::Config;

/// Writes `text` as the script `name` and starts `smolchat --script` on it as `nick`.
fn start(server: &TestServer, name: &str, nick: &str, text: &str) -> Child {
    start_with(server, name, nick, text, &[])
}

/// [`start`] with more flags.
fn start_with(server: &TestServer, name: &str, nick: &str, text: &str, more: &[&str]) -> Child {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rules");
    std::fs::create_dir_all(&dir).expect("create script dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    Command::new(env!("CARGO_BIN_EXE_smolchat"))
        .args(["--server", &server.addr.to_string(), "--no-history", "--nick", nick])
        .args(more)
        .arg("--script")
        .arg(&path)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn smolchat")
}

/// Waits for a bot to finish; fails the test unless it exits 0. Returns what it printed.
async fn finish(child: Child) -> String {
    let output: Output = within("the bot to finish", child.output()).await.expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the bot failed: {stderr}\n{stdout}");
    stdout
}

/// Waits for `JOIN #lobby nick`.
async fn wait_join(client: &mut smolchat::client::Client, nick: &str) {
    let joined = |line: &Line| matches!(line, Line::Join { nick: n, .. } if n == nick);
    wait_for(client, &format!("JOIN {nick}"), joined).await;
}

/// Asserts that `lines` appear in `text` in this order (other lines may come between).
fn assert_in_order(text: &str, lines: &[&str]) {
    let mut rest = text.lines();
    for want in lines {
        assert!(rest.any(|line| line == *want), "missing {want:?} (in order) in:\n{text}");
    }
}

#[test]
fn captures_variables_and_the_current_room() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut friend = server.join("friend").await;
        let script = "/set greeting hello there\n\
                      /expect /<(?<who>\\w+)> hi (\\d+)/\n\
                      $greeting $who, you said $2; I am $nick in $room, costs $$5\n\
                      /join #side\n\
                      now in $room\n\
                      /part\n\
                      back in $room\n\
                      /quit done\n";
        let bot = start(&server, "vars.chat", "varbot", script);
        wait_join(&mut friend, "varbot").await;
        friend.say("hi 42").await.expect("say");
        let want = "hello there friend, you said 42; I am varbot in #lobby, costs $5";
        wait_message(&mut friend, "varbot", want).await;
        let stdout = finish(bot).await;
        assert_in_order(
            &stdout,
            &["*** you joined #side", "[varbot] now in #side", "[varbot] back in #lobby"],
        );
        server.stop().await;
    });
}

#[test]
fn rules_answer_others_never_themselves_and_keep_to_their_room() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut friend = server.join("friend").await;
        join_room(&mut friend, "friend", "#side").await;
        let script = "/on hello\n/msg $room hello from $nick\n/end\n\
                      /on #side /<(\\w+)> !ping$/\n/msg #side pong $1\n/end\n\
                      /on /<\\w+> !bye/\n/quit asked to leave\n/end\n\
                      /join #side\nhello\n";
        let bot = start(&server, "rules.chat", "rulebot", script);
        // Its own "hello" (and its own answers, which say hello too) set off nothing.
        wait_message(&mut friend, "rulebot", "hello").await;
        common::say_in(&friend, "#lobby", "hello").await;
        wait_message(&mut friend, "rulebot", "hello from rulebot").await;
        // !ping in the lobby is not for the #side rule; in #side it is.
        common::say_in(&friend, "#lobby", "!ping").await;
        common::say_in(&friend, "#side", "!ping").await;
        wait_message(&mut friend, "rulebot", "pong friend").await;
        common::say_in(&friend, "#side", "!bye").await;
        let stdout = finish(bot).await;
        let answers = stdout.lines().filter(|line| line.contains("hello from")).count();
        assert_eq!(answers, 1, "{stdout}");
        let pongs = stdout.lines().filter(|line| line.contains("pong friend")).count();
        assert_eq!(pongs, 1, "{stdout}");
        let leave = wait_for(
            &mut friend,
            "QUIT rulebot",
            |line| matches!(line, Line::Quit { nick, .. } if nick == "rulebot"),
        )
        .await;
        assert_eq!(
            leave,
            Line::Quit { nick: "rulebot".into(), reason: "quit: asked to leave".into() }
        );
        server.stop().await;
    });
}

#[test]
fn timers_run_every_period_and_once_after() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut friend = server.join("friend").await;
        let script = "/set count tick\n/every 100ms\n$count\n/end\n\
                      /after 550ms\n/quit enough\n/end\n";
        let bot = start(&server, "clock.chat", "clock", script);
        wait_join(&mut friend, "clock").await;
        let stdout = finish(bot).await;
        let ticks = stdout.lines().filter(|line| *line == "[clock] tick").count();
        assert!((3..=6).contains(&ticks), "{ticks} ticks:\n{stdout}");
        server.stop().await;
    });
}

#[test]
fn a_bot_with_rules_stays_until_the_server_closes() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut friend = server.join("friend").await;
        let bot = start(&server, "stays.chat", "stayer", "ready\n/on !x\nx\n/end\n");
        wait_message(&mut friend, "stayer", "ready").await;
        friend.say("!x").await.expect("say");
        wait_message(&mut friend, "stayer", "x").await;
        server.stop().await;
        let stdout = finish(bot).await;
        assert!(stdout.contains("[stayer] x"), "{stdout}");
    });
}

#[test]
fn a_bot_sending_a_hundred_lines_is_paced_under_the_flood_limit() {
    smol::block_on(async {
        // Flood control on: 50 lines a second after a burst of 10. Sent at once, the
        // eleventh line would be dropped and the twenty-first would cost the connection.
        let config = Config { flood_rate: 50, flood_burst: 10, ..quick() };
        let server = TestServer::start(config).await;
        let mut friend = server.join("friend").await;
        let lines: String = (1..=100).map(|n| format!("line {n}\n")).collect();
        let bot = start(&server, "flood.chat", "chatty", &lines);
        for n in 1..=100 {
            wait_message(&mut friend, "chatty", &format!("line {n}")).await;
        }
        let stdout = finish(bot).await;
        assert!(!stdout.contains("!!!"), "{stdout}");
        server.stop().await;
    });
}

#[test]
fn the_server_announces_its_limits_after_welcome() {
    smol::block_on(async {
        let config = Config { flood_rate: 7, flood_burst: 9, ..quick() };
        let server = TestServer::start(config).await;
        let (mut client, _) =
            within("join", smolchat::client::Client::join(server.addr, "ann")).await.expect("join");
        let next = within("LIMITS", client.next()).await.expect("a line");
        assert_eq!(next, Line::Limits { flood_rate: 7, flood_burst: 9 });
        server.stop().await;
    });
}

#[test]
fn an_unknown_variable_is_refused_before_connecting() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let bot = start(&server, "unknown.chat", "typo", "hello\nhi $freind\n");
        let output = within("the bot to fail", bot.output()).await.expect("wait");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("unknown.chat:2: unknown variable $freind"), "{stderr}");
        // Nothing was sent: not even the first line, nor a join.
        watcher.say("still alone").await.expect("say");
        let next = within("the watcher's echo", watcher.next()).await.expect("a line");
        assert_eq!(next, common::lobby_message("watcher", "still alone"));
        server.stop().await;
    });
}

#[test]
fn a_bot_told_to_reconnect_answers_again_after_its_server_restarts() {
    smol::block_on(async {
        let dir = TempDir::new("bot-reconnect");
        let server = TestServer::start_in(quick(), &dir).await;
        let mut friend = server.join("friend").await;
        let script = "/on /<friend> !ping/\npong\n/end\n";
        let _bot = start_with(&server, "pinger.chat", "pongbot", script, &["--reconnect"]);
        wait_join(&mut friend, "pongbot").await;
        friend.say("!ping").await.expect("say");
        wait_message(&mut friend, "pongbot", "pong").await;
        let addrs = server.addrs();
        drop(friend);
        server.stop().await;
        let server = TestServer::start_in_at(quick(), &dir, addrs).await;
        let mut friend = server.join("friend").await;
        // The bot comes back after a pause of its own: ask until it answers.
        within("the bot back", async {
            loop {
                friend.say("!ping").await.expect("say");
                let answered = future::or(
                    async {
                        wait_message(&mut friend, "pongbot", "pong").await;
                        true
                    },
                    async {
                        smol::Timer::after(std::time::Duration::from_millis(500)).await;
                        false
                    },
                );
                if answered.await {
                    return;
                }
            }
        })
        .await;
        server.stop().await;
    });
}

#[test]
fn a_bot_told_to_reconnect_sends_again_a_line_it_could_not_send() {
    smol::block_on(async {
        let dir = TempDir::new("bot-resend");
        // With flood control the bot paces itself, so it is still sending when the server
        // goes, and learns of the loss from a write that fails, not from a read.
        let config = Config { flood_rate: 20, flood_burst: 4, ..quick() };
        let server = TestServer::start_in(config.clone(), &dir).await;
        let mut friend = server.join("friend").await;
        let lines: String = (1..=40).map(|n| format!("line {n}\n")).collect();
        let script = format!("{lines}/quit done\n");
        let bot = start_with(&server, "sender.chat", "sender", &script, &["--reconnect"]);
        wait_message(&mut friend, "sender", "line 3").await;
        let addrs = server.addrs();
        drop(friend);
        server.stop().await;
        let server = TestServer::start_in_at(config, &dir, addrs).await;
        let mut friend = server.join("friend").await;
        let stdout = finish(bot).await;
        assert!(stdout.contains("reconnecting in"), "{stdout}");
        // From the line that failed (lines written before the failure was noticed are
        // lost with the old connection) to the last, in order, none dropped as a flood.
        let said = within("the bot's lines", async {
            let mut said = Vec::new();
            while said.last().is_none_or(|n| *n < 40) {
                match friend.next().await.expect("a line") {
                    Line::Message { from, text, .. } if from == "sender" => {
                        said.push(text.trim_start_matches("line ").parse::<u32>().expect("n"));
                    }
                    _ => {}
                }
            }
            said
        })
        .await;
        let first = said[0];
        assert_eq!(said, (first..=40).collect::<Vec<u32>>());
        server.stop().await;
    });
}

#[test]
fn what_a_capture_brings_in_is_said_never_run_as_a_command() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut friend = server.join("friend").await;
        let _bot = start(&server, "echo.chat", "echobot", "/on /^<\\w+> echo (.*)$/\n$1\n/end\n");
        wait_join(&mut friend, "echobot").await;
        friend.say("echo /nick hijacked").await.expect("say");
        wait_message(&mut friend, "echobot", "/nick hijacked").await;
        friend.say("echo still here").await.expect("say");
        wait_message(&mut friend, "echobot", "still here").await;
        server.stop().await;
    });
}

#[test]
fn await_asks_the_server_and_finds_someone_online_in_another_room_at_once() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut friend = server.join("friend").await;
        join_room(&mut friend, "friend", "#side").await;
        friend.sender.send_line("/part #lobby").await.expect("part");
        let script = "/await FRIEND\n/quit found\n";
        let stdout = finish(start(&server, "await.chat", "awaiter", script)).await;
        assert!(stdout.contains("--- online: friend"), "{stdout}");
        server.stop().await;
    });
}
