//! History for IRC clients: how a client is given what was said before (on `JOIN`, and
//! when it asks with `HISTORY #room [count]` or `HISTORY nick [count]`), in a
//! `chathistory` batch for clients with `batch`, with each line's own time.

use std::sync::Arc;
use std::time::SystemTime;

use futures_lite::AsyncRead;

use super::Session;
use crate::core::{HistoryError, Person, Stamped};
use crate::proto::irc::{Cap, Message, Replay, Replies};

/// How many messages `HISTORY` gives when not told (the server may keep fewer).
const DEFAULT_HISTORY: usize = 50;

/// How this client is given history: the parts of a [`Replay`] that are its own.
pub(super) struct ReplayStyle {
    /// Whether it has `server-time`.
    timed: bool,
    /// The next batch's reference tag, if it has `batch`.
    batch: Option<String>,
}

impl ReplayStyle {
    /// Writes `events` as history of `target` into `out`, as `server` says it.
    pub fn write<'e>(
        &self,
        server: &str,
        target: &str,
        events: impl IntoIterator<Item = &'e Stamped>,
        out: &mut Vec<u8>,
    ) {
        let batch = self.batch.as_deref();
        let replay = Replay { server, timed: self.timed, batch, now: SystemTime::now() };
        replay.write(target, events, out);
    }
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// How history is to be written for this client, with a fresh batch reference.
    pub(super) fn replay_style(&mut self) -> ReplayStyle {
        let batch = self.caps.has(Cap::Batch).then(|| {
            self.batches += 1;
            format!("history{}", self.batches)
        });
        ReplayStyle { timed: self.caps.has(Cap::ServerTime), batch }
    }

    /// `HISTORY #room [count]` or `HISTORY nick [count]`: the last messages of a room, or of
    /// a private conversation between two registered nicknames, oldest first.
    pub(super) async fn history(&mut self, person: &Arc<Person>, message: &Message<'_>, me: &str) {
        let shared = self.shared();
        let target = message.param(0).unwrap_or("");
        let count = match message.param(1).map(str::parse::<usize>) {
            None => DEFAULT_HISTORY,
            Some(Ok(count)) if count > 0 => count,
            Some(_) => {
                return self.notice(me, "Usage: HISTORY #room|nick [count], count a number over 0")
            }
        };
        let events = if target.starts_with('#') {
            shared.chat.room_history(person, target, count).await
        } else {
            match shared.chat.private_history(person, target, count).await {
                Ok(events) => events,
                Err(error) => return self.notice(me, &history_refused(&error)),
            }
        };
        if events.is_empty() {
            return self.notice(me, &format!("No history of {target} is kept"));
        }
        let mut out = Vec::with_capacity(events.len() * 128);
        self.replay_style().write(&shared.config.server_name, target, &events, &mut out);
        self.link.reply(out);
    }

    /// A server notice to the client known as `me`.
    pub(super) fn notice(&self, me: &str, text: &str) {
        let shared = self.shared();
        let mut replies = Replies::new(&shared.config.server_name, me);
        replies.notice(text);
        self.send(replies);
    }
}

/// Why private history was refused, in IRC's words.
fn history_refused(error: &HistoryError) -> String {
    match error {
        HistoryError::NotIdentified => concat!(
            "Private history is kept only between registered nicknames: ",
            "/msg NickServ IDENTIFY password first"
        )
        .to_string(),
        HistoryError::NotRegistered(nick) => {
            format!("{nick} is not registered, so no private history is kept with them")
        }
    }
}
