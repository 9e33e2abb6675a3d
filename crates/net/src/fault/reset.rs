//! Ending a connection with a reset (`--reset-after`): `SO_LINGER` 0 on TCP, so closing sends
//! RST; on a Unix stream or seqpacket socket there is no RST, but closing a socket with unread
//! data makes its peer's next read fail with `ECONNRESET` (Linux's `unix_release_sock`), so
//! that is what a reset is there, where the peer left something unread.

use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::socket::{recv, setsockopt, sockopt, MsgFlags};

use crate::endpoint::fdio::Fd;
use crate::endpoint::Medium;

/// How long a reset waits for the bytes already written to be acknowledged: a RST throws
/// away what the peer has not received yet, and the offset asked must arrive.
const ACKED: Duration = Duration::from_secs(2);

/// Make closing `fd` a reset: `setsockopt(SO_LINGER, {on, 0})` on TCP. On a Unix socket, the
/// peer sees `ECONNRESET` only if it left data unread here; returns a warning when it did not.
pub(crate) fn arm(fd: &Fd, medium: Medium, side: &str) -> Option<String> {
    match medium {
        Medium::Tcp => {
            let r = setsockopt(
                fd.get_ref(),
                sockopt::Linger,
                &libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                },
            );
            crate::narrate!("setsockopt({side}, SO_LINGER, on 0 s): {r:?}");
            None
        }
        Medium::UnixStream | Medium::Seqpacket => {
            let mut one = [0u8; 1];
            let pending = recv(
                std::os::fd::AsRawFd::as_raw_fd(&fd.get_ref().as_fd()),
                &mut one,
                MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
            )
            .is_ok_and(|n| n > 0);
            (!pending).then(|| {
                format!(
                    "--reset-after: {side} gets end of stream, not ECONNRESET: a Unix socket resets \
                     its peer only when closed with data from it unread, and there is none"
                )
            })
        }
        _ => None,
    }
}

/// Wait (bounded) until the peer of TCP socket `fd` acknowledged `written` bytes.
pub(crate) async fn acked(fd: &Fd, written: u64) {
    let deadline = tokio::time::Instant::now() + ACKED;
    while tokio::time::Instant::now() < deadline {
        match sockbox_sys::tcp_info(fd.get_ref()) {
            Ok(i) if i.bytes_acked < written => {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            _ => return,
        }
    }
}
