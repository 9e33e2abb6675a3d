//! `sockbox who TARGET`: who owns a port, a socket path, an abstract name or a socket inode,
//! and everything connected to it, answered from one [`snapshot`](super::snapshot()).
//!
//! TARGET is `:PORT` (TCP and UDP), `HOST:PORT`, `tcp:HOST:PORT` / `udp:HOST:PORT` (any
//! address kind of the grammar), `/path/to.sock` (or `./rel`, `unix:PATH`, `seqpacket:PATH`...),
//! `@abstract`, or an inode number. A path is matched by the socket file's device and inode
//! (`UNIX_DIAG_VFS`) when the file exists, so a socket bound through a relative path or a
//! symlink is still found; by name otherwise.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{proc, snapshot, Kind, KindSet, PeerLink, Query, Snapshot, SockAddr, SocketEntry};
use super::{State, UnixName};
use crate::addr::{Address, Endpoint, UnixType};
use crate::{Error, Result};

/// What `who` looks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A TCP and/or UDP port, on any of `ips` (any address when empty).
    Port {
        kinds: KindSet,
        port: u16,
        ips: Vec<IpAddr>,
        /// As the user wrote it, for messages.
        shown: String,
    },
    /// A Unix socket by name (and by the socket file's device and inode, if it exists).
    Unix {
        kinds: KindSet,
        name: UnixName,
        file: Option<(u64, u64)>,
    },
    /// One socket by inode.
    Inode(u64),
}

const EXPECTED: &str = "who takes :PORT, HOST:PORT, tcp:HOST:PORT, udp:HOST:PORT, a socket path \
     (/path/to.sock, ./rel, unix:PATH), @abstract, or an inode number";

impl Target {
    /// Parse a TARGET; host names are resolved here (a name that does not resolve is an
    /// error, exit 1; a malformed target is a usage error, exit 2).
    pub fn parse(s: &str) -> Result<Target> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::Usage(format!("empty target: {EXPECTED}")));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(Target::Inode)
                .map_err(|_| Error::Usage(format!("inode {s} is out of range")));
        }
        if let Some(port) = s.strip_prefix(':') {
            return Ok(Target::Port {
                kinds: KindSet::default().with(Kind::Tcp).with(Kind::Udp),
                port: parse_port(port)?,
                ips: Vec::new(),
                shown: s.to_string(),
            });
        }
        if let Some(name) = s.strip_prefix('@') {
            return Ok(Target::Unix {
                kinds: KindSet::default().with_unix(),
                name: UnixName::Abstract(name.as_bytes().to_vec()),
                file: None,
            });
        }
        if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
            return Ok(unix_path(KindSet::default().with_unix(), Path::new(s)));
        }
        match s.parse::<Address>() {
            Ok(addr) => match addr.endpoint {
                Endpoint::Tcp(t) => inet(
                    KindSet::default().with(Kind::Tcp),
                    t.host.as_deref(),
                    t.port,
                    s,
                ),
                Endpoint::Udp(t) => inet(
                    KindSet::default().with(Kind::Udp),
                    t.host.as_deref(),
                    t.port,
                    s,
                ),
                Endpoint::Unix(ty, name) => {
                    let kinds = KindSet::default().with(match ty {
                        UnixType::Stream => Kind::Unix,
                        UnixType::Dgram => Kind::UnixDgram,
                        UnixType::Seqpacket => Kind::Seqpacket,
                    });
                    Ok(match name {
                        crate::addr::UnixName::Path(p) => unix_path(kinds, &p),
                        crate::addr::UnixName::Abstract(a) => Target::Unix {
                            kinds,
                            name: UnixName::Abstract(a.into_bytes()),
                            file: None,
                        },
                    })
                }
                _ => Err(Error::Usage(format!("'{s}' is not a socket: {EXPECTED}"))),
            },
            Err(e) => match s.rsplit_once(':') {
                // HOST:PORT without a kind: TCP and UDP.
                Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => inet(
                    KindSet::default().with(Kind::Tcp).with(Kind::Udp),
                    Some(host.trim_start_matches('[').trim_end_matches(']')),
                    parse_port(port)?,
                    s,
                ),
                _ => Err(Error::Usage(format!("'{s}': {e}; {EXPECTED}"))),
            },
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Port { shown, .. } => f.write_str(shown),
            Target::Unix { name, .. } => write!(f, "{name}"),
            Target::Inode(i) => write!(f, "inode {i}"),
        }
    }
}

