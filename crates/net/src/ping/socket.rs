//! The ICMP socket: which kind the kernel allows, and sending and receiving on it.
//!
//! Linux offers two ways to send an echo request:
//! - the *ICMP datagram socket* (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`, "ping
//!   socket"): no privilege needed, but only for groups listed in the sysctl
//!   `net.ipv4.ping_group_range` (which also governs ICMPv6). The kernel picks the
//!   identifier, fills in the checksum and hands each socket only its own replies, without
//!   the IP header;
//! - the *raw socket* (`SOCK_RAW`): needs `CAP_NET_RAW`, sees every ICMP packet the host
//!   receives (so replies are matched by identifier and sender here), and for IPv4 includes
//!   the IP header.
//!
//! The datagram socket is tried first, as iputils' ping does. The TTL of a reply comes from
//! the IPv4 header on a raw socket, otherwise from an `IP_TTL` / `IPV6_HOPLIMIT` control
//! message (`IP_RECVTTL`, `IPV6_RECVHOPLIMIT`); the arrival time from `SO_TIMESTAMPNS`, the
//! kernel's own receive timestamp, so the round trip does not include waking this process.

use crate::error::os_error_text;
use std::io::{self, IoSliceMut};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, SystemTime};

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage,
};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use crate::endpoint::{fdio, sock, Fd};
use crate::error::{Error, Result};
use crate::narrate;

/// Which kind of ICMP socket a ping uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpSocketKind {
    /// The unprivileged ICMP datagram socket.
    Datagram,
    /// A raw socket (`CAP_NET_RAW`).
    Raw,
}

impl IcmpSocketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IcmpSocketKind::Datagram => "SOCK_DGRAM",
            IcmpSocketKind::Raw => "SOCK_RAW",
        }
    }
}

pub(crate) struct IcmpSocket {
    fd: Fd,
    pub kind: IcmpSocketKind,
    cmsg: Vec<u8>,
}

/// One packet as received.
pub(crate) struct Received {
    pub len: usize,
    pub from: Option<IpAddr>,
    /// TTL or hop limit from a control message.
    pub ttl: Option<u8>,
    /// When the kernel received it (`SO_TIMESTAMPNS`, wall clock).
    pub at: Option<SystemTime>,
}

fn names(v6: bool) -> (&'static str, &'static str) {
    if v6 {
        ("AF_INET6", "IPPROTO_ICMPV6")
    } else {
        ("AF_INET", "IPPROTO_ICMP")
    }
}

/// Open the ICMP socket for one family: datagram if allowed, else raw; when both are
/// refused, one error that says how to allow either.
pub(crate) fn open(v6: bool) -> Result<IcmpSocket> {
    let (domain, protocol) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let (family, proto) = names(v6);
    let dgram_err = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(s) => {
            narrate!(
                "socket({family}, SOCK_DGRAM, {proto}) = fd {} (unprivileged ICMP socket)",
                s.as_raw_fd()
            );
            return setup(s, IcmpSocketKind::Datagram, v6);
        }
        Err(e) => e,
    };
    narrate!(
        "socket({family}, SOCK_DGRAM, {proto}) = {} ({})",
        os_error_text(&dgram_err),
        why_dgram_refused(&dgram_err)
    );
    match Socket::new(domain, Type::RAW, Some(protocol)) {
        Ok(s) => {
            narrate!(
                "socket({family}, SOCK_RAW, {proto}) = fd {} (raw socket: CAP_NET_RAW)",
                s.as_raw_fd()
            );
            setup(s, IcmpSocketKind::Raw, v6)
        }
        Err(raw_err) => {
            narrate!(
                "socket({family}, SOCK_RAW, {proto}) = {}",
                os_error_text(&raw_err)
            );
            Err(Error::Refused(format!(
                "cannot open an ICMP socket: the unprivileged one is refused ({}; allow it with \
                 sysctl -w net.ipv4.ping_group_range=\"0 2147483647\") and a raw one needs \
                 CAP_NET_RAW ({}; run as root or setcap cap_net_raw+ep on sockbox)",
                why_dgram_refused(&dgram_err),
                os_error_text(&raw_err)
            )))
        }
    }
}

/// Why the datagram socket was refused, in words: usually the group range.
fn why_dgram_refused(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "unreadable".into());
            format!(
                "net.ipv4.ping_group_range is \"{range}\", which does not include group {}",
                nix::unistd::getegid()
            )
        }
        Some(libc::EAFNOSUPPORT) | Some(libc::EPROTONOSUPPORT) => {
            "this kernel has no ICMP datagram sockets for this family".into()
        }
        _ => os_error_text(e),
    }
}

fn setup(s: Socket, kind: IcmpSocketKind, v6: bool) -> Result<IcmpSocket> {
    let err = |e: io::Error| Error::Io {
        op: "setsockopt",
        target: format!("{} ICMP socket", kind.as_str()),
        err: e,
    };
    s.set_nonblocking(true).map_err(err)?;
    sock::setsockopt(&s, "SO_TIMESTAMPNS", &1, |s| {
        setsockopt(s, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
    })
    .map_err(err)?;
    if v6 {
        sock::setsockopt(&s, "IPV6_RECVHOPLIMIT", &1, |s| {
            setsockopt(s, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)
        })
        .map_err(err)?;
    } else if kind == IcmpSocketKind::Datagram {
        sock::setsockopt(&s, "IP_RECVTTL", &1, |s| {
            setsockopt(s, sockopt::Ipv4RecvTtl, &true).map_err(io::Error::from)
        })
        .map_err(err)?;
    }
    let fd = fdio::register(OwnedFd::from(s)).map_err(err)?;
    Ok(IcmpSocket {
        fd,
        kind,
        cmsg: nix::cmsg_space!(TimeSpec, libc::c_int),
    })
}

impl IcmpSocket {
    /// The socket's descriptor, for narration.
    pub fn raw_fd(&self) -> i32 {
        self.fd.get_ref().as_raw_fd()
    }

    /// `sendto(2)` one packet.
    pub async fn send(&self, packet: &[u8], to: &SockAddr) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| SockRef::from(fd.get_ref()).send_to(packet, to)) {
                Ok(r) => return r.map(drop),
                Err(_would_block) => continue,
            }
        }
    }

    /// `recvmsg(2)` one packet into `buf`, with its TTL and kernel timestamp. Cancel-safe.
    pub async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            let cmsg = &mut self.cmsg;
            match guard.try_io(|fd| recv_once(fd.get_ref().as_raw_fd(), buf, cmsg)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

fn recv_once(fd: i32, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(cmsg), MsgFlags::empty())
        .map_err(io::Error::from)?;
    let mut ttl = None;
    let mut at = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::ScmTimestampns(ts) => at = wall_time(ts),
                ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                    ttl = u8::try_from(t).ok();
                }
                _ => {}
            }
        }
    }
    let from = msg.address.as_ref().and_then(|a| {
        if let Some(v4) = a.as_sockaddr_in() {
            Some(IpAddr::V4(v4.ip()))
        } else {
            a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        }
    });
    Ok(Received {
        len: msg.bytes,
        from,
        ttl,
        at,
    })
}

fn wall_time(ts: TimeSpec) -> Option<SystemTime> {
    let secs = u64::try_from(ts.tv_sec()).ok()?;
    let nanos = u32::try_from(ts.tv_nsec()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}
