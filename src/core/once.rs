//! Telling everyone who shares a room with someone about them exactly once: a quit or a
//! rename reaches each person through the biggest of the rooms they share, in that room's
//! order, and is left out of the others.

use std::collections::HashSet;
use std::sync::Arc;

use async_lock::MutexGuard;

use super::event::Event;
use super::person::ClientId;
use super::room::{Room, RoomState};

/// Several rooms, locked together.
pub(super) struct Locked<'a> {
    /// Each room and its guard, in the order they were locked.
    rooms: Vec<(&'a Arc<Room>, MutexGuard<'a, RoomState>)>,
}

impl<'a> Locked<'a> {
    /// Locks `rooms` in the order of their keys, the one order every task takes several
    /// room locks in, so two tasks can never each hold a lock the other waits for.
    pub async fn all(rooms: &'a [Arc<Room>]) -> Locked<'a> {
        let mut sorted: Vec<&Arc<Room>> = rooms.iter().collect();
        sorted.sort_by(|a, b| a.key().fold.cmp(&b.key().fold));
        sorted.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let mut locked = Vec::with_capacity(sorted.len());
        for room in sorted {
            locked.push((room, room.lock().await));
        }
        Locked { rooms: locked }
    }

    /// Flushes the rooms whose pending batch holds something `id` did, so that what
    /// happens to them next, outside those rooms, comes after it for everyone.
    pub fn flush_authored_by(&mut self, id: ClientId) {
        for (_, state) in &mut self.rooms {
            if state.members.get(&id).is_some_and(|member| member.authored) {
                state.flush();
            }
        }
    }

    /// Flushes every locked room, so that what is announced in them goes out before
    /// anything that follows elsewhere.
    pub fn flush_all(&mut self) {
        for (_, state) in &mut self.rooms {
            state.flush();
        }
    }

    /// Each locked room's state.
    pub fn states(&mut self) -> impl Iterator<Item = &mut RoomState> + use<'_, 'a> {
        self.rooms.iter_mut().map(|(_, state)| &mut **state)
    }

    /// The rooms left without members.
    pub fn emptied(&self) -> Vec<Arc<Room>> {
        let empty = self.rooms.iter().filter(|(_, state)| state.members.is_empty() && !state.dead);
        empty.map(|(room, _)| Arc::clone(room)).collect()
    }

    /// Announces `event`, caused by `author`, once to every member of these rooms (the
    /// author included only if `tell_author`): the biggest room tells all its members,
    /// each smaller one only those it does not share with a bigger one. Biggest first,
    /// because its members are the most numerous: they then get a shared chunk, and the
    /// few left out of a small room pay for it.
    pub fn announce_once(&mut self, author: ClientId, event: &Event, tell_author: bool) {
        let mut order: Vec<usize> = (0..self.rooms.len()).collect();
        order.sort_by_key(|&index| std::cmp::Reverse(self.rooms[index].1.members.len()));
        for (position, &index) in order.iter().enumerate() {
            let earlier = &order[..position];
            let skip: HashSet<ClientId> = self.rooms[index]
                .1
                .members
                .keys()
                .copied()
                .filter(|id| {
                    (!tell_author && *id == author)
                        || earlier.iter().any(|&e| self.rooms[e].1.members.contains_key(id))
                })
                .collect();
            let state = &mut self.rooms[index].1;
            if skip.len() == state.members.len() {
                continue;
            }
            let skip = (!skip.is_empty()).then_some(skip);
            state.announce(author, event.clone(), skip);
        }
    }
}
