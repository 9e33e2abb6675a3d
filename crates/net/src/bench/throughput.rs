//! Throughput: one thread writes `size`-byte messages as fast as `write(2)` takes them, the
//! other drains them with `read(2)`; bytes are counted at the receiver, from its first read
//! after the warm-up to the end of the data.
//!
//! A stream receiver reads up to `max(size, 256 KiB)` per call, so the reader is never the
//! side making small system calls; a datagram receiver reads one message per call. The end of
//! the data is end of stream (`shutdown(2)` or closing the pipe) or a zero-length datagram;
//! over UDP, where that marker can be lost, the sender repeats it until the receiver is done,
//! and the receiver also stops on its receive timeout once the phase says stop, counting up to
//! the last datagram it saw.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::transports::{self, timed_out, End, OpenOptions, Rx, Transport, Tx};
use super::{run_pair, Env, Phase, Received, Throughput};
use crate::error::io_err;
use crate::Result;

/// The smallest read of a stream receiver.
pub(crate) const STREAM_READ: usize = 256 * 1024;

pub(crate) fn measure(
    t: Transport,
    size: usize,
    limited: bool,
    env: &Env<'_>,
) -> Result<Throughput> {
    let link = transports::open(t, OpenOptions::default())?;
    let (a, b) = (link.a, link.b);
    let phase = &Phase::warming_up();
    let receiver_done = &AtomicBool::new(false);
    let what = &format!("bench {t}");
    let shape = Shape::of(t, size);
    // Buffers are made (and their pages touched) before the clock starts.
    let out = pattern(size);
    let mut into = pattern(shape.buffer_len());
    // Each thread owns its end: when one stops, for whatever reason, its descriptors close
    // and the other's blocked call returns.
    let (sent, received) = run_pair(
        env,
        phase,
        move || {
            let End { rx: _rx, tx } = a;
            let sent = send(&tx, &out, phase).map_err(io_err("write", what))?;
            end_data(tx, receiver_done).map_err(io_err("end the data on", what))?;
            Ok(sent)
        },
        move || {
            let r = receive(&b.rx, &mut into, shape, phase);
            receiver_done.store(true, Ordering::Relaxed);
            drop(b);
            r.map_err(io_err("read", what))
        },
    )?;
    Ok(Throughput::new(size, limited, received, sent, t.lossy()))
}

/// Write `buf` as one message after another until the phase says stop, and at least once
/// while counting (so a measurement squeezed out by a busy machine still has its figure);
/// returns how many were written while counting.
pub(crate) fn send(tx: &Tx, buf: &[u8], phase: &Phase) -> io::Result<u64> {
    let mut counted = 0u64;
    while !phase.stopped() || counted == 0 {
        if let Err(e) = tx.write_all(buf) {
            // The receiver may have stopped first (a datagram receiver on its timeout).
            if phase.stopped() {
                break;
            }
            return Err(e);
        }
        if phase.counting() {
            counted += 1;
        }
    }
    Ok(counted)
}

/// Tell the receiver the data ended; a lossy marker is repeated (every 10 ms, at most 100
/// times) until `receiver_done`.
pub(crate) fn end_data(tx: Tx, receiver_done: &AtomicBool) -> io::Result<()> {
    if !tx.marks_end_with_a_datagram() {
        return tx.finish();
    }
    for _ in 0..100 {
        if receiver_done.load(Ordering::Relaxed) {
            break;
        }
        // The receiver may be gone already (ECONNREFUSED): it is done then.
        if tx.send_end_marker().is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// How a receiver reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    /// Bytes per message (streams: per write).
    pub size: usize,
    /// One read is one message.
    pub messages: bool,
    /// The end marker may be lost: note the time of each message, so that ending on the
    /// receive timeout does not count the timeout as transfer time.
    pub lossy: bool,
}

impl Shape {
    pub fn of(t: Transport, size: usize) -> Shape {
        Shape {
            size,
            messages: t.keeps_boundaries(),
            lossy: t.lossy(),
        }
    }

    pub fn buffer_len(&self) -> usize {
        if self.messages {
            self.size
        } else {
            self.size.max(STREAM_READ)
        }
    }
}

/// Drain `rx` into `buf` (`shape.buffer_len()` bytes) until the data ends; count what arrives
/// once the phase says count.
pub(crate) fn receive(
    rx: &Rx,
    buf: &mut [u8],
    shape: Shape,
    phase: &Phase,
) -> io::Result<Received> {
    let mut bytes = 0u64;
    let mut messages = 0u64;
    let mut start: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    let mut timed_out_at_end = false;
    loop {
        match rx.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                if start.is_none() {
                    if !phase.counting() {
                        continue;
                    }
                    start = Some(Instant::now());
                }
                bytes += n as u64;
                messages += 1;
                if shape.lossy {
                    last = Some(Instant::now());
                }
            }
            Err(e) if timed_out(&e) => {
                if phase.stopped() {
                    timed_out_at_end = true;
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
    // Ended by the marker or end of stream: now. By the receive timeout (the marker was
    // lost): the last datagram, so the timeout does not count as transfer time.
    let end = if timed_out_at_end && shape.lossy {
        last
    } else {
        Some(Instant::now())
    };
    let seconds = match (start, end) {
        (Some(s), Some(e)) => e.saturating_duration_since(s).as_secs_f64(),
        _ => 0.0,
    };
    if !shape.messages {
        messages = bytes / shape.size as u64;
    }
    Ok(Received {
        bytes,
        messages,
        seconds,
    })
}

/// A buffer of `n` bytes, every page touched (so no page fault lands in the hot loop).
pub(crate) fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{Env, Timing};
    use super::*;

    #[test]
    fn a_socketpair_moves_bytes_and_counts_them_at_the_receiver() {
        let cancel = AtomicBool::new(false);
        let env = Env {
            cpus: None,
            timing: Timing::for_duration(Duration::from_millis(30)),
            cancel: &cancel,
        };
        let t = measure(Transport::Socketpair, 4096, false, &env).unwrap();
        assert!(t.bytes > 0 && t.seconds > 0.0, "{t:?}");
        assert_eq!(t.messages, t.bytes / 4096);
        assert!(t.mib_per_s > 0.0);
        assert_eq!(t.lost_messages, None);
    }

    #[test]
    fn udp_counts_datagrams_and_losses() {
        let cancel = AtomicBool::new(false);
        let env = Env {
            cpus: None,
            timing: Timing::for_duration(Duration::from_millis(30)),
            cancel: &cancel,
        };
        let t = measure(Transport::Udp4, 1000, false, &env).unwrap();
        assert!(t.messages > 0, "{t:?}");
        assert_eq!(t.bytes, t.messages * 1000, "every datagram is whole");
        assert!(t.lost_messages.is_some());
    }
}
