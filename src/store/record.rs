//! The bytes of one stored record: a small versioned binary format, written by hand so
//! that what is on disk is exactly what this file says, and read without ever panicking.
//!
//! Every record starts with [`VERSION`]; then its fields in a fixed order. Strings are a
//! u32 little-endian length and UTF-8; times are i64 little-endian milliseconds since the
//! Unix epoch (negative before it). A history record holds its time right after the
//! version, so trimming by age reads nine bytes, not the whole record.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::core::{Account, Event, Nick, RoomName, RoomRecord, Speech, Stamped, Topic};

/// The format this file writes; a record with another first byte is not read.
const VERSION: u8 = 1;

/// The longest nickname read back: longer than any server allows, so that lowering the
/// limit does not turn old records into corrupt ones.
const MAX_NICK: usize = 1024;

/// What a history record holds, after its time.
mod kind {
    /// [`Event::Message`](crate::core::Event::Message).
    pub const MESSAGE: u8 = 1;
    /// [`Event::Action`](crate::core::Event::Action).
    pub const ACTION: u8 = 2;
    /// [`Event::Notice`](crate::core::Event::Notice).
    pub const NOTICE: u8 = 3;
    /// [`Event::Private`](crate::core::Event::Private).
    pub const PRIVATE: u8 = 4;
}

/// Why a record could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The event is not something said, so it is no history.
    #[error("not history: {0}")]
    NotHistory(&'static str),
    /// A string too long for its u32 length.
    #[error("a string of {0} bytes is too long to store")]
    TooLong(usize),
    /// The bytes end before the record does.
    #[error("the record ends early")]
    Truncated,
    /// Bytes are left after the last field.
    #[error("{0} bytes follow the record")]
    Trailing(usize),
    /// Written in a format this version does not read.
    #[error("record format {0} is unknown")]
    Version(u8),
    /// A kind of event or speech that does not exist.
    #[error("unknown kind {0}")]
    Kind(u8),
    /// A string that is not UTF-8.
    #[error("a string is not UTF-8")]
    Utf8,
    /// A name that does not parse as a nickname or room name any more.
    #[error("{0:?} is not a valid name")]
    Name(String),
    /// A time a `SystemTime` cannot hold.
    #[error("time {0} ms is out of range")]
    Time(i64),
}

/// The record of something said, or why it is not history.
pub fn encode_said(said: &Stamped) -> Result<Vec<u8>, RecordError> {
    let mut out = Out::new();
    out.time(said.at);
    match &said.event {
        Event::Message { room, from, text } => out.in_room(kind::MESSAGE, room, from, text)?,
        Event::Action { room, from, text } => out.in_room(kind::ACTION, room, from, text)?,
        Event::Notice { room, from, text } => out.in_room(kind::NOTICE, room, from, text)?,
        Event::Private { from, to, text, kind } => {
            out.byte(kind::PRIVATE);
            out.str(from.as_str())?;
            out.str(to.as_str())?;
            out.str(text)?;
            out.byte(speech_byte(*kind));
        }
        other => return Err(RecordError::NotHistory(event_name(other))),
    }
    Ok(out.0)
}

/// Something said, read back from its record.
pub fn decode_said(bytes: &[u8]) -> Result<Stamped, RecordError> {
    let mut read = Reader::new(bytes)?;
    let at = read.time()?;
    let event = match read.byte()? {
        kind::MESSAGE => {
            Event::Message { room: read.room()?, from: read.nick()?, text: read.string()? }
        }
        kind::ACTION => {
            Event::Action { room: read.room()?, from: read.nick()?, text: read.string()? }
        }
        kind::NOTICE => {
            Event::Notice { room: read.room()?, from: read.nick()?, text: read.string()? }
        }
        kind::PRIVATE => Event::Private {
            from: read.nick()?,
            to: read.nick()?,
            text: read.string()?,
            kind: speech(read.byte()?)?,
        },
        other => return Err(RecordError::Kind(other)),
    };
    read.end()?;
    Ok(Stamped { at, event })
}

