//! The `/proc/net/*` tables: where sockets come from when the kernel has no sock_diag module
//! for a family (a kernel built without `CONFIG_INET_RAW_DIAG`, say).
//!
//! These tables say less than sock_diag: no Unix peers or pending connections, no tcp_info,
//! no uid for netlink sockets. Each parser takes the table's text and skips any line it does
//! not understand, so a format change loses lines, never the listing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Family, Kind, SockAddr, SocketEntry, Source, State, UnixName};

/// One `/proc/net` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
    Raw,
    Raw6,
    Unix,
    Packet,
    Netlink,
}

impl Table {
    pub fn path(self) -> &'static str {
        match self {
            Table::Tcp => "/proc/net/tcp",
            Table::Tcp6 => "/proc/net/tcp6",
            Table::Udp => "/proc/net/udp",
            Table::Udp6 => "/proc/net/udp6",
            Table::Raw => "/proc/net/raw",
            Table::Raw6 => "/proc/net/raw6",
            Table::Unix => "/proc/net/unix",
            Table::Packet => "/proc/net/packet",
            Table::Netlink => "/proc/net/netlink",
        }
    }

    /// The kind of the table's sockets (Unix: the stream kind stands for all three).
    pub fn kind(self) -> Kind {
        match self {
            Table::Tcp | Table::Tcp6 => Kind::Tcp,
            Table::Udp | Table::Udp6 => Kind::Udp,
            Table::Raw | Table::Raw6 => Kind::Raw,
            Table::Unix => Kind::Unix,
            Table::Packet => Kind::Packet,
            Table::Netlink => Kind::Netlink,
        }
    }
}

/// Read and parse one table.
pub fn read(table: Table) -> std::io::Result<Vec<SocketEntry>> {
    let text = std::fs::read(table.path())?;
    Ok(parse(table, &String::from_utf8_lossy(&text)))
}

/// Parse a table's text (header line included).
pub fn parse(table: Table, text: &str) -> Vec<SocketEntry> {
    let parse_line: fn(&str, Kind) -> Option<SocketEntry> = match table {
        Table::Tcp | Table::Udp | Table::Raw => |l: &str, k| parse_inet(l, k, false),
        Table::Tcp6 | Table::Udp6 | Table::Raw6 => |l: &str, k| parse_inet(l, k, true),
        Table::Unix => |l: &str, _| parse_unix(l),
        Table::Packet => |l: &str, _| parse_packet(l),
        Table::Netlink => |l: &str, _| parse_netlink(l),
    };
    text.lines()
        .skip(1)
        .filter_map(|l| parse_line(l, table.kind()))
        .map(|mut e| {
            e.source = Source::ProcNet;
            e
        })
        .collect()
}

