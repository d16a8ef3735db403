//! The client without a terminal: the real `smolchat` binary with stdin and stdout piped,
//! against an in-process server.

mod common_client;

use std::process::Stdio;

use common_client::{
    smolchat, smolchat_at, wait_join, wait_leave, wait_message, within, PasswordFile, TestServer,
};
use futures_lite::io::{BufReader, Lines};
use futures_lite::{AsyncBufReadExt, AsyncWriteExt, StreamExt};
use smol::process::{Child, ChildStdin, ChildStdout};

/// A piped `smolchat`: what we type into it, and what it prints.
struct Piped {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Piped {
    fn spawn(server: &TestServer, args: &[&str]) -> Piped {
        Piped::spawned(smolchat(server).args(args))
    }

    /// [`Piped::spawn`] against any address.
    fn spawn_at(addr: &str, args: &[&str]) -> Piped {
        Piped::spawned(smolchat_at(addr).args(args))
    }

    fn spawned(command: &mut smol::process::Command) -> Piped {
        let mut child = command.stdin(Stdio::piped()).spawn().expect("spawn smolchat");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Piped { child, stdin, stdout }
    }

    async fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        let typed = async {
            stdin.write_all(format!("{line}\n").as_bytes()).await?;
            stdin.flush().await
        };
        within("typing into smolchat", typed).await.expect("write to smolchat");
    }

    /// Reads printed lines until `want`; fails if output ends first.
    async fn wait_printed(&mut self, want: &str) {
        within(&format!("smolchat to print {want:?}"), async {
            while let Some(line) = self.stdout.next().await {
                if line.expect("read stdout") == want {
                    return;
                }
            }
            panic!("smolchat's output ended before {want:?}");
        })
        .await;
    }

    /// Closes stdin and waits for the exit; returns success and stderr.
    async fn finish(mut self) -> (bool, String) {
        drop(self.stdin.take());
        let output = within("smolchat to exit", self.child.output()).await.expect("wait");
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn piped_lines_go_both_ways_and_end_of_input_leaves() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let mut piped = Piped::spawn(&server, &["--nick", "piper"]);
        wait_join(&mut watcher, "piper").await;
        piped.wait_printed("*** you joined as piper; 2 online").await;

        piped.type_line("hello through a pipe").await;
        wait_message(&mut watcher, "piper", "hello through a pipe").await;
        piped.wait_printed("[piper] hello through a pipe").await;

        watcher.say("hi piper").await.expect("say");
        piped.wait_printed("<watcher> hi piper").await;
        piped.type_line("/who").await;
        piped.wait_printed("--- in #lobby (2): piper watcher").await;

        let (ok, stderr) = piped.finish().await;
        assert!(ok, "{stderr}");
        assert_eq!(wait_leave(&mut watcher, "piper").await, "quit");
        server.stop().await;
    });
}

#[test]
fn without_nick_the_first_lines_choose_one() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut watcher = server.join("watcher").await;
        let mut piped = Piped::spawn(&server, &[]);
        piped.type_line("Watcher").await;
        piped.type_line("newbie").await;
        piped.type_line("/quit see you").await;
        wait_join(&mut watcher, "newbie").await;
        assert_eq!(wait_leave(&mut watcher, "newbie").await, "quit: see you");
        let (ok, stderr) = piped.finish().await;
        assert!(ok, "{stderr}");
        assert_eq!(stderr.trim_end(), "smolchat: nickname Watcher is taken");
        server.stop().await;
    });
}

#[test]
fn a_server_shutdown_is_one_clear_sentence_and_a_failure() {
    smol::block_on(async {
        let server = TestServer::default().await;
        let mut piped = Piped::spawn(&server, &["--nick", "piper"]);
        piped.wait_printed("*** you joined as piper; 1 online").await;
        server.stop().await;
        let (ok, stderr) = piped.finish().await;
        assert!(!ok);
        assert_eq!(stderr, "smolchat: the server closed the connection: server shutting down\n");
    });
}

/// A fake server that welcomes whoever connects, sends `bytes`, then reads until the client
/// leaves; returns its address.
fn fake_server(bytes: &'static [u8]) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let Ok((mut stream, _)) = listener.accept() else { return };
        let _ = stream.write_all(b"NICK choose a nickname\n");
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).is_ok_and(|n| n == 1 && byte[0] != b'\n') {}
        let _ = stream.write_all(b"WELCOME piper 1 online smolchat/2\nROOM #x\n");
        let _ = stream.write_all(bytes);
        // Until the client hangs up: its `/quit`, then the end of the stream.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    addr
}

#[test]
fn invalid_utf8_from_the_server_is_shown_replaced_and_the_client_stays() {
    smol::block_on(async {
        let addr = fake_server(b"MSG #x bob caf\xe9 ol\xff\xfe\nMSG #x bob still here\n");
        let mut piped = Piped::spawn_at(&addr, &["--nick", "piper"]);
        piped.wait_printed("*** you joined as piper; 1 online").await;
        piped.wait_printed("<bob> caf\u{FFFD} ol\u{FFFD}\u{FFFD}").await;
        piped.wait_printed("<bob> still here").await;
        let (ok, stderr) = piped.finish().await;
        assert!(ok, "{stderr}");
    });
}

/// The path of a password file, as an argument.
fn arg(file: &PasswordFile) -> &str {
    file.path.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn a_password_file_answers_the_servers_password() {
    let secret = PasswordFile::holding("right", "open sesame");
    smol::block_on(async {
        let server = TestServer::start(secret.config()).await;
        let mut piped =
            Piped::spawn(&server, &["--nick", "piper", "--password-file", arg(&secret)]);
        piped.wait_printed("*** you joined as piper; 1 online").await;
        let (ok, stderr) = piped.finish().await;
        assert!(ok, "{stderr}");
        server.stop().await;
    });
}

#[test]
fn a_missing_or_wrong_password_is_one_clear_sentence() {
    let (secret, wrong) =
        (PasswordFile::holding("server", "open sesame"), PasswordFile::holding("wrong", "guess"));
    smol::block_on(async {
        let server = TestServer::start(secret.config()).await;
        let (ok, stderr) = Piped::spawn(&server, &["--nick", "piper"]).finish().await;
        assert!(!ok);
        assert!(
            stderr.ends_with("the server asks for a password: give --password-file FILE\n"),
            "{stderr}"
        );
        let piped = Piped::spawn(&server, &["--nick", "piper", "--password-file", arg(&wrong)]);
        let (ok, stderr) = piped.finish().await;
        assert!(!ok);
        assert!(stderr.ends_with("wrong password; try again\n"), "{stderr}");
        server.stop().await;
    });
}
