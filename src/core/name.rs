//! Names people choose: nicknames and room names, which ones are valid, and the [`Key`]
//! under which two of them are the same name or look alike.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::unicode;

/// The longest nickname the server accepts unless configured otherwise, in characters.
pub const DEFAULT_MAX_NICK: usize = 32;

/// The longest room name, in characters after the `#`.
pub const MAX_ROOM_NAME: usize = 50;

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
    /// Holds a character other than a letter, a digit, `_`, `-` or one of IRC's
    /// ``[]\`^{}|``.
    #[error("nickname may only hold letters, digits and _-[]\\`^{{}}| (found {found:?})")]
    Invalid {
        /// The first character that is not allowed.
        found: char,
    },
}

/// Why a room name was refused by [`RoomName::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoomNameError {
    /// It does not start with `#`.
    #[error("room names start with '#', as in #{0}")]
    NoHash(String),
    /// Nothing after the `#`, or more than [`MAX_ROOM_NAME`] characters.
    #[error("a room name is '#' and 1 to {MAX_ROOM_NAME} characters")]
    Length,
    /// Holds a character other than a letter, a digit, a mark, `_` or `-` after the `#`.
    #[error(
        "room names may only hold letters, digits, marks (not first), '_' and '-' after the '#' (found {found:?})"
    )]
    Invalid {
        /// The first character that is not allowed.
        found: char,
    },
}

/// What makes two names one: the same `fold` is the same name (`Alice`, `alice`,
/// `ａlice`); the same `skeleton` is a name that looks like it (`аlice` with a Cyrillic
/// `а`). Computed once per name, when it is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// NFKC and full case folding: equal folds are the same name.
    pub fold: Arc<str>,
    /// The confusables skeleton of the fold: equal skeletons look alike.
    pub skeleton: Arc<str>,
}

impl Key {
    /// The key of `name`. A name that is already its own fold shares its allocation.
    fn of(name: &Arc<str>) -> Key {
        let fold: Arc<str> = match unicode::fold(name) {
            folded if *folded == **name => name.clone(),
            folded => folded.into(),
        };
        let skeleton: Arc<str> = match unicode::skeleton(&fold) {
            skeleton if *skeleton == *fold => fold.clone(),
            skeleton => skeleton.into(),
        };
        Key { fold, skeleton }
    }
}

/// A valid nickname, as its owner wrote it. Cheap to clone: every event about its owner
/// shares one copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nick(Arc<str>);

impl Nick {
    /// Validates `text` as a nickname of at most `max` characters. The text is taken in
    /// its composed form (NFC), so an `é` typed as `e` and a combining accent is one letter.
    pub fn parse(text: &str, max: usize) -> Result<Nick, NickError> {
        let text = unicode::compose(text);
        if text.is_empty() {
            return Err(NickError::Empty);
        }
        if let Some(found) = invalid_nick_char(&text) {
            return Err(NickError::Invalid { found });
        }
        if text.chars().count() > max {
            return Err(NickError::TooLong { max });
        }
        Ok(Nick(text.into()))
    }

    /// The nickname as its owner wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What decides uniqueness, and what looks alike.
    pub fn key(&self) -> Key {
        Key::of(&self.0)
    }
}

/// A valid room name: `#` and 1 to [`MAX_ROOM_NAME`] letters, digits, `_` or `-`, as the
/// person who made the room wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomName(Arc<str>);

impl RoomName {
    /// Validates `text` as a room name (composed to NFC first, like nicknames).
    pub fn parse(text: &str) -> Result<RoomName, RoomNameError> {
        let text = unicode::compose(text);
        let Some(name) = text.strip_prefix('#') else {
            return Err(RoomNameError::NoHash(text.chars().take(MAX_ROOM_NAME).collect()));
        };
        let length = name.chars().count();
        if length == 0 || length > MAX_ROOM_NAME {
            return Err(RoomNameError::Length);
        }
        if let Some(found) = invalid_char(name) {
            return Err(RoomNameError::Invalid { found });
        }
        Ok(RoomName(text.into()))
    }

    /// The name, `#` included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What decides uniqueness, and what looks alike.
    pub fn key(&self) -> Key {
        Key::of(&self.0)
    }
}

/// The characters IRC has always allowed in nicknames besides letters and digits
/// (`nick|away`, `[tag]nick`, `nick^`), which are nicknames' only difference from room
/// names.
const NICK_SPECIALS: &str = "[]\\`^{}|";

/// The first character `nick` may not hold where it is, if any.
fn invalid_nick_char(nick: &str) -> Option<char> {
    let special = |c: char| NICK_SPECIALS.contains(c);
    let plain: String = nick.chars().map(|c| if special(c) { '_' } else { c }).collect();
    invalid_char(&plain).and_then(|found| nick.chars().find(|&c| c == found))
}

