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
//! other direction goes on until it ends too, or, with [`RelayOptions::linger`], until it has
//! been quiet that long. A datagram source cannot end, nor can a terminal with no end of file
//! (`tty:`, a `pty` whose slave sockbox holds), so once the other direction has ended it
//! lingers [`DATAGRAM_LINGER`] unless told otherwise. [`RelayOptions::directions`] runs one
//! direction only: the other's source is never read, and the connection ends with the one.
//! Memory per connection is bounded: one buffer (and, once bulk flows, one pipe) per
//! direction, taken on the first byte.

mod buffered;
use buffered::Copied;
pub(crate) mod datagram;
pub mod fds;
pub mod splice;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::addr::{Address, Framing, Transfer};
use crate::endpoint::{Conn, Medium, Reader, Sink, Source, Writer};
use crate::error::Error;
use crate::fault::{self, DirFaults, Faults};
use crate::frame::{FrameError, DEFAULT_MAX_FRAME};
use crate::tap::{self, ConnTap, Dir, Hook, SideId, Tap};
use datagram::{MsgIn, MsgOut};

/// After the other direction ended, a direction from a source that cannot end (a datagram
/// socket, a `tty:`, a held `pty`) ends once quiet for this long (socat's `-t` does the same,
/// with 0.5 s, for every source).
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
    /// Largest buffer of the buffered copy (it starts at 16 KiB and grows while reads fill it).
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
    /// Once one direction has ended, end the other when it has been quiet this long (socat's
    /// `-t`, nc's `-q`; zero ends it at once). `None`: half-close is honoured with no limit,
    /// except for a source that cannot end (datagram, `tty:`, held `pty`), which lingers
    /// [`DATAGRAM_LINGER`].
    pub linger: Option<Duration>,
    /// Which directions run.
    pub directions: Directions,
    /// Where each connection's traffic is shown or recorded (`--dump`, `--pcap`, `--record`).
    /// A tapped stream direction takes the buffered copy; untapped ones keep their path.
    pub tap: Option<Arc<Tap>>,
    /// Faults to inject (`--latency`, `--reset-after` ...). A direction with none keeps its
    /// path; one with some takes `fault::copy_*` (see [`crate::fault`]).
    pub faults: Option<Arc<Faults>>,
    /// For side A and side B: a bulk copy into that side, when it is a Unix stream socket, may
    /// raise its send buffer to the splice pipe's size (see `splice::copy`). False where the
    /// address set `sndbuf=` itself, and by default.
    pub raise_sndbuf: [bool; 2],
}

/// The directions a relay runs. A direction that does not run is never read, its sink is
/// left open (not half-closed), and the connection ends when the one that runs ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Directions {
    #[default]
    Both,
    /// From the first connection to the second only (`relay --oneway`: A to B).
    Forward,
    /// From the second connection to the first only.
    Backward,
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
            linger: None,
            directions: Directions::Both,
            tap: None,
            faults: None,
            raise_sndbuf: [false; 2],
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
    /// The direction read its source's end of stream (and wrote everything before it).
    ended: AtomicBool,
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

    fn end(&self) {
        self.ended.store(true, Ordering::Relaxed);
    }

    fn ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
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
    /// A reader went away (`EPIPE` from a pipe or a program): e.g. stdout closed by `| head`.
    /// (A socket peer that stopped reading is an error instead: its bytes were lost.)
    OutputClosed,
    /// A fault ended it: a reset, `--half-close full`, `--slow-close`.
    Faulted,
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
    /// A fault ended the direction on purpose.
    Ended(fault::End),
}

enum DirEnd {
    Eof,
    /// Writing failed because the reader went. `None`: a pipe's or a program's reader
    /// (`EPIPE`), which is success (stdout closed by `| head`, a program that exited); `Some`:
    /// a socket peer that stopped reading ([`peer_stopped_reading`]) with this direction's
    /// bytes undelivered, an error once the way back has drained.
    OutputClosed(Option<Error>),
    /// A fault ends the whole connection now.
    Cut,
}

