//! The socket calls sockbox makes, each narrated on the `sockbox::call` target.
//!
//! Every endpoint opens its sockets through these few functions, so `sockbox -v` shows the
//! client-server model as it happens (`socket`, `bind`, `listen`, `accept`, `connect`,
//! `shutdown`) without any verb having to say anything. Sockets are created close-on-exec and
//! non-blocking in the one `socket(2)` call (`SOCK_CLOEXEC | SOCK_NONBLOCK`), not by `fcntl`
//! afterwards.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use super::fdio::{self, Fd};
use crate::narrate;

/// `AF_INET`-style name of a domain, for narration.
pub fn domain_name(d: Domain) -> &'static str {
    match d {
        Domain::IPV4 => "AF_INET",
        Domain::IPV6 => "AF_INET6",
        Domain::UNIX => "AF_UNIX",
        _ => "AF_?",
    }
}

/// `SOCK_STREAM`-style name of a socket type, for narration.
pub fn type_name(t: Type) -> &'static str {
    match t {
        Type::STREAM => "SOCK_STREAM",
        Type::DGRAM => "SOCK_DGRAM",
        Type::SEQPACKET => "SOCK_SEQPACKET",
        Type::RAW => "SOCK_RAW",
        _ => "SOCK_?",
    }
}

/// `socket(2)`, close-on-exec and non-blocking (`SOCK_CLOEXEC | SOCK_NONBLOCK`).
pub fn socket(domain: Domain, ty: Type) -> io::Result<Socket> {
    // socket2 adds SOCK_CLOEXEC itself.
    let s = Socket::new(domain, ty.nonblocking(), None)?;
    narrate!(
        "socket({}, {}) = fd {}",
        domain_name(domain),
        type_name(ty),
        s.as_raw_fd()
    );
    Ok(s)
}

/// `bind(2)`; `shown` is the address as the user would write it.
pub fn bind(s: &Socket, addr: &SockAddr, shown: &dyn fmt::Display) -> io::Result<()> {
    let r = s.bind(addr);
    narrate!("bind(fd {}, {shown}){}", s.as_raw_fd(), outcome(&r));
    r
}

/// `listen(2)`.
pub fn listen(s: &Socket, backlog: u32) -> io::Result<()> {
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    let r = s.listen(backlog);
    narrate!(
        "listen(fd {}, backlog {backlog}){}",
        s.as_raw_fd(),
        outcome(&r)
    );
    r
}

/// `setsockopt(2)` narrated with its name and value.
pub fn setsockopt(
    s: &Socket,
    name: &str,
    value: &dyn fmt::Display,
    set: impl FnOnce(&Socket) -> io::Result<()>,
) -> io::Result<()> {
    let r = set(s);
    narrate!(
        "setsockopt(fd {}, {name}, {value}){}",
        s.as_raw_fd(),
        outcome(&r)
    );
    r
}

/// `connect(2)` on a non-blocking socket (one made by [`socket`]): waits for the handshake (`EINPROGRESS`, then
/// writability; `SO_ERROR` only when the kernel flags an error), and retries a full Unix listen queue (`EAGAIN`) until `timeout`.
pub async fn connect(
    s: Socket,
    addr: &SockAddr,
    shown: &(dyn fmt::Display + Sync),
    timeout: Option<Duration>,
) -> io::Result<Fd> {
    let started = Instant::now();
    let fd = s.as_raw_fd();
    let deadline = timeout.map(|t| started + t);
    let result = async {
        loop {
            match s.connect(addr) {
                Ok(()) => return fdio::register_nonblocking(OwnedFd::from(s)),
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                    let afd = fdio::register_nonblocking(OwnedFd::from(s))?;
                    let wait = afd.writable();
                    let mut guard = match deadline {
                        Some(d) => tokio::time::timeout_at(d.into(), wait)
                            .await
                            .map_err(|_| io::Error::from_raw_os_error(libc::ETIMEDOUT))??,
                        None => wait.await?,
                    };
                    // Writable with no hang-up or error flag: the handshake is done, which
                    // is all `SO_ERROR` would say; a failed connect always raises `EPOLLERR`
                    // or `EPOLLHUP` (tokio's write-closed). One `getsockopt` less per client.
                    let failed = guard.ready().is_write_closed();
                    guard.retain_ready();
                    drop(guard);
                    if !failed {
                        return Ok(afd);
                    }
                    return match SockRef::from(afd.get_ref()).take_error()? {
                        None => Ok(afd),
                        Some(e) => Err(e),
                    };
                }
                // A Unix listener with a full accept queue: try again shortly.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(io::Error::from_raw_os_error(libc::ETIMEDOUT));
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    .await;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match &result {
        Ok(_) => narrate!("connect(fd {fd}, {shown}) = ok in {ms:.3} ms"),
        Err(e) => narrate!("connect(fd {fd}, {shown}) = {e}"),
    }
    result
}

/// `shutdown(2)` of the write side: the peer reads end-of-stream, we can still read.
pub fn shutdown_write(fd: &impl AsFd) -> io::Result<()> {
    let r = SockRef::from(fd).shutdown(std::net::Shutdown::Write);
    narrate!(
        "shutdown(fd {}, SHUT_WR){}",
        fd.as_fd().as_raw_fd(),
        outcome(&r)
    );
    match r {
        // The peer is already gone: nothing left to tell it.
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(()),
        r => r,
    }
}

fn outcome<T>(r: &io::Result<T>) -> String {
    match r {
        Ok(_) => String::new(),
        Err(e) => format!(" = {e}"),
    }
}
