//! A faulty direction's copy: a reader and a writer joined by a bounded queue.
//!
//! The reader reads a chunk (or a message), stamps it with the time it is due (now plus the
//! latency drawn, never earlier than the chunk before it: a stream keeps its order), decides
//! the message faults (drop, duplicate, hold back one message, flip a bit) and queues it. The
//! queue holds at most the relay's `--buffer` bytes: when it is full the reader stops reading,
//! so a slow reader on the far side still slows the writer here, as it does without faults.
//! The writer waits until each chunk is due, paces it (`--rate`, `--rate-total`), cuts it into
//! slices (`--slice`) and fires the one-time faults at the byte offset or time asked
//! (`--close-after`, `--reset-after`, `--stall-after`), then the end-of-stream ones
//! (`--half-close`, `--slow-close`).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::{sleep_until, Instant};

use super::rng::Rng;
use super::spec::{DirSpec, HalfClose, Trigger};
use super::{reset, DirFaults, End, Ends, Faults};
use crate::endpoint::fdio::{self, Fd};
use crate::endpoint::Medium;
use crate::relay::datagram::{MsgIn, MsgOut};
use crate::relay::{Fault, Meter};
use crate::tap::{Dir, Hook};

/// The first chunk read; chunks grow (x4) while reads fill them, up to half the queue.
const START: usize = 64 * 1024;

enum Item {
    Data {
        buf: Vec<u8>,
        len: usize,
        due: Instant,
    },
    End {
        due: Instant,
    },
}

/// The bounded queue's room (bytes) and its recycled buffers.
struct Queue {
    room: Semaphore,
    limit: usize,
    pool: Mutex<Vec<Vec<u8>>>,
}

impl Queue {
    fn new(limit: usize) -> Queue {
        Queue {
            room: Semaphore::new(limit),
            limit,
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Wait for room for `n` bytes (a message larger than the whole queue waits for all of it).
    async fn reserve(&self, n: usize) -> usize {
        let n = n.min(self.limit);
        if let Ok(p) = self.room.acquire_many(n as u32).await {
            p.forget();
        }
        n
    }

    /// Wait for room for `min` bytes, then take up to `n` of what is free: under latency the
    /// queue drains a chunk at a time, and a reader that waited for a whole largest chunk to
    /// be free would leave the rest of the queue empty.
    async fn reserve_some(&self, min: usize, n: usize) -> usize {
        let got = self.reserve(min.min(n)).await;
        let more = (n - got).min(self.room.available_permits());
        if more > 0 {
            if let Ok(p) = self.room.try_acquire_many(more as u32) {
                p.forget();
                return got + more;
            }
        }
        got
    }

    fn release(&self, n: usize) {
        self.room.add_permits(n);
    }

    fn take(&self, len: usize) -> Vec<u8> {
        let mut v = self
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        v.resize(len, 0);
        v
    }

    /// A buffer of at least `len` bytes, its old contents kept: a stream chunk's size changes
    /// from read to read, and a recycled buffer is not zeroed again for that.
    fn take_room(&self, len: usize) -> Vec<u8> {
        let mut v = self
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        if v.len() < len {
            v.resize(len, 0);
        }
        v
    }

    fn give(&self, v: Vec<u8>) {
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < 4 {
                p.push(v);
            }
        }
    }
}

/// The part of a direction's faults the reader uses: latency and message faults.
struct Stamper<'a> {
    run: &'a Faults,
    conn: u64,
    dir: Dir,
    spec: &'a DirSpec,
    rng: Rng,
    last: Instant,
    bytes: u64,
}

impl Stamper<'_> {
    fn due(&mut self, active: bool) -> Instant {
        let now = Instant::now();
        let delay = if active {
            draw_latency(self.spec, &mut self.rng)
        } else {
            Duration::ZERO
        };
        self.last = self.last.max(now + delay);
        self.last
    }

    fn fired(&self, fault: &'static str, message: u64) {
        self.run
            .log
            .add(self.conn, Some(self.dir), fault, self.bytes, Some(message));
    }
}

