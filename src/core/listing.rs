//! The room list, summarized a page at a time: a client that asks for it is sent it as
//! fast as it reads, so a list of thousands of rooms never waits whole in its queue.

use std::sync::{Arc, Weak};
use std::vec::IntoIter;

use super::room::Room;
use super::rooms::RoomSummary;

/// The rooms that existed when the list was asked for, in the order of their names' folds;
/// each is summarized (its members and topic) when its page is taken.
pub struct Listing {
    /// The rooms not listed yet, weakly: a pointer each, however long their topics, and
    /// a room that empties meanwhile is freed as it would be otherwise, and left out.
    rooms: IntoIter<Weak<Room>>,
}

impl Listing {
    /// A listing of `rooms`.
    pub(super) fn new(mut rooms: Vec<Arc<Room>>) -> Listing {
        rooms.sort_unstable_by(|a, b| a.key().fold.cmp(&b.key().fold));
        let rooms: Vec<Weak<Room>> = rooms.into_iter().map(|room| Arc::downgrade(&room)).collect();
        Listing { rooms: rooms.into_iter() }
    }

    /// The next `most` rooms that still exist, as they are now; empty once all are listed.
    pub async fn next_page(&mut self, most: usize) -> Vec<RoomSummary> {
        let mut page = Vec::with_capacity(most.min(self.rooms.len()));
        while page.len() < most {
            let Some(room) = self.rooms.next() else { break };
            let Some(room) = room.upgrade() else { continue };
            let state = room.lock().await;
            if !state.dead {
                let (members, topic) = (state.members.len(), state.topic.clone());
                page.push(RoomSummary { name: room.name().clone(), members, topic });
            }
        }
        page
    }
}
