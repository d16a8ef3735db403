//! The stable codes of `ERROR` lines: what went wrong, for programs.

use std::fmt;

/// The stable error codes of `ERROR` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// The nickname is in use (under case folding).
    NickTaken,
    /// The nickname looks like one in use (a confusable of it).
    NickConfusable,
    /// The nickname holds characters that are not allowed, or is empty.
    NickInvalid,
    /// The nickname is longer than the limit.
    NickTooLong,
    /// The room name is not `#` and 1 to 50 letters, digits, `_` or `-`.
    RoomInvalid,
    /// The room name looks like that of a room that exists (a confusable of it).
    RoomConfusable,
    /// No room of that name exists.
    NoSuchRoom,
    /// The command needs you in that room (or in some room) and you are not.
    NotInRoom,
    /// You are in as many rooms as one person may be.
    TooManyRooms,
    /// The server has as many rooms as it may have.
    ServerRoomsFull,
    /// The topic is longer than the limit.
    TopicTooLong,
    /// The line was longer than the limit; it was dropped.
    LineTooLong,
    /// The line was not UTF-8; it was dropped.
    InvalidUtf8,
    /// The line held a control character or a bidirectional control; it was dropped.
    ControlChar,
    /// The command does not exist.
    UnknownCommand,
    /// The command lacked arguments.
    Usage,
    /// `/msg` named someone who is not online.
    NoSuchNick,
    /// The server is at its client limit.
    ServerFull,
    /// No nickname was chosen in time.
    HandshakeTimeout,
    /// Too many connections from this IP address.
    TooManyConnections,
    /// Over the flood rate: the line was dropped (a warning).
    RateLimited,
    /// Stayed over the flood rate: disconnected.
    Flood,
    /// A started line was not finished in time: disconnected.
    LineTimeout,
    /// A `PING` went unanswered: disconnected.
    PingTimeout,
    /// The answer to `PASS` was not the server password; it is asked again.
    BadPassword,
    /// Too many wrong passwords from this IP address: disconnected, and refused until
    /// the address's budget refills.
    TooManyPasswords,
    /// Plain text at a TLS listener (`chats://`): told once, then closed.
    TlsRequired,
    /// `/register` of a nickname that is registered already.
    AccountExists,
    /// `/identify` (or `/history NICK`) of a nickname that is not registered.
    NoAccount,
    /// `/identify` with the wrong password.
    WrongPassword,
    /// Too many wrong `/identify` passwords from this address or for this account.
    TooManyGuesses,
    /// A password that cannot be an account's (length, spaces).
    PasswordInvalid,
    /// The command needs you identified.
    NotIdentified,
    /// `/register-room` of a room registered already.
    RoomRegistered,
    /// `/register-room` by an account that owns `--max-rooms-per-account` rooms already.
    TooManyOwnedRooms,
    /// `/register` while the server keeps `--max-accounts` accounts already.
    ServerAccountsFull,
    /// Setting the topic of a registered room, or `/kick`, by someone who does not own it.
    NotOwner,
    /// `/kick` of someone who is not in the room.
    NotMember,
    /// The store could not keep it; try again.
    StoreFailed,
    /// The cluster's servers cannot order anything now (Redis is out of reach): nothing
    /// was done; try again.
    ClusterUnavailable,
    /// A code this version does not know, kept as sent.
    Other(String),
}

const CODES: &[(ErrorCode, &str)] = &[
    (ErrorCode::NickTaken, "nick-taken"),
    (ErrorCode::NickConfusable, "nick-confusable"),
    (ErrorCode::NickInvalid, "nick-invalid"),
    (ErrorCode::NickTooLong, "nick-too-long"),
    (ErrorCode::RoomInvalid, "room-invalid"),
    (ErrorCode::RoomConfusable, "room-confusable"),
    (ErrorCode::NoSuchRoom, "no-such-room"),
    (ErrorCode::NotInRoom, "not-in-room"),
    (ErrorCode::TooManyRooms, "too-many-rooms"),
    (ErrorCode::ServerRoomsFull, "server-rooms-full"),
    (ErrorCode::TopicTooLong, "topic-too-long"),
    (ErrorCode::LineTooLong, "line-too-long"),
    (ErrorCode::InvalidUtf8, "invalid-utf8"),
    (ErrorCode::ControlChar, "control-char"),
    (ErrorCode::UnknownCommand, "unknown-command"),
    (ErrorCode::Usage, "usage"),
    (ErrorCode::NoSuchNick, "no-such-nick"),
    (ErrorCode::ServerFull, "server-full"),
    (ErrorCode::HandshakeTimeout, "handshake-timeout"),
    (ErrorCode::TooManyConnections, "too-many-connections"),
    (ErrorCode::RateLimited, "rate-limited"),
    (ErrorCode::Flood, "flood"),
    (ErrorCode::LineTimeout, "line-timeout"),
    (ErrorCode::PingTimeout, "ping-timeout"),
    (ErrorCode::BadPassword, "bad-password"),
    (ErrorCode::TooManyPasswords, "too-many-passwords"),
    (ErrorCode::TlsRequired, "tls-required"),
    (ErrorCode::AccountExists, "account-exists"),
    (ErrorCode::NoAccount, "no-account"),
    (ErrorCode::WrongPassword, "wrong-password"),
    (ErrorCode::TooManyGuesses, "too-many-guesses"),
    (ErrorCode::PasswordInvalid, "password-invalid"),
    (ErrorCode::NotIdentified, "not-identified"),
    (ErrorCode::RoomRegistered, "room-registered"),
    (ErrorCode::TooManyOwnedRooms, "too-many-owned-rooms"),
    (ErrorCode::ServerAccountsFull, "server-accounts-full"),
    (ErrorCode::NotOwner, "not-owner"),
    (ErrorCode::NotMember, "not-member"),
    (ErrorCode::StoreFailed, "store-failed"),
    (ErrorCode::ClusterUnavailable, "cluster-unavailable"),
];

impl ErrorCode {
    /// The code as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Other(code) => code,
            known => CODES.iter().find(|(c, _)| c == known).map_or("other", |(_, s)| s),
        }
    }

    /// Reads a code from the wire; unknown codes are kept as [`ErrorCode::Other`].
    pub fn from_wire(code: &str) -> ErrorCode {
        CODES
            .iter()
            .find(|(_, s)| *s == code)
            .map_or_else(|| ErrorCode::Other(code.to_string()), |(c, _)| c.clone())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_round_trips() {
        for (code, text) in CODES {
            assert_eq!(code.as_str(), *text);
            assert_eq!(ErrorCode::from_wire(text), code.clone());
        }
    }
}
