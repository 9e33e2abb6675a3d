//! Datagram "connections": a bound UDP or Unix datagram socket, demultiplexed by peer.
//!
//! A datagram socket has no accept, but `listen --keep` and `relay` want one conversation per
//! client, as socat's `UDP-LISTEN,fork` gives. A task owns the socket's receive side and keeps
//! one channel per peer address: the first datagram from a new peer yields a new [`Conn`] whose
//! reader is that channel and whose writer sends back to the peer on the same socket. A
//! conversation ends when its `Conn` is dropped (the relay's idle timeout); a later datagram
//! from that peer starts a new one. A peer that does not keep up loses datagrams rather than
//! stalling everyone (the queue per peer is bounded), which is what UDP would do anyway.
//!
//! With `merge` (socat's `UDP-RECV`) there is no demultiplexing: the first accept hands out
//! the socket itself as one connection, at once, reading every sender's datagrams in arrival
//! order; there is no one peer to answer, so what is written to it is dropped. The relay then
//! opens its other side without waiting for a first datagram, and its time limits (`--linger`,
//! `--idle-timeout`) and the other side's end of stream end the connection, as with socat.
//!
//! A new source is let in only when the listener's access rules allow its address
//! ([`AllowPeers::check_ip`]) and fewer than the peer cap (`--max-conns`) are in conversation;
//! otherwise its datagrams are dropped, no `Conn` is made, and one warning says so per source
//! (not per datagram: a refused sender would flood the log). The task starts on the listener's
//! first accept, after the rules are set, so the first datagram is judged too.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use nix::sys::socket::SockaddrStorage;
use tokio::sync::mpsc;

use super::{
    fdio, unix, AllowPeers, Conn, Fd, Medium, Peer, Reader, Refusal, Sink, Source, Writer,
};
use crate::addr::Transfer;

/// Datagrams queued per peer before further ones are dropped.
const QUEUE: usize = 256;
/// Largest datagram: UDP's limit is 65507; a Unix datagram can be larger, up to the socket
/// buffer. 256 KiB covers the default `wmem` limit.
pub(crate) const MAX_DATAGRAM: usize = 256 * 1024;

/// Sources remembered as refused (or turned away over the cap) so each is logged once; past
/// this many the memory is cleared, so a flood of spoofed sources costs bounded memory.
const REMEMBERED: usize = 4096;

/// The peers of a bound datagram socket, as a listener hands them out.
pub(crate) struct Peers {
    /// The socket is UDP (peers have IP addresses), not Unix.
    pub(crate) inet: bool,
    max: Option<usize>,
    /// The socket until the first accept starts the task.
    idle: Option<Fd>,
    new_peers: Option<mpsc::Receiver<Conn>>,
    /// `merge`: the socket is one connection, for every sender (no task, no channels).
    pub(crate) merged: Option<String>,
}

impl Peers {
    pub(crate) fn new(fd: Fd, inet: bool) -> Peers {
        Peers {
            inet,
            max: None,
            idle: Some(fd),
            new_peers: None,
            merged: None,
        }
    }

    /// Hand out the socket as one connection for every sender, labelled `label` (`merge`).
    pub(crate) fn merge(&mut self, label: String) {
        self.merged = Some(label);
    }

    /// At most `max` conversations at once.
    pub(crate) fn cap(&mut self, max: usize) {
        self.max = Some(max);
    }

    /// The next new peer; the first call starts demultiplexing under `allow`. Cancel-safe.
    pub(crate) async fn next(&mut self, allow: Option<&AllowPeers>) -> Option<Conn> {
        if let Some(label) = &self.merged {
            // The one connection, then no more.
            return self.idle.take().map(|fd| merged_conn(fd, label));
        }
        if let Some(fd) = self.idle.take() {
            let gate = Gate {
                allow: allow.cloned(),
                max: self.max,
                refused: HashSet::new(),
                over: HashSet::new(),
            };
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(run(Arc::new(fd), tx, gate));
            self.new_peers = Some(rx);
        }
        self.new_peers.as_mut()?.recv().await
    }
}

/// The socket as one connection: it reads every sender's datagrams (`recv(2)` on the unbound
/// peer side), and its writer has no address to send to, so it drops what it is given.
fn merged_conn(fd: Fd, label: &str) -> Conn {
    let fd = Arc::new(fd);
    crate::narrate!(
        "{label}: every sender's datagrams in one connection (merge); replies are dropped"
    );
    let mut conn = Conn::new(format!("{label} (every sender)"), Transfer::Message, None);
    conn.reader = Some(Reader {
        src: Source::Fd(fd.clone()),
        medium: Medium::Datagram,
        endless: true,
    });
    conn.writer = Some(Writer {
        dst: Sink::SendTo(fd, None),
        medium: Medium::Datagram,
        shutdown: false,
    });
    conn
}

type Conversations = HashMap<String, mpsc::Sender<Vec<u8>>>;