fn draw_latency(spec: &DirSpec, rng: &mut Rng) -> Duration {
    let Some(l) = spec.latency else {
        return Duration::ZERO;
    };
    let (d, j) = (l.delay.as_secs_f64(), l.jitter.as_secs_f64());
    if j == 0.0 {
        return l.delay;
    }
    let secs = match l.dist {
        super::spec::Dist::Uniform => d - j + 2.0 * j * rng.unit(),
        super::spec::Dist::Normal => (d + j * rng.normal()).min(2.0 * d),
        super::spec::Dist::Pareto => {
            // Shape 2: the mean stays `delay`, the tail is long.
            let u = rng.unit().max(1e-4);
            (d - j).max(0.0) + j * (u.powf(-0.5) - 1.0)
        }
    };
    Duration::from_secs_f64(secs.max(0.0))
}

/// A one-time fault that is due at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Once {
    Close,
    Reset,
    Stall,
}

impl Once {
    fn name(self) -> &'static str {
        match self {
            Once::Close => "close",
            Once::Reset => "reset",
            Once::Stall => "stall",
        }
    }
}

/// Where the writer writes.
enum Out<'a> {
    Stream(&'a Fd),
    Messages(&'a mut MsgOut),
}

impl Out<'_> {
    async fn put(&mut self, data: &[u8]) -> Result<(), Fault> {
        match self {
            Out::Stream(fd) => fdio::write_all(fd, data).await.map_err(Fault::Write),
            Out::Messages(m) => m.send(data).await,
        }
    }

    fn messages(&self) -> bool {
        matches!(self, Out::Messages(_))
    }
}

/// The writer's state.
struct Writer<'a> {
    run: &'a Faults,
    conn: u64,
    dir: Dir,
    spec: &'a DirSpec,
    rng: Rng,
    pacer: Option<super::rate::Pacer>,
    total: Option<Arc<Mutex<super::rate::Pacer>>>,
    ends: &'a Ends,
    /// Bytes written so far.
    offset: u64,
    /// Of the chunk in hand when a fault interrupted it, the bytes already written.
    partial: usize,
    /// One-time faults due at a time, not yet fired.
    timed: Vec<(Instant, Once)>,
    /// One-time faults due at a byte offset, not yet fired.
    sized: Vec<(u64, Once)>,
    meter: &'a Meter,
    hook: Option<&'a mut Hook>,
}

/// Wait for `f`, unless a timed fault comes first.
async fn race<T>(next: Option<(Instant, Once)>, f: impl Future<Output = T>) -> Result<T, Once> {
    match next {
        None => Ok(f.await),
        Some((at, which)) => tokio::select! {
            biased;
            v = f => Ok(v),
            _ = sleep_until(at) => Err(which),
        },
    }
}

