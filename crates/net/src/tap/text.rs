//! The human dump (`--dump`, `--dump=hex`, `--dump=auto`): one line per event, and each chunk's
//! bytes on lines of their own, every line carrying its connection number and direction
//! (`[3 >]` A to B, `[3 <]` B to A), so connections served at once can be told apart and
//! grepped.
//!
//! ```text
//! 16:20:34.048008 [1 open] pid 4242 (curl) uid 1000 gid 1000 <-> unix:/var/run/docker.sock
//! 16:20:34.048120 [1 >] 40 bytes
//! [1 >] GET /_ping HTTP/1.1\r
//! [1 >] Host: docker\r
//! [1 >] \r
//! 16:20:34.049001 [1 <] 20 bytes (hex)
//! [1 <] 00000000  48 54 54 50 2f 31 2e 31  20 32 30 30 20 4f 4b 00  |HTTP/1.1 200 OK.|
//! [1 <] 00000010  00 01 02 03                                       |....|
//! 16:20:34.050000 [1 > shutdown] A ended its side (half-close)
//! 16:20:34.050101 [1 close] > 40 bytes, < 20 bytes
//! ```
//!
//! Event lines start with the time; content lines start with `[`. Text content is reversible:
//! newlines end lines, `\r` `\t` `\\` and every other byte that is not printable (control
//! characters, bytes that are not UTF-8) are written as escapes (`\xNN`), and the header's byte
//! count says whether the last line had a newline. [`parse`] turns a dump back into the chunks.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::SystemTime;

use super::time::{seconds, time_of_day};
use super::{Dir, Event, SideId, TimeStyle, View, What};

/// How chunks are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Escaped text.
    Text,
    /// Offset, hex and ASCII columns.
    Hex,
    /// Text, or hex for a chunk that is mostly binary.
    Auto,
}

/// The text dump.
pub struct TextView {
    out: Box<dyn Write + Send>,
    name: String,
    mode: Mode,
    time: TimeStyle,
    color: bool,
    conns: HashMap<u64, ConnState>,
    line: Vec<u8>,
}

struct ConnState {
    opened: SystemTime,
    last: SystemTime,
    /// Bytes shown so far per direction: the hex offsets run on across chunks.
    offset: [u64; 2],
}

const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

impl TextView {
    /// A dump to `out` (buffered here), called `name` in warnings. `color`: ANSI colours, one
    /// per direction (the binary decides: a terminal, and no `NO_COLOR`).
    pub fn new(
        out: Box<dyn Write + Send>,
        name: String,
        mode: Mode,
        time: TimeStyle,
        color: bool,
    ) -> TextView {
        TextView {
            out: Box::new(io::BufWriter::with_capacity(256 * 1024, out)),
            name,
            mode,
            time,
            color,
            conns: HashMap::new(),
            line: Vec::with_capacity(4096),
        }
    }

    fn stamp(&mut self, ev: &Event) -> String {
        let st = self.conns.entry(ev.conn).or_insert(ConnState {
            opened: ev.time,
            last: ev.time,
            offset: [0; 2],
        });
        let s = match self.time {
            TimeStyle::Abs => time_of_day(ev.time),
            TimeStyle::Rel => seconds(ev.time.duration_since(st.opened).unwrap_or_default()),
            TimeStyle::Delta => seconds(ev.time.duration_since(st.last).unwrap_or_default()),
        };
        st.last = ev.time;
        s
    }

    fn start(&mut self, color: &str) {
        self.line.clear();
        if self.color {
            self.line.extend_from_slice(color.as_bytes());
        }
    }

    fn end(&mut self) {
        if self.color {
            self.line.extend_from_slice(RESET.as_bytes());
        }
        self.line.push(b'\n');
    }

    fn say(&mut self, color: &str, text: &str) -> io::Result<()> {
        self.start(color);
        self.line.extend_from_slice(text.as_bytes());
        self.end();
        self.out.write_all(&self.line)
    }
}

fn dir_color(d: Dir) -> &'static str {
    match d {
        Dir::AtoB => GREEN,
        Dir::BtoA => CYAN,
    }
}

fn side_name(s: SideId) -> char {
    match s {
        SideId::A => 'A',
        SideId::B => 'B',
    }
}

