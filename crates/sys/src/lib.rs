//! The one sockbox crate allowed `unsafe`: thin wrappers over system calls that neither
//! nix nor socket2 wraps safely. Each wrapper takes a borrowed fd, checks the return value
//! and hands back plain data; every `unsafe` block says why it is sound.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

mod activation;
mod cred;
mod exclusive;
mod inherit;
mod procfs;
mod session;
pub use activation::{exec_with_fds, take_listen_fds, LISTEN_FDS_START};
pub use cred::peer_groups;
pub use exclusive::wake_one;
pub use inherit::{dup_inherited, Inherited};
pub use procfs::readlinkat_into;
pub use session::new_session;

/// Register an fd with the current tokio runtime's reactor (epoll), so its readiness can be
/// awaited. Errors (rather than panicking) when called outside a runtime.
pub fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other("no async runtime to register the fd with"));
    }
    // SAFETY: `AsyncFd::register` needs the fd to stay open, and to be the same fd, for the
    // AsyncFd's whole life. An `OwnedFd` owns its descriptor: it is open now, it is closed only
    // when the OwnedFd is dropped (by the AsyncFd, after deregistering), and its raw value
    // never changes.
    unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)
}

/// The parts of `struct tcp_info` (`getsockopt(TCP_INFO)`, tcp(7)) sockbox reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// TCP state as the kernel numbers it (1 = ESTABLISHED ... 10 = LISTEN).
    pub state: u8,
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// Round-trip time variance, microseconds.
    pub rttvar_us: u32,
    /// Congestion window, in segments.
    pub snd_cwnd: u32,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    /// Bytes acknowledged by the peer (`tcpi_bytes_acked`).
    pub bytes_acked: u64,
    /// Bytes received (`tcpi_bytes_received`).
    pub bytes_received: u64,
    /// For a listener: connections waiting in the accept queue (`tcpi_unacked`).
    pub unacked: u32,
}

/// `getsockopt(fd, IPPROTO_TCP, TCP_INFO)`: the kernel's view of a TCP connection.
pub fn tcp_info(fd: impl AsFd) -> io::Result<TcpInfo> {
    // SAFETY: tcp_info is a plain C struct of integers; all-zero bytes are a valid value.
    let mut info: libc::tcp_info = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the fd is borrowed for the call, `info` is a writable buffer of `len` bytes and
    // the kernel writes at most `len` bytes and stores the written length back into `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpInfo {
        state: info.tcpi_state,
        rtt_us: info.tcpi_rtt,
        rttvar_us: info.tcpi_rttvar,
        snd_cwnd: info.tcpi_snd_cwnd,
        total_retrans: info.tcpi_total_retrans,
        bytes_acked: info.tcpi_bytes_acked,
        bytes_received: info.tcpi_bytes_received,
        unacked: info.tcpi_unacked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn tcp_info_of_a_loopback_connection_is_established() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let info = tcp_info(&c).unwrap();
        assert_eq!(info.state, 1, "TCP_ESTABLISHED");
        assert!(info.snd_cwnd > 0);
    }

    #[test]
    fn tcp_info_on_a_non_tcp_socket_is_an_error() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(tcp_info(&a).is_err());
    }
}
