//! Passing open file descriptors over Unix sockets: `SCM_RIGHTS` control messages on
//! `sendmsg(2)` / `recvmsg(2)` (unix(7), cmsg(3)). What `sockbox fd send`, `sockbox fd recv`
//! and `relay --pass-fds` (in `relay/fds.rs`) are made of.
//!
//! - [`send`] sends descriptors with a payload, at most [`SCM_MAX_FD`] (253, the kernel's limit)
//!   per message: more are split across several messages, each carrying the payload again. On a
//!   stream socket a message needs at least one byte of data, or the kernel sends nothing.
//! - [`FdReceiver`] receives them (`MSG_CMSG_CLOEXEC`) as `OwnedFd`s, so every path that drops
//!   a message (an error, a full channel, the end of the program) closes its descriptors.
//!   `MSG_CTRUNC` (the control buffer had no room for some descriptors, which the kernel then
//!   closed), more descriptors than allowed, and `MSG_TRUNC` (a seqpacket or datagram message
//!   longer than the buffer) are errors, never silence.
//! - [`describe()`] says what a received descriptor is, as serializable data.
//! - [`copy_out`] copies a readable descriptor's content out (`fd recv --cat`), and
//!   [`run_with_fds`] hands descriptors to a program as its fds 3, 4, ... (`fd recv --exec`).
//!
//! The system calls go through rustix, whose ancillary-data buffers hand out received
//! descriptors as `OwnedFd` without any `unsafe` here.

mod cat;
pub mod describe;
mod exec;
mod open;
mod receiver;
pub mod scm;
mod socket;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use serde::Serialize;

pub use cat::{copy_out, readable};
pub use describe::{describe, Access, FdInfo, FdKind, SocketInfo};
pub use exec::{run_with_fds, FDS_ENV};
pub use open::{inherited, open_file, OpenMode};
pub use receiver::{FdReceiver, Received};
pub use socket::{accept_one, bind_datagram, connect, unix_type, PassSocket};

// PassError is an error type like the others, kept in crate::error (which imports nothing
// from here); named here too, where descriptors are passed.
pub use crate::error::PassError;
use crate::error::{Error, Result};

/// The most descriptors one message may carry (`SCM_MAX_FD` in the kernel's
/// `include/net/scm.h`); `sendmsg(2)` fails with `EINVAL` beyond it.
pub const SCM_MAX_FD: usize = 253;

/// Data bytes one message may carry into [`FdReceiver`]; a longer seqpacket or datagram
/// message is an error (`MSG_TRUNC`), a longer stream chunk arrives in several messages.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// How a socket carries data: decides what end of stream and truncation mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// `SOCK_STREAM`: bytes; reading 0 is end of stream.
    Stream,
    /// `SOCK_SEQPACKET`: messages; reading 0 (without descriptors) is end of stream.
    Seqpacket,
    /// `SOCK_DGRAM`: messages; no end of stream, an empty message is a message.
    Datagram,
}

/// What [`send`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// Messages sent (one per [`SCM_MAX_FD`] descriptors, at least one).
    pub messages: u64,
    /// Descriptors sent.
    pub fds: u64,
    /// Data bytes sent, over all messages.
    pub bytes: u64,
}

/// Send `fds` with `payload` on `sock`: one `sendmsg(2)` per [`SCM_MAX_FD`] descriptors, each
/// carrying the payload. An empty payload is refused on a stream socket, which cannot carry
/// descriptors without data.
pub async fn send(sock: &PassSocket, payload: &[u8], fds: &[OwnedFd]) -> Result<SendReport> {
    if payload.is_empty() && sock.kind == SocketKind::Stream {
        return Err(Error::Usage(format!(
            "{}: a stream socket carries descriptors only with at least one byte of data; give a non-empty payload",
            sock.label
        )));
    }
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    let mut report = SendReport::default();
    let mut chunks: Vec<&[BorrowedFd<'_>]> = borrowed.chunks(SCM_MAX_FD).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    for chunk in chunks {
        scm::send(&sock.fd, sock.kind, payload, chunk)
            .await
            .map_err(|err| Error::Io {
                op: "sendmsg to",
                target: sock.label.clone(),
                err,
            })?;
        crate::narrate!(
            "sendmsg(fd {}, {} bytes, SCM_RIGHTS {} fds)",
            std::os::fd::AsRawFd::as_raw_fd(&sock.fd),
            payload.len(),
            chunk.len()
        );
        report.messages += 1;
        report.fds += chunk.len() as u64;
        report.bytes += payload.len() as u64;
    }
    Ok(report)
}