impl View for TextView {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        let stamp = self.stamp(ev);
        let n = ev.conn;
        match &ev.what {
            What::Open { a, b, messages } => {
                let kind = if *messages { ", messages" } else { "" };
                self.say(BOLD, &format!("{stamp} [{n} open] {a} <-> {b}{kind}"))
            }
            What::Data {
                dir,
                data,
                message,
                fds,
            } => {
                let (c, arrow) = (dir_color(*dir), dir.arrow());
                if !fds.is_empty() {
                    let k = fds.len();
                    let s = if k == 1 { "" } else { "s" };
                    self.say(c, &format!("{stamp} [{n} {arrow} fds] {k} descriptor{s}"))?;
                    for (i, f) in fds.iter().enumerate() {
                        self.say(c, &format!("[{n} {arrow} fd] [{i}] {f}"))?;
                    }
                }
                let hex = match self.mode {
                    Mode::Text => false,
                    Mode::Hex => true,
                    Mode::Auto => mostly_binary(data),
                };
                let what = match (message, hex) {
                    (false, false) => "",
                    (true, false) => " (message)",
                    (false, true) => " (hex)",
                    (true, true) => " (message, hex)",
                };
                self.say(
                    c,
                    &format!("{stamp} [{n} {arrow}] {} bytes{what}", data.len()),
                )?;
                let prefix = format!("[{n} {arrow}] ");
                let st = self.conns.get_mut(&n).expect("stamp() made it");
                let offset = st.offset[dir.index()];
                st.offset[dir.index()] += data.len() as u64;
                self.line.clear();
                let color = if self.color { c } else { "" };
                let reset = if self.color { RESET } else { "" };
                if hex {
                    hex_lines(&mut self.line, &prefix, offset, data, color, reset);
                } else {
                    text_lines(&mut self.line, &prefix, data, color, reset);
                }
                self.out.write_all(&self.line)
            }
            What::Shutdown { dir } => {
                let who = side_name(dir.sender());
                let arrow = dir.arrow();
                self.say(
                    dir_color(*dir),
                    &format!("{stamp} [{n} {arrow} shutdown] {who} ended its side (half-close)"),
                )
            }
            What::Reset { by, error } => {
                let who = side_name(*by);
                self.say(RED, &format!("{stamp} [{n} reset] by {who}: {error}"))
            }
            What::Close { a2b, b2a } => {
                let flow = |f: &crate::relay::Flow| {
                    if f.messages > 0 {
                        let s = if f.messages == 1 { "" } else { "s" };
                        format!("{} bytes in {} message{s}", f.bytes, f.messages)
                    } else {
                        format!("{} bytes", f.bytes)
                    }
                };
                let line = format!("{stamp} [{n} close] > {}, < {}", flow(a2b), flow(b2a));
                self.conns.remove(&n);
                self.say(BOLD, &line)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// True when more than a quarter of `data` would be escapes in the text form.
pub fn mostly_binary(data: &[u8]) -> bool {
    let mut escaped = 0usize;
    for chunk in data.utf8_chunks() {
        escaped += chunk.invalid().len();
        escaped += chunk
            .valid()
            .chars()
            .filter(|&c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            .count();
    }
    escaped * 4 > data.len()
}

/// Append `data` as escaped text lines, each starting with `prefix` and ending with a newline.
/// Works on bytes, copying runs of printable ASCII at once: a dump must keep up with a relay.
pub(crate) fn text_lines(out: &mut Vec<u8>, prefix: &str, data: &[u8], color: &str, reset: &str) {
    out.reserve(data.len() + data.len() / 8 + prefix.len() + 16);
    let mut at_start = true;
    let mut i = 0;
    while i < data.len() {
        if at_start {
            out.extend_from_slice(color.as_bytes());
            out.extend_from_slice(prefix.as_bytes());
            at_start = false;
        }
        let b = data[i];
        match b {
            b'\n' => {
                out.extend_from_slice(reset.as_bytes());
                out.push(b'\n');
                at_start = true;
            }
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => {
                let run = data[i..]
                    .iter()
                    .position(|&c| !(0x20..=0x7e).contains(&c) || c == b'\\')
                    .unwrap_or(data.len() - i);
                out.extend_from_slice(&data[i..i + run]);
                i += run;
                continue;
            }
            0x80.. => {
                // A whole UTF-8 character that is not a control character is shown as it is.
                let width = match b {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf4 => 4,
                    _ => 0,
                };
                if let Some(ch) = data
                    .get(i..i + width)
                    .filter(|_| width > 0)
                    .and_then(|c| std::str::from_utf8(c).ok())
                {
                    if !ch.chars().any(char::is_control) {
                        out.extend_from_slice(ch.as_bytes());
                        i += width;
                        continue;
                    }
                }
                escape_byte(out, b);
            }
            _ => escape_byte(out, b),
        }
        i += 1;
    }
    if !at_start {
        out.extend_from_slice(reset.as_bytes());
        out.push(b'\n');
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn escape_byte(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
}

/// Append `data` as hex lines: 8 hex digits of offset (counted from `offset`), 16 bytes in hex in
/// two groups of 8, and the printable ASCII between bars.
pub(crate) fn hex_lines(
    out: &mut Vec<u8>,
    prefix: &str,
    offset: u64,
    data: &[u8],
    color: &str,
    reset: &str,
) {
    let rows = data.len().div_ceil(16);
    out.reserve(rows * (color.len() + prefix.len() + reset.len() + 80));
    // Each row is built in a stack buffer and appended at once.
    let mut line = [b' '; 79];
    for (i, row) in data.chunks(16).enumerate() {
        out.extend_from_slice(color.as_bytes());
        out.extend_from_slice(prefix.as_bytes());
        let off = offset + (i as u64) * 16;
        for (k, shift) in (0..8).rev().enumerate() {
            line[k] = HEX[((off >> (shift * 4)) & 15) as usize];
        }
        line[8..61].fill(b' ');
        for (j, &b) in row.iter().enumerate() {
            // OFFSET, two spaces, 3 columns per byte (one more space after the 8th), " |".
            let at = 10 + j * 3 + usize::from(j >= 8);
            line[at] = HEX[(b >> 4) as usize];
            line[at + 1] = HEX[(b & 15) as usize];
        }
        line[60] = b'|';
        for (j, &b) in row.iter().enumerate() {
            line[61 + j] = if (0x20..0x7f).contains(&b) { b } else { b'.' };
        }
        line[61 + row.len()] = b'|';
        out.extend_from_slice(&line[..62 + row.len()]);
        out.extend_from_slice(reset.as_bytes());
        out.push(b'\n');
    }
}

/// One chunk read back from a dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub conn: u64,
    pub dir: Dir,
    pub data: Vec<u8>,
    pub message: bool,
}

/// Why a dump could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("dump line {line}: {what}")]
pub struct ParseError {
    pub line: usize,
    pub what: String,
}

/// Read a text, hex or auto dump (without colours) back into its chunks, in order: the exact
/// bytes that moved. Event lines other than chunk headers are skipped.
pub fn parse(dump: &str) -> Result<Vec<Chunk>, ParseError> {
    let lines: Vec<&str> = dump.lines().collect();
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some((conn, dir, len, message, hex)) = header(line) else {
            continue;
        };
        let prefix = format!("[{conn} {}] ", dir.arrow());
        let mut data = Vec::with_capacity(len);
        while i < lines.len() {
            let Some(rest) = lines[i].strip_prefix(prefix.as_str()) else {
                break;
            };
            if hex {
                unhex_line(rest, &mut data).map_err(|what| ParseError { line: i + 1, what })?;
            } else {
                unescape(rest, &mut data).map_err(|what| ParseError { line: i + 1, what })?;
                data.push(b'\n');
            }
            i += 1;
        }
        // Text lines all got a newline: the last one had none if the count says so.
        if !hex && data.len() == len + 1 && data.last() == Some(&b'\n') {
            data.pop();
        }
        if data.len() != len {
            return Err(ParseError {
                line: i,
                what: format!("chunk of {len} bytes read back as {}", data.len()),
            });
        }
        chunks.push(Chunk {
            conn,
            dir,
            data,
            message,
        });
    }
    Ok(chunks)
}

/// A chunk header: `STAMP [N >] LEN bytes[ (message)][ (hex)]`.
fn header(line: &str) -> Option<(u64, Dir, usize, bool, bool)> {
    if line.starts_with('[') {
        return None;
    }
    let (_, rest) = line.split_once(" [")?;
    let (id, rest) = rest.split_once("] ")?;
    let (n, arrow) = id.split_once(' ')?;
    let dir = match arrow {
        ">" => Dir::AtoB,
        "<" => Dir::BtoA,
        _ => return None,
    };
    let conn = n.parse().ok()?;
    let (len, what) = rest.split_once(" bytes")?;
    let len = len.parse().ok()?;
    let (message, hex) = match what {
        "" => (false, false),
        " (message)" => (true, false),
        " (hex)" => (false, true),
        " (message, hex)" => (true, true),
        _ => return None,
    };
    Some((conn, dir, len, message, hex))
}

fn unescape(s: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s
                    .get(i + 2..i + 4)
                    .ok_or("a \\x escape needs two hex digits")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?);
                i += 2;
            }
            _ => return Err(format!("unknown escape at column {}", i + 1)),
        }
        i += 2;
    }
    Ok(())
}

