//! Connections as they close: sock_diag's destroy broadcasts, and who owned them.
//!
//! The kernel broadcasts an `inet_diag_msg` on the `NETLINK_SOCK_DIAG` multicast groups
//! `SKNLGRP_INET{,6}_{TCP,UDP}_DESTROY` when it frees a TCP or UDP socket, with the final
//! `tcp_info` (bytes, RTT, retransmits) and the socket's cookie; joining the groups needs no
//! privilege (`ss -E` does the same). The socket's descriptor is gone by then, so its owner
//! cannot be read from `/proc`: an [`OwnerCache`] remembers the owners of the sockets a dump
//! saw, by cookie, and a socket that opened and closed between two dumps shows as its uid.
//!
//! The kernel does not broadcast opens. [`OwnerCache::refresh`] reports the TCP connections a
//! dump sees for the first time, so a watcher can show opens at the pace of its dumps.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use netlink_packet_core::{NetlinkBuffer, NLMSG_DONE, NLMSG_ERROR};
use netlink_packet_sock_diag::constants::SOCK_DIAG_BY_FAMILY;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use rustc_hash::FxHashSet;

use crate::error::io_err;
use crate::inspect::{netlink, proc, Kind, KindSet, Process, SocketEntry, State};
use crate::Result;

/// `linux/sock_diag.h`: `SKNLGRP_INET_TCP_DESTROY` = 1 ... `SKNLGRP_INET6_UDP_DESTROY` = 4.
const GROUP_TCP4: u32 = 1;
const GROUP_UDP4: u32 = 2;
const GROUP_TCP6: u32 = 3;
const GROUP_UDP6: u32 = 4;

/// Receive buffer asked for: a burst of closes waits here while a dump runs. Without
/// privilege the kernel caps it at `net.core.rmem_max`; what does not fit is lost and
/// counted (ENOBUFS), never waited for.
const RECV_BUFFER_WANTED: usize = 8 << 20;

/// What one wait on the destroy groups gave.
#[derive(Debug, Default)]
pub struct Received {
    /// Sockets the kernel destroyed, in order, with their final counters.
    pub destroyed: Vec<SocketEntry>,
    /// True when the kernel dropped broadcasts because the receive buffer was full
    /// (`ENOBUFS`): how many is not known, only that some were.
    pub overflowed: bool,
}

/// A subscription to the destroy broadcasts of TCP and/or UDP over IPv4 and IPv6.
pub struct DestroyEvents {
    socket: netlink_sys::Socket,
    buf: Vec<u8>,
    /// Times the kernel reported lost broadcasts.
    pub overflows: u64,
}

impl DestroyEvents {
    /// Join the destroy groups of the kinds asked for (TCP and UDP; other kinds have none).
    pub fn subscribe(kinds: KindSet) -> Result<Self> {
        let fail = io_err("subscribe to", "sock_diag destroy events");
        let mut socket = netlink_sys::Socket::new(NETLINK_SOCK_DIAG).map_err(fail)?;
        socket
            .bind_auto()
            .map_err(io_err("bind", "sock_diag socket"))?;
        // Best effort: a smaller buffer only means losses come sooner, and they are counted.
        let _ = socket.set_rx_buf_sz(RECV_BUFFER_WANTED);
        let mut groups = Vec::new();
        if kinds.contains(Kind::Tcp) {
            groups.extend([GROUP_TCP4, GROUP_TCP6]);
        }
        if kinds.contains(Kind::Udp) {
            groups.extend([GROUP_UDP4, GROUP_UDP6]);
        }
        for g in groups {
            socket
                .add_membership(g)
                .map_err(io_err("join sock_diag group", g))?;
        }
        Ok(DestroyEvents {
            socket,
            buf: vec![0; 64 * 1024],
            overflows: 0,
        })
    }

