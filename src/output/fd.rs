//! `sockbox fd recv` output: each message received with what each descriptor is, as text or
//! one JSON object per line (docs/json.md); and the content of received descriptors
//! (`--cat`).

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use serde::Serialize;
use sockbox_net::fdpass::{self, FdInfo, FdKind, Received};

/// At most this many bytes of a payload are shown in the text output.
const SHOWN_PAYLOAD: usize = 64;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A payload as an escaped, quoted string: `"hello\n"`, `"\0"`; cut after 64 bytes.
fn escaped(data: &[u8]) -> String {
    let shown = &data[..data.len().min(SHOWN_PAYLOAD)];
    let mut s = format!("{:?}", String::from_utf8_lossy(shown));
    if data.len() > SHOWN_PAYLOAD {
        s.push_str("...");
    }
    s
}

/// One descriptor in words: kind, what it points to, access mode and flags, and the details
/// of its kind (the library's `Display` of [`FdInfo`], shared with the relay's traffic dump).
pub fn fd_text(i: usize, f: &FdInfo) -> String {
    format!("[{i}] {f}")
}

/// A message as text: a header line, then a line per descriptor.
pub fn message_text(
    out: &mut impl Write,
    n: u64,
    m: &Received,
    infos: &[FdInfo],
) -> io::Result<()> {
    writeln!(
        out,
        "message {n} from {}: {} {}, {}",
        m.peer,
        plural(m.data.len(), "byte", "bytes"),
        escaped(&m.data),
        plural(infos.len(), "descriptor", "descriptors")
    )?;
    for (i, f) in infos.iter().enumerate() {
        writeln!(out, "  {}", fd_text(i, f))?;
    }
    out.flush()
}

#[derive(Serialize)]
struct MessageJson<'a> {
    peer: &'a str,
    length: usize,
    /// "utf-8" when `data` is the payload as text, "base64" otherwise.
    encoding: &'static str,
    data: String,
    fds: &'a [FdInfo],
}

/// A message as one JSON object on one line.
pub fn message_json(out: &mut impl Write, m: &Received, infos: &[FdInfo]) -> io::Result<()> {
    let (encoding, data) = super::json_payload(&m.data);
    let j = MessageJson {
        peer: &m.peer,
        length: m.data.len(),
        encoding,
        data,
        fds: infos,
    };
    serde_json::to_writer(&mut *out, &j)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Copy a received descriptor's content to stdout (blocking: run it off the runtime).
pub fn cat(fd: OwnedFd, deadline: Option<Instant>) -> io::Result<u64> {
    let mut out = io::stdout().lock();
    fdpass::copy_out(fd.as_fd(), &mut out, deadline)
}

/// Say on stderr that `--cat` leaves a descriptor alone, and why.
pub fn not_copied(i: usize, f: &FdInfo) -> io::Result<()> {
    let why = if !f.access.readable() {
        format!("it is {}", f.access.name())
    } else {
        match f.kind {
            FdKind::Socket => "a listening or datagram socket has no end of stream".into(),
            FdKind::AnonInode => "an anonymous inode has no end of file".into(),
            k => format!("a {} is not read as a stream", k.name()),
        }
    };
    writeln!(
        io::stderr().lock(),
        "sockbox: descriptor [{i}] not copied: {why}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_escaped_and_cut() {
        assert_eq!(escaped(b"\0"), "\"\\0\"");
        assert_eq!(escaped(b"hi\n"), "\"hi\\n\"");
        let long = vec![b'a'; 100];
        assert!(escaped(&long).ends_with("\"..."));
    }

    #[test]
    fn a_file_line_names_its_path_mode_size_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let info = fdpass::describe(f.as_fd()).unwrap();
        assert_eq!(
            fd_text(0, &info),
            format!("[0] file  {}  read-only  size 5  offset 0", p.display())
        );
    }
}
