//! One message with descriptors attached: `sendmsg(2)` / `recvmsg(2)` with an `SCM_RIGHTS`
//! control message (unix(7), cmsg(3)).
//!
//! rustix does the control-message encoding: its [`RecvAncillaryBuffer`] hands received
//! descriptors out as `OwnedFd` and closes any that are not taken, so no path here (an error, a
//! truncation, an early return) can leak one. Receiving always uses `MSG_CMSG_CLOEXEC`, so a
//! descriptor is never inherited by a program sockbox starts unless it is handed over on
//! purpose (`fd recv --exec`).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketAddrUnix,
};

use super::{PassError, SocketKind, SCM_MAX_FD};
use crate::endpoint::fdio::{self, Fd};

/// The data and control buffers of a receiver, made once and reused for every message.
pub struct RecvBuf {
    data: Vec<u8>,
    control: Vec<MaybeUninit<u8>>,
    max_fds: usize,
}

impl RecvBuf {
    /// Room for `data_len` bytes of data and `max_fds` descriptors per message (the control
    /// buffer is `CMSG_SPACE(max_fds * sizeof(int))`; the kernel never sends more than
    /// [`SCM_MAX_FD`] in one message).
    pub fn new(data_len: usize, max_fds: usize) -> Self {
        RecvBuf {
            data: vec![0; data_len.max(1)],
            control: vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(max_fds))],
            max_fds,
        }
    }

    /// The data of the last message received into this buffer.
    pub fn data(&self, len: usize) -> &[u8] {
        &self.data[..len.min(self.data.len())]
    }

    /// Most descriptors a message may carry.
    pub fn max_fds(&self) -> usize {
        self.max_fds
    }
}

/// What one `recvmsg(2)` brought, its data left in the [`RecvBuf`].
#[derive(Debug)]
pub struct Got {
    /// Bytes of data.
    pub len: usize,
    /// The descriptors, in the order the sender attached them.
    pub fds: Vec<OwnedFd>,
    /// The sender's address, for a datagram socket (`@name`, a path, or unnamed).
    pub from: Option<String>,
}

/// A receive that failed: the system call, or a bound on the message.
#[derive(Debug)]
pub enum RecvError {
    Io(io::Error),
    Pass(PassError),
}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        RecvError::Io(e)
    }
}

/// One non-blocking `recvmsg(2)`. `Ok(None)` is end of stream (a stream or seqpacket socket
/// read nothing and no descriptor came). `MSG_CTRUNC` (descriptors that did not fit the control
/// buffer were closed by the kernel), more than `max_fds` descriptors, and `MSG_TRUNC` on a
/// message socket are errors; the descriptors that did arrive are closed before returning.
pub fn recv_once(
    sock: BorrowedFd<'_>,
    kind: SocketKind,
    buf: &mut RecvBuf,
) -> io::Result<Result<Option<Got>, PassError>> {
    let mut control = RecvAncillaryBuffer::new(&mut buf.control);
    let mut flags = RecvFlags::CMSG_CLOEXEC;
    if kind != SocketKind::Stream {
        // Report a message's whole length even when it did not fit.
        flags |= RecvFlags::TRUNC;
    }
    let msg = loop {
        match rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut buf.data)],
            &mut control,
            flags,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            r => break r?,
        }
    };
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = m {
            fds.extend(rights);
        }
        // Any other control message (credentials) is dropped here.
    }
    let from = match kind {
        SocketKind::Datagram => Some(
            msg.address
                .and_then(|a| SocketAddrUnix::try_from(a).ok())
                .map_or_else(|| "unnamed".to_string(), |u| unix_name(&u)),
        ),
        _ => None,
    };
    if msg.flags.contains(ReturnFlags::CTRUNC) {
        return Ok(Err(PassError::ControlTruncated {
            received: fds.len(),
            max: buf.max_fds,
        }));
    }
    if fds.len() > buf.max_fds {
        return Ok(Err(PassError::TooMany {
            received: fds.len(),
            max: buf.max_fds,
        }));
    }
    if kind != SocketKind::Stream
        && (msg.flags.contains(ReturnFlags::TRUNC) || msg.bytes > buf.data.len())
    {
        return Ok(Err(PassError::Truncated {
            len: msg.bytes,
            room: buf.data.len(),
        }));
    }
    if msg.bytes == 0 && fds.is_empty() && kind != SocketKind::Datagram {
        return Ok(Ok(None));
    }
    Ok(Ok(Some(Got {
        len: msg.bytes,
        fds,
        from,
    })))
}

/// A Unix address as users write it: a path, `@name`, or `unnamed`.
fn unix_name(u: &SocketAddrUnix) -> String {
    if let Some(p) = u.path_bytes() {
        return String::from_utf8_lossy(p).into_owned();
    }
    if let Some(n) = u.abstract_name() {
        return format!("@{}", String::from_utf8_lossy(n));
    }
    "unnamed".into()
}

