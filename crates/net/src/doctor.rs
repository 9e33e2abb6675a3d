//! `sockbox doctor`: this host's socket facts and the limits that bite, each with what it
//! means and how to change it.
//!
//! Everything is read, nothing is changed: sysctls under `/proc/sys`, `/proc/net/if_inet6`,
//! `/proc/self/ns/net`, `getrlimit(2)`, and one sock_diag dump per family (the same dumps
//! `sockbox ls` makes) for the listeners' backlogs, the TIME-WAIT count and which families
//! the kernel answers. Most sysctls here belong to the network namespace the process is in,
//! so the report is this namespace's.

use std::collections::BTreeMap;
use std::path::Path;

use netlink_packet_sock_diag::constants::{IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP};
use serde::Serialize;
use serde_json::{json, Value};

use crate::inspect::netlink::{self, DumpKind};
use crate::inspect::{SockAddr, SocketEntry, State};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// A fact worth knowing; not a problem by itself.
    Info,
    /// A limit that is likely to bite (`--strict` exits 1).
    Warn,
}

/// One fact about the host.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Stable name: `ipv6`, `ping`, `somaxconn` ... (docs/json.md).
    pub id: &'static str,
    pub status: Status,
    /// What was found, in one line.
    pub summary: String,
    /// What it means for programs using sockets.
    pub meaning: &'static str,
    /// How to change it (a command), when there is something to change.
    pub fix: Option<String>,
    /// The values read, by name (sysctl names where they are sysctls).
    pub facts: BTreeMap<&'static str, Value>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn warnings(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count()
    }
}

/// Run every check.
pub fn examine() -> Report {
    let dumps = Dumps::read();
    Report {
        checks: vec![
            netns(),
            ipv6(),
            ping(),
            somaxconn(&dumps),
            ports(&dumps),
            fds(),
            unprivileged_ports(),
            buffers(),
            pipes(),
            tcp(),
            sock_diag(&dumps),
            owners(),
        ],
    }
}

/// A sysctl by its dotted name (`net.core.somaxconn`), blanks (the kernel's tabs) as single
/// spaces; `None` when absent.
pub fn sysctl(name: &str) -> Option<String> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn sysctl_u64(name: &str) -> Option<u64> {
    sysctl(name)?.parse().ok()
}

/// Two numbers separated by blanks (`ip_local_port_range`, `ping_group_range`).
fn sysctl_pair(name: &str) -> Option<(u64, u64)> {
    let s = sysctl(name)?;
    let mut it = s.split_whitespace().map(|w| w.parse::<u64>());
    match (it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b))) => Some((a, b)),
        _ => None,
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The sock_diag dumps every check shares: per family, its sockets or the error.
struct Dumps {
    results: Vec<(DumpKind, Result<Vec<SocketEntry>, String>)>,
}

impl Dumps {
    fn read() -> Dumps {
        let kinds = [
            DumpKind::Inet {
                v6: false,
                protocol: IPPROTO_TCP,
            },
            DumpKind::Inet {
                v6: true,
                protocol: IPPROTO_TCP,
            },
            DumpKind::Inet {
                v6: false,
                protocol: IPPROTO_UDP,
            },
            DumpKind::Inet {
                v6: true,
                protocol: IPPROTO_UDP,
            },
            DumpKind::Inet {
                v6: false,
                protocol: IPPROTO_RAW,
            },
            DumpKind::Inet {
                v6: true,
                protocol: IPPROTO_RAW,
            },
            DumpKind::Unix,
            DumpKind::Packet,
            DumpKind::Netlink,
        ];
        Dumps {
            results: kinds
                .into_iter()
                .map(|k| (k, netlink::dump(k, false).map_err(|e| e.to_string())))
                .collect(),
        }
    }

    fn sockets(&self, names: &[&str]) -> impl Iterator<Item = &SocketEntry> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        self.results
            .iter()
            .filter(move |(k, _)| names.iter().any(|n| n == k.name()))
            .filter_map(|(_, r)| r.as_ref().ok())
            .flatten()
    }
}