impl Writer<'_> {
    fn fired(&self, fault: &'static str) {
        self.run
            .log
            .add(self.conn, Some(self.dir), fault, self.offset, None);
    }

    fn next_timed(&self) -> Option<(Instant, Once)> {
        self.timed.iter().min_by_key(|(t, _)| *t).copied()
    }

    /// A timed fault whose time has come. Checked before each chunk and each piece: `race`
    /// prefers the work to the timer, so a stream that never waits would otherwise never let
    /// the timer win.
    fn overdue(&self) -> Option<Once> {
        self.next_timed()
            .filter(|(at, _)| *at <= Instant::now())
            .map(|(_, o)| o)
    }

    /// Wait until `due` (a chunk's latency), unless a timed fault comes first. A time already
    /// past is not waited for: tokio's timer rounds a deadline up to its next millisecond tick,
    /// so `sleep_until` of a past instant parks the task until the timer thread's next tick,
    /// which was most of the fault path's cost when nothing had to wait (docs/benchmarks.md).
    async fn wait_until(&self, due: Instant) -> Result<(), Once> {
        if let Some(once) = self.overdue() {
            return Err(once);
        }
        if due <= Instant::now() {
            return Ok(());
        }
        race(self.next_timed(), sleep_until(due)).await
    }

    /// Bytes that may go before a one-time fault is due by offset, and which.
    fn next_sized(&self) -> Option<(u64, Once)> {
        self.sized
            .iter()
            .min_by_key(|(n, _)| *n)
            .map(|&(n, o)| (n.saturating_sub(self.offset), o))
    }

    /// Write items until the end of stream or a fault ends the direction.
    async fn run(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Item>,
        q: &Queue,
        out: &mut Out<'_>,
    ) -> Result<(), Fault> {
        loop {
            if let Some(once) = self.overdue() {
                return self.once(once, None, rx, q, out).await;
            }
            // A reset at the offset just reached fires now: the reader stops there (see
            // `copy_stream`), so no next chunk would come to trigger it.
            if let (Some((0, Once::Reset)), true) = (self.next_sized(), self.run.active()) {
                return self.once(Once::Reset, None, rx, q, out).await;
            }
            let item = match race(self.next_timed(), rx.recv()).await {
                Ok(Some(i)) => i,
                // The reader failed: its error is the direction's.
                Ok(None) => return std::future::pending().await,
                Err(once) => return self.once(once, None, rx, q, out).await,
            };
            match item {
                Item::End { due } => {
                    if let Err(once) = self.wait_until(due).await {
                        return self.once(once, Some(Item::End { due }), rx, q, out).await;
                    }
                    return self.end_of_stream(out).await;
                }
                Item::Data { buf, len, due } => {
                    if let Err(once) = self.wait_until(due).await {
                        let item = Item::Data { buf, len, due };
                        self.partial = 0;
                        return self.once(once, Some(item), rx, q, out).await;
                    }
                    if let Err((once, done)) = self.write(&buf[..len], out).await? {
                        let item = Item::Data { buf, len, due };
                        // What was written stays written: a resume goes on after it.
                        self.partial = done;
                        return self.once(once, Some(item), rx, q, out).await;
                    }
                    q.release(len.min(q.limit));
                    q.give(buf);
                }
            }
        }
    }

    /// Write one chunk (or message): paced, sliced, cut short at a one-time fault's offset.
    /// `Ok(Err((once, n)))`: that fault is due now, after the first `n` bytes of `data` (which
    /// stay written).
    async fn write(
        &mut self,
        data: &[u8],
        out: &mut Out<'_>,
    ) -> Result<Result<(), (Once, usize)>, Fault> {
        let whole = out.messages();
        let mut at = 0;
        while at < data.len() || (whole && at == 0) {
            let active = self.run.active();
            if let Some(once) = self.overdue().filter(|_| active) {
                return Ok(Err((once, at)));
            }
            let mut piece = data.len() - at;
            if let Some((left, once)) = self.next_sized() {
                if left == 0 && active {
                    return Ok(Err((once, at)));
                }
                if !whole && active {
                    piece = piece.min(left as usize);
                }
            }
            if let (Some(s), true, false) = (self.spec.slice, active, whole) {
                piece = piece.min(self.rng.between(s.min, s.max));
            }
            if active {
                let mut when = Instant::now();
                if let Some(t) = &self.total {
                    if let Ok(mut t) = t.lock() {
                        let (n, w) = t.reserve(piece, whole);
                        piece = n;
                        when = when.max(w);
                    }
                }
                if let Some(p) = &mut self.pacer {
                    let (n, w) = p.reserve(piece, whole);
                    piece = n;
                    when = when.max(w);
                }
                if when > Instant::now() {
                    if let Err(once) = race(self.next_timed(), sleep_until(when)).await {
                        return Ok(Err((once, at)));
                    }
                }
            }
            let chunk = &data[at..at + piece];
            match race(self.next_timed(), out.put(chunk)).await {
                Ok(r) => r?,
                Err(once) => return Ok(Err((once, at))),
            }
            at += piece;
            self.offset += piece as u64;
            self.meter.add(piece as u64, u64::from(whole));
            if let Some(h) = self.hook.as_deref_mut() {
                h.data(chunk, whole).await;
            }
            if whole {
                break;
            }
            if let (Some(s), true) = (self.spec.slice, active) {
                if !s.gap.is_zero() {
                    let gap = tokio::time::sleep(s.gap);
                    if let Err(once) = race(self.next_timed(), gap).await {
                        return Ok(Err((once, at)));
                    }
                }
            }
        }
        Ok(Ok(()))
    }

    /// A one-time fault fires. `held`: the item in hand, not (all) written.
    async fn once(
        &mut self,
        mut once: Once,
        mut held: Option<Item>,
        rx: &mut mpsc::UnboundedReceiver<Item>,
        q: &Queue,
        out: &mut Out<'_>,
    ) -> Result<(), Fault> {
        loop {
            self.timed.retain(|(_, o)| *o != once);
            self.sized.retain(|(_, o)| *o != once);
            if !self.run.active() {
                // Off (SIGUSR1, outside --faults-after/--faults-for): this one passes.
                if let Some(h) = held.take() {
                    return self.resume(h, rx, q, out).await;
                }
                return Box::pin(self.run(rx, q, out)).await;
            }
            self.fired(once.name());
            match once {
                Once::Stall => {
                    // Move nothing, keep everything open: the queue fills, the reader stops.
                    match race(self.next_timed(), std::future::pending::<()>()).await {
                        Ok(()) => unreachable!("pending never ends"),
                        Err(next) => once = next,
                    }
                }
                Once::Close => {
                    // FIN to the receiver; what the sender still sends is read and dropped, so
                    // that closing later is not a reset.
                    if let Some((fd, _)) = &self.ends.dst {
                        let _ = crate::endpoint::sock::shutdown_write(fd.get_ref());
                    }
                    if let Some(Item::Data { buf, len, .. }) = held.take() {
                        q.release(len.min(q.limit));
                        q.give(buf);
                    }
                    loop {
                        match rx.recv().await {
                            Some(Item::Data { buf, len, .. }) => {
                                q.release(len.min(q.limit));
                                q.give(buf);
                            }
                            Some(Item::End { .. }) => return Ok(()),
                            None => return std::future::pending().await,
                        }
                    }
                }
                Once::Reset => return self.reset().await,
            }
        }
    }

    /// Go on with `held` after a fault that did not fire.
    async fn resume(
        &mut self,
        held: Item,
        rx: &mut mpsc::UnboundedReceiver<Item>,
        q: &Queue,
        out: &mut Out<'_>,
    ) -> Result<(), Fault> {
        match held {
            Item::End { .. } => self.end_of_stream(out).await,
            Item::Data { buf, len, due } => {
                // Go on after what was written before the fault; a fault that did not fire is
                // gone, so this chunk cannot meet it again, but another may come midway.
                let from = std::mem::take(&mut self.partial).min(len);
                if let Err((once, done)) = self.write(&buf[from..len], out).await? {
                    self.partial = from + done;
                    let item = Item::Data { buf, len, due };
                    return Box::pin(self.once(once, Some(item), rx, q, out)).await;
                }
                q.release(len.min(q.limit));
                q.give(buf);
                Box::pin(self.run(rx, q, out)).await
            }
        }
    }

    /// Reset both sides once what was written has arrived.
    async fn reset(&mut self) -> Result<(), Fault> {
        for (end, side) in [
            (&self.ends.dst, "the receiver"),
            (&self.ends.src, "the sender"),
        ] {
            if let Some((fd, medium)) = end {
                if let Some(warning) = reset::arm(fd, *medium, side) {
                    tracing::warn!("{warning}");
                }
            }
        }
        if let Some((fd, Medium::Tcp)) = &self.ends.dst {
            reset::acked(fd, self.offset).await;
        }
        Err(Fault::Ended(End::Cut))
    }

    /// The sender ended its side: pass it on, late, or not at all, or close everything.
    async fn end_of_stream(&mut self, _out: &mut Out<'_>) -> Result<(), Fault> {
        if !self.run.active() {
            return Ok(());
        }
        let shut_dst = |w: &Self| {
            if let Some((fd, _)) = &w.ends.dst {
                let _ = crate::endpoint::sock::shutdown_write(fd.get_ref());
            }
        };
        match (self.spec.half_close, self.spec.slow_close) {
            (Some(HalfClose::Swallow), _) => {
                self.fired("half-close-swallow");
                Err(Fault::Ended(End::KeepSink))
            }
            (Some(HalfClose::Delay(d)), _) => {
                self.fired("half-close-delay");
                if let Err(once) = race(self.next_timed(), tokio::time::sleep(d)).await {
                    if once == Once::Reset {
                        self.fired("reset");
                        return self.reset().await;
                    }
                }
                Ok(())
            }
            (Some(HalfClose::Full), _) => {
                self.fired("half-close-full");
                shut_dst(self);
                Err(Fault::Ended(End::Cut))
            }
            (None, Some(d)) => {
                self.fired("slow-close");
                tokio::time::sleep(d).await;
                shut_dst(self);
                Err(Fault::Ended(End::Cut))
            }
            (None, None) => Ok(()),
        }
    }
}

