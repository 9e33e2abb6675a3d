//! The frame codec: cuts a byte stream into messages and turns messages back into a stream.
//!
//! The relay uses it where a stream endpoint (`tcp`, `unix`, a pipe) meets a message endpoint
//! (`udp`, `unix-dgram`, `seqpacket`): each decoded frame becomes one datagram, and each
//! datagram is written to the stream as one frame. The wire formats are the [`Framing`]
//! variants: `len32` (4-byte big-endian length, then the payload), `len16` (2-byte big-endian
//! length, then the payload) and `line` (the payload, then `\n`).
//!
//! The codec is pure, in the manner of mini-redis's `frame.rs`: bytes in, frames out, no
//! sockets and no I/O. Whoever owns the socket owns the buffer; [`Decoder::decode`] looks at
//! the front of it and answers with a [`Frame`] (where the payload is and how many bytes to
//! drop), `Ok(None)` when more bytes are needed, or an error when the stream can never become
//! valid. That keeps the hot path allocation-free (a frame is two offsets into the caller's
//! buffer) and lets every edge case be tested, and fuzzed, without a socket.
//!
//! Hostile input is bounded by `max_frame`: a length header claiming more is
//! [`FrameError::TooLarge`] as soon as the header is seen, before any byte of payload is
//! waited for, and a line that runs past `max_frame` bytes without a newline is
//! [`FrameError::LineTooLong`]. A caller that grows its buffer only until `decode` answers
//! therefore never holds more than `max_frame` plus one header of undecoded bytes.

use std::fmt;
use std::ops::{Deref, Range};

use crate::addr::Framing;

/// The default limit on a decoded payload: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// Why a stream cannot be framed, or a message cannot be encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// A `len16`/`len32` header announces a payload longer than the decoder's limit.
    #[error("frame header claims {claimed} bytes, more than the {max}-byte limit")]
    TooLarge { claimed: u64, max: usize },
    /// More than `max` bytes arrived without a newline in `line` framing.
    #[error("line longer than {max} bytes without a newline")]
    LineTooLong { max: usize },
    /// A payload too long for its length prefix (65535 bytes for `len16`, 4 GiB - 1 for
    /// `len32`).
    #[error(
        "message of {len} bytes does not fit its frame's length prefix \
         (len16 holds at most 65535 bytes, len32 at most 4294967295)"
    )]
    TooLargeToEncode { len: usize },
    /// The stream ended inside a `len16`/`len32` frame. `need` counts the whole frame, header
    /// included (just the header's size when even the header is incomplete).
    #[error("stream ended inside a frame: {have} of its {need} bytes arrived")]
    Truncated { have: usize, need: u64 },
}

/// One complete frame at the front of the buffer given to [`Decoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Where the message is, as offsets into that buffer.
    pub payload: Range<usize>,
    /// How many bytes the frame occupies (header, payload and newline); drop them before the
    /// next call.
    pub consumed: usize,
}

impl Frame {
    /// The payload as a slice of `buf`, the buffer this frame was decoded from.
    pub fn payload_of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.payload.clone()]
    }
}

/// Size of the length prefix of a framing: 4, 2, or 0 for `line`.
pub fn header_len(framing: Framing) -> usize {
    match framing {
        Framing::Len32 => 4,
        Framing::Len16 => 2,
        Framing::Line => 0,
    }
}

/// Cuts frames off the front of a growing buffer.
///
/// The caller appends what it reads to its buffer and calls [`decode`](Self::decode) with the
/// undecoded bytes; on `Some(frame)` it drops `frame.consumed` bytes from the front and calls
/// again, on `None` it reads more, and at end of stream it calls
/// [`decode_eof`](Self::decode_eof) until that returns `None`. Between calls that return
/// `None` the buffer may only grow at the end: in `line` framing the decoder remembers how far
/// it has searched for a newline and does not search those bytes again, so a line arriving a
/// byte at a time costs linear time, not quadratic. [`reset`](Self::reset) forgets that
/// position when the buffer is replaced.
#[derive(Debug, Clone)]
pub struct Decoder {
    framing: Framing,
    max_frame: usize,
    /// `line` framing: bytes at the front of the buffer already known to hold no newline.
    scanned: usize,
}

