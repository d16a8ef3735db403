//! The room: who is online under which nickname, and the broadcast that reaches them all.
//!
//! Every change to the room happens under one `async_lock` mutex, and room events are
//! appended, in that order, to one pending batch. A flush turns the batch into a single
//! shared allocation and `try_send`s it into every member's queue, so the lock is never
//! held across a wait on a client, everybody receives the room's events in one and the
//! same order, and a burst (a join storm, ten busy senders) costs one queue entry per
//! member per flush instead of one per line.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use async_lock::Mutex;
use futures_lite::future;
use smol::Timer;
use thiserror::Error;
use tracing::{info, warn};

use super::outbox::{Chunk, Outbox, PushError};
use crate::protocol::{nick_key, Event, Nick};

/// A batch this large is flushed at once instead of waiting for the flusher task.
const FLUSH_AT: usize = 32 * 1024;

/// A pause shorter than this is not taken: the timer would cost more than it saves.
const MIN_PACE: Duration = Duration::from_micros(50);

/// How long the room waits after a flush before the next, for a batch holding talk
/// (`MSG`, `ACTION`). About what writing to each member costs, so that a busy room's
/// batches fill up while the last one is being written, and never more than 40 ms.
const TALK: Pace = Pace { per_member: Duration::from_micros(7), max: Duration::from_millis(40) };

/// The same for a batch of arrivals, departures and renames alone: about twice what the
/// writes cost, so that in a join storm most of the CPU is left for welcoming the
/// newcomers. In a room of 10,000 a join is announced within 160 ms, never after 250 ms.
const PRESENCE: Pace =
    Pace { per_member: Duration::from_micros(16), max: Duration::from_millis(250) };

/// A pause after a flush that grows with the room's size, up to a ceiling.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// What each member adds to the pause.
    per_member: Duration,
    /// The ceiling, which bounds what pacing adds to a line's latency.
    max: Duration,
}

impl Pace {
    /// The pause for a room of `members`; zero when it would be too short to be worth a timer.
    fn for_room(self, members: usize) -> Duration {
        let pace = self.per_member.saturating_mul(u32::try_from(members).unwrap_or(u32::MAX));
        let pace = pace.min(self.max);
        if pace < MIN_PACE {
            Duration::ZERO
        } else {
            pace
        }
    }
}

/// The batch buffer is given back after a flush if it grew past this.
const IDLE_PENDING: usize = 64 * 1024;

/// Identifies one connection, so a late leave never removes a newer holder of the nick.
pub type ClientId = u64;

/// Why a room operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RoomError {
    /// Someone online already has it (compared case-insensitively).
    #[error("nickname is taken")]
    Taken,
    /// The room is closed: the server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// `/msg` named someone who is not online.
    #[error("nobody of that name is online")]
    NoSuchNick,
    /// The newcomer's own queue would not take its `WELCOME`: it is gone or not reading.
    #[error("the connection is not taking lines")]
    Unreachable,
}

/// The shared chat room.
#[derive(Debug)]
pub struct Room {
    /// Members and the pending batch, by case-folded nickname.
    members: Mutex<Members>,
    /// Wakes [`Room::run_flusher`] when a batch starts and when its first talk arrives. A
    /// request is a hint: the batch it was sent for may already have gone out with a `WHO`.
    flush_requests: Receiver<()>,
}

#[derive(Debug)]
struct Members {
    by_key: HashMap<Arc<str>, Member>,
    /// Encoded room events not yet handed to the queues.
    pending: Vec<u8>,
    /// Asks the flusher task for a flush; holds at most one request.
    wake: Sender<()>,
    /// True once the pending batch holds talk, which is flushed on the shorter pace.
    talk_pending: bool,
    /// Set once at shutdown; nobody joins afterwards.
    closed: bool,
}

#[derive(Debug)]
struct Member {
    id: ClientId,
    nick: Nick,
    outbox: Outbox,
    /// Where in the pending batch this member's part begins, if it joined mid-batch.
    joined_at: Option<usize>,
}

/// Encodes an event for one recipient.
pub fn encode(event: &Event) -> Chunk {
    event.encode().into()
}

