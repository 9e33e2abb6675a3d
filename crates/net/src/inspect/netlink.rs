//! Socket dumps through netlink `sock_diag(7)`: the requests, the receive loop, and the
//! decoding of each answer into a [`SocketEntry`].
//!
//! Requests for inet and Unix sockets are built with `netlink-packet-sock-diag`'s types and
//! sent on a `netlink-sys` socket. Answers are decoded here, from the raw bytes, with
//! `netlink-packet-core`'s buffer and attribute iterators doing the bounds checks, because the
//! crate's own response types do not fit:
//!
//! - one attribute it cannot parse fails the whole socket (`UnixResponse::parse`), where
//!   sockbox wants to keep the socket and skip the attribute;
//! - it has no packet or netlink diag, no `UNIX_DIAG_UID`, and its `send_queue_size()` is
//!   `None` except for listeners (the raw `UNIX_DIAG_RQLEN` pair is what `ss` shows);
//! - its `tcp_info` decoder refuses any struct shorter than the newest kernel's.
//!
//! Decoding never panics on short or odd input: a message that is too short is counted as
//! malformed and skipped, an attribute that is too short is ignored (unit tests on captured
//! dumps in `fixtures/`, and the fuzz target `netlink_decode`).

use std::net::SocketAddr;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable,
    NlasIterator, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX, INET_DIAG_INFO, INET_DIAG_PROTOCOL,
    IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY, UDIAG_SHOW_ICONS, UDIAG_SHOW_NAME,
    UDIAG_SHOW_PEER, UDIAG_SHOW_RQLEN, UDIAG_SHOW_VFS, UNIX_DIAG_ICONS, UNIX_DIAG_NAME,
    UNIX_DIAG_PEER, UNIX_DIAG_RQLEN, UNIX_DIAG_VFS,
};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::unix::{ShowFlags, StateFlags as UnixStateFlags, UnixRequest};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;

use super::UnixName;
use super::{proc_net, Fallback, Family, Kind, KindSet, SockAddr, SocketEntry, State, TcpInfo};
use crate::Result;

/// `UNIX_DIAG_UID` (Linux 5.3+) and the flag asking for it; not in netlink-packet-sock-diag.
const UNIX_DIAG_UID: u16 = 7;
const UDIAG_SHOW_UID: u32 = 0x40;

/// `linux/packet_diag.h`.
const PACKET_SHOW_INFO: u32 = 0x1;
const PACKET_DIAG_INFO: u16 = 0;
const PACKET_DIAG_UID: u16 = 5;

/// `linux/netlink_diag.h`: every netlink protocol.
const NDIAG_PROTO_ALL: u8 = 255;

/// TCP states ss -a asks for: every state up to TCP_CLOSING (the kernel adds NEW_SYN_RECV
/// when SYN_RECV is asked).
const TCP_STATES_ALL: u32 = 0xfff;

/// `TCPF_SYN_RECV | TCPF_TIME_WAIT`: without them the kernel sends no TIME-WAIT, SYN-RECV
/// or NEW-SYN-RECV entries.
const TCP_STATES_MINI: u32 = 1 << 3 | 1 << 6;

/// What a dump asks of the kernel besides the sockets themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    /// `tcp_info` of each TCP socket (`INET_DIAG_INFO`).
    pub tcp_info: bool,
    /// Leave out TCP's TIME-WAIT and SYN-RECV entries (the kernel skips them): mostly the
    /// kernel's mini sockets, which no process holds and which carry no `tcp_info`. On a
    /// host closing many connections they outnumber every other socket (110,000 TIME-WAIT
    /// entries against 20,000 sockets held, measured here).
    pub skip_mini_sockets: bool,
}

/// The kernel fills at most 32 KiB per read of a dump (`netlink_recvmsg`).
const RECV_BUFFER: usize = 64 * 1024;

/// Upper bound on reads of one dump: far above any real table (about 300 sockets fit in a
/// read), so a misbehaving kernel cannot keep sockbox reading for ever.
const MAX_READS: usize = 1 << 20;

/// Which dump a message answers: decoding depends on the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// inet_diag: TCP, UDP or raw over IPv4 or IPv6.
    Inet {
        v6: bool,
        protocol: u8,
    },
    Unix,
    Packet,
    Netlink,
}

impl DumpKind {
    /// A name for messages: `tcp`, `udp6`, `unix`, ...
    pub fn name(self) -> &'static str {
        match self {
            DumpKind::Inet {
                v6: false,
                protocol,
            } => match protocol {
                IPPROTO_TCP => "tcp",
                IPPROTO_UDP => "udp",
                _ => "raw",
            },
            DumpKind::Inet { v6: true, protocol } => match protocol {
                IPPROTO_TCP => "tcp6",
                IPPROTO_UDP => "udp6",
                _ => "raw6",
            },
            DumpKind::Unix => "unix",
            DumpKind::Packet => "packet",
            DumpKind::Netlink => "netlink",
        }
    }

    /// The sock_diag module that answers this dump (for the message when it is missing).
    fn module(self) -> &'static str {
        match self {
            DumpKind::Inet { protocol, .. } => match protocol {
                IPPROTO_TCP => "tcp_diag",
                IPPROTO_UDP => "udp_diag",
                _ => "raw_diag",
            },
            DumpKind::Unix => "unix_diag",
            DumpKind::Packet => "packet_diag",
            DumpKind::Netlink => "netlink_diag",
        }
    }
}