impl Decoder {
    /// A decoder for `framing` that accepts payloads of at most `max_frame` bytes
    /// ([`DEFAULT_MAX_FRAME`] unless the user chose otherwise). The limit applies to all three
    /// framings; `len16` payloads can in any case not exceed 65535 bytes.
    pub fn new(framing: Framing, max_frame: usize) -> Self {
        Decoder {
            framing,
            max_frame,
            scanned: 0,
        }
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Forget how far a `line` search got, for when the buffer is replaced rather than grown.
    pub fn reset(&mut self) {
        self.scanned = 0;
    }

    /// Look at the front of `buf`: `Ok(Some(frame))` when a whole frame is there,
    /// `Ok(None)` when more bytes are needed, `Err` when the stream can never be valid.
    ///
    /// In `line` framing the payload excludes the `\n`; a `\r\n` ending keeps the `\r` in the
    /// payload (the codec does not guess at line-ending conventions). An empty line is a frame
    /// with an empty payload, as is a zero-length `len16`/`len32` frame.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        match self.framing {
            Framing::Len32 => self.decode_len(buf, 4),
            Framing::Len16 => self.decode_len(buf, 2),
            Framing::Line => self.decode_line(buf),
        }
    }

    /// Like [`decode`](Self::decode), for when the stream has ended and `buf` is all that is
    /// left. Complete frames still come out one per call, and `Ok(None)` means `buf` is empty.
    /// In `line` framing a final line without a newline is a frame of its own (as `read` in a
    /// shell returns it); in `len16`/`len32` framing leftover bytes are
    /// [`FrameError::Truncated`].
    pub fn decode_eof(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if buf.is_empty() {
            return Ok(None);
        }
        match self.framing {
            Framing::Line => {
                // decode() returned None, so buf holds no newline and at most max_frame bytes.
                self.scanned = 0;
                Ok(Some(Frame {
                    payload: 0..buf.len(),
                    consumed: buf.len(),
                }))
            }
            Framing::Len32 | Framing::Len16 => {
                let header = header_len(self.framing);
                let need = match read_len(buf, header) {
                    Some(claimed) => header as u64 + claimed,
                    None => header as u64,
                };
                Err(FrameError::Truncated {
                    have: buf.len(),
                    need,
                })
            }
        }
    }

    fn decode_len(&self, buf: &[u8], header: usize) -> Result<Option<Frame>, FrameError> {
        let Some(claimed) = read_len(buf, header) else {
            return Ok(None);
        };
        // Checked before waiting for the payload, so a hostile header costs nothing.
        if claimed > self.max_frame as u64 {
            return Err(FrameError::TooLarge {
                claimed,
                max: self.max_frame,
            });
        }
        // claimed <= max_frame, a usize, so neither the cast nor the sum can overflow.
        let end = header + claimed as usize;
        if buf.len() < end {
            return Ok(None);
        }
        Ok(Some(Frame {
            payload: header..end,
            consumed: end,
        }))
    }

    fn decode_line(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        // A line of max_frame bytes needs max_frame + 1 with its newline; search no further.
        let window = buf.len().min(self.max_frame.saturating_add(1));
        let start = self.scanned.min(window);
        match find_newline(&buf[start..window]) {
            Some(i) => {
                let newline = start + i;
                self.scanned = 0;
                Ok(Some(Frame {
                    payload: 0..newline,
                    consumed: newline + 1,
                }))
            }
            None if buf.len() > self.max_frame => Err(FrameError::LineTooLong {
                max: self.max_frame,
            }),
            None => {
                self.scanned = window;
                Ok(None)
            }
        }
    }
}

/// The big-endian length in the first `header` bytes of `buf`, if they have arrived.
fn read_len(buf: &[u8], header: usize) -> Option<u64> {
    let prefix = buf.get(..header)?;
    Some(prefix.iter().fold(0, |n, &b| n << 8 | u64::from(b)))
}

