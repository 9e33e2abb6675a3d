//! Stream copy through a user-space buffer, for when `splice(2)` cannot serve or is slower
//! (see `relay::CopyMode`). Nothing is taken until the first readable event, so an idle
//! connection holds no buffer. The buffer starts at 16 KiB and grows (x4) each time a read
//! fills it, up to the configured size: a bulk transfer reaches the large buffer after three
//! reads (fewer system calls per byte: 1 MiB measured on par with a hand-written C relay into
//! TCP, 256 KiB 5-10% behind), while a chatty connection keeps a small one. A slow sink is met
//! by not reading (backpressure), never by buffering more than one buffer.
//!
//! First buffers are recycled: a direction that ends gives its 16 KiB buffer back to a small
//! per-thread stock ([`Spare`]) that the next connection on that thread takes, so a short
//! connection neither allocates, zeroes nor frees one (a fresh zeroed 64 KiB buffer per
//! direction per connection measured as memset, page faults and heap trimming in profiles of
//! many short connections). A buffer that grew is freed at the end, not kept.

use std::cell::RefCell;

use super::{Fault, Meter};
use crate::endpoint::fdio::{self, Fd};
use crate::tap::Hook;

/// The first buffer of a direction.
const START: usize = 16 * 1024;

/// First buffers kept per thread for the next connections (at most 2 MiB a thread).
const SPARE_MAX: usize = 128;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A direction's buffer, given back to this thread's stock when dropped if it is still a
/// first buffer.
struct Spare(Vec<u8>);

impl Spare {
    /// A buffer of `len` bytes (at most [`START`]): a recycled one, or a new one zeroed once.
    fn take(len: usize) -> Spare {
        let mut b = if len == START {
            SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_default()
        } else {
            Vec::new()
        };
        // A recycled buffer is already START long: nothing to zero.
        b.resize(len, 0);
        Spare(b)
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        // A tap may have swapped in a buffer of its own: only first buffers are kept.
        if self.0.capacity() != START {
            return;
        }
        let mut b = std::mem::take(&mut self.0);
        b.resize(START, 0);
        // `try_with`: a connection dropped while its thread exits has no stock left to fill.
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_MAX {
                s.push(b);
            }
        });
    }
}

/// How a buffered copy ended.
pub(crate) enum Copied {
    /// End of stream.
    Eof,
    /// A read filled the first buffer and the caller asked to be told (see [`copy`]).
    Bulk,
}

/// Copy until end of stream. With `until_bulk`, return [`Copied::Bulk`] (everything read
/// written) as soon as a read fills the first buffer: the caller goes on with `splice(2)`,
/// which pays for its pipe (`pipe2`, `F_SETPIPE_SZ`, two `close`, and two descriptors held)
/// only on a connection that moves bulk.
pub(crate) async fn copy(
    src: &Fd,
    dst: &Fd,
    max: usize,
    meter: &Meter,
    until_bulk: bool,
) -> Result<Copied, Fault> {
    let _ = src.readable().await.map_err(Fault::Read)?;
    let mut spare = Spare::take(START.min(max));
    let buf = &mut spare.0;
    loop {
        let n = fdio::read_stream(src, buf).await.map_err(Fault::Read)?;
        if n == 0 {
            return Ok(Copied::Eof);
        }
        fdio::write_all(dst, &buf[..n])
            .await
            .map_err(Fault::Write)?;
        meter.add(n as u64, 0);
        if n == buf.len() {
            if until_bulk {
                return Ok(Copied::Bulk);
            }
            grow(buf, max);
        }
    }
}

/// [`copy`] with a tap: `hook` is shown each chunk once it is written (a function of its own,
/// so that untapped directions do not carry the tap's state machine).
pub(crate) async fn copy_tapped(
    src: &Fd,
    dst: &Fd,
    max: usize,
    meter: &Meter,
    hook: &mut Hook,
) -> Result<(), Fault> {
    let _ = src.readable().await.map_err(Fault::Read)?;
    let mut spare = Spare::take(START.min(max));
    let buf = &mut spare.0;
    loop {
        let n = fdio::read_stream(src, buf).await.map_err(Fault::Read)?;
        if n == 0 {
            return Ok(());
        }
        fdio::write_all(dst, &buf[..n])
            .await
            .map_err(Fault::Write)?;
        meter.add(n as u64, 0);
        hook.data_swap(buf, n).await;
        if n == buf.len() {
            grow(buf, max);
        }
    }
}

/// A read filled `buf`: the next read gets four times the room, up to `max`.
fn grow(buf: &mut Vec<u8>, max: usize) {
    if buf.len() < max {
        buf.resize((buf.len() * 4).min(max), 0);
    }
}
