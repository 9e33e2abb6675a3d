//! The copy engine: moves data both ways between two [`Conn`]s until both directions end.
//!
//! Each direction runs on its own, so a sink that would block in one direction never stops
//! the other (a relay that blocks in write deadlocks against echoing peers). A direction picks
//! its path once, from what the two ends are:
//! - stream to stream: [`splice`] through a private pipe (zero-copy) or the `buffered` copy,
//!   per [`CopyMode`];
//! - anything involving messages: the `datagram` path, which keeps boundaries and applies
//!   `frame=` codecs.
//!
//! Half-close is honoured: end of stream one way shuts down writing on the other side and the
//! other direction goes on until it ends too. A datagram source cannot end, so once the other
//! direction has ended it is kept only until it has been quiet for [`DATAGRAM_LINGER`].
//! Memory per connection is bounded: one buffer or one pipe per direction, made on the first
//! byte.

mod buffered;
pub(crate) mod datagram;
pub mod fds;
pub mod splice;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::addr::{Address, Framing, Transfer};
use crate::endpoint::{Conn, Medium, Reader, Sink, Source, Writer};
use crate::error::Error;
use crate::frame::{FrameError, DEFAULT_MAX_FRAME};
use datagram::{MsgIn, MsgOut};

/// After the other direction ended, a datagram direction ends once quiet for this long
/// (socat's `-t` does the same, with 0.5 s).
pub const DATAGRAM_LINGER: Duration = Duration::from_secs(1);

/// How stream-to-stream bytes are moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CopyMode {
    /// `splice(2)` where both ends allow it, except into TCP, where a buffered copy measured
    /// faster on this kind of machine (see docs/benchmarks.md).
    #[default]
    Auto,
    /// `splice(2)` wherever both ends allow it.
    Splice,
    /// Always through a user-space buffer.
    Buffered,
}

/// How to relay.
#[derive(Clone, Debug)]
pub struct RelayOptions {
    pub copy: CopyMode,
    /// Largest buffer of the buffered copy (it starts at 64 KiB and grows while reads fill it).
    pub buffer: usize,
    /// End the connection when nothing moved either way for this long.
    pub idle_timeout: Option<Duration>,
    /// Largest frame a `frame=` stream may carry.
    pub max_frame: usize,
    /// Carry `SCM_RIGHTS` descriptors with the bytes (two Unix stream or seqpacket sides; see
    /// [`fds`]).
    pub pass_fds: bool,
    /// Where every connection's counts are summed as they happen, when someone wants them.
    pub live: Option<Arc<LiveTotals>>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            copy: CopyMode::Auto,
            buffer: 1024 * 1024,
            idle_timeout: None,
            max_frame: DEFAULT_MAX_FRAME,
            pass_fds: false,
            live: None,
        }
    }
}

/// Bytes and messages moved in one direction, readable while the relay runs. A connection's
/// meter may feed a server-wide one ([`LiveTotals`]) as it counts.
#[derive(Debug, Default)]
pub struct Meter {
    bytes: AtomicU64,
    messages: AtomicU64,
    parent: Option<Arc<Meter>>,
}

impl Meter {
    /// A meter whose counts also go to `parent`.
    pub(crate) fn feeding(parent: Option<&Arc<Meter>>) -> Meter {
        Meter {
            parent: parent.cloned(),
            ..Meter::default()
        }
    }

    pub(crate) fn add(&self, bytes: u64, messages: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if messages > 0 {
            self.messages.fetch_add(messages, Ordering::Relaxed);
        }
        if let Some(p) = &self.parent {
            p.add(bytes, messages);
        }
    }

    pub fn read(&self) -> Flow {
        Flow {
            bytes: self.bytes.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
        }
    }
}

/// Both directions summed over every connection of a server, as bytes move: the totals of
/// `relay --stats` include connections still open when the relay is stopped (their tasks are
/// cancelled, so their own [`Stats`] never arrive).
#[derive(Debug, Default)]
pub struct LiveTotals {
    pub forward: Arc<Meter>,
    pub backward: Arc<Meter>,
}

/// What moved one way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub bytes: u64,
    /// Messages, when the direction carried messages (0 for a byte stream).
    pub messages: u64,
}

/// Why a relayed connection ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Both directions reached end of stream.
    #[default]
    Closed,
    /// Nothing moved for the idle timeout.
    IdleTimeout,
    /// A reader went away (`EPIPE`): e.g. stdout closed by `| head`.
    OutputClosed,
}

/// What a relayed connection did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// From the first connection to the second (client to server in `relay A B`).
    pub forward: Flow,
    /// From the second to the first.
    pub backward: Flow,
    pub ending: Ending,
}