fn check(
    id: &'static str,
    status: Status,
    summary: String,
    meaning: &'static str,
    fix: Option<String>,
    facts: Vec<(&'static str, Value)>,
) -> Check {
    Check {
        id,
        status,
        summary,
        meaning,
        fix,
        facts: facts.into_iter().collect(),
    }
}

/// The inode of a namespace link (`net:[4026531840]` -> 4026531840).
fn ns_inode(link: &Path) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    let s = target.to_string_lossy();
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

fn netns() -> Check {
    use std::os::unix::fs::MetadataExt;
    let own = ns_inode(Path::new("/proc/self/ns/net"));
    let init = ns_inode(Path::new("/proc/1/ns/net"));
    // `ip netns add` bind-mounts the namespace at /run/netns/NAME: same inode.
    let name = own.and_then(|ino| {
        std::fs::read_dir("/run/netns")
            .ok()?
            .flatten()
            .find(|e| e.metadata().is_ok_and(|m| m.ino() == ino))
            .map(|e| e.file_name().to_string_lossy().into_owned())
    });
    let summary = match (own, init, &name) {
        (Some(o), _, Some(n)) => format!("network namespace {n} (net:[{o}])"),
        (Some(o), Some(i), None) if o == i => format!("the host's network namespace (net:[{o}])"),
        (Some(o), Some(_), None) => format!("a network namespace of its own (net:[{o}])"),
        (Some(o), None, None) => format!("net:[{o}] (cannot read pid 1's to compare)"),
        (None, ..) => "unknown (cannot read /proc/self/ns/net)".to_string(),
    };
    check(
        "netns",
        Status::Info,
        summary,
        "Interfaces, addresses, ports, sockets and most net.* sysctls belong to a network \
         namespace: everything below is this namespace's, and `sockbox ls` lists only its \
         sockets (Unix sockets bound to paths are still reachable across namespaces).",
        Some("ip netns exec NAME sockbox doctor   (another namespace's view)".into()),
        vec![
            ("inode", json!(own)),
            ("init_inode", json!(init)),
            ("name", json!(name)),
            ("is_init", json!(own.is_some() && own == init)),
        ],
    )
}

fn ipv6() -> Check {
    let meaning = "With IPv6 off, tcp6:/udp6: addresses and [::1] fail (EADDRNOTAVAIL or \
                   EAFNOSUPPORT), `localhost` resolves to 127.0.0.1 only, and servers that bind \
                   [::] to serve both families fail to start.";
    if !Path::new("/proc/sys/net/ipv6").exists() {
        return check(
            "ipv6",
            Status::Warn,
            "IPv6 is not available: the kernel has no IPv6 (ipv6.disable=1 or not built)".into(),
            meaning,
            Some("remove ipv6.disable=1 from the kernel command line and reboot".into()),
            vec![("available", json!(false))],
        );
    }
    let mut disabled = Vec::new();
    let mut enabled = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/sys/net/ipv6/conf") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "all" || name == "default" {
                continue;
            }
            match sysctl(&format!("net.ipv6.conf.{name}.disable_ipv6")).as_deref() {
                Some("1") => disabled.push(name),
                Some(_) => enabled.push(name),
                None => {}
            }
        }
    }
    disabled.sort();
    enabled.sort();
    // /proc/net/if_inet6: ADDR(32 hex) IFINDEX PREFIXLEN SCOPE FLAGS NAME
    let addresses: Vec<String> = std::fs::read_to_string("/proc/net/if_inet6")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = f.first()?;
            let bytes: Vec<u8> = (0..16)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect::<Option<_>>()?;
            let octets: [u8; 16] = bytes.try_into().ok()?;
            let addr = std::net::Ipv6Addr::from(octets);
            let prefix = u8::from_str_radix(f.get(2)?, 16).ok()?;
            Some(format!("{addr}/{prefix} on {}", f.get(5)?))
        })
        .collect();
    let all = sysctl("net.ipv6.conf.all.disable_ipv6");
    let default = sysctl("net.ipv6.conf.default.disable_ipv6");
    let (status, summary, fix) = if enabled.is_empty() {
        (
            Status::Warn,
            format!(
                "IPv6 is disabled on every interface ({})",
                disabled.join(", ")
            ),
            Some(
                "sysctl -w net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0"
                    .into(),
            ),
        )
    } else if addresses.is_empty() {
        (
            Status::Warn,
            format!(
                "IPv6 is enabled on {} but no interface has an IPv6 address",
                enabled.join(", ")
            ),
            Some("ip link set lo up   (gives ::1)".into()),
        )
    } else if !disabled.is_empty() {
        (
            Status::Info,
            format!(
                "IPv6 is enabled on {}, disabled on {}; {} address(es)",
                enabled.join(", "),
                disabled.join(", "),
                addresses.len()
            ),
            Some(format!(
                "sysctl -w net.ipv6.conf.{}.disable_ipv6=0",
                disabled[0]
            )),
        )
    } else {
        (
            Status::Ok,
            format!(
                "IPv6 is enabled on every interface ({}); {} address(es)",
                enabled.join(", "),
                addresses.len()
            ),
            None,
        )
    };
    check(
        "ipv6",
        status,
        summary,
        meaning,
        fix,
        vec![
            ("available", json!(true)),
            ("enabled_on", json!(enabled)),
            ("disabled_on", json!(disabled)),
            ("addresses", json!(addresses)),
            ("net.ipv6.conf.all.disable_ipv6", json!(all)),
            ("net.ipv6.conf.default.disable_ipv6", json!(default)),
        ],
    )
}

