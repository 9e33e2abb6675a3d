//! Socket listings for programs: `ls --json`, `ls --summary --json`, `ls --files --json`,
//! `who --json` (each documented field by field in docs/json.md), and `ls --graph dot`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};

use serde::Serialize;
use sockbox_net::inspect::files::FilesReport;
use sockbox_net::inspect::target::WhoReport;
use sockbox_net::inspect::{
    names, Kind, Owner, PeerLink, Process, Snapshot, SockAddr, SocketEntry, Source, State, TcpInfo,
};

use super::table::{kind_text, Namer, NumericAddr};

/// One end of a socket. `text` is always there; the other fields depend on the family.
/// A value serialized through its `Display` (no intermediate string).
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[derive(Serialize)]
struct AddrJson<'a> {
    text: Shown<NumericAddr<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<std::net::IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(rename = "abstract", skip_serializing_if = "Option::is_none")]
    abstract_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ifindex: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    portid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<u32>,
}

fn addr_json(kind: Kind, a: &SockAddr) -> Option<AddrJson<'_>> {
    let mut j = AddrJson {
        text: Shown(NumericAddr(kind, a)),
        address: None,
        port: None,
        path: None,
        abstract_name: None,
        ifindex: None,
        interface: None,
        portid: None,
        group: None,
    };
    match a {
        SockAddr::Inet(sa) => {
            j.address = Some(sa.ip());
            j.port = Some(sa.port());
        }
        SockAddr::Unix(None) => return None,
        SockAddr::Unix(Some(n)) => {
            let text = n.to_string();
            match text.strip_prefix('@') {
                Some(a) if matches!(n, sockbox_net::inspect::UnixName::Abstract(_)) => {
                    j.abstract_name = Some(a.to_string())
                }
                _ => j.path = Some(text),
            }
        }
        SockAddr::Packet { ifindex, .. } => {
            j.ifindex = Some(*ifindex);
            j.interface = (*ifindex != 0)
                .then(|| names::interface(*ifindex))
                .flatten();
        }
        SockAddr::Netlink { portid, group, .. } => {
            j.portid = Some(*portid);
            j.group = Some(*group);
        }
    }
    Some(j)
}

#[derive(Serialize)]
struct OwnerJson<'a> {
    pid: u32,
    fd: u32,
    name: Option<&'a str>,
}

fn owners_json<'a>(owners: &[Owner], processes: &'a HashMap<u32, Process>) -> Vec<OwnerJson<'a>> {
    owners
        .iter()
        .map(|o| OwnerJson {
            pid: o.pid,
            fd: o.fd,
            name: processes.get(&o.pid).map(|p| p.name.as_str()),
        })
        .collect()
}

#[derive(Serialize)]
struct PeerJson<'a> {
    /// `None` while the connection waits to be accepted.
    inode: Option<u64>,
    pending: bool,
    address: Option<AddrJson<'a>>,
    processes: Option<Vec<OwnerJson<'a>>>,
}

#[derive(Serialize)]
struct TcpInfoJson {
    rtt_us: u32,
    rttvar_us: u32,
    cwnd: u32,
    retransmits: u8,
    total_retrans: u32,
    bytes_sent: Option<u64>,
    bytes_acked: Option<u64>,
    bytes_received: Option<u64>,
}

impl From<&TcpInfo> for TcpInfoJson {
    fn from(t: &TcpInfo) -> Self {
        TcpInfoJson {
            rtt_us: t.rtt_us,
            rttvar_us: t.rttvar_us,
            cwnd: t.cwnd,
            retransmits: t.retransmits,
            total_retrans: t.total_retrans,
            bytes_sent: t.bytes_sent,
            bytes_acked: t.bytes_acked,
            bytes_received: t.bytes_received,
        }
    }
}

#[derive(Serialize)]
struct SocketJson<'a> {
    kind: &'static str,
    family: &'static str,
    state: Shown<State>,
    inode: u64,
    uid: Option<u32>,
    recv_q: u64,
    send_q: u64,
    local: Option<AddrJson<'a>>,
    remote: Option<AddrJson<'a>>,
    protocol: Option<u16>,
    processes: Option<Vec<OwnerJson<'a>>>,
    peer: Option<PeerJson<'a>>,
    pending: Option<&'a [u64]>,
    tcp_info: Option<TcpInfoJson>,
    source: &'static str,
}

