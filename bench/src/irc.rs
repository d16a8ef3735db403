//! IRC as the bench speaks it (`--protocol irc`): the lines it writes (registration,
//! `JOIN`, `PRIVMSG`, `PONG`) and the server lines it reads, sorted into the same kinds as
//! the chat protocol's so the receive path counts both alike. Pure, no I/O, no allocation
//! on the hot path.
//!
//! A line from the server is `[:source ]COMMAND params[ :trailing]`, ended by `\r\n`; the
//! receive path splits at `\n`, so a trailing `\r` is dropped here.

use super::message::{parse_stamp, Line};

/// The channel everyone joins when the run has no rooms: the chat mode's clients stay in
/// the smolchat server's default room, `#lobby`, so IRC clients meet under the same name
/// (on smolchat, in the same room; on another server, a channel of that name).
pub const DEFAULT_CHANNEL: &str = "#lobby";

/// `RPL_WELCOME`: registration is over.
pub const RPL_WELCOME: u16 = 1;

/// `RPL_ENDOFNAMES`: the last line of the answer to a `JOIN`.
pub const RPL_ENDOFNAMES: u16 = 366;

/// The nickname of client `index`.
pub fn nick(index: usize) -> String {
    format!("bench{index}")
}

/// `NICK` and `USER`, in one write.
pub fn register(nick: &str) -> Vec<u8> {
    format!("NICK {nick}\r\nUSER {nick} 0 * :bench\r\n").into_bytes()
}

/// One `JOIN` per channel, in one write.
pub fn join(channels: &[String]) -> Vec<u8> {
    channels.iter().flat_map(|channel| format!("JOIN {channel}\r\n").into_bytes()).collect()
}

/// The answer to `PING token`.
pub fn pong(token: &[u8]) -> Vec<u8> {
    let mut line = b"PONG :".to_vec();
    line.extend_from_slice(token);
    line.extend_from_slice(b"\r\n");
    line
}

/// What goes before a message's text: `PRIVMSG #channel :`.
pub fn privmsg_prefix(channel: &str) -> Vec<u8> {
    format!("PRIVMSG {channel} :").into_bytes()
}

/// What ends every line the bench writes.
pub const LINE_END: &[u8] = b"\r\n";

/// One server line, cut into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Who it is from: the nickname part of `nick!user@host`, or the server's name.
    pub nick: &'a [u8],
    /// The command or the three-digit numeric.
    pub command: &'a [u8],
    /// The parameters before the trailing one, still joined by spaces.
    middle: &'a [u8],
    /// The trailing parameter (after ` :`), or the last middle one if there is no ` :`.
    trailing: &'a [u8],
}

impl<'a> Message<'a> {
    /// Cuts one line (without its `\n`).
    pub fn parse(line: &'a [u8]) -> Message<'a> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (source, rest) = match line.strip_prefix(b":") {
            Some(prefixed) => split_word(prefixed),
            None => (&b""[..], line),
        };
        let nick = source.split(|&b| b == b'!').next().unwrap_or(source);
        let (command, params) = split_word(rest);
        let (middle, trailing) = split_trailing(params);
        Message { nick, command, middle, trailing }
    }

    /// The numeric, if the command is one.
    pub fn numeric(&self) -> Option<u16> {
        let digits = self.command;
        if digits.len() != 3 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(digits.iter().fold(0, |n, &d| n * 10 + u16::from(d - b'0')))
    }

    /// The `n`th parameter (0-based), the trailing one included.
    pub fn param(&self, n: usize) -> Option<&'a [u8]> {
        let middle = self.middle.split(|&b| b == b' ').filter(|p| !p.is_empty());
        middle.chain(std::iter::once(self.trailing)).nth(n)
    }

    /// The trailing parameter.
    pub fn trailing(&self) -> &'a [u8] {
        self.trailing
    }
}

/// Sorts one server line (without its `\n`) into the kinds the receive path counts.
pub fn classify(line: &[u8]) -> Line<'_> {
    let message = Message::parse(line);
    match message.command {
        b"PRIVMSG" => parse_stamp(message.trailing).map_or(Line::Other, Line::Delivery),
        b"JOIN" => match message.param(0) {
            Some(room) => Line::Join { room, nick: message.nick },
            None => Line::Other,
        },
        b"PART" => match message.param(0) {
            Some(room) => {
                let reason = message.param(1).unwrap_or(b"part");
                Line::Part { room, nick: message.nick, reason }
            }
            None => Line::Other,
        },
        b"QUIT" => Line::Leave { nick: message.nick, reason: message.trailing },
        b"PING" => Line::Ping { token: message.trailing },
        _ => Line::Other,
    }
}

/// The first space-separated word and the rest.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', text) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[]),
    }
}

