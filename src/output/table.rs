//! Socket tables for people: `sockbox ls`, `ls --summary`, `ls --files` and `who`.
//!
//! Columns like ss's, readable: ports as service names unless `-n`, `*` for "any", Unix peers
//! by name or by process rather than by inode, processes as `name (pid)`. Tables are drawn by
//! comfy-table without borders; on a terminal narrower than the table, long cells wrap
//! (readable from 80 columns), elsewhere lines are never cut.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::SocketAddr;

use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table};
use sockbox_net::inspect::files::FilesReport;
use sockbox_net::inspect::services::Services;
use sockbox_net::inspect::target::WhoReport;
use sockbox_net::inspect::{
    names, Family, Kind, Owner, PeerLink, Process, Snapshot, SockAddr, SocketEntry, State,
};

/// What the listing shows beyond the basic columns.
#[derive(Clone, Copy, Debug, Default)]
pub struct View {
    /// `-n`: ports as numbers.
    pub numeric: bool,
    /// The Process column.
    pub processes: bool,
    /// `--peers`: `A (pid) <-> B (pid)` in the Process column.
    pub peers: bool,
    /// `--extended`: the Info column.
    pub extended: bool,
}

/// Turns numbers into names for display: services, interfaces.
pub struct Namer {
    services: Option<Services>,
    interfaces: HashMap<u32, String>,
}

impl Namer {
    pub fn new(numeric: bool) -> Namer {
        Namer {
            services: (!numeric).then(Services::load),
            interfaces: HashMap::new(),
        }
    }

    fn port(&self, kind: Kind, port: u16, out: &mut impl fmt::Write) -> fmt::Result {
        match self.services.as_ref().and_then(|s| s.name(kind, port)) {
            Some(name) => out.write_str(name),
            None => write!(out, "{port}"),
        }
    }

    fn interface(&mut self, ifindex: u32, out: &mut impl fmt::Write) -> fmt::Result {
        if ifindex == 0 {
            return out.write_char('*');
        }
        let name = self
            .interfaces
            .entry(ifindex)
            .or_insert_with(|| names::interface(ifindex).unwrap_or_else(|| format!("if{ifindex}")));
        out.write_str(name)
    }

    /// An address as a person reads it: `127.0.0.1:http`, `*:22`, `[::1]:8080`, `*` (any),
    /// `/run/app.sock`, `@name`, `lo:ip`, `route:4242`.
    pub fn addr(&mut self, kind: Kind, a: &SockAddr) -> String {
        let mut s = String::new();
        self.write_addr(kind, a, &mut s);
        s
    }

    /// [`Namer::addr`] appended to `out`.
    pub fn write_addr(&mut self, kind: Kind, a: &SockAddr, out: &mut impl fmt::Write) {
        // Writing to a String or a serializer's formatter: nothing to report on failure.
        let _ = self.try_write_addr(kind, a, out);
    }

    fn try_write_addr(
        &mut self,
        kind: Kind,
        a: &SockAddr,
        out: &mut impl fmt::Write,
    ) -> fmt::Result {
        match a {
            SockAddr::Inet(sa) => self.inet(kind, sa, out),
            SockAddr::Unix(Some(n)) => write!(out, "{n}"),
            SockAddr::Unix(None) => out.write_char('*'),
            SockAddr::Packet { protocol, ifindex } => {
                self.interface(*ifindex, out)?;
                match names::ethertype(*protocol) {
                    Some(p) => write!(out, ":{p}"),
                    None => write!(out, ":0x{protocol:04x}"),
                }
            }
            SockAddr::Netlink {
                protocol,
                portid,
                group,
            } => {
                match names::netlink_protocol(*protocol) {
                    Some(p) => out.write_str(p)?,
                    None => write!(out, "{protocol}")?,
                }
                match (portid, group) {
                    (0, 0) => write!(out, ":kernel"),
                    (0, g) => write!(out, ":group {g}"),
                    (p, _) => write!(out, ":{p}"),
                }
            }
        }
    }

