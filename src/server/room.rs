//! The room: who is online under which nickname, and the broadcast that reaches them all.
//!
//! Every change to the room and every broadcast happens under one `async_lock` mutex, and
//! a broadcast only `try_send`s into each member's queue while holding it, so the lock is
//! never held across a wait on a client and everybody's queue receives the room's events
//! in one and the same order.

use std::collections::HashMap;

use async_lock::Mutex;
use thiserror::Error;
use tracing::{info, warn};

use super::outbox::{Bytes, Outbox, PushError};
use crate::protocol::{nick_key, Event, Nick};

/// Identifies one connection, so a late leave never removes a newer holder of the nick.
pub type ClientId = u64;

/// Why a nickname could not be taken.
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
}

/// The shared chat room.
#[derive(Debug, Default)]
pub struct Room {
    /// Members by case-folded nickname.
    members: Mutex<Members>,
}

#[derive(Debug, Default)]
struct Members {
    by_key: HashMap<String, Member>,
    /// Set once at shutdown; nobody joins afterwards.
    closed: bool,
}

#[derive(Debug)]
struct Member {
    id: ClientId,
    nick: Nick,
    outbox: Outbox,
}

/// Encodes an event once, for every recipient to share.
pub fn encode(event: &Event) -> Bytes {
    event.encode().into()
}

impl Room {
    /// An empty room.
    pub fn new() -> Room {
        Room::default()
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
        let welcome = encode(&Event::Welcome { nick: nick.to_string(), online });
        // The newcomer's queue is empty, so this can only fail if it is already closing.
        let _ = outbox.push(&welcome);
        members.broadcast(&Event::Join { nick: nick.to_string() });
        members.by_key.insert(key, Member { id, nick: nick.clone(), outbox: outbox.clone() });
        info!(nick = %nick, online, "joined");
        Ok(online)
    }

    /// Removes a member, if `id` still holds `nick`, and tells the room why it left.
    pub async fn leave(&self, id: ClientId, nick: &Nick, reason: &str) {
        let mut members = self.members.lock().await;
        if members.remove(id, nick).is_some() {
            info!(nick = %nick, reason = %reason.escape_debug(), "left");
            members.broadcast(&Event::Leave { nick: nick.to_string(), reason: reason.to_string() });
        }
    }

    /// Sends `event` to everyone in the room.
    pub async fn broadcast(&self, event: &Event) {
        self.members.lock().await.broadcast(event);
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
        members.broadcast(&Event::Rename { old: old.to_string(), new: new.to_string() });
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
        let target = members.by_key.get(&key).ok_or(RoomError::NoSuchNick)?;
        let event = Event::Private {
            from: from.to_string(),
            to: target.nick.to_string(),
            text: text.to_string(),
        };
        let line = encode(&event);
        let target_full = target.outbox.push(&line) == Err(PushError::Full);
        // A message to oneself is shown once.
        if target.id != id {
            let _ = sender.push(&line);
        }
        if target_full {
            members.drop_slow(vec![key]);
        }
        Ok(())
    }

    /// The nicknames online, sorted case-insensitively.
    pub async fn who(&self) -> Vec<String> {
        let members = self.members.lock().await;
        let mut nicks: Vec<String> = members.by_key.values().map(|m| m.nick.to_string()).collect();
        nicks.sort_by_cached_key(|n| nick_key(n));
        nicks
    }

    /// Shuts the room: every member gets `event` (a `BYE`) and its queue is closed gently,
    /// so what was queued is still written. Nobody can join afterwards.
    pub async fn close(&self, event: &Event) {
        let mut members = self.members.lock().await;
        members.closed = true;
        let line = encode(event);
        for (_, member) in members.by_key.drain() {
            if member.outbox.push(&line).is_err() {
                member.outbox.abort();
            } else {
                member.outbox.finish();
            }
        }
    }
}

impl Members {
    fn remove(&mut self, id: ClientId, nick: &Nick) -> Option<Member> {
        let key = nick.key();
        match self.by_key.get(&key) {
            Some(member) if member.id == id => self.by_key.remove(&key),
            _ => None,
        }
    }

    /// Encodes once and queues for everyone; members whose queue is full are dropped, and
    /// their leaving is itself broadcast, in the same order for all.
    fn broadcast(&mut self, event: &Event) {
        let line = encode(event);
        let slow: Vec<String> = self
            .by_key
            .iter()
            .filter(|(_, m)| m.outbox.push(&line) == Err(PushError::Full))
            .map(|(key, _)| key.clone())
            .collect();
        if !slow.is_empty() {
            self.drop_slow(slow);
        }
    }

    /// Disconnects members that stopped reading, then announces each departure.
    fn drop_slow(&mut self, keys: Vec<String>) {
        let gone: Vec<Nick> = keys
            .iter()
            .filter_map(|key| self.by_key.remove(key))
            .map(|member| {
                member.outbox.abort();
                warn!(nick = %member.nick, "disconnected: send queue full");
                member.nick
            })
            .collect();
        for nick in gone {
            self.broadcast(&Event::Leave {
                nick: nick.to_string(),
                reason: "send queue full".into(),
            });
        }
    }
}
