//! Every local transport `sockbox bench` measures, opened as a connected pair of ends.
//!
//! Sockets go through socket2 (`socket(2)`, `bind(2)`, `listen(2)`, `connect(2)`,
//! `accept(2)`) over 127.0.0.1 and ::1, or at paths in a private temporary directory for Unix
//! sockets; `socketpair(2)`, `pipe2(2)` and `mkfifo(3)` go through nix. Each [`End`] has a
//! receiving half ([`Rx`]) and a sending half ([`Tx`]): one socket (two descriptors of it, so
//! the halves can move to different threads) or, for pipes and FIFOs, one pipe each way.
//! Reads and writes are plain `read(2)`/`write(2)` on the descriptor, with no buffering in
//! between; everything stays in blocking mode, as the simple C programs it is compared with.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;
use serde::{Serialize, Serializer};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::error::io_err;
use crate::{narrate, Error, Result};

/// The largest UDP payload over IPv4: 65535 minus the IPv4 and UDP headers.
pub const UDP_MAX_PAYLOAD: usize = 65507;

/// A local transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp4,
    Tcp6,
    Udp4,
    /// A Unix stream socket at a path.
    Unix,
    UnixDgram,
    Seqpacket,
    /// `socketpair(AF_UNIX, SOCK_STREAM)`.
    Socketpair,
    /// `pipe(2)`, one each way.
    Pipe,
    /// A named pipe (`mkfifo(3)`), one each way.
    Fifo,
}

use Transport::*;

impl Transport {
    /// The default matrix, in this order.
    pub const ALL: [Transport; 9] = [
        Tcp4, Tcp6, Udp4, Unix, UnixDgram, Seqpacket, Socketpair, Pipe, Fifo,
    ];

    /// The name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Tcp4 => "tcp4",
            Tcp6 => "tcp6",
            Udp4 => "udp4",
            Unix => "unix",
            UnixDgram => "unix-dgram",
            Seqpacket => "seqpacket",
            Socketpair => "socketpair",
            Pipe => "pipe",
            Fifo => "fifo",
        }
    }

    /// What it is, in a few words.
    pub fn description(self) -> &'static str {
        match self {
            Tcp4 => "TCP over 127.0.0.1",
            Tcp6 => "TCP over ::1",
            Udp4 => "UDP over 127.0.0.1",
            Unix => "Unix stream socket at a path",
            UnixDgram => "Unix datagram socket at a path",
            Seqpacket => "Unix seqpacket socket at a path",
            Socketpair => "socketpair(AF_UNIX, SOCK_STREAM)",
            Pipe => "pipe(2), one each way",
            Fifo => "named pipe (mkfifo), one each way",
        }
    }

    /// Kinds with connect and accept, whose connection rate is measured.
    pub fn connectable(self) -> bool {
        matches!(self, Tcp4 | Tcp6 | Unix | Seqpacket)
    }

    /// Kinds that keep message boundaries: one read is one message.
    pub fn keeps_boundaries(self) -> bool {
        matches!(self, Udp4 | UnixDgram | Seqpacket)
    }

    /// Kinds that drop messages when the receiver falls behind.
    pub fn lossy(self) -> bool {
        self == Udp4
    }

    /// The largest message a datagram kind carries whole: 65507 bytes for UDP; for Unix
    /// datagram and seqpacket sockets the send buffer less 32 bytes (`SO_SNDBUF`, which is
    /// `net.core.wmem_default` unless set: the kernel refuses anything longer with
    /// `EMSGSIZE`). `None` for byte streams.
    pub fn max_message(self) -> io::Result<Option<usize>> {
        let ty = match self {
            Udp4 => return Ok(Some(UDP_MAX_PAYLOAD)),
            UnixDgram => Type::DGRAM,
            Seqpacket => Type::SEQPACKET,
            _ => return Ok(None),
        };
        let s = Socket::new(Domain::UNIX, ty, None)?;
        Ok(Some(s.send_buffer_size()?.saturating_sub(32)))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Transport {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl FromStr for Transport {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let word = s.trim().to_ascii_lowercase();
        if let Some(t) = Transport::ALL.into_iter().find(|t| t.name() == word) {
            return Ok(t);
        }
        let alias = match word.as_str() {
            "unix-stream" | "stream" => Some(Unix),
            "dgram" | "unix-datagram" => Some(UnixDgram),
            "tcp" => Some(Tcp4),
            "udp" => Some(Udp4),
            "fifos" | "named-pipe" => Some(Fifo),
            _ => None,
        };
        if let Some(t) = alias {
            return Ok(t);
        }
        let near = Transport::ALL
            .into_iter()
            .map(|t| (strsim::levenshtein(&word, t.name()), t))
            .min_by_key(|&(d, _)| d)
            .filter(|&(d, _)| d <= 2)
            .map(|(_, t)| format!("; did you mean '{t}'?"))
            .unwrap_or_default();
        let all: Vec<&str> = Transport::ALL.iter().map(|t| t.name()).collect();
        Err(Error::Usage(format!(
            "unknown transport '{s}'{near} (transports: {})",
            all.join(", ")
        )))
    }
}

/// How a sender tells its receiver that no more data comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EndOfData {
    /// `shutdown(SHUT_WR)`: the receiver reads 0 (stream and seqpacket sockets).
    Shutdown,
    /// Close the write end: the receiver reads 0 (pipes, FIFOs).
    Close,
    /// A zero-length datagram: the receiver reads 0 (it may be lost over UDP).
    EmptyMessage,
}

