//! The benchmark's message text, and reading server lines back on the hot receive path.
//!
//! A message's text is `SENDER SEQ SENT_US` padded with `x` to the wanted size: who sent it,
//! its number, and when, in microseconds since the run's epoch, so every receiver can
//! compute its end-to-end latency from the line alone. Pure, no I/O, no allocation.

use std::io::Write as _;

/// What a message carries about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Which sender wrote it (0-based).
    pub sender: u32,
    /// Its number among that sender's messages.
    pub seq: u64,
    /// When it was written to the socket, in microseconds since the run's epoch.
    pub sent_us: u64,
}

/// A server line as the receive path sorts it, whichever protocol it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// `MSG #room nick text` (IRC: `PRIVMSG #room :text`) whose text is a stamp: one
    /// delivery.
    Delivery(Stamp),
    /// `JOIN #room nick` (IRC: `:nick!user@host JOIN #room`): someone entered a room.
    Join {
        /// Which room.
        room: &'a [u8],
        /// Who.
        nick: &'a [u8],
    },
    /// `LEAVE #room nick reason` (IRC: `PART`): someone left one room.
    Part {
        /// Which room.
        room: &'a [u8],
        /// Who.
        nick: &'a [u8],
        /// `part` or `part: their words`.
        reason: &'a [u8],
    },
    /// `QUIT nick reason` (IRC: `:nick!user@host QUIT :reason`): the server says why
    /// someone is gone.
    Leave {
        /// Who left.
        nick: &'a [u8],
        /// Why.
        reason: &'a [u8],
    },
    /// `PING token`: a silent client must answer `/pong token` (IRC: `PONG :token`).
    Ping {
        /// What to echo.
        token: &'a [u8],
    },
    /// Anything else.
    Other,
}

/// Appends one message line, `\n` included, whose text is `size` bytes long (or the stamp's
/// own length, if that is longer).
pub fn encode(out: &mut Vec<u8>, stamp: Stamp, size: usize) {
    encode_text(out, stamp, size);
    out.push(b'\n');
}

/// Appends a message's text alone, `size` bytes long (or the stamp's own length, if that is
/// longer): what every protocol carries between its own framing.
pub fn encode_text(out: &mut Vec<u8>, stamp: Stamp, size: usize) {
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{} {} {}", stamp.sender, stamp.seq, stamp.sent_us);
    let written = out.len() - start;
    if written < size {
        out.push(b' ');
        out.resize(start + size, b'x');
    }
}

/// The length of a message line, `\n` included, for a given text size.
pub fn line_len(size: usize) -> usize {
    let mut line = Vec::with_capacity(size + 32);
    encode(&mut line, Stamp { sender: 0, seq: 0, sent_us: 0 }, size);
    line.len()
}

/// Sorts one server line (without its `\n`).
pub fn classify(line: &[u8]) -> Line<'_> {
    if let Some(rest) = line.strip_prefix(b"MSG ") {
        let (_room, rest) = split_word(rest);
        return delivery(rest).map_or(Line::Other, Line::Delivery);
    }
    if let Some(rest) = line.strip_prefix(b"JOIN ") {
        let (room, nick) = split_word(rest);
        return Line::Join { room, nick };
    }
    if let Some(rest) = line.strip_prefix(b"LEAVE ") {
        let (room, rest) = split_word(rest);
        let (nick, reason) = split_word(rest);
        return Line::Part { room, nick, reason };
    }
    if let Some(rest) = line.strip_prefix(b"QUIT ") {
        let (nick, reason) = split_word(rest);
        return Line::Leave { nick, reason };
    }
    if let Some(token) = line.strip_prefix(b"PING ") {
        return Line::Ping { token };
    }
    Line::Other
}

/// Reads the stamp out of `nick text`.
fn delivery(rest: &[u8]) -> Option<Stamp> {
    let (_nick, text) = split_word(rest);
    parse_stamp(text)
}

/// Reads the stamp at the start of a message's text; `None` if the text is not one.
pub fn parse_stamp(text: &[u8]) -> Option<Stamp> {
    let (sender, text) = number(text)?;
    let (seq, text) = number(text)?;
    let (sent_us, _) = number(text)?;
    Some(Stamp { sender: u32::try_from(sender).ok()?, seq, sent_us })
}

/// The leading decimal number and what follows its separating space.
fn number(text: &[u8]) -> Option<(u64, &[u8])> {
    let end = text.iter().position(|b| !b.is_ascii_digit()).unwrap_or(text.len());
    if end == 0 {
        return None;
    }
    let value = text[..end]
        .iter()
        .try_fold(0u64, |acc, &digit| acc.checked_mul(10)?.checked_add(u64::from(digit - b'0')))?;
    let rest = &text[end..];
    Some((value, rest.strip_prefix(b" ").unwrap_or(rest)))
}

/// The first space-separated word and the rest.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', text) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: Stamp = Stamp { sender: 7, seq: 123, sent_us: 4_567_890 };

    fn delivered(text: &[u8]) -> Vec<u8> {
        let mut line = b"MSG #lobby b7 ".to_vec();
        line.extend_from_slice(text.strip_suffix(b"\n").expect("newline"));
        line
    }

    #[test]
    fn a_message_is_padded_to_its_size_and_read_back() {
        let mut out = Vec::new();
        encode(&mut out, STAMP, 64);
        assert_eq!(out.len(), 65);
        assert_eq!(line_len(64), 65);
        assert!(out.starts_with(b"7 123 4567890 xxx"));
        assert_eq!(classify(&delivered(&out)), Line::Delivery(STAMP));
        // The room a message was said in does not change what it carries.
        let mut in_room = b"MSG #r42 b7 ".to_vec();
        in_room.extend_from_slice(&out[..out.len() - 1]);
        assert_eq!(classify(&in_room), Line::Delivery(STAMP));
    }

    #[test]
    fn a_size_below_the_stamp_keeps_the_stamp_whole() {
        let mut out = Vec::new();
        encode(&mut out, STAMP, 3);
        assert_eq!(out, b"7 123 4567890\n");
        assert_eq!(classify(&delivered(&out)), Line::Delivery(STAMP));
    }

    #[test]
    fn other_lines_are_sorted_by_kind() {
        assert_eq!(classify(b"JOIN #lobby b1"), Line::Join { room: b"#lobby", nick: b"b1" });
        assert_eq!(
            classify(b"LEAVE #r3 b7 part: gone fishing"),
            Line::Part { room: b"#r3", nick: b"b7", reason: b"part: gone fishing" }
        );
        assert_eq!(
            classify(b"LEAVE #r3 b7 part"),
            Line::Part { room: b"#r3", nick: b"b7", reason: b"part" }
        );
        assert_eq!(
            classify(b"QUIT b9 send queue full"),
            Line::Leave { nick: b"b9", reason: b"send queue full" }
        );
        assert_eq!(classify(b"PING 60000"), Line::Ping { token: b"60000" });
        assert_eq!(classify(b"MSG #lobby alice hello there"), Line::Other);
        assert_eq!(classify(b"MSG #lobby b1 1 2"), Line::Other);
        assert_eq!(classify(b"MSG #lobby b1 99999999999999999999 2 3"), Line::Other);
        assert_eq!(classify(b"WELCOME b1 3 online"), Line::Other);
    }
}