/// One end as seen by a direction.
struct Side {
    label: Arc<str>,
    transfer: Transfer,
    framing: Option<Framing>,
    /// A program's socket (`exec:`, `sh:`): its reset after the program exits is the end of
    /// its output, and its closing early is not an error (the exit status tells).
    program: bool,
}

impl Side {
    fn of(c: &Conn) -> Self {
        Side {
            label: c.label.clone(),
            transfer: c.transfer,
            framing: c.framing,
            program: c.runs_program(),
        }
    }

    fn bytes(&self) -> bool {
        self.transfer == Transfer::Stream && self.framing.is_none()
    }
}

/// True when writing to a socket failed because its peer no longer reads it (not a program's
/// socket: a program that exits without reading its input is not an error).
fn peer_stopped_reading(err: &io::Error, sink: Medium, program: bool) -> bool {
    let socket = matches!(sink, Medium::Tcp | Medium::UnixStream | Medium::Seqpacket);
    let gone = matches!(err.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET));
    socket && !program && gone
}

fn use_splice(mode: CopyMode, from: Medium, to: Medium) -> bool {
    let possible = from.splices() && to.splices();
    match mode {
        CopyMode::Splice => possible,
        CopyMode::Buffered => false,
        CopyMode::Auto => possible && to != Medium::Tcp,
    }
}