/// One non-blocking `sendmsg(2)` of `data` with `fds` attached (`MSG_NOSIGNAL`: a closed peer
/// is `EPIPE`, not a signal). Returns the bytes sent; on a stream socket a short count means
/// the descriptors went with the first of them and the rest is to be sent without.
pub fn send_once(sock: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
    if fds.len() > SCM_MAX_FD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} descriptors in one message, more than the kernel's {SCM_MAX_FD}",
                fds.len()
            ),
        ));
    }
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other(
            "the control buffer is too small for the descriptors",
        ));
    }
    loop {
        match rustix::net::sendmsg(
            sock,
            &[IoSlice::new(data)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Receive the next message on a registered socket, waiting until one arrives.
pub async fn recv(fd: &Fd, kind: SocketKind, buf: &mut RecvBuf) -> Result<Option<Got>, RecvError> {
    let got = fdio::on_readable(fd, |s| recv_once(s.as_fd(), kind, buf)).await?;
    got.map_err(RecvError::Pass)
}

/// Send `data` with `fds` as one message on a registered socket, waiting for room. On a stream
/// socket the data may go in several writes (the descriptors with the first); on a message
/// socket it is one message or an error.
pub async fn send(
    fd: &Fd,
    kind: SocketKind,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<()> {
    if kind == SocketKind::Stream && data.is_empty() && !fds.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a stream socket carries descriptors only with at least one byte of data",
        ));
    }
    let mut sent = fdio::on_writable(fd, |s| send_once(s.as_fd(), data, fds)).await?;
    if kind != SocketKind::Stream {
        return Ok(());
    }
    while sent < data.len() {
        let rest = &data[sent..];
        sent += fdio::on_writable(fd, |s| send_once(s.as_fd(), rest, &[])).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    /// A pipe whose read end tells when every copy of its write end is closed: it reads end of
    /// stream. That proves no descriptor leaked, whatever else the test process has open.
    fn pipe() -> (std::fs::File, OwnedFd) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (std::fs::File::from(r), w)
    }

    fn all_closed(mut r: std::fs::File) -> bool {
        nix::fcntl::fcntl(
            &r,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut b = [0u8; 1];
        matches!(r.read(&mut b), Ok(0))
    }

    #[test]
    fn descriptors_arrive_in_order_with_their_data() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r1, w1) = pipe();
        let (r2, w2) = pipe();
        assert_eq!(
            send_once(a.as_fd(), b"hi", &[w1.as_fd(), w2.as_fd()]).unwrap(),
            2
        );
        let mut buf = RecvBuf::new(16, SCM_MAX_FD);
        let got = recv_once(b.as_fd(), SocketKind::Stream, &mut buf)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(buf.data(got.len), b"hi");
        assert_eq!(got.fds.len(), 2);
        // The first received descriptor is the first pipe's write end.
        nix::unistd::write(&got.fds[0], b"1").unwrap();
        nix::unistd::write(&got.fds[1], b"2").unwrap();
        let (mut r1, mut r2) = (r1, r2);
        let mut one = [0u8; 1];
        r1.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"1");
        r2.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"2");
        // Received descriptors are close-on-exec.
        let fl = nix::fcntl::fcntl(&got.fds[0], nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(fl & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn a_control_buffer_too_small_is_an_error_and_closes_every_descriptor() {
        let (a, b) = UnixStream::pair().unwrap();
        let ends: Vec<_> = (0..5).map(|_| pipe()).collect();
        let fds: Vec<BorrowedFd> = ends.iter().map(|(_, w)| w.as_fd()).collect();
        send_once(a.as_fd(), b"x", &fds).unwrap();
        drop(fds);
        let readers: Vec<_> = ends
            .into_iter()
            .map(|(r, w)| {
                drop(w);
                r
            })
            .collect();
        // A control buffer sized for 2 descriptors (CMSG_SPACE and alignment slack may make
        // room for a few more, never for 5).
        let mut buf = RecvBuf::new(16, 2);
        let err = recv_once(b.as_fd(), SocketKind::Stream, &mut buf)
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, PassError::ControlTruncated { received, max: 2 } if (2..5).contains(&received)),
            "{err:?}"
        );
        for r in readers {
            assert!(
                all_closed(r),
                "a descriptor of the truncated message is still open"
            );
        }
    }

    #[test]
    fn more_descriptors_than_allowed_is_an_error_even_when_they_fit() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r1, w1) = pipe();
        let (r2, w2) = pipe();
        send_once(a.as_fd(), b"x", &[w1.as_fd(), w2.as_fd()]).unwrap();
        drop((w1, w2));
        // max 1: the control buffer has room for more (CMSG_SPACE rounds up), the limit says 1.
        let mut buf = RecvBuf::new(16, 1);
        let err = recv_once(b.as_fd(), SocketKind::Stream, &mut buf)
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err,
            PassError::TooMany {
                received: 2,
                max: 1
            }
        );
        assert!(all_closed(r1) && all_closed(r2));
    }

    #[test]
    fn a_seqpacket_message_larger_than_the_buffer_is_truncated_and_refused() {
        let (a, b) =
            socket2::Socket::pair(socket2::Domain::UNIX, socket2::Type::SEQPACKET, None).unwrap();
        let (r, w) = pipe();
        send_once(a.as_fd(), &[7u8; 100], &[w.as_fd()]).unwrap();
        drop(w);
        let mut buf = RecvBuf::new(10, 4);
        let err = recv_once(b.as_fd(), SocketKind::Seqpacket, &mut buf)
            .unwrap()
            .unwrap_err();
        assert_eq!(err, PassError::Truncated { len: 100, room: 10 });
        assert!(all_closed(r));
    }

    #[test]
    fn end_of_stream_is_none_and_an_empty_datagram_is_a_message() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let mut buf = RecvBuf::new(16, 4);
        assert!(recv_once(b.as_fd(), SocketKind::Stream, &mut buf)
            .unwrap()
            .unwrap()
            .is_none());
        let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        send_once(a.as_fd(), b"", &[]).unwrap();
        let got = recv_once(b.as_fd(), SocketKind::Datagram, &mut buf)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(got.len, 0);
    }

    #[test]
    fn more_than_scm_max_fd_is_refused_before_the_kernel() {
        let (a, _b) = UnixStream::pair().unwrap();
        let (_r, w) = pipe();
        let fds = vec![w.as_fd(); SCM_MAX_FD + 1];
        assert_eq!(
            send_once(a.as_fd(), b"x", &fds).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
