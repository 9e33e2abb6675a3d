//! Joining the two ends of local connections, in memory, after the dumps.
//!
//! - Unix: `UNIX_DIAG_PEER` names the peer's inode. A client whose connection waits in a
//!   listener's accept queue has a peer with no inode yet; the listener's
//!   `UNIX_DIAG_ICONS` lists the client, so the client is linked to the listener instead.
//! - TCP and UDP: a connection whose both ends are on this host appears twice, with local and
//!   remote swapped; the 4-tuple finds one from the other (IPv4-mapped IPv6 addresses
//!   compared as IPv4). A TCP connection not accepted yet has a server end with no inode;
//!   its client is linked to the listener. A connected UDP socket whose peer is an
//!   unconnected one (a server) is linked to it.

use rustc_hash::{FxHashMap, FxHashSet};
use std::net::{IpAddr, SocketAddr};

use super::{Kind, PeerLink, SockAddr, SocketEntry, State};

/// Set `peer` on every socket whose other end is on this host.
pub fn join(sockets: &mut [SocketEntry]) {
    join_unix(sockets);
    join_inet(sockets);
}

/// Set `peer` on the Unix sockets whose other end is on this host (the Unix half of
/// [`join`]).
pub fn join_unix(sockets: &mut [SocketEntry]) {
    let by_inode: FxHashMap<u64, usize> = sockets
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind.is_unix() && e.inode != 0)
        .map(|(i, e)| (e.inode, i))
        .collect();
    let mut links = Vec::new();
    for (i, e) in sockets.iter().enumerate() {
        if !e.kind.is_unix() {
            continue;
        }
        if let Some(&j) = e.peer_inode.and_then(|p| by_inode.get(&p)) {
            links.push((i, PeerLink::Socket(j)));
        }
        if e.is_listening() {
            for c in &e.pending {
                if let Some(&j) = by_inode.get(c) {
                    links.push((j, PeerLink::Pending(i)));
                }
            }
        }
    }
    for (i, link) in links {
        sockets[i].peer = Some(link);
    }
}

/// An address with IPv4-mapped IPv6 written as IPv4, so both ends compare equal.
fn canonical(a: &SockAddr) -> Option<SocketAddr> {
    match a {
        SockAddr::Inet(sa) => {
            let ip = match sa.ip() {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                v4 => v4,
            };
            Some(SocketAddr::new(ip, sa.port()))
        }
        _ => None,
    }
}

fn join_inet(sockets: &mut [SocketEntry]) {
    // (kind, local, remote) of every connected TCP/UDP socket.
    let mut by_tuple: FxHashMap<(Kind, SocketAddr, SocketAddr), usize> = FxHashMap::default();
    // (kind, port) -> sockets waiting for peers: TCP listeners, unconnected UDP sockets.
    let mut servers: FxHashMap<(Kind, u16), Vec<usize>> = FxHashMap::default();
    for (i, e) in sockets.iter().enumerate() {
        if !matches!(e.kind, Kind::Tcp | Kind::Udp) || e.state == State::TimeWait {
            continue;
        }
        let (Some(local), Some(remote)) = (canonical(&e.local), canonical(&e.remote)) else {
            continue;
        };
        if remote.port() != 0 {
            by_tuple.insert((e.kind, local, remote), i);
        } else if e.waits_for_peers() {
            servers.entry((e.kind, local.port())).or_default().push(i);
        }
    }
    let server_for = |kind: Kind, addr: SocketAddr, sockets: &[SocketEntry]| -> Option<usize> {
        let candidates = servers.get(&(kind, addr.port()))?;
        // An exact address first, then a wildcard one.
        candidates
            .iter()
            .find(|&&j| canonical(&sockets[j].local).map(|a| a.ip()) == Some(addr.ip()))
            .or_else(|| {
                candidates
                    .iter()
                    .find(|&&j| sockets[j].local.ip().is_some_and(|ip| ip.is_unspecified()))
            })
            .copied()
    };
    let mut links = Vec::new();
    for (&(kind, local, remote), &i) in &by_tuple {
        match by_tuple.get(&(kind, remote, local)) {
            Some(&j) if kind == Kind::Tcp && sockets[j].inode == 0 && sockets[i].inode != 0 => {
                // The server end has no inode: it waits in the accept queue.
                match server_for(kind, remote, sockets) {
                    Some(l) => links.push((i, PeerLink::Pending(l))),
                    None => links.push((i, PeerLink::Socket(j))),
                }
            }
            Some(&j) => links.push((i, PeerLink::Socket(j))),
            None if kind == Kind::Udp => {
                if let Some(s) = server_for(kind, remote, sockets) {
                    links.push((i, PeerLink::Socket(s)));
                }
            }
            None => {}
        }
    }
    for (i, link) in links {
        sockets[i].peer = Some(link);
    }
}

