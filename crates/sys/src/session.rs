//! Starting a program in a session of its own, on a terminal (`exec:PROG,pty,setsid,ctty`).
//!
//! Both steps run in the child between `fork(2)` and `execve(2)`, which only
//! `CommandExt::pre_exec` reaches, and it is `unsafe`: the hook must do nothing but
//! async-signal-safe system calls.

use std::io;
use std::os::unix::process::CommandExt;

/// Have `cmd`'s child call `setsid(2)` (a new session and process group, no controlling
/// terminal) and, with `ctty`, make its stdin, a terminal, its controlling terminal
/// (`ioctl(0, TIOCSCTTY, 0)`), so that the terminal's line discipline signals it: byte 0x03
/// becomes SIGINT for the program. `ctty` needs the session: it implies `setsid`.
pub fn new_session(cmd: &mut std::process::Command, ctty: bool) {
    let hook = move || -> io::Result<()> {
        // SAFETY: setsid(2) is async-signal-safe and touches only this (child) process.
        if unsafe { libc::setsid() } < 0 {
            return Err(io::Error::last_os_error());
        }
        if ctty {
            // SAFETY: ioctl(2) is async-signal-safe; TIOCSCTTY takes an int argument (0: do
            // not steal a terminal that is another session's) and writes no memory of ours.
            if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec and calls only setsid(2) and
    // ioctl(2), both async-signal-safe; it allocates nothing (io::Error::last_os_error reads
    // errno into a plain integer) and takes no lock another thread could hold.
    unsafe {
        cmd.pre_exec(hook);
    }
}
