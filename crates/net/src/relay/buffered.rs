//! Stream copy through a user-space buffer, for when `splice(2)` cannot serve or is slower
//! (see `relay::CopyMode`). The buffer is allocated at the first readable event, so an idle
//! connection holds none; a slow sink is met by not reading (backpressure), never by buffering
//! more than one buffer.

use super::{Fault, Meter};
use crate::endpoint::fdio::{self, Fd};

pub(crate) async fn copy(src: &Fd, dst: &Fd, size: usize, meter: &Meter) -> Result<(), Fault> {
    let _ = src.readable().await.map_err(Fault::Read)?;
    let mut buf = vec![0u8; size];
    loop {
        let n = fdio::read(src, &mut buf).await.map_err(Fault::Read)?;
        if n == 0 {
            return Ok(());
        }
        fdio::write_all(dst, &buf[..n])
            .await
            .map_err(Fault::Write)?;
        meter.add(n as u64, 0);
    }
}