/// How a dump ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// `NLMSG_DONE`.
    Done,
    /// `NLMSG_ERROR`, or `NLMSG_DONE` carrying an error: the errno (positive).
    Error(i32),
}

/// What decoding some bytes of a dump gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub entries: Vec<SocketEntry>,
    /// Set once the closing message was seen.
    pub end: Option<End>,
    /// Messages too short or otherwise not understood, skipped.
    pub malformed: usize,
}

/// Decode the netlink messages in `bytes` (one read of a dump) into `out`. Stops at the end
/// message or at the first message whose length does not fit.
pub fn decode_messages(kind: DumpKind, bytes: &[u8], out: &mut Decoded) {
    let mut offset = 0;
    while offset < bytes.len() && out.end.is_none() {
        let Ok(msg) = NetlinkBuffer::new_checked(&bytes[offset..]) else {
            out.malformed += 1;
            return;
        };
        let length = msg.length() as usize;
        let payload = msg.payload();
        match msg.message_type() {
            NLMSG_DONE => {
                // Since Linux 4.x a dump that cannot start says why in DONE's payload.
                out.end = Some(match read_i32(payload, 0) {
                    Some(e) if e < 0 => End::Error(e.saturating_neg()),
                    _ => End::Done,
                });
            }
            NLMSG_ERROR => {
                out.end = Some(match read_i32(payload, 0) {
                    Some(0) => End::Done,
                    Some(e) => End::Error(e.saturating_neg()),
                    None => End::Error(libc::EIO),
                })
            }
            SOCK_DIAG_BY_FAMILY => match decode_entry(kind, payload) {
                Some(e) => out.entries.push(e),
                None => out.malformed += 1,
            },
            _ => {}
        }
        // Messages are aligned to 4 bytes; a zero length cannot advance.
        let step = (length + 3) & !3;
        if step == 0 {
            out.malformed += 1;
            return;
        }
        offset = offset.saturating_add(step);
    }
}

/// Decode one `SOCK_DIAG_BY_FAMILY` payload of a `kind` dump.
pub fn decode_entry(kind: DumpKind, payload: &[u8]) -> Option<SocketEntry> {
    match kind {
        DumpKind::Inet { protocol, .. } => decode_inet(protocol, payload),
        DumpKind::Unix => decode_unix(payload),
        DumpKind::Packet => decode_packet(payload),
        DumpKind::Netlink => decode_netlink(payload),
    }
}

/// `struct inet_diag_msg` (72 bytes) and its attributes.
pub fn decode_inet(protocol: u8, payload: &[u8]) -> Option<SocketEntry> {
    use netlink_packet_core::Parseable;
    use netlink_packet_sock_diag::inet::InetResponseHeader;
    const HEADER: usize = 72;
    let header = InetResponseHeader::parse(payload).ok()?;
    let family = match header.family {
        AF_INET => Family::Inet,
        AF_INET6 => Family::Inet6,
        _ => return None,
    };
    let kind = match protocol {
        IPPROTO_TCP => Kind::Tcp,
        IPPROTO_UDP => Kind::Udp,
        _ => Kind::Raw,
    };
    let id = &header.socket_id;
    let mut e = SocketEntry::new(
        kind,
        family,
        State::from_kernel(header.state),
        u64::from(header.inode),
    );
    e.uid = Some(header.uid);
    e.cookie = read_cookie(payload, 44).unwrap_or(0);
    e.recv_q = u64::from(header.recv_queue);
    e.send_q = u64::from(header.send_queue);
    e.local = SockAddr::Inet(SocketAddr::new(id.source_address, id.source_port));
    e.remote = SockAddr::Inet(SocketAddr::new(id.destination_address, id.destination_port));
    if kind == Kind::Raw {
        // A raw socket's local "port" is its protocol (inet_num).
        e.protocol = Some(id.source_port);
    }
    for nla in attributes(payload.get(HEADER..)?) {
        match nla.0 {
            INET_DIAG_INFO if kind == Kind::Tcp => {
                e.tcp_info = decode_tcp_info(nla.1).map(Box::new)
            }
            INET_DIAG_PROTOCOL if kind == Kind::Raw => {
                if let Some(&p) = nla.1.first() {
                    e.protocol = Some(u16::from(p));
                }
            }
            _ => {}
        }
    }
    Some(e)
}

/// A sock_diag destroy broadcast (`SKNLGRP_INET*_DESTROY`): an `inet_diag_msg` like a dump's,
/// whose protocol is in its `INET_DIAG_PROTOCOL` attribute (the kernel adds it, and
/// `INET_DIAG_INFO` with the final `tcp_info`, to every destroy message).
pub fn decode_destroyed(payload: &[u8]) -> Option<SocketEntry> {
    const HEADER: usize = 72;
    let protocol = attributes(payload.get(HEADER..)?)
        .find(|(kind, _)| *kind == INET_DIAG_PROTOCOL)
        .and_then(|(_, v)| v.first().copied())?;
    decode_inet(protocol, payload)
}

/// `struct tcp_info` as the kernel wrote it: every field read only if the struct is long
/// enough to hold it (older kernels send shorter structs). `None` below the 2.6 fields.
pub fn decode_tcp_info(b: &[u8]) -> Option<TcpInfo> {
    Some(TcpInfo {
        retransmits: *b.get(2)?,
        rtt_us: read_u32(b, 68)?,
        rttvar_us: read_u32(b, 72)?,
        cwnd: read_u32(b, 80)?,
        total_retrans: read_u32(b, 100)?,
        bytes_acked: read_u64(b, 120),
        bytes_received: read_u64(b, 128),
        bytes_sent: read_u64(b, 200),
        last_data_sent_ms: read_u32(b, 44)?,
        last_data_recv_ms: read_u32(b, 52)?,
        busy_time_us: read_u64(b, 168),
        rwnd_limited_us: read_u64(b, 176),
        sndbuf_limited_us: read_u64(b, 184),
    })
}

