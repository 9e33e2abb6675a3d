//! Every socket on the host, as data: what `sockbox ls` and `sockbox who` print.
//!
//! A [`snapshot`] is built in four steps, each in its own file:
//!
//! 1. one netlink `sock_diag(7)` dump per family ([`netlink`]): inet v4/v6 for TCP, UDP and
//!    raw; Unix with name, peer, pending connections, queue lengths and uid; packet; netlink.
//!    A family the kernel cannot dump (no `raw_diag`, say) is read from `/proc/net/*` instead
//!    ([`proc_net`]), and a warning says so once;
//! 2. filters that need only the socket ([`filter`]);
//! 3. when processes are asked for (or a filter needs them), one walk of `/proc/*/fd`
//!    ([`proc`]): `readlinkat(2)` of each descriptor, inode -> owners, and nothing else per fd;
//! 4. peers joined in memory ([`peers`]): Unix sockets by `UNIX_DIAG_PEER` and
//!    `UNIX_DIAG_ICONS`, TCP and UDP by matching the 4-tuple of both ends.
//!
//! [`target`] answers `who TARGET` from a snapshot; [`files`] finds socket files on disk and
//! says whether anyone listens on them. Nothing here prints: results are plain data, and the
//! one thing worth saying on the way (a family read from `/proc/net` or missing) is a
//! `tracing` warning.

pub mod files;
pub mod filter;
pub mod names;
pub mod netlink;
pub mod peers;
pub mod proc;
pub mod proc_net;
pub mod services;
pub mod target;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::Result;

pub use filter::Filter;