/// The receiving half of an end.
///
/// Sockets have `SO_RCVTIMEO` set (100 ms): a read may fail with `WouldBlock`, and
/// the reader then looks at the phase. Pipes cannot time out; they end when the other side
/// closes, which it does whenever its thread stops.
pub struct Rx {
    fd: OwnedFd,
}

/// The sending half of an end.
pub struct Tx {
    fd: OwnedFd,
    end: EndOfData,
}

/// One end of a connected pair: what it receives and what it sends.
pub struct End {
    pub rx: Rx,
    pub tx: Tx,
}

/// Two connected ends; `a` sends to `b` and `b` to `a`. Holds the temporary directory of Unix
/// socket files and FIFOs, removed when the ends are dropped.
pub struct Link {
    pub a: End,
    pub b: End,
    // Declared last: dropped after the descriptors.
    _dir: Option<tempfile::TempDir>,
}

/// Options of [`open`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// `TCP_NODELAY` on TCP sockets (round trips: a small message leaves at once).
    pub nodelay: bool,
}

impl Rx {
    /// One `read(2)`; retried on `EINTR`.
    #[inline]
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match nix::unistd::read(&self.fd, buf) {
                Err(Errno::EINTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    }

    /// Read exactly `buf.len()` bytes from a stream; `Ok(false)` at end of stream (before or
    /// in the middle). A receive timeout only ends the wait when `give_up()` says so.
    pub fn read_exact(&self, buf: &mut [u8], give_up: impl Fn() -> bool) -> io::Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            match self.read(&mut buf[got..]) {
                Ok(0) => return Ok(false),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !give_up() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    pub(crate) fn from_socket(s: Socket) -> Rx {
        Rx { fd: s.into() }
    }
}

impl Tx {
    /// One `write(2)`; retried on `EINTR`.
    #[inline]
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match nix::unistd::write(&self.fd, buf) {
                Err(Errno::EINTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    }

    /// Write all of `buf` (a blocking stream write may be partial).
    #[inline]
    pub fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf)?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Tell the receiver no more data comes: `shutdown(SHUT_WR)` on stream and seqpacket
    /// sockets, closing a pipe's write end, a zero-length datagram otherwise. Over UDP the marker may be
    /// lost: receivers also stop on their receive timeout once the phase says stop.
    pub fn finish(self) -> io::Result<()> {
        match self.end {
            EndOfData::Shutdown => SockRef::from(&self.fd).shutdown(std::net::Shutdown::Write),
            EndOfData::Close => Ok(()),
            EndOfData::EmptyMessage => self.send_end_marker(),
        }
    }

    /// Send a zero-length message (the end marker of datagram kinds).
    pub fn send_end_marker(&self) -> io::Result<()> {
        // send(2), not write(2): what write(2) of zero bytes does is unspecified.
        SockRef::from(&self.fd).send(&[]).map(drop)
    }

    /// True when [`Tx::finish`] sends a marker that may be lost.
    pub fn marks_end_with_a_datagram(&self) -> bool {
        self.end == EndOfData::EmptyMessage
    }

    pub(crate) fn from_socket(s: Socket, stream: bool) -> Tx {
        Tx {
            fd: s.into(),
            end: if stream {
                EndOfData::Shutdown
            } else {
                EndOfData::EmptyMessage
            },
        }
    }
}

impl End {
    /// Both halves on one socket: `SO_RCVTIMEO` of [`super::POLL`], so a receive blocked on a
    /// peer that went away wakes up to look at the phase.
    pub(crate) fn from_socket(s: Socket, ty: Type) -> io::Result<End> {
        s.set_read_timeout(Some(super::POLL))?;
        let dup = s.try_clone()?;
        let stream = ty != Type::DGRAM;
        Ok(End {
            rx: Rx::from_socket(s),
            tx: Tx::from_socket(dup, stream),
        })
    }

    fn from_pipes(read: OwnedFd, write: OwnedFd) -> End {
        End {
            rx: Rx { fd: read },
            tx: Tx {
                fd: write,
                end: EndOfData::Close,
            },
        }
    }
}

/// Open `t` as two connected ends on this host.
pub fn open(t: Transport, opts: OpenOptions) -> Result<Link> {
    let what = format!("bench {t}");
    let (a, b, dir) = match t {
        Tcp4 => {
            let (a, b) = tcp_pair(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), opts, &what)?;
            (a, b, None)
        }
        Tcp6 => {
            let (a, b) = tcp_pair(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)), opts, &what)?;
            (a, b, None)
        }
        Udp4 => {
            let (a, b) = udp_pair(&what)?;
            (a, b, None)
        }
        Unix | Seqpacket => {
            let dir = private_dir()?;
            let ty = if t == Unix {
                Type::STREAM
            } else {
                Type::SEQPACKET
            };
            let (a, b) = unix_connected_pair(&dir.path().join("s.sock"), ty, &what)?;
            (a, b, Some(dir))
        }
        UnixDgram => {
            let dir = private_dir()?;
            let (a, b) = unix_dgram_pair(dir.path(), &what)?;
            (a, b, Some(dir))
        }
        Socketpair => {
            let (x, y) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| io_err("socketpair", &what)(e.into()))?;
            narrate!("{what}: socketpair(AF_UNIX, SOCK_STREAM)");
            let x =
                End::from_socket(Socket::from(x), Type::STREAM).map_err(io_err("set up", &what))?;
            let y =
                End::from_socket(Socket::from(y), Type::STREAM).map_err(io_err("set up", &what))?;
            (x, y, None)
        }
        Pipe => {
            let pipe = || {
                nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| io_err("pipe2", &what)(e.into()))
            };
            let (r1, w1) = pipe()?;
            let (r2, w2) = pipe()?;
            narrate!("{what}: pipe2() twice");
            (End::from_pipes(r2, w1), End::from_pipes(r1, w2), None)
        }
        Fifo => {
            let dir = private_dir()?;
            let (r1, w1) = fifo(&dir.path().join("a-to-b"), &what)?;
            let (r2, w2) = fifo(&dir.path().join("b-to-a"), &what)?;
            (End::from_pipes(r2, w1), End::from_pipes(r1, w2), Some(dir))
        }
    };
    Ok(Link { a, b, _dir: dir })
}

