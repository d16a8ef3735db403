//! Waking the line editor from another thread when the connection ends.
//!
//! rustyline cannot cancel a `readline` in progress, but while it waits for a key it turns
//! a SIGINT to the process into an interrupted `readline`, with the terminal restored. So
//! the thread that sees the connection end sends SIGINT to its own process until the main
//! thread says it has noticed. Outside `readline` the signal is caught and ignored.

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// How often the wake is repeated, in case `readline` had not started yet.
const RING_INTERVAL: Duration = Duration::from_millis(50);

/// How many times at most: the main thread answers within one ring unless it is stuck.
const MAX_RINGS: u32 = 200;

/// A doorbell between the thread that sees the connection end and the editor's thread.
#[derive(Debug)]
pub struct Wake {
    /// Set once the editor's thread has noticed; no signal is sent after that.
    answered: Mutex<bool>,
}

impl Wake {
    /// Makes SIGINT harmless for the rest of the process (outside `readline` it would
    /// otherwise end it), and returns a wake nobody has rung yet.
    pub fn install() -> Wake {
        ignore_sigint();
        Wake { answered: Mutex::new(false) }
    }

    /// Interrupts the editor's `readline` until [`Wake::answer`] is called.
    pub fn ring(&self) {
        for _ in 0..MAX_RINGS {
            {
                let answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
                if *answered {
                    return;
                }
                send_sigint();
            }
            thread::sleep(RING_INTERVAL);
        }
    }

    /// Stops the ringing: the editor's thread is no longer in `readline`.
    pub fn answer(&self) {
        *self.answered.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }
}

#[cfg(unix)]
fn ignore_sigint() {
    // The handler must outlive every SIGINT we send, so it is never removed: a signal
    // still pending when it was dropped would end the process.
    if let Ok(signals) = async_signal::Signals::new([async_signal::Signal::Int]) {
        std::mem::forget(signals);
    }
}

#[cfg(unix)]
fn send_sigint() {
    use nix::sys::signal::{kill, Signal};
    let _ = kill(nix::unistd::Pid::this(), Signal::SIGINT);
}

#[cfg(not(unix))]
fn ignore_sigint() {}

/// Elsewhere `readline` stays until the next key; the connection's end is shown then.
#[cfg(not(unix))]
fn send_sigint() {}