/// The kind of a socket, named as in the address grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Tcp,
    Udp,
    /// `SOCK_RAW` inet sockets (ping, DHCP clients, routing daemons).
    Raw,
    /// Unix `SOCK_STREAM`.
    Unix,
    /// Unix `SOCK_DGRAM`.
    UnixDgram,
    /// Unix `SOCK_SEQPACKET`.
    Seqpacket,
    /// `AF_PACKET`: link-layer sockets (tcpdump, DHCP).
    Packet,
    /// `AF_NETLINK`: sockets talking to the kernel.
    Netlink,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Tcp,
        Kind::Udp,
        Kind::Raw,
        Kind::Unix,
        Kind::UnixDgram,
        Kind::Seqpacket,
        Kind::Packet,
        Kind::Netlink,
    ];

    /// The name used in tables, JSON and filters: `tcp`, `unix-dgram`, ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Udp => "udp",
            Kind::Raw => "raw",
            Kind::Unix => "unix",
            Kind::UnixDgram => "unix-dgram",
            Kind::Seqpacket => "seqpacket",
            Kind::Packet => "packet",
            Kind::Netlink => "netlink",
        }
    }

    /// True for the three Unix-domain kinds.
    pub fn is_unix(self) -> bool {
        matches!(self, Kind::Unix | Kind::UnixDgram | Kind::Seqpacket)
    }

    /// True for TCP, UDP and raw (the kinds with IP addresses).
    pub fn is_inet(self) -> bool {
        matches!(self, Kind::Tcp | Kind::Udp | Kind::Raw)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Kind`]s (`--tcp --unix` ...). Empty means "every kind" to [`Query`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindSet(u8);

impl KindSet {
    pub fn all() -> Self {
        Kind::ALL.iter().fold(KindSet(0), |s, k| s.with(*k))
    }

    pub fn with(self, kind: Kind) -> Self {
        KindSet(self.0 | kind.bit())
    }

    /// The three Unix kinds (`--unix`).
    pub fn with_unix(self) -> Self {
        self.with(Kind::Unix)
            .with(Kind::UnixDgram)
            .with(Kind::Seqpacket)
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Every kind when empty, else itself.
    pub fn or_all(self) -> Self {
        if self.is_empty() {
            Self::all()
        } else {
            self
        }
    }
}

/// The address family a socket was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Inet,
    Inet6,
    Unix,
    Packet,
    Netlink,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
            Family::Packet => "packet",
            Family::Netlink => "netlink",
        }
    }
}

/// A socket's state. The kernel numbers them as TCP does (`include/net/tcp_states.h`) for every
/// family; UDP, Unix datagram, raw, packet and netlink sockets are `Unconnected` or
/// `Established` (connected).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Listen,
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    /// `TCP_CLOSE`: a TCP socket not yet connected, or an unconnected datagram socket.
    Unconnected,
    CloseWait,
    LastAck,
    Closing,
    NewSynRecv,
    BoundInactive,
    /// A number this version does not know.
    Other(u8),
}

impl State {
    /// Every named state, for `--state` and `--summary`.
    pub const NAMED: [State; 13] = [
        State::Listen,
        State::Established,
        State::SynSent,
        State::SynRecv,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Unconnected,
        State::CloseWait,
        State::LastAck,
        State::Closing,
        State::NewSynRecv,
        State::BoundInactive,
    ];

    /// The state from the kernel's number (`TCP_ESTABLISHED` = 1 ... `TCP_LISTEN` = 10).
    pub fn from_kernel(n: u8) -> State {
        match n {
            1 => State::Established,
            2 => State::SynSent,
            3 => State::SynRecv,
            4 => State::FinWait1,
            5 => State::FinWait2,
            6 => State::TimeWait,
            7 => State::Unconnected,
            8 => State::CloseWait,
            9 => State::LastAck,
            10 => State::Listen,
            11 => State::Closing,
            12 => State::NewSynRecv,
            13 => State::BoundInactive,
            n => State::Other(n),
        }
    }

    /// The name in tables, JSON and `--state`: `listen`, `established`, `time-wait`, ...
    pub fn name(self) -> &'static str {
        match self {
            State::Listen => "listen",
            State::Established => "established",
            State::SynSent => "syn-sent",
            State::SynRecv => "syn-recv",
            State::FinWait1 => "fin-wait-1",
            State::FinWait2 => "fin-wait-2",
            State::TimeWait => "time-wait",
            State::Unconnected => "unconnected",
            State::CloseWait => "close-wait",
            State::LastAck => "last-ack",
            State::Closing => "closing",
            State::NewSynRecv => "new-syn-recv",
            State::BoundInactive => "bound-inactive",
            State::Other(_) => "unknown",
        }
    }

    /// Parse a state name; ss's spellings (`estab`, `unconn`, `close`, `fin-wait1`) and any
    /// case are accepted too.
    pub fn parse(s: &str) -> Option<State> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match s.as_str() {
            "estab" | "connected" => Some(State::Established),
            "unconn" | "close" | "closed" => Some(State::Unconnected),
            "listening" => Some(State::Listen),
            "fin-wait1" => Some(State::FinWait1),
            "fin-wait2" => Some(State::FinWait2),
            "timewait" => Some(State::TimeWait),
            "syn-received" => Some(State::SynRecv),
            _ => None,
        };
        alias.or_else(|| State::NAMED.into_iter().find(|st| st.name() == s))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Other(n) => write!(f, "state-{n}"),
            s => f.write_str(s.name()),
        }
    }
}

/// The name a Unix socket is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnixName {
    /// A filesystem path, as bound (it may be relative to the binder's directory).
    Path(Vec<u8>),
    /// An abstract name, without the leading NUL byte.
    Abstract(Vec<u8>),
}

impl fmt::Display for UnixName {
    /// Paths as text (invalid UTF-8 escaped), abstract names as `@name` with bytes that are
    /// not printable escaped as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = match self {
            UnixName::Path(p) => p,
            UnixName::Abstract(a) => {
                f.write_str("@")?;
                a
            }
        };
        for chunk in bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() {
                    write!(f, "\\x{:02x}", c as u32)?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// One end of a socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SockAddr {
    /// TCP, UDP, raw: address and port (a raw socket's "port" is its IP protocol; the
    /// unspecified address and port 0 mean "any").
    Inet(SocketAddr),
    /// A Unix socket's name; `None` when it has none (socketpairs, clients).
    Unix(Option<UnixName>),
    /// A packet socket: ethertype and interface index (0 = every interface).
    Packet { protocol: u16, ifindex: u32 },
    /// A netlink socket: protocol and port id (the local end), or the destination port id
    /// and group (the remote end; 0/0 is the kernel).
    Netlink {
        protocol: u8,
        portid: u32,
        group: u32,
    },
}

impl SockAddr {
    /// The port of an inet address, if it has one other than 0.
    pub fn port(&self) -> Option<u16> {
        match self {
            SockAddr::Inet(a) if a.port() != 0 => Some(a.port()),
            _ => None,
        }
    }

    /// The IP address of an inet address.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            SockAddr::Inet(a) => Some(a.ip()),
            _ => None,
        }
    }

    /// A Unix socket's name, if it has one.
    pub fn unix_name(&self) -> Option<&UnixName> {
        match self {
            SockAddr::Unix(Some(n)) => Some(n),
            _ => None,
        }
    }
}

/// `tcp_info` as sock_diag reports it (`INET_DIAG_INFO`), the fields `--extended` shows. Fields
/// added to the kernel's struct after 2.6 are `None` when the kernel's struct is too short.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// Round-trip time variance, microseconds.
    pub rttvar_us: u32,
    /// Congestion window, segments.
    pub cwnd: u32,
    /// Retransmissions of the segment now being retransmitted (`tcpi_retransmits`).
    pub retransmits: u8,
    /// Segments retransmitted over the connection's life (`tcpi_total_retrans`).
    pub total_retrans: u32,
    /// Bytes acknowledged by the peer.
    pub bytes_acked: Option<u64>,
    /// Bytes received.
    pub bytes_received: Option<u64>,
    /// Bytes sent, retransmissions included (Linux 4.19+).
    pub bytes_sent: Option<u64>,
    /// Milliseconds since data was last sent (`tcpi_last_data_sent`).
    pub last_data_sent_ms: u32,
    /// Milliseconds since data was last received (`tcpi_last_data_recv`).
    pub last_data_recv_ms: u32,
    /// Microseconds the connection has had data to send (`tcpi_busy_time`, Linux 4.10+).
    pub busy_time_us: Option<u64>,
    /// Microseconds of that limited by the peer's receive window (`tcpi_rwnd_limited`).
    pub rwnd_limited_us: Option<u64>,
    /// Microseconds of that limited by the local send buffer (`tcpi_sndbuf_limited`).
    pub sndbuf_limited_us: Option<u64>,
}

/// The processes holding a socket, sorted by pid then descriptor. One owner, the usual case,
/// is kept inline: a refresh of `top` made and freed one list per socket otherwise.
pub type Owners = smallvec::SmallVec<[Owner; 1]>;

/// A process holding a socket: `pid` has it open as descriptor `fd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub pid: u32,
    pub fd: u32,
}

