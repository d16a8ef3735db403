//! Budgets of wrong account passwords (`/identify`, SASL, NickServ): per address, so one
//! host cannot guess quickly, and per account, so many hosts together cannot either.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

use super::budget::{address_key, Budget, Charge, MAX_ADDRESSES};
use super::Config;

/// Wrong passwords an account regains per minute once its budget is spent.
const ACCOUNT_REFILL_PER_MINUTE: u32 = 1;

/// The budgets of wrong account passwords.
pub struct Guesses {
    /// Per address: `--flood-burst` at once, `--flood-rate` a minute, as for the server
    /// password.
    by_address: Budget<IpAddr>,
    /// Per account, by nickname fold: `--identify-attempts` at once, one a minute.
    by_account: Budget<Arc<str>>,
}

impl Guesses {
    /// The budgets `config` sets.
    pub fn new(config: &Config) -> Guesses {
        let per_account = if config.flood_rate == 0 { 0 } else { ACCOUNT_REFILL_PER_MINUTE };
        Guesses {
            by_address: Budget::new(config.flood_rate, config.flood_burst, MAX_ADDRESSES),
            by_account: Budget::new(per_account, config.identify_attempts, MAX_ADDRESSES),
        }
    }

    /// How long `ip` must wait before guessing the password of `account` (a nickname's
    /// fold) again, or `None` if it may now.
    pub fn wait(&self, ip: IpAddr, account: &Arc<str>) -> Option<Duration> {
        let now = Instant::now();
        let address = self.by_address.wait(address_key(ip), now);
        let account = self.by_account.wait(account.clone(), now);
        address.max(account)
    }

    /// Counts a wrong password from `ip` for `account`; `Some` with the wait when either
    /// budget is now spent.
    pub fn fail(&self, ip: IpAddr, account: &Arc<str>) -> Option<Duration> {
        let now = Instant::now();
        let waits = [
            self.by_address.fail(address_key(ip), now),
            self.by_account.fail(account.clone(), now),
        ];
        let wait = waits
            .into_iter()
            .filter_map(|charge| match charge {
                Charge::Spent { wait } => Some(wait),
                Charge::Again => None,
            })
            .max();
        if let Some(wait) = wait {
            warn!(%ip, %account, ?wait, "too many wrong account passwords; refusing for a while");
        }
        wait
    }
}
