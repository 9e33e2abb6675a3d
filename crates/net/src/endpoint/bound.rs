//! A socket bound to a listening address, before it accepts: what [`Listener::bind`] builds on,
//! what `listen --activate` hands to another program, and what `listen --inherit` rebuilds
//! from a descriptor a socket-activating parent passed (sd_listen_fds(3)).

use std::os::fd::OwnedFd;

use socket2::{Domain, Socket, Type};

use super::accept::StreamListener;
use super::{demux, fdio, inet, unix, Accepting, Listener, Medium};
use crate::addr::{Address, Endpoint, Framing, Options, UnixName};
use crate::error::{io_err, Error, Result};

/// A bound socket (listening, for stream and seqpacket) not yet registered with the runtime.
pub struct Bound {
    sock: Socket,
    /// The address as bound, in the address grammar (`tcp:127.0.0.1:8080`, `unix:/run/a.sock`).
    pub label: String,
    medium: Medium,
    framing: Option<Framing>,
    nodelay: bool,
    keepalive: bool,
    /// Removes the socket file sockbox created, when dropped.
    cleanup: Option<unix::FileGuard>,
}

impl Bound {
    pub(crate) fn new(
        sock: Socket,
        label: String,
        medium: Medium,
        cleanup: Option<unix::FileGuard>,
    ) -> Self {
        Bound {
            sock,
            label,
            medium,
            framing: None,
            nodelay: false,
            keepalive: false,
            cleanup,
        }
    }

    /// Take `frame=`, `nodelay`, `keepalive` from the listen address, for accepted clients.
    pub fn set_options(&mut self, o: &Options) {
        self.framing = o.frame;
        self.nodelay = o.nodelay;
        self.keepalive = o.keepalive;
    }

    /// Bind a socket address (tcp, udp, unix of every type) and listen on it when it is a
    /// stream or seqpacket socket. Other kinds are not sockets and cannot be bound.
    pub async fn bind(addr: &Address) -> Result<Bound> {
        match &addr.endpoint {
            Endpoint::Tcp(t) => inet::bind_tcp(addr, t).await,
            Endpoint::Udp(t) => inet::bind_udp(addr, t).await,
            Endpoint::Unix(ty, name) => unix::bind(addr, *ty, name),
            _ => Err(Error::Usage(format!(
                "{addr}: not a socket address (tcp, udp, unix, unix-dgram, seqpacket)"
            ))),
        }
    }

