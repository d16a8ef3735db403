//! Getting in over IRC: `NICK` and `USER` in one write, then wait for `001`; `JOIN` each
//! channel in one more write, then wait for the `366` (end of names) that closes the
//! answer to each. `PING`s are answered on the way; `ERROR`, or an error numeric
//! (400 to 599), is a refusal.

use super::connection::Connection;
use super::irc::{self, Message, RPL_ENDOFNAMES, RPL_WELCOME};
use super::join::{read_until, Heard, JoinError, Joined};

/// Registers `nick` and joins `channels`, each confirmed, over the connected `stream`.
pub async fn join(
    stream: Connection,
    nick: &str,
    channels: &[String],
) -> Result<Joined, JoinError> {
    let mut pending = Vec::with_capacity(1024);
    stream.write_all(&irc::register(nick)).await.map_err(JoinError::Io)?;
    read_until(&stream, &mut pending, registration).await?;
    let mut entry = Entry::new(nick, channels);
    if !entry.settled() {
        stream.write_all(&irc::join(channels)).await.map_err(JoinError::Io)?;
        read_until(&stream, &mut pending, |line| entry.take(line)).await?;
    }
    Ok(Joined { stream, leftover: pending, joins: entry.joins })
}

/// A line before registration is over: `001` ends it.
fn registration(line: &[u8]) -> Heard {
    let message = Message::parse(line);
    match message.numeric() {
        Some(RPL_WELCOME) => Heard::Done,
        _ => anytime(line, &message),
    }
}

/// What any handshake line may be: a `PING` to answer, or a refusal.
fn anytime(line: &[u8], message: &Message<'_>) -> Heard {
    let refused = || Heard::Refused(String::from_utf8_lossy(line.trim_ascii_end()).into_owned());
    match (message.command, message.numeric()) {
        (b"PING", _) => Heard::Answer(irc::pong(message.trailing())),
        (b"ERROR", _) | (_, Some(400..=599)) => refused(),
        _ => Heard::Nothing,
    }
}

/// One client's way into its channels, fed the server's lines one at a time. Pure, so it
/// is tested without a server.
#[derive(Debug)]
struct Entry<'a> {
    /// Our nickname, to tell our own `JOIN`s from other members' arrivals.
    nick: &'a [u8],
    /// Channels whose `366` has not come yet.
    unconfirmed: Vec<&'a [u8]>,
    /// Channels our own `JOIN` was seen in: other members' `JOIN`s there are announcements.
    entered: Vec<&'a [u8]>,
    /// Those announcements so far.
    joins: u64,
}

impl<'a> Entry<'a> {
    /// The way into `channels`.
    fn new(nick: &'a str, channels: &'a [String]) -> Entry<'a> {
        let unconfirmed = channels.iter().map(String::as_bytes).collect();
        Entry { nick: nick.as_bytes(), unconfirmed, entered: Vec::new(), joins: 0 }
    }

    /// Takes one server line; `Done` once the last channel's `366` has come.
    fn take(&mut self, line: &[u8]) -> Heard {
        let message = Message::parse(line);
        let channel = match (message.command, message.numeric()) {
            (b"JOIN", _) => message.param(0),
            (_, Some(RPL_ENDOFNAMES)) => message.param(1),
            _ => return anytime(line, &message),
        };
        let Some(channel) = channel else { return Heard::Nothing };
        let is = |wanted: &&[u8]| wanted.eq_ignore_ascii_case(channel);
        if message.numeric() == Some(RPL_ENDOFNAMES) {
            self.unconfirmed.retain(|wanted| !is(wanted));
            return if self.settled() { Heard::Done } else { Heard::Nothing };
        }
        if message.nick.eq_ignore_ascii_case(self.nick) {
            if let Some(wanted) = self.unconfirmed.iter().find(|wanted| is(wanted)) {
                self.entered.push(wanted);
            }
        } else if self.entered.iter().any(is) {
            self.joins += 1;
        }
        Heard::Nothing
    }

    /// Whether every channel is confirmed.
    fn settled(&self) -> bool {
        self.unconfirmed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    /// Feeds `lines` and returns at which one (if any) the entry was settled.
    fn feed(entry: &mut Entry<'_>, lines: &[&str]) -> Option<usize> {
        lines.iter().position(|line| entry.take(line.as_bytes()) == Heard::Done)
    }

    #[test]
    fn registration_ends_at_001_and_pings_are_answered_on_the_way() {
        assert_eq!(registration(b":srv NOTICE * :*** Looking up your hostname\r"), Heard::Nothing);
        assert_eq!(registration(b"PING :12345\r"), Heard::Answer(b"PONG :12345\r\n".to_vec()));
        assert_eq!(registration(b":srv 001 bench1 :Welcome to IRC\r"), Heard::Done);
        assert_eq!(
            registration(b":srv 433 * bench1 :Nickname already in use\r"),
            Heard::Refused(":srv 433 * bench1 :Nickname already in use".into())
        );
        assert!(matches!(registration(b"ERROR :Closing connection\r"), Heard::Refused(_)));
        // Replies that are not errors are not refusals.
        assert_eq!(registration(b":srv 375 bench1 :- srv message of the day\r"), Heard::Nothing);
    }

    #[test]
    fn each_channel_is_confirmed_by_its_end_of_names() {
        let wanted = channels(&["#r1", "#all"]);
        let mut entry = Entry::new("bench4", &wanted);
        let lines = [
            ":bench4!~bench4@localhost JOIN :#r1\r",
            ":srv 353 bench4 = #r1 :bench4 bench1\r",
            ":srv 366 bench4 #r1 :End of NAMES list\r",
            ":bench7!~bench7@localhost JOIN :#r1\r",
            ":bench8!~bench8@localhost JOIN :#all\r",
            ":bench4!~bench4@localhost JOIN #ALL\r",
            ":bench9!~bench9@localhost JOIN #all\r",
            ":srv 366 bench4 #all :End of NAMES list\r",
        ];
        assert_eq!(feed(&mut entry, &lines), Some(7));
        // Arrivals after our own, in a channel we are in; not #all's before we were.
        assert_eq!(entry.joins, 2);
    }

    #[test]
    fn a_refused_join_ends_the_handshake() {
        let wanted = channels(&["#r1"]);
        let mut entry = Entry::new("bench4", &wanted);
        let refused = entry.take(b":srv 471 bench4 #r1 :Cannot join channel (+l)\r");
        assert!(matches!(refused, Heard::Refused(_)));
        assert_eq!(entry.take(b"PING :x\r"), Heard::Answer(b"PONG :x\r\n".to_vec()));
        assert!(!entry.settled());
    }
}