/// A private directory for socket files and FIFOs (`mkdtemp(3)`, mode 0700).
fn private_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("sockbox-bench-")
        .tempdir()
        .map_err(io_err(
            "create a temporary directory in",
            std::env::temp_dir().display(),
        ))
}

fn tcp_pair(at: SocketAddr, opts: OpenOptions, what: &str) -> Result<(End, End)> {
    let domain = Domain::for_address(at);
    let listener = Socket::new(domain, Type::STREAM, None).map_err(io_err("socket", what))?;
    listener
        .bind(&at.into())
        .and_then(|()| listener.listen(1))
        .map_err(io_err("listen", format!("{what} on {at}")))?;
    let bound = listener.local_addr().map_err(io_err("getsockname", what))?;
    let a = Socket::new(domain, Type::STREAM, None).map_err(io_err("socket", what))?;
    a.connect(&bound).map_err(io_err(
        "connect",
        format!("{what} to {:?}", bound.as_socket()),
    ))?;
    let (b, _) = listener.accept().map_err(io_err("accept", what))?;
    narrate!("{what}: connected over {}", show(&bound));
    for s in [&a, &b] {
        s.set_tcp_nodelay(opts.nodelay)
            .map_err(io_err("set TCP_NODELAY on", what))?;
    }
    Ok((
        End::from_socket(a, Type::STREAM).map_err(io_err("set up", what))?,
        End::from_socket(b, Type::STREAM).map_err(io_err("set up", what))?,
    ))
}

