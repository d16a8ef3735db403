//! What people can ask of history: a room's last messages, or those of a private
//! conversation between two accounts.

use std::sync::Arc;

use thiserror::Error;

use super::event::Stamped;
use super::memory::Scope;
use super::person::Person;
use super::room::Room;
use super::Chat;
use crate::unicode;

/// Why history could not be given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HistoryError {
    /// Private history is kept only between identified accounts.
    #[error("private history is kept only between registered nicknames: /identify first")]
    NotIdentified,
    /// The other end has no account, so nothing was kept.
    #[error("{0} is not registered, so no private history is kept with them")]
    NotRegistered(String),
}

impl Chat {
    /// The last `last` things said in the room named `name` (which need not exist now),
    /// oldest first, as `person` asks. A member gets it after a flush, so never before
    /// the live lines it holds.
    pub async fn room_history(&self, person: &Person, name: &str, last: usize) -> Vec<Stamped> {
        let fold: Arc<str> = unicode::fold(name).into();
        let live = self.find_room(name).await.ok();
        if let Some(room) = &live {
            let mut state = room.lock().await;
            if state.has(person.id()) {
                state.flush();
            }
        }
        self.recall(Scope::Room(fold), live.as_deref(), last).await
    }

    /// The last `last` private messages between `person` and the account of `nick`,
    /// oldest first.
    pub async fn private_history(
        &self,
        person: &Person,
        nick: &str,
        last: usize,
    ) -> Result<Vec<Stamped>, HistoryError> {
        let mine = self.identity(person).ok_or(HistoryError::NotIdentified)?;
        let theirs = unicode::fold(nick);
        let Some(theirs) = self.accounts.id(&theirs) else {
            return Err(HistoryError::NotRegistered(nick.to_string()));
        };
        Ok(self.recall(Scope::pair(mine, theirs), None, last).await)
    }

    /// The last `last` things said in `scope`, oldest first: from the memory, or from the
    /// live room when the memory keeps less (on a server that keeps nothing).
    async fn recall(&self, scope: Scope, live: Option<&Room>, last: usize) -> Vec<Stamped> {
        let last = last.min(self.limits.history_len);
        let kept = self.memory.recall(scope, last).await;
        let Some(room) = live else { return kept };
        let recent = room.lock().await.chronicle.last(last);
        if recent.len() > kept.len() {
            recent
        } else {
            kept
        }
    }

    /// Hands a private message to the memory when both ends are identified. A pair's
    /// history is kept under their accounts' ids, so an account dropped and registered
    /// again by someone else does not read it.
    pub(super) fn note_private(&self, from: &Person, to: &Person, event: &Stamped) {
        if from.is_ghost() {
            return;
        }
        if let (Some(a), Some(b)) = (self.identity(from), self.identity(to)) {
            // Kept under the accounts' lock while both exist: a drop removes its account
            // under that lock before it forgets the account's conversations, so a record
            // kept here is never left behind by one.
            self.accounts.while_both_exist(&a, &b, || {
                let scope = Scope::pair(a.clone(), b.clone());
                self.memory.keep(super::memory::Change::Said { scope, event: event.clone() });
            });
        }
    }
}