impl Default for Room {
    fn default() -> Room {
        Room::new()
    }
}

impl Room {
    /// An empty room. Its batches are delivered by [`Room::run_flusher`], which the server
    /// runs as a task beside the connections.
    pub fn new() -> Room {
        let (wake, flush_requests) = async_channel::bounded(1);
        let members = Members {
            by_key: HashMap::new(),
            pending: Vec::new(),
            wake,
            talk_pending: false,
            closed: false,
        };
        Room { members: Mutex::new(members), flush_requests }
    }

    /// Delivers pending batches whenever asked. After a flush it waits in proportion to the
    /// room's size (about what writing to each member costs) before the next, so a quiet
    /// room gets every line at once and a busy or crowded one fewer, fuller batches instead
    /// of a write per member per line. A batch of joins, leaves and renames alone waits
    /// longer still, unless talk joins it: that is what keeps ten thousand arrivals from
    /// costing ten thousand writes each, while everyone still hears of every arrival.
    pub async fn run_flusher(&self) {
        let mut last_flush = Instant::now();
        while self.flush_requests.recv().await.is_ok() {
            // The batch asked for may have gone out already, with a `WHO` or a `/msg`.
            let Some((talk, members)) = self.pending_kind().await else { continue };
            if !talk {
                let due = last_flush + PRESENCE.for_room(members);
                future::or(
                    async {
                        Timer::at(due).await;
                    },
                    self.talk_arrives(),
                )
                .await;
            }
            // Every reader with a line ready adds it to this batch first.
            future::yield_now().await;
            let members = {
                let mut members = self.members.lock().await;
                members.flush();
                members.by_key.len()
            };
            last_flush = Instant::now();
            let pace = TALK.for_room(members);
            if !pace.is_zero() {
                Timer::after(pace).await;
            }
        }
    }

    /// Whether the pending batch holds talk, and how many members the room has; `None`
    /// when nothing is pending.
    async fn pending_kind(&self) -> Option<(bool, usize)> {
        let members = self.members.lock().await;
        (!members.pending.is_empty()).then_some((members.talk_pending, members.by_key.len()))
    }

    /// Returns once talk has joined the pending batch, or the room has closed.
    async fn talk_arrives(&self) {
        while self.flush_requests.recv().await.is_ok() {
            if self.members.lock().await.talk_pending {
                return;
            }
        }
    }

    /// Adds a member: the newcomer gets `WELCOME` first, then everyone else hears `JOIN`.
    /// Returns how many are online, the newcomer included.
    pub async fn join(
        &self,
        id: ClientId,
        nick: &Nick,
        outbox: &Outbox,
    ) -> Result<usize, RoomError> {
        let mut members = self.members.lock().await;
        if members.closed {
            return Err(RoomError::Closed);
        }
        let key = nick.key();
        if members.by_key.contains_key(&key) {
            return Err(RoomError::Taken);
        }
        let online = members.by_key.len() + 1;
        if outbox.push_reply(encode(&Event::Welcome { nick: nick.to_string(), online })).is_err() {
            return Err(RoomError::Unreachable);
        }
        members.announce(&Event::Join { nick: nick.to_string() });
        let joined_at = Some(members.pending.len());
        members
            .by_key
            .insert(key, Member { id, nick: nick.clone(), outbox: outbox.clone(), joined_at });
        info!(nick = %nick, online, "joined");
        Ok(online)
    }

    /// Removes a member, if `id` still holds `nick`, and tells the room why it left.
    pub async fn leave(&self, id: ClientId, nick: &Nick, reason: &str) {
        let mut members = self.members.lock().await;
        if let Some(member) = members.remove(id, nick) {
            // What the room said before it left, its own last words included, still
            // reaches it: its part of the pending batch goes into its queue alone.
            let from = member.joined_at.unwrap_or(0);
            if from < members.pending.len() {
                let _ = member.outbox.push(members.pending[from..].to_vec().into());
            }
            info!(nick = %nick, reason = %reason.escape_debug(), "left");
            members.announce(&Event::Leave { nick: nick.to_string(), reason: reason.to_string() });
        }
    }

