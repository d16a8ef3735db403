//! Fuzz target: every parser of the protocol module on arbitrary input. None may panic,
//! and whatever a server line parses to must encode back to a line that parses the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolchat::protocol::{decode_line, Command, Event, Nick};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = decode_line(data) else { return };
    let _ = Command::parse(line);
    let _ = Nick::parse(line, 32);
    if let Ok(event) = Event::parse(line) {
        let wire = event.encode();
        let again = std::str::from_utf8(&wire[..wire.len() - 1]).expect("encode writes UTF-8");
        assert_eq!(Event::parse(again).as_ref(), Ok(&event), "re-encoding changed {line:?}");
    }
});
