//! `tty:PATH`: a serial line, or any terminal device, with termios settings (`b115200`,
//! `raw`, `echo=0`, `cs8`, `parenb=`, `cstopb=`, `crtscts=`, `clocal=`).
//!
//! The device is opened `O_RDWR|O_NOCTTY|O_NONBLOCK`: a file description of sockbox's own, so
//! non-blocking mode changes nothing for other programs using the device, and it is polled
//! through `fdio` like the master of a `pty` ([`Medium::Terminal`]: no `splice(2)`). The
//! settings are applied before the first byte moves and the ones the device had are put back
//! when the connection closes. A hang-up (`EIO` on read) is the end of the stream; short of
//! one a line never reads end of file, so once the other side has ended the relay ends the
//! connection after a linger (the reader is `endless`), which closes the device for its next
//! user (a relay's next client).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::{fdio, termios, Conn};
use crate::addr::Address;
use crate::error::{io_err, Result};
use crate::narrate;

pub(crate) fn open(addr: &Address, path: &Path) -> Result<Conn> {
    let target = addr.to_string();
    let fd: OwnedFd = nix::fcntl::open(
        path,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open", &target)(e.into()))?;
    narrate!("open({}, O_RDWR|O_NOCTTY|O_NONBLOCK)", path.display());
    let saved = termios::apply(&fd, &addr.options.terminal, &target)?;
    let restore = termios::Restore::new(fd.try_clone().map_err(io_err("dup", &target))?, saved);
    let fd = fdio::register(fd).map_err(io_err("register", &target))?;
    let mut conn = Conn::terminal(target, fd, addr.options.frame, false);
    conn.reads_endlessly();
    conn.holdings.guards.push(Box::new(restore));
    Ok(conn)
}
