//! Seeing the traffic: the relay's tap and the views it feeds (`--dump`, `--pcap`, `--record`,
//! `sockbox socat -v`).
//!
//! A [`Tap`] is one per run (one server, one `connect`): it numbers connections as they open
//! and carries their [`Event`]s (open, data, descriptors, shutdown, reset, close) over a bounded
//! channel to one writer thread, which hands each event to every [`View`] (the text or hex dump,
//! JSON lines, pcapng, raw files per direction). The copy never formats or writes anything
//! itself: it copies the chunk it just moved into a recycled buffer and queues it.
//!
//! The relay sees the tap through `Hook`, chosen once when a direction starts, like its copy
//! path: a direction without one keeps its zero-copy path untouched; with one, stream
//! directions take the buffered copy and call the hook after each chunk is written. Fault
//! injection will be another `Hook` variant on the same points.
//!
//! A slow or vanished consumer never holds the copy for long: a queue that stays full for
//! [`STALL`] ends the tap (one warning), and so does a view whose writes fail (its reader went
//! away, the disk is full): that view is dropped with a warning and the others go on. The
//! traffic matters more than its copy.

pub mod json;
pub mod pcap;
pub mod record;
pub mod socat;
pub mod text;
mod time;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::endpoint::{Conn, Peer};
use crate::fdpass::{self, FdInfo};
use crate::relay::Flow;

pub use time::{civil_utc, TimeStyle};

/// A full queue for this long ends the tap: the dump's reader is stuck (a paused terminal, a
/// pipe nobody reads), and the relay must not wait on it.
pub const STALL: Duration = Duration::from_secs(2);

/// Events queued between the copy and the writer thread. With chunks up to the relay's buffer
/// (1 MiB) this bounds the memory a fast relay can get ahead of its views by (16 MiB).
const QUEUE: usize = 16;

/// Recycled data buffers kept for reuse: allocating (and faulting in) a fresh 1 MiB buffer per
/// chunk cost more than the copy into it.
const POOL: usize = 8;

/// A direction of a connection: from its first side (A: the client, stdin for `connect`) to the
/// second (B), or back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Dir {
    /// A to B, shown `>`.
    #[serde(rename = "a2b")]
    AtoB,
    /// B to A, shown `<`.
    #[serde(rename = "b2a")]
    BtoA,
}

impl Dir {
    /// `>` for A to B, `<` for B to A.
    pub fn arrow(self) -> char {
        match self {
            Dir::AtoB => '>',
            Dir::BtoA => '<',
        }
    }

    /// `a2b` or `b2a`: the name in JSON and in `--record` file names.
    pub fn name(self) -> &'static str {
        match self {
            Dir::AtoB => "a2b",
            Dir::BtoA => "b2a",
        }
    }

    /// 0 for A to B, 1 for B to A: an index into per-direction state.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The side that sends in this direction.
    pub fn sender(self) -> SideId {
        match self {
            Dir::AtoB => SideId::A,
            Dir::BtoA => SideId::B,
        }
    }
}

/// One of the two sides of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SideId {
    A,
    B,
}

/// One side of a connection as the views show it.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    /// The connection's label: the address opened, or the peer accepted (address for inet,
    /// pid/uid/gid and process for Unix).
    pub address: String,
    /// The peer, when known: its address, or its credentials (`SO_PEERCRED`).
    pub peer: Option<Peer>,
}

impl Side {
    pub(crate) fn of(c: &Conn) -> Side {
        Side {
            address: c.label.to_string(),
            peer: c.peer.clone(),
        }
    }

    /// A side that is not a connection (the echo of `listen --echo`).
    pub fn named(name: &str) -> Side {
        Side {
            address: name.to_string(),
            peer: None,
        }
    }

    /// The process behind this side, when the kernel told (`SO_PEERCRED`).
    pub fn pid(&self) -> Option<(i32, Option<&str>)> {
        match &self.peer {
            Some(Peer::Unix { cred: Some(c), .. }) => Some((c.pid, c.process.as_deref())),
            _ => None,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.address)?;
        if let Some(p) = &self.peer {
            let p = p.to_string();
            if p != self.address {
                write!(f, " ({p})")?;
            }
        }
        Ok(())
    }
}

