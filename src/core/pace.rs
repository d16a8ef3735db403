//! How long a room waits after a flush before the next: in proportion to its size, so a
//! quiet room gets every line at once and a busy or crowded one fewer, fuller batches.

use std::time::Duration;

/// A pause shorter than this is not taken: the timer would cost more than it saves.
const MIN_PACE: Duration = Duration::from_micros(50);

/// How long the room waits after a flush before the next, for a batch holding talk
/// (`MSG`, `ACTION`, `TOPIC`). About what writing to each member costs, so that a busy
/// room's batches fill up while the last one is being written, and never more than 40 ms.
pub const TALK: Pace =
    Pace { per_member: Duration::from_micros(7), max: Duration::from_millis(40) };

/// The same for a batch of arrivals, departures and renames alone: about twice what the
/// writes cost, so that in a join storm most of the CPU is left for welcoming the
/// newcomers. In a room of 10,000 a join is announced within 160 ms, never after 250 ms.
pub const PRESENCE: Pace =
    Pace { per_member: Duration::from_micros(16), max: Duration::from_millis(250) };

/// A pause after a flush that grows with the room's size, up to a ceiling.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// What each member adds to the pause.
    per_member: Duration,
    /// The ceiling, which bounds what pacing adds to a line's latency.
    max: Duration,
}

impl Pace {
    /// The pause for a room of `members`; zero when it would be too short to be worth a timer.
    pub fn for_room(self, members: usize) -> Duration {
        let pace = self.per_member.saturating_mul(u32::try_from(members).unwrap_or(u32::MAX));
        let pace = pace.min(self.max);
        if pace < MIN_PACE {
            Duration::ZERO
        } else {
            pace
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_grows_with_the_room_up_to_its_ceiling() {
        assert_eq!(TALK.for_room(0), Duration::ZERO);
        // Under MIN_PACE a timer is not worth it.
        assert_eq!(TALK.for_room(5), Duration::ZERO);
        assert_eq!(TALK.for_room(100), Duration::from_micros(700));
        assert_eq!(TALK.for_room(1_000_000), TALK.max);
        assert_eq!(PRESENCE.for_room(10_000), Duration::from_millis(160));
        assert_eq!(PRESENCE.for_room(100_000), PRESENCE.max);
        assert_eq!(PRESENCE.for_room(usize::MAX), PRESENCE.max);
    }
}