/// A direction's failure, before it is given the endpoint's name.
#[derive(Debug)]
pub(crate) enum Fault {
    Read(io::Error),
    Write(io::Error),
    Frame(FrameError),
}

enum DirEnd {
    Eof,
    OutputClosed,
}

/// One end as seen by a direction.
struct Side {
    label: String,
    transfer: Transfer,
    framing: Option<Framing>,
}

impl Side {
    fn of(c: &Conn) -> Self {
        Side {
            label: c.label.clone(),
            transfer: c.transfer,
            framing: c.framing,
        }
    }

    fn bytes(&self) -> bool {
        self.transfer == Transfer::Stream && self.framing.is_none()
    }
}

fn use_splice(mode: CopyMode, from: Medium, to: Medium) -> bool {
    let possible = from.splices() && to.splices();
    match mode {
        CopyMode::Splice => possible,
        CopyMode::Buffered => false,
        CopyMode::Auto => possible && to != Medium::Tcp,
    }
}

/// Copy one direction to its end; shuts the sink's write side down at end of stream.
async fn direction(
    reader: Option<Reader>,
    from: Side,
    writer: Option<Writer>,
    to: Side,
    opts: &RelayOptions,
    meter: &Meter,
) -> Result<DirEnd, Error> {
    let (reader, writer) = match (reader, writer) {
        (Some(r), Some(w)) => (r, w),
        // Nothing to read: the sink's end is now.
        (None, Some(w)) => {
            w.finish();
            return Ok(DirEnd::Eof);
        }
        // Nowhere to write: do not read.
        (_, None) => return Ok(DirEnd::Eof),
    };
    let result = match (&reader.src, &writer.dst) {
        (Source::Fd(src), Sink::Fd(dst)) if from.bytes() && to.bytes() => {
            if use_splice(opts.copy, reader.medium, writer.medium) {
                crate::narrate!(
                    "copy {} -> {}: splice(2) through a pipe",
                    from.label,
                    to.label
                );
                splice::copy(src, dst, meter).await
            } else {
                crate::narrate!(
                    "copy {} -> {}: read/write, buffer up to {} KiB",
                    from.label,
                    to.label,
                    opts.buffer / 1024
                );
                buffered::copy(src, dst, opts.buffer, meter).await
            }
        }
        _ => {
            let mut out = MsgOut::new(&writer, to.transfer, to.framing);
            let mut input = MsgIn::new(reader, from.transfer, from.framing, opts.max_frame);
            messages(&mut input, &mut out, meter).await
        }
    };
    match result {
        Ok(()) => {
            writer.finish();
            Ok(DirEnd::Eof)
        }
        Err(Fault::Write(e)) if e.raw_os_error() == Some(libc::EPIPE) => Ok(DirEnd::OutputClosed),
        Err(Fault::Read(err)) => Err(Error::Io {
            op: "read from",
            target: from.label.to_string(),
            err,
        }),
        Err(Fault::Write(err)) => Err(Error::Io {
            op: "write to",
            target: to.label.to_string(),
            err,
        }),
        Err(Fault::Frame(err)) => Err(Error::Frame {
            target: from.label.to_string(),
            err,
        }),
    }
}

async fn messages(input: &mut MsgIn, out: &mut MsgOut, meter: &Meter) -> Result<(), Fault> {
    while let Some(msg) = input.next().await? {
        out.send(msg).await?;
        meter.add(msg.len() as u64, 1);
    }
    Ok(())
}

/// Refuse, before anything is opened, a pair that would lose message boundaries: a socket
/// byte stream (tcp, unix) against a message kind needs `frame=` on the stream side. Stdio,
/// files, FIFOs and processes may go without: each read is then one message, as `nc -u` does.
pub fn check_pair(a: &Address, b: &Address) -> Result<(), Error> {
    let bare_socket_stream = |x: &Address| {
        x.endpoint.is_socket()
            && x.endpoint.transfer() == Transfer::Stream
            && x.options.frame.is_none()
    };
    for (stream, msgs) in [(a, b), (b, a)] {
        if bare_socket_stream(stream) && msgs.carries_messages() {
            return Err(Error::Usage(format!(
                "{stream} is a byte stream and {msgs} carries messages: add frame=len32, frame=len16 or frame=line to {stream} to say where each message ends"
            )));
        }
    }
    Ok(())
}

/// A connection's two meters, feeding the server's live totals when there are some.
pub(crate) fn meters(opts: &RelayOptions) -> (Meter, Meter) {
    let live = opts.live.as_deref();
    (
        Meter::feeding(live.map(|l| &l.forward)),
        Meter::feeding(live.map(|l| &l.backward)),
    )
}