fn socket_json<'a>(e: &'a SocketEntry, snap: &'a Snapshot) -> SocketJson<'a> {
    let known = snap.processes_known;
    let procs = |owners: &[Owner]| known.then(|| owners_json(owners, &snap.processes));
    let peer = match e.peer {
        Some(PeerLink::Socket(j)) => {
            let p = &snap.sockets[j];
            let pending = p.inode == 0;
            Some(PeerJson {
                inode: (!pending).then_some(p.inode),
                pending,
                address: addr_json(p.kind, &p.local),
                processes: procs(&p.owners),
            })
        }
        Some(PeerLink::Pending(l)) => {
            let l = &snap.sockets[l];
            Some(PeerJson {
                inode: None,
                pending: true,
                address: addr_json(l.kind, &l.local),
                processes: procs(&l.owners),
            })
        }
        None => e.peer_inode.map(|p| PeerJson {
            inode: (p != 0).then_some(p),
            pending: p == 0,
            address: None,
            processes: None,
        }),
    };
    // A Unix socket's remote is its peer: the peer's name, if it has one.
    let remote = if e.kind.is_unix() {
        match e.peer {
            Some(PeerLink::Socket(j)) => addr_json(e.kind, &snap.sockets[j].local),
            Some(PeerLink::Pending(l)) => addr_json(e.kind, &snap.sockets[l].local),
            None => None,
        }
    } else {
        addr_json(e.kind, &e.remote)
    };
    SocketJson {
        kind: e.kind.name(),
        family: e.family.name(),
        state: Shown(e.state),
        inode: e.inode,
        uid: e.uid,
        recv_q: e.recv_q,
        send_q: e.send_q,
        local: addr_json(e.kind, &e.local),
        remote,
        protocol: e.protocol,
        processes: procs(&e.owners),
        peer,
        pending: (e.kind.is_unix() && e.is_listening()).then_some(e.pending.as_slice()),
        tcp_info: e.tcp_info.as_deref().map(TcpInfoJson::from),
        source: match e.source {
            Source::Diag => "sock_diag",
            Source::ProcNet => "proc_net",
        },
    }
}

#[derive(Serialize)]
struct FallbackJson<'a> {
    kind: &'static str,
    note: &'a str,
    listed: bool,
}

fn fallbacks_json(snap: &Snapshot) -> Vec<FallbackJson<'_>> {
    snap.fallbacks
        .iter()
        .map(|f| FallbackJson {
            kind: f.kind.name(),
            note: &f.note,
            listed: f.listed,
        })
        .collect()
}

/// Write `items` as a JSON array, one element at a time (a listing can be 100,000 sockets).
fn write_array<'a>(
    out: &mut impl Write,
    items: impl Iterator<Item = &'a SocketEntry>,
    snap: &Snapshot,
) -> io::Result<()> {
    out.write_all(b"[")?;
    for (n, e) in items.enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &socket_json(e, snap))?;
    }
    out.write_all(b"]")
}

/// `ls --json`: `{"sockets": [...], "fallbacks": [...]}`.
pub fn sockets_json(out: &mut impl Write, snap: &Snapshot) -> io::Result<()> {
    out.write_all(b"{\"sockets\":")?;
    write_array(out, snap.shown(), snap)?;
    out.write_all(b",\"fallbacks\":")?;
    serde_json::to_writer(&mut *out, &fallbacks_json(snap))?;
    out.write_all(b"}\n")
}

/// `ls --summary --json`.
pub fn summary_json(out: &mut impl Write, rows: &[(Kind, State, usize)]) -> io::Result<()> {
    #[derive(Serialize)]
    struct Row {
        kind: &'static str,
        state: String,
        count: usize,
    }
    #[derive(Serialize)]
    struct Summary {
        summary: Vec<Row>,
        total: usize,
    }
    let s = Summary {
        summary: rows
            .iter()
            .map(|(k, st, n)| Row {
                kind: k.name(),
                state: st.to_string(),
                count: *n,
            })
            .collect(),
        total: rows.iter().map(|r| r.2).sum(),
    };
    serde_json::to_writer(&mut *out, &s)?;
    out.write_all(b"\n")
}

