//! The server password (`--password-file`): the secret, read once at start and compared in
//! constant time, and each address's budget of failed attempts, shared by all its
//! connections in every protocol.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq as _;
use thiserror::Error;
use tracing::{info, warn};

use super::Config;
use crate::proto::chat::is_forbidden;

/// The longest password, in bytes: far more than any passphrase, and it fits an IRC
/// `PASS :...` line (512 bytes) with room to spare.
pub const MAX_PASSWORD: usize = 256;

/// Addresses whose failures are remembered at once. Past it, refilled entries are dropped,
/// and if none has refilled, every address not remembered shares one budget: a flood from
/// rotating addresses costs bounded memory, and the guessing stays bounded too.
const MAX_ADDRESSES: usize = 4096;

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

/// What one more failure did to an address's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Failures remain.
    Again,
    /// That was the last: the address may try again after the wait.
    Spent {
        /// How long until it may.
        wait: Duration,
    },
}

/// The password and the per-address budget of wrong attempts, as the server holds them.
#[derive(Debug)]
pub struct ServerPassword {
    /// The secret.
    password: Password,
    /// Failures per address.
    budget: Budget,
}

impl ServerPassword {
    /// The password `config` names, if any, read now; the budget follows the flood limits.
    pub fn load(config: &Config) -> io::Result<Option<ServerPassword>> {
        let Some(path) = &config.password_file else { return Ok(None) };
        let password = Password::read(path, config.max_line)?;
        info!(file = %path.display(), "clients must give the server password");
        let budget = Budget::new(config.flood_rate, config.flood_burst, MAX_ADDRESSES);
        Ok(Some(ServerPassword { password, budget }))
    }

    /// How long `ip` must wait before its next attempt, or `None` if it may try now.
    pub fn spent(&self, ip: IpAddr) -> Option<Duration> {
        self.budget.wait(ip, Instant::now())
    }

    /// Whether `attempt` is the password (see [`Password::matches`]); nothing is counted.
    pub fn matches(&self, attempt: &str) -> bool {
        self.password.matches(attempt)
    }

    /// Counts one failure of `ip` against its budget.
    pub fn fail(&self, ip: IpAddr) -> Charge {
        let charge = self.budget.fail(ip, Instant::now());
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

/// Failed passwords per address: a token bucket each, of `burst` failures refilled at
/// `rate` a minute. A minute, not a second like lines: a person mistypes a password a few
/// times, and a guesser at ten a second would try 36,000 an hour from one address.
#[derive(Debug)]
struct Budget {
    /// Failures refilled per second; zero turns the budget off, with flood control.
    rate: f64,
    /// Failures an address may have at once.
    burst: f64,
    /// Addresses remembered at once, at most.
    max_addresses: usize,
    /// The buckets, and the one shared by addresses that did not fit.
    buckets: Mutex<Buckets>,
}

/// The state behind the budget's lock.
#[derive(Debug)]
struct Buckets {
    /// One bucket per address (an IPv6 address by its /64).
    by_address: HashMap<IpAddr, Bucket>,
    /// Shared by every address not in the map while it is full.
    overflow: Bucket,
}

/// Failures an address may still have, as of `updated`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Failures left; below one, the address is refused.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Budget {
    fn new(per_minute: u32, burst: u32, max_addresses: usize) -> Budget {
        let burst = f64::from(burst.max(1));
        let full = Bucket { tokens: burst, updated: Instant::now() };
        let buckets = Buckets { by_address: HashMap::new(), overflow: full };
        let rate = f64::from(per_minute) / 60.0;
        Budget { rate, burst, max_addresses, buckets: Mutex::new(buckets) }
    }

    /// The buckets. The lock is held for a map update only, never across an await, and a
    /// panic elsewhere cannot leave them unusable.
    fn lock(&self) -> MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `ip` must wait for its next attempt, or `None` if it may try now.
    fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        if self.rate == 0.0 {
            return None;
        }
        let mut buckets = self.lock();
        let full = buckets.by_address.len() >= self.max_addresses;
        let bucket = match buckets.by_address.get_mut(&key(ip)) {
            Some(bucket) => bucket,
            None if full => &mut buckets.overflow,
            None => return None,
        };
        self.refill(bucket, now);
        self.wait_for(bucket)
    }