/// What happened.
#[derive(Debug)]
pub enum What {
    /// A connection began. `messages`: it carries messages (datagram, seqpacket or `frame=`),
    /// not a byte stream.
    Open { a: Side, b: Side, messages: bool },
    /// Bytes moved (after they were written to the far side). `message`: one whole message.
    /// `fds`: descriptors passed with these bytes (`relay --pass-fds`), described as `fd recv`
    /// describes them.
    Data {
        dir: Dir,
        data: Vec<u8>,
        message: bool,
        fds: Vec<FdInfo>,
    },
    /// End of stream one way: the sender shut down its side; the sink's side was shut down too.
    Shutdown { dir: Dir },
    /// A side reset the connection (`ECONNRESET`).
    Reset { by: SideId, error: String },
    /// The connection ended, with what moved each way.
    Close { a2b: Flow, b2a: Flow },
}

/// One event of one connection.
#[derive(Debug)]
pub struct Event {
    /// The connection's number, from 1, in the order connections opened.
    pub conn: u64,
    pub time: SystemTime,
    pub what: What,
}

/// A consumer of events, run on the tap's writer thread. An error ends this view (with a
/// warning) and leaves the others and the relay running.
pub trait View: Send {
    /// What this view is, for the warning when it ends: `dump to stderr`, `pcap to x.pcapng`.
    fn name(&self) -> String;
    fn event(&mut self, ev: &Event) -> io::Result<()>;
    /// Push out what is buffered: called whenever the queue runs empty.
    fn flush(&mut self) -> io::Result<()>;
}

enum Msg {
    Event(Event),
    /// Flush every view and answer.
    Sync(std::sync::mpsc::Sender<()>),
}

/// The traffic tap of one run: connection numbers, the queue and its writer thread.
pub struct Tap {
    tx: mpsc::Sender<Msg>,
    next: AtomicU64,
    /// Set when the views have all ended or the queue stalled: nothing is queued any more.
    dead: Arc<AtomicBool>,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("connections", &self.next.load(Ordering::Relaxed))
            .finish()
    }
}

impl Tap {
    /// Start the writer thread over `views`.
    pub fn start(views: Vec<Box<dyn View>>) -> io::Result<Arc<Tap>> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dead = Arc::new(AtomicBool::new(false));
        let pool = Arc::new(Mutex::new(Vec::new()));
        let (d, p) = (dead.clone(), pool.clone());
        std::thread::Builder::new()
            .name("sockbox-tap".into())
            .spawn(move || write_views(rx, views, &d, &p))?;
        Ok(Arc::new(Tap {
            tx,
            next: AtomicU64::new(0),
            dead,
            pool,
        }))
    }

    /// A new connection between `a` and `b`: numbers it and queues its open event.
    pub(crate) async fn open(self: &Arc<Self>, a: &Conn, b: &Conn) -> ConnTap {
        self.open_sides(
            Side::of(a),
            Side::of(b),
            carries_messages(a) || carries_messages(b),
        )
        .await
    }

    pub(crate) async fn open_sides(self: &Arc<Self>, a: Side, b: Side, messages: bool) -> ConnTap {
        let conn = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let t = ConnTap {
            tap: self.clone(),
            conn,
        };
        t.send(What::Open { a, b, messages }).await;
        t
    }

    /// Wait (at most `timeout`) until every event queued so far has been written and flushed:
    /// the binary calls this before it exits.
    pub async fn sync(&self, timeout: Duration) {
        if self.dead.load(Ordering::Relaxed) {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send_timeout(Msg::Sync(tx), timeout).await.is_err() {
            return;
        }
        let _ = tokio::task::spawn_blocking(move || rx.recv_timeout(timeout)).await;
    }

    fn pooled(&self) -> Vec<u8> {
        self.pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default()
    }

    fn buffer(&self, data: &[u8]) -> Vec<u8> {
        let mut v = self.pooled();
        v.clear();
        v.extend_from_slice(data);
        v
    }

    async fn send(&self, conn: u64, what: What) {
        if self.dead.load(Ordering::Relaxed) {
            return;
        }
        let ev = Msg::Event(Event {
            conn,
            time: SystemTime::now(),
            what,
        });
        let ev = match self.tx.try_send(ev) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Closed(_)) => return self.end(None),
            Err(mpsc::error::TrySendError::Full(ev)) => ev,
        };
        match self.tx.send_timeout(ev, STALL).await {
            Ok(()) => {}
            Err(mpsc::error::SendTimeoutError::Closed(_)) => self.end(None),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => self.end(Some(
                "the traffic dump's reader took nothing for 2s: dump ended, the relay goes on",
            )),
        }
    }

    fn end(&self, why: Option<&str>) {
        if !self.dead.swap(true, Ordering::Relaxed) {
            if let Some(why) = why {
                tracing::warn!("{why}");
            }
        }
    }
}

