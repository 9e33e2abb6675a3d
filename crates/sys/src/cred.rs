//! `getsockopt(SO_PEERGROUPS)` (Linux 4.13): the supplementary groups of the process at the
//! other end of a Unix socket, as they were when it connected. nix wraps `SO_PEERCRED` (pid,
//! uid, primary gid) but not this one, whose answer has a variable length.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// The peer's supplementary group ids (its primary gid is in `SO_PEERCRED`).
pub fn peer_groups(fd: impl AsFd) -> io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: the fd is borrowed for the call; `groups` is writable for `len` bytes; the
        // kernel writes at most `len` bytes and stores the length it wrote (or, on ERANGE, the
        // length it needs) in `len`.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_fd().as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let count = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(count);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && count > groups.len() && count <= 65536 {
            groups.resize(count, 0);
            continue;
        }
        return Err(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socketpair_peer_has_our_groups() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut ours = nix::unistd::getgroups()
            .unwrap()
            .into_iter()
            .map(|g| g.as_raw())
            .collect::<Vec<_>>();
        let mut theirs = peer_groups(&a).unwrap();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_tcp_socket_has_no_peer_groups() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(peer_groups(&l).is_err());
    }
}
