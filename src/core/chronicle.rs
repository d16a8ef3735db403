//! A room's history as the room keeps it: the last things said in it, in memory for the
//! people who join, each also handed to the [`Memory`] to keep across restarts.

use std::collections::VecDeque;
use std::sync::Arc;

use super::event::{Event, Stamped};
use super::memory::{Change, Memory, Scope};

/// What a room remembers of what was said in it.
pub(super) struct Chronicle {
    /// The last things said, oldest first; at most `replay` of them.
    recent: VecDeque<Stamped>,
    /// How many a newcomer is given; zero keeps none in memory.
    replay: usize,
    /// The room's history, for the memory.
    scope: Scope,
    /// Where everything said goes to be kept.
    memory: Arc<dyn Memory>,
}

impl Chronicle {
    /// The history of the room of `scope`, starting from `recent` (oldest first).
    pub fn new(scope: Scope, replay: usize, memory: Arc<dyn Memory>, recent: Vec<Stamped>) -> Self {
        let mut recent = VecDeque::from(recent);
        while recent.len() > replay {
            recent.pop_front();
        }
        Chronicle { recent, replay, scope, memory }
    }

    /// Notes `event` if it is history: a message or an action.
    pub fn note(&mut self, event: &Stamped) {
        if !is_history(&event.event) {
            return;
        }
        self.memory.keep(Change::Said { scope: self.scope.clone(), event: event.clone() });
        if self.replay == 0 {
            return;
        }
        if self.recent.len() == self.replay {
            self.recent.pop_front();
        }
        self.recent.push_back(event.clone());
    }

    /// The last things said, oldest first.
    pub fn recent(&self) -> impl ExactSizeIterator<Item = &Stamped> + '_ {
        self.recent.iter()
    }

    /// The last `last` things said that the room still holds in memory, oldest first.
    pub fn last(&self, last: usize) -> Vec<Stamped> {
        let skip = self.recent.len().saturating_sub(last);
        self.recent.iter().skip(skip).cloned().collect()
    }
}

/// Whether an event is kept as history: what people say and do, not who comes and goes.
pub fn is_history(event: &Event) -> bool {
    matches!(event, Event::Message { .. } | Event::Action { .. } | Event::Private { .. })
}
