//! The server password (`--password-file`): the secret, read once at start and compared in
//! constant time, and each address's budget of failed attempts, shared by all its
//! connections in every protocol.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq as _;
use thiserror::Error;
use tracing::{info, warn};

pub use super::budget::Charge;
use super::budget::{address_key, address_refill, Budget, MAX_ADDRESSES};
use super::Config;
use crate::proto::chat::is_forbidden;

/// The longest password, in bytes: far more than any passphrase, and it fits an IRC
/// `PASS :...` line (512 bytes) with room to spare.
pub const MAX_PASSWORD: usize = 256;

/// Why a password file's first line cannot be the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// Nothing (or only spaces) on the first line.
    #[error("its first line is empty; the password is the first line")]
    Empty,
    /// Not UTF-8: no client line could carry it.
    #[error("its first line is not UTF-8")]
    NotUtf8,
    /// A control character, which no client may send.
    #[error("its first line holds a control character, which no client can send")]
    ControlChar,
    /// Longer than a client may send.
    #[error("its first line is longer than {max} bytes")]
    TooLong {
        /// The most bytes allowed.
        max: usize,
    },
}

/// The server password. Only its SHA-256 digest is kept, and attempts are hashed and
/// compared in constant time, so neither its bytes nor its length show in how long a
/// comparison takes. Its `Debug` output never shows it.
pub struct Password {
    /// SHA-256 of the password.
    digest: [u8; 32],
}

impl Password {
    /// The password in the first line of `text` (without its `\n` or `\r\n`), as long as
    /// a client can send it in a line of at most `max_len` bytes.
    pub fn parse(text: &[u8], max_len: usize) -> Result<Password, PasswordError> {
        let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = std::str::from_utf8(line).map_err(|_| PasswordError::NotUtf8)?;
        // Blank lines are ignored in both protocols: such a password could not be sent.
        if line.trim().is_empty() {
            return Err(PasswordError::Empty);
        }
        if line.chars().any(is_forbidden) {
            return Err(PasswordError::ControlChar);
        }
        let max = max_len.min(MAX_PASSWORD);
        if line.len() > max {
            return Err(PasswordError::TooLong { max });
        }
        Ok(Password { digest: sha256(line.as_bytes()) })
    }

    /// Reads the password from the first line of the file at `path`, as long as a client
    /// can send it in a line of at most `max_len` bytes. The error names the file.
    pub fn read(path: &Path, max_len: usize) -> io::Result<Password> {
        let shown = path.display();
        let text = std::fs::read(path).map_err(|error| {
            let text = format!("cannot read the password file {shown}: {error}");
            io::Error::new(error.kind(), text)
        })?;
        Password::parse(&text, max_len).map_err(|error| {
            let text = format!("the password file {shown} cannot be used: {error}");
            io::Error::new(io::ErrorKind::InvalidData, text)
        })
    }

    /// Whether `attempt` is the password, in time that depends on the attempt's length
    /// only.
    pub fn matches(&self, attempt: &str) -> bool {
        bool::from(sha256(attempt.as_bytes()).ct_eq(&self.digest))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// What a password attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The password: go on.
    Right,
    /// Not the password; the address may try again.
    Wrong,
    /// The address has failed too often: refused without being compared, or this failure
    /// was its last. Another attempt is allowed after the wait.
    Spent {
        /// How long until the address may try again.
        wait: Duration,
    },
}

/// The password and the per-address budget of wrong attempts, as the server holds them.
#[derive(Debug)]
pub struct ServerPassword {
    /// The secret.
    password: Password,
    /// Failures per address.
    budget: Budget<IpAddr>,
}

impl ServerPassword {
    /// The password `config` names, if any, read now; the budget follows the flood limits.
    pub fn load(config: &Config) -> io::Result<Option<ServerPassword>> {
        let Some(path) = &config.password_file else { return Ok(None) };
        let password = Password::read(path, config.max_line)?;
        info!(file = %path.display(), "clients must give the server password");
        let budget = Budget::new(address_refill(config), config.flood_burst, MAX_ADDRESSES);
        Ok(Some(ServerPassword { password, budget }))
    }

    /// How long `ip` must wait before its next attempt, or `None` if it may try now.
    pub fn spent(&self, ip: IpAddr) -> Option<Duration> {
        self.budget.wait(address_key(ip), Instant::now())
    }

    /// Whether `attempt` is the password (see [`Password::matches`]); nothing is counted.
    pub fn matches(&self, attempt: &str) -> bool {
        self.password.matches(attempt)
    }

    /// Counts one failure of `ip` against its budget.
    pub fn fail(&self, ip: IpAddr) -> Charge {
        let charge = self.budget.fail(address_key(ip), Instant::now());
        if let Charge::Spent { wait } = charge {
            warn!(%ip, ?wait, "too many wrong passwords; refusing the address for a while");
        }
        charge
    }

    /// Checks an attempt from `ip`: refused unanswered while the address's budget is
    /// spent, and counted against it when wrong.
    pub fn attempt(&self, ip: IpAddr, attempt: &str) -> Outcome {
        if let Some(wait) = self.spent(ip) {
            return Outcome::Spent { wait };
        }
        if self.matches(attempt) {
            return Outcome::Right;
        }
        match self.fail(ip) {
            Charge::Again => Outcome::Wrong,
            Charge::Spent { wait } => Outcome::Spent { wait },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_password_is_the_first_line_without_its_ending() {
        let password = Password::parse(b"hunter2\r\nsecond line\n", 100).expect("valid");
        assert!(password.matches("hunter2"));
        assert!(!password.matches("hunter2\r"));
        assert!(!password.matches("hunter"));
        assert!(!password.matches(""));
        let spaced = Password::parse(b" two words ", 100).expect("valid");
        assert!(spaced.matches(" two words "));
        assert!(!spaced.matches("two words"));
    }

    #[test]
    fn unusable_first_lines_say_why() {
        assert_eq!(Password::parse(b"", 100).err(), Some(PasswordError::Empty));
        assert_eq!(Password::parse(b" \t\nsecret", 100).err(), Some(PasswordError::Empty));
        assert_eq!(Password::parse(b"\xff\xfe", 100).err(), Some(PasswordError::NotUtf8));
        assert_eq!(Password::parse(b"a\x1bb", 100).err(), Some(PasswordError::ControlChar));
        assert_eq!(Password::parse(b"12345", 4).err(), Some(PasswordError::TooLong { max: 4 }));
        let long = vec![b'x'; MAX_PASSWORD + 1];
        let too_long = Some(PasswordError::TooLong { max: MAX_PASSWORD });
        assert_eq!(Password::parse(&long, usize::MAX).err(), too_long);
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let password = Password::parse(b"correct horse", 100).expect("valid");
        let shown = format!("{password:?} {password:#?}");
        assert!(!shown.contains("correct horse"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