fn unhex_line(s: &str, out: &mut Vec<u8>) -> Result<(), String> {
    // OFFSET, then hex pairs, then |ASCII|.
    let mut words = s.split_whitespace();
    words.next().ok_or("empty hex line")?;
    for w in words {
        if w.len() != 2 || w.starts_with('|') {
            break;
        }
        out.push(u8::from_str_radix(w, 16).map_err(|_| format!("bad hex byte {w}"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test keeps a handle on.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn render(mode: Mode, chunks: &[(u64, Dir, Vec<u8>)]) -> String {
        let out = Shared::default();
        let mut v = TextView::new(
            Box::new(out.clone()),
            "test".into(),
            mode,
            TimeStyle::Abs,
            false,
        );
        for (conn, dir, data) in chunks {
            v.event(&Event {
                conn: *conn,
                time: SystemTime::now(),
                what: What::Data {
                    dir: *dir,
                    data: data.clone(),
                    message: false,
                    fds: Vec::new(),
                },
            })
            .unwrap();
        }
        v.flush().unwrap();
        let s = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        s
    }

    #[test]
    fn text_lines_look_like_this() {
        let s = render(
            Mode::Text,
            &[(3, Dir::AtoB, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec())],
        );
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].ends_with(" [3 >] 27 bytes"), "{s}");
        assert_eq!(lines[1], "[3 >] GET / HTTP/1.1\\r");
        assert_eq!(lines[2], "[3 >] Host: x\\r");
        assert_eq!(lines[3], "[3 >] \\r");
        assert_eq!(lines.len(), 4);
        let s = render(
            Mode::Text,
            &[(1, Dir::BtoA, b"a\\b\x00\xffz\xc3\xa9".to_vec())],
        );
        assert_eq!(s.lines().nth(1), Some("[1 <] a\\\\b\\x00\\xffzé"));
    }

    #[test]
    fn hex_offsets_run_on_per_direction() {
        let s = render(
            Mode::Hex,
            &[
                (1, Dir::AtoB, vec![0x41; 20]),
                (1, Dir::BtoA, vec![0; 3]),
                (1, Dir::AtoB, vec![0x42; 2]),
            ],
        );
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            lines[1],
            "[1 >] 00000000  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|"
        );
        assert!(lines[2].starts_with("[1 >] 00000010  41 41 41 41 "), "{s}");
        assert!(lines[4].starts_with("[1 <] 00000000  00 00 00 "), "{s}");
        assert!(lines[6].starts_with("[1 >] 00000014  42 42 "), "{s}");
    }

    #[test]
    fn colours_per_direction_only_when_asked() {
        let out = Shared::default();
        let mut v = TextView::new(
            Box::new(out.clone()),
            "t".into(),
            Mode::Text,
            TimeStyle::Delta,
            true,
        );
        for dir in [Dir::AtoB, Dir::BtoA] {
            let what = What::Data {
                dir,
                data: b"x\n".to_vec(),
                message: false,
                fds: Vec::new(),
            };
            v.event(&Event {
                conn: 1,
                time: SystemTime::now(),
                what,
            })
            .unwrap();
        }
        v.flush().unwrap();
        let s = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[0].starts_with(GREEN) && lines[0].ends_with(RESET),
            "{s:?}"
        );
        assert_eq!(lines[1], format!("{GREEN}[1 >] x{RESET}"));
        assert_eq!(lines[3], format!("{CYAN}[1 <] x{RESET}"));
        assert!(!render(Mode::Text, &[(1, Dir::AtoB, b"x".to_vec())]).contains('\x1b'));
    }

    #[test]
    fn auto_picks_hex_for_binary() {
        assert!(!mostly_binary(b"hello\r\nworld\n"));
        assert!(mostly_binary(&[0, 1, 2, 3, b'a']));
        let s = render(Mode::Auto, &[(1, Dir::AtoB, vec![0, 1, 2, 3])]);
        assert!(s.lines().next().unwrap().ends_with("4 bytes (hex)"), "{s}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Any bytes, dumped as text (or auto) and read back, are the same bytes.
        #[test]
        fn text_round_trips(
            chunks in proptest::collection::vec(
                (1u64..4, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 1..6),
            hex in any::<bool>(),
        ) {
            let chunks: Vec<(u64, Dir, Vec<u8>)> = chunks
                .into_iter()
                .map(|(c, d, data)| (c, if d { Dir::AtoB } else { Dir::BtoA }, data))
                .collect();
            let mode = if hex { Mode::Auto } else { Mode::Text };
            let dump = render(mode, &chunks);
            let back = parse(&dump).unwrap();
            prop_assert_eq!(back.len(), chunks.len());
            for (b, (c, d, data)) in back.iter().zip(&chunks) {
                prop_assert_eq!(b.conn, *c);
                prop_assert_eq!(b.dir, *d);
                prop_assert_eq!(&b.data, data);
            }
        }

        /// The parser refuses or reads any text without panicking.
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }
    }
}
