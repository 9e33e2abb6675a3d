//! Two dumps one interval apart, compared: what `sockbox top` shows.
//!
//! A [`Tracker`] joins the destroy groups first, then takes a dump of every socket with
//! `tcp_info` and owners. Each [`Tracker::refresh`] takes the next dump and compares it with
//! the previous one by socket cookie: a TCP socket's bytes received and sent in the interval
//! are the difference of its `tcp_info` counters (its whole count when it is new); a socket
//! that closed in the interval counts up to the final counters its destroy event carried; a
//! connection that opened and closed between the dumps is counted from its destroy event
//! alone (its owner could not be seen, so it is shown under its uid). No packet is captured.
//!
//! Cost per refresh: one sock_diag dump per family, through sockets kept open, without
//! TIME-WAIT or SYN-RECV entries; owners from a [`crate::inspect::proc::Index`]: a full walk
//! of `/proc/*/fd` at the start and every 30 seconds, in between only when sockets are new,
//! and then only of processes whose descriptors changed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use serde::{Serialize, Serializer};

use super::events::DestroyEvents;
use crate::inspect::{
    Filter, Kind, KindSet, PeerLink, Query, Sampler, Snapshot, SockAddr, SocketEntry, State,
    TcpInfo,
};
use crate::Result;

/// An address in a report: kept as read, written out (`127.0.0.1:80`, `[::1]:80`, a Unix
/// name) only when printed, drawn or serialized, since a report holds every connection and a
/// screen shows a few. Ordered as addresses (IP, then port as a number).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Addr(pub SockAddr);

impl Addr {
    /// The port of an inet address, if not 0.
    pub fn port(&self) -> Option<u16> {
        self.0.port()
    }
}

impl From<std::net::SocketAddr> for Addr {
    fn from(a: std::net::SocketAddr) -> Self {
        Addr(SockAddr::Inet(a))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            SockAddr::Inet(s) => write!(f, "{s}"),
            SockAddr::Unix(Some(n)) => write!(f, "{n}"),
            SockAddr::Unix(None) => Ok(()),
            SockAddr::Packet { protocol, ifindex } => write!(f, "0x{protocol:04x}@{ifindex}"),
            SockAddr::Netlink { portid, .. } => write!(f, "{portid}"),
        }
    }
}

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Who a row belongs to, as shown: `comm (pid)`, `uid N`, or `-`. Made once per owner and
/// shared by its rows (a clone is a reference count).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerName(Arc<str>);

impl std::ops::Deref for OwnerName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OwnerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for OwnerName {
    fn from(s: &str) -> Self {
        OwnerName(s.into())
    }
}

impl From<String> for OwnerName {
    fn from(s: String) -> Self {
        OwnerName(s.into())
    }
}

impl Default for OwnerName {
    fn default() -> Self {
        OwnerName::from("-")
    }
}

impl PartialEq<str> for OwnerName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl Serialize for OwnerName {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Who a row is about: a process, or (when the owner could not be read) a uid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Pid(u32),
    Uid(u32),
}

/// One process (or uid) and its sockets over the interval.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ProcessRow {
    /// `None` for a row of sockets whose owner could not be read.
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub uid: Option<u32>,
    /// `comm (pid)`, or `uid N`.
    pub owner: OwnerName,
    /// Sockets held at the end of the interval, by kind (`tcp`, `unix`, ...).
    pub sockets: BTreeMap<&'static str, u64>,
    /// TCP payload bytes received and sent in the interval.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// The same per second.
    pub rx_rate: f64,
    pub tx_rate: f64,
    /// TCP segments retransmitted in the interval.
    pub retrans: u64,
    /// Bytes waiting in its sockets' receive and send queues at the end.
    pub recv_q: u64,
    pub send_q: u64,
    /// TCP connections opened and closed in the interval.
    pub opened: u64,
    pub closed: u64,
}

/// One TCP connection at the end of the interval.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConnectionRow {
    pub cookie: u64,
    pub local: Addr,
    pub remote: Addr,
    pub state: &'static str,
    pub owner: OwnerName,
    pub pid: Option<u32>,
    pub rx_rate: f64,
    pub tx_rate: f64,
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub rtt_ms: Option<f64>,
    pub cwnd: Option<u32>,
    pub retrans: u64,
    pub recv_q: u64,
    pub send_q: u64,
    /// Seconds since data last moved either way (`tcpi_last_data_{recv,sent}`).
    pub idle_s: Option<f64>,
    /// Share of the interval (0 to 1) the connection was sending but held back by the peer's
    /// receive window (`tcpi_rwnd_limited`), and by its own send buffer
    /// (`tcpi_sndbuf_limited`); `None` on kernels before 4.10 or for a connection new in
    /// the interval.
    pub rwnd_limited: Option<f64>,
    pub sndbuf_limited: Option<f64>,
}