/// Position of the first `\n` in `hay`, eight bytes at a time.
///
/// `std` has no public memchr and the crate takes no dependency for one; this SWAR loop
/// measured two to four times faster than `iter().position()` (16-byte to 1 MiB lines).
fn find_newline(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = LO * b'\n' as u64;

    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        // A byte of `x` is zero where the chunk has a newline; the expression is non-zero
        // exactly when some byte of `x` is zero.
        let x = u64::from_ne_bytes(word) ^ NEWLINES;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        offset += 8;
    }
    hay[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| offset + i)
}

/// The length prefix of a frame: a few bytes on the stack, used as a `&[u8]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderBytes {
    bytes: [u8; 4],
    len: u8,
}

impl Deref for HeaderBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for HeaderBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for HeaderBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HeaderBytes").field(&&**self).finish()
    }
}

/// The bytes to write before a payload of `len` bytes: its big-endian length for
/// `len16`/`len32`, nothing for `line`. A payload too long for the prefix is
/// [`FrameError::TooLargeToEncode`]; the peer's own limit is not known here.
pub fn header(framing: Framing, len: usize) -> Result<HeaderBytes, FrameError> {
    let too_large = |_| FrameError::TooLargeToEncode { len };
    let mut bytes = [0; 4];
    let n = match framing {
        Framing::Len32 => {
            bytes = u32::try_from(len).map_err(too_large)?.to_be_bytes();
            4
        }
        Framing::Len16 => {
            let prefix = u16::try_from(len).map_err(too_large)?.to_be_bytes();
            bytes[..2].copy_from_slice(&prefix);
            2
        }
        Framing::Line => 0,
    };
    Ok(HeaderBytes { bytes, len: n })
}

/// The bytes to write after a payload: `\n` in `line` framing unless the payload already ends
/// with one (`ends_with_newline`, so that text lines are not doubled), nothing otherwise.
///
/// A `line` payload with newlines inside it arrives at the peer as several messages; only
/// `len16`/`len32` carry arbitrary bytes.
pub fn trailer(framing: Framing, ends_with_newline: bool) -> &'static [u8] {
    match framing {
        Framing::Line if !ends_with_newline => b"\n",
        Framing::Line | Framing::Len32 | Framing::Len16 => b"",
    }
}

