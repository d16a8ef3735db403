//! Fuzz target: the server's line reader on arbitrary bytes cut at arbitrary places. It
//! must never hold more than the limit, never return a line over it, and treat every line
//! the way the server does (text check, then command parse) without panicking. An idle
//! reader gives its buffer back between reads; the fuzzer decides when that happens.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smolchat::proto::chat::{decode_line, Command, Frame, LineFramer};

fuzz_target!(|data: &[u8]| {
    let [limit, cut, release, stream @ ..] = data else { return };
    let max = 16 + usize::from(*limit);
    let cut = 1 + usize::from(*cut);
    let mut framer = LineFramer::new(max);
    for (index, piece) in stream.chunks(cut).enumerate() {
        if release >> (index % 8) & 1 == 1 {
            framer.release_if_empty();
        }
        let mut piece = piece;
        while !piece.is_empty() {
            let spare = framer.spare();
            let n = spare.len().min(piece.len());
            spare[..n].copy_from_slice(&piece[..n]);
            framer.commit(n);
            piece = &piece[n..];
            while let Some(frame) = framer.next_frame() {
                if let Frame::Line(range) = frame {
                    let bytes = &framer.bytes()[range];
                    assert!(bytes.len() <= max + 1, "a line over the limit got through");
                    if let Ok(text) = decode_line(bytes) {
                        let _ = Command::parse(text);
                    }
                }
            }
            assert!(framer.pending() <= max + 2, "the framer held more than the limit");
        }
    }
});
