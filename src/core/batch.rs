//! A room's batch of events on its way out: encoded once per encoder its members use, and
//! handed to each member as one shared chunk, from the first event it should see.

use std::collections::{HashMap, HashSet};

use super::event::{same_encoder, Encode, Stamped};
use super::outbox::Chunk;
use super::person::ClientId;

/// One event waiting in a room's batch.
#[derive(Debug)]
pub struct Pending {
    /// What happened, and when.
    pub event: Stamped,
    /// Members who hear of this event through another room (a quit or a rename told once
    /// to each person, in the biggest of the rooms they share); `None` for most events.
    pub skip: Option<HashSet<ClientId>>,
}

/// What one member receives of a batch: its bytes, and how many events they hold.
pub struct Part {
    /// The events' bytes, shared with every member who receives the same ones.
    pub chunk: Chunk,
    /// How many events, for the counters.
    pub events: usize,
}

/// The batch as one encoder writes it.
struct Encoded {
    /// The encoder.
    encoder: &'static dyn Encode,
    /// Every event's bytes, in order, in one shared allocation.
    bytes: Chunk,
    /// Where event `i` starts; one more entry for the end.
    starts: Vec<usize>,
}

impl Encoded {
    fn new(encoder: &'static dyn Encode, events: &[Pending]) -> Encoded {
        let mut bytes = Vec::with_capacity(events.len() * 80);
        let mut starts = Vec::with_capacity(events.len() + 1);
        for pending in events {
            starts.push(bytes.len());
            encoder.encode(&pending.event, &mut bytes);
        }
        starts.push(bytes.len());
        Encoded { encoder, bytes: bytes.into(), starts }
    }

    /// The events from `from` on, leaving out those in `skipped` (sorted).
    fn part(&self, from: usize, skipped: &[usize]) -> Part {
        let events = self.starts.len() - 1 - from;
        let mut skipped = skipped.iter().copied().filter(|&event| event >= from).peekable();
        if skipped.peek().is_none() {
            return Part { chunk: Chunk::new(self.bytes.clone(), self.starts[from]), events };
        }
        // Rare: a member who shares several rooms with someone who quit or was renamed.
        let all = self.bytes.as_slice();
        let mut bytes = Vec::with_capacity(all.len() - self.starts[from]);
        let mut start = self.starts[from];
        let mut left_out = 0;
        for event in skipped {
            bytes.extend_from_slice(&all[start..self.starts[event]]);
            start = self.starts[event + 1];
            left_out += 1;
        }
        bytes.extend_from_slice(&all[start..]);
        Part { chunk: bytes.into(), events: events - left_out }
    }
}

/// The batch, encoded on demand for each encoder among its recipients.
pub struct Batch<'a> {
    /// The events, in the room's order.
    events: &'a [Pending],
    /// For each member who skips some events, which ones (by index, ascending).
    skips: HashMap<ClientId, Vec<usize>>,
    /// The encodings made so far: one per encoder, and few encoders exist.
    encoded: Vec<Encoded>,
}

impl<'a> Batch<'a> {
    /// Prepares `events` for delivery.
    pub fn new(events: &'a [Pending]) -> Batch<'a> {
        let mut skips: HashMap<ClientId, Vec<usize>> = HashMap::new();
        for (index, pending) in events.iter().enumerate() {
            for &id in pending.skip.iter().flatten() {
                skips.entry(id).or_default().push(index);
            }
        }
        Batch { events, skips, encoded: Vec::new() }
    }

    /// What member `id`, writing with `encoder`, receives of the events from `from` on;
    /// `None` when that is nothing.
    pub fn part_for(
        &mut self,
        id: ClientId,
        encoder: &'static dyn Encode,
        from: usize,
    ) -> Option<Part> {
        if from >= self.events.len() {
            return None;
        }
        let index = match self.encoded.iter().position(|e| same_encoder(e.encoder, encoder)) {
            Some(index) => index,
            None => {
                self.encoded.push(Encoded::new(encoder, self.events));
                self.encoded.len() - 1
            }
        };
        let skipped = self.skips.get(&id).map_or(&[][..], Vec::as_slice);
        let part = self.encoded[index].part(from, skipped);
        (!part.chunk.is_empty()).then_some(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Event;
    use crate::core::name::{Nick, RoomName};

    /// Writes each event as its nickname and a newline, counting how often it is asked;
    /// each of the three is a form of its own.
    struct Names(std::sync::atomic::AtomicUsize, u8);

    impl Encode for Names {
        fn form(&self) -> crate::core::event::Form {
            crate::core::event::Form::of::<Names>(self.1)
        }

        fn encode(&self, event: &Stamped, out: &mut Vec<u8>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Event::Join { nick, .. } = &event.event {
                out.extend_from_slice(nick.as_str().as_bytes());
                out.push(b'\n');
            }
        }
    }

    static ONE: Names = Names(std::sync::atomic::AtomicUsize::new(0), 1);
    static TWO: Names = Names(std::sync::atomic::AtomicUsize::new(0), 2);
    static THREE: Names = Names(std::sync::atomic::AtomicUsize::new(0), 3);

    fn joins(nicks: &[&str], skip: Option<(usize, ClientId)>) -> Vec<Pending> {
        let room = RoomName::parse("#a").unwrap_or_else(|e| panic!("{e}"));
        nicks
            .iter()
            .enumerate()
            .map(|(i, nick)| {
                let nick = Nick::parse(nick, 32).unwrap_or_else(|e| panic!("{e}"));
                let event = Stamped::now(Event::Join { room: room.clone(), nick });
                let skip = skip.filter(|(at, _)| *at == i).map(|(_, id)| HashSet::from([id]));
                Pending { event, skip }
            })
            .collect()
    }

    /// The part's text and its count of events.
    fn text(part: Option<Part>) -> (String, usize) {
        part.map_or((String::new(), 0), |part| {
            (String::from_utf8_lossy(part.chunk.as_slice()).into_owned(), part.events)
        })
    }

    #[test]
    fn a_batch_is_encoded_once_per_encoder_and_shared() {
        let events = joins(&["a", "b", "c"], None);
        let mut batch = Batch::new(&events);
        let first = batch.part_for(1, &ONE, 0).expect("a part").chunk;
        let second = batch.part_for(2, &ONE, 0).expect("a part").chunk;
        assert_eq!(ONE.0.load(std::sync::atomic::Ordering::Relaxed), 3, "three events, once");
        assert_eq!(String::from_utf8_lossy(first.as_slice()), "a\nb\nc\n");
        assert!(std::ptr::eq(first.as_slice(), second.as_slice()), "one allocation");
        assert_eq!(text(batch.part_for(3, &TWO, 1)), ("b\nc\n".into(), 2));
        assert_eq!(TWO.0.load(std::sync::atomic::Ordering::Relaxed), 3);
    }

    #[test]
    fn a_member_who_joined_late_or_skips_an_event_gets_the_rest() {
        let events = joins(&["a", "b", "c", "d"], Some((2, 7)));
        let mut batch = Batch::new(&events);
        assert_eq!(text(batch.part_for(1, &THREE, 2)), ("c\nd\n".into(), 2));
        assert_eq!(text(batch.part_for(7, &THREE, 0)), ("a\nb\nd\n".into(), 3));
        assert_eq!(text(batch.part_for(7, &THREE, 3)), ("d\n".into(), 1));
        assert!(batch.part_for(1, &THREE, 4).is_none());
    }
}