/// Parameters cut into the middle ones and the trailing one: what follows the first
/// ` :` (or a leading `:`), else the last word. A plain scan for spaces: a `memmem` finder
/// built per line cost more than the rest of the parse.
fn split_trailing(params: &[u8]) -> (&[u8], &[u8]) {
    if let Some(trailing) = params.strip_prefix(b":") {
        return (&[], trailing);
    }
    let mut from = 0;
    while let Some(i) = memchr::memchr(b' ', &params[from..]) {
        let space = from + i;
        if params.get(space + 1) == Some(&b':') {
            return (&params[..space], &params[space + 2..]);
        }
        from = space + 1;
    }
    match memchr::memrchr(b' ', params) {
        Some(i) => (&params[..i], &params[i + 1..]),
        None => (&[], params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{encode_text, Stamp};

    const STAMP: Stamp = Stamp { sender: 7, seq: 123, sent_us: 4_567_890 };

    #[test]
    fn a_privmsg_carries_the_stamp_like_a_chat_message() {
        let mut line = b":bench7!~bench7@localhost PRIVMSG #lobby :".to_vec();
        encode_text(&mut line, STAMP, 64);
        line.push(b'\r');
        assert_eq!(classify(&line), Line::Delivery(STAMP));
        // Text that is not a stamp (someone else talking) is not a delivery.
        assert_eq!(classify(b":alice!a@h PRIVMSG #lobby :hello there\r"), Line::Other);
        assert_eq!(classify(b":alice!a@h PRIVMSG #lobby :1 2\r"), Line::Other);
    }

    #[test]
    fn the_lines_the_bench_writes() {
        assert_eq!(register("bench3"), b"NICK bench3\r\nUSER bench3 0 * :bench\r\n");
        let channels = ["#r1".to_string(), "#all".to_string()];
        assert_eq!(join(&channels), b"JOIN #r1\r\nJOIN #all\r\n");
        assert_eq!(pong(b"x y"), b"PONG :x y\r\n");
        assert_eq!(privmsg_prefix("#lobby"), b"PRIVMSG #lobby :");
        assert_eq!(nick(9_999), "bench9999");
    }

    #[test]
    fn joins_parts_quits_and_pings_are_told_apart() {
        let join = Line::Join { room: b"#lobby", nick: b"bench1" };
        assert_eq!(classify(b":bench1!~bench1@localhost JOIN :#lobby\r"), join);
        assert_eq!(classify(b":bench1!~bench1@localhost JOIN #lobby\r"), join);
        assert_eq!(
            classify(b":bench2!u@h PART #r3 :gone fishing\r"),
            Line::Part { room: b"#r3", nick: b"bench2", reason: b"gone fishing" }
        );
        assert_eq!(
            classify(b":bench2!u@h PART #r3\r"),
            Line::Part { room: b"#r3", nick: b"bench2", reason: b"part" }
        );
        assert_eq!(
            classify(b":bench9!u@h QUIT :SendQ exceeded\r"),
            Line::Leave { nick: b"bench9", reason: b"SendQ exceeded" }
        );
        assert_eq!(
            classify(b"PING :bench.ngircd.local\r"),
            Line::Ping { token: b"bench.ngircd.local" }
        );
        assert_eq!(classify(b"PING token"), Line::Ping { token: b"token" });
        assert_eq!(classify(b":srv 353 bench1 = #lobby :bench1 bench0\r"), Line::Other);
        assert_eq!(classify(b""), Line::Other);
    }

    #[test]
    fn numerics_and_their_parameters() {
        let end = Message::parse(b":bench.ngircd.local 366 bench1 #lobby :End of NAMES list\r");
        assert_eq!(end.numeric(), Some(RPL_ENDOFNAMES));
        assert_eq!(end.nick, b"bench.ngircd.local");
        assert_eq!(end.param(0), Some(&b"bench1"[..]));
        assert_eq!(end.param(1), Some(&b"#lobby"[..]));
        assert_eq!(end.param(2), Some(&b"End of NAMES list"[..]));
        assert_eq!(end.param(3), None);
        let welcome = Message::parse(b":srv 001 bench1 :Welcome to the Internet Relay Network");
        assert_eq!(welcome.numeric(), Some(RPL_WELCOME));
        assert_eq!(Message::parse(b":srv NOTICE * :hi").numeric(), None);
        assert_eq!(Message::parse(b"ERROR :Closing connection").command, b"ERROR");
        // Only the first ` :` starts the trailing parameter; a `:` inside a word does not.
        let talk = Message::parse(b":a!b@c PRIVMSG #lo:bby :one :two\r");
        assert_eq!((talk.param(0), talk.trailing()), (Some(&b"#lo:bby"[..]), &b"one :two"[..]));
    }
}