    /// Sends `event` to everyone in the room.
    pub async fn broadcast(&self, event: &Event) {
        self.members.lock().await.announce(event);
    }

    /// Changes a member's nickname and announces it to everyone, the member included.
    pub async fn rename(&self, id: ClientId, old: &Nick, new: &Nick) -> Result<(), RoomError> {
        let mut members = self.members.lock().await;
        let new_key = new.key();
        if new_key != old.key() && members.by_key.contains_key(&new_key) {
            return Err(RoomError::Taken);
        }
        let Some(mut member) = members.remove(id, old) else {
            return Err(RoomError::Closed);
        };
        member.nick = new.clone();
        members.by_key.insert(new_key, member);
        info!(old = %old, new = %new, "renamed");
        members.announce(&Event::Rename { old: old.to_string(), new: new.to_string() });
        Ok(())
    }

    /// Delivers a private message to `to` and echoes it to the sender; nobody else sees it.
    pub async fn whisper(
        &self,
        id: ClientId,
        from: &Nick,
        sender: &Outbox,
        to: &str,
        text: &str,
    ) -> Result<(), RoomError> {
        let mut members = self.members.lock().await;
        let key = nick_key(to);
        if !members.by_key.contains_key(key.as_str()) {
            return Err(RoomError::NoSuchNick);
        }
        // Room events said before this message reach both of them before it. The flush
        // may drop the target as slow, so it is looked up again afterwards.
        members.flush();
        let (key, target) =
            members.by_key.get_key_value(key.as_str()).ok_or(RoomError::NoSuchNick)?;
        let event = Event::Private {
            from: from.to_string(),
            to: target.nick.to_string(),
            text: text.to_string(),
        };
        let line = encode(&event);
        let mut slow = Vec::new();
        if target.outbox.push(line.clone()) == Err(PushError::Full) {
            slow.push(key.clone());
        }
        // A message to oneself is shown once; the echo is the sender's confirmation.
        if target.id != id && sender.push_reply(line) == Err(PushError::Full) {
            slow.push(from.key());
        }
        members.drop_slow(slow);
        Ok(())
    }

    /// Queues the list of nicknames online, sorted case-insensitively, for `outbox`. It is
    /// taken and queued under the room lock after a flush, so the joins and leaves the
    /// asker sees before it are exactly the ones it reflects.
    pub async fn who(&self, outbox: &Outbox) -> Result<(), PushError> {
        let mut members = self.members.lock().await;
        members.flush();
        let mut nicks: Vec<(&Arc<str>, &Nick)> =
            members.by_key.iter().map(|(key, member)| (key, &member.nick)).collect();
        nicks.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let nicks = nicks.into_iter().map(|(_, nick)| nick.to_string()).collect();
        outbox.push_reply(encode(&Event::Who { nicks }))
    }

    /// Shuts the room: what is pending is delivered, then every member gets `event` (a
    /// `BYE`) and its queue is closed gently, so what was queued is still written. Nobody
    /// can join afterwards, and the flusher task ends.
    pub async fn close(&self, event: &Event) {
        let mut members = self.members.lock().await;
        members.flush();
        members.closed = true;
        members.wake.close();
        let line = encode(event);
        for (_, member) in members.by_key.drain() {
            if member.outbox.push(line.clone()).is_err() {
                member.outbox.abort();
            } else {
                member.outbox.finish();
            }
        }
    }
}

/// Talk is what people say; everything else the room broadcasts is presence.
fn is_talk(event: &Event) -> bool {
    matches!(event, Event::Message { .. } | Event::Action { .. })
}

impl Members {
    fn remove(&mut self, id: ClientId, nick: &Nick) -> Option<Member> {
        let key = nick.key();
        match self.by_key.get(&key) {
            Some(member) if member.id == id => self.by_key.remove(&key),
            _ => None,
        }
    }

