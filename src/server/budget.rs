//! Budgets of failures (wrong passwords): a token bucket per key, an address or an
//! account, in bounded memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::config::{Config, DEFAULT_FLOOD_RATE};

/// Keys whose failures are remembered at once. Past it, refilled entries are dropped, and
/// if none has refilled, every key not remembered shares one budget: a flood from
/// rotating addresses costs bounded memory, and the guessing stays bounded too.
pub const MAX_ADDRESSES: usize = 4096;

/// What one more failure did to a key's budget.
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

/// Failed passwords per key (an address, an account): a token bucket each, of `burst`
/// failures refilled at `rate` a minute. A minute, not a second like lines: a person mistypes a password a few
/// times, and a guesser at ten a second would try 36,000 an hour from one address.
#[derive(Debug)]
pub struct Budget<K> {
    /// Failures refilled per second.
    rate: f64,
    /// Failures an address may have at once.
    burst: f64,
    /// Addresses remembered at once, at most.
    max_addresses: usize,
    /// The buckets, and the one shared by addresses that did not fit.
    buckets: Mutex<Buckets<K>>,
}

/// The state behind the budget's lock.
#[derive(Debug)]
struct Buckets<K> {
    /// One bucket per address (an IPv6 address by its /64).
    by_address: HashMap<K, Bucket>,
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

impl<K: Hash + Eq> Budget<K> {
    /// A budget of `burst` failures per key, refilled at `per_minute` (at least one), for
    /// at most `max_addresses` keys remembered at once.
    pub fn new(per_minute: u32, burst: u32, max_addresses: usize) -> Budget<K> {
        let burst = f64::from(burst.max(1));
        let per_minute = per_minute.max(1);
        let full = Bucket { tokens: burst, updated: Instant::now() };
        let buckets = Buckets { by_address: HashMap::new(), overflow: full };
        let rate = f64::from(per_minute) / 60.0;
        Budget { rate, burst, max_addresses, buckets: Mutex::new(buckets) }
    }

    /// The buckets. The lock is held for a map update only, never across an await, and a
    /// panic elsewhere cannot leave them unusable.
    fn lock(&self) -> MutexGuard<'_, Buckets<K>> {
        self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `key` must wait for its next attempt, or `None` if it may try now.
    pub fn wait(&self, key: K, now: Instant) -> Option<Duration> {
        let mut buckets = self.lock();
        let full = buckets.by_address.len() >= self.max_addresses;
        let bucket = match buckets.by_address.get_mut(&key) {
            Some(bucket) => bucket,
            None if full => &mut buckets.overflow,
            None => return None,
        };
        self.refill(bucket, now);
        self.wait_for(bucket)
    }

    /// Takes one attempt from `key`'s budget before it is tried, or says how long to
    /// wait: checked and charged under one lock, so attempts in parallel cannot all pass
    /// a check that only one of them should.
    pub fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.lock();
        let bucket = self.bucket(&mut buckets, key, now);
        self.refill(bucket, now);
        if let Some(wait) = self.wait_for(bucket) {
            return Err(wait);
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// Gives back an attempt taken from `key`: it did not count after all.
    pub fn refund(&self, key: K, now: Instant) {
        let mut buckets = self.lock();
        let bucket = self.bucket(&mut buckets, key, now);
        self.refill(bucket, now);
        bucket.tokens = (bucket.tokens + 1.0).min(self.burst);
    }

    /// Counts one failure of `key`.
    pub fn fail(&self, key: K, now: Instant) -> Charge {
        let mut buckets = self.lock();
        let bucket = self.bucket(&mut buckets, key, now);
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
    fn bucket<'a>(&self, buckets: &'a mut Buckets<K>, key: K, now: Instant) -> &'a mut Bucket {
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

/// Wrong passwords an address regains a minute: `--flood-rate`, or its default when flood
/// control is off. Turning flood control off is for lines (bots, a load generator); it must
/// not leave the server password or an account open to guessing.
pub fn address_refill(config: &Config) -> u32 {
    match config.flood_rate {
        0 => DEFAULT_FLOOD_RATE,
        rate => rate,
    }
}

/// The key an address is counted under: an IPv4 address (an IPv4-mapped IPv6 address
/// counts as the IPv4 one), or an IPv6 address's /64, since one host usually has a whole
/// /64 to pick addresses from.
pub fn address_key(ip: IpAddr) -> IpAddr {
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
    fn attempts_are_taken_before_they_are_tried_and_can_be_given_back() {
        let start = Instant::now();
        let budget = Budget::new(1, 2, 16);
        assert_eq!(budget.take(ip(1), start), Ok(()));
        assert_eq!(budget.take(ip(1), start), Ok(()));
        assert!(budget.take(ip(1), start).is_err(), "two in flight use the budget up");
        budget.refund(ip(1), start);
        assert_eq!(budget.take(ip(1), start), Ok(()));
        budget.refund(ip(1), start);
        budget.refund(ip(1), start);
        budget.refund(ip(1), start);
        assert_eq!(budget.wait(ip(1), start), None);
        assert_eq!(budget.take(ip(1), start), Ok(()));
        assert_eq!(budget.take(ip(1), start), Ok(()));
        assert!(budget.take(ip(1), start).is_err(), "refunds never go past the burst");
    }

    #[test]
    fn a_rate_of_zero_refills_at_one_a_minute_rather_than_turning_it_off() {
        let start = Instant::now();
        let budget = Budget::new(0, 1, 16);
        assert_eq!(budget.fail(ip(1), start), Charge::Spent { wait: Duration::from_secs(60) });
        assert_eq!(budget.wait(ip(1), start), Some(Duration::from_secs(60)));
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
        assert_eq!(address_key(one), address_key(other));
        assert_ne!(address_key(one), address_key(elsewhere));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        assert_eq!(address_key(mapped), ip(7));
    }
}