/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`
fn parse_inet(line: &str, kind: Kind, v6: bool) -> Option<SocketEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let local = hex_sockaddr(f.get(1)?, v6)?;
    let remote = hex_sockaddr(f.get(2)?, v6)?;
    let state = State::from_kernel(u8::from_str_radix(f.get(3)?, 16).ok()?);
    let (tx, rx) = f.get(4)?.split_once(':')?;
    let uid = f.get(7)?.parse().ok()?;
    let inode = f.get(9)?.parse().ok()?;
    let family = if v6 { Family::Inet6 } else { Family::Inet };
    let mut e = SocketEntry::new(kind, family, state, inode);
    e.send_q = u64::from_str_radix(tx, 16).ok()?;
    e.recv_q = u64::from_str_radix(rx, 16).ok()?;
    e.uid = Some(uid);
    if kind == Kind::Raw {
        e.protocol = Some(local.port());
    }
    e.local = SockAddr::Inet(local);
    e.remote = SockAddr::Inet(remote);
    Some(e)
}

/// `0100007F:1F90`: the address as the kernel's `%08X` of each 32-bit word in host order,
/// then the port.
fn hex_sockaddr(s: &str, v6: bool) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = if v6 {
        if ip.len() != 32 {
            return None;
        }
        let mut b = [0u8; 16];
        for i in 0..4 {
            b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
        }
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        if ip.len() != 8 {
            return None;
        }
        IpAddr::V4(Ipv4Addr::from(word(0)?))
    };
    Some(SocketAddr::new(ip, port))
}

/// `Num RefCount Protocol Flags Type St Inode [Path]`; abstract names start with `@`, and
/// the kernel prints their NUL bytes as `@` too.
fn parse_unix(line: &str) -> Option<SocketEntry> {
    const ACCEPTCON: u32 = 0x10000;
    let mut f = line.split_whitespace();
    let _num = f.next()?;
    let _refcount = f.next()?;
    let _protocol = f.next()?;
    let flags = u32::from_str_radix(f.next()?, 16).ok()?;
    let kind = match u16::from_str_radix(f.next()?, 16).ok()? as i32 {
        libc::SOCK_STREAM => Kind::Unix,
        libc::SOCK_DGRAM => Kind::UnixDgram,
        libc::SOCK_SEQPACKET => Kind::Seqpacket,
        _ => return None,
    };
    let st = u8::from_str_radix(f.next()?, 16).ok()?;
    let inode = f.next()?.parse().ok()?;
    let state = if flags & ACCEPTCON != 0 {
        State::Listen
    } else {
        match st {
            3 => State::Established,
            2 => State::SynSent,
            _ => State::Unconnected,
        }
    };
    let mut e = SocketEntry::new(kind, Family::Unix, state, inode);
    // The path is the rest of the line after the seventh field (it may hold spaces).
    let path = nth_field_rest(line, 7);
    e.local = SockAddr::Unix(path.map(|p| match p.strip_prefix('@') {
        Some(a) => UnixName::Abstract(a.as_bytes().to_vec()),
        None => UnixName::Path(p.as_bytes().to_vec()),
    }));
    Some(e)
}

/// The text after the first `n` whitespace-separated fields, if any.
fn nth_field_rest(line: &str, n: usize) -> Option<&str> {
    let mut rest = line.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace)?;
        rest = rest[end..].trim_start();
    }
    let rest = rest.trim_end();
    (!rest.is_empty()).then_some(rest)
}

/// `sk RefCnt Type Proto Iface R Rmem User Inode`
fn parse_packet(line: &str) -> Option<SocketEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let protocol = u16::from_str_radix(f.get(3)?, 16).ok()?;
    let ifindex = f.get(4)?.parse().ok()?;
    let uid = f.get(7)?.parse().ok()?;
    let inode = f.get(8)?.parse().ok()?;
    let mut e = SocketEntry::new(Kind::Packet, Family::Packet, State::Unconnected, inode);
    e.uid = Some(uid);
    e.protocol = Some(protocol);
    e.local = SockAddr::Packet { protocol, ifindex };
    Some(e)
}

/// `sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode`
fn parse_netlink(line: &str) -> Option<SocketEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let protocol: u8 = f.get(1)?.parse().ok()?;
    let portid = f.get(2)?.parse().ok()?;
    let inode = f.get(9)?.parse().ok()?;
    let mut e = SocketEntry::new(Kind::Netlink, Family::Netlink, State::Unconnected, inode);
    e.protocol = Some(u16::from(protocol));
    e.local = SockAddr::Netlink {
        protocol,
        portid,
        group: 0,
    };
    e.remote = SockAddr::Netlink {
        protocol,
        portid: 0,
        group: 0,
    };
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:1F90 01 0000000A:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1
   2: garbage
";

    #[test]
    fn tcp_lines_decode() {
        let e = parse(Table::Tcp, TCP);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].state, State::Listen);
        assert_eq!(
            e[0].local,
            SockAddr::Inet("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!((e[0].recv_q, e[0].uid, e[0].inode), (3, Some(1000), 4242));
        assert_eq!(e[1].state, State::Established);
        assert_eq!(e[1].remote.port(), Some(8080));
        assert_eq!(e[1].send_q, 10);
        assert!(e.iter().all(|e| e.source == Source::ProcNet));
    }

    #[test]
    fn tcp6_and_raw_lines_decode() {
        let text = "header\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0\n";
        let e = parse(Table::Tcp6, text);
        assert_eq!(e[0].local, SockAddr::Inet("[::1]:22".parse().unwrap()));
        let raw = "header\n   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0 0\n";
        let e = parse(Table::Raw, raw);
        assert_eq!(
            (e[0].kind, e[0].protocol, e[0].inode),
            (Kind::Raw, Some(1), 99)
        );
        assert_eq!(e[0].state, State::Unconnected);
    }

    #[test]
    fn the_live_tcp_table_lists_a_listener_of_ours() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let e = read(Table::Tcp).unwrap();
        assert!(e
            .iter()
            .any(|e| e.state == State::Listen && e.local.port() == Some(port)));
    }

    #[test]
    fn unix_lines_decode() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 100 /run/a b.sock
0000000000000000: 00000003 00000000 00000000 0001 03 101
0000000000000000: 00000002 00000000 00000000 0002 01 102 @name@x
0000000000000000: 00000002 00000000 00000000 0005 03 103
";
        let e = parse(Table::Unix, text);
        assert_eq!(e.len(), 4);
        assert_eq!((e[0].kind, e[0].state), (Kind::Unix, State::Listen));
        assert_eq!(e[0].local.unix_name().unwrap().to_string(), "/run/a b.sock");
        assert_eq!(e[1].state, State::Established);
        assert_eq!(e[1].local, SockAddr::Unix(None));
        assert_eq!(
            (e[2].kind, e[2].state),
            (Kind::UnixDgram, State::Unconnected)
        );
        assert_eq!(e[2].local.unix_name().unwrap().to_string(), "@name@x");
        assert_eq!(e[3].kind, Kind::Seqpacket);
    }

    #[test]
    fn packet_and_netlink_lines_decode() {
        let text = "sk               RefCnt Type Proto  Iface R Rmem   User   Inode\nffff8881 3      3    0003   2     1 0      1000   555\n";
        let e = parse(Table::Packet, text);
        assert_eq!(
            e[0].local,
            SockAddr::Packet {
                protocol: 3,
                ifindex: 2
            }
        );
        assert_eq!((e[0].uid, e[0].inode), (Some(1000), 555));
        let text = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\nffff8881 0   4321       00000000 0        0        0     2        0        666\n";
        let e = parse(Table::Netlink, text);
        assert_eq!((e[0].inode, e[0].protocol), (666, Some(0)));
        assert_eq!(
            e[0].local,
            SockAddr::Netlink {
                protocol: 0,
                portid: 4321,
                group: 0
            }
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_text_parses_without_panic(text in "\\PC{0,300}", t in 0usize..9) {
            let tables = [Table::Tcp, Table::Tcp6, Table::Udp, Table::Udp6, Table::Raw,
                Table::Raw6, Table::Unix, Table::Packet, Table::Netlink];
            let _ = parse(tables[t], &format!("header\n{text}"));
        }

        #[test]
        fn generated_tcp_lines_round_trip(ip in any::<[u8; 4]>(), port in any::<u16>(),
            state in 1u8..=11, inode in any::<u32>(), uid in any::<u32>()) {
            let word = u32::from_ne_bytes(ip);
            let line = format!(
                "   0: {word:08X}:{port:04X} 00000000:0000 {state:02X} 00000000:00000000 00:00000000 00000000 {uid} 0 {inode} 1 0"
            );
            let e = parse(Table::Tcp, &format!("header\n{line}\n"));
            prop_assert_eq!(e.len(), 1);
            prop_assert_eq!(&e[0].local, &SockAddr::Inet(SocketAddr::from((ip, port))));
            prop_assert_eq!(e[0].state, State::from_kernel(state));
            prop_assert_eq!((e[0].inode, e[0].uid), (u64::from(inode), Some(uid)));
        }
    }
}
