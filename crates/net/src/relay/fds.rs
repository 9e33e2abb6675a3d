//! The descriptor-carrying copy (`relay --pass-fds`): between two Unix stream or two seqpacket
//! sockets, each direction `recvmsg(2)`s what arrives, with any `SCM_RIGHTS` descriptors, and
//! `sendmsg(2)`s the same bytes with the same descriptors to the other side, so each set of
//! descriptors stays with the bytes it came with and in order. This is what a proxy in front of
//! a Wayland compositor, tmux or an ssh-agent-like daemon needs and a byte copy cannot do.
//!
//! Received descriptors are owned (`OwnedFd`) from `recvmsg` until the kernel has taken them
//! with `sendmsg`, so a connection that fails halfway (a reset, a truncated message) closes
//! them with it. Half-close, the idle timeout and the counts work as on the other paths; a
//! byte stream counts no messages, a seqpacket direction counts each one.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{drive, DirEnd, Limits, Meter, RelayOptions, Stats, NO_DRAIN};
use crate::addr::{Address, Endpoint, UnixType};
use crate::endpoint::demux::MAX_DATAGRAM;
use crate::endpoint::fdio::Fd;
use crate::endpoint::{Conn, Medium, Reader, Sink, Source, Writer};
use crate::error::Error;
use crate::fault::DirFaults;
use crate::fdpass::scm::{self, RecvBuf, RecvError};
use crate::fdpass::{SocketKind, SCM_MAX_FD};
use crate::tap::{self, Dir, Hook, SideId};

/// Bytes read at a time from a stream. 256 KiB moved 536 MiB streams about 1.5x faster than 64
/// KiB here (medians of 6 alternating rounds, 2.9 vs 1.9 GiB/s on a loaded 2-CPU machine); it
/// is made on the first message, so idle connections do not hold it.
const STREAM_CHUNK: usize = 256 * 1024;

/// Refuse `--pass-fds` unless both sides are Unix stream sockets or both are seqpacket sockets,
/// without `frame=` (descriptors travel with raw socket messages, not with frames).
pub fn check_pair(a: &Address, b: &Address) -> Result<(), Error> {
    let ty = |x: &Address| match &x.endpoint {
        Endpoint::Unix(t @ (UnixType::Stream | UnixType::Seqpacket), _)
            if x.options.frame.is_none() =>
        {
            Some(*t)
        }
        _ => None,
    };
    match (ty(a), ty(b)) {
        (Some(x), Some(y)) if x == y => Ok(()),
        _ => Err(Error::Usage(format!(
            "--pass-fds needs two unix: sides or two seqpacket: sides (no frame=), not {a} and {b}"
        ))),
    }
}

/// One side's socket, shared by its reader and writer halves.
struct End {
    fd: Arc<Fd>,
    kind: SocketKind,
    label: String,
}

fn end_of(reader: &Option<Reader>, writer: &Option<Writer>, label: &str) -> Result<End, Error> {
    let not_socket = || {
        Error::Usage(format!(
            "--pass-fds: {label} is not a connected Unix stream or seqpacket socket"
        ))
    };
    let (Some(r), Some(w)) = (reader, writer) else {
        return Err(not_socket());
    };
    let (Source::Fd(fd), Sink::Fd(wfd)) = (&r.src, &w.dst) else {
        return Err(not_socket());
    };
    let kind = match r.medium {
        Medium::UnixStream => SocketKind::Stream,
        Medium::Seqpacket => SocketKind::Seqpacket,
        _ => return Err(not_socket()),
    };
    if !Arc::ptr_eq(fd, wfd) {
        return Err(not_socket());
    }
    Ok(End {
        fd: fd.clone(),
        kind,
        label: label.to_string(),
    })
}

/// Relay bytes and descriptors between `a` and `b` until both directions end.
pub(super) async fn relay(a: &mut Conn, b: &mut Conn, opts: &RelayOptions) -> Result<Stats, Error> {
    let ea = end_of(&a.reader, &a.writer, &a.label)?;
    let eb = end_of(&b.reader, &b.writer, &b.label)?;
    if ea.kind != eb.kind {
        return Err(Error::Usage(format!(
            "--pass-fds: {} and {} are not the same kind of socket",
            a.label, b.label
        )));
    }
    let (fwd, back) = super::meters(opts);
    let (fwd_fds, back_fds) = (AtomicU64::new(0), AtomicU64::new(0));
    // The writers shut the sockets down at end of stream; the readers are not needed.
    let (wa, wb) = (a.writer.take(), b.writer.take());
    a.reader = None;
    b.reader = None;
    let conn_tap = match &opts.tap {
        Some(t) => Some(t.open(a, b).await),
        None => None,
    };
    let hook = |d: Dir| conn_tap.as_ref().map(|t| t.hook(d));
    // --drop-fds: the fault layer sees each message's descriptors before they are sent.
    let conn_faults = opts.faults.as_ref().and_then(|f| f.connection());
    let hook = |d: Dir| (hook(d), conn_faults.as_ref().and_then(|f| f.dir(d)));
    let d1 = Box::pin(direction(&ea, &eb, wb, &fwd, &fwd_fds, hook(Dir::AtoB)));
    let d2 = Box::pin(direction(&eb, &ea, wa, &back, &back_fds, hook(Dir::BtoA)));
    let limits = Limits {
        idle: opts.idle_timeout,
        linger: opts.linger,
    };
    let ending = drive(d1, Some(d2), (false, false), NO_DRAIN, limits, &fwd, &back).await;
    let (f, bk) = (fwd.read(), back.read());
    super::close_tap(conn_tap, f, bk).await;
    crate::narrate!(
        "close {} <-> {}: {} bytes and {} descriptors ->, {} bytes and {} descriptors <-{}",
        a.label,
        b.label,
        f.bytes,
        fwd_fds.load(Ordering::Relaxed),
        bk.bytes,
        back_fds.load(Ordering::Relaxed),
        ending
            .as_ref()
            .map_or_else(|e| format!(" ({e})"), |_| String::new())
    );
    Ok(Stats {
        forward: f,
        backward: bk,
        ending: ending?,
    })
}