fn parse_port(s: &str) -> Result<u16> {
    s.parse()
        .map_err(|_| Error::Usage(format!("'{s}' is not a port (1-65535)")))
}

fn inet(kinds: KindSet, host: Option<&str>, port: u16, shown: &str) -> Result<Target> {
    let ips = match host {
        None | Some("") | Some("*") => Vec::new(),
        Some(h) => match h.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let addrs = (h, port).to_socket_addrs().map_err(|e| Error::Io {
                    op: "resolve",
                    target: h.to_string(),
                    err: e,
                })?;
                let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                ips.dedup();
                ips
            }
        },
    };
    Ok(Target::Port {
        kinds,
        port,
        ips,
        shown: shown.to_string(),
    })
}

fn unix_path(kinds: KindSet, p: &Path) -> Target {
    let file = std::fs::symlink_metadata(p)
        .or_else(|_| std::fs::metadata(p))
        .ok()
        .filter(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        })
        .map(|m| (m.dev(), m.ino()));
    Target::Unix {
        kinds,
        name: UnixName::Path(p.as_os_str().as_bytes().to_vec()),
        file,
    }
}

/// What `who` found.
#[derive(Clone, Debug, Default)]
pub struct WhoReport {
    pub snapshot: Snapshot,
    /// Sockets bound to the target and waiting for peers (listeners, bound datagram
    /// sockets), or the socket itself for an inode target; indices into
    /// `snapshot.sockets`.
    pub bound: Vec<usize>,
    /// Connections at the target: the target's end of each (the other end is its peer) and,
    /// for connections whose target end is not on this host or not accepted yet, the client
    /// end.
    pub connected: Vec<usize>,
}

impl WhoReport {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.bound.is_empty() && self.connected.is_empty()
    }
}

/// Answer `who TARGET`.
pub fn who(target: &Target) -> Result<WhoReport> {
    let kinds = match target {
        Target::Port { kinds, .. } | Target::Unix { kinds, .. } => *kinds,
        Target::Inode(_) => KindSet::all(),
    };
    let mut snap = snapshot(&Query {
        kinds,
        peers: true,
        processes: true,
        ..Default::default()
    })?;
    let (bound, connected) = find(&snap, target);
    // uid and command line of the processes at both ends.
    let mut pids = HashSet::new();
    for &i in bound.iter().chain(&connected) {
        let e = &snap.sockets[i];
        pids.extend(e.owners.iter().map(|o| o.pid));
        if let Some(PeerLink::Socket(j) | PeerLink::Pending(j)) = e.peer {
            pids.extend(snap.sockets[j].owners.iter().map(|o| o.pid));
        }
    }
    for pid in pids {
        if let Some(p) = snap.processes.get_mut(&pid) {
            proc::read_details(p);
        }
    }
    snap.shown = bound.iter().chain(&connected).copied().collect();
    Ok(WhoReport {
        snapshot: snap,
        bound,
        connected,
    })
}