/// `struct unix_diag_msg` (16 bytes) and its attributes.
pub fn decode_unix(payload: &[u8]) -> Option<SocketEntry> {
    const HEADER: usize = 16;
    if *payload.first()? != AF_UNIX {
        return None;
    }
    let kind = match *payload.get(1)? as i32 {
        libc::SOCK_STREAM => Kind::Unix,
        libc::SOCK_DGRAM => Kind::UnixDgram,
        libc::SOCK_SEQPACKET => Kind::Seqpacket,
        _ => return None,
    };
    let state = State::from_kernel(*payload.get(2)?);
    let inode = read_u32(payload, 4)?;
    let mut e = SocketEntry::new(kind, Family::Unix, state, u64::from(inode));
    e.cookie = read_cookie(payload, 8).unwrap_or(0);
    e.remote = SockAddr::Unix(None);
    for (kind, value) in attributes(payload.get(HEADER..)?) {
        match kind {
            UNIX_DIAG_NAME => e.local = SockAddr::Unix(decode_unix_name(value)),
            UNIX_DIAG_VFS => {
                if let (Some(ino), Some(dev)) = (read_u32(value, 0), read_u32(value, 4)) {
                    e.vfs = Some((kernel_dev_to_user(dev), u64::from(ino)));
                }
            }
            UNIX_DIAG_PEER => e.peer_inode = read_u32(value, 0).map(u64::from),
            UNIX_DIAG_ICONS => {
                e.pending = value
                    .chunks_exact(4)
                    .filter_map(|c| read_u32(c, 0).map(u64::from))
                    .collect()
            }
            UNIX_DIAG_RQLEN => {
                // For a listener: connections waiting and the backlog; otherwise bytes
                // queued to be read and bytes in flight (what ss shows as Recv-Q/Send-Q).
                if let (Some(rq), Some(wq)) = (read_u32(value, 0), read_u32(value, 4)) {
                    e.recv_q = u64::from(rq);
                    e.send_q = u64::from(wq);
                }
            }
            UNIX_DIAG_UID => e.uid = read_u32(value, 0),
            _ => {}
        }
    }
    Some(e)
}

/// `UNIX_DIAG_NAME`: a path (NUL-terminated as bound) or, after a leading NUL, an abstract
/// name (every byte counts).
pub fn decode_unix_name(value: &[u8]) -> Option<UnixName> {
    match value.split_first() {
        None => None,
        Some((0, rest)) => Some(UnixName::Abstract(rest.to_vec())),
        Some(_) => {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            Some(UnixName::Path(value[..end].to_vec()))
        }
    }
}

/// The kernel's internal dev_t (major << 20 | minor), as `UNIX_DIAG_VFS` reports it, in the
/// encoding `stat(2)` uses.
fn kernel_dev_to_user(dev: u32) -> u64 {
    nix::sys::stat::makedev(u64::from(dev >> 20), u64::from(dev & 0xfffff))
}

/// `struct packet_diag_msg` (16 bytes) and its attributes.
pub fn decode_packet(payload: &[u8]) -> Option<SocketEntry> {
    const HEADER: usize = 16;
    if *payload.first()? != AF_PACKET {
        return None;
    }
    let protocol = read_u16(payload, 2)?;
    let inode = read_u32(payload, 4)?;
    let mut e = SocketEntry::new(
        Kind::Packet,
        Family::Packet,
        State::Unconnected,
        u64::from(inode),
    );
    e.protocol = Some(protocol);
    let mut ifindex = 0;
    for (kind, value) in attributes(payload.get(HEADER..)?) {
        match kind {
            PACKET_DIAG_INFO => ifindex = read_u32(value, 0).unwrap_or(0),
            PACKET_DIAG_UID => e.uid = read_u32(value, 0),
            _ => {}
        }
    }
    e.local = SockAddr::Packet { protocol, ifindex };
    Some(e)
}

/// `struct netlink_diag_msg` (28 bytes); no attribute is asked for.
pub fn decode_netlink(payload: &[u8]) -> Option<SocketEntry> {
    if *payload.first()? != AF_NETLINK {
        return None;
    }
    let protocol = *payload.get(2)?;
    let state = match *payload.get(3)? {
        0 => State::Unconnected,
        n => State::from_kernel(n),
    };
    let portid = read_u32(payload, 4)?;
    let dst_portid = read_u32(payload, 8)?;
    let dst_group = read_u32(payload, 12)?;
    let inode = read_u32(payload, 16)?;
    let mut e = SocketEntry::new(Kind::Netlink, Family::Netlink, state, u64::from(inode));
    e.protocol = Some(u16::from(protocol));
    e.local = SockAddr::Netlink {
        protocol,
        portid,
        group: 0,
    };
    e.remote = SockAddr::Netlink {
        protocol,
        portid: dst_portid,
        group: dst_group,
    };
    Some(e)
}

