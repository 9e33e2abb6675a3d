//! Accepting clients on a listening stream or seqpacket socket, TCP or Unix alike.

use std::os::fd::{AsRawFd, OwnedFd};

use socket2::{SockRef, Socket};

use super::{fdio, unix, Conn, Fd, Medium, Peer};
use crate::addr::{Framing, Transfer};
use crate::error::{io_err, Result};
use crate::narrate;

/// A bound, listening socket.
pub(crate) struct StreamListener {
    pub(crate) fd: Fd,
    pub(crate) label: String,
    pub(crate) medium: Medium,
    pub(crate) transfer: Transfer,
    pub(crate) framing: Option<Framing>,
    /// TCP_NODELAY for each accepted connection (`nodelay` on the listen address).
    pub(crate) nodelay: bool,
    /// SO_KEEPALIVE for each accepted connection.
    pub(crate) keepalive: bool,
    /// Read each Unix client's process name for its label (see `Listener::unnamed_processes`).
    pub(crate) process_names: bool,
}

impl StreamListener {
    pub(crate) fn new(sock: Socket, label: String, medium: Medium) -> std::io::Result<Self> {
        let transfer = if medium == Medium::Seqpacket {
            Transfer::Message
        } else {
            Transfer::Stream
        };
        Ok(StreamListener {
            fd: fdio::register(OwnedFd::from(sock))?,
            label,
            medium,
            transfer,
            framing: None,
            nodelay: false,
            keepalive: false,
            process_names: true,
        })
    }

    /// `accept4(2)`, close-on-exec and non-blocking in that one call (no `fcntl` after); the
    /// new socket is described by its peer: the address for inet, `SO_PEERCRED` for Unix.
    pub(crate) async fn accept(&self) -> Result<Conn> {
        let (sock, from) = fdio::on_readable(&self.fd, |fd| {
            SockRef::from(fd).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
        })
        .await
        .map_err(io_err("accept on", &self.label))?;
        let peer = match from.as_socket() {
            Some(addr) => Peer::Inet { addr },
            None => Peer::Unix {
                name: unix::display_name(&from),
                cred: unix::cred(&sock, self.process_names),
            },
        };
        narrate!(
            "accept(fd {}) = fd {}, {peer}",
            self.fd.as_raw_fd(),
            sock.as_raw_fd()
        );
        if self.medium == Medium::Tcp {
            if self.nodelay {
                sock.set_tcp_nodelay(true)
                    .map_err(io_err("setsockopt TCP_NODELAY on", &peer))?;
            }
            if self.keepalive {
                sock.set_keepalive(true)
                    .map_err(io_err("setsockopt SO_KEEPALIVE on", &peer))?;
            }
        }
        let fd =
            fdio::register_nonblocking(OwnedFd::from(sock)).map_err(io_err("register", &peer))?;
        let mut conn = Conn::socket(
            peer.to_string(),
            fd,
            self.medium,
            self.transfer,
            self.framing,
        );
        conn.peer = Some(peer);
        Ok(conn)
    }
}
