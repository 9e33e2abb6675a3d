//! Socket activation (sd_listen_fds(3)): taking the listening sockets a parent handed over as
//! descriptors 3, 4, ..., and handing sockets to a program we exec the same way.
//!
//! Both need descriptors by number, which safe Rust cannot express: owning a number we did not
//! open, and putting a socket at a chosen number with `dup2(2)`.

use std::convert::Infallible;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first descriptor of socket activation (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

static CLAIMED: AtomicBool = AtomicBool::new(false);

/// Take ownership of the `n` descriptors a socket-activating parent passed (3 .. 3+n), and mark
/// them close-on-exec so children sockbox spawns do not inherit them (as `sd_listen_fds` does).
/// The caller checks `LISTEN_PID` first. Succeeds once per process; later calls fail.
pub fn take_listen_fds(n: usize) -> io::Result<Vec<OwnedFd>> {
    let Ok(n) = RawFd::try_from(n) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "LISTEN_FDS is too large",
        ));
    };
    if n > 4096 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "LISTEN_FDS is too large",
        ));
    }
    if CLAIMED.swap(true, Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the inherited sockets were already taken",
        ));
    }
    let mut fds = Vec::new();
    for fd in LISTEN_FDS_START..LISTEN_FDS_START + n {
        // SAFETY: fcntl on a plain integer only reads the descriptor table; an fd that is not
        // open gives EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("descriptor {fd} announced by LISTEN_FDS is not open"),
            ));
        }
        // SAFETY: as above; setting FD_CLOEXEC changes no ownership.
        unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        // SAFETY: the descriptor is open (checked above) and nothing in this process owns it:
        // it was inherited across exec, so no Rust object was created for it before; the
        // kernel never hands out an open number, so no descriptor this process opened since
        // can have this number; and CLAIMED makes sure this function wraps it only once.
        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(fds)
}

/// Replace this process with `cmd`, passing `fds` as descriptors 3, 4, ... in order (without
/// close-on-exec) and nothing else beyond stdio. The caller sets `LISTEN_FDS`, `LISTEN_PID`
/// (this process's pid: exec keeps it) and `LISTEN_FDNAMES` on `cmd`.
///
/// Must be called from a single-threaded process (it checks, and fails otherwise): putting a
/// socket at a chosen number closes whatever was there, which another thread could own.
/// Errors found before the descriptors are moved are returned; once they are moved there is
/// no way back, so a failing `execvp` is reported on stderr and the process exits with 127
/// (not found) or 126, as a shell would.
pub fn exec_with_fds(mut cmd: std::process::Command, fds: Vec<OwnedFd>) -> io::Result<Infallible> {
    let threads = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<u32>().ok());
    if threads != Some(1) {
        return Err(io::Error::other(
            "cannot hand over descriptors while other threads run",
        ));
    }
    let n = RawFd::try_from(fds.len()).map_err(|_| io::Error::other("too many descriptors"))?;
    let end = LISTEN_FDS_START + n;
    // First move every socket above the target range, so placing one never overwrites
    // another that is still to be placed.
    let mut high = Vec::with_capacity(fds.len());
    for fd in &fds {
        // SAFETY: `fd` is open and borrowed; F_DUPFD_CLOEXEC returns a new descriptor >= end.
        let h = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, end) };
        if h < 0 {
            let e = io::Error::last_os_error();
            for h in high {
                // SAFETY: `h` is a descriptor this function just created and owns.
                drop(unsafe { OwnedFd::from_raw_fd(h) });
            }
            return Err(e);
        }
        high.push(h);
    }
    drop(fds);
    // The point of no return: descriptors 3..end get replaced. The process is single-threaded
    // (checked above) and this function never returns from here, so no code that might own
    // one of those numbers runs again.
    for (i, h) in high.iter().enumerate() {
        let target = LISTEN_FDS_START + i as RawFd;
        // SAFETY: `h` is open and ours; dup2 atomically closes whatever `target` was and makes
        // it a copy of `h` without FD_CLOEXEC, so it survives exec.
        if unsafe { libc::dup2(*h, target) } < 0 {
            let e = io::Error::last_os_error();
            eprintln!("sockbox: dup2 to descriptor {target}: {e}");
            std::process::exit(126);
        }
    }
    for h in high {
        // SAFETY: `h` is a descriptor this function created; the copies at 3.. stay open.
        drop(unsafe { OwnedFd::from_raw_fd(h) });
    }
    let prog = cmd.get_program().to_string_lossy().into_owned();
    let e = cmd.exec();
    eprintln!("sockbox: exec {prog}: {e}");
    std::process::exit(if e.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    });
}
