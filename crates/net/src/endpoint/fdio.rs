//! Non-blocking I/O on any pollable fd, driven by tokio's `AsyncFd`.
//!
//! sockbox opens every kind of fd (sockets of every type, pipes, FIFOs) itself, so it drives
//! them all the same way: wait for readiness, make the system call, and on `EAGAIN` let tokio
//! clear the readiness and wait again. Nothing here allocates.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::sys::socket::{MsgFlags, SockaddrStorage};
use tokio::io::unix::AsyncFd;

/// A non-blocking fd registered with the runtime.
pub type Fd = AsyncFd<OwnedFd>;

/// Register an fd with the runtime after switching it to non-blocking mode.
pub fn register(fd: OwnedFd) -> io::Result<Fd> {
    set_nonblocking(&fd)?;
    sockbox_sys::register(fd)
}

/// Register an fd created non-blocking (`SOCK_NONBLOCK` from `socket(2)` or `accept4(2)`):
/// no `fcntl` to check or set the flag, which on a relay's connection path was three system
/// calls per socket.
pub fn register_nonblocking(fd: OwnedFd) -> io::Result<Fd> {
    sockbox_sys::register(fd)
}

/// `fcntl(F_SETFL, O_NONBLOCK)`.
pub fn set_nonblocking(fd: &impl AsFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    if !flags.contains(OFlag::O_NONBLOCK) {
        fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    }
    Ok(())
}

/// Run `op` when `fd` is readable, until it stops saying `EAGAIN`.
pub async fn on_readable<R>(
    fd: &Fd,
    mut op: impl FnMut(&OwnedFd) -> io::Result<R>,
) -> io::Result<R> {
    loop {
        let mut guard = fd.readable().await?;
        if let Ok(result) = guard.try_io(|inner| op(inner.get_ref())) {
            return result;
        }
    }
}

/// Run `op` when `fd` is writable, until it stops saying `EAGAIN`.
pub async fn on_writable<R>(
    fd: &Fd,
    mut op: impl FnMut(&OwnedFd) -> io::Result<R>,
) -> io::Result<R> {
    loop {
        let mut guard = fd.writable().await?;
        if let Ok(result) = guard.try_io(|inner| op(inner.get_ref())) {
            return result;
        }
    }
}

fn interrupted_is_retry<R>(mut f: impl FnMut() -> nix::Result<R>) -> io::Result<R> {
    loop {
        match f() {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// `read(2)` with `EIO` as the end of the stream. Of the fds read here (sockets, pipes,
/// FIFOs, terminals), only a terminal returns `EIO`: a pty master whose slave was closed by
/// its last user, a serial line that hung up (pty(7), termios(3)). socat reads it the same way.
fn read_or_hangup(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    match interrupted_is_retry(|| nix::unistd::read(fd, buf)) {
        Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
        r => r,
    }
}

/// `read(2)`: 0 means end of stream.
pub async fn read(fd: &Fd, buf: &mut [u8]) -> io::Result<usize> {
    on_readable(fd, |f| read_or_hangup(f, buf)).await
}

/// `read(2)` from a byte stream (stream socket, pipe), saving the `read` that would only say
/// `EAGAIN`: a read that returns less than asked has drained what the kernel had, so the fd's
/// readiness is cleared at once, as tokio's own sockets do (`PollEvented::poll_read`). It is
/// safe with the runtime's edge-triggered epoll: readiness is only cleared if no event came
/// since it was observed, and data arriving later raises a new event. In a ping-pong through
/// the relay this is one system call of four per message.
pub async fn read_stream(fd: &Fd, buf: &mut [u8]) -> io::Result<usize> {
    let want = buf.len();
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|inner| read_or_hangup(inner.get_ref(), buf)) {
            Ok(Ok(n)) => {
                if n > 0 && n < want {
                    guard.clear_ready();
                }
                return Ok(n);
            }
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

/// `write(2)` until all of `buf` is written.
pub async fn write_all(fd: &Fd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = on_writable(fd, |f| interrupted_is_retry(|| nix::unistd::write(f, buf))).await?;
        buf = &buf[n..];
    }
    Ok(())
}

/// `recv(2)` of one message. Returns the message's full length, which is larger than
/// `buf.len()` when the message did not fit (`MSG_TRUNC`).
pub async fn recv(fd: &Fd, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    on_readable(fd, |f| {
        interrupted_is_retry(|| nix::sys::socket::recv(f.as_raw_fd(), buf, MsgFlags::MSG_TRUNC))
    })
    .await
}

/// `recvfrom(2)` of one message, with the sender's address.
pub async fn recv_from(fd: &Fd, buf: &mut [u8]) -> io::Result<(usize, Option<SockaddrStorage>)> {
    use std::os::fd::AsRawFd;
    on_readable(fd, |f| {
        interrupted_is_retry(|| nix::sys::socket::recvfrom::<SockaddrStorage>(f.as_raw_fd(), buf))
    })
    .await
}

/// `send(2)` of one whole message (`MSG_NOSIGNAL`: a closed peer is `EPIPE`, not a signal).
pub async fn send(fd: &Fd, msg: &[u8]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    on_writable(fd, |f| {
        interrupted_is_retry(|| nix::sys::socket::send(f.as_raw_fd(), msg, MsgFlags::MSG_NOSIGNAL))
    })
    .await
    .map(drop)
}

/// `sendto(2)` of one whole message.
pub async fn send_to(fd: &Fd, msg: &[u8], to: &SockaddrStorage) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    on_writable(fd, |f| {
        interrupted_is_retry(|| {
            nix::sys::socket::sendto(f.as_raw_fd(), msg, to, MsgFlags::MSG_NOSIGNAL)
        })
    })
    .await
    .map(drop)
}
