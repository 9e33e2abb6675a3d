//! The message path: one message in, one message out, boundaries kept.
//!
//! A [`MsgIn`] yields messages from a datagram or seqpacket socket, from a datagram listener's
//! per-peer channel, or from a byte stream cut by a `frame=` codec; a [`MsgOut`] sends them the
//! same ways, or writes them onto a stream with the codec's header. A stream without `frame=`
//! (only stdio, files and processes may be used so) reads in chunks, one message per read,
//! and writes messages as plain bytes, as `nc -u` does.

use nix::sys::socket::SockaddrStorage;
use tokio::sync::mpsc;

use super::Fault;
use crate::addr::{Framing, Transfer};
use crate::endpoint::demux::MAX_DATAGRAM;
use crate::endpoint::fdio::{self, Fd};
use crate::endpoint::{Medium, Reader, Sink, Source, Writer};
use crate::frame::{self, Decoder};
use std::sync::Arc;

/// Bytes read at a time from a stream that is cut into chunks or frames.
const READ_SIZE: usize = 64 * 1024;

pub(crate) enum MsgIn {
    Socket {
        fd: Arc<Fd>,
        /// Seqpacket reads 0 bytes at end of stream; for a datagram that is an empty message.
        eof_on_empty: bool,
        buf: Vec<u8>,
    },
    Chan {
        rx: mpsc::Receiver<Vec<u8>>,
        cur: Vec<u8>,
    },
    Framed {
        fd: Arc<Fd>,
        dec: Decoder,
        max_frame: usize,
        buf: Vec<u8>,
        start: usize,
        end: usize,
        eof: bool,
    },
    Chunks {
        fd: Arc<Fd>,
        buf: Vec<u8>,
    },
}

pub(crate) enum MsgOut {
    Socket(Arc<Fd>),
    SendTo(Arc<Fd>, Option<SockaddrStorage>),
    Framed {
        fd: Arc<Fd>,
        framing: Framing,
        out: Vec<u8>,
    },
    Raw(Arc<Fd>),
}

impl MsgIn {
    pub(crate) fn new(r: Reader, transfer: Transfer, framing: Option<Framing>, max: usize) -> Self {
        match (r.src, transfer, framing) {
            (Source::Chan(rx), _, _) => MsgIn::Chan {
                rx,
                cur: Vec::new(),
            },
            (Source::Fd(fd), Transfer::Message, _) => MsgIn::Socket {
                fd,
                eof_on_empty: r.medium == Medium::Seqpacket,
                buf: Vec::new(),
            },
            (Source::Fd(fd), Transfer::Stream, Some(f)) => MsgIn::Framed {
                fd,
                dec: Decoder::new(f, max),
                max_frame: max,
                buf: Vec::new(),
                start: 0,
                end: 0,
                eof: false,
            },
            (Source::Fd(fd), Transfer::Stream, None) => MsgIn::Chunks {
                fd,
                buf: Vec::new(),
            },
        }
    }

    /// The next message, or `None` at end of stream.
    pub(crate) async fn next(&mut self) -> Result<Option<&[u8]>, Fault> {
        match self {
            MsgIn::Socket {
                fd,
                eof_on_empty,
                buf,
            } => {
                if buf.is_empty() {
                    let _ = fd.readable().await.map_err(Fault::Read)?;
                    buf.resize(MAX_DATAGRAM, 0);
                }
                let n = fdio::recv(fd, buf).await.map_err(Fault::Read)?;
                if n > buf.len() {
                    return Err(Fault::Read(std::io::Error::other(format!(
                        "a {n}-byte message did not fit the {}-byte buffer",
                        buf.len()
                    ))));
                }
                if n == 0 && *eof_on_empty {
                    return Ok(None);
                }
                Ok(Some(&buf[..n]))
            }
            MsgIn::Chan { rx, cur } => match rx.recv().await {
                Some(m) => {
                    *cur = m;
                    Ok(Some(cur))
                }
                None => Ok(None),
            },
            MsgIn::Chunks { fd, buf } => {
                if buf.is_empty() {
                    let _ = fd.readable().await.map_err(Fault::Read)?;
                    buf.resize(READ_SIZE, 0);
                }
                let n = fdio::read(fd, buf).await.map_err(Fault::Read)?;
                Ok((n > 0).then(|| &buf[..n]))
            }
            MsgIn::Framed { .. } => self.next_frame().await,
        }
    }

    async fn next_frame(&mut self) -> Result<Option<&[u8]>, Fault> {
        let MsgIn::Framed {
            fd,
            dec,
            max_frame,
            buf,
            start,
            end,
            eof,
        } = self
        else {
            unreachable!("next_frame on a framed source only")
        };
        let range = loop {
            let window = &buf[*start..*end];
            let found = if *eof {
                dec.decode_eof(window)
            } else {
                dec.decode(window)
            }
            .map_err(Fault::Frame)?;
            if let Some(f) = found {
                let base = *start;
                *start += f.consumed;
                break base + f.payload.start..base + f.payload.end;
            }
            if *eof {
                return Ok(None);
            }
            // Need more bytes: move what is left to the front, grow if full.
            if *start > 0 {
                buf.copy_within(*start..*end, 0);
                *end -= *start;
                *start = 0;
            }
            if *end == buf.len() {
                let want = (buf.len() * 2).clamp(READ_SIZE, *max_frame + 8);
                if want <= buf.len() {
                    // The decoder rejects frames over the limit before we get here.
                    return Err(Fault::Read(std::io::Error::other("frame buffer full")));
                }
                buf.resize(want, 0);
            }
            let n = fdio::read(fd, &mut buf[*end..])
                .await
                .map_err(Fault::Read)?;
            if n == 0 {
                *eof = true;
            }
            *end += n;
        };
        Ok(Some(&buf[range]))
    }
}

impl MsgOut {
    pub(crate) fn new(w: &Writer, transfer: Transfer, framing: Option<Framing>) -> Self {
        match (&w.dst, transfer, framing) {
            (Sink::SendTo(fd, to), _, _) => MsgOut::SendTo(fd.clone(), *to),
            (Sink::Fd(fd), Transfer::Message, _) => MsgOut::Socket(fd.clone()),
            (Sink::Fd(fd), Transfer::Stream, Some(f)) => MsgOut::Framed {
                fd: fd.clone(),
                framing: f,
                out: Vec::new(),
            },
            (Sink::Fd(fd), Transfer::Stream, None) => MsgOut::Raw(fd.clone()),
        }
    }

    pub(crate) async fn send(&mut self, msg: &[u8]) -> Result<(), Fault> {
        match self {
            MsgOut::Socket(fd) => fdio::send(fd, msg).await.map_err(Fault::Write),
            MsgOut::SendTo(fd, Some(to)) => fdio::send_to(fd, msg, to).await.map_err(Fault::Write),
            // An unnamed Unix datagram peer has no address to answer to.
            MsgOut::SendTo(_, None) => Ok(()),
            MsgOut::Raw(fd) => fdio::write_all(fd, msg).await.map_err(Fault::Write),
            MsgOut::Framed { fd, framing, out } => {
                out.clear();
                frame::encode(*framing, msg, out).map_err(Fault::Frame)?;
                fdio::write_all(fd, out).await.map_err(Fault::Write)
            }
        }
    }
}
