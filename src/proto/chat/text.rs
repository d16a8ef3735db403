//! What counts as acceptable text on the wire: UTF-8 without control characters, and
//! without the bidirectional controls that could reorder what a reader sees.

use thiserror::Error;

/// Why a line's bytes were refused before being read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TextError {
    /// The bytes are not valid UTF-8.
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    /// The line holds a control character (C0 other than tab, DEL, or C1), or a
    /// bidirectional embedding, override or isolate.
    #[error("line contains a control character (U+{0:04X})")]
    ControlChar(u32),
}

/// True for the characters no line may carry: C0 controls except tab, DEL, C1 controls,
/// and the bidirectional embeddings, overrides and isolates.
///
/// Refusing the controls keeps terminal escape sequences (ANSI colours, cursor moves, title
/// changes) from ever reaching another person's terminal through the server; refusing the
/// bidirectional ones keeps a line from displaying its words in another order than they
/// were sent (a nickname that seems to say something else, a link that seems harmless).
pub fn is_forbidden(c: char) -> bool {
    (c != '\t' && c.is_control()) || is_bidi_control(c)
}

/// The explicit bidirectional formatting characters: embeddings and overrides (U+202A to
/// U+202E) and isolates (U+2066 to U+2069). The left-to-right and right-to-left marks
/// (U+200E, U+200F) only nudge neutral characters and stay allowed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks one received line (without its `\n`) and returns it as text.
///
/// A trailing `\r` is dropped so that `\r\n` endings work as well as `\n`.
pub fn decode_line(bytes: &[u8]) -> Result<&str, TextError> {
    decode_with(bytes, is_forbidden)
}

/// Checks one received line (without its `\n`; a trailing `\r` is dropped) as UTF-8
/// holding none of the characters `forbidden` names: each protocol names its own.
pub fn decode_with(bytes: &[u8], forbidden: fn(char) -> bool) -> Result<&str, TextError> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| TextError::InvalidUtf8)?;
    match text.chars().find(|&c| forbidden(c)) {
        Some(c) => Err(TextError::ControlChar(u32::from(c))),
        None => Ok(text),
    }
}

/// Replaces every forbidden character with U+FFFD, for showing untrusted text safely.
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_forbidden) {
        text.chars()
            .map(|c| if is_forbidden(c) { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_unicode_and_tab() {
        assert_eq!(decode_line("héllo\twörld ✓".as_bytes()), Ok("héllo\twörld ✓"));
    }

    #[test]
    fn strips_one_carriage_return() {
        assert_eq!(decode_line(b"hi\r"), Ok("hi"));
        assert_eq!(decode_line(b"hi\r\r"), Err(TextError::ControlChar(0x0D)));
    }

    #[test]
    fn refuses_invalid_utf8() {
        assert_eq!(decode_line(b"a\xffb"), Err(TextError::InvalidUtf8));
    }

    #[test]
    fn refuses_escape_del_and_c1() {
        assert_eq!(decode_line(b"\x1b[31mred"), Err(TextError::ControlChar(0x1B)));
        assert_eq!(decode_line(b"a\x7f"), Err(TextError::ControlChar(0x7F)));
        assert_eq!(decode_line("a\u{9b}2J".as_bytes()), Err(TextError::ControlChar(0x9B)));
        assert_eq!(decode_line(b"nul\0"), Err(TextError::ControlChar(0)));
    }

    #[test]
    fn refuses_bidi_embeddings_overrides_and_isolates_but_not_marks() {
        for c in ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'] {
            let line = format!("abc{c}def");
            assert_eq!(decode_line(line.as_bytes()), Err(TextError::ControlChar(u32::from(c))));
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert!(is_forbidden(c), "{c:?}");
        }
        assert_eq!(decode_line("a\u{200E}b\u{200F}c".as_bytes()), Ok("a\u{200E}b\u{200F}c"));
    }

    #[test]
    fn sanitize_replaces_controls_only() {
        assert_eq!(sanitize("a\x1b[2Jb\tc"), "a\u{FFFD}[2Jb\tc");
        assert!(matches!(sanitize("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