fn carries_messages(c: &Conn) -> bool {
    c.transfer == crate::addr::Transfer::Message || c.framing.is_some()
}

/// The writer thread: each event to each view; views flushed whenever the queue is empty.
fn write_views(
    mut rx: mpsc::Receiver<Msg>,
    mut views: Vec<Box<dyn View>>,
    dead: &AtomicBool,
    pool: &Mutex<Vec<Vec<u8>>>,
) {
    let drop_failed = |views: &mut Vec<Box<dyn View>>, i: usize, e: io::Error| {
        let v = views.remove(i);
        tracing::warn!("{}: {e}: stopped; the relay goes on", v.name());
    };
    let mut pending = false;
    loop {
        let msg = match rx.try_recv() {
            Ok(m) => Some(m),
            Err(mpsc::error::TryRecvError::Empty) => {
                if pending {
                    let mut i = 0;
                    while i < views.len() {
                        match views[i].flush() {
                            Ok(()) => i += 1,
                            Err(e) => drop_failed(&mut views, i, e),
                        }
                    }
                }
                rx.blocking_recv()
            }
            Err(mpsc::error::TryRecvError::Disconnected) => None,
        };
        let Some(msg) = msg else {
            break;
        };
        match msg {
            Msg::Event(ev) => {
                let mut i = 0;
                while i < views.len() {
                    match views[i].event(&ev) {
                        Ok(()) => i += 1,
                        Err(e) => drop_failed(&mut views, i, e),
                    }
                }
                pending = true;
                if let What::Data { data, .. } = ev.what {
                    if let Ok(mut p) = pool.lock() {
                        if p.len() < POOL {
                            p.push(data);
                        }
                    }
                }
            }
            Msg::Sync(done) => {
                for v in &mut views {
                    let _ = v.flush();
                }
                pending = false;
                let _ = done.send(());
            }
        }
        if views.is_empty() {
            dead.store(true, Ordering::Relaxed);
            break;
        }
    }
    for v in &mut views {
        let _ = v.flush();
    }
}

/// One connection's way into the tap.
#[derive(Clone, Debug)]
pub(crate) struct ConnTap {
    tap: Arc<Tap>,
    conn: u64,
}

impl ConnTap {
    async fn send(&self, what: What) {
        self.tap.send(self.conn, what).await;
    }

    /// The hook of one direction.
    pub(crate) fn hook(&self, dir: Dir) -> Hook {
        Hook::Tap(DirTap {
            conn: self.clone(),
            dir,
            echoed: false,
        })
    }

    /// The hook of an echo (`--echo`): one copy, A to B, whose sink is A itself, so each
    /// chunk, and the end of stream, is shown both ways.
    pub(crate) fn echo_hook(&self) -> Hook {
        Hook::Tap(DirTap {
            conn: self.clone(),
            dir: Dir::AtoB,
            echoed: true,
        })
    }