/// One end of a Unix pair.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UnixEnd {
    pub inode: u64,
    pub owner: OwnerName,
    pub pid: Option<u32>,
    pub name: Option<String>,
    /// Bytes waiting for this end to read.
    pub queued: u64,
    /// Data waited at both dumps and did not shrink: this end's reader is not keeping up.
    pub stalled: bool,
    /// Since when, in seconds, as far as the tracker has watched.
    pub stalled_for_s: Option<f64>,
}

/// A connected Unix stream or seqpacket pair.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UnixPair {
    pub kind: &'static str,
    pub a: UnixEnd,
    pub b: UnixEnd,
    /// Either end stalled.
    pub stalled: bool,
}

/// A listener and its accept queue.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ListenerRow {
    pub kind: &'static str,
    pub local: Addr,
    pub owner: OwnerName,
    pub pid: Option<u32>,
    /// Connections waiting to be accepted.
    pub accept_queue: u64,
    /// The listen backlog (the most that can wait).
    pub backlog: u64,
    /// TCP connections to its port that opened in the interval (seen new by a dump, or
    /// opened and closed between dumps), and the same per second.
    pub accepted: u64,
    pub accepted_rate: f64,
}

/// A TCP connection that closed in the interval, from its destroy event.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClosedRow {
    pub cookie: u64,
    pub local: Addr,
    pub remote: Addr,
    pub owner: OwnerName,
    pub pid: Option<u32>,
    pub uid: Option<u32>,
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub rtt_ms: Option<f64>,
    pub retrans: Option<u32>,
    /// Opened after the previous dump too: no dump ever saw it.
    pub opened_in_interval: bool,
}

/// Totals of the interval.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Totals {
    pub sockets: u64,
    pub rx_rate: f64,
    pub tx_rate: f64,
    pub opened: u64,
    pub closed: u64,
    /// Connections that opened and closed between the two dumps.
    pub opened_and_closed: u64,
    /// Host-wide TCP connections dropped because an accept queue was full in the interval
    /// (`ListenOverflows` in `/proc/net/netstat`; the kernel keeps no per-listener count).
    pub listen_overflows: u64,
}

/// The comparison of two dumps.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Report {
    /// Seconds between the two dumps.
    pub interval_s: f64,
    pub totals: Totals,
    pub processes: Vec<ProcessRow>,
    pub connections: Vec<ConnectionRow>,
    pub unix_pairs: Vec<UnixPair>,
    pub listeners: Vec<ListenerRow>,
    pub closed: Vec<ClosedRow>,
    /// Times the kernel dropped destroy events (ENOBUFS) in the interval: closes may be
    /// missing from `closed` and their last bytes from the rates.
    pub lost_events: u64,
    /// Processes whose descriptors could not be read (another user's): their sockets are in
    /// rows by uid.
    pub unreadable_processes: usize,
}

/// Successive dumps, compared.
pub struct Tracker {
    kinds: KindSet,
    filter: Filter,
    events: DestroyEvents,
    prev: Snapshot,
    prev_at: Instant,
    /// Unix reader inode -> when its queue was first seen not shrinking.
    stall_since: HashMap<u64, Instant>,
    /// `ListenOverflows` at the previous dump.
    overflows: Option<u64>,
    /// The sock_diag sockets and socket owners kept across dumps (the `/proc` walk is
    /// incremental after the first).
    sampler: Sampler,
}

impl Tracker {
    /// Join the destroy groups, then take the first dump.
    pub fn start(kinds: KindSet, filter: Filter) -> Result<Self> {
        let kinds = kinds.or_all();
        let events = DestroyEvents::subscribe(kinds)?;
        let mut sampler = Sampler::default();
        let prev = sample(kinds, &filter, &mut sampler)?;
        crate::narrate!("first sample: {} sockets", prev.shown.len());
        Ok(Tracker {
            kinds,
            filter,
            events,
            prev,
            prev_at: sampler.dumped_at.unwrap_or_else(Instant::now),
            stall_since: HashMap::new(),
            overflows: listen_overflows(),
            sampler,
        })
    }