fn ping() -> Check {
    let range = sysctl_pair("net.ipv4.ping_group_range");
    let mut groups: Vec<u32> = nix::unistd::getgroups()
        .unwrap_or_default()
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    groups.push(nix::unistd::getegid().as_raw());
    groups.sort_unstable();
    groups.dedup();
    let allowed =
        range.is_some_and(|(lo, hi)| groups.iter().any(|&g| (lo..=hi).contains(&(g as u64))));
    let text = range.map_or("unreadable".to_string(), |(a, b)| format!("{a} {b}"));
    let (status, summary) = match (allowed, is_root()) {
        (true, _) => (
            Status::Ok,
            format!("unprivileged ICMP sockets allowed for this user's groups (ping_group_range {text})"),
        ),
        (false, true) => (
            Status::Info,
            format!("ping_group_range {text} excludes this user's groups; as root, ping uses a raw socket"),
        ),
        (false, false) => (
            Status::Warn,
            format!("ping_group_range {text} excludes this user's groups: ping needs CAP_NET_RAW"),
        ),
    };
    check(
        "ping",
        status,
        summary,
        "socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) works only for groups inside \
         net.ipv4.ping_group_range; otherwise ICMP echo needs a raw socket (root or CAP_NET_RAW). \
         `sockbox -v ping` says which it used.",
        (!allowed).then(|| "sysctl -w net.ipv4.ping_group_range='0 2147483647'".into()),
        vec![
            (
                "net.ipv4.ping_group_range",
                json!(range.map(|(a, b)| [a, b])),
            ),
            ("groups", json!(groups)),
            ("allowed", json!(allowed)),
        ],
    )
}

