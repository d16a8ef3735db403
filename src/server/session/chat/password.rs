//! The handshake's first step on a server with a password: `PASS` until the client answers
//! with the right one, or its address has given too many wrong ones.

use std::time::{Duration, Instant};

use futures_lite::{future, AsyncRead};
use tracing::info;

use super::handshake::Answer;
use super::Session;
use crate::proto::chat::{ErrorCode, Line};
use crate::server::flood::Verdict;
use crate::server::metrics::Disconnect;
use crate::server::password::{Outcome, ServerPassword};

/// What one answer to `PASS` came to.
enum Step {
    /// The password: on to the nickname.
    Right,
    /// Wait for the next answer (the client was asked again, or its line was dropped).
    Again,
    /// The connection is to close; the client was told why.
    Close,
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// Asks for the server password until the right one is given: true then, false if the
    /// connection is to close (it left, timed out, flooded, or its address spent its
    /// budget of wrong passwords). Attempts are never logged or echoed.
    pub(super) async fn password(&mut self, deadline: Instant) -> bool {
        let shared = self.link.ticket.shared.clone();
        let Some(password) = &shared.password else { return true };
        // An address out of attempts is not even asked.
        if let Some(wait) = password.spent(self.link.ticket.peer.ip()) {
            self.too_many_passwords(wait);
            return false;
        }
        let request = Line::PassRequest.encode();
        self.link.reply(request.clone());
        loop {
            let attempt = match self.answer(deadline, &request, "no password given in time").await {
                Answer::Line(line) => line,
                Answer::Again => continue,
                Answer::GiveUp => return false,
            };
            match self.try_password(password, &attempt, &request) {
                Step::Right => return true,
                Step::Again => {}
                Step::Close => return false,
            }
            // Pipelined attempts would otherwise all be answered before the writer ran.
            future::yield_now().await;
        }
    }

    /// Acts on one answer to `PASS` (`request`, sent again after a wrong password).
    fn try_password(&mut self, password: &ServerPassword, attempt: &str, request: &[u8]) -> Step {
        // Blank lines are ignored, as everywhere in the protocol.
        if attempt.trim().is_empty() {
            return Step::Again;
        }
        // Attempts are lines like any other for flood control.
        match self.flood_check() {
            Verdict::Accept => {}
            Verdict::Drop { .. } => return Step::Again,
            Verdict::Disconnect => return Step::Close,
        }
        match password.attempt(self.link.ticket.peer.ip(), attempt) {
            Outcome::Right => Step::Right,
            Outcome::Wrong => {
                info!(peer = %self.link.ticket.peer, "wrong password");
                self.error(ErrorCode::BadPassword, "wrong password; try again".into());
                self.link.reply(request.to_vec());
                Step::Again
            }
            Outcome::Spent { wait } => {
                self.too_many_passwords(wait);
                Step::Close
            }
        }
    }

    /// The goodbye to a client whose address has given too many wrong passwords.
    fn too_many_passwords(&mut self, wait: Duration) {
        info!(peer = %self.link.ticket.peer, "disconnected: too many wrong passwords");
        self.link.ending(Disconnect::BadPassword);
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let text = format!("too many wrong passwords from your address; try again in {secs} s");
        self.error(ErrorCode::TooManyPasswords, text);
    }
}