/// What is known about a process that owns a listed socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// `/proc/PID/comm`.
    pub name: String,
    /// Real uid (`/proc/PID/status`), read for `who` only.
    pub uid: Option<u32>,
    /// Arguments (`/proc/PID/cmdline`), read for `who` only.
    pub cmdline: Option<Vec<String>>,
}

/// Who is at the other end of a socket, as far as this host can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerLink {
    /// The peer socket, by index into [`Snapshot::sockets`].
    Socket(usize),
    /// Not accepted yet: the connection waits in the accept queue of this listener (index
    /// into [`Snapshot::sockets`]).
    Pending(usize),
}

/// Where a family's sockets came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A netlink sock_diag dump.
    Diag,
    /// `/proc/net/*` (the kernel has no sock_diag module for the family): no peers, no
    /// pending connections, no tcp_info.
    ProcNet,
}

/// One socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketEntry {
    pub kind: Kind,
    pub family: Family,
    pub state: State,
    /// The socket's inode (`socket:[N]` in `/proc/PID/fd`); 0 for sockets no process holds
    /// (TIME-WAIT, connections not accepted yet).
    pub inode: u64,
    /// The kernel's socket cookie (`sock_gen_cookie`): unique for the boot and never reused,
    /// unlike inodes; the key for rates across dumps and for destroy events (0 where the
    /// family does not report it).
    pub cookie: u64,
    /// The owner uid the kernel records (`None` where the family does not report it).
    pub uid: Option<u32>,
    /// Bytes waiting to be read; for a listener, connections waiting to be accepted.
    pub recv_q: u64,
    /// Bytes not yet acknowledged (TCP) or in flight (Unix); for a listener, its backlog.
    pub send_q: u64,
    pub local: SockAddr,
    pub remote: SockAddr,
    /// Unix: the peer socket's inode (`UNIX_DIAG_PEER`); 0 while the connection is not
    /// accepted yet.
    pub peer_inode: Option<u64>,
    /// Unix listener: inodes of the clients waiting to be accepted (`UNIX_DIAG_ICONS`).
    pub pending: Vec<u64>,
    /// Unix socket bound to a path: (device, inode) of the socket file (`UNIX_DIAG_VFS`),
    /// device as `stat(2)` reports it.
    pub vfs: Option<(u64, u64)>,
    /// Raw: the IP protocol; packet: the ethertype; netlink: the netlink protocol.
    pub protocol: Option<u16>,
    /// TCP with `--extended` (boxed: most sockets have none, and entries stay small).
    pub tcp_info: Option<Box<TcpInfo>>,
    /// Processes holding the socket (filled by the `/proc` walk).
    pub owners: Owners,
    /// The other end on this host (filled by the peer join).
    pub peer: Option<PeerLink>,
    pub source: Source,
}

