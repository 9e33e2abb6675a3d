//! Copying a received descriptor's content out (`fd recv --cat`): `read(2)` until end of file,
//! waiting with `poll(2)` when the descriptor is non-blocking.
//!
//! The descriptor's flags are never changed: its open file description is shared with the
//! sender, who would see `O_NONBLOCK` come or go. Reading does move the shared file offset, as
//! `cat <&3` would.

use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::describe::{FdInfo, FdKind};

/// True when [`copy_out`] would read `info`'s descriptor to an end: opened for reading, and a
/// file, memfd, pipe, FIFO, character device, or a connected stream or seqpacket socket.
/// Directories, `O_PATH` descriptors, listening or datagram sockets (no end of stream) and
/// anonymous inodes (an eventfd reads a counter, forever) are not.
pub fn readable(info: &FdInfo) -> bool {
    if !info.access.readable() {
        return false;
    }
    match info.kind {
        FdKind::File | FdKind::Memfd | FdKind::Pipe | FdKind::Fifo | FdKind::CharDevice => true,
        FdKind::Socket => info.socket.as_ref().is_some_and(|s| {
            !s.listening && matches!(s.socket_type.as_str(), "stream" | "seqpacket")
        }),
        _ => false,
    }
}

/// Copy what `fd` yields until end of file into `out`; returns the bytes copied. Gives up with
/// `TimedOut` at `deadline`.
pub fn copy_out(
    fd: BorrowedFd<'_>,
    out: &mut dyn Write,
    deadline: Option<Instant>,
) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        // With a deadline, wait first: a blocking descriptor would otherwise block in read(2)
        // past it.
        if deadline.is_some() {
            wait_readable(fd, deadline)?;
        }
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.write_all(&buf[..n])?;
                total += n as u64;
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => wait_readable(fd, deadline)?,
            Err(e) => return Err(e.into()),
        }
    }
    out.flush()?;
    Ok(total)
}

/// `poll(2)` for input (or end of file, or an error, which read(2) then reports) until
/// `deadline`.
fn wait_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> io::Result<()> {
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "timed out before the descriptor reached end of file",
                    ));
                }
                // Round up so the last microseconds do not spin.
                PollTimeout::try_from(left + Duration::from_millis(1)).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_non_blocking_pipe_is_read_to_its_end() {
        let (r, w) = nix::unistd::pipe().unwrap();
        crate::endpoint::fdio::set_nonblocking(&r).unwrap();
        let writer = std::thread::spawn(move || {
            for _ in 0..3 {
                nix::unistd::write(&w, b"abc").unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut out = Vec::new();
        let deadline = Some(Instant::now() + Duration::from_secs(20));
        assert_eq!(copy_out(r.as_fd(), &mut out, deadline).unwrap(), 9);
        assert_eq!(out, b"abcabcabc");
        writer.join().unwrap();
    }

    #[test]
    fn a_pipe_that_never_ends_times_out_blocking_or_not() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let err = copy_out(r.as_fd(), &mut Vec::new(), Some(Instant::now())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        crate::endpoint::fdio::set_nonblocking(&r).unwrap();
        let err = copy_out(r.as_fd(), &mut Vec::new(), Some(Instant::now())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
