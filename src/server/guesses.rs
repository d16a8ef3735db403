//! Budgets of wrong account passwords (`/identify`, SASL, NickServ): per address, so one
//! host cannot guess quickly, and per account, so many hosts together cannot either. An
//! address that gave an account's right password lately is not refused by the account's
//! budget, so a guesser elsewhere who spends it cannot lock the owner out.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::warn;

use super::budget::{address_key, address_refill, Budget, MAX_ADDRESSES};
use super::Config;
use crate::core::AccountError;

/// Wrong passwords an account regains per minute once its budget is spent.
const ACCOUNT_REFILL_PER_MINUTE: u32 = 1;

/// Addresses remembered per account as having given its right password: the owner's
/// home, phone and work, say.
const TRUSTED_PER_ACCOUNT: usize = 4;

/// How a password check through the budgets came out.
pub enum Checked<T> {
    /// Refused before it was checked: a budget is spent for this long.
    Refused(Duration),
    /// Checked.
    Done {
        /// What the check said.
        outcome: Result<T, AccountError>,
        /// How long until the next attempt, when a wrong password just spent a budget.
        spent: Option<Duration>,
    },
}

/// The budgets of wrong account passwords.
pub struct Guesses {
    /// Per address: `--flood-burst` at once, `--flood-rate` a minute (its default when
    /// flood control is off), as for the server password.
    by_address: Budget<IpAddr>,
    /// Per account, by nickname fold: `--identify-attempts` at once, one a minute.
    by_account: Budget<Arc<str>>,
    /// Per account, by nickname fold, the addresses (as [`address_key`] counts them) that
    /// last gave its right password: its budget does not refuse them, so that one guesser
    /// cannot keep its owner out. They still pay from their own address's budget.
    trusted: Mutex<HashMap<Arc<str>, Vec<IpAddr>>>,
    /// Accounts whose trusted addresses are remembered at once, as many as the server
    /// keeps accounts (`--max-accounts`); past it (accounts dropped on another server of
    /// a cluster are not forgotten here) one is forgotten to make room.
    max_trusted: usize,
}

impl Guesses {
    /// The budgets `config` sets. The account's does not depend on flood control:
    /// `--identify-attempts` always holds.
    pub fn new(config: &Config) -> Guesses {
        Guesses {
            by_address: Budget::new(address_refill(config), config.flood_burst, MAX_ADDRESSES),
            by_account: Budget::new(
                ACCOUNT_REFILL_PER_MINUTE,
                config.identify_attempts,
                MAX_ADDRESSES,
            ),
            trusted: Mutex::new(HashMap::new()),
            max_trusted: config.max_accounts,
        }
    }

    /// Runs `check`, a password check for `account` (a nickname's fold) asked from `ip`,
    /// under the budgets: an attempt is taken first (or the check refused), the account's
    /// given back after a right password, both after a check that hashed nothing (no
    /// such account, a password that cannot be one). The one place every protocol's
    /// `IDENTIFY`, SASL and `REGISTER` pays for its hashing.
    pub async fn check<T>(
        &self,
        ip: IpAddr,
        account: &Arc<str>,
        check: impl Future<Output = Result<T, AccountError>>,
    ) -> Checked<T> {
        let took_account = match self.attempt(ip, account) {
            Ok(took_account) => took_account,
            Err(wait) => return Checked::Refused(wait),
        };
        let outcome = check.await;
        let spent = match &outcome {
            Ok(_) => {
                if took_account {
                    self.right(account);
                }
                self.trust(ip, account);
                None
            }
            Err(AccountError::WrongPassword(_)) => self.wrong(ip, account, took_account),
            Err(_) => {
                self.unchecked(ip, account, took_account);
                None
            }
        };
        Checked::Done { outcome, spent }
    }

    /// Takes one attempt at the password of `account` (a nickname's fold) from `ip`, before
    /// the password is checked; `Err` with the wait when either budget is spent, and
    /// whether the account's was taken (a trusted address goes on without it). Attempts
    /// in parallel each take their own, so they cannot all slip past one check.
    fn attempt(&self, ip: IpAddr, account: &Arc<str>) -> Result<bool, Duration> {
        let now = Instant::now();
        self.by_address.take(address_key(ip), now)?;
        match self.by_account.take(account.clone(), now) {
            Ok(()) => Ok(true),
            Err(_) if self.is_trusted(ip, account) => Ok(false),
            Err(wait) => {
                self.by_address.refund(address_key(ip), now);
                Err(wait)
            }
        }
    }

    /// The trusted addresses. The lock is held for a map update only, never across an
    /// await.
    fn lock_trusted(&self) -> MutexGuard<'_, HashMap<Arc<str>, Vec<IpAddr>>> {
        self.trusted.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `ip` gave `account`'s right password lately.
    fn is_trusted(&self, ip: IpAddr, account: &Arc<str>) -> bool {
        let key = address_key(ip);
        self.lock_trusted().get(account).is_some_and(|addresses| addresses.contains(&key))
    }

    /// Remembers that `ip` gave `account`'s right password (or registered it), in place
    /// of the address that did so longest ago if it has as many as it may.
    fn trust(&self, ip: IpAddr, account: &Arc<str>) {
        let key = address_key(ip);
        let mut trusted = self.lock_trusted();
        if !trusted.contains_key(account) && trusted.len() >= self.max_trusted {
            if let Some(forgotten) = trusted.keys().next().cloned() {
                trusted.remove(&forgotten);
            }
        }
        let addresses = trusted.entry(account.clone()).or_default();
        addresses.retain(|address| *address != key);
        if addresses.len() >= TRUSTED_PER_ACCOUNT {
            addresses.remove(0);
        }
        addresses.push(key);
    }