    /// Take the next dump and compare it with the previous one.
    pub fn refresh(&mut self) -> Result<Report> {
        let next = sample(self.kinds, &self.filter, &mut self.sampler)?;
        crate::narrate!("owners: {:?}", self.sampler.index.last);
        // The interval is between the dumps, not between the ends of the /proc walks after
        // them: the first walk reads every descriptor, later ones little or nothing.
        let now = self.sampler.dumped_at.unwrap_or_else(Instant::now);
        let before_overflows = self.events.overflows;
        let mut destroyed = self.events.drain()?.destroyed;
        // Closes pass the filter as the dumps' sockets do; one whose owner decides and was
        // never seen by a dump cannot be judged, and is left out.
        let by_owner = self.filter.needs_processes();
        let seen: std::collections::HashSet<u64> = if by_owner {
            self.prev.shown().map(|e| e.cookie).collect()
        } else {
            Default::default()
        };
        destroyed.retain(|e| {
            self.filter.matches_socket(e, None) && (!by_owner || seen.contains(&e.cookie))
        });
        let lost = self.events.overflows - before_overflows;
        let mut report = compare(
            &self.prev,
            &next,
            &destroyed,
            now.duration_since(self.prev_at),
            now,
            &mut self.stall_since,
            lost,
        );
        let overflows = listen_overflows();
        if let (Some(then), Some(now)) = (self.overflows, overflows) {
            report.totals.listen_overflows = now.saturating_sub(then);
        }
        self.overflows = overflows;
        let old = std::mem::replace(&mut self.prev, next);
        self.sampler.recycle(old);
        self.prev_at = now;
        Ok(report)
    }
}

/// `TcpExt: ... ListenOverflows ...` from `/proc/net/netstat` (this network namespace).
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    parse_listen_overflows(&text)
}

/// The `ListenOverflows` column of the `TcpExt:` header/value line pair.
fn parse_listen_overflows(text: &str) -> Option<u64> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

/// One dump of every socket, with tcp_info and owners.
fn sample(kinds: KindSet, filter: &Filter, sampler: &mut Sampler) -> Result<Snapshot> {
    sampler.snapshot(&Query {
        kinds,
        filter: filter.clone(),
        processes: true,
        peers: false,
        extended: true,
        // TIME-WAIT and SYN-RECV entries have no owner and no tcp_info: no view shows them.
        skip_mini_sockets: true,
        // Only Unix pairs are shown joined.
        skip_inet_peers: true,
    })
}

fn owner_group(e: &SocketEntry) -> Option<Group> {
    match e.owners.first() {
        Some(o) => Some(Group::Pid(o.pid)),
        None if e.inode != 0 => e.uid.map(Group::Uid),
        None => None,
    }
}

/// Owner names of one snapshot's groups, each made once.
struct Names<'a> {
    snap: &'a Snapshot,
    made: FxHashMap<Option<Group>, OwnerName>,
}

impl<'a> Names<'a> {
    fn new(snap: &'a Snapshot) -> Self {
        Names {
            snap,
            made: FxHashMap::default(),
        }
    }

    /// `comm (pid)`, `uid N` or `-`, and the pid.
    fn get(&mut self, g: Option<Group>) -> (OwnerName, Option<u32>) {
        let pid = match g {
            Some(Group::Pid(pid)) => Some(pid),
            _ => None,
        };
        let snap = self.snap;
        let name = self.made.entry(g).or_insert_with(|| match g {
            Some(Group::Pid(pid)) => {
                let comm = snap
                    .processes
                    .get(&pid)
                    .map(|p| p.name.as_str())
                    .unwrap_or("?");
                format!("{comm} ({pid})").into()
            }
            Some(Group::Uid(uid)) => format!("uid {uid}").into(),
            None => OwnerName::default(),
        });
        (name.clone(), pid)
    }
}

fn rx(e: &SocketEntry) -> Option<u64> {
    e.tcp_info.as_ref()?.bytes_received
}

fn tx(e: &SocketEntry) -> Option<u64> {
    let i = e.tcp_info.as_ref()?;
    i.bytes_sent.or(i.bytes_acked)
}

fn retrans(e: &SocketEntry) -> Option<u64> {
    Some(u64::from(e.tcp_info.as_ref()?.total_retrans))
}

