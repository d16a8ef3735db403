//! Keeping a bot under the server's flood limit: a token bucket a little smaller and
//! slower than the one the server announces in its `LIMITS` line, so that a bot sending
//! many lines at once is slowed down instead of disconnected.

use std::time::{Duration, Instant};

/// The share of the server's rate a bot uses: the server also counts the client's
/// automatic `/pong` answers and its clock is not ours.
const RATE_SHARE: f64 = 0.8;

/// The flood limit a server that sends no `LIMITS` line is assumed to have: the default
/// of the servers that came before the line.
pub const ASSUMED_RATE: u32 = 10;

/// See [`ASSUMED_RATE`].
pub const ASSUMED_BURST: u32 = 20;

/// A token bucket of lines; sending waits for a token.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Lines per second; zero means no pacing.
    rate: f64,
    /// Most lines sent at once.
    burst: f64,
    /// Lines that may be sent now; negative when sends are already scheduled ahead.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Pace {
    /// Pacing for a server that allows `rate` lines per second (0: no limit) after a
    /// burst of `burst`: a little under both, full as of `now`.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Pace {
        // Half the burst: the handshake and the automatic answers spent some of it.
        let burst = (f64::from(burst) / 2.0).floor().max(1.0);
        Pace { rate: f64::from(rate) * RATE_SHARE, burst, tokens: burst, updated: now }
    }

    /// Takes a token for one line to be sent at `now`; how long to wait before sending it.
    pub fn delay(&mut self, now: Instant) -> Duration {
        if self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        self.tokens -= 1.0;
        match self.tokens >= 0.0 {
            true => Duration::ZERO,
            false => Duration::from_secs_f64(-self.tokens / self.rate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_the_burst_goes_at_once_then_a_little_under_the_rate() {
        let start = Instant::now();
        let mut pace = Pace::new(10, 20, start);
        for _ in 0..10 {
            assert_eq!(pace.delay(start), Duration::ZERO);
        }
        // 8 lines a second: the next waits an eighth of a second, the one after two.
        assert_eq!(pace.delay(start), Duration::from_millis(125));
        assert_eq!(pace.delay(start), Duration::from_millis(250));
        let later = start + Duration::from_secs(10);
        assert_eq!(pace.delay(later), Duration::ZERO);
    }

    #[test]
    fn a_rate_of_zero_never_waits() {
        let start = Instant::now();
        let mut pace = Pace::new(0, 1, start);
        assert!((0..1000).all(|_| pace.delay(start).is_zero()));
    }
}