/// Split a direction's faults into the reader's and the writer's parts.
fn parts<'a>(
    f: &'a mut DirFaults,
    meter: &'a Meter,
    hook: Option<&'a mut Hook>,
) -> (Stamper<'a>, Writer<'a>) {
    let now = Instant::now();
    let mut wrng = Rng::new(f.rng.next_u64(), f.conn, super::rng::Stream::Connection);
    let _ = wrng.next_u64();
    let mut timed = Vec::new();
    let mut sized = Vec::new();
    for (t, once) in [
        (f.spec.close_after, Once::Close),
        (f.spec.reset_after, Once::Reset),
        (f.spec.stall_after, Once::Stall),
    ] {
        match t {
            Some(Trigger::After(d)) => timed.push((f.start + d, once)),
            Some(Trigger::Bytes(n)) => sized.push((n, once)),
            None => {}
        }
    }
    let stamper = Stamper {
        run: &f.run,
        conn: f.conn,
        dir: f.dir,
        spec: &f.spec,
        rng: f.rng.clone(),
        last: now,
        bytes: 0,
    };
    let writer = Writer {
        run: &f.run,
        conn: f.conn,
        dir: f.dir,
        spec: &f.spec,
        rng: wrng,
        pacer: f.pacer.take(),
        total: f.total.clone(),
        ends: &f.ends,
        offset: 0,
        partial: 0,
        timed,
        sized,
        meter,
        hook,
    };
    (stamper, writer)
}

