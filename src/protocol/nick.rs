//! Nicknames: which ones are valid, and the case-folded key that makes them unique.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

/// The longest nickname the server accepts unless configured otherwise, in characters.
pub const DEFAULT_MAX_NICK: usize = 32;

/// Why a nickname was refused by [`Nick::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NickError {
    /// Nothing was given.
    #[error("nickname is empty")]
    Empty,
    /// Longer than the server's limit.
    #[error("nickname is longer than {max} characters")]
    TooLong {
        /// The limit that was exceeded, in characters.
        max: usize,
    },
    /// Holds a character other than a letter, a digit, `_` or `-`.
    #[error("nickname may only hold letters, digits, '_' and '-' (found {found:?})")]
    Invalid {
        /// The first character that is not allowed.
        found: char,
    },
}

/// A valid nickname. Cheap to clone: the room, every line and every log share one copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nick(Arc<str>);

impl Nick {
    /// Validates `text` as a nickname of at most `max` characters.
    pub fn parse(text: &str, max: usize) -> Result<Nick, NickError> {
        if text.is_empty() {
            return Err(NickError::Empty);
        }
        if let Some(found) = text.chars().find(|&c| !is_nick_char(c)) {
            return Err(NickError::Invalid { found });
        }
        if text.chars().count() > max {
            return Err(NickError::TooLong { max });
        }
        Ok(Nick(text.into()))
    }

    /// The nickname as the person typed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that decides uniqueness: `Alice` and `alice` are the same person. A
    /// nickname already in lower case is its own key and shares its allocation.
    pub fn key(&self) -> Arc<str> {
        if self.0.chars().flat_map(char::to_lowercase).eq(self.0.chars()) {
            self.0.clone()
        } else {
            self.0.to_lowercase().into()
        }
    }
}

/// The case-insensitive form of any nickname-like text, for lookups and comparisons.
pub fn nick_key(text: &str) -> String {
    text.to_lowercase()
}

fn is_nick_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

impl fmt::Display for Nick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Nick {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_letters_digits_underscore_dash_and_unicode() {
        for ok in ["alice", "Bob_2", "a-b", "Zoë", "日本語", "x"] {
            assert_eq!(Nick::parse(ok, 32).map(|n| n.to_string()), Ok(ok.to_string()));
        }
    }

    #[test]
    fn refuses_empty_spaces_and_punctuation() {
        assert_eq!(Nick::parse("", 32), Err(NickError::Empty));
        assert_eq!(Nick::parse("a b", 32), Err(NickError::Invalid { found: ' ' }));
        assert_eq!(Nick::parse("/nick", 32), Err(NickError::Invalid { found: '/' }));
        assert_eq!(Nick::parse("a\u{1b}", 32), Err(NickError::Invalid { found: '\u{1b}' }));
    }

    #[test]
    fn length_counts_characters_at_the_edge() {
        let at_limit = "é".repeat(32);
        assert!(Nick::parse(&at_limit, 32).is_ok());
        let over = "é".repeat(33);
        assert_eq!(Nick::parse(&over, 32), Err(NickError::TooLong { max: 32 }));
    }

    #[test]
    fn key_is_case_insensitive() {
        let a = Nick::parse("Alice", 32).map(|n| n.key().to_string());
        assert_eq!(a, Ok("alice".to_string()));
    }

    #[test]
    fn a_lower_case_nick_is_its_own_key() {
        let nick = Nick::parse("bob", 32).ok();
        assert!(nick.is_some_and(|n| Arc::ptr_eq(&n.0, &n.key())));
    }
}