/// Which new sources may start a conversation.
struct Gate {
    allow: Option<AllowPeers>,
    max: Option<usize>,
    /// Sources refused by the rules (their datagrams are dropped without a second look).
    refused: HashSet<String>,
    /// Sources turned away over the cap and warned about.
    over: HashSet<String>,
}

impl Gate {
    /// Whether the source `key` may start a conversation now; logs the first refusal of each.
    fn admits(&mut self, key: &str, peer: Option<&Peer>, live: &mut Conversations) -> bool {
        if let Some(allow) = &self.allow {
            if self.refused.contains(key) {
                return false;
            }
            let verdict = match peer {
                Some(Peer::Inet { addr }) => allow.check_ip(addr.ip()),
                _ => Err(Refusal::Unchecked),
            };
            if let Err(why) = verdict {
                tracing::warn!("refused {key}: {why} (its datagrams are dropped)");
                remember(&mut self.refused, key);
                return false;
            }
        }
        if let Some(max) = self.max {
            live.retain(|_, tx| !tx.is_closed());
            if live.len() >= max {
                if !self.over.contains(key) {
                    tracing::warn!(
                        "dropping datagrams from {key}: --max-conns {max} peers already in \
                         conversation"
                    );
                    remember(&mut self.over, key);
                }
                return false;
            }
            self.over.remove(key);
        }
        true
    }
}

fn remember(set: &mut HashSet<String>, key: &str) {
    if set.len() >= REMEMBERED {
        set.clear();
    }
    set.insert(key.to_string());
}

async fn run(fd: Arc<Fd>, new_peers: mpsc::Sender<Conn>, mut gate: Gate) {
    let mut peers = Conversations::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut dropped = 0u64;
    loop {
        let (n, from) = match fdio::recv_from(&fd, &mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("receiving datagrams: {e}");
                return;
            }
        };
        let (key, peer) = describe(from.as_ref());
        let msg = buf[..n].to_vec();
        if let Some(tx) = peers.get(&key) {
            match tx.try_send(msg) {
                Ok(()) => continue,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    if dropped.is_power_of_two() {
                        tracing::warn!("{key}: reader too slow, {dropped} datagrams dropped");
                    }
                    continue;
                }
                // The conversation ended: this datagram starts a new one.
                Err(mpsc::error::TrySendError::Closed(m)) => {
                    peers.remove(&key);
                    if !gate.admits(&key, peer.as_ref(), &mut peers) {
                        continue;
                    }
                    if !start_conversation(&fd, &new_peers, &mut peers, key, peer, from, m).await {
                        return;
                    }
                }
            }
        } else if !gate.admits(&key, peer.as_ref(), &mut peers) {
            continue;
        } else if !start_conversation(&fd, &new_peers, &mut peers, key, peer, from, msg).await {
            return;
        }
    }
}

async fn start_conversation(
    fd: &Arc<Fd>,
    new_peers: &mpsc::Sender<Conn>,
    peers: &mut Conversations,
    key: String,
    peer: Option<Peer>,
    from: Option<SockaddrStorage>,
    first: Vec<u8>,
) -> bool {
    let (tx, rx) = mpsc::channel(QUEUE);
    let _ = tx.try_send(first);
    crate::narrate!(
        "recvfrom(fd {}) = new peer {key}",
        std::os::fd::AsRawFd::as_raw_fd(&**fd)
    );
    let mut conn = Conn::new(key.clone(), Transfer::Message, None);
    conn.peer = peer;
    conn.reader = Some(Reader {
        src: Source::Chan(rx),
        medium: Medium::Datagram,
        endless: true,
    });
    // An unnamed Unix peer cannot be answered: its writer drops replies.
    let reply_to = from.filter(|a| !unix::is_unnamed(a));
    conn.writer = Some(Writer {
        dst: Sink::SendTo(fd.clone(), reply_to),
        medium: Medium::Datagram,
        shutdown: false,
    });
    peers.insert(key, tx);
    // The listener's owner went away: stop.
    new_peers.send(conn).await.is_ok()
}

/// A stable key and a `Peer` for a datagram's source address.
fn describe(from: Option<&SockaddrStorage>) -> (String, Option<Peer>) {
    match from {
        Some(a) => {
            if let Some(sin) = a.as_sockaddr_in() {
                let addr = std::net::SocketAddr::V4((*sin).into());
                return (addr.to_string(), Some(Peer::Inet { addr }));
            }
            if let Some(sin6) = a.as_sockaddr_in6() {
                let addr = std::net::SocketAddr::V6((*sin6).into());
                return (addr.to_string(), Some(Peer::Inet { addr }));
            }
            let name = unix::storage_name(a);
            let key = name.clone().unwrap_or_else(|| "unnamed unix socket".into());
            (key, Some(Peer::Unix { name, cred: None }))
        }
        None => ("unknown peer".into(), None),
    }
}