fn somaxconn(dumps: &Dumps) -> Check {
    let max = sysctl_u64("net.core.somaxconn");
    let listeners: Vec<&SocketEntry> = dumps
        .sockets(&["tcp", "tcp6", "unix"])
        .filter(|s| s.state == State::Listen)
        .collect();
    // The kernel keeps min(backlog, somaxconn): a listener at exactly somaxconn probably asked
    // for more. A full queue (waiting >= backlog) drops or refuses the next connections.
    let capped: Vec<String> = listeners
        .iter()
        .filter(|s| Some(s.send_q) == max)
        .map(|s| place(s))
        .collect();
    let full: Vec<String> = listeners
        .iter()
        .filter(|s| s.send_q > 0 && s.recv_q >= s.send_q)
        .map(|s| format!("{} ({}/{})", place(s), s.recv_q, s.send_q))
        .collect();
    let largest = listeners.iter().map(|s| s.send_q).max();
    let overflows = listen_overflows();
    let status = if full.is_empty() {
        Status::Ok
    } else {
        Status::Warn
    };
    let mut summary = format!(
        "somaxconn {}; {} listener(s), largest backlog {}",
        max.map_or("unreadable".into(), |m| m.to_string()),
        listeners.len(),
        largest.map_or("-".into(), |m| m.to_string())
    );
    if !capped.is_empty() {
        summary.push_str(&format!(", {} at the cap", capped.len()));
    }
    if !full.is_empty() {
        summary.push_str(&format!("; accept queue full: {}", full.join(", ")));
    }
    if let Some(n) = overflows.filter(|&n| n > 0) {
        summary.push_str(&format!("; {n} TCP listen overflows since boot"));
    }
    check(
        "somaxconn",
        status,
        summary,
        "listen(2)'s backlog is silently cut to net.core.somaxconn. When a listener's accept \
         queue is full, new TCP handshakes are dropped (clients retry after 1 s, 3 s ...) and \
         Unix connects fail with EAGAIN. `sockbox ls -l` shows each listener's queue (Recv-Q) \
         and backlog (Send-Q).",
        (!capped.is_empty() || !full.is_empty()).then(|| {
            "sysctl -w net.core.somaxconn=8192, then restart the listener (backlog= sets sockbox's)"
                .into()
        }),
        vec![
            ("net.core.somaxconn", json!(max)),
            ("listeners", json!(listeners.len())),
            ("largest_backlog", json!(largest)),
            ("at_cap", json!(capped)),
            ("queue_full", json!(full)),
            ("listen_overflows", json!(overflows)),
        ],
    )
}

/// A listener's address for a message: `127.0.0.1:80`, `[::]:22`, `unix /run/x.sock`.
fn place(s: &SocketEntry) -> String {
    match &s.local {
        SockAddr::Inet(a) => a.to_string(),
        SockAddr::Unix(Some(name)) => format!("unix {name}"),
        SockAddr::Unix(None) => format!("unix inode {}", s.inode),
        other => format!("{other:?}"),
    }
}

/// TcpExt ListenOverflows from /proc/net/netstat (header line, then values line).
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let i = names
            .split_whitespace()
            .position(|n| n == "ListenOverflows")?;
        return values.split_whitespace().nth(i)?.parse().ok();
    }
    None
}

fn ports(dumps: &Dumps) -> Check {
    let range = sysctl_pair("net.ipv4.ip_local_port_range");
    let size = range.map(|(lo, hi)| hi.saturating_sub(lo) + 1);
    let time_wait = dumps
        .sockets(&["tcp", "tcp6"])
        .filter(|s| s.state == State::TimeWait)
        .count() as u64;
    let reuse = sysctl("net.ipv4.tcp_tw_reuse");
    let small = size.is_some_and(|n| n < 10_000);
    let crowded = size.is_some_and(|n| time_wait * 2 >= n);
    let status = if small || crowded {
        Status::Warn
    } else {
        Status::Ok
    };
    let summary = match (range, size) {
        (Some((lo, hi)), Some(n)) => {
            format!("ephemeral ports {lo}-{hi} ({n} ports); {time_wait} connection(s) in TIME-WAIT")
        }
        _ => format!("ip_local_port_range unreadable; {time_wait} connection(s) in TIME-WAIT"),
    };
    check(
        "ports",
        status,
        summary,
        "Each outgoing TCP connection to one destination takes a local port from \
         ip_local_port_range, and a port stays in TIME-WAIT for 60 s after the side that \
         closed first closes. Many short connections to one HOST:PORT run out of ports \
         (connect fails with EADDRNOTAVAIL) when TIME-WAIT fills the range.",
        (small || crowded).then(|| {
            "sysctl -w net.ipv4.ip_local_port_range='1024 65535' (and tcp_tw_reuse=1 for clients)"
                .into()
        }),
        vec![
            (
                "net.ipv4.ip_local_port_range",
                json!(range.map(|(a, b)| [a, b])),
            ),
            ("size", json!(size)),
            ("time_wait", json!(time_wait)),
            ("net.ipv4.tcp_tw_reuse", json!(reuse)),
        ],
    )
}

