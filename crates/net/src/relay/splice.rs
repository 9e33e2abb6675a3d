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

/// Copy until end of stream. With `raise_sndbuf` (a Unix stream sink whose address did not set
/// `sndbuf=`), the sink's `SO_SNDBUF` is raised to the pipe's size first: a Unix socket's
/// sender may have only that much unread by its peer, and at the default (`wmem_default`, 208
/// KiB) a 2 GiB unix->unix stream took about 205 KB per splice and a readiness turn for each,
/// where a minimal C relay's blocking splice waits in the kernel instead. Measured 1.03-1.04x
/// on unix->unix in bench/relay.sh (docs/benchmarks.md). The kernel caps it at
/// `net.core.wmem_max`, so on a host that keeps that at its default nothing changes. Only a
/// connection that moves bulk pays the `getsockopt` and `setsockopt`, and only its kernel
/// memory grows.
pub(crate) async fn copy(
    src: &Fd,
    dst: &Fd,
    meter: &Meter,
    raise_sndbuf: bool,
) -> Result<(), Fault> {
    // Wait for the first byte before making the pipe: idle connections cost no pipe.
    let _ = src.readable().await.map_err(Fault::Read)?;
    let (pr, pw) =
        pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(|e| Fault::Read(e.into()))?;
    // Unprivileged users may be capped below PIPE_SIZE (fs.pipe-max-size); the default
    // capacity (64 KiB) still works, only slower.
    let size = fcntl(&pw, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as i32))
        .map(|n| n as usize)
        .unwrap_or(64 * 1024);
    if raise_sndbuf {
        raise_send_buffer(dst, size);
    }
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

/// Raise `dst`'s `SO_SNDBUF` to hold `size` bytes, never lower it (a small pipe, when
/// `F_SETPIPE_SZ` was refused, is below the default buffer already). Best effort: a sink that
/// refuses keeps its buffer, and the copy its speed of before.
fn raise_send_buffer(dst: &Fd, size: usize) {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt::SndBuf};
    // The kernel reports (and keeps) twice what is asked, for its bookkeeping.
    if getsockopt(dst.get_ref(), SndBuf).is_ok_and(|now| now < 2 * size) {
        let _ = setsockopt(dst.get_ref(), SndBuf, &size);
        crate::narrate!("setsockopt(SO_SNDBUF, {size}) on the sink: a pipeful in flight");
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    use nix::sys::socket::{getsockopt, sockopt::SndBuf};

    use super::*;
    use crate::endpoint::fdio;

    /// Splice 4 MiB from one Unix socket pair to another; the sink's `SO_SNDBUF` afterwards.
    async fn sndbuf_after_copy(raise: bool) -> (usize, usize) {
        let (mut writer, src) = UnixStream::pair().unwrap();
        let (dst, mut reader) = UnixStream::pair().unwrap();
        let before = getsockopt(&dst, SndBuf).unwrap();
        let (src, dst) = (
            fdio::register(OwnedFd::from(src)).unwrap(),
            fdio::register(OwnedFd::from(dst)).unwrap(),
        );
        let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        let sent = data.clone();
        let w = std::thread::spawn(move || {
            writer.write_all(&sent).unwrap();
        });
        let r = std::thread::spawn(move || {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            got
        });
        let meter = Meter::default();
        let copied = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            copy(&src, &dst, &meter, raise),
        );
        copied.await.expect("the copy did not end in 30 s").unwrap();
        w.join().unwrap();
        let after = getsockopt(dst.get_ref(), SndBuf).unwrap();
        drop(dst);
        assert!(r.join().unwrap() == data, "bytes lost or reordered");
        (before, after)
    }

    #[tokio::test]
    async fn a_unix_sink_send_buffer_is_raised_only_when_asked() {
        let (before, after) = sndbuf_after_copy(false).await;
        assert_eq!(after, before, "not asked: left alone");
        let (before, after) = sndbuf_after_copy(true).await;
        // The kernel caps the request at net.core.wmem_max (and doubles what it keeps).
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let want = 2 * PIPE_SIZE.min(max);
        assert!(
            after == want.max(before),
            "asked: {before} -> {after}, expected {want} (wmem_max {max})"
        );
    }
}
