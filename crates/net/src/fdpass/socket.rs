//! The Unix sockets descriptors travel on: opened through the endpoint layer (so `-v`
//! narration, timeouts, stale-file handling and error messages are sockbox's usual ones), then
//! taken out of it to be driven with `sendmsg(2)`/`recvmsg(2)` here.
//!
//! Connected sockets come from [`endpoint::connect`] and [`Listener`]; a datagram socket to
//! receive on is bound by the endpoint layer ([`Bound`]) but read here.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use super::SocketKind;
use crate::addr::{Address, Endpoint, Role, UnixType};
use crate::endpoint::fdio::{self, Fd};
use crate::endpoint::{self, sock, Bound, Conn, FileGuard, Listener};
use crate::error::{io_err, Error, Result};

/// A connected (or, for a datagram receiver, bound) Unix socket registered with the runtime.
pub struct PassSocket {
    /// The address opened, or the peer accepted, for messages.
    pub label: String,
    /// Who is at the other end, when the kernel says (`SO_PEERCRED`).
    pub peer: Option<String>,
    pub kind: SocketKind,
    pub(crate) fd: Fd,
    /// Removes the socket file of a bound datagram socket when dropped.
    pub(super) cleanup: Option<FileGuard>,
}

/// The socket type of a Unix address, or a usage error naming the kinds that pass descriptors.
pub fn unix_type(addr: &Address) -> Result<UnixType> {
    match &addr.endpoint {
        Endpoint::Unix(ty, _) => Ok(*ty),
        _ => Err(Error::Usage(format!(
            "{addr}: descriptors travel only over Unix sockets (unix:, seqpacket:, unix-dgram:)"
        ))),
    }
}

fn kind_of(ty: UnixType) -> SocketKind {
    match ty {
        UnixType::Stream => SocketKind::Stream,
        UnixType::Seqpacket => SocketKind::Seqpacket,
        UnixType::Dgram => SocketKind::Datagram,
    }
}

/// Take the socket out of a stream or seqpacket connection and register it again.
pub(super) fn from_accepted(conn: Conn, kind: SocketKind) -> Result<PassSocket> {
    let label = conn.label.to_string();
    let peer = conn.peer.as_ref().map(ToString::to_string);
    let (fd, _) = conn
        .into_socket()
        .ok_or_else(|| Error::Refused(format!("{label}: the connection is not a single socket")))?;
    let fd = fdio::register(fd).map_err(io_err("register", &label))?;
    Ok(PassSocket {
        label,
        peer,
        kind,
        fd,
        cleanup: None,
    })
}

/// Connect to `addr` (unix, seqpacket or unix-dgram).
pub async fn connect(addr: &Address, timeout: Option<Duration>) -> Result<PassSocket> {
    let ty = unix_type(addr)?;
    let conn = endpoint::connect(addr, timeout).await?;
    from_accepted(conn, kind_of(ty))
}

/// Listen on `addr` (unix or seqpacket) and accept one client.
pub async fn accept_one(addr: &Address) -> Result<PassSocket> {
    let ty = unix_type(addr)?;
    if ty == UnixType::Dgram {
        return Err(Error::Usage(format!(
            "{addr}: a datagram socket has no client to accept; send to the receiver's address instead"
        )));
    }
    let mut listener = Listener::bind(addr).await?;
    tracing::info!(target: crate::PEER, "listening on {}", listener.label);
    let conn = listener.accept().await?.ok_or_else(|| {
        Error::Refused(format!("{}: the listener gave no client", listener.label))
    })?;
    tracing::info!(target: crate::PEER, "connection from {}", conn.label);
    from_accepted(conn, kind_of(ty))
}

/// Bind a Unix datagram socket to receive on, as `listen` binds `unix-dgram:` (the endpoint
/// layer's [`Bound`]: stale files replaced, live ones refused, `mode=`/`owner=`/`group=`, the
/// file removed when the socket is dropped), but read here with `recvmsg(2)`: the endpoint
/// layer's datagram listener reads with `recvfrom(2)`, which would make the kernel discard any
/// descriptor attached.
pub async fn bind_datagram(addr: &Address) -> Result<PassSocket> {
    if !matches!(addr.endpoint, Endpoint::Unix(UnixType::Dgram, _)) {
        return Err(Error::Usage(format!("{addr}: not a unix-dgram address")));
    }
    if addr.role == Some(Role::Connect) {
        return Err(Error::Usage(format!(
            "{addr}: a datagram receiver binds its address; use unix-dgram:PATH"
        )));
    }
    let (sock, label, cleanup) = Bound::bind(addr).await?.into_parts();
    let fd = fdio::register(OwnedFd::from(sock)).map_err(io_err("register", &label))?;
    Ok(PassSocket {
        label,
        peer: None,
        kind: SocketKind::Datagram,
        fd,
        cleanup,
    })
}

impl PassSocket {
    /// The registered socket.
    pub fn fd(&self) -> &Fd {
        &self.fd
    }

    /// Shut down writing (`shutdown(SHUT_WR)`): the peer reads end of stream.
    pub fn finish(&self) {
        if self.kind != SocketKind::Datagram {
            let _ = sock::shutdown_write(&self.fd.get_ref().as_fd());
        }
    }
}