/// When something said was said, read from the start of its record alone.
pub fn said_at(bytes: &[u8]) -> Result<SystemTime, RecordError> {
    Reader::new(bytes)?.time()
}

/// The record of an account.
pub fn encode_account(account: &Account) -> Result<Vec<u8>, RecordError> {
    let mut out = Out::new();
    out.str(account.nick.as_str())?;
    out.str(&account.hash)?;
    out.time(account.registered);
    Ok(out.0)
}

/// An account, read back from its record.
pub fn decode_account(bytes: &[u8]) -> Result<Account, RecordError> {
    let mut read = Reader::new(bytes)?;
    let account = Account { nick: read.nick()?, hash: read.string()?, registered: read.time()? };
    read.end()?;
    Ok(account)
}

/// The record of a registered room.
pub fn encode_room(room: &RoomRecord) -> Result<Vec<u8>, RecordError> {
    let mut out = Out::new();
    out.str(room.name.as_str())?;
    out.str(&room.owner)?;
    match &room.topic {
        None => out.byte(0),
        Some(topic) => {
            out.byte(1);
            out.str(&topic.text)?;
            out.str(topic.by.as_str())?;
            out.time(topic.at);
        }
    }
    Ok(out.0)
}

/// A registered room, read back from its record.
pub fn decode_room(bytes: &[u8]) -> Result<RoomRecord, RecordError> {
    let mut read = Reader::new(bytes)?;
    let name = read.room()?;
    let owner: Arc<str> = read.str()?.into();
    let topic = match read.byte()? {
        0 => None,
        1 => Some(Topic { text: read.string()?, by: read.nick()?, at: read.time()? }),
        other => return Err(RecordError::Kind(other)),
    };
    read.end()?;
    Ok(RoomRecord { name, owner, topic })
}

/// A record being written. Other formats of the same style (the cluster's operations)
/// write with it too, under their own version.
pub(crate) struct Out(Vec<u8>);

impl Out {
    /// A record of the current format, so far holding only its version.
    fn new() -> Out {
        Out::versioned(VERSION)
    }

    /// A record of format `version`, so far holding only that.
    pub(crate) fn versioned(version: u8) -> Out {
        let mut bytes = Vec::with_capacity(64);
        bytes.push(version);
        Out(bytes)
    }

    /// The bytes written.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Appends one byte.
    pub(crate) fn byte(&mut self, byte: u8) {
        self.0.push(byte);
    }

