//! Stream copy through a user-space buffer, for when `splice(2)` cannot serve or is slower
//! (see `relay::CopyMode`). Nothing is allocated until the first readable event, so an idle
//! connection holds no buffer. The buffer starts at 64 KiB and grows (x4) each time a read
//! fills it, up to the configured size: a bulk transfer reaches the large buffer after two
//! reads (fewer system calls per byte: 1 MiB measured on par with a hand-written C relay into
//! TCP, 256 KiB 5-10% behind), while a chatty connection keeps a small one. A slow sink is met
//! by not reading (backpressure), never by buffering more than one buffer.

use super::{Fault, Meter};
use crate::endpoint::fdio::{self, Fd};
use crate::tap::Hook;

/// The first buffer of a direction.
const START: usize = 64 * 1024;

/// Copy until end of stream; `hook` (a tap) is shown each chunk once it is written.
pub(crate) async fn copy(
    src: &Fd,
    dst: &Fd,
    max: usize,
    meter: &Meter,
    mut hook: Option<&mut Hook>,
) -> Result<(), Fault> {
    let _ = src.readable().await.map_err(Fault::Read)?;
    let mut buf = vec![0u8; START.min(max)];
    loop {
        let n = fdio::read_stream(src, &mut buf)
            .await
            .map_err(Fault::Read)?;
        if n == 0 {
            return Ok(());
        }
        fdio::write_all(dst, &buf[..n])
            .await
            .map_err(Fault::Write)?;
        meter.add(n as u64, 0);
        if let Some(h) = hook.as_deref_mut() {
            h.data_swap(&mut buf, n).await;
        }
        if n == buf.len() && buf.len() < max {
            buf.resize((buf.len() * 4).min(max), 0);
        }
    }
}