    /// Wait up to `timeout` for broadcasts (zero: take what is queued, do not wait); returns
    /// every message one read gave.
    pub fn receive(&mut self, timeout: Duration) -> Result<Received> {
        let mut got = Received::default();
        let tv = if timeout.is_zero() {
            // SO_RCVTIMEO of zero means "for ever": use a non-blocking read instead.
            None
        } else {
            Some(nix::sys::time::TimeVal::new(
                timeout.as_secs() as i64,
                timeout.subsec_micros() as i64,
            ))
        };
        let flags = match tv {
            Some(tv) => {
                nix::sys::socket::setsockopt(
                    &self.socket,
                    nix::sys::socket::sockopt::ReceiveTimeout,
                    &tv,
                )
                .map_err(|e| io_err("setsockopt SO_RCVTIMEO", "sock_diag socket")(e.into()))?;
                0
            }
            None => libc::MSG_DONTWAIT,
        };
        match self.socket.recv(&mut &mut self.buf[..], flags) {
            Ok(n) => {
                decode_broadcasts(&self.buf[..n.min(self.buf.len())], &mut got.destroyed);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                self.overflows += 1;
                got.overflowed = true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(io_err("recv", "sock_diag destroy events")(e)),
        }
        Ok(got)
    }

    /// Everything queued now, without waiting.
    pub fn drain(&mut self) -> Result<Received> {
        let mut all = Received::default();
        // Bounded: a host closing connections faster than this loop reads is not waited out.
        for _ in 0..4096 {
            let got = self.receive(Duration::ZERO)?;
            let empty = got.destroyed.is_empty() && !got.overflowed;
            all.destroyed.extend(got.destroyed);
            all.overflowed |= got.overflowed;
            if empty {
                break;
            }
        }
        Ok(all)
    }
}

/// Decode the destroy messages in one read; anything else (or anything malformed) is skipped.
pub fn decode_broadcasts(bytes: &[u8], out: &mut Vec<SocketEntry>) {
    let mut offset = 0;
    while offset < bytes.len() {
        let Ok(msg) = NetlinkBuffer::new_checked(&bytes[offset..]) else {
            return;
        };
        let length = msg.length() as usize;
        match msg.message_type() {
            SOCK_DIAG_BY_FAMILY => {
                if let Some(e) = netlink::decode_destroyed(msg.payload()) {
                    out.push(e);
                }
            }
            NLMSG_DONE | NLMSG_ERROR => {}
            _ => {}
        }
        let step = (length + 3) & !3;
        if step == 0 {
            return;
        }
        offset = offset.saturating_add(step);
    }
}

/// The processes that held each TCP/UDP socket the last dump saw, by cookie.
#[derive(Debug, Default)]
pub struct OwnerCache {
    owners: HashMap<u64, Vec<Process>>,
    /// Cookies of the connections seen by the last refresh.
    seen: FxHashSet<u64>,
    refreshed: bool,
    /// Processes whose descriptors could not be read at the last refresh.
    pub unreadable: usize,
}

impl OwnerCache {
    /// Dump `kinds` (TCP, UDP), walk `/proc` for their owners, and remember them. Returns the
    /// TCP connections (not listeners, not TIME-WAIT) this refresh saw for the first time;
    /// none on the first refresh, whose sockets were open before the watch began.
    pub fn refresh(&mut self, kinds: KindSet) -> Result<Vec<(SocketEntry, Vec<Process>)>> {
        let inet = [Kind::Tcp, Kind::Udp]
            .into_iter()
            .filter(|k| kinds.contains(*k))
            .fold(KindSet::default(), |s, k| s.with(k));
        let (sockets, _) = netlink::dump_kinds(inet, false)?;
        let wanted: FxHashSet<u64> = sockets
            .iter()
            .filter(|e| e.inode != 0)
            .map(|e| e.inode)
            .collect();
        let walk = proc::walk(&proc::Scope::All, &wanted)?;
        self.unreadable = walk.unreadable;
        let mut owners = HashMap::with_capacity(sockets.len());
        let mut seen = FxHashSet::default();
        let mut opened = Vec::new();
        for e in sockets {
            if e.cookie == 0 {
                continue;
            }
            let procs: Vec<Process> = walk
                .owners
                .get(&e.inode)
                .map(|os| {
                    let mut ps: Vec<Process> = Vec::new();
                    for o in os {
                        if ps.iter().all(|p| p.pid != o.pid) {
                            ps.push(walk.processes.get(&o.pid).cloned().unwrap_or(Process {
                                pid: o.pid,
                                ..Process::default()
                            }));
                        }
                    }
                    ps
                })
                .unwrap_or_default();
            let connection = e.kind == Kind::Tcp
                && e.inode != 0
                && !matches!(e.state, State::Listen | State::TimeWait);
            if connection {
                seen.insert(e.cookie);
                if self.refreshed && !self.seen.contains(&e.cookie) {
                    opened.push((e.clone(), procs.clone()));
                }
            }
            // A socket seen before keeps its owners when this walk found none (its holder
            // closed the descriptor and the kernel has not freed it yet).
            if procs.is_empty() {
                if let Some(old) = self.owners.remove(&e.cookie) {
                    owners.insert(e.cookie, old);
                    continue;
                }
            }
            owners.insert(e.cookie, procs);
        }
        self.owners = owners;
        self.seen = seen;
        self.refreshed = true;
        Ok(opened)
    }

    /// The owners of a socket by cookie (empty when they were never seen).
    pub fn owners(&self, cookie: u64) -> &[Process] {
        self.owners.get(&cookie).map_or(&[], Vec::as_slice)
    }

    /// Forget a destroyed socket.
    pub fn forget(&mut self, cookie: u64) {
        self.owners.remove(&cookie);
        self.seen.remove(&cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_closed_connection_is_broadcast_with_its_final_counters() {
        let mut events = DestroyEvents::subscribe(KindSet::default().with(Kind::Tcp)).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let port = client.local_addr().unwrap().port();
        client.write_all(&[7u8; 12345]).unwrap();
        let mut got = vec![0u8; 12345];
        server.read_exact(&mut got).unwrap();
        drop(client);
        drop(server);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let found = loop {
            assert!(std::time::Instant::now() < deadline, "no destroy event");
            let r = events.receive(Duration::from_millis(200)).unwrap();
            if let Some(e) = r
                .destroyed
                .into_iter()
                .find(|e| e.local.port() == Some(port))
            {
                break e;
            }
        };
        assert_ne!(found.cookie, 0);
        let info = found.tcp_info.expect("destroy events carry tcp_info");
        assert_eq!(info.bytes_sent, Some(12345));
    }

    #[test]
    fn garbage_is_skipped() {
        let mut out = Vec::new();
        decode_broadcasts(&[0xff; 40], &mut out);
        decode_broadcasts(&[], &mut out);
        assert!(out.is_empty());
    }
}
