//! Budgets of wrong account passwords (`/identify`, SASL, NickServ): per address, so one
//! host cannot guess quickly, and per account, so many hosts together cannot either.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

use super::budget::{address_key, address_refill, Budget, MAX_ADDRESSES};
use super::Config;
use crate::core::AccountError;

/// Wrong passwords an account regains per minute once its budget is spent.
const ACCOUNT_REFILL_PER_MINUTE: u32 = 1;

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
        if let Err(wait) = self.attempt(ip, account) {
            return Checked::Refused(wait);
        }
        let outcome = check.await;
        let spent = match &outcome {
            Ok(_) => {
                self.right(account);
                None
            }
            Err(AccountError::WrongPassword(_)) => self.wrong(ip, account),
            Err(_) => {
                self.unchecked(ip, account);
                None
            }
        };
        Checked::Done { outcome, spent }
    }

    /// Takes one attempt at the password of `account` (a nickname's fold) from `ip`, before
    /// the password is checked; `Err` with the wait when either budget is spent. Attempts
    /// in parallel each take their own, so they cannot all slip past one check.
    fn attempt(&self, ip: IpAddr, account: &Arc<str>) -> Result<(), Duration> {
        let now = Instant::now();
        self.by_address.take(address_key(ip), now)?;
        if let Err(wait) = self.by_account.take(account.clone(), now) {
            self.by_address.refund(address_key(ip), now);
            return Err(wait);
        }
        Ok(())
    }

    /// After a wrong password: how long until the next attempt, if either budget is now
    /// spent (the attempt itself was taken by [`Guesses::attempt`]).
    fn wrong(&self, ip: IpAddr, account: &Arc<str>) -> Option<Duration> {
        let now = Instant::now();
        let address = self.by_address.wait(address_key(ip), now);
        let account_wait = self.by_account.wait(account.clone(), now);
        let wait = address.max(account_wait);
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
    /// given back.
    fn unchecked(&self, ip: IpAddr, account: &Arc<str>) {
        let now = Instant::now();
        self.by_address.refund(address_key(ip), now);
        self.by_account.refund(account.clone(), now);
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
        assert_eq!(guesses.attempt(ip, &ann), Ok(()));
        guesses.right(&ann);
        assert_eq!(guesses.attempt(ip, &ann), Ok(()));
        assert_eq!(guesses.wrong(ip, &ann), None);
        assert_eq!(guesses.attempt(ip, &ann), Ok(()));
        assert_eq!(guesses.wrong(ip, &ann), None);
        assert_eq!(guesses.attempt(ip, &ann), Ok(()));
        assert!(guesses.wrong(ip, &ann).is_some(), "the third wrong one spends it");
        assert!(guesses.attempt(ip, &ann).is_err());
    }
}