/// `Max open files` soft and hard limits from a `/proc/PID/limits` file.
fn limits_nofile(pid: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let f: Vec<&str> = line["Max open files".len()..].split_whitespace().collect();
    Some((f.first()?.to_string(), f.get(1)?.to_string()))
}

fn fds() -> Check {
    use nix::sys::resource::{getrlimit, Resource};
    let own = getrlimit(Resource::RLIMIT_NOFILE).ok();
    // sockbox raises its own soft limit to the hard one at start; the parent (the shell)
    // shows what other programs it starts get.
    let ppid = nix::unistd::getppid().as_raw().to_string();
    let parent = limits_nofile(&ppid);
    let file_nr: Option<Vec<u64>> = std::fs::read_to_string("/proc/sys/fs/file-nr")
        .ok()
        .map(|s| {
            s.split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        });
    let allocated = file_nr.as_ref().and_then(|v| v.first().copied());
    let file_max = sysctl_u64("fs.file-max");
    let nr_open = sysctl_u64("fs.nr_open");
    let hard = own.map(|(_, h)| h);
    let low_hard = hard.is_some_and(|h| h < 4096);
    let near_max = matches!((allocated, file_max), (Some(a), Some(m)) if a * 10 >= m * 9);
    let status = if low_hard || near_max {
        Status::Warn
    } else {
        Status::Ok
    };
    let summary = format!(
        "open files: soft {} / hard {} for programs this shell starts, hard {} here; \
         system: {} of {} in use",
        parent.as_ref().map_or("?", |p| p.0.as_str()),
        parent.as_ref().map_or("?", |p| p.1.as_str()),
        hard.map_or("?".into(), |h| h.to_string()),
        allocated.map_or("?".into(), |a| a.to_string()),
        file_max.map_or("?".into(), |m| m.to_string()),
    );
    check(
        "fds",
        status,
        summary,
        "Every socket is a file descriptor. At the soft limit accept(2) and socket(2) fail \
         with EMFILE (sockbox raises its own soft limit to the hard one and backs off); at \
         fs.file-max the whole system gets ENFILE. A program may raise its soft limit up to \
         the hard one, which only root raises.",
        (low_hard || near_max).then(|| {
            "ulimit -n 65536 (as root, or LimitNOFILE= in a systemd unit); sysctl -w fs.file-max=N"
                .into()
        }),
        vec![
            ("soft_here", json!(own.map(|(s, _)| s))),
            ("hard_here", json!(hard)),
            ("parent_soft", json!(parent.as_ref().map(|p| &p.0))),
            ("parent_hard", json!(parent.as_ref().map(|p| &p.1))),
            ("allocated", json!(allocated)),
            ("fs.file-max", json!(file_max)),
            ("fs.nr_open", json!(nr_open)),
        ],
    )
}

fn unprivileged_ports() -> Check {
    let start = sysctl_u64("net.ipv4.ip_unprivileged_port_start");
    let root = is_root();
    let summary = match start {
        Some(0) => "any user may bind any port (ip_unprivileged_port_start 0)".to_string(),
        Some(n) => format!(
            "ports below {n} need root or CAP_NET_BIND_SERVICE{}",
            if root { " (this process is root)" } else { "" }
        ),
        None => "ip_unprivileged_port_start unreadable (kernel before 4.11: 1024)".to_string(),
    };
    check(
        "unprivileged_port_start",
        Status::Info,
        summary,
        "bind(2) to a port below net.ipv4.ip_unprivileged_port_start fails with EACCES without \
         the capability: `sockbox listen tcp:80` as a user, for instance.",
        Some("sysctl -w net.ipv4.ip_unprivileged_port_start=80, or setcap cap_net_bind_service=+ep PROGRAM".into()),
        vec![
            ("net.ipv4.ip_unprivileged_port_start", json!(start)),
            ("root", json!(root)),
        ],
    )
}