/// Copy a byte stream with faults until its end (or until a fault ends it).
pub(crate) async fn copy_stream(
    f: &mut DirFaults,
    src: &Fd,
    dst: &Fd,
    queue: usize,
    meter: &Meter,
    hook: Option<&mut Hook>,
) -> Result<(), Fault> {
    let q = Queue::new(queue.max(8192));
    let chunk_max = (queue / 2).max(4096);
    // A reset at a byte offset: the reader reads no further than it, so what the sender sends
    // after it is still unread when the reset comes. On a Unix socket that is what makes the
    // sender's recv(2) fail with ECONNRESET rather than read end of stream; without the limit
    // the reader may have drained everything the sender had sent (a race with the reset).
    let mut reset_at = match f.spec.reset_after {
        Some(Trigger::Bytes(n)) => Some(n),
        _ => None,
    };
    let (mut stamper, mut writer) = parts(f, meter, hook);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reader = async {
        // Nothing is allocated before the first byte: an idle connection holds no buffer.
        let _ = src.readable().await.map_err(Fault::Read)?;
        let mut size = START.min(chunk_max);
        loop {
            let mut limit = usize::MAX;
            if let Some(at) = reset_at {
                if stamper.bytes >= at {
                    // The writer resets when it gets there and the direction ends, dropping
                    // this reader. Faults off meanwhile (SIGUSR1, --faults-for): the reset
                    // does not fire, so reading goes on.
                    while stamper.run.active() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    reset_at = None;
                } else {
                    limit = usize::try_from(at - stamper.bytes).unwrap_or(usize::MAX);
                }
            }
            let want = q
                .reserve_some(START.min(size).min(limit), size.min(limit))
                .await;
            let mut buf = q.take_room(want);
            let n = fdio::read_stream(src, &mut buf[..want])
                .await
                .map_err(Fault::Read)?;
            q.release(want - n);
            let due = stamper.due(stamper.run.active());
            if n == 0 {
                let _ = tx.send(Item::End { due });
                return Ok::<(), Fault>(());
            }
            stamper.bytes += n as u64;
            let _ = tx.send(Item::Data { buf, len: n, due });
            if n == size && size < chunk_max {
                size = (size * 4).min(chunk_max);
            }
        }
    };
    let mut out = Out::Stream(dst);
    let writing = writer.run(&mut rx, &q, &mut out);
    // The writer's end is the direction's: a reader held at a reset's offset is dropped then.
    tokio::pin!(reader, writing);
    let mut reading = true;
    loop {
        tokio::select! {
            r = &mut reader, if reading => {
                r?;
                reading = false;
            }
            w = &mut writing => return w,
        }
    }
}