    fn inet(&self, kind: Kind, sa: &SocketAddr, out: &mut impl fmt::Write) -> fmt::Result {
        if sa.ip().is_unspecified() && sa.port() == 0 {
            return out.write_char('*');
        }
        if sa.ip().is_unspecified() {
            write!(out, "*:")?;
        } else if sa.is_ipv6() {
            write!(out, "[{}]:", sa.ip())?;
        } else {
            write!(out, "{}:", sa.ip())?;
        }
        match (kind, sa.port()) {
            (_, 0) => out.write_char('*'),
            // A raw socket's "port" is its IP protocol.
            (Kind::Raw, p) => match names::ip_protocol(p) {
                Some(name) => out.write_str(name),
                None => write!(out, "{p}"),
            },
            (k, p) => self.port(k, p, out),
        }
    }
}

/// An address with numeric ports, as `Display` (for JSON, without building a string).
pub struct NumericAddr<'a>(pub Kind, pub &'a SockAddr);

impl fmt::Display for NumericAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Namer::new(true).try_write_addr(self.0, self.1, f)
    }
}

/// A number appended in decimal.
fn push_num(out: &mut String, n: impl std::fmt::Display) {
    let _ = write!(out, "{n}");
}

/// `tcp6`, `udp6`, `raw6` for IPv6 sockets; the kind's name otherwise.
pub fn kind_text(e: &SocketEntry) -> String {
    let mut s = String::new();
    write_kind(e, &mut s);
    s
}

fn write_kind(e: &SocketEntry, out: &mut String) {
    out.push_str(e.kind.name());
    if e.family == Family::Inet6 {
        out.push('6');
    }
}

/// `name (pid)` of each owner, the first two and a count of the rest.
pub fn owners_text(owners: &[Owner], processes: &HashMap<u32, Process>) -> String {
    let mut s = String::new();
    write_owners(owners, processes, &mut s);
    s
}

fn write_owners(owners: &[Owner], processes: &HashMap<u32, Process>, out: &mut String) {
    let mut shown = 0;
    let mut last = None;
    let mut more = 0;
    for o in owners {
        if last == Some(o.pid) {
            continue;
        }
        last = Some(o.pid);
        if shown == 2 {
            more += 1;
            continue;
        }
        if shown > 0 {
            out.push_str(", ");
        }
        let _ = match processes.get(&o.pid) {
            Some(p) if !p.name.is_empty() => write!(out, "{} ({})", p.name, o.pid),
            _ => write!(out, "pid {}", o.pid),
        };
        shown += 1;
    }
    if more > 0 {
        let _ = write!(out, ", +{more}");
    }
}

/// The other end in words: its address, or for an unnamed Unix peer its process (or inode).
fn write_peer(e: &SocketEntry, snap: &Snapshot, namer: &mut Namer, out: &mut String) {
    if matches!(e.kind, Kind::Netlink | Kind::Packet) && e.state == State::Unconnected {
        out.push('*');
        return;
    }
    if !e.kind.is_unix() {
        return namer.write_addr(e.kind, &e.remote, out);
    }
    let _ = match e.peer {
        Some(PeerLink::Socket(j)) => {
            let p = &snap.sockets[j];
            match &p.local {
                SockAddr::Unix(Some(name)) => write!(out, "{name}"),
                _ if !p.owners.is_empty() => {
                    write_owners(&p.owners, &snap.processes, out);
                    Ok(())
                }
                _ => write!(out, "ino {}", p.inode),
            }
        }
        Some(PeerLink::Pending(l)) => {
            namer.write_addr(e.kind, &snap.sockets[l].local, out);
            write!(out, " (not accepted)")
        }
        None => match e.peer_inode {
            // The peer is gone: closed, its end not yet torn down.
            Some(0) => write!(out, "(closed)"),
            Some(p) => write!(out, "ino {p}"),
            None => write!(out, "*"),
        },
    };
}

