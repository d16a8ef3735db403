//! Flood control: a per-client token bucket that warns, then disconnects, a client that
//! sends faster than the room can read.

use std::time::Instant;

/// What the bucket says about one more line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: act on the line.
    Accept,
    /// Over the rate: drop the line and warn (only the first drop in a row warns).
    Drop {
        /// True for the first dropped line since the last accepted one.
        warn: bool,
    },
    /// Stayed over the rate for a whole burst's worth of lines: disconnect.
    Disconnect,
}

/// A token bucket of `burst` lines refilled at `rate` lines per second. It may go into
/// debt by another `burst` lines of dropped input before the client is disconnected, so
/// a paste or a stutter costs a warning while a sustained flood costs the connection.
#[derive(Debug, Clone)]
pub struct FloodGate {
    /// Lines per second; zero turns flood control off.
    rate: f64,
    /// Largest number of lines that can arrive at once.
    burst: f64,
    /// Lines that may be sent now; negative while in debt.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
    /// True while lines are being dropped, so the warning is sent once per episode.
    dropping: bool,
}

impl FloodGate {
    /// A full bucket as of `now`.
    pub fn new(rate: u32, burst: u32, now: Instant) -> FloodGate {
        let burst = f64::from(burst.max(1));
        FloodGate { rate: f64::from(rate), burst, tokens: burst, updated: now, dropping: false }
    }

    /// Accounts for one line arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if self.rate == 0.0 {
            return Verdict::Accept;
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            self.dropping = false;
            return Verdict::Accept;
        }
        if self.tokens < -self.burst {
            return Verdict::Disconnect;
        }
        let warn = !std::mem::replace(&mut self.dropping, true);
        Verdict::Drop { warn }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_lines_are_dropped_with_one_warning() {
        let start = Instant::now();
        let mut gate = FloodGate::new(1, 3, start);
        for _ in 0..3 {
            assert_eq!(gate.check(start), Verdict::Accept);
        }
        assert_eq!(gate.check(start), Verdict::Drop { warn: true });
        assert_eq!(gate.check(start), Verdict::Drop { warn: false });
    }

    #[test]
    fn the_bucket_refills_at_the_rate() {
        let start = Instant::now();
        let mut gate = FloodGate::new(2, 1, start);
        assert_eq!(gate.check(start), Verdict::Accept);
        assert_eq!(gate.check(start + Duration::from_millis(100)), Verdict::Drop { warn: true });
        assert_eq!(gate.check(start + Duration::from_millis(1200)), Verdict::Accept);
    }

    #[test]
    fn staying_over_the_rate_disconnects() {
        let start = Instant::now();
        let mut gate = FloodGate::new(1, 2, start);
        let verdicts: Vec<Verdict> = (0..5).map(|_| gate.check(start)).collect();
        assert_eq!(verdicts[..2], [Verdict::Accept, Verdict::Accept]);
        assert_eq!(verdicts[2..4], [Verdict::Drop { warn: true }, Verdict::Drop { warn: false }]);
        assert_eq!(verdicts[4], Verdict::Disconnect);
    }

    #[test]
    fn a_rate_of_zero_turns_it_off() {
        let start = Instant::now();
        let mut gate = FloodGate::new(0, 1, start);
        assert!((0..1000).all(|_| gate.check(start) == Verdict::Accept));
    }
}
