//! Faults on the connecting side (`relay --accept`): no listener, accept-then-close, and a
//! full backlog, so a client's `connect(2)` fails or hangs for real, without root.
//!
//! A full backlog: `listen(2)` with a backlog of 0 lets one connection wait in the accept
//! queue (Linux counts `> backlog`); the relay fills it with connections of its own and never
//! accepts. A TCP client's SYN is then dropped (`ListenOverflows`), so its `connect()` retries
//! and times out; a Unix client's `connect()` blocks (or says `EAGAIN` when non-blocking).

use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::sys::socket::{getsockname, listen, Backlog, SockaddrLike, SockaddrStorage};
use socket2::{Domain, SockAddr, Socket, Type};

/// What `--accept` does with clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptFault {
    /// Nothing listens: TCP clients get `ECONNREFUSED`, Unix clients `ENOENT`.
    Refuse,
    /// Each client is accepted and closed at once, before B is connected to.
    Reject,
    /// Never accept, with the backlog full: clients' connects time out.
    Stall,
}

/// How long a filler connection may take before the backlog counts as full.
const FULL: Duration = Duration::from_millis(300);

/// At most this many fillers (the backlog of 0 takes one; the kernel may round up).
const MAX_FILLERS: usize = 64;

/// Shrink the backlog of listening socket `fd` to 0 and fill it with connections of our own,
/// kept open for as long as the returned sockets live.
pub fn fill_backlog(fd: BorrowedFd<'_>) -> std::io::Result<Vec<Socket>> {
    listen(&fd, Backlog::new(0).map_err(std::io::Error::from)?)?;
    let addr: SockaddrStorage = getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd))?;
    let (domain, ty) = match addr.family() {
        Some(nix::sys::socket::AddressFamily::Inet) => (Domain::IPV4, Type::STREAM),
        Some(nix::sys::socket::AddressFamily::Inet6) => (Domain::IPV6, Type::STREAM),
        _ => {
            let t = nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::SockType)?;
            let ty = if t == nix::sys::socket::SockType::SeqPacket {
                Type::SEQPACKET
            } else {
                Type::STREAM
            };
            (Domain::UNIX, ty)
        }
    };
    let to = sockaddr(&addr)?;
    let mut fillers = Vec::new();
    while fillers.len() < MAX_FILLERS {
        let s = Socket::new(domain, ty, None)?;
        match s.connect_timeout(&to, FULL) {
            Ok(()) => fillers.push(s),
            Err(_) => break,
        }
    }
    crate::narrate!(
        "listen(backlog 0) and {} connections of our own: the backlog is full",
        fillers.len()
    );
    Ok(fillers)
}

/// The listener's own address as socket2 takes it.
fn sockaddr(a: &SockaddrStorage) -> std::io::Result<SockAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Ok(SockAddr::from(std::net::SocketAddrV4::from(*v4)));
    }
    if let Some(v6) = a.as_sockaddr_in6() {
        return Ok(SockAddr::from(std::net::SocketAddrV6::from(*v6)));
    }
    if let Some(u) = a.as_unix_addr() {
        if let Some(p) = u.path() {
            return SockAddr::unix(p);
        }
        if let Some(name) = u.as_abstract() {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(name);
            return SockAddr::unix(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&bytes),
            );
        }
    }
    Err(std::io::Error::other(
        "--accept stall: the listener's address cannot be connected to",
    ))
}
