//! The real `smolchat-server` binary for tests: started with its log piped, its listeners'
//! addresses read from the log, and killed when the test is done with it.

use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command as Process, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};

use super::TIMEOUT;

/// A running server binary, killed if the test ends without stopping it.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Where each listener listens, in the order they were logged.
    pub addrs: Vec<SocketAddr>,
    /// Each listener's scheme (`chat`, `irc`), in the same order.
    pub schemes: Vec<String>,
    /// The log lines that came before the last `listening on` line.
    pub before: Vec<String>,
    /// The rest of its log, line by line, read by a thread of its own so that a wait for
    /// a line can time out.
    log: Receiver<String>,
}

impl Server {
    /// Starts `command` and reads its log until `listeners` listeners have said where.
    pub fn start(mut command: Process, listeners: usize) -> Server {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server binary");
        let mut log = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let (mut addrs, mut schemes, mut before) = (Vec::new(), Vec::new(), Vec::new());
        while addrs.len() < listeners {
            let line = log.next().expect("a 'listening on SCHEME://' line").expect("log");
            let spec = line.split("listening on ").nth(1).and_then(|spec| spec.split_once("://"));
            match spec {
                Some((scheme, addr)) => {
                    schemes.push(scheme.to_string());
                    addrs.push(addr.trim().parse().expect("an address"));
                }
                None => before.push(line),
            }
        }
        Server { child, addrs, schemes, before, log: forward(log) }
    }

    /// The rest of the log, as lines, until the server closes it.
    pub fn rest_of_log(&mut self) -> impl Iterator<Item = String> + '_ {
        std::iter::from_fn(|| self.log.recv_timeout(TIMEOUT).ok())
    }

    /// Reads the log until a line containing `text`, and returns it.
    pub fn wait_log(&mut self, text: &str) -> String {
        loop {
            match self.log.recv_timeout(TIMEOUT) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(error) => panic!("no log line with {text:?}: {error}"),
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`HUP`, `TERM`, ...).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Process::new("kill").args([&format!("-{signal}"), &pid]).status();
        assert!(sent.expect("run kill").success());
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.child.wait().expect("wait for the server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Moves the log's lines into a channel, from a thread that ends with the log.
fn forward(log: Lines<BufReader<ChildStderr>>) -> Receiver<String> {
    let (lines, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in log.map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// The server binary, keeping nothing (`--data-dir none`), ready for more arguments.
pub fn server_binary() -> Process {
    let mut command = Process::new(env!("CARGO_BIN_EXE_smolchat-server"));
    command.args(["--data-dir", "none"]);
    command
}

/// The server binary, keeping its store (and anything else) in `dir`.
pub fn server_binary_in(dir: &std::path::Path) -> Process {
    let mut command = Process::new(env!("CARGO_BIN_EXE_smolchat-server"));
    command.arg("--data-dir").arg(dir);
    command
}

/// Runs `command`, which should stop at start-up, and returns its exit code and stderr. One
/// that is still running after [`TIMEOUT`] (it started after all) is killed, its code
/// `None`.
pub fn start_up_failure(mut command: Process) -> (Option<i32>, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server binary");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait for the server").is_none() {
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("the server's stderr");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}
