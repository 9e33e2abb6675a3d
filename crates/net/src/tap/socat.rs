//! socat's own dump format, for `sockbox socat -v` and `-x`: per chunk a header line
//! `> 2026/12/04 16:20:34.048008  length=6 from=0 to=5` (`>` left to right, `<` back; `from` and
//! `to` the chunk's first and last byte offsets in its direction), then the data: with `-v` as
//! text (`\r` shown as `\r`, `\` doubled, newlines and tabs kept, other unprintable bytes as
//! `.`, no newline added), with `-x` as hex bytes each preceded by a space, on one line.
//! socat prints the fraction of the second with 6 digits since 1.8.1.1 (1.7.4 printed 9, its
//! first three always 0); so does sockbox. Only data has lines: socat shows no other event.

use std::collections::HashMap;
use std::io::{self, Write};

use super::time::socat_stamp;
use super::{Dir, Event, View, What};

/// socat's `-v` / `-x` view.
pub struct SocatView {
    out: Box<dyn Write + Send>,
    name: String,
    hex: bool,
    swap: bool,
    offsets: HashMap<u64, [u64; 2]>,
    buf: Vec<u8>,
}

impl SocatView {
    /// `hex`: `-x` rather than `-v`. `swap`: socat's first address is side B, so B to A is
    /// shown `>`.
    pub fn new(out: Box<dyn Write + Send>, name: String, hex: bool, swap: bool) -> SocatView {
        SocatView {
            out: Box::new(io::BufWriter::with_capacity(256 * 1024, out)),
            name,
            hex,
            swap,
            offsets: HashMap::new(),
            buf: Vec::new(),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl View for SocatView {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match &ev.what {
            What::Data { dir, data, .. } => {
                let off = &mut self.offsets.entry(ev.conn).or_default()[dir.index()];
                let from = *off;
                *off += data.len() as u64;
                let to = (from + data.len() as u64).saturating_sub(1);
                let b = &mut self.buf;
                b.clear();
                let arrow = match (dir, self.swap) {
                    (Dir::AtoB, false) | (Dir::BtoA, true) => '>',
                    _ => '<',
                };
                writeln!(
                    b,
                    "{arrow} {}  length={} from={from} to={to}",
                    socat_stamp(ev.time),
                    data.len()
                )?;
                if self.hex {
                    for &x in data {
                        b.extend_from_slice(&[
                            b' ',
                            HEX[(x >> 4) as usize],
                            HEX[(x & 15) as usize],
                        ]);
                    }
                    b.push(b'\n');
                } else {
                    for &x in data {
                        match x {
                            b'\r' => b.extend_from_slice(b"\\r"),
                            b'\\' => b.extend_from_slice(b"\\\\"),
                            b'\n' | b'\t' | 0x20..=0x7e => b.push(x),
                            _ => b.push(b'.'),
                        }
                    }
                }
                self.out.write_all(b)
            }
            What::Close { .. } => {
                self.offsets.remove(&ev.conn);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
