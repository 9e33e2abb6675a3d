//! Round-trip latency: one thread sends a `size`-byte message and waits for it to come back
//! whole; the other echoes what it reads. One message is in flight at a time. Each round trip
//! after the warm-up is recorded, in nanoseconds, in an HDR histogram (3 significant digits,
//! 1 ns to 60 s: a fixed array, so recording allocates nothing), which gives the percentiles.
//!
//! TCP sockets get `TCP_NODELAY` here, as latency-sensitive programs (and sockperf) set it.
//! Over UDP a message or its echo can be lost: the first 8 bytes carry a sequence number, a
//! round trip with no answer within the receive timeout (100 ms) is counted as lost and a new
//! message is sent, and late answers to old messages are skipped.

use std::cell::Cell;
use std::io;
use std::time::Instant;

use hdrhistogram::Histogram;

use super::throughput::pattern;
use super::transports::{self, timed_out, End, OpenOptions, Rx, Transport, Tx};
use super::{run_pair, Env, Latency, Phase};
use crate::error::io_err;
use crate::{Error, Result};

pub(crate) fn measure(t: Transport, size: usize, env: &Env<'_>) -> Result<Latency> {
    let link = transports::open(t, OpenOptions { nodelay: true })?;
    let (a, b) = (link.a, link.b);
    let phase = &Phase::warming_up();
    let what = &format!("bench {t}");
    let how = Echoed {
        size,
        messages: t.keeps_boundaries(),
        lossy: t.lossy(),
    };
    // Buffers and the histogram are made before the clock starts.
    let mut buffers = Buffers::new(how).map_err(|e| e.named(what))?;
    let mut echo_buf = pattern(size);
    let (timings, _) = run_pair(
        env,
        phase,
        move || {
            let End { rx, tx } = a;
            let r = ping(&rx, &tx, &mut buffers, how, phase);
            let _ = tx.finish();
            r.map_err(|e| e.named(what))
        },
        move || {
            let End { rx, tx } = b;
            echo(&rx, &tx, &mut echo_buf, phase).map_err(io_err("echo", what))
        },
    )?;
    Ok(timings.summary(size))
}

/// How messages travel in a round trip.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Echoed {
    pub size: usize,
    /// One read is one message (datagram kinds).
    pub messages: bool,
    /// Messages may be lost (UDP).
    pub lossy: bool,
}

/// What the pinging side measured.
pub(crate) struct Timings {
    hist: Histogram<u64>,
    lost: u64,
}

impl Timings {
    pub fn summary(&self, size: usize) -> Latency {
        let h = &self.hist;
        let us = |ns: u64| ns as f64 / 1000.0;
        let empty = h.is_empty();
        let q = |q: f64| {
            if empty {
                0.0
            } else {
                us(h.value_at_quantile(q))
            }
        };
        Latency {
            size,
            samples: h.len(),
            lost: self.lost,
            min_us: if empty { 0.0 } else { us(h.min()) },
            mean_us: if empty { 0.0 } else { h.mean() / 1000.0 },
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if empty { 0.0 } else { us(h.max()) },
        }
    }
}

