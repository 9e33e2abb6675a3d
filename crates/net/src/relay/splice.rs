//! Zero-copy stream copy: `splice(2)` from the source into a private pipe, then from the pipe
//! into the sink. Bytes never enter user space.
//!
//! The pipe is only ever filled when empty and drained completely before the next fill, so an
//! `EAGAIN` from the first splice always means "the source has nothing" and from the second
//! "the sink is full": each readiness cleared is the right one. The pipe is created on the
//! first byte, so an idle connection holds none.

use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
use nix::unistd::pipe2;

use super::{Fault, Meter};
use crate::endpoint::fdio::{on_readable, on_writable, Fd};

/// The private pipe's capacity (`F_SETPIPE_SZ`): bigger pipes mean fewer system calls per byte.
pub const PIPE_SIZE: usize = 1 << 20;

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK
}

/// Copy until end of stream.
pub(crate) async fn copy(src: &Fd, dst: &Fd, meter: &Meter) -> Result<(), Fault> {
    // Wait for the first byte before making the pipe: idle connections cost no pipe.
    let _ = src.readable().await.map_err(Fault::Read)?;
    let (pr, pw) =
        pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(|e| Fault::Read(e.into()))?;
    // Unprivileged users may be capped below PIPE_SIZE (fs.pipe-max-size); the default
    // capacity (64 KiB) still works, only slower.
    let size = fcntl(&pw, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as i32))
        .map(|n| n as usize)
        .unwrap_or(64 * 1024);
    loop {
        let n = on_readable(src, |s| {
            splice(s, None, &pw, None, size, flags()).map_err(Into::into)
        })
        .await
        .map_err(Fault::Read)?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            left -= on_writable(dst, |d| {
                splice(&pr, None, d, None, left, flags()).map_err(Into::into)
            })
            .await
            .map_err(Fault::Write)?;
        }
        meter.add(n as u64, 0);
    }
}