    /// Appends a u64, little-endian.
    pub(crate) fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    /// Appends a string: its length, then its bytes.
    pub(crate) fn str(&mut self, text: &str) -> Result<(), RecordError> {
        let len = u32::try_from(text.len()).map_err(|_| RecordError::TooLong(text.len()))?;
        self.0.extend_from_slice(&len.to_le_bytes());
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// Appends a time, to the millisecond.
    pub(crate) fn time(&mut self, at: SystemTime) {
        self.0.extend_from_slice(&millis(at).to_le_bytes());
    }

    /// Appends what room talk holds: its kind, the room, the speaker and the text.
    fn in_room(
        &mut self,
        kind: u8,
        room: &RoomName,
        from: &Nick,
        text: &str,
    ) -> Result<(), RecordError> {
        self.byte(kind);
        self.str(room.as_str())?;
        self.str(from.as_str())?;
        self.str(text)
    }
}

/// A record being read, field by field; every read checks the length first. Other
/// formats of the same style read with it too.
pub(crate) struct Reader<'a> {
    /// What is left to read.
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes`, after checking their version.
    fn new(bytes: &'a [u8]) -> Result<Reader<'a>, RecordError> {
        Reader::versioned(bytes, VERSION)
    }

    /// Starts reading `bytes`, after checking that they are of format `version`.
    pub(crate) fn versioned(bytes: &'a [u8], version: u8) -> Result<Reader<'a>, RecordError> {
        let mut read = Reader { rest: bytes };
        match read.byte()? {
            found if found == version => Ok(read),
            other => Err(RecordError::Version(other)),
        }
    }

    /// The next `len` bytes.
    fn take(&mut self, len: usize) -> Result<&'a [u8], RecordError> {
        if self.rest.len() < len {
            return Err(RecordError::Truncated);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        self.take(N)?.try_into().map_err(|_| RecordError::Truncated)
    }

    /// The next byte.
    pub(crate) fn byte(&mut self) -> Result<u8, RecordError> {
        Ok(self.array::<1>()?[0])
    }

    /// The next u64.
    pub(crate) fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// The next string, borrowed from the record.
    pub(crate) fn str(&mut self) -> Result<&'a str, RecordError> {
        let len = u32::from_le_bytes(self.array()?);
        let len = usize::try_from(len).map_err(|_| RecordError::Truncated)?;
        std::str::from_utf8(self.take(len)?).map_err(|_| RecordError::Utf8)
    }

    /// The next string, owned.
    fn string(&mut self) -> Result<String, RecordError> {
        self.str().map(str::to_owned)
    }

    /// The next time.
    pub(crate) fn time(&mut self) -> Result<SystemTime, RecordError> {
        let ms = i64::from_le_bytes(self.array()?);
        time(ms).ok_or(RecordError::Time(ms))
    }

    /// The next string, as a nickname.
    pub(crate) fn nick(&mut self) -> Result<Nick, RecordError> {
        let text = self.str()?;
        Nick::parse(text, MAX_NICK).map_err(|_| RecordError::Name(text.to_owned()))
    }

    /// The next string, as a room name.
    pub(crate) fn room(&mut self) -> Result<RoomName, RecordError> {
        let text = self.str()?;
        RoomName::parse(text).map_err(|_| RecordError::Name(text.to_owned()))
    }

    /// Checks that nothing is left.
    pub(crate) fn end(&self) -> Result<(), RecordError> {
        match self.rest.len() {
            0 => Ok(()),
            left => Err(RecordError::Trailing(left)),
        }
    }
}

/// `at` in milliseconds since the Unix epoch, saturating far beyond any real date.
fn millis(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The time `ms` milliseconds after (or before, if negative) the Unix epoch, if the
/// platform's `SystemTime` reaches it.
fn time(ms: i64) -> Option<SystemTime> {
    let offset = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    }
}

/// The byte that stands for a kind of speech.
pub(crate) fn speech_byte(kind: Speech) -> u8 {
    match kind {
        Speech::Say => 0,
        Speech::Act => 1,
        Speech::Notice => 2,
        Speech::ClientQuery => 3,
        Speech::ClientAnswer => 4,
    }
}

/// The kind of speech a byte stands for.
pub(crate) fn speech(byte: u8) -> Result<Speech, RecordError> {
    Ok(match byte {
        0 => Speech::Say,
        1 => Speech::Act,
        2 => Speech::Notice,
        3 => Speech::ClientQuery,
        4 => Speech::ClientAnswer,
        other => return Err(RecordError::Kind(other)),
    })
}

/// What an event that is not history is, for the warning that says it was not kept.
fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Join { .. } => "a join",
        Event::Part { .. } => "a part",
        Event::Topic { .. } => "a topic",
        Event::Quit { .. } => "a quit",
        Event::Rename { .. } => "a rename",
        Event::Away { .. } => "an away",
        _ => "talk",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nick(text: &str) -> Nick {
        Nick::parse(text, 32).expect("a valid nickname")
    }

    fn room(text: &str) -> RoomName {
        RoomName::parse(text).expect("a valid room name")
    }

    /// A time with whole milliseconds, which survives the format exactly.
    fn at(ms: i64) -> SystemTime {
        time(ms).expect("a time in range")
    }

    fn every_said() -> Vec<Stamped> {
        let (r, a, b) = (room("#Lobby"), nick("Zoë"), nick("bob"));
        let text = "héllo\u{0}world".to_string();
        let mut said = vec![
            Event::Message { room: r.clone(), from: a.clone(), text: text.clone() },
            Event::Action { room: r.clone(), from: a.clone(), text: String::new() },
            Event::Notice { room: r, from: b.clone(), text: text.clone() },
        ];
        for kind in
            [Speech::Say, Speech::Act, Speech::Notice, Speech::ClientQuery, Speech::ClientAnswer]
        {
            let text = text.clone();
            said.push(Event::Private { from: a.clone(), to: b.clone(), text, kind });
        }
        let times = [0, -1, 1_700_000_000_123, -86_400_000_000].into_iter().cycle();
        said.into_iter().zip(times).map(stamp).collect()
    }

    fn stamp((event, ms): (Event, i64)) -> Stamped {
        Stamped { at: at(ms), event }
    }

    #[test]
    fn said_round_trips_every_kind() {
        assert_eq!(every_said().len(), 8);
        for said in every_said() {
            let bytes = encode_said(&said).expect("history");
            assert_eq!(decode_said(&bytes), Ok(said.clone()));
            assert_eq!(said_at(&bytes), Ok(said.at));
        }
    }

    #[test]
    fn only_talk_is_history() {
        let join = Stamped { at: at(5), event: Event::Join { room: room("#a"), nick: nick("a") } };
        assert_eq!(encode_said(&join), Err(RecordError::NotHistory("a join")));
    }

    #[test]
    fn accounts_round_trip() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string();
        for ms in [0, 1_700_000_000_000, -5] {
            let account = Account { nick: nick("Alice"), hash: hash.clone(), registered: at(ms) };
            let bytes = encode_account(&account).expect("an account");
            assert_eq!(decode_account(&bytes), Ok(account));
        }
    }

    #[test]
    fn rooms_round_trip_with_and_without_topic() {
        let topic = Topic { text: "welcome".into(), by: nick("Alice"), at: at(42) };
        for topic in [None, Some(topic)] {
            let record = RoomRecord { name: room("#Lobby"), owner: "alice".into(), topic };
            let bytes = encode_room(&record).expect("a room");
            assert_eq!(decode_room(&bytes), Ok(record));
        }
    }

    #[test]
    fn every_truncation_and_extension_is_an_error_not_a_panic() {
        let mut records: Vec<Vec<u8>> =
            every_said().iter().filter_map(|s| encode_said(s).ok()).collect();
        let account = Account { nick: nick("a"), hash: "h".into(), registered: at(1) };
        records.extend(encode_account(&account));
        for record in records {
            for cut in 0..record.len() {
                let part = &record[..cut];
                assert!(decode_said(part).is_err() && decode_account(part).is_err());
                assert!(decode_room(part).is_err());
            }
            let mut longer = record.clone();
            longer.push(0);
            assert!(decode_said(&longer).is_err() && decode_account(&longer).is_err());
        }
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(decode_said(&[2, 0, 0]), Err(RecordError::Version(2)));
        let huge_length = [VERSION, 0xff, 0xff, 0xff, 0xff, b'a'];
        assert_eq!(decode_account(&huge_length), Err(RecordError::Truncated));
        let not_utf8 = [VERSION, 1, 0, 0, 0, 0xff];
        assert_eq!(decode_account(&not_utf8), Err(RecordError::Utf8));
        let bad_nick =
            encode_account(&Account { nick: nick("a"), hash: String::new(), registered: at(0) })
                .map(|mut bytes| {
                    bytes[5] = b' ';
                    bytes
                });
        assert_eq!(bad_nick.map(|b| decode_account(&b)), Ok(Err(RecordError::Name(" ".into()))));
        // Every short byte string, so that no path through the reader can panic.
        for a in 0..=255u8 {
            for b in [0u8, 1, 4, 255] {
                let _ = (decode_said(&[VERSION, a, b]), decode_room(&[VERSION, a, b, a]));
            }
        }
    }

    #[test]
    fn times_before_the_epoch_and_at_the_edges() {
        assert_eq!(millis(at(-1)), -1);
        assert_eq!(millis(at(i64::MAX / 1_000_000)), i64::MAX / 1_000_000);
        assert_eq!(millis(UNIX_EPOCH), 0);
        let mut far = Out::new();
        far.0.extend_from_slice(&i64::MIN.to_le_bytes());
        assert!(matches!(said_at(&far.0), Ok(_) | Err(RecordError::Time(_))));
    }
}