/// `ls --files --json`.
pub fn files_json(out: &mut impl Write, report: &FilesReport) -> io::Result<()> {
    #[derive(Serialize)]
    struct FileJson<'a> {
        path: String,
        status: &'static str,
        note: Option<&'a str>,
        holder: Option<SocketJson<'a>>,
    }
    #[derive(Serialize)]
    struct DirJson<'a> {
        path: String,
        error: &'a str,
    }
    #[derive(Serialize)]
    struct Files<'a> {
        files: Vec<FileJson<'a>>,
        unreadable_dirs: Vec<DirJson<'a>>,
    }
    let snap = &report.snapshot;
    let doc = Files {
        files: report
            .files
            .iter()
            .map(|f| FileJson {
                path: f.path.display().to_string(),
                status: f.status.name(),
                note: f.note.as_deref(),
                holder: f.holder.map(|i| socket_json(&snap.sockets[i], snap)),
            })
            .collect(),
        unreadable_dirs: report
            .unreadable_dirs
            .iter()
            .map(|(p, e)| DirJson {
                path: p.display().to_string(),
                error: e,
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// `who --json`.
pub fn who_json(out: &mut impl Write, target: &str, report: &WhoReport) -> io::Result<()> {
    #[derive(Serialize)]
    struct ProcessJson<'a> {
        pid: u32,
        name: &'a str,
        uid: Option<u32>,
        user: Option<String>,
        cmdline: Option<&'a [String]>,
    }
    let snap = &report.snapshot;
    out.write_all(b"{\"target\":")?;
    serde_json::to_writer(&mut *out, target)?;
    out.write_all(b",\"bound\":")?;
    write_array(out, report.bound.iter().map(|&i| &snap.sockets[i]), snap)?;
    out.write_all(b",\"connections\":")?;
    write_array(
        out,
        report.connected.iter().map(|&i| &snap.sockets[i]),
        snap,
    )?;
    // The processes at either end, by pid.
    let mut pids = BTreeSet::new();
    for &i in report.bound.iter().chain(&report.connected) {
        let e = &snap.sockets[i];
        pids.extend(e.owners.iter().map(|o| o.pid));
        if let Some(PeerLink::Socket(j) | PeerLink::Pending(j)) = e.peer {
            pids.extend(snap.sockets[j].owners.iter().map(|o| o.pid));
        }
    }
    let processes: Vec<ProcessJson> = pids
        .iter()
        .filter_map(|pid| snap.processes.get(pid))
        .map(|p| ProcessJson {
            pid: p.pid,
            name: &p.name,
            uid: p.uid,
            user: p.uid.and_then(names::user),
            cmdline: p.cmdline.as_deref(),
        })
        .collect();
    out.write_all(b",\"processes\":")?;
    serde_json::to_writer(&mut *out, &processes)?;
    out.write_all(b"}\n")
}

/// A string inside a dot double-quoted ID.
fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `ls --graph dot`: processes are nodes (with what they listen on), local connections are
/// edges between them (counted), connections to other hosts are edges to the remote address.
pub fn graph_dot(out: &mut impl Write, snap: &Snapshot) -> io::Result<()> {
    let mut namer = Namer::new(true);
    let first_pid = |e: &SocketEntry| e.owners.first().map(|o| o.pid);
    // TCP ports someone listens on: an edge is labelled with the server's port.
    let listening: BTreeSet<(Kind, u16)> = snap
        .sockets
        .iter()
        .filter(|e| e.waits_for_peers())
        .filter_map(|e| Some((e.kind, e.local.port()?)))
        .collect();
    let mut listens: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut remotes: BTreeSet<String> = BTreeSet::new();
    // (node a, node b, label) -> connections; a <= b so both directions count once.
    let mut edges: BTreeMap<(String, String, String), usize> = BTreeMap::new();

    let shown: BTreeSet<usize> = snap.shown.iter().copied().collect();
    for &i in &snap.shown {
        let e = &snap.sockets[i];
        let Some(a) = first_pid(e) else { continue };
        if e.waits_for_peers() {
            listens.entry(a).or_default().push(format!(
                "{} {}",
                kind_text(e),
                namer.addr(e.kind, &e.local)
            ));
            continue;
        }
        let label = |e: &SocketEntry, peer: Option<&SocketEntry>, namer: &mut Namer| {
            if e.kind.is_unix() {
                let named = e
                    .local
                    .unix_name()
                    .or(peer.and_then(|p| p.local.unix_name()));
                return match named {
                    Some(n) => format!("{} {n}", e.kind.name()),
                    None => e.kind.name().to_string(),
                };
            }
            let server_port = [e.local.port(), e.remote.port()]
                .into_iter()
                .flatten()
                .find(|p| listening.contains(&(e.kind, *p)));
            match server_port {
                Some(p) => format!("{} :{p}", e.kind.name()),
                None => namer.addr(e.kind, &e.remote),
            }
        };
        let node = |pid: u32| format!("p{pid}");
        match e.peer {
            Some(PeerLink::Socket(j)) | Some(PeerLink::Pending(j)) => {
                // A connection with both ends listed is counted from its first end only.
                if matches!(e.peer, Some(PeerLink::Socket(_))) && j < i && shown.contains(&j) {
                    continue;
                }
                let p = &snap.sockets[j];
                let Some(b) = first_pid(p) else { continue };
                let l = label(e, Some(p), &mut namer);
                let (x, y) = if a <= b { (a, b) } else { (b, a) };
                *edges.entry((node(x), node(y), l)).or_default() += 1;
            }
            None if e.kind.is_inet() && e.remote.port().is_some() => {
                let r = format!("r{}", namer.addr(e.kind, &e.remote));
                remotes.insert(r.clone());
                *edges
                    .entry((node(a), r, e.kind.name().to_string()))
                    .or_default() += 1;
            }
            None => {}
        }
    }
    let mut pids: BTreeSet<u32> = listens.keys().copied().collect();
    for (a, b, _) in edges.keys() {
        for n in [a, b] {
            if let Some(pid) = n.strip_prefix('p').and_then(|p| p.parse().ok()) {
                pids.insert(pid);
            }
        }
    }
    writeln!(out, "graph sockets {{")?;
    writeln!(out, "  graph [rankdir=LR, overlap=false];")?;
    writeln!(out, "  node [shape=box, fontname=\"monospace\"];")?;
    for pid in &pids {
        let name = snap.processes.get(pid).map_or("?", |p| p.name.as_str());
        let mut label = format!("{}\\npid {pid}", dot_escape(name));
        if let Some(l) = listens.get(pid) {
            for s in l.iter().take(4) {
                label.push_str(&format!("\\nlistens {}", dot_escape(s)));
            }
            if l.len() > 4 {
                label.push_str(&format!("\\n+{} more", l.len() - 4));
            }
        }
        writeln!(out, "  \"p{pid}\" [label=\"{label}\"];")?;
    }
    for r in &remotes {
        writeln!(
            out,
            "  \"{}\" [shape=ellipse, label=\"{}\"];",
            dot_escape(r),
            dot_escape(&r[1..])
        )?;
    }
    for ((a, b, label), n) in &edges {
        let label = if *n > 1 {
            format!("{} x{n}", dot_escape(label))
        } else {
            dot_escape(label)
        };
        writeln!(
            out,
            "  \"{}\" -- \"{}\" [label=\"{label}\"];",
            dot_escape(a),
            dot_escape(b)
        )?;
    }
    writeln!(out, "}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockbox_net::inspect::Family;

    fn unix_pair() -> Snapshot {
        let mut a = SocketEntry::new(Kind::Unix, Family::Unix, State::Established, 11);
        let mut b = SocketEntry::new(Kind::Unix, Family::Unix, State::Established, 12);
        a.owners = [Owner { pid: 1, fd: 3 }].into_iter().collect();
        b.owners = [Owner { pid: 2, fd: 4 }].into_iter().collect();
        a.peer_inode = Some(12);
        b.peer_inode = Some(11);
        a.peer = Some(PeerLink::Socket(1));
        b.peer = Some(PeerLink::Socket(0));
        let p = |pid, name: &str| {
            (
                pid,
                Process {
                    pid,
                    name: name.into(),
                    ..Default::default()
                },
            )
        };
        Snapshot {
            sockets: vec![a, b],
            shown: vec![0, 1],
            processes: HashMap::from([p(1, "a\"b"), p(2, "server")]),
            processes_known: true,
            ..Default::default()
        }
    }

    #[test]
    fn json_has_peers_and_processes() {
        let snap = unix_pair();
        let mut out = Vec::new();
        sockets_json(&mut out, &snap).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let s = &v["sockets"][0];
        assert_eq!(s["kind"], "unix");
        assert_eq!(s["inode"], 11);
        assert_eq!(s["local"], serde_json::Value::Null);
        assert_eq!(s["peer"]["inode"], 12);
        assert_eq!(s["peer"]["processes"][0]["name"], "server");
        assert_eq!(s["processes"][0]["pid"], 1);
        assert_eq!(s["source"], "sock_diag");
    }

    #[test]
    fn the_graph_has_one_edge_per_connection_and_escapes_names() {
        let snap = unix_pair();
        let mut out = Vec::new();
        graph_dot(&mut out, &snap).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("graph sockets {"), "{text}");
        assert!(text.contains("\"p1\" [label=\"a\\\"b\\npid 1\"]"), "{text}");
        assert_eq!(text.matches(" -- ").count(), 1, "{text}");
        assert!(text.contains("\"p1\" -- \"p2\" [label=\"unix\"]"), "{text}");
        assert!(text.trim_end().ends_with('}'));
    }
}