/// Copy one direction to its end; shuts the sink's write side down at end of stream. `hook`
/// (a tap) sees each chunk moved, the end of stream and a reset; `faults` shape the copy.
/// `raise_sndbuf`: the sink's send buffer may be raised for a bulk copy
/// ([`RelayOptions::raise_sndbuf`]).
#[allow(clippy::too_many_arguments)]
async fn direction(
    reader: Option<Reader>,
    from: Side,
    writer: Option<Writer>,
    to: Side,
    opts: &RelayOptions,
    meter: &Meter,
    back: Option<&Meter>,
    mut hook: Option<Hook>,
    mut faults: Option<DirFaults>,
    raise_sndbuf: bool,
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
    if let Some(f) = faults.as_mut() {
        f.set_ends(fault::Ends {
            src: match &reader.src {
                Source::Fd(fd) => Some((fd.clone(), reader.medium)),
                Source::Chan(_) => None,
            },
            dst: match &writer.dst {
                Sink::Fd(fd) | Sink::SendTo(fd, _) => Some((fd.clone(), writer.medium)),
            },
        });
    }
    let result = match (&reader.src, &writer.dst) {
        (Source::Fd(src), Sink::Fd(dst)) if from.bytes() && to.bytes() => {
            if let Some(f) = faults.as_mut() {
                crate::narrate!("copy {} -> {}: with faults", from.label, to.label);
                // Boxed, as every path only some directions take (faults, taps, messages):
                // inline, each direction of every connection would reserve room for the
                // largest of them (4.4 KB each, measured) for its whole life.
                Box::pin(fault::copy_stream(
                    f,
                    src,
                    dst,
                    opts.buffer,
                    meter,
                    hook.as_mut(),
                ))
                .await
            } else if hook.is_none() && use_splice(opts.copy, reader.medium, writer.medium) {
                // The first bytes go through a (recycled) buffer: a short connection never
                // makes a pipe; one that fills the buffer goes on with splice(2).
                crate::narrate!(
                    "copy {} -> {}: splice(2) through a pipe once a read fills 16 KiB",
                    from.label,
                    to.label
                );
                let raise = raise_sndbuf && writer.medium == Medium::UnixStream;
                match buffered::copy(src, dst, opts.buffer, meter, true).await {
                    Ok(Copied::Bulk) => splice::copy(src, dst, meter, raise).await,
                    Ok(Copied::Eof) => Ok(()),
                    Err(e) => Err(e),
                }
            } else {
                crate::narrate!(
                    "copy {} -> {}: read/write, buffer up to {} KiB",
                    from.label,
                    to.label,
                    opts.buffer / 1024
                );
                match hook.as_mut() {
                    // Boxed: the tap's state machine is room an untapped direction need not
                    // reserve.
                    Some(h) => {
                        Box::pin(buffered::copy_tapped(src, dst, opts.buffer, meter, h)).await
                    }
                    None => buffered::copy(src, dst, opts.buffer, meter, false)
                        .await
                        .map(|_| ()),
                }
            }
        }
        _ => {
            Box::pin(async {
                let mut out = MsgOut::new(&writer, to.transfer, to.framing);
                let mut input = MsgIn::new(reader, from.transfer, from.framing, opts.max_frame);
                match faults.as_mut() {
                    Some(f) => {
                        let (i, o) = (&mut input, &mut out);
                        fault::copy_messages(f, i, o, opts.buffer, meter, hook.as_mut()).await
                    }
                    None => messages(&mut input, &mut out, meter, hook.as_mut()).await,
                }
            })
            .await
        }
    };
    // A program (exec:, sh:) that exits without reading all its input closes its end of the
    // socket pair with bytes unread, which the kernel reports as a reset after the program's
    // output: for a program, that is the end of its output (its exit status tells how it
    // went). socat's EXEC ends without an error there too.
    let result = match result {
        Err(Fault::Read(e)) if from.program && e.kind() == io::ErrorKind::ConnectionReset => {
            crate::narrate!("read from {}: {e}: the program's end", from.label);
            Ok(())
        }
        r => r,
    };
    if let (Some(h), Err(Fault::Read(e) | Fault::Write(e))) = (hook.as_mut(), &result) {
        if tap::is_reset(e) {
            // Reading: the source reset; writing: the sink did.
            let sender = h.dir().sender();
            let by = match (&result, sender) {
                (Err(Fault::Read(_)), s) => s,
                (_, SideId::A) => SideId::B,
                (_, SideId::B) => SideId::A,
            };
            Box::pin(h.reset(by, e)).await;
        }
    }
    match result {
        Ok(()) => {
            let plain = faults.is_none();
            if plain {
                meter.end();
            }
            match back {
                // The way back has read this socket's end of stream, so this was the last
                // direction: the socket is closed next (these halves hold its last
                // references), and closing sends the FIN `shutdown(2)` would. One system
                // call fewer per connection, as haproxy does. (Faults may end a direction
                // before its source's end: they keep the shutdown.)
                Some(b) if plain && b.ended() => drop(writer),
                _ => writer.finish(),
            }
            if let Some(h) = hook.as_mut() {
                Box::pin(h.shutdown()).await;
            }
            Ok(DirEnd::Eof)
        }
        // A socket's peer that stopped reading (closed, or shut its reading side: `EPIPE`, or
        // `ECONNRESET` when a TCP peer's close reset the connection) before this direction's
        // bytes were all written: they are lost, which is an error, as in socat. The way back
        // still reads what the peer sent before it went (see `drive`). A pipe's or a program's
        // reader going away (`EPIPE`) is the ordinary end of a pipeline.
        Err(Fault::Write(err)) if peer_stopped_reading(&err, writer.medium, to.program) => {
            Ok(DirEnd::OutputClosed(Some(Error::Io {
                op: "write to",
                target: to.label.to_string(),
                err,
            })))
        }
        Err(Fault::Write(e)) if e.raw_os_error() == Some(libc::EPIPE) => {
            Ok(DirEnd::OutputClosed(None))
        }
        // --half-close swallow: over, but the receiver is not told.
        Err(Fault::Ended(fault::End::KeepSink)) => Ok(DirEnd::Eof),
        Err(Fault::Ended(fault::End::Cut)) => Ok(DirEnd::Cut),
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

async fn messages(
    input: &mut MsgIn,
    out: &mut MsgOut,
    meter: &Meter,
    mut hook: Option<&mut Hook>,
) -> Result<(), Fault> {
    while let Some(msg) = input.next().await? {
        out.send(msg).await?;
        meter.add(msg.len() as u64, 1);
        if let Some(h) = hook.as_deref_mut() {
            h.data(msg, true).await;
        }
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

/// True when `c`'s reader can never report end of stream: a datagram socket or a datagram
/// listener's peer, a terminal with no end of file (`tty:`, a `pty` whose slave sockbox holds).
fn endless(c: &Conn) -> bool {
    match &c.reader {
        Some(r) => r.endless || matches!(r.src, Source::Chan(_)) || r.medium == Medium::Datagram,
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
    let limits = Limits {
        idle: opts.idle_timeout,
        linger: opts.linger,
    };
    let conn_tap = match &opts.tap {
        // Boxed, as the tap's close below: inline, every connection's task would reserve
        // room for these state machines, tapped or not, for its whole life.
        Some(t) => Some(Box::pin(t.open(a, b)).await),
        None => None,
    };
    let hook = |d: Dir| conn_tap.as_ref().map(|t| t.hook(d));
    let conn_faults = opts.faults.as_ref().and_then(|f| f.connection());
    let hook = |d: Dir| (hook(d), conn_faults.as_ref().and_then(|f| f.dir(d)));
    let ending = match opts.directions {
        Directions::Both => {
            // Each way learns whether the other reads the socket it writes to.
            let (a_closes, b_closes) = (closes_with_fin(a), closes_with_fin(b));
            let drains = (one_socket(b), one_socket(a));
            let d1 = one_way(a, b, opts, &fwd, b_closes.then_some(&back), Dir::AtoB, hook);
            let d2 = one_way(b, a, opts, &back, a_closes.then_some(&fwd), Dir::BtoA, hook);
            let endless = (a_endless, b_endless);
            drive(d1, Some(d2), endless, drains, limits, &fwd, &back).await
        }
        Directions::Forward => {
            let d1 = one_way(a, b, opts, &fwd, None, Dir::AtoB, hook);
            drive(
                d1,
                NO_DIRECTION,
                (a_endless, false),
                NO_DRAIN,
                limits,
                &fwd,
                &back,
            )
            .await
        }
        Directions::Backward => {
            let d2 = one_way(b, a, opts, &back, None, Dir::BtoA, hook);
            drive(
                d2,
                NO_DIRECTION,
                (b_endless, false),
                NO_DRAIN,
                limits,
                &back,
                &fwd,
            )
            .await
        }
    };
    let (f, bk) = (fwd.read(), back.read());
    if conn_tap.is_some() {
        Box::pin(close_tap(conn_tap, f, bk)).await;
    }
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

/// The direction `dir`, from `from` to `to`, taking `from`'s reader and `to`'s writer, with
/// the tap hook and faults `layers` gives that direction. Boxed: each direction's state
/// machine is allocated at its own size, instead of every connection's task reserving room for
/// the largest states of both, nested (6 KB per idle connection before; see the relay memory
/// figures in docs/benchmarks.md).
#[allow(clippy::too_many_arguments)]
fn one_way<'o>(
    from: &mut Conn,
    to: &mut Conn,
    opts: &'o RelayOptions,
    meter: &'o Meter,
    back: Option<&'o Meter>,
    dir: Dir,
    layers: impl Fn(Dir) -> (Option<Hook>, Option<DirFaults>),
) -> std::pin::Pin<Box<impl std::future::Future<Output = Result<DirEnd, Error>> + 'o>> {
    let (hook, faults) = layers(dir);
    // The sink of A to B is B (index 1), of B to A is A.
    let raise = opts.raise_sndbuf[usize::from(dir == Dir::AtoB)];
    Box::pin(direction(
        from.reader.take(),
        Side::of(from),
        to.writer.take(),
        Side::of(to),
        opts,
        meter,
        back,
        hook,
        faults,
        raise,
    ))
}

/// True when `c` reads and writes one fd (a socket both ways), not two (stdin and stdout).
fn one_socket(c: &Conn) -> bool {
    match (&c.reader, &c.writer) {
        (
            Some(Reader {
                src: Source::Fd(r), ..
            }),
            Some(Writer {
                dst: Sink::Fd(w), ..
            }),
        ) => Arc::ptr_eq(r, w),
        _ => false,
    }
}

/// True when `c` reads and writes one stream socket (TCP or Unix) held by nothing else, so
/// that closing it once both directions have read their end of stream sends the FIN a
/// `shutdown(SHUT_WR)` would (no unread data: no reset).
fn closes_with_fin(c: &Conn) -> bool {
    match (&c.reader, &c.writer) {
        (
            Some(Reader {
                src: Source::Fd(r),
                medium: Medium::Tcp | Medium::UnixStream,
                ..
            }),
            Some(w),
        ) => matches!(&w.dst, Sink::Fd(f) if Arc::ptr_eq(r, f)) && Arc::strong_count(r) == 2,
        _ => false,
    }
}

/// The tap's close event, with what moved each way.
pub(crate) async fn close_tap(t: Option<ConnTap>, a2b: Flow, b2a: Flow) {
    if let Some(t) = t {
        t.close(a2b, b2a).await;
    }
}

/// The missing second direction of a one-way [`drive`].
const NO_DIRECTION: Option<std::future::Ready<Result<DirEnd, Error>>> = None;
/// Neither direction's sink feeds the other (see [`drive`]).
const NO_DRAIN: (bool, bool) = (false, false);

/// Send everything `c` sends back to it.
pub async fn echo(c: &mut Conn, opts: &RelayOptions) -> Result<Stats, Error> {
    let m = Meter::default();
    let endless = endless(c);
    let side = Side::of(c);
    // Tapped, the echo is side B: what the client sends is A to B (written back to it).
    let conn_tap = match &opts.tap {
        Some(t) => {
            let messages = c.transfer == Transfer::Message || c.framing.is_some();
            Some(
                t.open_sides(tap::Side::of(c), tap::Side::named("echo"), messages)
                    .await,
            )
        }
        None => None,
    };
    let conn_faults = opts.faults.as_ref().and_then(|f| f.connection());
    let d = Box::pin(direction(
        c.reader.take(),
        Side::of(c),
        c.writer.take(),
        side,
        opts,
        &m,
        None,
        conn_tap.as_ref().map(|t| t.echo_hook()),
        conn_faults.as_ref().and_then(|f| f.dir(Dir::AtoB)),
        false,
    ));
    // The way back is the same socket: an empty second direction that has ended, so a datagram
    // peer lingers as after any other end (`--linger` is for two directions, not applied).
    let none = std::future::ready(Ok(DirEnd::Eof));
    let limits = Limits {
        idle: opts.idle_timeout,
        linger: None,
    };
    let ending = drive(
        d,
        Some(none),
        (endless, false),
        NO_DRAIN,
        limits,
        &m,
        &Meter::default(),
    )
    .await;
    crate::narrate!("close {}: {} bytes echoed", c.label, m.read().bytes);
    // What came in went back out.
    close_tap(conn_tap, m.read(), m.read()).await;
    let ending = ending?;
    // What came in went back out.
    Ok(Stats {
        forward: m.read(),
        backward: m.read(),
        ending,
    })
}

/// The time limits [`drive`] applies.
#[derive(Clone, Copy)]
struct Limits {
    /// End when nothing moved either way for this long.
    idle: Option<Duration>,
    /// Once one of two directions has ended, end the other after this long without traffic.
    linger: Option<Duration>,
}

/// Run two directions (or one, when `d2` is `None`) to their ends. `endless`: that direction's
/// source never ends by itself (a datagram socket, a terminal with no end of file), so once the
/// other direction is done it is ended by [`DATAGRAM_LINGER`] of quiet (or by `limits.linger`).
/// `drains`: that direction's sink is the other's source (one socket both ways), so when
/// writing to it finds the reader gone ([`DirEnd::OutputClosed`]) the other direction still
/// reads what its peer sent before it went (a program that printed and exited without reading
/// all its input, a server that answered and closed), and the lost bytes' error, if any, comes
/// after; otherwise that ends both at once (stdout closed by `| head`: nobody is left to
/// read).
async fn drive<F1, F2>(
    d1: F1,
    d2: Option<F2>,
    endless: (bool, bool),
    drains: (bool, bool),
    limits: Limits,
    m1: &Meter,
    m2: &Meter,
) -> Result<Ending, Error>
where
    F1: std::future::Future<Output = Result<DirEnd, Error>>,
    F2: std::future::Future<Output = Result<DirEnd, Error>>,
{
    let alone = d2.is_none();
    tokio::pin!(d1, d2);
    let (mut done1, mut done2) = (false, alone);
    let mut output_closed = false;
    // A direction's lost bytes (its peer socket stopped reading), reported once the other has
    // drained what the peer sent before it went.
    let mut lost = None;
    let moved = || {
        let (a, b) = (m1.read(), m2.read());
        a.bytes + a.messages + b.bytes + b.messages
    };
    let mut last_seen = moved();
    let mut last_active = Instant::now();
    let outcome = loop {
        // One of two directions has ended: the other lingers, if there is a limit to it.
        let linger = match (alone, done1, done2) {
            (false, true, false) => limits.linger.or(endless.1.then_some(DATAGRAM_LINGER)),
            (false, false, true) => limits.linger.or(endless.0.then_some(DATAGRAM_LINGER)),
            _ => None,
        };
        // Quiet limit: the idle timeout, or the linger, whichever is shorter.
        let quiet = match (limits.idle, linger) {
            (Some(i), Some(l)) => Some(i.min(l)),
            (i, l) => i.or(l),
        };
        let deadline = quiet.map(|q| last_active + q);
        let second = async {
            match d2.as_mut().as_pin_mut() {
                Some(d) => d.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut d1, if !done1 => match r {
                Err(e) => break Err(e),
                Ok(DirEnd::Eof) => done1 = true,
                Ok(DirEnd::OutputClosed(e)) if drains.0 && !done2 => {
                    (done1, output_closed) = (true, true);
                    lost = lost.or(e);
                }
                Ok(DirEnd::OutputClosed(Some(e))) => break Err(e),
                Ok(DirEnd::OutputClosed(None)) => break Ok(Ending::OutputClosed),
                Ok(DirEnd::Cut) => break Ok(Ending::Faulted),
            },
            r = second, if !done2 => match r {
                Err(e) => break Err(e),
                Ok(DirEnd::Eof) => done2 = true,
                Ok(DirEnd::OutputClosed(e)) if drains.1 && !done1 => {
                    (done2, output_closed) = (true, true);
                    lost = lost.or(e);
                }
                Ok(DirEnd::OutputClosed(Some(e))) => break Err(e),
                Ok(DirEnd::OutputClosed(None)) => break Ok(Ending::OutputClosed),
                Ok(DirEnd::Cut) => break Ok(Ending::Faulted),
            },
            _ = sleep_until(deadline), if deadline.is_some() => {
                if moved() == last_seen {
                    break Ok(if linger.is_some() { Ending::Closed } else { Ending::IdleTimeout });
                }
            }
        }
        if done1 && done2 {
            break Ok(if output_closed {
                Ending::OutputClosed
            } else {
                Ending::Closed
            });
        }
        // A direction just ended (or time passed): quiet is counted from now.
        last_seen = moved();
        last_active = Instant::now();
    };
    // Bytes a direction lost (its peer stopped reading) are reported first, however the rest
    // ended: after the way back drained, or lingered out, or failed in turn.
    match lost {
        Some(e) => Err(e),
        None => outcome,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
