//! Threads that bridge an fd the runtime cannot poll (a regular file, a tty, `/dev/null`) to a
//! pipe it can.
//!
//! epoll refuses regular files, and setting `O_NONBLOCK` on a terminal would change it for
//! every process sharing it (the shell included). So such an fd gets a thread doing plain
//! blocking I/O between it and a private pipe, and the relay only ever sees pipes and sockets.
//! A writer bridge is joined when its connection closes, so no byte is lost at exit.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use super::fdio::{self, Fd};

const CHUNK: usize = 128 * 1024;

fn read_some(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match nix::unistd::read(fd, buf) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

fn write_all(fd: &OwnedFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// How often a followed file is read again at its end (`tail -f` waits 1 s; socat 1 s too).
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// How far a reader bridge reads.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ReadTo {
    /// To the end, or at most this many bytes.
    End(Option<u64>),
    /// Past the end: what is appended later is read too (`tail -f`, socat's `ignoreeof`),
    /// until nobody reads the pipe any more.
    Follow,
}

/// True once nobody holds the pipe's read end: waits up to `wait` for that (POLLERR on the
/// write end), so a followed file is read again after at most `wait`.
fn reader_gone(w: &OwnedFd, wait: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(w.as_fd(), PollFlags::empty())];
    let ms = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    matches!(poll(&mut fds, ms), Ok(n) if n > 0)
}

/// Copy `src` (blocking) into a new pipe (see [`ReadTo`]); returns the pipe's read end. The
/// thread is not joined: it ends at `src`'s end, or when nobody reads the pipe any more.
pub(crate) fn reader(src: OwnedFd, to: ReadTo, name: &str) -> io::Result<Fd> {
    let (limit, follow) = match to {
        ReadTo::End(limit) => (limit, false),
        ReadTo::Follow => (None, true),
    };
    let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
    std::thread::Builder::new()
        .name(format!("read {name}"))
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            let mut left = limit.unwrap_or(u64::MAX);
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                match read_some(&src, &mut buf[..want]) {
                    Ok(0) if follow => {
                        if reader_gone(&w, FOLLOW_POLL) {
                            break;
                        }
                    }
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if write_all(&w, &buf[..n]).is_err() {
                            break;
                        }
                        left -= n as u64;
                    }
                }
            }
        })?;
    fdio::register(r)
}

/// Copy a new pipe into `dst` (blocking); returns the pipe's write end and the thread, to be
/// joined once the write end is closed.
pub(crate) fn writer(dst: OwnedFd, name: &str) -> io::Result<(Fd, JoinHandle<()>)> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
    let handle = std::thread::Builder::new()
        .name(format!("write {name}"))
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match read_some(&r, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Err(e) = write_all(&dst, &buf[..n]) {
                            if e.raw_os_error() != Some(libc::EPIPE) {
                                tracing::warn!(
                                    "writing {}: {e}",
                                    std::thread::current().name().unwrap_or("?")
                                );
                            }
                            // Dropping `r` makes the relay's next write fail with EPIPE.
                            break;
                        }
                    }
                }
            }
        })?;
    Ok((fdio::register(w)?, handle))
}
