//! `crlf`: lines end in CR LF on this side, LF on the other (socat's `crlf`, nc's `-C`).
//!
//! What is written to the address has each bare LF turned into CR LF; what is read from it
//! has each CR LF turned into LF. The connection's halves are swapped for pipes, and one task
//! per half converts between a pipe and the real fd, so the relay copies as it always does
//! (and still splices) and knows nothing of line ends. A CR at the end of one read is held
//! until the next shows whether an LF follows. End of stream passes through: the task that
//! writes ends the real side's direction (half-close) once the pipe ends.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use super::fdio::{self, Fd};
use super::{Conn, Medium, Reader, Sink, Source, Writer};
use crate::addr::Crlf;
use crate::error::{io_err, Result};

const CHUNK: usize = 64 * 1024;

/// Swap `conn`'s halves for converting pipes.
pub(crate) fn wrap(mut conn: Conn, ways: Crlf) -> Result<Conn> {
    let label = conn.label.clone();
    if let Some(w) = conn.writer.take() {
        if let Sink::Fd(_) = &w.dst {
            let (r, pipe_w) = pipe(&label)?;
            // Ends when the relay closes its pipe; close waits for it (what it holds is sent).
            let (stop, _) = tokio::sync::oneshot::channel();
            conn.holdings.tasks.push(super::Task {
                task: tokio::spawn(to_crlf(r, w, label.to_string())),
                stop,
                failure: Default::default(),
            });
            conn.writer = Some(Writer {
                dst: Sink::Fd(Arc::new(pipe_w)),
                medium: Medium::Pipe,
                shutdown: false,
            });
        } else {
            conn.writer = Some(w);
        }
    }
    if ways == Crlf::Send {
        crate::narrate!("{label}: crlf=send: LF written as CR LF");
        return Ok(conn);
    }
    if let Some(rd) = conn.reader.take() {
        if let Source::Fd(fd) = &rd.src {
            let (pipe_r, w) = pipe(&label)?;
            // Ends at the real side's end; a close before that stops it.
            let task = tokio::spawn(from_crlf(fd.clone(), w, label.to_string()));
            conn.holdings.guards.push(Box::new(AbortOnDrop(task)));
            conn.reader = Some(Reader {
                src: Source::Fd(Arc::new(pipe_r)),
                medium: Medium::Pipe,
                endless: rd.endless,
            });
        } else {
            conn.reader = Some(rd);
        }
    }
    crate::narrate!("{label}: crlf: LF written as CR LF, CR LF read as LF");
    Ok(conn)
}

/// Stops a task when the connection holding it goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn pipe(label: &str) -> Result<(Fd, Fd)> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| io_err("pipe for", label)(e.into()))?;
    let reg = |fd: OwnedFd| fdio::register(fd).map_err(io_err("pipe for", label));
    Ok((reg(r)?, reg(w)?))
}

/// LF to CR LF: from the pipe the relay writes into, to the real side.
async fn to_crlf(r: Fd, w: Writer, label: String) {
    let Sink::Fd(dst) = &w.dst else { return };
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK * 2);
    // Whether the last byte written was a CR, so an LF right after it is left alone.
    let mut after_cr = false;
    loop {
        let n = match fdio::read_stream(&r, &mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("{label}: crlf: {e}");
                return;
            }
        };
        out.clear();
        after_cr = add_cr(&buf[..n], after_cr, &mut out);
        if let Err(e) = fdio::write_all(dst, &out).await {
            if e.raw_os_error() != Some(libc::EPIPE) {
                tracing::warn!("{label}: crlf: {e}");
            }
            // Dropping the pipe's read end makes the relay's next write fail with EPIPE.
            return;
        }
    }
    w.finish();
}

/// CR LF to LF: from the real side to the pipe the relay reads.
async fn from_crlf(src: Arc<Fd>, w: Fd, label: String) {
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + 1);
    let mut held_cr = false;
    loop {
        let n = match fdio::read_stream(&src, &mut buf).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("{label}: crlf: {e}");
                return;
            }
        };
        out.clear();
        if n == 0 {
            // A CR at the very end had no LF after it: it is data.
            if held_cr {
                out.push(b'\r');
                let _ = fdio::write_all(&w, &out).await;
            }
            return;
        }
        held_cr = drop_cr(&buf[..n], held_cr, &mut out);
        if fdio::write_all(&w, &out).await.is_err() {
            return;
        }
    }
}

/// Appends `input` to `out` with each LF not preceded by CR written as CR LF. `after_cr`: the
/// byte before `input` was a CR. Returns whether `input` ended with one.
fn add_cr(input: &[u8], mut after_cr: bool, out: &mut Vec<u8>) -> bool {
    for &b in input {
        if b == b'\n' && !after_cr {
            out.push(b'\r');
        }
        out.push(b);
        after_cr = b == b'\r';
    }
    after_cr
}

/// Appends `input` to `out` with each CR LF written as LF. `held`: a CR ended the previous
/// input and was not written yet. Returns whether this input ends with such a CR.
fn drop_cr(input: &[u8], mut held: bool, out: &mut Vec<u8>) -> bool {
    for &b in input {
        if held && b != b'\n' {
            out.push(b'\r');
        }
        held = false;
        if b == b'\r' {
            held = true;
        } else {
            out.push(b);
        }
    }
    held
}

/// Whole-buffer forms, for tests: what a side sends and what the other reads.
#[cfg(test)]
fn add_all(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    add_cr(input, false, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drop_in_pieces(input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut held = false;
        let mut at = 0;
        for &c in cuts.iter().chain([&input.len()]) {
            let c = c.clamp(at, input.len());
            held = drop_cr(&input[at..c], held, &mut out);
            at = c;
        }
        if held {
            out.push(b'\r');
        }
        out
    }

    #[test]
    fn line_ends() {
        assert_eq!(add_all(b"HELO x\nDATA\n"), b"HELO x\r\nDATA\r\n");
        assert_eq!(add_all(b"already\r\n"), b"already\r\n");
        assert_eq!(drop_in_pieces(b"250 ok\r\n", &[]), b"250 ok\n");
        assert_eq!(drop_in_pieces(b"250 ok\r\n", &[7]), b"250 ok\n");
        assert_eq!(drop_in_pieces(b"a\rb\r", &[2]), b"a\rb\r");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Text without CR comes back as it was after CR LF and back, however it is cut.
        #[test]
        fn round_trip(text in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>().prop_filter("no CR", |b| *b != b'\r')], 0..200),
                      cuts in proptest::collection::vec(0usize..200, 0..5)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let wire = add_all(&text);
            prop_assert_eq!(drop_in_pieces(&wire, &cuts), text);
        }
    }
}
