//! Descriptors a parent process handed sockbox by number (`sockbox fd send --fd N`, as in
//! `sockbox fd send ADDR --fd 3 3<file`).
//!
//! Safe Rust cannot name a descriptor by its number, and must not own one it did not open: the
//! number might belong to some other object of this process. So the descriptor is only looked
//! at with `fcntl(F_GETFD)` and then duplicated (`F_DUPFD_CLOEXEC`): sockbox owns the copy,
//! never the original. A descriptor this process opened itself (the runtime's epoll, a socket)
//! carries `FD_CLOEXEC`, as everything Rust opens does, while one inherited across `execve(2)`
//! cannot (it would have been closed): that flag tells the two apart.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// What descriptor number `N` is in this process.
#[derive(Debug)]
pub enum Inherited {
    /// Open and inherited: a close-on-exec duplicate sockbox owns.
    Open(OwnedFd),
    /// Nothing is open at that number (`EBADF`).
    NotOpen,
    /// Open with `FD_CLOEXEC`: one of sockbox's own descriptors, not one it was given.
    Own,
}

/// Duplicate the inherited descriptor `fd` (`fcntl(F_GETFD)`, then `F_DUPFD_CLOEXEC`).
pub fn dup_inherited(fd: RawFd) -> io::Result<Inherited> {
    if fd < 0 {
        return Ok(Inherited::NotOpen);
    }
    // SAFETY: F_GETFD on a plain integer only reads this process's descriptor table; a number
    // that is not open gives EBADF and nothing else happens.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EBADF) => Ok(Inherited::NotOpen),
            _ => Err(e),
        };
    }
    if flags & libc::FD_CLOEXEC != 0 {
        return Ok(Inherited::Own);
    }
    // SAFETY: F_DUPFD_CLOEXEC on an open descriptor creates a new one (at 3 or above) that
    // refers to the same open file; the original is neither closed nor changed.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just returned by the kernel as a new open descriptor, so nothing else
    // in this process refers to it: this OwnedFd is its only owner.
    Ok(Inherited::Open(unsafe { OwnedFd::from_raw_fd(copy) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn descriptors_sockbox_opened_itself_are_not_inherited() {
        let f = std::fs::File::open("/proc/self/status").unwrap();
        assert!(matches!(
            dup_inherited(f.as_raw_fd()).unwrap(),
            Inherited::Own
        ));
    }

    #[test]
    fn a_number_nothing_is_open_at_is_not_open() {
        assert!(matches!(dup_inherited(-1).unwrap(), Inherited::NotOpen));
        assert!(matches!(
            dup_inherited(1_000_000).unwrap(),
            Inherited::NotOpen
        ));
    }
}
