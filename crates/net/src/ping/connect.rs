//! Connect pings: how long `connect(2)` takes to a TCP port (the handshake, as `tcping`
//! measures it) or to a Unix socket (is the server accepting, and how fast?).
//!
//! Each probe is a fresh socket and one blocking connect, timed from just before the call to
//! just after it returns, on a thread of its own so no scheduler sits between the kernel's
//! answer and the clock. TCP uses socket2's `connect_timeout` (non-blocking connect, then
//! `poll(2)` for at most the timeout); a Unix connect waits for room in a full accept queue
//! for at most `SO_SNDTIMEO`. The connection is closed right away (a TCP FIN, as any client
//! that hangs up).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::addr::{UnixName, UnixType};
use crate::endpoint::unix_sockaddr as sockaddr;
use crate::narrate;
use crate::peer::Cred;

/// Where a connect ping connects.
#[derive(Clone, Debug)]
pub(crate) enum ConnectTarget {
    Tcp(SocketAddr),
    Unix { ty: UnixType, name: UnixName },
}

/// What one connect found.
pub(crate) struct Connected {
    /// The listening process (Unix stream and seqpacket).
    pub listener: Option<Cred>,
}

impl ConnectTarget {
    /// The address as shown in replies: `IP:PORT`, `/path`, `@name`.
    pub fn shown(&self) -> String {
        match self {
            ConnectTarget::Tcp(a) => a.to_string(),
            ConnectTarget::Unix { name, .. } => name.to_string(),
        }
    }
}

/// One timed connect. Returns how long `connect(2)` took, and what it found.
pub(crate) fn probe(
    target: &ConnectTarget,
    timeout: Duration,
) -> (Duration, io::Result<Connected>) {
    let shown = target.shown();
    let (sock, addr) = match open(target) {
        Ok(x) => x,
        Err(e) => return (Duration::ZERO, Err(e)),
    };
    let fd = sock.as_raw_fd();
    if matches!(target, ConnectTarget::Unix { .. }) {
        if let Err(e) = sock.set_write_timeout(Some(timeout)) {
            return (Duration::ZERO, Err(e));
        }
    }
    let started = Instant::now();
    let r = match target {
        ConnectTarget::Tcp(_) => sock.connect_timeout(&addr, timeout),
        ConnectTarget::Unix { .. } => sock.connect(&addr),
    };
    let took = started.elapsed();
    let r = r.map_err(|e| match e.raw_os_error() {
        // SO_SNDTIMEO ran out waiting for room in a Unix accept queue.
        Some(libc::EAGAIN) | Some(libc::EINPROGRESS) => io::Error::new(
            io::ErrorKind::TimedOut,
            "timed out (the accept queue stayed full)",
        ),
        _ => e,
    });
    match &r {
        Ok(()) => narrate!(
            "connect(fd {fd}, {shown}) = ok in {:.3} ms",
            took.as_secs_f64() * 1e3
        ),
        Err(e) => narrate!("connect(fd {fd}, {shown}) = {e}"),
    }
    let result = r.and_then(|()| match target {
        ConnectTarget::Tcp(to) => {
            // A connect to a local port nobody listens on can connect the socket to itself
            // when the kernel picks that port as the source: that is no listener.
            let local = sock.local_addr()?.as_socket();
            if local.is_some_and(|l| l.ip() == to.ip() && l.port() == to.port()) {
                narrate!("fd {fd} is connected to itself: nothing listens on {to}");
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "connected to itself (nothing is listening there)",
                ));
            }
            Ok(Connected { listener: None })
        }
        ConnectTarget::Unix { ty, .. } => Ok(Connected {
            listener: match ty {
                UnixType::Dgram => None,
                UnixType::Stream | UnixType::Seqpacket => crate::endpoint::peer_cred(&sock),
            },
        }),
    });
    (took, result)
}

fn open(target: &ConnectTarget) -> io::Result<(Socket, SockAddr)> {
    match target {
        ConnectTarget::Tcp(a) => Ok((
            Socket::new(Domain::for_address(*a), Type::STREAM, None)?,
            SockAddr::from(*a),
        )),
        ConnectTarget::Unix { ty, name } => {
            let t = match ty {
                UnixType::Stream => Type::STREAM,
                UnixType::Dgram => Type::DGRAM,
                UnixType::Seqpacket => Type::SEQPACKET,
            };
            let s = Socket::new(Domain::UNIX, t, None)?;
            Ok((s, sockaddr(name)?))
        }
    }
}