/// The (type, value) of each well-formed attribute in `bytes`; stops at the first one whose
/// length does not fit.
fn attributes(bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    NlasIterator::new(bytes).map_while(|nla| {
        let nla = nla.ok()?;
        let (kind, len) = (nla.kind(), nla.value_length());
        // The value follows the 4-byte attribute header.
        let value = nla.into_inner().get(4..4 + len)?;
        Some((kind, value))
    })
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A socket cookie as the kernel writes it: two native-endian `u32`s, low half first.
fn read_cookie(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(read_u32(b, at)?) | u64::from(read_u32(b, at + 4)?) << 32)
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A request netlink-packet-sock-diag has no type for (packet and netlink diag): the
/// request struct's bytes, sent as a `SOCK_DIAG_BY_FAMILY` message.
#[derive(Clone, Debug)]
struct RawRequest(Vec<u8>);

impl NetlinkSerializable for RawRequest {
    fn message_type(&self) -> u16 {
        SOCK_DIAG_BY_FAMILY
    }

    fn buffer_len(&self) -> usize {
        self.0.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[..self.0.len()].copy_from_slice(&self.0);
    }
}

/// `struct packet_diag_req` / `struct netlink_diag_req`: family, protocol, pad, inode, show
/// flags, cookie (all ones: "any").
fn diag_req(family: u8, protocol: u8, show: u32) -> RawRequest {
    let mut b = vec![family, protocol, 0, 0];
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&show.to_ne_bytes());
    b.extend_from_slice(&[0xff; 8]);
    RawRequest(b)
}

fn serialize<T: NetlinkSerializable>(payload: T) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// The request bytes of a dump (netlink header included).
pub fn request(kind: DumpKind, ask: Ask) -> Vec<u8> {
    match kind {
        DumpKind::Inet { v6, protocol } => {
            let ext = if ask.tcp_info && protocol == IPPROTO_TCP {
                ExtensionFlags::INFO
            } else {
                ExtensionFlags::empty()
            };
            let states = if protocol == IPPROTO_TCP && ask.skip_mini_sockets {
                StateFlags::from_bits_retain(TCP_STATES_ALL & !TCP_STATES_MINI)
            } else if protocol == IPPROTO_TCP {
                StateFlags::from_bits_retain(TCP_STATES_ALL)
            } else {
                StateFlags::from_bits_retain(u32::MAX)
            };
            serialize(SockDiagMessage::InetRequest(InetRequest {
                family: if v6 { AF_INET6 } else { AF_INET },
                protocol,
                extensions: ext,
                states,
                socket_id: if v6 {
                    SocketId::new_v6()
                } else {
                    SocketId::new_v4()
                },
            }))
        }
        DumpKind::Unix => serialize(SockDiagMessage::UnixRequest(UnixRequest {
            // Every state: with only ESTABLISHED|LISTEN, unconnected datagram sockets
            // (state TCP_CLOSE) would be missing.
            state_flags: UnixStateFlags::from_bits_retain(u32::MAX),
            inode: 0,
            show_flags: ShowFlags::from_bits_retain(
                UDIAG_SHOW_NAME
                    | UDIAG_SHOW_VFS
                    | UDIAG_SHOW_PEER
                    | UDIAG_SHOW_ICONS
                    | UDIAG_SHOW_RQLEN
                    | UDIAG_SHOW_UID,
            ),
            cookie: [0xff; 8],
        })),
        DumpKind::Packet => serialize(diag_req(AF_PACKET, 0, PACKET_SHOW_INFO)),
        DumpKind::Netlink => serialize(diag_req(AF_NETLINK, NDIAG_PROTO_ALL, 0)),
    }
}

/// Why a dump did not happen.
#[derive(Debug)]
pub struct DumpError {
    pub kind: DumpKind,
    pub err: std::io::Error,
}

impl std::fmt::Display for DumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.err.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => write!(
                f,
                "the kernel has no sock_diag support for them ({} is neither built in nor loaded)",
                self.kind.module()
            ),
            _ => write!(f, "sock_diag dump of {}: {}", self.kind.name(), self.err),
        }
    }
}

/// Open a sock_diag socket and run one dump to its end.
pub fn dump(kind: DumpKind, tcp_info: bool) -> Result<Vec<SocketEntry>, DumpError> {
    let mut entries = Vec::new();
    let ask = Ask {
        tcp_info,
        ..Ask::default()
    };
    Channel::default().dump_into(kind, ask, &mut entries)?;
    Ok(entries)
}

/// One sock_diag socket and its receive buffer, kept between dumps.
#[derive(Default)]
struct Channel {
    socket: Option<netlink_sys::Socket>,
    buf: Vec<u8>,
    /// The list it decodes into, kept empty between runs (its memory stays ours).
    list: Vec<SocketEntry>,
}

impl Channel {
    /// Run one dump, appending its sockets to `entries` (nothing is appended if it fails).
    fn dump_into(
        &mut self,
        kind: DumpKind,
        ask: Ask,
        entries: &mut Vec<SocketEntry>,
    ) -> Result<(), DumpError> {
        let start = entries.len();
        let mut out = Decoded {
            entries: std::mem::take(entries),
            end: None,
            malformed: 0,
        };
        let result = self.receive_dump(kind, ask, &mut out);
        *entries = out.entries;
        if result.is_err() {
            entries.truncate(start);
        }
        if out.malformed > 0 {
            tracing::warn!(
                "{}: skipped {} sock_diag message(s) sockbox could not decode",
                kind.name(),
                out.malformed
            );
        }
        result
    }

