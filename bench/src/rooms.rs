//! Where clients sit and talk when a run spreads them over rooms (`--rooms`, S5): client
//! `i` is in `#r{i % rooms}`, and with `--shared-room` everyone is also in `#all`. Pure, no
//! I/O, so the layout can be checked without a server.

use serde::Serialize;

/// The room everyone is also in with `--shared-room`.
pub const SHARED_ROOM: &str = "#all";

/// How the clients are spread over rooms instead of all sitting in the server's default room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rooms {
    /// Rooms `#r0` to `#r{count - 1}`; clients are dealt into them in turn.
    pub count: usize,
    /// Whether everyone is also in [`SHARED_ROOM`], where one more sender talks.
    pub shared: bool,
}

/// Where one sender's messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    /// The current room after registration (S1 to S4: the default room); plain text.
    Default,
    /// Room `#r{n}`.
    Room(usize),
    /// [`SHARED_ROOM`].
    Shared,
}

impl Rooms {
    /// The room client `index` belongs to: `#r{index % count}`, by number.
    pub fn room_of(&self, index: usize) -> usize {
        index % self.count.max(1)
    }

    /// The rooms client `index` joins, in the order it joins them: its own room, then the
    /// shared one. Joining the shared room last makes it the one joins are slowest into.
    pub fn rooms_of(&self, index: usize) -> Vec<String> {
        let mut rooms = vec![room_name(self.room_of(index))];
        if self.shared {
            rooms.push(SHARED_ROOM.to_string());
        }
        rooms
    }

    /// Where sender `sender` (also its client index) talks, with `senders` room senders:
    /// those talk in their own room, and the one after them in the shared room.
    pub fn venue_of(&self, sender: usize, senders: usize) -> Venue {
        if self.shared && sender == senders {
            Venue::Shared
        } else {
            Venue::Room(self.room_of(sender))
        }
    }
}

impl Venue {
    /// The room to name in `/msg #room text`; `None` for plain text to the current room.
    pub fn room(self) -> Option<String> {
        match self {
            Venue::Default => None,
            Venue::Room(n) => Some(room_name(n)),
            Venue::Shared => Some(SHARED_ROOM.to_string()),
        }
    }
}

/// The name of room number `n`.
pub fn room_name(n: usize) -> String {
    format!("#r{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_dealt_into_rooms_in_turn() {
        let rooms = Rooms { count: 3, shared: false };
        let seats: Vec<usize> = (0..7).map(|i| rooms.room_of(i)).collect();
        assert_eq!(seats, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(rooms.rooms_of(4), ["#r1"]);
        let shared = Rooms { shared: true, ..rooms };
        assert_eq!(shared.rooms_of(5), ["#r2", SHARED_ROOM]);
    }

    #[test]
    fn one_sender_per_room_and_the_next_one_in_the_shared_room() {
        let rooms = Rooms { count: 3, shared: true };
        let venues: Vec<Venue> = (0..4).map(|s| rooms.venue_of(s, 3)).collect();
        assert_eq!(venues, [Venue::Room(0), Venue::Room(1), Venue::Room(2), Venue::Shared]);
        assert_eq!(Venue::Shared.room().as_deref(), Some(SHARED_ROOM));
        assert_eq!(Venue::Room(2).room().as_deref(), Some("#r2"));
        assert_eq!(Venue::Default.room(), None);
        let unshared = Rooms { shared: false, ..rooms };
        assert_eq!(unshared.venue_of(3, 3), Venue::Room(0));
    }
}