fn buffers() -> Check {
    let names = [
        "net.core.rmem_max",
        "net.core.wmem_max",
        "net.core.rmem_default",
        "net.core.wmem_default",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    ];
    let facts: Vec<(&'static str, Value)> = names.iter().map(|n| (*n, json!(sysctl(n)))).collect();
    let rmax = sysctl_u64("net.core.rmem_max");
    let wmax = sysctl_u64("net.core.wmem_max");
    let kib = |v: Option<u64>| v.map_or("?".into(), |v| format!("{} KiB", v / 1024));
    check(
        "buffers",
        Status::Info,
        format!(
            "socket buffers: rcvbuf up to {}, sndbuf up to {} (rmem_max, wmem_max); TCP autotunes \
             within tcp_rmem {} / tcp_wmem {}",
            kib(rmax),
            kib(wmax),
            sysctl("net.ipv4.tcp_rmem").unwrap_or_default(),
            sysctl("net.ipv4.tcp_wmem").unwrap_or_default()
        ),
        "rcvbuf=SIZE and sndbuf=SIZE (SO_RCVBUF, SO_SNDBUF) are silently capped at rmem_max and \
         wmem_max (the kernel then doubles the value for its bookkeeping); setting either turns \
         off TCP's own buffer tuning for that socket. A UDP receiver that falls behind drops \
         datagrams once rcvbuf is full.",
        Some("sysctl -w net.core.rmem_max=8388608 net.core.wmem_max=8388608".into()),
        facts,
    )
}

fn pipes() -> Check {
    let max = sysctl_u64("fs.pipe-max-size");
    // relay/splice.rs asks F_SETPIPE_SZ for 1 MiB; above pipe-max-size only root gets it.
    let want = 1 << 20;
    let short = max.is_some_and(|m| m < want) && !is_root();
    check(
        "pipe_max_size",
        if short { Status::Warn } else { Status::Ok },
        format!(
            "pipe-max-size {}: the relay's splice pipes get {}",
            max.map_or("unreadable".into(), |m| format!("{} KiB", m / 1024)),
            if short { "less than the 1 MiB they ask" } else { "the 1 MiB they ask" }
        ),
        "The relay's zero-copy path moves bytes through a pipe it sizes with F_SETPIPE_SZ to 1 MiB; \
         an unprivileged process cannot go above fs.pipe-max-size, and a smaller pipe means more \
         splice(2) calls per megabyte.",
        short.then(|| "sysctl -w fs.pipe-max-size=1048576".into()),
        vec![
            ("fs.pipe-max-size", json!(max)),
            ("fs.pipe-user-pages-soft", json!(sysctl_u64("fs.pipe-user-pages-soft"))),
        ],
    )
}

fn tcp() -> Check {
    let ulp = sysctl("net.ipv4.tcp_available_ulp");
    let cc = sysctl("net.ipv4.tcp_congestion_control");
    let available = sysctl("net.ipv4.tcp_available_congestion_control");
    let ktls = ulp
        .as_deref()
        .is_some_and(|u| u.split_whitespace().any(|w| w == "tls"));
    check(
        "tcp",
        Status::Info,
        format!(
            "congestion control {} (available: {}); upper-layer protocols: {}{}",
            cc.as_deref().unwrap_or("?"),
            available.as_deref().unwrap_or("?"),
            ulp.as_deref().filter(|u| !u.is_empty()).unwrap_or("none"),
            if ktls { "" } else { " (no kernel TLS)" }
        ),
        "tcp_available_ulp lists what setsockopt(TCP_ULP) can attach: `tls` is kernel TLS \
         (sendfile/splice of encrypted data), `mptcp` multipath. Congestion control decides \
         how fast a TCP sender ramps up; bbr helps on lossy long paths, nothing on loopback.",
        (!ktls).then(|| "modprobe tls   (kernel TLS, where the module exists)".into()),
        vec![
            ("net.ipv4.tcp_available_ulp", json!(ulp)),
            ("net.ipv4.tcp_congestion_control", json!(cc)),
            (
                "net.ipv4.tcp_available_congestion_control",
                json!(available),
            ),
            ("ktls", json!(ktls)),
        ],
    )
}

fn sock_diag(dumps: &Dumps) -> Check {
    let mut answer = Vec::new();
    let mut missing = BTreeMap::new();
    for (k, r) in &dumps.results {
        match r {
            Ok(_) => answer.push(k.name()),
            Err(e) => {
                missing.insert(k.name(), e.clone());
            }
        }
    }
    let essential = ["tcp", "unix"].iter().any(|n| missing.contains_key(n));
    check(
        "sock_diag",
        if essential {
            Status::Warn
        } else if missing.is_empty() {
            Status::Ok
        } else {
            Status::Info
        },
        if missing.is_empty() {
            format!("sock_diag answers every family: {}", answer.join(" "))
        } else {
            format!(
                "sock_diag answers {}; not {} (`sockbox ls` reads those from /proc/net)",
                answer.join(" "),
                missing.keys().copied().collect::<Vec<_>>().join(" ")
            )
        },
        "`sockbox ls` and `who` ask the kernel for its sockets through NETLINK_SOCK_DIAG, one \
         module per family (tcp_diag, udp_diag, raw_diag, unix_diag, packet_diag, \
         netlink_diag). A family without its module is read from /proc/net/* instead, with \
         less detail (no Unix peers, no tcp_info).",
        (!missing.is_empty()).then(|| {
            let mods: Vec<&str> = dumps
                .results
                .iter()
                .filter(|(_, r)| r.is_err())
                .map(|(k, _)| match k.name() {
                    "tcp" | "tcp6" => "tcp_diag",
                    "udp" | "udp6" => "udp_diag",
                    "raw" | "raw6" => "raw_diag",
                    "unix" => "unix_diag",
                    "packet" => "packet_diag",
                    _ => "netlink_diag",
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            format!("modprobe {}", mods.join(" "))
        }),
        vec![("answer", json!(answer)), ("missing", json!(missing))],
    )
}

fn owners() -> Check {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    // Try one process of another user: can its descriptors be listed?
    let mut tried = None;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten().take(100_000) {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(meta) = e.metadata() else { continue };
            if meta.uid() == me {
                continue;
            }
            let readable = std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok();
            tried = Some((pid.to_string(), meta.uid(), readable));
            break;
        }
    }
    let hidepid = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/proc"))
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.contains("hidepid="))
                .map(|w| w.to_string())
        });
    let (status, summary) = match &tried {
        Some((pid, uid, true)) => (
            Status::Ok,
            format!("other users' sockets are matched to their processes (read /proc/{pid}/fd of uid {uid})"),
        ),
        Some((pid, uid, false)) => (
            Status::Info,
            format!("other users' processes are hidden: /proc/{pid}/fd (uid {uid}) is not readable; `ls -p` names only your own"),
        ),
        None => (
            Status::Info,
            "no process of another user is visible here (hidepid, or none running)".to_string(),
        ),
    };
    check(
        "owners",
        status,
        summary,
        "sock_diag gives every socket and its owner's uid to anyone; which process holds it \
         comes from /proc/PID/fd, readable only for your own processes unless you are root \
         (CAP_SYS_PTRACE). `sockbox ls -p` and `who` show what this process can read.",
        (!matches!(tried, Some((_, _, true)))).then(|| "sudo sockbox ls -p".into()),
        vec![
            ("euid", json!(me)),
            (
                "other_user_fds_readable",
                json!(tried.as_ref().map(|t| t.2)),
            ),
            ("proc_hidepid", json!(hidepid)),
        ],
    )
}
