//! History as IRC lines: what was said before, written so that no client takes it for
//! live talk. With `batch`, it comes in a `chathistory` batch; with `server-time`, each
//! line carries its original time in its tag; without, each text begins with the time.

use std::io::Write as _;
use std::time::SystemTime;

use crate::core::{Encode, Event, Speech, Stamped};

use super::encode::IrcEncoder;

/// How one client is given history.
#[derive(Debug, Clone, Copy)]
pub struct Replay<'a> {
    /// The server's name, the source of the `BATCH` lines.
    pub server: &'a str,
    /// Whether the client has `server-time`: the time goes in the tag, not the text.
    pub timed: bool,
    /// The batch's reference tag, for a client that has `batch`.
    pub batch: Option<&'a str>,
    /// The time now: times of today are written without their date.
    pub now: SystemTime,
}

impl Replay<'_> {
    /// Writes `events` (oldest first) as history of `target` (a room, or the nick of the
    /// other end of a private conversation) into `out`. Requests between client programs
    /// (CTCP other than `ACTION`) are left out: replayed, they would be answered again.
    pub fn write<'e>(
        &self,
        target: &str,
        events: impl IntoIterator<Item = &'e Stamped>,
        out: &mut Vec<u8>,
    ) {
        let encoder = IrcEncoder::for_client(self.timed, false);
        if let Some(id) = self.batch {
            let _ = write!(out, ":{} BATCH +{id} chathistory {target}\r\n", self.server);
        }
        let mut line = Vec::with_capacity(256);
        for stamped in events.into_iter().filter(|stamped| is_replayed(&stamped.event)) {
            line.clear();
            if self.timed {
                encoder.encode(stamped, &mut line);
            } else {
                encoder.encode(&with_time(stamped, self.now), &mut line);
            }
            match self.batch {
                Some(id) => tag_lines(&line, id, out),
                None => out.extend_from_slice(&line),
            }
        }
        if let Some(id) = self.batch {
            let _ = write!(out, ":{} BATCH -{id}\r\n", self.server);
        }
    }
}

/// Whether an event of history is given again: what people said, not their programs.
fn is_replayed(event: &Event) -> bool {
    match event {
        Event::Message { .. } | Event::Action { .. } | Event::Notice { .. } => true,
        Event::Private { kind, .. } => matches!(kind, Speech::Say | Speech::Act | Speech::Notice),
        _ => false,
    }
}

/// `stamped` with its time before its text, `[hh:mm] ` (UTC), the date too when it was
/// not today.
fn with_time(stamped: &Stamped, now: SystemTime) -> Stamped {
    let mut stamped = stamped.clone();
    let prefix = time_prefix(stamped.at, now);
    match &mut stamped.event {
        Event::Message { text, .. }
        | Event::Action { text, .. }
        | Event::Notice { text, .. }
        | Event::Private { text, .. } => text.insert_str(0, &prefix),
        _ => {}
    }
    stamped
}

/// `[hh:mm] ` for a time of today (UTC), `[YYYY-MM-DD hh:mm] ` for an earlier one.
pub fn time_prefix(at: SystemTime, now: SystemTime) -> String {
    let at = crate::proto::time::rfc3339_seconds(at).to_string();
    let today = crate::proto::time::rfc3339_seconds(now).to_string();
    let (date, time) = (at.get(..10).unwrap_or(""), at.get(11..16).unwrap_or(""));
    if today.get(..10) == Some(date) {
        format!("[{time}] ")
    } else {
        format!("[{date} {time}] ")
    }
}

/// Copies the lines of `lines` into `out`, each tagged `batch=id`.
fn tag_lines(lines: &[u8], id: &str, out: &mut Vec<u8>) {
    for line in lines.split_inclusive(|&byte| byte == b'\n') {
        match line.strip_prefix(b"@") {
            Some(tags) => {
                let _ = write!(out, "@batch={id};");
                out.extend_from_slice(tags);
            }
            None => {
                let _ = write!(out, "@batch={id} ");
                out.extend_from_slice(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::core::{Nick, RoomName};

    /// 2023-11-14T22:13:20Z.
    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    fn history() -> Vec<Stamped> {
        let room = RoomName::parse("#a").expect("a room");
        let (ann, bob) =
            (Nick::parse("ann", 32).expect("nick"), Nick::parse("bob", 32).expect("nick"));
        let text = |t: &str| t.to_string();
        vec![
            Stamped {
                at: at(0),
                event: Event::Message { room: room.clone(), from: ann.clone(), text: text("hi") },
            },
            Stamped { at: at(60), event: Event::Join { room: room.clone(), nick: bob.clone() } },
            Stamped {
                at: at(120),
                event: Event::Action { room, from: bob.clone(), text: text("waves") },
            },
            Stamped {
                at: at(180),
                event: Event::Private {
                    from: ann,
                    to: bob,
                    text: text("VERSION"),
                    kind: Speech::ClientQuery,
                },
            },
        ]
    }

    fn written(replay: Replay<'_>) -> String {
        let mut out = Vec::new();
        replay.write("#a", &history(), &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn without_server_time_each_text_begins_with_its_time() {
        let replay = Replay { server: "irc.test", timed: false, batch: None, now: at(3600) };
        assert_eq!(
            written(replay),
            concat!(
                ":ann!chat@smolchat PRIVMSG #a :[22:13] hi\r\n",
                ":bob!chat@smolchat PRIVMSG #a :\x01ACTION [22:15] waves\x01\r\n",
            )
        );
    }

    #[test]
    fn with_batch_and_server_time_lines_are_tagged_and_wrapped() {
        let replay = Replay { server: "irc.test", timed: true, batch: Some("h1"), now: at(0) };
        assert_eq!(
            written(replay),
            concat!(
                ":irc.test BATCH +h1 chathistory #a\r\n",
                "@batch=h1;time=2023-11-14T22:13:20.000Z :ann!chat@smolchat PRIVMSG #a :hi\r\n",
                "@batch=h1;time=2023-11-14T22:15:20.000Z ",
                ":bob!chat@smolchat PRIVMSG #a :\x01ACTION waves\x01\r\n",
                ":irc.test BATCH -h1\r\n",
            )
        );
        let untimed = Replay { timed: false, ..replay };
        assert!(written(untimed)
            .contains("\r\n@batch=h1 :ann!chat@smolchat PRIVMSG #a :[22:13] hi\r\n"));
    }

    #[test]
    fn times_of_other_days_have_their_date() {
        assert_eq!(time_prefix(at(0), at(60)), "[22:13] ");
        assert_eq!(time_prefix(at(0), at(86_400)), "[2023-11-14 22:13] ");
    }
}
