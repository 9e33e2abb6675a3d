//! Threads that bridge an fd the runtime cannot poll (a regular file, a tty, `/dev/null`) to a
//! pipe it can.
//!
//! epoll refuses regular files, and setting `O_NONBLOCK` on a terminal would change it for
//! every process sharing it (the shell included). So such an fd gets a thread doing plain
//! blocking I/O between it and a private pipe, and the relay only ever sees pipes and sockets.
//! A writer bridge is joined when its connection closes, so no byte is lost at exit.

use std::io;
use std::os::fd::OwnedFd;
use std::thread::JoinHandle;

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

/// Copy `src` (blocking) into a new pipe, at most `limit` bytes; returns the pipe's read end.
/// The thread is not joined: it ends at `src`'s end, or when nobody reads the pipe any more.
pub(crate) fn reader(src: OwnedFd, limit: Option<u64>, name: &str) -> io::Result<Fd> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
    std::thread::Builder::new()
        .name(format!("read {name}"))
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            let mut left = limit.unwrap_or(u64::MAX);
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                match read_some(&src, &mut buf[..want]) {
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
