//! A room's history as the room keeps it: the last things said in it, in memory for the
//! people who join, each also handed to the [`Memory`] to keep across restarts.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::event::{Event, Stamped};
use super::memory::{Change, Memory, Recalling, Scope};

/// How much of its history a room keeps in memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kept {
    /// How many things said a newcomer is given; zero keeps none in memory.
    pub replay: usize,
    /// How old they may be.
    pub age: Duration,
}

/// What a room remembers of what was said in it.
pub(super) struct Chronicle {
    /// The last things said, oldest first; at most `kept.replay` of them.
    recent: VecDeque<Stamped>,
    /// How many, and how old.
    kept: Kept,
    /// The room's history, for the memory.
    scope: Scope,
    /// Where everything said goes to be kept.
    memory: Arc<dyn Memory>,
    /// The history of the room's earlier life, asked of the memory when the room was
    /// made and not yet taken in.
    loading: Option<Recalling<'static, Vec<Stamped>>>,
}

impl Chronicle {
    /// The history of the room of `scope`, starting from `recent` (oldest first).
    #[cfg(test)]
    pub fn new(scope: Scope, kept: Kept, memory: Arc<dyn Memory>, recent: Vec<Stamped>) -> Self {
        let mut chronicle =
            Chronicle { recent: VecDeque::new(), kept, scope, memory, loading: None };
        chronicle.take_in(recent);
        chronicle
    }

    /// The history of a room made again, which starts from what `memory` recalls of its
    /// earlier life: asked now, so that it follows every line of that life; taken in by
    /// [`Chronicle::load`].
    pub fn recalled(scope: Scope, kept: Kept, memory: Arc<dyn Memory>) -> Self {
        let loading = (kept.replay > 0).then(|| memory.recall(scope.clone(), kept.replay));
        Chronicle { recent: VecDeque::new(), kept, scope, memory, loading }
    }

    /// Takes in the recalled history, if it is still to come: the first person into a
    /// room made again waits for it (under the room's lock, which nobody else needs yet),
    /// while the room map and every other room go on.
    pub async fn load(&mut self) {
        if let Some(loading) = self.loading.take() {
            let recent = loading.await;
            self.take_in(recent);
        }
    }

    /// Puts `recent` (oldest first) before anything noted since.
    fn take_in(&mut self, recent: Vec<Stamped>) {
        let mut recent = VecDeque::from(recent);
        recent.append(&mut self.recent);
        while recent.len() > self.kept.replay {
            recent.pop_front();
        }
        self.recent = recent;
    }

    /// Notes `event` if it is history: a message or an action; hands it to the memory too
    /// if this server is to `keep` it.
    pub fn note(&mut self, event: &Stamped, keep: bool) {
        if !is_history(&event.event) {
            return;
        }
        if keep {
            self.memory.keep(Change::Said { scope: self.scope.clone(), event: event.clone() });
        }
        if self.kept.replay == 0 {
            return;
        }
        if self.recent.len() == self.kept.replay {
            self.recent.pop_front();
        }
        self.recent.push_back(event.clone());
    }

    /// The last things said, oldest first, none older than the kept age.
    pub fn recent(&self) -> impl ExactSizeIterator<Item = &Stamped> + '_ {
        let since = SystemTime::now().checked_sub(self.kept.age);
        // Oldest first, so what is too old is at the front.
        let old = self.recent.iter().take_while(|said| since.is_some_and(|t| said.at < t)).count();
        self.recent.range(old..)
    }

    /// The last `last` things said that the room still holds in memory, oldest first.
    pub fn last(&self, last: usize) -> Vec<Stamped> {
        let recent = self.recent();
        let skip = recent.len().saturating_sub(last);
        recent.skip(skip).cloned().collect()
    }
}

/// Whether an event is kept as history: what people say and do, not who comes and goes.
pub fn is_history(event: &Event) -> bool {
    matches!(event, Event::Message { .. } | Event::Action { .. } | Event::Private { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Forgetful, Nick, RoomName};

    fn said(text: &str, ago: Duration) -> Stamped {
        let room = RoomName::parse("#a").expect("a room name");
        let from = Nick::parse("ann", 32).expect("a nick");
        let event = Event::Message { room, from, text: text.into() };
        Stamped { at: SystemTime::now() - ago, event }
    }

    fn texts(said: impl Iterator<Item = Stamped>) -> Vec<String> {
        said.map(|said| match said.event {
            Event::Message { text, .. } => text,
            other => panic!("not a message: {other:?}"),
        })
        .collect()
    }

    #[test]
    fn a_room_keeps_its_last_replay_and_never_gives_what_is_too_old() {
        let kept = Kept { replay: 3, age: Duration::from_secs(3600) };
        let scope = Scope::Room("#a".into());
        let old =
            [said("old", Duration::from_secs(7200)), said("older", Duration::from_secs(5000))];
        let mut chronicle = Chronicle::new(scope, kept, Arc::new(Forgetful), old.to_vec());
        assert_eq!(chronicle.recent().len(), 0, "both are older than an hour");
        chronicle.note(&said("one", Duration::ZERO), true);
        assert_eq!(texts(chronicle.recent().cloned()), ["one"]);
        for text in ["two", "three", "four"] {
            chronicle.note(&said(text, Duration::ZERO), true);
        }
        assert_eq!(texts(chronicle.recent().cloned()), ["two", "three", "four"]);
        assert_eq!(texts(chronicle.last(2).into_iter()), ["three", "four"]);
    }
}