fn udp_pair(what: &str) -> Result<(End, End)> {
    let any = SockAddr::from(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let bound = || -> Result<(Socket, SockAddr)> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, None).map_err(io_err("socket", what))?;
        s.bind(&any).map_err(io_err("bind", what))?;
        let at = s.local_addr().map_err(io_err("getsockname", what))?;
        Ok((s, at))
    };
    let (a, at_a) = bound()?;
    let (b, at_b) = bound()?;
    a.connect(&at_b).map_err(io_err("connect", what))?;
    b.connect(&at_a).map_err(io_err("connect", what))?;
    narrate!("{what}: {} <-> {}", show(&at_a), show(&at_b));
    Ok((
        End::from_socket(a, Type::DGRAM).map_err(io_err("set up", what))?,
        End::from_socket(b, Type::DGRAM).map_err(io_err("set up", what))?,
    ))
}

fn unix_connected_pair(path: &Path, ty: Type, what: &str) -> Result<(End, End)> {
    let at = SockAddr::unix(path).map_err(io_err("name", path.display()))?;
    let listener = Socket::new(Domain::UNIX, ty, None).map_err(io_err("socket", what))?;
    listener
        .bind(&at)
        .and_then(|()| listener.listen(1))
        .map_err(io_err("listen", path.display()))?;
    let a = Socket::new(Domain::UNIX, ty, None).map_err(io_err("socket", what))?;
    a.connect(&at).map_err(io_err("connect", path.display()))?;
    let (b, _) = listener
        .accept()
        .map_err(io_err("accept", path.display()))?;
    narrate!("{what}: connected at {}", path.display());
    Ok((
        End::from_socket(a, ty).map_err(io_err("set up", what))?,
        End::from_socket(b, ty).map_err(io_err("set up", what))?,
    ))
}

fn unix_dgram_pair(dir: &Path, what: &str) -> Result<(End, End)> {
    let bound = |name: &str| -> Result<(Socket, SockAddr)> {
        let path = dir.join(name);
        let at = SockAddr::unix(&path).map_err(io_err("name", path.display()))?;
        let s = Socket::new(Domain::UNIX, Type::DGRAM, None).map_err(io_err("socket", what))?;
        s.bind(&at).map_err(io_err("bind", path.display()))?;
        Ok((s, at))
    };
    let (a, at_a) = bound("a.sock")?;
    let (b, at_b) = bound("b.sock")?;
    a.connect(&at_b).map_err(io_err("connect", what))?;
    b.connect(&at_a).map_err(io_err("connect", what))?;
    narrate!(
        "{what}: two sockets bound in {}, connected to each other",
        dir.display()
    );
    Ok((
        End::from_socket(a, Type::DGRAM).map_err(io_err("set up", what))?,
        End::from_socket(b, Type::DGRAM).map_err(io_err("set up", what))?,
    ))
}