/// The Process column: the owners, and with --peers the other end's.
fn write_process(e: &SocketEntry, snap: &Snapshot, peers: bool, out: &mut String) {
    let start = out.len();
    write_owners(&e.owners, &snap.processes, out);
    if !peers || e.peer.is_none() {
        return;
    }
    if out.len() == start {
        out.push('?');
    }
    out.push_str(" <-> ");
    match e.peer {
        Some(PeerLink::Socket(j)) => {
            let p = &snap.sockets[j];
            if p.owners.is_empty() {
                out.push_str(if p.inode == 0 {
                    "[not accepted yet]"
                } else {
                    "?"
                });
            } else {
                write_owners(&p.owners, &snap.processes, out);
            }
        }
        Some(PeerLink::Pending(l)) => {
            write_owners(&snap.sockets[l].owners, &snap.processes, out);
            out.push_str(" [not accepted yet]");
        }
        None => {}
    }
}

fn peer_text(e: &SocketEntry, snap: &Snapshot, namer: &mut Namer) -> String {
    let mut s = String::new();
    write_peer(e, snap, namer, &mut s);
    s
}

fn process_text(e: &SocketEntry, snap: &Snapshot, peers: bool) -> String {
    let mut s = String::new();
    write_process(e, snap, peers, &mut s);
    s
}

/// Bytes in KiB/MiB/GiB.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The Info column of `--extended`; `unix` maps Unix inodes to their index in the snapshot.
fn info_text(e: &SocketEntry, snap: &Snapshot, unix: &HashMap<u64, usize>) -> String {
    if let Some(t) = &e.tcp_info {
        if e.is_listening() {
            return format!("accept queue {}/{}", e.recv_q, e.send_q);
        }
        let mut parts = vec![
            format!(
                "rtt {:.2}/{:.2} ms",
                f64::from(t.rtt_us) / 1000.0,
                f64::from(t.rttvar_us) / 1000.0
            ),
            format!("cwnd {}", t.cwnd),
            format!("retrans {}/{}", t.retransmits, t.total_retrans),
        ];
        if let Some(b) = t.bytes_sent {
            parts.push(format!("sent {}", bytes(b)));
        }
        if let Some(b) = t.bytes_acked {
            parts.push(format!("acked {}", bytes(b)));
        }
        if let Some(b) = t.bytes_received {
            parts.push(format!("rcvd {}", bytes(b)));
        }
        return parts.join(", ");
    }
    if e.kind.is_unix() && e.is_listening() {
        let mut s = format!("pending {}/{}", e.recv_q, e.send_q);
        let who: Vec<String> = e
            .pending
            .iter()
            .map(|inode| {
                unix.get(inode)
                    .map(|&i| &snap.sockets[i])
                    .filter(|s| !s.owners.is_empty())
                    .map_or_else(
                        || format!("ino {inode}"),
                        |s| owners_text(&s.owners, &snap.processes),
                    )
            })
            .collect();
        if !who.is_empty() {
            s.push_str(": ");
            s.push_str(&who.join(", "));
        }
        return s;
    }
    if e.tcp_info.is_none() && e.kind == Kind::Tcp && e.state == State::TimeWait {
        return "time-wait".to_string();
    }
    String::new()
}

fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