impl SocketEntry {
    /// A socket with only the fields every family has; the rest empty.
    pub fn new(kind: Kind, family: Family, state: State, inode: u64) -> Self {
        let none = match family {
            Family::Inet => SockAddr::Inet(SocketAddr::from(([0, 0, 0, 0], 0))),
            Family::Inet6 => SockAddr::Inet(SocketAddr::from(([0u16; 8], 0))),
            Family::Unix => SockAddr::Unix(None),
            Family::Packet => SockAddr::Packet {
                protocol: 0,
                ifindex: 0,
            },
            Family::Netlink => SockAddr::Netlink {
                protocol: 0,
                portid: 0,
                group: 0,
            },
        };
        SocketEntry {
            kind,
            family,
            state,
            inode,
            cookie: 0,
            uid: None,
            recv_q: 0,
            send_q: 0,
            local: none.clone(),
            remote: none,
            peer_inode: None,
            pending: Vec::new(),
            vfs: None,
            protocol: None,
            tcp_info: None,
            owners: Owners::new(),
            peer: None,
            source: Source::Diag,
        }
    }

    /// A listening socket (TCP/Unix stream/seqpacket in LISTEN).
    pub fn is_listening(&self) -> bool {
        self.state == State::Listen
    }

    /// Waits for peers: a listener, or a datagram socket bound to a port or name and not
    /// connected (it receives from anyone). The kernel reports a bound Unix datagram socket
    /// as ESTABLISHED once someone has connected to it, so "not connected" is "no peer".
    pub fn waits_for_peers(&self) -> bool {
        match self.kind {
            _ if self.is_listening() => true,
            Kind::Udp => {
                self.local.port().is_some()
                    && self.remote.port().is_none()
                    && self.state == State::Unconnected
            }
            Kind::UnixDgram => self.local.unix_name().is_some() && self.peer_inode.is_none(),
            _ => false,
        }
    }
}

/// What to list and how much to find out about it.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Kinds to dump; empty = all.
    pub kinds: KindSet,
    pub filter: Filter,
    /// Map sockets to processes (`-p`).
    pub processes: bool,
    /// Join both ends of local connections (`--peers`; implies processes).
    pub peers: bool,
    /// tcp_info for TCP (`--extended`).
    pub extended: bool,
    /// Leave out TCP's TIME-WAIT and SYN-RECV entries, asked of the kernel
    /// ([`netlink::Ask::skip_mini_sockets`]): `top` shows nothing of sockets no process holds
    /// and without `tcp_info`.
    pub skip_mini_sockets: bool,
    /// Link no TCP or UDP ends (`top` shows no peers): only Unix sockets are joined, which
    /// `top`'s pairs need. Saves a map of every connection's 4-tuple.
    pub skip_inet_peers: bool,
}

/// A family that could not be dumped through sock_diag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// The kind(s) concerned, e.g. "raw".
    pub kind: Kind,
    /// What happened: "read from /proc/net/raw, /proc/net/raw6 (no sock_diag support: ...)"
    pub note: String,
    /// True when the sockets were still listed (from /proc/net); false when missing.
    pub listed: bool,
}

/// The sockets of the host at one moment, and what the query asked to know about them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every socket read, filtered or not (peers may be sockets the filter left out).
    pub sockets: Vec<SocketEntry>,
    /// Indices into `sockets` of the sockets the filter kept, in display order.
    pub shown: Vec<usize>,
    /// Processes owning shown sockets or their peers, by pid.
    pub processes: HashMap<u32, Process>,
    /// Families not read through sock_diag.
    pub fallbacks: Vec<Fallback>,
    /// Whether the processes were looked up (so empty owners mean "no process", not
    /// "not asked").
    pub processes_known: bool,
    /// Processes whose descriptors could not be read (another user's, without root).
    pub unreadable_processes: usize,
}

impl Snapshot {
    /// The shown sockets, in display order.
    pub fn shown(&self) -> impl Iterator<Item = &SocketEntry> + '_ {
        self.shown.iter().map(move |&i| &self.sockets[i])
    }
}

/// Dump the sockets of the host (this network namespace) as `query` asks.
pub fn snapshot(query: &Query) -> Result<Snapshot> {
    snapshot_owned_by(query, None)
}