/// Make a FIFO at `path` and open both ends without blocking: the read end first with
/// `O_NONBLOCK` (open for writing fails with `ENXIO` until a reader exists), then the write end,
/// then the read end back to blocking.
fn fifo(path: &Path, what: &str) -> Result<(OwnedFd, OwnedFd)> {
    let err = |op| move |e: Errno| io_err(op, path.display())(e.into());
    nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(err("mkfifo"))?;
    let r = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err("open for reading"))?;
    let w = nix::fcntl::open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(err("open for writing"))?;
    fcntl(r.as_fd(), FcntlArg::F_SETFL(OFlag::empty())).map_err(err("clear O_NONBLOCK on"))?;
    narrate!("{what}: mkfifo({})", path.display());
    Ok((r, w))
}

/// A socket address as `IP:PORT` (`[V6]:PORT`) or a path.
pub(crate) fn show(a: &SockAddr) -> String {
    a.as_socket()
        .map(|s| s.to_string())
        .or_else(|| a.as_pathname().map(|p| p.display().to_string()))
        .unwrap_or_else(|| "an unnamed socket".to_string())
}

/// A receive-timeout wait: `SO_RCVTIMEO` expired (`EAGAIN`).
pub(crate) fn timed_out(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// Set `SO_RCVTIMEO` on a socket that is not an [`End`] (listeners, remote data sockets).
pub(crate) fn set_receive_timeout(s: &Socket, d: Duration) -> io::Result<()> {
    s.set_read_timeout(Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_transport_carries_bytes_both_ways() {
        for t in Transport::ALL {
            let link = open(t, OpenOptions::default()).unwrap_or_else(|e| panic!("{t}: {e}"));
            let mut buf = [0u8; 16];
            link.a.tx.write_all(b"ping").unwrap();
            let n = link.b.rx.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"ping", "{t} a -> b");
            link.b.tx.write_all(b"pong!").unwrap();
            let n = link.a.rx.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"pong!", "{t} b -> a");
        }
    }

    #[test]
    fn finishing_the_sender_ends_the_receivers_data() {
        for t in Transport::ALL {
            let Link { a, b, _dir } = open(t, OpenOptions::default()).unwrap();
            a.tx.finish().unwrap();
            let mut buf = [0u8; 16];
            assert_eq!(b.rx.read(&mut buf).unwrap(), 0, "{t}");
        }
    }

    #[test]
    fn unix_datagram_limits_are_the_send_buffer_less_32_bytes() {
        for t in [UnixDgram, Seqpacket] {
            let max = t.max_message().unwrap().unwrap();
            let link = open(t, OpenOptions::default()).unwrap();
            let big = vec![7u8; max + 1];
            let e = link.a.tx.write(&big).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE), "{t}");
            assert_eq!(link.a.tx.write(&big[..max]).unwrap(), max, "{t}");
        }
        assert_eq!(Udp4.max_message().unwrap(), Some(65507));
        assert_eq!(Pipe.max_message().unwrap(), None);
    }

    #[test]
    fn misspelt_transports_get_a_suggestion() {
        let e = "uinx".parse::<Transport>().unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("did you mean 'unix'?"), "{e}");
        assert_eq!("unix-stream".parse::<Transport>().unwrap(), Unix);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn names_round_trip(i in 0usize..Transport::ALL.len()) {
            let t = Transport::ALL[i];
            prop_assert_eq!(t.to_string().parse::<Transport>().unwrap(), t);
            prop_assert_eq!(t.name().to_uppercase().parse::<Transport>().unwrap(), t);
        }

        #[test]
        fn any_word_parses_or_is_a_usage_error(s in "\\PC{0,16}") {
            if let Err(e) = s.parse::<Transport>() {
                prop_assert!(e.is_usage());
            }
        }
    }
}