/// Copy `from` -> `to` until end of stream, then shut `to` down for writing. `fds` counts the
/// descriptors carried; `hook` (a tap) sees each message with what its descriptors are;
/// `faults` (`--drop-fds`) may take some of the descriptors away before they are sent.
async fn direction(
    from: &End,
    to: &End,
    writer: Option<Writer>,
    meter: &Meter,
    fds: &AtomicU64,
    (mut hook, mut faults): (Option<Hook>, Option<DirFaults>),
) -> Result<DirEnd, Error> {
    // Which side reset, when reading (the source) or writing (the sink) says so.
    let (source, sink) = match hook.as_ref().map(|h| h.dir()) {
        Some(Dir::BtoA) => (SideId::B, SideId::A),
        _ => (SideId::A, SideId::B),
    };
    let size = match from.kind {
        SocketKind::Stream => STREAM_CHUNK,
        _ => MAX_DATAGRAM,
    };
    // Made on the first message, like the other paths' buffers: idle connections hold none.
    let mut buf: Option<RecvBuf> = None;
    let (mut moved, mut message) = (0u64, 0u64);
    loop {
        if buf.is_none() {
            let _ = from.fd.readable().await.map_err(|err| Error::Io {
                op: "recvmsg from",
                target: from.label.clone(),
                err,
            })?;
            buf = Some(RecvBuf::new(size, SCM_MAX_FD));
        }
        let b = buf.as_mut().expect("made above");
        let mut got = match scm::recv(&from.fd, from.kind, b).await {
            Ok(Some(got)) => got,
            Ok(None) => {
                if let Some(w) = writer {
                    w.finish();
                }
                if let Some(h) = hook.as_mut() {
                    h.shutdown().await;
                }
                return Ok(DirEnd::Eof);
            }
            Err(RecvError::Io(err)) => {
                if let (Some(h), true) = (hook.as_mut(), tap::is_reset(&err)) {
                    h.reset(source, &err).await;
                }
                return Err(Error::Io {
                    op: "recvmsg from",
                    target: from.label.clone(),
                    err,
                });
            }
            Err(RecvError::Pass(err)) => {
                return Err(Error::FdPass {
                    target: format!("recvmsg from {}", from.label),
                    err,
                })
            }
        };
        if let Some(f) = faults.as_mut() {
            f.pass_fds(&mut got.fds, moved, message);
        }
        moved += got.len as u64;
        message += 1;
        let borrowed: Vec<BorrowedFd<'_>> = got.fds.iter().map(AsFd::as_fd).collect();
        match scm::send(&to.fd, to.kind, b.data(got.len), &borrowed).await {
            Ok(()) => {}
            // The peer stopped reading with this message unsent: an error, as for bytes
            // (`relay::peer_stopped_reading`).
            Err(err) if err.raw_os_error() == Some(libc::EPIPE) => {
                return Ok(DirEnd::OutputClosed(Some(Error::Io {
                    op: "sendmsg to",
                    target: to.label.clone(),
                    err,
                })))
            }
            Err(err) => {
                if let (Some(h), true) = (hook.as_mut(), tap::is_reset(&err)) {
                    h.reset(sink, &err).await;
                }
                return Err(Error::Io {
                    op: "sendmsg to",
                    target: to.label.clone(),
                    err,
                });
            }
        }
        let messages = u64::from(from.kind != SocketKind::Stream);
        meter.add(got.len as u64, messages);
        fds.fetch_add(got.fds.len() as u64, Ordering::Relaxed);
        if let Some(h) = hook.as_mut() {
            h.data_with_fds(b.data(got.len), messages > 0, &got.fds)
                .await;
        }
        // `got.fds` drops here: the kernel holds its own references to what it passed on.
    }
}