/// [`snapshot`] again and again (`top`, the exporter): the sock_diag sockets stay open from
/// one snapshot to the next, and owners come from an [`proc::Index`], which walks `/proc` in
/// full only at the start and now and then, incrementally otherwise.
#[derive(Debug, Default)]
pub struct Sampler {
    pub index: proc::Index,
    /// When the last snapshot's dumps ended: the moment its counters describe, which the
    /// `/proc` walk after them (long when it is a full one) must not shift.
    pub dumped_at: Option<std::time::Instant>,
    dumper: netlink::Dumper,
}

impl Sampler {
    /// The sockets of the host now, as `query` asks.
    pub fn snapshot(&mut self, query: &Query) -> Result<Snapshot> {
        let kinds = query.kinds.or_all();
        let ask = netlink::Ask {
            tcp_info: query.extended,
            skip_mini_sockets: query.skip_mini_sockets,
        };
        let dumped = self.dumper.dump_kinds(kinds, ask)?;
        self.dumped_at = Some(std::time::Instant::now());
        build(query, dumped, Some(&mut self.index))
    }

    /// Hand back a snapshot no longer needed: the next one is read into its memory.
    pub fn recycle(&mut self, snap: Snapshot) {
        self.dumper.recycle(snap.sockets);
    }
}

fn snapshot_owned_by(query: &Query, index: Option<&mut proc::Index>) -> Result<Snapshot> {
    let ask = netlink::Ask {
        tcp_info: query.extended,
        skip_mini_sockets: query.skip_mini_sockets,
    };
    let dumped = netlink::Dumper::default().dump_kinds(query.kinds.or_all(), ask)?;
    build(query, dumped, index)
}

/// Peers, filters and owners of dumped sockets.
fn build(
    query: &Query,
    (mut sockets, fallbacks): (Vec<SocketEntry>, Vec<Fallback>),
    index: Option<&mut proc::Index>,
) -> Result<Snapshot> {
    let kinds = query.kinds.or_all();
    if query.skip_inet_peers {
        peers::join_unix(&mut sockets);
    } else {
        peers::join(&mut sockets);
    }

    // Filters on the socket alone first: they decide what the /proc walk must find.
    let mut shown: Vec<usize> = (0..sockets.len())
        .filter(|&i| {
            let e = &sockets[i];
            // A client waiting in an accept queue matches through its listener.
            let peer = match e.peer {
                Some(PeerLink::Socket(j) | PeerLink::Pending(j)) => sockets.get(j),
                None => None,
            };
            kinds.contains(e.kind) && query.filter.matches_socket(e, peer)
        })
        .collect();

    let with_peers = query.processes || query.peers;
    let needs_owners = with_peers || query.filter.needs_processes();
    let mut processes = HashMap::new();
    let mut unreadable_processes = 0;
    if needs_owners {
        // With -p or --peers every owner of every shown socket (and of its peer) is wanted;
        // with only --pid/--process, only those processes need reading.
        let scope = if with_peers {
            proc::Scope::All
        } else {
            query.filter.process_scope()
        };
        let wanted = peers::wanted_inodes(&sockets, &shown, with_peers);
        // The index reads every process; the owner filters below narrow it as they do a walk.
        let mut walk = match index {
            Some(index) => index.walk(&wanted)?,
            None => proc::walk(&scope, &wanted)?,
        };
        for entry in sockets.iter_mut() {
            if entry.inode != 0 {
                if let Some(owners) = walk.owners.remove(&entry.inode) {
                    entry.owners = owners;
                }
            }
        }
        processes = walk.processes;
        unreadable_processes = walk.unreadable;
        if unreadable_processes > 0 {
            tracing::info!(
                "{unreadable_processes} processes could not be read (another user's: run as root to see every owner)"
            );
        }
        shown.retain(|&i| query.filter.matches_owners(&sockets[i], &processes));
    }
    sort_for_display(&sockets, &mut shown);
    Ok(Snapshot {
        sockets,
        shown,
        processes,
        fallbacks,
        processes_known: needs_owners,
        unreadable_processes,
    })
}