/// Append one framed message (header, payload, trailer) to `out`. For tests and small
/// writers; the relay writes [`header`], the payload and [`trailer`] without copying.
pub fn encode(framing: Framing, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    let header = header(framing, payload.len())?;
    let trailer = trailer(framing, payload.last() == Some(&b'\n'));
    out.reserve(header.len() + payload.len() + trailer.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    out.extend_from_slice(trailer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [Framing; 3] = [Framing::Len32, Framing::Len16, Framing::Line];

    fn encode_all(framing: Framing, messages: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in messages {
            encode(framing, m, &mut out).unwrap();
        }
        out
    }

    /// What a connection does: append each chunk, decode all complete frames, drop them; at
    /// the end drain with `decode_eof`.
    fn decode_chunked(
        decoder: &mut Decoder,
        stream: &[u8],
        chunks: impl IntoIterator<Item = usize>,
    ) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut pending = Vec::new();
        let mut messages = Vec::new();
        let mut rest = stream;
        let mut chunks = chunks.into_iter();
        while !rest.is_empty() {
            let n = chunks.next().unwrap_or(rest.len()).clamp(1, rest.len());
            pending.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(frame) = decoder.decode(&pending)? {
                assert!(frame.consumed > 0 && frame.consumed <= pending.len());
                messages.push(frame.payload_of(&pending).to_vec());
                pending.drain(..frame.consumed);
            }
        }
        while let Some(frame) = decoder.decode_eof(&pending)? {
            messages.push(frame.payload_of(&pending).to_vec());
            pending.drain(..frame.consumed);
        }
        assert!(pending.is_empty());
        Ok(messages)
    }

    fn decode_one(framing: Framing, max: usize, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        Decoder::new(framing, max).decode(buf)
    }

    #[test]
    fn len32_frame() {
        let buf = b"\0\0\0\x05hello\0\0\0\x01!";
        let mut d = Decoder::new(Framing::Len32, DEFAULT_MAX_FRAME);
        let frame = d.decode(buf).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                payload: 4..9,
                consumed: 9
            }
        );
        assert_eq!(frame.payload_of(buf), b"hello");
        let frame = d.decode(&buf[9..]).unwrap().unwrap();
        assert_eq!(frame.payload_of(&buf[9..]), b"!");
        assert_eq!(frame.consumed, 5);
    }

    #[test]
    fn len16_frame() {
        let buf = b"\x00\x03abcdef";
        let frame = decode_one(Framing::Len16, DEFAULT_MAX_FRAME, buf)
            .unwrap()
            .unwrap();
        assert_eq!(
            frame,
            Frame {
                payload: 2..5,
                consumed: 5
            }
        );
        assert_eq!(frame.payload_of(buf), b"abc");
    }

    #[test]
    fn len16_header_is_big_endian() {
        let mut buf = vec![0x01, 0x02];
        buf.resize(2 + 0x0102, b'x');
        let frame = decode_one(Framing::Len16, DEFAULT_MAX_FRAME, &buf)
            .unwrap()
            .unwrap();
        assert_eq!(frame.consumed, 2 + 258);
    }

    #[test]
    fn line_frames() {
        let buf = b"one\n\ntwo\r\nrest";
        let mut d = Decoder::new(Framing::Line, DEFAULT_MAX_FRAME);
        let mut at = 0;
        let mut got = Vec::new();
        while let Some(frame) = d.decode(&buf[at..]).unwrap() {
            got.push(frame.payload_of(&buf[at..]).to_vec());
            at += frame.consumed;
        }
        // The empty line is a message; "\r\n" keeps its '\r'; "rest" waits for its newline.
        assert_eq!(got, [&b"one"[..], b"", b"two\r"]);
        assert_eq!(&buf[at..], b"rest");
    }

    #[test]
    fn zero_length_frames() {
        for framing in [Framing::Len32, Framing::Len16] {
            let stream = encode_all(framing, &[b"", b"", b"x", b""]);
            assert_eq!(stream.len(), 4 * header_len(framing) + 1);
            let frame = decode_one(framing, 0, &stream).unwrap().unwrap();
            assert_eq!(frame.payload, header_len(framing)..header_len(framing));
            assert_eq!(frame.consumed, header_len(framing));
            let got = decode_chunked(&mut Decoder::new(framing, 1), &stream, []).unwrap();
            assert_eq!(got, [&b""[..], b"", b"x", b""]);
        }
        let frame = decode_one(Framing::Line, 0, b"\n").unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                payload: 0..0,
                consumed: 1
            }
        );
    }

    /// Every prefix of a multi-frame stream yields exactly the frames wholly inside it, then
    /// `None`; and feeding the prefix before the rest changes nothing.
    #[test]
    fn incomplete_at_every_split_point() {
        let messages: [&[u8]; 5] = [b"first", b"", b"a", b"\x00\x01\x02 binary-ish", b"last one"];
        for framing in ALL {
            let stream = encode_all(framing, &messages);
            let mut ends = Vec::new();
            let mut end = 0;
            for m in messages {
                end += header_len(framing) + m.len() + usize::from(framing == Framing::Line);
                ends.push(end);
            }
            assert_eq!(end, stream.len());
            for split in 0..=stream.len() {
                let prefix = &stream[..split];
                let mut d = Decoder::new(framing, DEFAULT_MAX_FRAME);
                let mut at = 0;
                let mut complete = 0;
                while let Some(frame) = d.decode(&prefix[at..]).unwrap() {
                    assert_eq!(frame.payload_of(&prefix[at..]), messages[complete]);
                    at += frame.consumed;
                    complete += 1;
                }
                let expected = ends.iter().filter(|&&e| e <= split).count();
                assert_eq!(complete, expected, "{framing:?} split at {split}");
                // The same decoder, now given the grown buffer, finds the remaining frames.
                while let Some(frame) = d.decode(&stream[at..]).unwrap() {
                    assert_eq!(frame.payload_of(&stream[at..]), messages[complete]);
                    at += frame.consumed;
                    complete += 1;
                }
                assert_eq!((complete, at), (messages.len(), stream.len()));

                let got = decode_chunked(
                    &mut Decoder::new(framing, DEFAULT_MAX_FRAME),
                    &stream,
                    [split, 1, 2, 3],
                )
                .unwrap();
                assert_eq!(got, messages);
            }
        }
    }

    #[test]
    fn max_boundary_len() {
        for (framing, max) in [
            (Framing::Len32, 1000),
            (Framing::Len16, 1000),
            (Framing::Len16, 65534),
        ] {
            let mut at_max = Vec::new();
            encode(framing, &vec![7; max], &mut at_max).unwrap();
            let frame = decode_one(framing, max, &at_max).unwrap().unwrap();
            assert_eq!(frame.payload.len(), max);

            let mut over = Vec::new();
            encode(framing, &vec![7; max + 1], &mut over).unwrap();
            // Rejected from the header alone, and with the whole payload present.
            for buf in [&over[..header_len(framing)], &over[..]] {
                assert_eq!(
                    decode_one(framing, max, buf),
                    Err(FrameError::TooLarge {
                        claimed: max as u64 + 1,
                        max
                    })
                );
            }
        }
    }

    #[test]
    fn len16_accepts_its_whole_range_with_a_larger_max() {
        let mut buf = Vec::new();
        encode(Framing::Len16, &[1; 65535], &mut buf).unwrap();
        let frame = decode_one(Framing::Len16, DEFAULT_MAX_FRAME, &buf)
            .unwrap()
            .unwrap();
        assert_eq!(frame.consumed, 65537);
    }

    #[test]
    fn max_boundary_line() {
        let max = 10;
        let mut line = vec![b'x'; max];
        line.push(b'\n');
        let frame = decode_one(Framing::Line, max, &line).unwrap().unwrap();
        assert_eq!(frame.payload, 0..max);

        let too_long = [b'x'; 11];
        // max bytes without a newline may still become a line; max + 1 cannot.
        assert_eq!(decode_one(Framing::Line, max, &too_long[..max]), Ok(None));
        assert_eq!(
            decode_one(Framing::Line, max, &too_long),
            Err(FrameError::LineTooLong { max })
        );
        let mut over = too_long.to_vec();
        over.push(b'\n');
        assert_eq!(
            decode_one(Framing::Line, max, &over),
            Err(FrameError::LineTooLong { max })
        );
        // Fed a byte at a time, the error comes at byte max + 1.
        let mut d = Decoder::new(Framing::Line, max);
        for n in 0..=max {
            assert_eq!(d.decode(&too_long[..n]), Ok(None));
        }
        assert_eq!(d.decode(&too_long), Err(FrameError::LineTooLong { max }));
    }

    /// The decoder returns offsets, never buffers, so a header's claim cannot turn into an
    /// allocation; it is rejected from the 4 header bytes alone.
    #[test]
    fn four_gib_header_is_too_large() {
        let header = [0xff; 4];
        for max in [0, DEFAULT_MAX_FRAME, u32::MAX as usize - 1] {
            assert_eq!(
                decode_one(Framing::Len32, max, &header),
                Err(FrameError::TooLarge {
                    claimed: u64::from(u32::MAX),
                    max
                })
            );
        }
        assert_eq!(
            decode_one(Framing::Len32, DEFAULT_MAX_FRAME, &[0x80, 0, 0, 0, 1, 2]),
            Err(FrameError::TooLarge {
                claimed: 1 << 31,
                max: DEFAULT_MAX_FRAME
            })
        );
        // With a limit above the claim, it is just an incomplete frame.
        assert_eq!(decode_one(Framing::Len32, usize::MAX, &header), Ok(None));
    }

    #[test]
    fn eof_line_yields_the_unterminated_line() {
        let mut d = Decoder::new(Framing::Line, DEFAULT_MAX_FRAME);
        let buf = b"a\nlast";
        let frame = d.decode_eof(buf).unwrap().unwrap();
        assert_eq!(frame.payload_of(buf), b"a");
        let rest = &buf[frame.consumed..];
        assert_eq!(d.decode(rest), Ok(None));
        let frame = d.decode_eof(rest).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame {
                payload: 0..4,
                consumed: 4
            }
        );
        assert_eq!(d.decode_eof(b""), Ok(None));
        // A final "\r" is a one-byte line, not swallowed.
        assert_eq!(d.decode_eof(b"\r").unwrap().unwrap().payload, 0..1);
    }

    #[test]
    fn eof_len_leftovers_are_truncated() {
        let mut stream = Vec::new();
        encode(Framing::Len32, b"whole", &mut stream).unwrap();
        encode(Framing::Len32, b"cut short", &mut stream).unwrap();
        let mut d = Decoder::new(Framing::Len32, DEFAULT_MAX_FRAME);
        let cut = &stream[..stream.len() - 3];
        let frame = d.decode_eof(cut).unwrap().unwrap();
        assert_eq!(frame.payload_of(cut), b"whole");
        assert_eq!(
            d.decode_eof(&cut[frame.consumed..]),
            Err(FrameError::Truncated { have: 10, need: 13 })
        );
        // Even the header incomplete.
        assert_eq!(
            d.decode_eof(&[0, 0]),
            Err(FrameError::Truncated { have: 2, need: 4 })
        );
        let mut d16 = Decoder::new(Framing::Len16, DEFAULT_MAX_FRAME);
        assert_eq!(
            d16.decode_eof(&[0]),
            Err(FrameError::Truncated { have: 1, need: 2 })
        );
        assert_eq!(
            d16.decode_eof(&[0, 5, b'a']),
            Err(FrameError::Truncated { have: 3, need: 7 })
        );
        assert_eq!(d16.decode_eof(&[]), Ok(None));
        // A header that is too large is that error, not Truncated.
        assert!(matches!(
            Decoder::new(Framing::Len16, 4).decode_eof(&[0, 5]),
            Err(FrameError::TooLarge { .. })
        ));
    }

    /// The decoder resumes its newline search where it stopped: bytes it already passed over
    /// are not looked at again (here made visible by changing one behind its back).
    #[test]
    fn line_search_resumes_where_it_stopped() {
        let mut d = Decoder::new(Framing::Line, DEFAULT_MAX_FRAME);
        assert_eq!(d.decode(b"abc"), Ok(None));
        assert_eq!(d.decode(b"a\ncdef"), Ok(None));
        let frame = d.decode(b"a\ncdef\n").unwrap().unwrap();
        assert_eq!(frame.payload, 0..6);
        // After a frame the search starts over on the caller's shifted buffer.
        assert_eq!(d.decode(b"x\n").unwrap().unwrap().payload, 0..1);
        // reset() forgets the position; a shrunken buffer is clamped, not a panic.
        assert_eq!(d.decode(b"abcd"), Ok(None));
        assert_eq!(d.decode(b"\n"), Ok(None));
        d.reset();
        assert_eq!(d.decode(b"\n").unwrap().unwrap().payload, 0..0);
    }

    #[test]
    fn header_and_trailer() {
        assert_eq!(&*header(Framing::Len32, 0x0102_0304).unwrap(), [1, 2, 3, 4]);
        assert_eq!(&*header(Framing::Len16, 0x0102).unwrap(), [1, 2]);
        assert_eq!(&*header(Framing::Len16, 65535).unwrap(), [0xff, 0xff]);
        assert_eq!(header(Framing::Line, 123).unwrap().len(), 0);
        assert_eq!(
            header(Framing::Len16, 65536),
            Err(FrameError::TooLargeToEncode { len: 65536 })
        );
        let just_over = u32::MAX as usize + 1;
        assert_eq!(
            header(Framing::Len32, just_over),
            Err(FrameError::TooLargeToEncode { len: just_over })
        );
        assert_eq!(
            &*header(Framing::Len32, u32::MAX as usize).unwrap(),
            [0xff; 4]
        );
        assert_eq!(
            format!("{:?}", header(Framing::Len16, 1).unwrap()),
            "HeaderBytes([0, 1])"
        );

        assert_eq!(trailer(Framing::Line, false), b"\n");
        assert_eq!(trailer(Framing::Line, true), b"");
        for framing in [Framing::Len32, Framing::Len16] {
            for ends in [false, true] {
                assert_eq!(trailer(framing, ends), b"");
            }
        }
    }

    #[test]
    fn encode_examples() {
        let mut out = Vec::new();
        encode(Framing::Line, b"hi", &mut out).unwrap();
        encode(Framing::Line, b"already\n", &mut out).unwrap();
        encode(Framing::Line, b"", &mut out).unwrap();
        assert_eq!(out, b"hi\nalready\n\n");

        out.clear();
        encode(Framing::Len16, b"ab", &mut out).unwrap();
        encode(Framing::Len32, b"", &mut out).unwrap();
        assert_eq!(out, b"\0\x02ab\0\0\0\0");

        out.clear();
        assert_eq!(
            encode(Framing::Len16, &[0; 70000], &mut out),
            Err(FrameError::TooLargeToEncode { len: 70000 })
        );
        assert!(out.is_empty(), "nothing is written on error");
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            FrameError::TooLarge {
                claimed: 4294967295,
                max: 1048576
            }
            .to_string(),
            "frame header claims 4294967295 bytes, more than the 1048576-byte limit"
        );
        assert_eq!(
            FrameError::LineTooLong { max: 10 }.to_string(),
            "line longer than 10 bytes without a newline"
        );
        assert_eq!(
            FrameError::Truncated { have: 3, need: 7 }.to_string(),
            "stream ended inside a frame: 3 of its 7 bytes arrived"
        );
    }

    fn naive_newline(hay: &[u8]) -> Option<usize> {
        hay.iter().position(|&b| b == b'\n')
    }

    #[test]
    fn find_newline_every_position() {
        for len in 0..40 {
            let mut hay = vec![b'\n' ^ 0x80; len];
            assert_eq!(find_newline(&hay), None);
            for at in 0..len {
                hay[at] = b'\n';
                assert_eq!(find_newline(&hay), Some(at), "len {len} at {at}");
                hay[at] = 0x0b; // '\n' + 1, a near miss for the bit trick
            }
        }
    }

    fn message_list() -> impl Strategy<Value = (Framing, Vec<Vec<u8>>)> {
        let framing = prop_oneof![
            Just(Framing::Len32),
            Just(Framing::Len16),
            Just(Framing::Line)
        ];
        framing.prop_flat_map(|framing| {
            let payload = prop::collection::vec(any::<u8>(), 0..2000).prop_map(move |mut p| {
                if framing == Framing::Line {
                    for b in &mut p {
                        if *b == b'\n' {
                            *b = b' ';
                        }
                    }
                }
                p
            });
            (Just(framing), prop::collection::vec(payload, 0..12))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn roundtrip_in_random_chunks(
            (framing, messages) in message_list(),
            chunks in prop::collection::vec(1usize..700, 0..64),
        ) {
            let mut stream = Vec::new();
            for m in &messages {
                encode(framing, m, &mut stream).unwrap();
            }
            let got = decode_chunked(&mut Decoder::new(framing, DEFAULT_MAX_FRAME), &stream, chunks)
                .unwrap();
            prop_assert_eq!(got, messages);
        }

        #[test]
        fn find_newline_matches_naive(hay in prop::collection::vec(
            prop_oneof![Just(b'\n'), Just(0x0b_u8), Just(0x8a_u8), any::<u8>()], 0..64)) {
            prop_assert_eq!(find_newline(&hay), naive_newline(&hay));
        }
    }
}