/// A TCP connection a process holds (not a listener, not TIME-WAIT).
fn is_connection(e: &SocketEntry) -> bool {
    e.kind == Kind::Tcp && e.inode != 0 && !matches!(e.state, State::Listen | State::TimeWait)
}

/// A process row being summed: sockets are counted by kind in an array (a map entry per
/// socket cost more than the rest of the row) and put in the row's map at the end.
struct RowSum {
    row: ProcessRow,
    kinds: [u64; Kind::ALL.len()],
}

/// Compare two dumps `elapsed` apart, with the destroy events received in between.
pub fn compare(
    before: &Snapshot,
    after: &Snapshot,
    destroyed: &[SocketEntry],
    elapsed: Duration,
    now: Instant,
    stall_since: &mut HashMap<u64, Instant>,
    lost_events: u64,
) -> Report {
    let secs = elapsed.as_secs_f64().max(1e-6);
    // Cookies are looked up for TCP sockets only.
    let tcp_by_cookie = |snap: &'_ Snapshot, info: bool| {
        let mut m: FxHashMap<u64, usize> = FxHashMap::default();
        m.reserve(snap.shown.len() / 2);
        for &i in &snap.shown {
            let e = &snap.sockets[i];
            if e.kind == Kind::Tcp && e.cookie != 0 && (!info || e.tcp_info.is_some()) {
                m.insert(e.cookie, i);
            }
        }
        m
    };
    let by_cookie_before = tcp_by_cookie(before, false);
    let by_cookie_after = tcp_by_cookie(after, true);
    let was = |cookie: u64| by_cookie_before.get(&cookie).map(|&i| &before.sockets[i]);
    let destroyed_by_cookie: FxHashMap<u64, &SocketEntry> =
        destroyed.iter().map(|e| (e.cookie, e)).collect();
    let mut names_after = Names::new(after);
    let mut names_before = Names::new(before);

    let mut rows: FxHashMap<Group, RowSum> = FxHashMap::default();
    let mut totals = Totals::default();

    // Sockets held at the end, and TCP counters since the previous dump.
    let mut connections = Vec::with_capacity(by_cookie_after.len());
    let mut listeners = Vec::new();
    for e in after.shown() {
        let g = owner_group(e);
        if e.is_listening() && matches!(e.kind, Kind::Tcp | Kind::Unix | Kind::Seqpacket) {
            let (owner, pid) = names_after.get(g);
            listeners.push(ListenerRow {
                kind: e.kind.name(),
                local: Addr(e.local.clone()),
                owner,
                pid,
                accept_queue: e.recv_q,
                backlog: e.send_q,
                accepted: 0,
                accepted_rate: 0.0,
            });
        }
        let Some(g) = g else { continue };
        totals.sockets += 1;
        let sum = row(&mut rows, g, &mut names_after, after);
        sum.kinds[e.kind as usize] += 1;
        let r = &mut sum.row;
        if r.uid.is_none() {
            r.uid = e.uid;
        }
        r.recv_q += e.recv_q;
        r.send_q += e.send_q;
        if !is_connection(e) {
            continue;
        }
        let prev = was(e.cookie);
        let delta = |f: fn(&SocketEntry) -> Option<u64>| -> u64 {
            let now = f(e).unwrap_or(0);
            match prev.and_then(f) {
                Some(then) => now.saturating_sub(then),
                None if prev.is_some() => 0,
                None => now,
            }
        };
        let (drx, dtx, dre) = (delta(rx), delta(tx), delta(retrans));
        r.rx_bytes += drx;
        r.tx_bytes += dtx;
        r.retrans += dre;
        if prev.is_none() {
            r.opened += 1;
            totals.opened += 1;
        }
        let info = e.tcp_info.as_deref();
        let then = prev.and_then(|p| p.tcp_info.as_deref());
        // Microseconds of the interval spent limited, as a share of the interval.
        let share = |f: fn(&TcpInfo) -> Option<u64>| -> Option<f64> {
            let d = f(info?)?.saturating_sub(f(then?)?);
            Some((d as f64 / (secs * 1e6)).min(1.0))
        };
        let (owner, pid) = names_after.get(Some(g));
        connections.push(ConnectionRow {
            cookie: e.cookie,
            local: Addr(e.local.clone()),
            remote: Addr(e.remote.clone()),
            state: e.state.name(),
            owner,
            pid,
            rx_rate: drx as f64 / secs,
            tx_rate: dtx as f64 / secs,
            rx_bytes: rx(e),
            tx_bytes: tx(e),
            rtt_ms: info.map(|i| f64::from(i.rtt_us) / 1000.0),
            cwnd: info.map(|i| i.cwnd),
            retrans: dre,
            recv_q: e.recv_q,
            send_q: e.send_q,
            idle_s: info.map(|i| f64::from(i.last_data_recv_ms.min(i.last_data_sent_ms)) / 1000.0),
            rwnd_limited: share(|i| i.rwnd_limited_us),
            sndbuf_limited: share(|i| i.sndbuf_limited_us),
        });
    }

    // Connections of the previous dump that are gone (or only TIME-WAIT) now: their last
    // bytes come from the destroy event, when one came.
    for e in before.shown().filter(|e| is_connection(e)) {
        if by_cookie_after.contains_key(&e.cookie) {
            continue;
        }
        let Some(g) = owner_group(e) else { continue };
        let r = &mut row(&mut rows, g, &mut names_before, before).row;
        r.closed += 1;
        totals.closed += 1;
        if let Some(end) = destroyed_by_cookie.get(&e.cookie) {
            r.rx_bytes += rx(end).unwrap_or(0).saturating_sub(rx(e).unwrap_or(0));
            r.tx_bytes += tx(end).unwrap_or(0).saturating_sub(tx(e).unwrap_or(0));
            r.retrans += retrans(end)
                .unwrap_or(0)
                .saturating_sub(retrans(e).unwrap_or(0));
        }
    }

    // Every TCP close of the interval; those no dump saw opened in it too.
    let mut closed = Vec::new();
    for end in destroyed.iter().filter(|e| e.kind == Kind::Tcp) {
        let seen = was(end.cookie);
        let opened_in_interval = seen.is_none() && !by_cookie_after.contains_key(&end.cookie);
        let g = match seen {
            Some(e) => owner_group(e),
            None => end.uid.map(Group::Uid),
        };
        let (owner, pid) = match seen {
            Some(_) => names_before.get(g),
            None => names_after.get(g),
        };
        if opened_in_interval {
            totals.opened += 1;
            totals.closed += 1;
            totals.opened_and_closed += 1;
            if let Some(g) = g {
                let r = &mut row(&mut rows, g, &mut names_after, after).row;
                r.opened += 1;
                r.closed += 1;
                r.rx_bytes += rx(end).unwrap_or(0);
                r.tx_bytes += tx(end).unwrap_or(0);
                r.retrans += retrans(end).unwrap_or(0);
            }
        }
        let info = end.tcp_info.as_deref();
        closed.push(ClosedRow {
            cookie: end.cookie,
            local: Addr(end.local.clone()),
            remote: Addr(end.remote.clone()),
            owner,
            pid,
            uid: end.uid,
            rx_bytes: rx(end),
            tx_bytes: tx(end),
            rtt_ms: info.map(|i| f64::from(i.rtt_us) / 1000.0),
            retrans: info.map(|i| i.total_retrans),
            opened_in_interval,
        });
    }

    // Unix pairs, once each, with the queue each end has to read.
    let mut queued_before: FxHashMap<u64, u64> = FxHashMap::default();
    queued_before.extend(
        before
            .shown()
            .filter(|e| e.kind.is_unix())
            .map(|e| (e.inode, e.recv_q)),
    );
    let mut still_stalled = HashMap::new();
    let mut unix_pairs = Vec::new();
    for (i, e) in after.shown.iter().map(|&i| (i, &after.sockets[i])) {
        if !matches!(e.kind, Kind::Unix | Kind::Seqpacket) {
            continue;
        }
        let Some(PeerLink::Socket(j)) = e.peer else {
            continue;
        };
        let Some(p) = after.sockets.get(j) else {
            continue;
        };
        if p.inode < e.inode || (p.inode == e.inode && j < i) {
            continue;
        }
        let mut end = |s: &SocketEntry| {
            let (owner, pid) = names_after.get(owner_group(s));
            let was = queued_before.get(&s.inode).copied();
            let stalled = s.recv_q > 0 && was.is_some_and(|w| w > 0 && s.recv_q >= w);
            let since = stalled.then(|| {
                *stall_since
                    .get(&s.inode)
                    .unwrap_or(&(now.checked_sub(elapsed).unwrap_or(now)))
            });
            if let Some(t) = since {
                still_stalled.insert(s.inode, t);
            }
            UnixEnd {
                inode: s.inode,
                owner,
                pid,
                name: s.local.unix_name().map(|n| n.to_string()),
                queued: s.recv_q,
                stalled,
                stalled_for_s: since.map(|t| now.duration_since(t).as_secs_f64()),
            }
        };
        let (a, b) = (end(e), end(p));
        unix_pairs.push(UnixPair {
            kind: e.kind.name(),
            stalled: a.stalled || b.stalled,
            a,
            b,
        });
    }
    *stall_since = still_stalled;

    // Accepted per TCP listener: connections to its port new in this dump, and those that
    // opened and closed between the dumps. A listening port is never an ephemeral source
    // port at the same time, so a connection's local port names its listener.
    let mut new_by_port: FxHashMap<u16, u64> = FxHashMap::default();
    for e in after.shown().filter(|e| is_connection(e)) {
        if !by_cookie_before.contains_key(&e.cookie) {
            if let Some(p) = e.local.port() {
                *new_by_port.entry(p).or_default() += 1;
            }
        }
    }
    for end in destroyed.iter().filter(|e| e.kind == Kind::Tcp) {
        if !by_cookie_before.contains_key(&end.cookie) && !by_cookie_after.contains_key(&end.cookie)
        {
            if let Some(p) = end.local.port() {
                *new_by_port.entry(p).or_default() += 1;
            }
        }
    }
    for l in &mut listeners {
        if l.kind != "tcp" {
            continue;
        }
        if let Some(n) = l.local.port().and_then(|p| new_by_port.get(&p)) {
            l.accepted = *n;
            l.accepted_rate = *n as f64 / secs;
        }
    }

    let mut processes: Vec<ProcessRow> = rows
        .into_values()
        .map(|mut sum| {
            for (k, &n) in Kind::ALL.iter().zip(&sum.kinds) {
                if n > 0 {
                    sum.row.sockets.insert(k.name(), n);
                }
            }
            sum.row
        })
        .collect();
    for r in &mut processes {
        r.rx_rate = r.rx_bytes as f64 / secs;
        r.tx_rate = r.tx_bytes as f64 / secs;
        totals.rx_rate += r.rx_rate;
        totals.tx_rate += r.tx_rate;
    }
    processes.sort_by(|a, b| {
        (b.rx_bytes + b.tx_bytes)
            .cmp(&(a.rx_bytes + a.tx_bytes))
            .then_with(|| {
                b.sockets
                    .values()
                    .sum::<u64>()
                    .cmp(&a.sockets.values().sum())
            })
            .then_with(|| a.owner.cmp(&b.owner))
    });
    connections.sort_unstable_by(|a, b| {
        (b.rx_rate + b.tx_rate)
            .total_cmp(&(a.rx_rate + a.tx_rate))
            .then_with(|| a.local.cmp(&b.local))
            .then_with(|| a.cookie.cmp(&b.cookie))
    });
    unix_pairs.sort_by(|a, b| {
        b.stalled
            .cmp(&a.stalled)
            .then_with(|| (b.a.queued + b.b.queued).cmp(&(a.a.queued + a.b.queued)))
    });
    listeners.sort_by(|a, b| {
        b.accept_queue
            .cmp(&a.accept_queue)
            .then_with(|| a.local.cmp(&b.local))
    });
    Report {
        interval_s: secs,
        totals,
        processes,
        connections,
        unix_pairs,
        listeners,
        closed,
        lost_events,
        unreadable_processes: after.unreadable_processes,
    }
}

/// The row of `g`, created (named from `snap`) the first time.
fn row<'a>(
    rows: &'a mut FxHashMap<Group, RowSum>,
    g: Group,
    names: &mut Names<'_>,
    snap: &Snapshot,
) -> &'a mut RowSum {
    rows.entry(g).or_insert_with(|| {
        let (owner, pid) = names.get(Some(g));
        RowSum {
            row: ProcessRow {
                pid,
                comm: pid.and_then(|p| snap.processes.get(&p).map(|p| p.name.clone())),
                uid: match g {
                    Group::Uid(u) => Some(u),
                    Group::Pid(_) => None,
                },
                owner,
                ..ProcessRow::default()
            },
            kinds: [0; Kind::ALL.len()],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_overflows_is_read_by_column_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n\
                    TcpExt: 0 17 19\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(parse_listen_overflows(text), Some(17));
        assert_eq!(parse_listen_overflows("IpExt: A\nIpExt: 1\n"), None);
        assert_eq!(parse_listen_overflows("TcpExt: ListenOverflows\n"), None);
    }
}