/// The first character `name` may not hold where it is, if any.
fn invalid_char(name: &str) -> Option<char> {
    let mut chars = name.chars();
    let first = chars.next().filter(|&c| !unicode::is_name_start(c) || !unicode::is_name_char(c));
    first.or_else(|| chars.find(|&c| !unicode::is_name_char(c)))
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

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RoomName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(nick: &str) -> Key {
        Nick::parse(nick, DEFAULT_MAX_NICK).map(|n| n.key()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn accepts_letters_digits_underscore_dash_and_unicode() {
        for ok in ["alice", "Bob_2", "a-b", "Zoë", "日本語", "x"] {
            assert_eq!(Nick::parse(ok, 32).map(|n| n.to_string()), Ok(ok.to_string()));
        }
    }

    #[test]
    fn nicknames_may_hold_irc_specials_and_room_names_may_not() {
        for ok in ["nick|away", "[tag]nick", "a^b", "`x`", "{a}", "back\\slash"] {
            assert_eq!(Nick::parse(ok, 32).map(|n| n.to_string()), Ok(ok.to_string()));
        }
        assert_eq!(RoomName::parse("#a|b"), Err(RoomNameError::Invalid { found: '|' }));
        assert_eq!(Nick::parse("[a b]", 32), Err(NickError::Invalid { found: ' ' }));
    }

    #[test]
    fn marks_combine_but_do_not_start_a_name() {
        assert!(Nick::parse("हिन्दी", 32).is_ok());
        assert!(RoomName::parse("#हिन्दी").is_ok());
        assert_eq!(Nick::parse("\u{94D}a", 32), Err(NickError::Invalid { found: '\u{94D}' }));
        assert_eq!(RoomName::parse("#\u{301}"), Err(RoomNameError::Invalid { found: '\u{301}' }));
    }

    #[test]
    fn refuses_empty_spaces_and_punctuation() {
        assert_eq!(Nick::parse("", 32), Err(NickError::Empty));
        assert_eq!(Nick::parse("a b", 32), Err(NickError::Invalid { found: ' ' }));
        assert_eq!(Nick::parse("/nick", 32), Err(NickError::Invalid { found: '/' }));
        assert_eq!(Nick::parse("a\u{1b}", 32), Err(NickError::Invalid { found: '\u{1b}' }));
        assert_eq!(Nick::parse("#room", 32), Err(NickError::Invalid { found: '#' }));
    }

    #[test]
    fn length_counts_characters_at_the_edge() {
        let at_limit = "é".repeat(32);
        assert!(Nick::parse(&at_limit, 32).is_ok());
        let over = "é".repeat(33);
        assert_eq!(Nick::parse(&over, 32), Err(NickError::TooLong { max: 32 }));
    }

    #[test]
    fn a_decomposed_accent_is_one_letter() {
        let nick = Nick::parse("Zoe\u{308}", 32).map(|n| n.to_string());
        assert_eq!(nick, Ok("Zoë".to_string()));
    }

    #[test]
    fn case_and_width_fold_to_one_key() {
        assert_eq!(key("Alice").fold, key("alice").fold);
        assert_eq!(key("STRASSE").fold, key("straße").fold);
        assert_eq!(key("ΣΧ").fold, key("σχ").fold);
        assert_eq!(key("ςχ").fold, key("σχ").fold);
        assert_eq!(key("ａlice").fold, key("alice").fold);
        assert_ne!(key("alice").fold, key("bob").fold);
    }

    #[test]
    fn a_lookalike_has_another_fold_but_the_same_skeleton() {
        let latin = key("alice");
        let cyrillic = key("\u{430}lice");
        assert_ne!(latin.fold, cyrillic.fold);
        assert_eq!(latin.skeleton, cyrillic.skeleton);
    }

    #[test]
    fn a_lower_case_nick_is_its_own_key() {
        let nick = Nick::parse("bob", 32).unwrap_or_else(|e| panic!("{e}"));
        let key = nick.key();
        assert!(Arc::ptr_eq(&nick.0, &key.fold));
    }

    #[test]
    fn room_names_are_hash_and_fifty_name_characters() {
        assert_eq!(RoomName::parse("#lobby").map(|r| r.to_string()), Ok("#lobby".into()));
        assert!(RoomName::parse(&format!("#{}", "é".repeat(MAX_ROOM_NAME))).is_ok());
        assert_eq!(
            RoomName::parse(&format!("#{}", "a".repeat(MAX_ROOM_NAME + 1))),
            Err(RoomNameError::Length)
        );
        assert_eq!(RoomName::parse("#"), Err(RoomNameError::Length));
        assert_eq!(RoomName::parse("lobby"), Err(RoomNameError::NoHash("lobby".into())));
        assert_eq!(RoomName::parse("#a.b"), Err(RoomNameError::Invalid { found: '.' }));
        assert_eq!(RoomName::parse("##a"), Err(RoomNameError::Invalid { found: '#' }));
    }

    #[test]
    fn room_names_fold_like_nicknames() {
        let key = |name: &str| RoomName::parse(name).map(|r| r.key()).ok();
        assert_eq!(key("#Lobby").map(|k| k.fold), key("#lobby").map(|k| k.fold));
        assert_eq!(key("#l\u{43e}bby").map(|k| k.skeleton), key("#lobby").map(|k| k.skeleton));
    }
}