    /// Rebuild a listener's socket from a descriptor handed over by socket activation: its
    /// family, type and name come from the kernel (`SO_DOMAIN`, `SO_TYPE`, `getsockname`). A
    /// stream socket must be listening (systemd's `Accept=yes` passes connections instead).
    pub fn inherited(fd: OwnedFd) -> Result<Bound> {
        use std::os::fd::AsRawFd;
        let raw = fd.as_raw_fd();
        let what = format!("inherited descriptor {raw}");
        let sock = Socket::from(fd);
        let domain = sock.domain().map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTSOCK) => Error::Usage(format!("{what} is not a socket")),
            _ => io_err("getsockopt SO_DOMAIN on", &what)(e),
        })?;
        let ty = sock
            .r#type()
            .map_err(io_err("getsockopt SO_TYPE on", &what))?;
        let local = sock.local_addr().map_err(io_err("getsockname on", &what))?;
        let (medium, kind) = match (domain, ty) {
            (Domain::IPV4 | Domain::IPV6, Type::STREAM) => (Medium::Tcp, "tcp"),
            (Domain::IPV4 | Domain::IPV6, Type::DGRAM) => (Medium::Datagram, "udp"),
            (Domain::UNIX, Type::STREAM) => (Medium::UnixStream, "unix"),
            (Domain::UNIX, Type::SEQPACKET) => (Medium::Seqpacket, "seqpacket"),
            (Domain::UNIX, Type::DGRAM) => (Medium::Datagram, "unix-dgram"),
            _ => {
                return Err(Error::Usage(format!(
                    "{what} is a socket of a family or type sockbox does not listen on \
                     ({domain:?}, {ty:?})"
                )))
            }
        };
        let name = match local.as_socket() {
            Some(a) => a.to_string(),
            None => unix::display_name(&local).unwrap_or_else(|| "(unnamed)".into()),
        };
        let label = format!("{kind}:{name}");
        if medium != Medium::Datagram
            && !sock
                .is_listener()
                .map_err(io_err("getsockopt SO_ACCEPTCONN on", &what))?
        {
            return Err(Error::Usage(format!(
                "{what} ({label}) is a connected socket, not a listening one (systemd's \
                 Accept=yes passes one connection per process; use Accept=no)"
            )));
        }
        crate::narrate!("{what}: {label}");
        Ok(Bound::new(sock, label, medium, None))
    }

    /// True when this socket is what `addr` names: same kind of socket, same port (and same
    /// IP when `addr` gives an IP literal), or the same Unix name.
    pub fn matches(&self, addr: &Address) -> bool {
        let Ok(local) = self.sock.local_addr() else {
            return false;
        };
        match &addr.endpoint {
            Endpoint::Tcp(t) | Endpoint::Udp(t) => {
                let want = if matches!(addr.endpoint, Endpoint::Tcp(_)) {
                    Medium::Tcp
                } else {
                    Medium::Datagram
                };
                let Some(at) = local.as_socket() else {
                    return false;
                };
                self.medium == want
                    && at.port() == t.port
                    && t.host
                        .as_deref()
                        .and_then(|h| h.parse::<std::net::IpAddr>().ok())
                        .is_none_or(|ip| ip == at.ip())
            }
            Endpoint::Unix(ty, name) => {
                let want = match ty {
                    crate::addr::UnixType::Stream => Medium::UnixStream,
                    crate::addr::UnixType::Seqpacket => Medium::Seqpacket,
                    crate::addr::UnixType::Dgram => Medium::Datagram,
                };
                let ours = unix::display_name(&local);
                self.medium == want
                    && match name {
                        UnixName::Path(p) => {
                            ours.as_deref() == p.to_str()
                                || local.as_pathname().is_some_and(|q| same_file(p, q))
                        }
                        UnixName::Abstract(n) => ours == Some(format!("@{n}")),
                    }
            }
            _ => false,
        }
    }

    /// Start accepting: register the socket with the runtime (a datagram socket's peers are
    /// demultiplexed from the first accept on).
    pub fn into_listener(self) -> Result<Listener> {
        let target = self.label.clone();
        let accepting = if self.medium == Medium::Datagram {
            let inet = matches!(self.sock.domain(), Ok(Domain::IPV4 | Domain::IPV6));
            let fd = fdio::register(OwnedFd::from(self.sock)).map_err(io_err("listen", &target))?;
            Accepting::Datagram(demux::Peers::new(fd, inet))
        } else {
            let mut l = StreamListener::new(self.sock, self.label.clone(), self.medium)
                .map_err(io_err("listen", &target))?;
            l.framing = self.framing;
            l.nodelay = self.nodelay;
            l.keepalive = self.keepalive;
            Accepting::Stream(l)
        };
        Ok(Listener {
            label: self.label,
            accepting,
            allow: None,
            _cleanup: self.cleanup,
            refused: 0,
            crlf: None,
            tls: None,
        })
    }

    /// The socket, its label and the guard that removes its file, for code in this crate that
    /// drives a bound socket itself (descriptor passing reads datagrams with `recvmsg`).
    pub(crate) fn into_parts(self) -> (Socket, String, Option<unix::FileGuard>) {
        (self.sock, self.label, self.cleanup)
    }

    /// The socket, for handing to another program: its file (if sockbox created one) stays
    /// in place, since that program serves it from now on.
    pub fn into_fd(self) -> OwnedFd {
        if let Some(g) = self.cleanup {
            g.keep();
        }
        OwnedFd::from(self.sock)
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}