    /// Appends a room event to the pending batch and makes sure a flush will come: a
    /// request when the batch starts, and another when its first talk arrives, which cuts
    /// a presence batch's longer wait short.
    fn announce(&mut self, event: &Event) {
        let was_empty = self.pending.is_empty();
        let first_talk = is_talk(event) && !self.talk_pending;
        self.talk_pending |= first_talk;
        event.encode_into(&mut self.pending);
        if self.pending.len() >= FLUSH_AT {
            self.flush();
        } else if was_empty || first_talk {
            // Full means a request is already waiting; the flusher checks what the batch
            // holds when it takes it, so this one is covered too.
            let _ = self.wake.try_send(());
        }
    }

    /// Hands the pending batch, as one shared allocation, to every member's queue.
    /// Members whose queue is full are dropped and their leaving is itself announced,
    /// in the next round of the loop, so the order stays the same for everyone.
    fn flush(&mut self) {
        while !self.pending.is_empty() {
            let batch = Chunk::from(self.pending.as_slice());
            self.pending.clear();
            self.talk_pending = false;
            if self.pending.capacity() > IDLE_PENDING {
                self.pending = Vec::new();
            }
            let mut slow = Vec::new();
            for (key, member) in &mut self.by_key {
                let from = member.joined_at.take().unwrap_or(0);
                if from < batch.len()
                    && member.outbox.push(Chunk::new(batch.clone(), from)) == Err(PushError::Full)
                {
                    slow.push(key.clone());
                }
            }
            self.drop_slow(slow);
        }
    }

    /// Disconnects members that stopped reading and announces each departure.
    fn drop_slow(&mut self, keys: Vec<Arc<str>>) {
        for key in keys {
            if let Some(member) = self.by_key.remove(&key) {
                member.outbox.abort();
                warn!(nick = %member.nick, "disconnected: send queue full");
                let reason = "send queue full".to_string();
                self.announce(&Event::Leave { nick: member.nick.to_string(), reason });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(text: &str) -> Event {
        Event::Message { from: "ann".into(), text: text.into() }
    }

    fn arrive(nick: &str) -> Event {
        Event::Join { nick: nick.into() }
    }

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

    #[test]
    fn a_batch_asks_for_a_flush_when_it_starts_and_again_when_talk_joins_it() {
        smol::block_on(async {
            let room = Room::new();
            room.broadcast(&arrive("bob")).await;
            assert_eq!(room.flush_requests.len(), 1, "a new batch asks for a flush");
            assert_eq!(room.pending_kind().await, Some((false, 0)));
            assert!(room.flush_requests.try_recv().is_ok());

            room.broadcast(&arrive("cid")).await;
            assert!(room.flush_requests.is_empty(), "more presence is covered by the request");

            room.broadcast(&say("hello")).await;
            assert_eq!(room.flush_requests.len(), 1, "talk cuts the presence wait short");
            assert_eq!(room.pending_kind().await, Some((true, 0)));
            assert!(room.flush_requests.try_recv().is_ok());

            room.broadcast(&say("again")).await;
            assert!(room.flush_requests.is_empty(), "the batch is already marked as talk");
        });
    }

    #[test]
    fn a_stale_request_does_not_cut_a_presence_wait_short() {
        smol::block_on(async {
            let room = Room::new();
            room.broadcast(&arrive("bob")).await;
            assert!(room.flush_requests.try_recv().is_ok(), "the flusher takes the request");
            // A request left over from a batch that went out with a `WHO`.
            assert!(room.members.lock().await.wake.try_send(()).is_ok());
            let mut wait = Box::pin(room.talk_arrives());
            assert!(future::poll_once(&mut wait).await.is_none(), "presence alone keeps waiting");
            room.broadcast(&say("hello")).await;
            assert!(future::poll_once(&mut wait).await.is_some(), "talk ends the wait");
        });
    }

    #[test]
    fn a_flush_starts_the_next_batch_as_presence() {
        smol::block_on(async {
            let room = Room::new();
            room.broadcast(&say("hello")).await;
            room.members.lock().await.flush();
            assert_eq!(room.pending_kind().await, None, "a request for it finds nothing to do");
            room.broadcast(&arrive("bob")).await;
            assert_eq!(room.pending_kind().await, Some((false, 0)));
        });
    }
}