/// The sockets at `target` in `snap`: (bound, connected), indices into `snap.sockets`.
pub fn find(snap: &Snapshot, target: &Target) -> (Vec<usize>, Vec<usize>) {
    let sockets = &snap.sockets;
    match target {
        Target::Inode(inode) => {
            let Some(i) = sockets
                .iter()
                .position(|e| e.inode == *inode && *inode != 0)
            else {
                return (Vec::new(), Vec::new());
            };
            let e = &sockets[i];
            // A listener or bound socket: everything at its address.
            let waiting = e.waits_for_peers();
            match (&e.local, waiting) {
                (SockAddr::Inet(a), true) if e.kind != Kind::Raw && a.port() != 0 => {
                    let t = Target::Port {
                        kinds: KindSet::default().with(e.kind),
                        port: a.port(),
                        // A wildcard listener takes connections on every address.
                        ips: if a.ip().is_unspecified() {
                            Vec::new()
                        } else {
                            vec![a.ip()]
                        },
                        shown: String::new(),
                    };
                    find(snap, &t)
                }
                (SockAddr::Unix(Some(name)), true) => {
                    let t = Target::Unix {
                        kinds: KindSet::default().with(e.kind),
                        name: name.clone(),
                        file: e.vfs,
                    };
                    find(snap, &t)
                }
                _ => (vec![i], vec![i]),
            }
        }
        Target::Port {
            kinds, port, ips, ..
        } => {
            let ip_ok = |ip: Option<IpAddr>, wildcard_ok: bool| {
                ips.is_empty()
                    || ip
                        .is_some_and(|ip| ips.contains(&ip) || (wildcard_ok && ip.is_unspecified()))
            };
            let at_local = |e: &SocketEntry| {
                kinds.contains(e.kind) && e.local.port() == Some(*port) && ip_ok(e.local.ip(), true)
            };
            let at_remote = |e: &SocketEntry| {
                kinds.contains(e.kind)
                    && e.remote.port() == Some(*port)
                    && ip_ok(e.remote.ip(), false)
            };
            let mut bound = Vec::new();
            let mut connected = Vec::new();
            for (i, e) in sockets.iter().enumerate() {
                // Ends no process holds (TIME-WAIT, not accepted yet) are not connections
                // anyone has; a pending connection is listed by its client below.
                if at_local(e) && e.inode != 0 {
                    if e.remote.port().is_none() {
                        bound.push(i);
                    } else {
                        connected.push(i);
                    }
                }
            }
            add_clients(sockets, &mut connected, |e| at_remote(e));
            (bound, connected)
        }
        Target::Unix { kinds, name, file } => {
            let at_name = |e: &SocketEntry| {
                kinds.contains(e.kind)
                    && match (file, e.vfs) {
                        (Some(f), Some(v)) => *f == v,
                        _ => e.local.unix_name() == Some(name),
                    }
            };
            let mut bound = Vec::new();
            let mut connected = Vec::new();
            for (i, e) in sockets.iter().enumerate() {
                if at_name(e) {
                    if e.waits_for_peers() || e.state == State::Unconnected {
                        bound.push(i);
                    } else {
                        connected.push(i);
                    }
                }
            }
            // Clients waiting in a listener's queue, and datagram clients connected to a
            // bound socket.
            let bound_set: HashSet<usize> = bound.iter().copied().collect();
            add_clients(sockets, &mut connected, |e| match e.peer {
                Some(PeerLink::Pending(l)) | Some(PeerLink::Socket(l)) => bound_set.contains(&l),
                None => false,
            });
            (bound, connected)
        }
    }
}

