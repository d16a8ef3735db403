//! Text as IRC clients send it: UTF-8 with formatting codes and CTCP, made plain before it
//! reaches the core, which every protocol's clients read.

use crate::proto::chat::{decode_with, is_bidi_control, TextError};

/// Checks one received line (without its `\n`; a `\r` before it is dropped) and returns
/// it as text. Unlike the chat protocol, IRC lines carry control characters on purpose
/// (CTCP's `\x01`, colours and bold); only NUL, a bare carriage return and the
/// bidirectional controls are refused here, and [`plain`] removes the rest from text.
pub fn decode_line(bytes: &[u8]) -> Result<&str, TextError> {
    decode_with(bytes, |c| c == '\0' || c == '\r' || is_bidi_control(c))
}

/// `text` without IRC formatting (bold, colours, reset, ...) or any other control
/// character but tab: what a chat client, a log or a bot can show as it is.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x03' => skip_colour(&mut chars, |c| c.is_ascii_digit(), 2),
            '\x04' => skip_colour(&mut chars, |c| c.is_ascii_hexdigit(), 6),
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips a colour code's `FG[,BG]`, each of at most `digits` characters.
fn skip_colour(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    is_digit: fn(char) -> bool,
    digits: usize,
) {
    let skip_number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        let mut taken = 0;
        while taken < digits && chars.next_if(|&c| is_digit(c)).is_some() {
            taken += 1;
        }
        taken
    };
    if skip_number(chars) == 0 {
        return;
    }
    let mut ahead = chars.clone();
    if ahead.next() == Some(',') && ahead.peek().is_some_and(|&c| is_digit(c)) {
        chars.next();
        skip_number(chars);
    }
}

/// A CTCP request or reply carried in a `PRIVMSG` or `NOTICE`: `\x01COMMAND args\x01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctcp<'a> {
    /// The command, as sent (`ACTION`, `VERSION`).
    pub command: &'a str,
    /// What follows it.
    pub args: &'a str,
}

impl<'a> Ctcp<'a> {
    /// The CTCP in `text`, if it is one (the closing `\x01` may be missing).
    pub fn parse(text: &'a str) -> Option<Ctcp<'a>> {
        let inner = text.strip_prefix('\x01')?;
        let inner = inner.strip_suffix('\x01').unwrap_or(inner);
        let (command, args) = inner.split_once(' ').unwrap_or((inner, ""));
        Some(Ctcp { command, args })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_removed_and_text_kept() {
        assert_eq!(plain("\x02bold\x02 \x0304,12red\x03 \x1ditalic\x0f"), "bold red italic");
        assert_eq!(plain("\x0312,5x \x03,5y \x033,z"), "x ,5y ,z");
        assert_eq!(plain("\x04ff00AAhex\x07 tab\there"), "hex tab\there");
        assert_eq!(plain("2\x03 + 2"), "2 + 2");
    }

    #[test]
    fn ctcp_is_read_with_or_without_its_closing_mark() {
        assert_eq!(
            Ctcp::parse("\x01ACTION waves\x01"),
            Some(Ctcp { command: "ACTION", args: "waves" })
        );
        assert_eq!(Ctcp::parse("\x01VERSION"), Some(Ctcp { command: "VERSION", args: "" }));
        assert_eq!(Ctcp::parse("hello"), None);
    }

    #[test]
    fn lines_refuse_nul_bare_returns_and_bidi_controls_only() {
        assert_eq!(
            decode_line(b"PRIVMSG #a :\x01ACTION x\x01\r"),
            Ok("PRIVMSG #a :\x01ACTION x\x01")
        );
        assert_eq!(decode_line(b"PRIVMSG #a :\x02b"), Ok("PRIVMSG #a :\x02b"));
        assert_eq!(decode_line(b"a\0b"), Err(TextError::ControlChar(0)));
        assert_eq!(decode_line(b"a\rb"), Err(TextError::ControlChar(13)));
        assert_eq!(decode_line("a\u{202E}b".as_bytes()), Err(TextError::ControlChar(0x202E)));
        assert_eq!(decode_line(b"\xff"), Err(TextError::InvalidUtf8));
    }
}