/// Display order: by kind, listeners first, then by local port; otherwise as the kernel
/// listed them (a cheap key: sorting 20,000 entries by full address costs more than the dump).
fn sort_for_display(sockets: &[SocketEntry], shown: &mut [usize]) {
    // One u64 per socket: kind, not-listening, port, then the index (kernel order).
    let mut keys: Vec<u64> = shown
        .iter()
        .map(|&i| {
            let e = &sockets[i];
            (e.kind as u64) << 56
                | u64::from(!e.is_listening()) << 48
                | u64::from(e.local.port().unwrap_or(0)) << 32
                | (i as u64 & 0xffff_ffff)
        })
        .collect();
    keys.sort_unstable();
    for (slot, key) in shown.iter_mut().zip(keys) {
        *slot = (key & 0xffff_ffff) as usize;
    }
}

/// Counts of shown sockets by kind and state (`--summary`), in display order.
pub fn summary(snap: &Snapshot) -> Vec<(Kind, State, usize)> {
    let mut counts: HashMap<(Kind, State), usize> = HashMap::new();
    for e in snap.shown() {
        *counts.entry((e.kind, e.state)).or_default() += 1;
    }
    let mut rows: Vec<_> = counts.into_iter().map(|((k, s), n)| (k, s, n)).collect();
    rows.sort();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn state_names_parse_back() {
        for s in State::NAMED {
            assert_eq!(State::parse(s.name()), Some(s));
        }
        assert_eq!(State::parse("ESTAB"), Some(State::Established));
        assert_eq!(State::parse("unconn"), Some(State::Unconnected));
        assert_eq!(State::parse("TIME_WAIT"), Some(State::TimeWait));
        assert_eq!(State::parse("nonsense"), None);
    }

    #[test]
    fn unix_names_escape_what_is_not_printable() {
        assert_eq!(
            UnixName::Path(b"/run/a.sock".to_vec()).to_string(),
            "/run/a.sock"
        );
        assert_eq!(UnixName::Abstract(b"x\0y".to_vec()).to_string(), "@x\\x00y");
        assert_eq!(UnixName::Abstract(vec![0xff, b'a']).to_string(), "@\\xffa");
    }

    /// What `top` asks for: Unix pairs linked but no TCP ends, no TIME-WAIT entries; a
    /// plain snapshot has both.
    #[test]
    fn a_sampler_asked_as_top_asks_skips_tcp_peers_and_time_wait() {
        use std::io::Read;
        use std::net::{TcpListener, TcpStream};
        let ino = |fd: &dyn std::os::fd::AsFd| nix::sys::stat::fstat(fd).unwrap().st_ino;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        // A connection closed by its client first: the client's end waits in TIME-WAIT.
        let closed = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let port = closed.local_addr().unwrap().port();
        let (mut closed_s, _) = l.accept().unwrap();
        drop(closed);
        assert_eq!(closed_s.read(&mut [0u8; 1]).unwrap(), 0);
        drop(closed_s);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let kinds = KindSet::default().with(Kind::Tcp).with_unix();
        let time_wait = |snap: &Snapshot| {
            snap.sockets
                .iter()
                .any(|e| e.state == State::TimeWait && e.local.port() == Some(port))
        };
        let entry = |snap: &Snapshot, inode: u64| {
            snap.sockets
                .iter()
                .find(|e| e.inode == inode)
                .cloned()
                .unwrap()
        };

        let plain = snapshot(&Query {
            kinds,
            ..Query::default()
        })
        .unwrap();
        assert!(time_wait(&plain), "no TIME-WAIT entry for port {port}");
        assert!(entry(&plain, ino(&c)).peer.is_some());
        assert!(entry(&plain, ino(&s)).peer.is_some());

        let as_top = Sampler::default()
            .snapshot(&Query {
                kinds,
                skip_mini_sockets: true,
                skip_inet_peers: true,
                ..Query::default()
            })
            .unwrap();
        assert!(!time_wait(&as_top));
        assert_eq!(entry(&as_top, ino(&c)).peer, None);
        assert!(matches!(
            entry(&as_top, ino(&a)).peer,
            Some(PeerLink::Socket(_))
        ));
    }

    #[test]
    fn kind_sets() {
        let s = KindSet::default().with(Kind::Tcp).with_unix();
        assert!(s.contains(Kind::Tcp) && s.contains(Kind::Seqpacket));
        assert!(!s.contains(Kind::Udp));
        assert!(KindSet::default().or_all().contains(Kind::Netlink));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn state_parse_never_panics(s in "\\PC{0,20}") {
            let _ = State::parse(&s);
        }

        #[test]
        fn kernel_states_round_trip_through_names(n in 1u8..=13) {
            let s = State::from_kernel(n);
            prop_assert_eq!(State::parse(s.name()), Some(s));
        }
    }
}
