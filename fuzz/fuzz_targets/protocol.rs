//! Fuzz target: every parser of the chat and IRC protocols on arbitrary input. None may panic,
//! and whatever a server line parses to must encode back to a line that parses the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolchat::core::{Nick, RoomName};
use smolchat::proto::chat::{decode_line, Command, Line};

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = smolchat::proto::irc::decode_line(data) {
        let _ = smolchat::proto::irc::Message::parse(line);
        let _ = smolchat::proto::irc::Ctcp::parse(line);
        let _ = smolchat::proto::irc::plain(line);
    }
    let Ok(text) = decode_line(data) else { return };
    let _ = Command::parse(text);
    if let Ok(nick) = Nick::parse(text, 32) {
        let _ = nick.key();
    }
    if let Ok(room) = RoomName::parse(text) {
        let _ = room.key();
    }
    if let Ok(line) = Line::parse(text) {
        let wire = line.encode();
        let again = std::str::from_utf8(&wire[..wire.len() - 1]).expect("encode writes UTF-8");
        assert_eq!(Line::parse(again).as_ref(), Ok(&line), "re-encoding changed {text:?}");
    }
});