    /// The socket, opened the first time (or again after a dump that did not end cleanly).
    fn socket(&mut self) -> std::io::Result<&mut netlink_sys::Socket> {
        if self.socket.is_none() {
            let mut socket = netlink_sys::Socket::new(NETLINK_SOCK_DIAG)?;
            socket.bind_auto()?;
            socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
            // A dump answers at once; the timeout only guards against a kernel that never
            // ends one.
            let timeout = nix::sys::time::TimeVal::new(5, 0);
            nix::sys::socket::setsockopt(
                &socket,
                nix::sys::socket::sockopt::ReceiveTimeout,
                &timeout,
            )?;
            self.socket = Some(socket);
        }
        Ok(self.socket.as_mut().expect("opened above"))
    }

    fn receive_dump(
        &mut self,
        kind: DumpKind,
        ask: Ask,
        out: &mut Decoded,
    ) -> Result<(), DumpError> {
        let result = self.receive_messages(kind, ask, out);
        // A dump that ended with DONE or an error message left nothing behind; after anything
        // else (a failed read, a dump cut short) the socket may hold the rest of it, so the
        // next dump gets a new one.
        if out.end.is_none() {
            self.socket = None;
        }
        result
    }

    fn receive_messages(
        &mut self,
        kind: DumpKind,
        ask: Ask,
        out: &mut Decoded,
    ) -> Result<(), DumpError> {
        let fail = |err| DumpError { kind, err };
        if self.buf.len() < RECV_BUFFER {
            self.buf = vec![0u8; RECV_BUFFER];
        }
        self.socket()
            .and_then(|s| s.send(&request(kind, ask), 0))
            .map_err(fail)?;
        let Channel { socket, buf, .. } = self;
        let socket = socket.as_mut().expect("opened by socket()");
        for _ in 0..MAX_READS {
            let n = socket.recv(&mut &mut buf[..], 0).map_err(fail)?;
            decode_messages(kind, &buf[..n.min(buf.len())], out);
            match out.end {
                Some(End::Done) => return Ok(()),
                Some(End::Error(errno)) => {
                    return Err(fail(std::io::Error::from_raw_os_error(errno)))
                }
                None if n == 0 => return Ok(()),
                None => {}
            }
        }
        Ok(())
    }
}

/// sock_diag sockets kept open from one snapshot to the next, for a caller that dumps again
/// and again (`top`, the exporter). Besides the system calls saved, a socket opened per dump
/// would be a new netlink socket in every dump of netlink sockets, which would make the owner
/// index ([`super::proc::Index`]) walk `/proc` every time for a socket nobody cares about.
#[derive(Default)]
pub struct Dumper {
    /// One per dumping thread.
    channels: [Channel; 2],
    /// The list of an earlier snapshot, given back emptied ([`Dumper::recycle`]): the next
    /// dump fills it, rather than a new list of some megabytes each time (fresh pages the
    /// kernel must fault in and zero).
    spare: Vec<SocketEntry>,
}

impl std::fmt::Debug for Dumper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.channels.iter().filter(|c| c.socket.is_some()).count();
        f.debug_struct("Dumper").field("open", &open).finish()
    }
}

/// The dumps that list `kinds` (both IP versions for inet kinds; Unix once for its three
/// kinds), each with its `/proc/net` fallback.
fn plan(kinds: KindSet) -> Vec<(DumpKind, proc_net::Table)> {
    let mut plan = Vec::new();
    for (kind, protocol, v4, v6) in [
        (
            Kind::Tcp,
            IPPROTO_TCP,
            proc_net::Table::Tcp,
            proc_net::Table::Tcp6,
        ),
        (
            Kind::Udp,
            IPPROTO_UDP,
            proc_net::Table::Udp,
            proc_net::Table::Udp6,
        ),
        (
            Kind::Raw,
            IPPROTO_RAW,
            proc_net::Table::Raw,
            proc_net::Table::Raw6,
        ),
    ] {
        if kinds.contains(kind) {
            plan.push((
                DumpKind::Inet {
                    v6: false,
                    protocol,
                },
                v4,
            ));
            plan.push((DumpKind::Inet { v6: true, protocol }, v6));
        }
    }
    if kinds.contains(Kind::Unix)
        || kinds.contains(Kind::UnixDgram)
        || kinds.contains(Kind::Seqpacket)
    {
        plan.push((DumpKind::Unix, proc_net::Table::Unix));
    }
    if kinds.contains(Kind::Packet) {
        plan.push((DumpKind::Packet, proc_net::Table::Packet));
    }
    if kinds.contains(Kind::Netlink) {
        plan.push((DumpKind::Netlink, proc_net::Table::Netlink));
    }
    plan
}

/// Dump every family `kinds` needs. A dump the kernel refuses is replaced by its `/proc/net`
/// table, and each kind concerned gets one [`Fallback`] (and one warning on stderr).
pub fn dump_kinds(kinds: KindSet, tcp_info: bool) -> Result<(Vec<SocketEntry>, Vec<Fallback>)> {
    let ask = Ask {
        tcp_info,
        ..Ask::default()
    };
    Dumper::default().dump_kinds(kinds, ask)
}

impl Dumper {
    /// Take back the list of a snapshot no longer needed, for the next dump to fill.
    pub fn recycle(&mut self, mut sockets: Vec<SocketEntry>) {
        sockets.clear();
        if sockets.capacity() > self.spare.capacity() {
            self.spare = sockets;
        }
    }