/// A failure of the pinging side.
pub(crate) enum PingError {
    Io(&'static str, io::Error),
    Protocol(String),
}

impl PingError {
    pub fn named(self, what: &str) -> Error {
        match self {
            PingError::Io(op, e) => io_err(op, what)(e),
            PingError::Protocol(m) => Error::Bench(format!("{what}: {m}")),
        }
    }
}

/// What the pinging side fills: made before the clock starts.
pub(crate) struct Buffers {
    hist: Histogram<u64>,
    out: Vec<u8>,
    back: Vec<u8>,
}

impl Buffers {
    pub fn new(how: Echoed) -> Result<Buffers, PingError> {
        Ok(Buffers {
            hist: Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
                .map_err(|e| PingError::Protocol(format!("histogram: {e}")))?,
            out: pattern(how.size),
            back: pattern(how.size),
        })
    }
}

/// Round trips tried after the phase said stop, when none was recorded yet.
const EXTRA_TRIPS: u32 = 20;

/// Send, wait for the echo, record; until the phase says stop, and until one round trip was
/// recorded (at most [`EXTRA_TRIPS`] more), so a measurement squeezed out by a busy machine
/// still has its figure.
pub(crate) fn ping(
    rx: &Rx,
    tx: &Tx,
    bufs: &mut Buffers,
    how: Echoed,
    phase: &Phase,
) -> Result<Timings, PingError> {
    let Buffers { hist, out, back } = bufs;
    let numbered = how.lossy && how.size >= 8;
    let mut seq = 0u64;
    let mut lost = 0u64;
    // Once stopped: give up (before a trip, on a receive timeout) when something was recorded
    // or after EXTRA_TRIPS tries.
    let extra = Cell::new(0u32);
    let give_up = |hist: &Histogram<u64>| {
        if !phase.stopped() {
            return false;
        }
        if !hist.is_empty() || extra.get() >= EXTRA_TRIPS {
            return true;
        }
        extra.set(extra.get() + 1);
        false
    };
    'trips: loop {
        if give_up(hist) {
            break;
        }
        seq += 1;
        if numbered {
            out[..8].copy_from_slice(&seq.to_le_bytes());
        }
        let t0 = Instant::now();
        if let Err(e) = tx.write_all(out) {
            if phase.stopped() {
                break;
            }
            return Err(PingError::Io("send", e));
        }
        if how.messages {
            loop {
                match rx.read(back) {
                    Ok(n) if numbered && back[..8] != out[..8] => {
                        let _ = n; // an answer to a message already given up on
                    }
                    Ok(n) if n == how.size => break,
                    Ok(n) => {
                        return Err(PingError::Protocol(format!(
                            "a {}-byte message came back as {n} bytes",
                            how.size
                        )))
                    }
                    Err(e) if timed_out(&e) => {
                        if give_up(hist) {
                            break 'trips;
                        }
                        if how.lossy {
                            lost += 1;
                            continue 'trips;
                        }
                    }
                    Err(e) => {
                        if phase.stopped() {
                            break 'trips;
                        }
                        return Err(PingError::Io("receive", e));
                    }
                }
            }
        } else {
            match rx.read_exact(back, || give_up(hist)) {
                Ok(true) => {}
                Ok(false) if phase.stopped() => break,
                Ok(false) => {
                    return Err(PingError::Protocol(
                        "the echoing side closed the connection".into(),
                    ))
                }
                Err(_) if phase.stopped() => break,
                Err(e) => return Err(PingError::Io("receive", e)),
            }
        }
        let ns = t0.elapsed().as_nanos() as u64;
        if phase.counting() {
            hist.saturating_record(ns.max(1));
        }
    }
    Ok(Timings {
        hist: hist.clone(),
        lost,
    })
}

/// Send back whatever arrives (read into `buf`, one message long), until the data ends or
/// the phase says stop; returns how many reads were echoed.
pub(crate) fn echo(rx: &Rx, tx: &Tx, buf: &mut [u8], phase: &Phase) -> io::Result<u64> {
    let mut echoed = 0u64;
    loop {
        match rx.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = tx.write_all(&buf[..n]) {
                    if phase.stopped() {
                        break;
                    }
                    return Err(e);
                }
                echoed += 1;
            }
            Err(e) if timed_out(&e) => {
                if phase.stopped() {
                    break;
                }
            }
            Err(e) => {
                if phase.stopped() {
                    break;
                }
                return Err(e);
            }
        }
    }
    Ok(echoed)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::super::{Env, Timing};
    use super::*;

    fn quick(t: Transport) -> Latency {
        let cancel = AtomicBool::new(false);
        let env = Env {
            cpus: None,
            timing: Timing::for_duration(Duration::from_millis(30)),
            cancel: &cancel,
        };
        measure(t, 64, &env).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn percentiles_are_ordered_for_a_stream_a_datagram_and_a_pipe() {
        for t in [Transport::Unix, Transport::Udp4, Transport::Pipe] {
            let l = quick(t);
            assert!(l.samples > 0, "{t}: {l:?}");
            assert!(
                l.min_us > 0.0
                    && l.min_us <= l.p50_us
                    && l.p50_us <= l.p90_us
                    && l.p90_us <= l.p99_us
                    && l.p99_us <= l.p999_us
                    && l.p999_us <= l.max_us * 1.001,
                "{t}: {l:?}"
            );
        }
    }
}
