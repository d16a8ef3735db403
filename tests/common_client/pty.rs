//! The `smolchat` binary under a pseudo-terminal: what a person at a keyboard sees.

use std::thread;
use std::time::{Duration, Instant};

use expectrl::process::unix::{PtyStream, UnixProcess, WaitStatus};
use expectrl::{Expect as _, Session};

use super::TIMEOUT;

/// A pty session running `smolchat`.
pub type Terminal = Session<UnixProcess, PtyStream>;

/// Waits until `text` has been written to the terminal; returns everything up to it.
pub fn expect(terminal: &mut Terminal, text: &str) -> String {
    let found = terminal.expect(text).unwrap_or_else(|e| panic!("expecting {text:?}: {e}"));
    String::from_utf8_lossy(found.before()).into_owned()
}

/// Waits for the client to exit; returns its exit code.
pub fn exit_code(terminal: &Terminal) -> i32 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match terminal.get_process().status().expect("process status") {
            WaitStatus::Exited(_, code) => return code,
            WaitStatus::StillAlive if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            other => panic!("smolchat did not exit cleanly: {other:?}"),
        }
    }
}
