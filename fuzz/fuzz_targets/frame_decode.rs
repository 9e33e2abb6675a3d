//! Decodes arbitrary bytes with each framing and a small limit, checking that every frame lies
//! inside the buffer, makes progress, respects the limit and re-encodes to the bytes it came
//! from; and that feeding the same stream in chunks gives exactly what feeding it whole gives.
//!
//! Input: byte 0 picks the limit, byte 1 seeds the chunk sizes, the rest is the stream.

#![no_main]

use std::ops::Range;

use libfuzzer_sys::fuzz_target;
use sockbox_net::addr::Framing;
use sockbox_net::frame::{encode, header_len, Decoder, Frame, FrameError};

/// The frames decoded from a stream (payloads as offsets into it) and how decoding ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    payloads: Vec<Range<usize>>,
    end: Result<usize, FrameError>,
}

/// Check one frame decoded from `buf`, the undecoded bytes it was given.
fn check(framing: Framing, max: usize, buf: &[u8], frame: &Frame, at_eof: bool) {
    assert!(frame.consumed > 0, "no progress: {frame:?}");
    assert!(
        frame.consumed <= buf.len(),
        "{frame:?} beyond {} bytes",
        buf.len()
    );
    assert!(frame.payload.start <= frame.payload.end && frame.payload.end <= frame.consumed);
    let payload = frame.payload_of(buf);
    assert!(payload.len() <= max, "{frame:?} over the {max}-byte limit");
    match framing {
        Framing::Len32 | Framing::Len16 => {
            assert_eq!(frame.payload.start, header_len(framing));
            assert_eq!(frame.payload.end, frame.consumed);
        }
        Framing::Line => {
            assert_eq!(frame.payload.start, 0);
            assert!(!payload.contains(&b'\n'));
        }
    }
    // Re-encoding gives back the consumed bytes, except for the unterminated last line.
    let unterminated = at_eof && framing == Framing::Line && frame.consumed == frame.payload.end;
    if !unterminated {
        let mut again = Vec::new();
        encode(framing, payload, &mut again).unwrap();
        assert_eq!(again, &buf[..frame.consumed]);
    }
}

/// Decode `stream`, making `chunk()` more bytes visible whenever the decoder asks for more,
/// then drain it at end of stream.
fn run(framing: Framing, max: usize, stream: &[u8], mut chunk: impl FnMut() -> usize) -> Outcome {
    let mut decoder = Decoder::new(framing, max);
    let mut payloads = Vec::new();
    let mut start = 0;
    let mut visible = 0;
    let end = loop {
        let at_eof = visible == stream.len();
        let buf = &stream[start..visible];
        let step = if at_eof {
            decoder.decode_eof(buf)
        } else {
            decoder.decode(buf)
        };
        match step {
            Ok(Some(frame)) => {
                check(framing, max, buf, &frame, at_eof);
                payloads.push(start + frame.payload.start..start + frame.payload.end);
                start += frame.consumed;
            }
            Ok(None) if at_eof => {
                assert_eq!(start, stream.len(), "decode_eof left bytes behind");
                break Ok(start);
            }
            Ok(None) => visible = (visible + chunk().max(1)).min(stream.len()),
            Err(e) => break Err(e),
        }
    };
    Outcome { payloads, end }
}

fuzz_target!(|data: &[u8]| {
    let [limit, seed, stream @ ..] = data else {
        return;
    };
    // Mostly tiny limits so that the limit checks are reached; sometimes the default.
    let max = if limit & 0x80 != 0 {
        sockbox_net::frame::DEFAULT_MAX_FRAME
    } else {
        usize::from(limit & 0x3f)
    };
    for framing in [Framing::Len32, Framing::Len16, Framing::Line] {
        let whole = run(framing, max, stream, || stream.len());
        let mut state = u32::from(*seed) | 1;
        let chunked = run(framing, max, stream, || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as usize % 17
        });
        assert_eq!(whole, chunked, "{framing:?}, max {max}");
    }
});