/// The inodes whose owners the `/proc` walk must find: the shown sockets' and, when peers
/// are shown too, their peers' and (for listeners) their pending clients'.
pub fn wanted_inodes(sockets: &[SocketEntry], shown: &[usize], with_peers: bool) -> FxHashSet<u64> {
    let mut wanted = FxHashSet::default();
    wanted.reserve(shown.len() * if with_peers { 2 } else { 1 });
    for &i in shown {
        let e = &sockets[i];
        wanted.insert(e.inode);
        if with_peers {
            if let Some(PeerLink::Socket(j) | PeerLink::Pending(j)) = e.peer {
                wanted.insert(sockets[j].inode);
            }
            wanted.extend(e.pending.iter().copied());
        }
    }
    wanted.remove(&0);
    wanted
}

#[cfg(test)]
mod tests {
    use super::super::{Family, UnixName};
    use super::*;

    fn tcp(local: &str, remote: &str, state: State, inode: u64) -> SocketEntry {
        let mut e = SocketEntry::new(Kind::Tcp, Family::Inet, state, inode);
        e.local = SockAddr::Inet(local.parse().unwrap());
        e.remote = SockAddr::Inet(remote.parse().unwrap());
        e
    }

    #[test]
    fn loopback_tcp_ends_find_each_other() {
        let mut s = vec![
            tcp("0.0.0.0:80", "0.0.0.0:0", State::Listen, 1),
            tcp("127.0.0.1:5000", "127.0.0.1:80", State::Established, 2),
            tcp("127.0.0.1:80", "127.0.0.1:5000", State::Established, 3),
            tcp("127.0.0.1:5001", "127.0.0.1:80", State::Established, 4),
            tcp("127.0.0.1:80", "127.0.0.1:5001", State::Established, 0),
            tcp("127.0.0.1:5002", "127.0.0.1:80", State::TimeWait, 0),
            tcp("10.0.0.1:5003", "192.0.2.1:443", State::Established, 5),
        ];
        join(&mut s);
        assert_eq!(s[1].peer, Some(PeerLink::Socket(2)));
        assert_eq!(s[2].peer, Some(PeerLink::Socket(1)));
        assert_eq!(s[3].peer, Some(PeerLink::Pending(0)), "not accepted yet");
        assert_eq!(s[4].peer, Some(PeerLink::Socket(3)));
        assert_eq!(s[5].peer, None);
        assert_eq!(s[6].peer, None, "the other end is elsewhere");
    }

    #[test]
    fn v4_mapped_v6_matches_v4() {
        let mut a = tcp("127.0.0.1:6000", "127.0.0.1:7000", State::Established, 1);
        let mut b = SocketEntry::new(Kind::Tcp, Family::Inet6, State::Established, 2);
        b.local = SockAddr::Inet("[::ffff:127.0.0.1]:7000".parse().unwrap());
        b.remote = SockAddr::Inet("[::ffff:127.0.0.1]:6000".parse().unwrap());
        a.peer = None;
        let mut s = vec![a, b];
        join(&mut s);
        assert_eq!(s[0].peer, Some(PeerLink::Socket(1)));
        assert_eq!(s[1].peer, Some(PeerLink::Socket(0)));
    }

    #[test]
    fn unix_peers_and_pending_clients() {
        let unix = |inode, state, peer: Option<u64>| {
            let mut e = SocketEntry::new(Kind::Unix, Family::Unix, state, inode);
            e.peer_inode = peer;
            e
        };
        let mut listener = unix(10, State::Listen, None);
        listener.local = SockAddr::Unix(Some(UnixName::Path(b"/s".to_vec())));
        listener.pending = vec![13];
        let mut s = vec![
            listener,
            unix(11, State::Established, Some(12)),
            unix(12, State::Established, Some(11)),
            unix(13, State::Established, Some(0)),
        ];
        join(&mut s);
        assert_eq!(s[1].peer, Some(PeerLink::Socket(2)));
        assert_eq!(s[2].peer, Some(PeerLink::Socket(1)));
        assert_eq!(s[3].peer, Some(PeerLink::Pending(0)));
        let wanted = wanted_inodes(&s, &[0], true);
        assert_eq!(wanted, FxHashSet::from_iter([10, 13]));
        let wanted = wanted_inodes(&s, &[1], false);
        assert_eq!(wanted, FxHashSet::from_iter([11]));
    }
}