    pub(crate) async fn close(&self, a2b: Flow, b2a: Flow) {
        self.send(What::Close { a2b, b2a }).await;
    }
}

/// A tap on one direction.
#[derive(Debug)]
pub(crate) struct DirTap {
    conn: ConnTap,
    dir: Dir,
    /// What moves A to B is written back to A (an echo): B to A moves the same bytes.
    echoed: bool,
}

impl DirTap {
    /// `data` moved in this direction and, echoed, back (in a second buffer: the views keep
    /// each event's own).
    async fn moved(&self, data: Vec<u8>, message: bool, fds: Vec<FdInfo>) {
        let back = self.echoed.then(|| self.conn.tap.buffer(&data));
        let dir = self.dir;
        self.conn
            .send(What::Data {
                dir,
                data,
                message,
                fds,
            })
            .await;
        if let Some(data) = back {
            let (dir, fds) = (Dir::BtoA, Vec::new());
            self.conn
                .send(What::Data {
                    dir,
                    data,
                    message,
                    fds,
                })
                .await;
        }
    }
}

/// What a direction's copy calls at each point: after a chunk or message is written, at end of
/// stream, at a reset. Chosen once per direction; `None` keeps the plain (zero-copy) path.
/// Fault injection (latency, rate, resets) will be a second variant on the same points.
#[derive(Debug)]
pub(crate) enum Hook {
    Tap(DirTap),
}

impl Hook {
    /// `data` was moved (written to the sink); `message`: it was one whole message.
    pub(crate) async fn data(&mut self, data: &[u8], message: bool) {
        match self {
            Hook::Tap(t) => t.moved(t.conn.tap.buffer(data), message, Vec::new()).await,
        }
    }

    /// The first `n` bytes of `buf` were moved: the buffer itself goes to the views (no copy),
    /// and `buf` is replaced by a recycled one of the same length for the next read.
    pub(crate) async fn data_swap(&mut self, buf: &mut Vec<u8>, n: usize) {
        match self {
            Hook::Tap(t) => {
                let len = buf.len();
                let mut next = t.conn.tap.pooled();
                // Recycled buffers come back full-length after bulk reads: nothing to zero.
                next.resize(len, 0);
                let mut data = std::mem::replace(buf, next);
                data.truncate(n);
                t.moved(data, false, Vec::new()).await;
            }
        }
    }

    /// `data` was moved together with the descriptors `fds` (`relay --pass-fds`).
    pub(crate) async fn data_with_fds(&mut self, data: &[u8], message: bool, fds: &[OwnedFd]) {
        match self {
            Hook::Tap(t) => {
                let fds = fds
                    .iter()
                    .filter_map(|fd| fdpass::describe(fd.as_fd()).ok())
                    .collect();
                t.moved(t.conn.tap.buffer(data), message, fds).await;
            }
        }
    }

    /// End of stream in this direction; the sink's write side has been shut down (echoed:
    /// the echo's end of stream, B to A, too).
    pub(crate) async fn shutdown(&mut self) {
        match self {
            Hook::Tap(t) => {
                t.conn.send(What::Shutdown { dir: t.dir }).await;
                if t.echoed {
                    t.conn.send(What::Shutdown { dir: Dir::BtoA }).await;
                }
            }
        }
    }

    /// A side reset the connection: the source when reading failed, the sink when writing did
    /// (echoed, both are A's socket: A reset it).
    pub(crate) async fn reset(&mut self, by: SideId, err: &io::Error) {
        match self {
            Hook::Tap(t) => {
                t.conn
                    .send(What::Reset {
                        by: if t.echoed { SideId::A } else { by },
                        error: err.to_string(),
                    })
                    .await;
            }
        }
    }

    /// Which direction this hook is on.
    pub(crate) fn dir(&self) -> Dir {
        match self {
            Hook::Tap(t) => t.dir,
        }
    }
}

/// True for the error a reset connection reads or writes.
pub(crate) fn is_reset(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ECONNRESET)
}