    /// Forgets the addresses trusted by `account` (a nickname's fold), dropped: whoever
    /// registers the nickname next is another owner.
    pub fn forget(&self, account: &str) {
        self.lock_trusted().remove(account);
    }

    /// After a wrong password: how long until the next attempt, if either budget is now
    /// spent (the attempt itself was taken by [`Guesses::attempt`]; the account's only if
    /// `took_account`, and only then does its budget make the address wait).
    fn wrong(&self, ip: IpAddr, account: &Arc<str>, took_account: bool) -> Option<Duration> {
        let now = Instant::now();
        let address = self.by_address.wait(address_key(ip), now);
        let account_wait = took_account.then(|| self.by_account.wait(account.clone(), now));
        let wait = address.max(account_wait.flatten());
        if let Some(wait) = wait {
            warn!(%ip, %account, ?wait, "too many wrong account passwords; refusing for a while");
        }
        wait
    }

    /// After the right password: the account's attempt is given back. The address's is
    /// not, so that one address cannot make the server hash without end.
    fn right(&self, account: &Arc<str>) {
        self.by_account.refund(account.clone(), Instant::now());
    }

    /// After an attempt that checked no password at all (no such account): both are
    /// given back (the account's if it was taken).
    fn unchecked(&self, ip: IpAddr, account: &Arc<str>, took_account: bool) {
        let now = Instant::now();
        self.by_address.refund(address_key(ip), now);
        if took_account {
            self.by_account.refund(account.clone(), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accounts_attempts_are_taken_and_given_back() {
        let config =
            Config { identify_attempts: 3, flood_rate: 10, flood_burst: 1000, ..Config::default() };
        let guesses = Guesses::new(&config);
        let ip: IpAddr = "192.0.2.1".parse().expect("an address");
        let ann: Arc<str> = "ann".into();
        assert_eq!(guesses.attempt(ip, &ann), Ok(true));
        guesses.right(&ann);
        assert_eq!(guesses.attempt(ip, &ann), Ok(true));
        assert_eq!(guesses.wrong(ip, &ann, true), None);
        assert_eq!(guesses.attempt(ip, &ann), Ok(true));
        assert_eq!(guesses.wrong(ip, &ann, true), None);
        assert_eq!(guesses.attempt(ip, &ann), Ok(true));
        assert!(guesses.wrong(ip, &ann, true).is_some(), "the third wrong one spends it");
        assert!(guesses.attempt(ip, &ann).is_err());
    }

    #[test]
    fn an_address_that_gave_the_right_password_is_not_locked_out_by_a_guesser() {
        let config =
            Config { identify_attempts: 1, flood_rate: 10, flood_burst: 1000, ..Config::default() };
        let guesses = Guesses::new(&config);
        let owner: IpAddr = "192.0.2.1".parse().expect("an address");
        let guesser: IpAddr = "198.51.100.7".parse().expect("an address");
        let ann: Arc<str> = "ann".into();
        assert_eq!(guesses.attempt(owner, &ann), Ok(true));
        guesses.right(&ann);
        guesses.trust(owner, &ann);
        assert_eq!(guesses.attempt(guesser, &ann), Ok(true));
        assert!(guesses.wrong(guesser, &ann, true).is_some(), "the guesser spends it");
        assert!(guesses.attempt(guesser, &ann).is_err());
        assert_eq!(guesses.attempt(owner, &ann), Ok(false), "the owner goes on");
        assert_eq!(guesses.wrong(owner, &ann, false), None, "the owner's own budget is full");
    }

    #[test]
    fn a_dropped_account_trusts_nobody_and_trust_is_kept_for_as_many_accounts_as_kept() {
        let config = Config { identify_attempts: 1, max_accounts: 2, ..Config::default() };
        let guesses = Guesses::new(&config);
        let owner: IpAddr = "192.0.2.1".parse().expect("an address");
        let ann: Arc<str> = "ann".into();
        guesses.trust(owner, &ann);
        guesses.forget(&ann);
        // Whoever registers "ann" next is not the old owner's: a guess spends it for all.
        assert_eq!(guesses.attempt(owner, &ann), Ok(true));
        assert!(guesses.wrong(owner, &ann, true).is_some());
        assert!(guesses.attempt(owner, &ann).is_err(), "the old owner is a stranger now");
        for name in ["bob", "cat", "dan"] {
            guesses.trust(owner, &name.into());
        }
        assert_eq!(guesses.lock_trusted().len(), 2, "as many as --max-accounts");
    }

    #[test]
    fn trusted_addresses_stay_few_per_account() {
        let guesses = Guesses::new(&Config::default());
        let ann: Arc<str> = "ann".into();
        for last in 0..10u8 {
            guesses.trust(IpAddr::from([192, 0, 2, last]), &ann);
        }
        let trusted = guesses.lock_trusted().get(&ann).map(Vec::len);
        assert_eq!(trusted, Some(TRUSTED_PER_ACCOUNT));
        assert!(guesses.is_trusted(IpAddr::from([192, 0, 2, 9]), &ann));
        assert!(!guesses.is_trusted(IpAddr::from([192, 0, 2, 0]), &ann));
    }
}