/// True when `c`'s reader can never report end of stream.
fn endless(c: &Conn) -> bool {
    match &c.reader {
        Some(r) => matches!(r.src, Source::Chan(_)) || r.medium == Medium::Datagram,
        None => false,
    }
}

/// Relay between `a` and `b` until both directions end (or the idle timeout, or a reader
/// goes away). Takes the halves out of both; close them afterwards with [`Conn::close`].
pub async fn relay(a: &mut Conn, b: &mut Conn, opts: &RelayOptions) -> Result<Stats, Error> {
    if opts.pass_fds {
        return Box::pin(fds::relay(a, b, opts)).await;
    }
    let (fwd, back) = meters(opts);
    let (a_endless, b_endless) = (endless(a), endless(b));
    let (sa, sb) = (Side::of(a), Side::of(b));
    // Boxed: each direction's state machine is allocated at its own size, instead of every
    // connection's task reserving room for the largest states of both, nested (6 KB per idle
    // connection before; see the relay memory figures in docs/benchmarks.md).
    let d1 = Box::pin(direction(
        a.reader.take(),
        sa,
        b.writer.take(),
        Side::of(b),
        opts,
        &fwd,
    ));
    let d2 = Box::pin(direction(
        b.reader.take(),
        sb,
        a.writer.take(),
        Side::of(a),
        opts,
        &back,
    ));
    let ending = drive(d1, d2, a_endless, b_endless, opts.idle_timeout, &fwd, &back).await;
    let (f, bk) = (fwd.read(), back.read());
    crate::narrate!(
        "close {} <-> {}: {} bytes ->, {} bytes <-{}",
        a.label,
        b.label,
        f.bytes,
        bk.bytes,
        ending
            .as_ref()
            .map_or_else(|e| format!(" ({e})"), |_| String::new())
    );
    Ok(Stats {
        forward: f,
        backward: bk,
        ending: ending?,
    })
}

/// Send everything `c` sends back to it.
pub async fn echo(c: &mut Conn, opts: &RelayOptions) -> Result<Stats, Error> {
    let m = Meter::default();
    let endless = endless(c);
    let side = Side::of(c);
    let d = Box::pin(direction(
        c.reader.take(),
        Side::of(c),
        c.writer.take(),
        side,
        opts,
        &m,
    ));
    let none = async { Ok(DirEnd::Eof) };
    let ending = drive(
        d,
        none,
        endless,
        false,
        opts.idle_timeout,
        &m,
        &Meter::default(),
    )
    .await;
    crate::narrate!("close {}: {} bytes echoed", c.label, m.read().bytes);
    let ending = ending?;
    // What came in went back out.
    Ok(Stats {
        forward: m.read(),
        backward: m.read(),
        ending,
    })
}

/// Run two directions to their ends. `*_endless`: that direction's source is a datagram
/// socket, which is ended by quiet once the other direction is done.
async fn drive(
    d1: impl std::future::Future<Output = Result<DirEnd, Error>>,
    d2: impl std::future::Future<Output = Result<DirEnd, Error>>,
    d1_endless: bool,
    d2_endless: bool,
    idle: Option<Duration>,
    m1: &Meter,
    m2: &Meter,
) -> Result<Ending, Error> {
    tokio::pin!(d1, d2);
    let (mut done1, mut done2) = (false, false);
    let moved = || {
        let (a, b) = (m1.read(), m2.read());
        a.bytes + a.messages + b.bytes + b.messages
    };
    let mut last_seen = moved();
    let mut last_active = Instant::now();
    loop {
        // Quiet limit: the idle timeout, or the linger of a datagram direction left alone.
        let linger = (done1 && d2_endless) || (done2 && d1_endless);
        let quiet = match (idle, linger) {
            (Some(i), true) => Some(i.min(DATAGRAM_LINGER)),
            (Some(i), false) => Some(i),
            (None, true) => Some(DATAGRAM_LINGER),
            (None, false) => None,
        };
        let deadline = quiet.map(|q| last_active + q);
        tokio::select! {
            r = &mut d1, if !done1 => match r? {
                DirEnd::Eof => done1 = true,
                DirEnd::OutputClosed => return Ok(Ending::OutputClosed),
            },
            r = &mut d2, if !done2 => match r? {
                DirEnd::Eof => done2 = true,
                DirEnd::OutputClosed => return Ok(Ending::OutputClosed),
            },
            _ = sleep_until(deadline), if deadline.is_some() => {
                if moved() == last_seen {
                    return Ok(if linger { Ending::Closed } else { Ending::IdleTimeout });
                }
            }
        }
        if done1 && done2 {
            return Ok(Ending::Closed);
        }
        // A direction just ended (or time passed): quiet is counted from now.
        last_seen = moved();
        last_active = Instant::now();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