/// Relay messages with faults (drop, duplicate, reorder, corrupt, and the stream faults that
/// apply to messages) until the end (or until a fault ends it).
pub(crate) async fn copy_messages(
    f: &mut DirFaults,
    input: &mut MsgIn,
    output: &mut MsgOut,
    queue: usize,
    meter: &Meter,
    hook: Option<&mut Hook>,
) -> Result<(), Fault> {
    let q = Queue::new(queue.max(crate::endpoint::demux::MAX_DATAGRAM));
    let (mut s, mut writer) = parts(f, meter, hook);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reader = async {
        let mut index = 0u64;
        let mut held: Option<Vec<u8>> = None;
        let push = |v: Vec<u8>, due: Instant| {
            let len = v.len();
            let _ = tx.send(Item::Data { buf: v, len, due });
        };
        loop {
            let Some(msg) = input.next().await? else {
                break;
            };
            let (spec, i) = (s.spec, index);
            index += 1;
            let active = s.run.active();
            if active && s.rng.chance(spec.drop) {
                s.fired("drop", i);
                s.bytes += msg.len() as u64;
                continue;
            }
            q.reserve(msg.len()).await;
            let mut v = q.take(0);
            v.extend_from_slice(msg);
            if active && !v.is_empty() && s.rng.chance(spec.corrupt) {
                let at = s.rng.between(0, v.len() - 1);
                v[at] ^= 1 << (s.rng.next_u64() % 8);
                s.fired("corrupt", i);
            }
            let dup = active && s.rng.chance(spec.dup);
            let hold = active && held.is_none() && s.rng.chance(spec.reorder);
            let due = s.due(active);
            let len = v.len() as u64;
            if dup {
                s.fired("dup", i);
                q.reserve(v.len()).await;
                push(v.clone(), due);
            }
            if hold {
                // Sent after the next message.
                s.fired("reorder", i);
                s.bytes += len;
                held = Some(v);
                continue;
            }
            s.bytes += len;
            push(v, due);
            if let Some(h) = held.take() {
                push(h, due);
            }
        }
        let due = s.due(false);
        if let Some(h) = held.take() {
            push(h, due);
        }
        let _ = tx.send(Item::End { due });
        Ok::<(), Fault>(())
    };
    let mut out = Out::Messages(output);
    let writing = writer.run(&mut rx, &q, &mut out);
    tokio::try_join!(reader, writing).map(drop)
}