fn align_right(t: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// A table of text cells for other reports (`top --once`), drawn as the listings are: no
/// borders, columns two spaces apart, the `right` columns right-aligned, and on a narrow
/// terminal only the long columns wrapped.
pub fn write_cells(
    out: &mut impl Write,
    header: &[&str],
    right: &[usize],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> io::Result<()> {
    let mut t = new_table(header);
    for row in rows {
        t.add_row(row);
    }
    align_right(&mut t, right);
    write_table(out, &mut t)
}

/// Columns at most this wide keep their width on a narrow terminal.
const SHORT_COLUMN: u16 = 12;

/// Write a table line by line without trailing blanks: columns two spaces apart, no margin.
/// On a narrow terminal only the wide columns (addresses, processes) wrap: a column whose
/// widest cell is short (kind, state, queues, counts) is never cut, so `established` does not
/// become `establi`/`shed`.
fn write_table(out: &mut impl Write, t: &mut Table) -> io::Result<()> {
    let widths = t.column_max_content_widths();
    for (col, width) in t.column_iter_mut().zip(widths) {
        col.set_padding((0, 2));
        if width <= SHORT_COLUMN {
            col.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    for line in t.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Table cells kept in one string: a listing of 20,000 sockets is 120,000 cells, and one
/// allocation each would cost more than the dump.
struct Grid {
    text: String,
    /// (start, end) of each cell in `text`, row after row.
    cells: Vec<(usize, usize)>,
    columns: usize,
}

impl Grid {
    fn new(columns: usize, rows: usize) -> Grid {
        Grid {
            text: String::with_capacity(rows * columns * 12),
            cells: Vec::with_capacity(rows * columns),
            columns,
        }
    }

    /// Add a cell written by `f`.
    fn cell(&mut self, f: impl FnOnce(&mut String)) {
        let start = self.text.len();
        f(&mut self.text);
        self.cells.push((start, self.text.len()));
    }

    fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = &str> + '_> + '_ {
        self.cells
            .chunks(self.columns)
            .map(move |row| row.iter().map(move |&(a, b)| &self.text[a..b]))
    }
}

/// The socket list.
pub fn sockets(out: &mut impl Write, snap: &Snapshot, view: &View) -> io::Result<()> {
    let mut namer = Namer::new(view.numeric);
    let mut header = vec!["Kind", "State", "Recv-Q", "Send-Q", "Local", "Peer"];
    let processes = view.processes || view.peers;
    if processes {
        header.push("Process");
    }
    if view.extended {
        header.push("Info");
    }
    let unix: HashMap<u64, usize> = if view.extended {
        snap.sockets
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind.is_unix() && e.inode != 0)
            .map(|(i, e)| (e.inode, i))
            .collect()
    } else {
        HashMap::new()
    };
    let mut grid = Grid::new(header.len(), snap.shown.len());
    for e in snap.shown() {
        grid.cell(|o| write_kind(e, o));
        grid.cell(|o| push_num(o, e.state));
        grid.cell(|o| push_num(o, e.recv_q));
        grid.cell(|o| push_num(o, e.send_q));
        grid.cell(|o| namer.write_addr(e.kind, &e.local, o));
        grid.cell(|o| write_peer(e, snap, &mut namer, o));
        if processes {
            grid.cell(|o| write_process(e, snap, view.peers, o));
        }
        if view.extended {
            grid.cell(|o| o.push_str(&info_text(e, snap, &unix)));
        }
    }
    write_grid(out, &header, &grid, &[2, 3])
}

/// Characters in a cell (its length when ASCII, as nearly every cell is).
fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// Write a grid under a header, columns two spaces apart, `right` columns right-aligned.
///
/// On a terminal too narrow for the table, comfy-table lays it out (wrapping long cells so
/// it reads in 80 columns); otherwise the columns are padded here, to the same layout:
/// comfy-table takes about 6 us per row, which for a host with 20,000 sockets would be most
/// of `sockbox ls`'s time.
fn write_grid(
    out: &mut impl Write,
    header: &[&str],
    grid: &Grid,
    right: &[usize],
) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in grid.rows() {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    if let Some(terminal) = Table::new().width() {
        if total > usize::from(terminal) {
            let mut t = new_table(header);
            for row in grid.rows() {
                t.add_row(row.map(str::to_string).collect::<Vec<_>>());
            }
            align_right(&mut t, right);
            return write_table(out, &mut t);
        }
    }
    let mut line = String::with_capacity(total + 1);
    let mut write_line = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        line.clear();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            let pad = w - width(cell);
            if right.contains(&i) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push_str("  ");
        }
        out.write_all(line.trim_end_matches(' ').as_bytes())?;
        out.write_all(b"\n")
    };
    write_line(&mut header.iter().copied())?;
    for mut row in grid.rows() {
        write_line(&mut row)?;
    }
    Ok(())
}

/// `--summary`: counts by kind and state.
pub fn summary(out: &mut impl Write, rows: &[(Kind, State, usize)]) -> io::Result<()> {
    let mut t = new_table(&["Kind", "State", "Count"]);
    let mut total = 0;
    for (kind, state, n) in rows {
        total += n;
        t.add_row(vec![
            kind.name().to_string(),
            state.to_string(),
            n.to_string(),
        ]);
    }
    t.add_row(vec!["total".to_string(), String::new(), total.to_string()]);
    align_right(&mut t, &[2]);
    write_table(out, &mut t)
}

/// `--files`: socket files and who holds them.
pub fn files(out: &mut impl Write, report: &FilesReport, processes: bool) -> io::Result<()> {
    let snap = &report.snapshot;
    let mut header = vec!["Status", "Kind", "State", "Path"];
    if processes {
        header.push("Process");
    }
    header.push("Note");
    let mut t = new_table(&header);
    for f in &report.files {
        let holder = f.holder.map(|i| &snap.sockets[i]);
        let mut row = vec![
            f.status.name().to_string(),
            holder.map_or_else(String::new, kind_text),
            holder.map_or_else(String::new, |h| h.state.to_string()),
            f.path.display().to_string(),
        ];
        if processes {
            row.push(holder.map_or_else(String::new, |h| owners_text(&h.owners, &snap.processes)));
        }
        row.push(f.note.clone().unwrap_or_default());
        t.add_row(row);
    }
    write_table(out, &mut t)
}

/// `who TARGET`: the sockets bound there with their processes (uid, command line), then
/// the connections with both ends.
pub fn who(
    out: &mut impl Write,
    target: &str,
    report: &WhoReport,
    numeric: bool,
) -> io::Result<()> {
    let snap = &report.snapshot;
    let mut namer = Namer::new(numeric);
    if !report.bound.is_empty() {
        writeln!(out, "{target}: bound by")?;
        let mut t = new_table(&[
            "Kind", "State", "Local", "Inode", "Process", "User", "Command",
        ]);
        for &i in &report.bound {
            let e = &snap.sockets[i];
            let mut pids: Vec<u32> = e.owners.iter().map(|o| o.pid).collect();
            pids.dedup();
            if pids.is_empty() {
                pids.push(0);
            }
            for pid in pids {
                let p = snap.processes.get(&pid);
                t.add_row(vec![
                    kind_text(e),
                    e.state.to_string(),
                    namer.addr(e.kind, &e.local),
                    e.inode.to_string(),
                    p.map_or_else(|| "?".to_string(), |p| format!("{} ({pid})", p.name)),
                    p.and_then(|p| p.uid).map_or_else(String::new, user_name),
                    p.and_then(|p| p.cmdline.as_ref())
                        .map_or_else(String::new, |c| c.join(" ")),
                ]);
            }
        }
        write_table(out, &mut t)?;
    }
    if !report.connected.is_empty() {
        if !report.bound.is_empty() {
            writeln!(out)?;
        }
        writeln!(out, "{target}: {} connection(s)", report.connected.len())?;
        let mut t = new_table(&["Kind", "State", "Local", "Peer", "Processes"]);
        for &i in &report.connected {
            let e = &snap.sockets[i];
            t.add_row(vec![
                kind_text(e),
                e.state.to_string(),
                namer.addr(e.kind, &e.local),
                peer_text(e, snap, &mut namer),
                process_text(e, snap, true),
            ]);
        }
        write_table(out, &mut t)?;
    }
    Ok(())
}

/// A uid as `name (uid)` when the user database knows it.
fn user_name(uid: u32) -> String {
    match names::user(uid) {
        Some(name) => format!("{name} ({uid})"),
        None => uid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockbox_net::inspect::UnixName;

    fn tcp(local: &str, remote: &str, state: State) -> SocketEntry {
        let mut e = SocketEntry::new(Kind::Tcp, Family::Inet, state, 7);
        e.local = SockAddr::Inet(local.parse().unwrap());
        e.remote = SockAddr::Inet(remote.parse().unwrap());
        e
    }

    fn render(snap: &Snapshot, view: View) -> String {
        let mut out = Vec::new();
        sockets(&mut out, snap, &view).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn addresses_read_like_a_person_writes_them() {
        let mut n = Namer::new(true);
        assert_eq!(
            n.addr(Kind::Tcp, &SockAddr::Inet("0.0.0.0:22".parse().unwrap())),
            "*:22"
        );
        assert_eq!(
            n.addr(Kind::Tcp, &SockAddr::Inet("0.0.0.0:0".parse().unwrap())),
            "*"
        );
        assert_eq!(
            n.addr(Kind::Tcp, &SockAddr::Inet("[::1]:80".parse().unwrap())),
            "[::1]:80"
        );
        assert_eq!(
            n.addr(Kind::Raw, &SockAddr::Inet("0.0.0.0:1".parse().unwrap())),
            "*:icmp"
        );
        assert_eq!(
            n.addr(
                Kind::Unix,
                &SockAddr::Unix(Some(UnixName::Abstract(b"x".to_vec())))
            ),
            "@x"
        );
        assert_eq!(
            n.addr(
                Kind::Packet,
                &SockAddr::Packet {
                    protocol: 3,
                    ifindex: 0
                }
            ),
            "*:all"
        );
        assert_eq!(
            n.addr(
                Kind::Netlink,
                &SockAddr::Netlink {
                    protocol: 0,
                    portid: 0,
                    group: 0
                }
            ),
            "route:kernel"
        );
        let mut s = Namer {
            services: Some(Services::parse("http 80/tcp\n")),
            interfaces: HashMap::new(),
        };
        let web = SockAddr::Inet("127.0.0.1:80".parse().unwrap());
        assert_eq!(s.addr(Kind::Tcp, &web), "127.0.0.1:http");
        assert_eq!(s.addr(Kind::Udp, &web), "127.0.0.1:80");
        assert_eq!(NumericAddr(Kind::Tcp, &web).to_string(), "127.0.0.1:80");
    }

    #[test]
    fn the_listing_shows_processes_and_both_ends() {
        let mut a = tcp("127.0.0.1:5000", "127.0.0.1:80", State::Established);
        let mut b = tcp("127.0.0.1:80", "127.0.0.1:5000", State::Established);
        a.owners = [Owner { pid: 10, fd: 3 }].into_iter().collect();
        b.owners = [Owner { pid: 20, fd: 4 }].into_iter().collect();
        a.peer = Some(PeerLink::Socket(1));
        b.peer = Some(PeerLink::Socket(0));
        let proc = |pid, name: &str| {
            (
                pid,
                Process {
                    pid,
                    name: name.into(),
                    ..Default::default()
                },
            )
        };
        let snap = Snapshot {
            sockets: vec![a, b],
            shown: vec![0, 1],
            processes: HashMap::from([proc(10, "curl"), proc(20, "nginx")]),
            processes_known: true,
            ..Default::default()
        };
        let text = render(
            &snap,
            View {
                numeric: true,
                peers: true,
                processes: true,
                extended: false,
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("Kind"), "{text}");
        assert!(lines[1].contains("curl (10) <-> nginx (20)"), "{text}");
        assert!(lines[2].contains("nginx (20) <-> curl (10)"), "{text}");
        assert!(text.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn summary_counts_and_totals() {
        let mut out = Vec::new();
        summary(
            &mut out,
            &[
                (Kind::Tcp, State::Listen, 3),
                (Kind::Unix, State::Established, 4),
            ],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().last().unwrap().contains('7'), "{text}");
    }

    #[test]
    fn bytes_read_in_units() {
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }
}