    /// [`dump_kinds`] on the sockets kept here.
    pub fn dump_kinds(
        &mut self,
        kinds: KindSet,
        ask: Ask,
    ) -> Result<(Vec<SocketEntry>, Vec<Fallback>)> {
        let plan = plan(kinds);
        // The dumps are independent: run them on two threads, TCP and UDP on one, Unix and the
        // rest on the other (most of the time is the kernel filling messages and our decoding
        // them, which overlap). Each thread decodes into its own list, so entries move once.
        let half = plan
            .iter()
            .position(|(k, _)| {
                matches!(
                    k,
                    DumpKind::Inet {
                        protocol: IPPROTO_RAW,
                        ..
                    }
                )
            })
            .unwrap_or(plan.len() / 2);
        let (first, second) = plan.split_at(half);
        let run = |channel: &mut Channel, part: &[(DumpKind, proc_net::Table)]| {
            let mut list = std::mem::take(&mut channel.list);
            let results: Vec<Result<(), DumpError>> = part
                .iter()
                .map(|(k, _)| channel.dump_into(*k, ask, &mut list))
                .collect();
            channel.list = list;
            results
        };
        // The first thread's list becomes the snapshot's (the spare, large enough for both
        // after the first time); the second's is appended to it and kept.
        self.channels[0].list = std::mem::take(&mut self.spare);
        let [one, two] = &mut self.channels;
        let (mut results, more_results) = std::thread::scope(|s| {
            let other = s.spawn(|| run(two, second));
            let mine = run(one, first);
            match other.join() {
                Ok(theirs) => (mine, theirs),
                Err(p) => std::panic::resume_unwind(p),
            }
        });
        let mut sockets = std::mem::take(&mut one.list);
        sockets.append(&mut two.list);
        results.extend(more_results);

        // Per kind: the /proc/net tables read instead, the ones that failed too, and why.
        let mut failed: Vec<(Kind, Vec<&'static str>, Vec<String>, String)> = Vec::new();
        for ((_, table), result) in plan.iter().zip(results) {
            let Err(why) = result else { continue };
            let kind = table.kind();
            let slot = match failed.iter().position(|f| f.0 == kind) {
                Some(i) => i,
                None => {
                    failed.push((kind, Vec::new(), Vec::new(), why.to_string()));
                    failed.len() - 1
                }
            };
            match proc_net::read(*table) {
                Ok(entries) => {
                    sockets.extend(entries);
                    failed[slot].1.push(table.path());
                }
                Err(e) => failed[slot].2.push(format!("{}: {e}", table.path())),
            }
        }
        let fallbacks: Vec<Fallback> = failed
            .into_iter()
            .map(|(kind, read, unreadable, why)| {
                let mut note = if read.is_empty() {
                    format!("not listed: {why}")
                } else {
                    format!("read from {} instead: {why}", read.join(" and "))
                };
                if !unreadable.is_empty() {
                    note.push_str(&format!("; {}", unreadable.join("; ")));
                }
                Fallback {
                    kind,
                    note,
                    listed: !read.is_empty(),
                }
            })
            .collect();
        // A family read from /proc/net is complete, only read another way: say so with -v. A
        // family that could not be read at all would be silently empty: always say so.
        for f in &fallbacks {
            if f.listed {
                crate::narrate!("{} sockets {}", f.kind.name(), f.note);
            } else {
                tracing::warn!("{} sockets {}", f.kind.name(), f.note);
            }
        }
        Ok((sockets, fallbacks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/src/inspect/fixtures/{name}.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A `key=value` line of the fixture's notes (written by fixtures/capture.py).
    fn note(name: &str, key: &str) -> String {
        let path = format!(
            "{}/src/inspect/fixtures/{name}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{path} has no {key}="))
            .to_string()
    }

    fn num(name: &str, key: &str) -> u64 {
        note(name, key).parse().unwrap()
    }

    fn decode_all(kind: DumpKind, bytes: &[u8]) -> Decoded {
        let mut out = Decoded::default();
        decode_messages(kind, bytes, &mut out);
        out
    }

    fn by_inode(d: &Decoded, inode: u64) -> &SocketEntry {
        d.entries
            .iter()
            .find(|e| e.inode == inode)
            .unwrap_or_else(|| panic!("no inode {inode} in {:#?}", d.entries))
    }

    const TCP4: DumpKind = DumpKind::Inet {
        v6: false,
        protocol: IPPROTO_TCP,
    };

    use std::net::IpAddr;

    #[test]
    fn captured_tcp4_dump_decodes_with_tcp_info() {
        let d = decode_all(TCP4, &fixture("tcp4"));
        assert_eq!(d.end, Some(End::Done));
        assert_eq!(d.malformed, 0);
        assert_eq!(d.entries.len(), 4, "{:#?}", d.entries);
        let port = num("tcp4", "port") as u16;

        let listener = by_inode(&d, num("tcp4", "listener"));
        assert_eq!(listener.state, State::Listen);
        assert_eq!(listener.local.port(), Some(port));
        assert_eq!(listener.send_q, 8, "a listener's Send-Q is its backlog");
        assert_eq!(listener.recv_q, 1, "one connection waits to be accepted");

        let client = by_inode(&d, num("tcp4", "client"));
        assert_eq!(client.state, State::Established);
        assert_eq!(client.remote.port(), Some(port));
        assert_eq!(client.local.port(), Some(num("tcp4", "client_port") as u16));
        let info = client.tcp_info.as_deref().expect("tcp_info was asked for");
        assert!(info.cwnd > 0);
        assert_eq!(info.bytes_acked, Some(101), "100 bytes + the SYN");

        let accepted = by_inode(&d, num("tcp4", "accepted"));
        assert_eq!(
            accepted.tcp_info.as_deref().unwrap().bytes_received,
            Some(100)
        );
        assert_eq!(accepted.local.port(), Some(port));
        assert_eq!(
            by_inode(&d, num("tcp4", "pending")).state,
            State::Established
        );
        for e in &d.entries {
            assert_eq!(
                (e.kind, e.family, e.uid),
                (Kind::Tcp, Family::Inet, Some(0))
            );
            assert_eq!(e.local.ip(), Some(IpAddr::from([127, 0, 0, 1])));
        }
    }

    #[test]
    fn captured_tcp6_and_udp4_dumps_decode() {
        let tcp6 = DumpKind::Inet {
            v6: true,
            protocol: IPPROTO_TCP,
        };
        let d = decode_all(tcp6, &fixture("tcp6"));
        assert_eq!(d.entries.len(), 3);
        let loopback: IpAddr = "::1".parse().unwrap();
        assert!(d
            .entries
            .iter()
            .all(|e| e.family == Family::Inet6 && e.local.ip() == Some(loopback)));
        let l = by_inode(&d, num("tcp6", "listener"));
        assert_eq!(l.state, State::Listen);
        assert_eq!(l.local.port(), Some(num("tcp6", "port") as u16));

        let udp4 = DumpKind::Inet {
            v6: false,
            protocol: IPPROTO_UDP,
        };
        let d = decode_all(udp4, &fixture("udp4"));
        assert_eq!(d.entries.len(), 2);
        let bound = by_inode(&d, num("udp4", "bound"));
        let connected = by_inode(&d, num("udp4", "connected"));
        assert_eq!((bound.kind, bound.state), (Kind::Udp, State::Unconnected));
        assert_eq!(bound.local.port(), Some(num("udp4", "bound_port") as u16));
        assert_eq!(bound.remote.port(), None);
        assert_eq!(connected.state, State::Established);
        assert_eq!(connected.remote.port(), bound.local.port());
    }

    /// A `Dumper` dumps through the same sock_diag sockets each time: the socket that dumped
    /// the netlink sockets is among them, with the same inode, both times (a socket per dump
    /// would be a new socket in every dump).
    #[test]
    fn a_dumper_keeps_its_sockets_between_dumps() {
        let mut d = Dumper::default();
        let kinds = KindSet::default().with(Kind::Netlink);
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (sockets, fallbacks) = d.dump_kinds(kinds, Ask::default()).unwrap();
            assert!(fallbacks.is_empty(), "{fallbacks:?}");
            let open: Vec<u64> = d
                .channels
                .iter()
                .filter_map(|c| c.socket.as_ref())
                .map(|s| nix::sys::stat::fstat(s).unwrap().st_ino)
                .collect();
            assert_eq!(open.len(), 1, "one dump ran, on one channel");
            assert!(
                sockets.iter().any(|e| e.inode == open[0]),
                "the dumping socket {} is not in its own dump",
                open[0]
            );
            seen.push(open[0]);
        }
        assert_eq!(seen[0], seen[1]);
    }

    #[test]
    fn a_dump_the_kernel_cannot_do_ends_with_its_errno() {
        let raw4 = DumpKind::Inet {
            v6: false,
            protocol: IPPROTO_RAW,
        };
        let d = decode_all(raw4, &fixture("raw4"));
        assert!(d.entries.is_empty());
        assert_eq!(d.end, Some(End::Error(libc::ENOENT)));
    }

    #[test]
    fn captured_unix_dump_has_names_peers_pending_and_queues() {
        let d = decode_all(DumpKind::Unix, &fixture("unix"));
        let n = |k: &str| num("unix", k);
        assert_eq!(d.malformed, 0);
        assert_eq!(d.entries.len(), 8);

        let l = by_inode(&d, n("listener"));
        assert_eq!((l.kind, l.state), (Kind::Unix, State::Listen));
        assert_eq!(
            l.local.unix_name().unwrap().to_string(),
            note("unix", "path")
        );
        assert_eq!(
            (l.recv_q, l.send_q),
            (1, 5),
            "pending and backlog from RQLEN"
        );
        assert_eq!(l.pending, vec![n("pending")]);
        assert_eq!(
            l.vfs,
            Some((n("file_dev"), n("file_inode"))),
            "stat(2)'s dev and ino"
        );

        let accepted = by_inode(&d, n("accepted"));
        assert_eq!(by_inode(&d, n("client")).peer_inode, Some(n("accepted")));
        assert_eq!(accepted.peer_inode, Some(n("client")));
        assert_eq!(
            accepted.local, l.local,
            "accepted sockets carry the listener's name"
        );
        assert_eq!(accepted.recv_q, 10, "10 bytes wait to be read");
        assert_eq!(
            by_inode(&d, n("pending")).peer_inode,
            Some(0),
            "the server side of a pending connection has no inode yet"
        );
        let a = by_inode(&d, n("pair_a"));
        assert_eq!((a.kind, a.peer_inode), (Kind::Seqpacket, Some(n("pair_b"))));
        let dg = by_inode(&d, n("dgram"));
        assert_eq!((dg.kind, dg.state), (Kind::UnixDgram, State::Unconnected));
        assert_eq!(
            dg.local.unix_name(),
            Some(&UnixName::Abstract(b"sockbox-capture-dgram".to_vec()))
        );
        assert_eq!(by_inode(&d, n("unnamed")).local, SockAddr::Unix(None));
        assert!(d.entries.iter().all(|e| e.uid == Some(n("uid") as u32)));
    }

    #[test]
    fn captured_packet_and_netlink_dumps_decode() {
        let d = decode_all(DumpKind::Packet, &fixture("packet"));
        assert_eq!(d.entries.len(), 1);
        let p = &d.entries[0];
        assert_eq!(
            (p.kind, p.inode, p.uid),
            (Kind::Packet, num("packet", "inode"), Some(0))
        );
        assert_eq!(
            p.local,
            SockAddr::Packet {
                protocol: 0x0800,
                ifindex: num("packet", "ifindex") as u32,
            }
        );

        let d = decode_all(DumpKind::Netlink, &fixture("netlink"));
        assert_eq!(d.entries.len(), 1);
        let n = &d.entries[0];
        assert_eq!(
            (n.kind, n.inode, n.state),
            (Kind::Netlink, num("netlink", "inode"), State::Unconnected)
        );
        assert_eq!(
            n.local,
            SockAddr::Netlink {
                protocol: 0,
                portid: num("netlink", "portid") as u32,
                group: 0
            }
        );
    }

    #[test]
    fn every_truncation_of_a_captured_dump_decodes_without_panic() {
        for (name, kind) in [
            ("tcp4", TCP4),
            ("unix", DumpKind::Unix),
            ("packet", DumpKind::Packet),
            ("netlink", DumpKind::Netlink),
        ] {
            let bytes = fixture(name);
            let whole = decode_all(kind, &bytes).entries.len();
            for cut in 0..bytes.len() {
                let d = decode_all(kind, &bytes[..cut]);
                assert!(d.entries.len() <= whole);
                assert_eq!(d.end, None, "{name} cut at {cut} cannot have ended");
            }
        }
    }

    #[test]
    fn short_tcp_info_keeps_what_fits() {
        let mut b = vec![0u8; 104];
        b[68..72].copy_from_slice(&1500u32.to_ne_bytes());
        b[80..84].copy_from_slice(&10u32.to_ne_bytes());
        let info = decode_tcp_info(&b).unwrap();
        assert_eq!((info.rtt_us, info.cwnd), (1500, 10));
        assert_eq!(info.bytes_acked, None);
        assert_eq!(decode_tcp_info(&b[..90]), None);
    }

    #[test]
    fn requests_have_the_layout_the_kernel_expects() {
        let r = request(DumpKind::Unix, Ask::default());
        assert_eq!(r.len(), 16 + 24);
        assert_eq!(read_u32(&r, 0), Some(40));
        assert_eq!(read_u16(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(r[16], AF_UNIX);
        assert_eq!(read_u32(&r, 20), Some(u32::MAX), "every state");
        assert_eq!(
            read_u32(&r, 28),
            Some(0x5f),
            "NAME VFS PEER ICONS RQLEN UID"
        );
        let p = request(DumpKind::Packet, Ask::default());
        assert_eq!((p.len(), p[16]), (16 + 20, AF_PACKET));
        let ask = Ask {
            tcp_info: true,
            ..Ask::default()
        };
        let t = request(TCP4, ask);
        assert_eq!(
            (t.len(), t[16], t[17], t[18]),
            (16 + 56, AF_INET, IPPROTO_TCP, 2)
        );
        assert_eq!(read_u32(&t, 20), Some(0xfff), "every TCP state");
        let ask = Ask {
            skip_mini_sockets: true,
            ..ask
        };
        assert_eq!(
            read_u32(&request(TCP4, ask), 20),
            Some(0xfff & !(1 << 3 | 1 << 6)),
            "neither SYN-RECV nor TIME-WAIT"
        );
    }

    #[test]
    fn unix_names() {
        assert_eq!(decode_unix_name(b""), None);
        assert_eq!(
            decode_unix_name(b"/a\0"),
            Some(UnixName::Path(b"/a".to_vec()))
        );
        assert_eq!(
            decode_unix_name(b"/a"),
            Some(UnixName::Path(b"/a".to_vec()))
        );
        assert_eq!(
            decode_unix_name(b"\0x\0"),
            Some(UnixName::Abstract(b"x\0".to_vec()))
        );
    }

    #[test]
    fn a_live_unix_dump_finds_a_socketpair() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::unix::fs::MetadataExt;
        let ino = |s: &std::os::unix::net::UnixStream| {
            std::fs::metadata(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(s)
            ))
            .unwrap()
            .ino()
        };
        let entries = dump(DumpKind::Unix, false).unwrap();
        let ea = entries
            .iter()
            .find(|e| e.inode == ino(&a))
            .expect("a is listed");
        assert_eq!(ea.peer_inode, Some(ino(&b)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            k in 0u8..6,
        ) {
            let kind = match k {
                0 => TCP4,
                1 => DumpKind::Inet { v6: true, protocol: IPPROTO_UDP },
                2 => DumpKind::Inet { v6: false, protocol: IPPROTO_RAW },
                3 => DumpKind::Unix,
                4 => DumpKind::Packet,
                _ => DumpKind::Netlink,
            };
            let _ = decode_all(kind, &bytes);
            let _ = decode_entry(kind, &bytes);
            let _ = decode_tcp_info(&bytes);
        }

        #[test]
        fn a_real_dump_with_one_byte_changed_never_panics(at in 0usize..4096, v in any::<u8>()) {
            let mut bytes = fixture("unix");
            let at = at % bytes.len();
            bytes[at] = v;
            let _ = decode_all(DumpKind::Unix, &bytes);
            let mut bytes = fixture("tcp4");
            let at = at % bytes.len();
            bytes[at] = v;
            let _ = decode_all(TCP4, &bytes);
        }
    }
}