    /// Counts one failure of `ip`.
    fn fail(&self, ip: IpAddr, now: Instant) -> Charge {
        if self.rate == 0.0 {
            return Charge::Again;
        }
        let mut buckets = self.lock();
        let bucket = self.bucket(&mut buckets, key(ip), now);
        self.refill(bucket, now);
        // Never below empty: two connections failing at once cannot push the address
        // into a debt longer than one refill.
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        match self.wait_for(bucket) {
            Some(wait) => Charge::Spent { wait },
            None => Charge::Again,
        }
    }

    /// The bucket of `key`, made full if it is new. When the map is full, refilled
    /// entries are dropped first; if none has, the shared overflow bucket stands in.
    fn bucket<'a>(&self, buckets: &'a mut Buckets, key: IpAddr, now: Instant) -> &'a mut Bucket {
        let Buckets { by_address, overflow } = buckets;
        if !by_address.contains_key(&key) && by_address.len() >= self.max_addresses {
            by_address.retain(|_, bucket| !self.refilled(bucket, now));
            if by_address.len() >= self.max_addresses {
                return overflow;
            }
        }
        by_address.entry(key).or_insert(Bucket { tokens: self.burst, updated: now })
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
    }

    /// Whether `bucket` is full again as of `now`, and so need not be remembered.
    fn refilled(&self, bucket: &Bucket, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens + elapsed * self.rate >= self.burst
    }

    /// How long until `bucket` (just refilled) holds a whole failure again, if it does not.
    fn wait_for(&self, bucket: &Bucket) -> Option<Duration> {
        (bucket.tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
    }
}

/// The key an address is counted under: an IPv4 address (an IPv4-mapped IPv6 address
/// counts as the IPv4 one), or an IPv6 address's /64, since one host usually has a whole
/// /64 to pick addresses from.
fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    /// A wait in seconds, to compare without rounding errors.
    fn secs(wait: Option<Duration>) -> f64 {
        wait.map_or(0.0, |wait| (wait.as_secs_f64() * 1000.0).round() / 1000.0)
    }

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

    #[test]
    fn a_burst_of_failures_then_one_a_refill() {
        let start = Instant::now();
        // Three failures at once, one more every 20 s.
        let budget = Budget::new(3, 3, 16);
        assert_eq!(budget.wait(ip(1), start), None);
        assert_eq!(budget.fail(ip(1), start), Charge::Again);
        assert_eq!(budget.fail(ip(1), start), Charge::Again);
        let Charge::Spent { wait } = budget.fail(ip(1), start) else { panic!("not spent") };
        assert_eq!(secs(Some(wait)), 20.0);
        assert_eq!(secs(budget.wait(ip(1), start + Duration::from_secs(5))), 15.0);
        // Another address has its own budget.
        assert_eq!(budget.wait(ip(2), start), None);
        let later = start + Duration::from_secs(21);
        assert_eq!(budget.wait(ip(1), later), None);
        let again = budget.fail(ip(1), later);
        assert!(matches!(again, Charge::Spent { .. }), "{again:?}");
    }

    #[test]
    fn a_rate_of_zero_turns_it_off() {
        let start = Instant::now();
        let budget = Budget::new(0, 1, 16);
        assert!((0..100).all(|_| budget.fail(ip(1), start) == Charge::Again));
        assert_eq!(budget.wait(ip(1), start), None);
    }

    #[test]
    fn memory_stays_bounded_under_rotating_addresses() {
        let start = Instant::now();
        let budget = Budget::new(60, 2, 4);
        for last in 0..=255 {
            budget.fail(ip(last), start);
        }
        assert_eq!(budget.lock().by_address.len(), 4);
        // The addresses that did not fit share one budget, which they have spent, and
        // owe no more than one refill however often they failed.
        assert_eq!(secs(budget.wait(ip(200), start)), 1.0);
        // Once refilled, remembered addresses make room for new ones.
        let later = start + Duration::from_secs(2);
        assert_eq!(budget.fail(ip(200), later), Charge::Again);
        assert_eq!(budget.lock().by_address.len(), 1);
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("address");
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("address");
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        assert_eq!(key(one), key(other));
        assert_ne!(key(one), key(elsewhere));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        assert_eq!(key(mapped), ip(7));
    }
}
