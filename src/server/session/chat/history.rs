//! History in the chat protocol: the replay a client gets when it enters a room, and
//! `/history`.

use std::sync::Arc;

use futures_lite::AsyncRead;

use super::commands::{Need, Refused};
use super::Session;
use crate::core::{Encode as _, HistoryError, Person, Stamped};
use crate::proto::chat::{is_room_name, ErrorCode, Line, CHAT};

/// Writes `events` as `HISTORY` lines, then `HISTORYEND of count`; nothing at all when
/// none of them has a line.
pub(super) fn write_history<'a>(
    bytes: &mut Vec<u8>,
    of: &str,
    events: impl Iterator<Item = &'a Stamped>,
) {
    let count = write_replayed(bytes, events);
    if count > 0 {
        Line::HistoryEnd { of: of.to_string(), count }.encode_into(bytes);
    }
}

/// Writes `events` as `HISTORY` lines and returns how many it wrote: the count that
/// `HISTORYEND` gives. An event the protocol does not show (a request between two IRC
/// clients, kept in a private conversation) has no line, and is not counted.
fn write_replayed<'a>(bytes: &mut Vec<u8>, events: impl Iterator<Item = &'a Stamped>) -> usize {
    let mut count = 0;
    let mut live = Vec::with_capacity(128);
    for event in events {
        live.clear();
        CHAT.encode(event, &mut live);
        for line in live.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()) {
            let at = crate::proto::time::rfc3339_millis(event.at);
            bytes.extend_from_slice(format!("HISTORY {at} ").as_bytes());
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
            count += 1;
        }
    }
    count
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
        let count = write_replayed(&mut bytes, events.iter());
        Line::HistoryEnd { of: name, count }.encode_into(&mut bytes);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Event, Nick, Speech};

    fn private(text: &str, kind: Speech) -> Stamped {
        let nick = |name| Nick::parse(name, 32).expect("a valid nick");
        Stamped::now(Event::Private { from: nick("ann"), to: nick("bob"), text: text.into(), kind })
    }

    #[test]
    fn historyend_counts_only_the_lines_written() {
        // A CTCP request between two IRC clients is kept in their conversation, but the
        // chat protocol shows it as nothing.
        let events = [
            private("hi", Speech::Say),
            private("VERSION", Speech::ClientQuery),
            private("VERSION smolchat", Speech::ClientAnswer),
        ];
        let mut bytes = Vec::new();
        write_history(&mut bytes, "ann", events.iter());
        let text = String::from_utf8(bytes).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("HISTORY ") && lines[0].ends_with(" PRIV ann bob hi"));
        assert_eq!(lines[1], "HISTORYEND ann 1");
    }

    #[test]
    fn a_replay_of_nothing_shown_is_no_replay() {
        let events = [private("PING 1", Speech::ClientQuery)];
        let mut bytes = Vec::new();
        write_history(&mut bytes, "ann", events.iter());
        assert!(bytes.is_empty(), "{:?}", String::from_utf8_lossy(&bytes));
    }
}