/// Add the client ends `is_client` accepts, unless their peer is already listed.
fn add_clients(
    sockets: &[SocketEntry],
    connected: &mut Vec<usize>,
    is_client: impl Fn(&SocketEntry) -> bool,
) {
    let covered: HashSet<usize> = connected
        .iter()
        .filter_map(|&i| match sockets[i].peer {
            Some(PeerLink::Socket(j)) => Some(j),
            _ => None,
        })
        .chain(connected.iter().copied())
        .collect();
    for (i, e) in sockets.iter().enumerate() {
        if !covered.contains(&i) && is_client(e) {
            connected.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Family;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn targets_parse() {
        assert_eq!(Target::parse("12345").unwrap(), Target::Inode(12345));
        let Target::Port {
            kinds, port, ips, ..
        } = Target::parse(":8080").unwrap()
        else {
            panic!()
        };
        assert_eq!(port, 8080);
        assert!(kinds.contains(Kind::Tcp) && kinds.contains(Kind::Udp) && ips.is_empty());
        let Target::Port { kinds, ips, .. } = Target::parse("tcp:127.0.0.1:80").unwrap() else {
            panic!()
        };
        assert!(kinds.contains(Kind::Tcp) && !kinds.contains(Kind::Udp));
        assert_eq!(ips, vec![IpAddr::from([127, 0, 0, 1])]);
        let Target::Port { kinds, .. } = Target::parse("udp:[::1]:53").unwrap() else {
            panic!()
        };
        assert!(kinds.contains(Kind::Udp) && !kinds.contains(Kind::Tcp));
        assert_eq!(
            Target::parse("@ctl").unwrap(),
            Target::Unix {
                kinds: KindSet::default().with_unix(),
                name: UnixName::Abstract(b"ctl".to_vec()),
                file: None
            }
        );
        assert!(matches!(
            Target::parse("/no/such/file.sock").unwrap(),
            Target::Unix { file: None, .. }
        ));
        assert!(matches!(
            Target::parse("seqpacket:@x").unwrap(),
            Target::Unix { kinds, .. } if kinds == KindSet::default().with(Kind::Seqpacket)
        ));
        let Target::Port { ips, .. } = Target::parse("127.0.0.1:22").unwrap() else {
            panic!()
        };
        assert_eq!(ips, vec![IpAddr::from([127, 0, 0, 1])]);
    }

    #[test]
    fn bad_targets_are_usage_errors() {
        for bad in [
            "",
            ":http",
            ":70000",
            "fifo:/tmp/x",
            "nonsense",
            "99999999999999999999999",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
        }
    }

    fn tcp(local: &str, remote: &str, state: State, inode: u64) -> SocketEntry {
        let mut e = SocketEntry::new(Kind::Tcp, Family::Inet, state, inode);
        e.local = SockAddr::Inet(local.parse().unwrap());
        e.remote = SockAddr::Inet(remote.parse().unwrap());
        e
    }

    #[test]
    fn a_port_finds_the_listener_and_both_ends_once() {
        let mut sockets = vec![
            tcp("0.0.0.0:80", "0.0.0.0:0", State::Listen, 1),
            tcp("127.0.0.1:5000", "127.0.0.1:80", State::Established, 2),
            tcp("127.0.0.1:80", "127.0.0.1:5000", State::Established, 3),
            tcp("10.0.0.1:6000", "192.0.2.7:80", State::Established, 4),
            tcp("127.0.0.1:81", "0.0.0.0:0", State::Listen, 5),
            // Not accepted yet: the server end has no inode.
            tcp("127.0.0.1:5001", "127.0.0.1:80", State::Established, 6),
            tcp("127.0.0.1:80", "127.0.0.1:5001", State::Established, 0),
            tcp("127.0.0.1:80", "127.0.0.1:4999", State::TimeWait, 0),
        ];
        super::super::peers::join(&mut sockets);
        let snap = Snapshot {
            sockets,
            ..Default::default()
        };
        let t = Target::parse(":80").unwrap();
        let (bound, connected) = find(&snap, &t);
        assert_eq!(bound, vec![0]);
        assert_eq!(
            connected,
            vec![2, 3, 5],
            "the accepted end (its peer is the client), a client of a remote :80, the client \
             waiting to be accepted; not the ends no process holds"
        );
        let (bound, connected) = find(&snap, &Target::Inode(1));
        assert_eq!((bound, connected), (vec![0], vec![2, 3, 5]));
        let (bound, connected) = find(&snap, &Target::Inode(2));
        assert_eq!((bound, connected), (vec![1], vec![1]));
        assert_eq!(find(&snap, &Target::Inode(77)), (vec![], vec![]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_target_parses_or_errors(s in "[ -~]{0,30}") {
            // Host names are not resolved here: only forms that need no lookup.
            prop_assume!(!s.contains(':') || s.starts_with(':') || s.starts_with('@'));
            let _ = Target::parse(&s);
        }

        #[test]
        fn ports_round_trip(port in 1u16..) {
            let t = Target::parse(&format!(":{port}")).unwrap();
            let found = matches!(t, Target::Port { port: p, .. } if p == port);
            prop_assert!(found);
        }
    }
}
