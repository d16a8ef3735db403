//! History in the chat protocol: the replay a client gets when it enters a room, and
//! `/history`.

use std::sync::Arc;

use futures_lite::AsyncRead;

use super::commands::{Need, Refused};
use super::Session;
use crate::core::{Encode as _, HistoryError, Person, Stamped};
use crate::proto::chat::{is_room_name, ErrorCode, Line, CHAT};

/// Writes `events` as `HISTORY` lines, then `HISTORYEND of count`; nothing at all when
/// there are none.
pub(super) fn write_history<'a>(
    bytes: &mut Vec<u8>,
    of: &str,
    events: impl ExactSizeIterator<Item = &'a Stamped>,
) {
    let count = events.len();
    if count == 0 {
        return;
    }
    let mut live = Vec::with_capacity(128);
    for event in events {
        live.clear();
        CHAT.encode(event, &mut live);
        // Each live line, prefixed; an event the protocol does not show has no line.
        for line in live.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()) {
            let at = crate::proto::time::rfc3339_millis(event.at);
            bytes.extend_from_slice(format!("HISTORY {at} ").as_bytes());
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
        }
    }
    Line::HistoryEnd { of: of.to_string(), count }.encode_into(bytes);
}

impl<R: AsyncRead + Unpin> Session<R> {
    /// `/history [#room|NICK] [N]`: the last N things said in a room (the current one by
    /// default) or between two registered nicknames, then `HISTORYEND`.
    pub(super) async fn history(
        &mut self,
        person: &Arc<Person>,
        of: Option<&str>,
        count: Option<usize>,
    ) -> Result<(), Refused> {
        let config = &self.link.ticket.shared.config;
        let count = count.unwrap_or(config.history_replay.max(1)).min(config.history_len);
        let (name, events) = match of {
            Some(nick) if !is_room_name(nick) => {
                let events = self.core().private_history(person, nick, count).await;
                (nick.to_string(), events.map_err(history_refused)?)
            }
            room => {
                let room = self.room(person, room, Need::Exists).await?;
                let events = self.core().room_history(person, room.name().as_str(), count).await;
                (room.name().to_string(), events)
            }
        };
        let mut bytes = Vec::new();
        write_history(&mut bytes, &name, events.iter());
        if events.is_empty() {
            Line::HistoryEnd { of: name, count: 0 }.encode_into(&mut bytes);
        }
        let _ = self.link.outbox.push_reply(bytes.into());
        Ok(())
    }
}

fn history_refused(error: HistoryError) -> Refused {
    let code = match error {
        HistoryError::NotIdentified => ErrorCode::NotIdentified,
        HistoryError::NotRegistered(_) => ErrorCode::NoAccount,
    };
    Refused::Error(code, error.to_string())
}
