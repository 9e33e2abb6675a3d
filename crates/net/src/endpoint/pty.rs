//! `pty`: a new pseudo-terminal (pty(7)). sockbox reads and writes the master; the slave is
//! for another program to open, by the path the log names or through `link=PATH`.
//!
//! The master is an ordinary pollable fd, so it goes through `fdio` like a socket, with one
//! difference the relay sees through [`Medium::Terminal`]: `splice(2)` does not work on a
//! terminal, so its copies are buffered (one read and one write per chunk, as any relay).
//!
//! Without `wait-slave`, sockbox keeps a slave fd open itself, as socat does: the pty lives
//! until sockbox ends, whoever opens and closes the slave meanwhile (a virtual null-modem
//! cable stays up between two programs' sessions). So the master never reads end of stream,
//! and once the other side has ended the relay ends the connection after a linger (the reader
//! is `endless`). With `wait-slave`, sockbox closes its own slave fd and reads nothing until
//! someone opens the slave (the master stops reporting `POLLHUP`); when the last one closes
//! it, reading the master fails with `EIO`, which `fdio` reads as the end of the stream.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;

use super::{fdio, termios, Conn};
use crate::addr::Address;
use crate::error::{io_err, Error, Result};
use crate::narrate;

/// A new pty: the master, an open slave (`O_NOCTTY`, so it never becomes sockbox's
/// controlling terminal) and the slave's path. Both fds are close-on-exec.
pub(crate) fn new_pty(target: &str) -> Result<(OwnedFd, OwnedFd, PathBuf)> {
    let err =
        |what: &'static str| move |e: nix::errno::Errno| io_err(what, target)(io::Error::from(e));
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(err("posix_openpt for"))?;
    grantpt(&master).map_err(err("grantpt for"))?;
    unlockpt(&master).map_err(err("unlockpt for"))?;
    let name = PathBuf::from(ptsname_r(&master).map_err(err("ptsname for"))?);
    let slave = nix::fcntl::open(
        &name,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err("open the slave of"))?;
    narrate!("posix_openpt(O_RDWR|O_NOCTTY) = {}", name.display());
    Ok((OwnedFd::from(master), slave, name))
}

/// `link=PATH`: a symbolic link to the slave, removed when dropped if it still points there.
pub(crate) struct Link {
    path: PathBuf,
    to: PathBuf,
}

impl Link {
    /// Make `path` a symbolic link to `to`. An existing symbolic link there (most often one a
    /// previous run left, to a pty that is gone) is replaced, atomically, by `rename(2)` of a
    /// new link over it; anything else there is refused and left untouched.
    pub(crate) fn create(path: &Path, to: &Path, target: &str) -> Result<Link> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::os::unix::fs::symlink(to, path).map_err(io_err("link=", target))?;
            }
            Err(e) => return Err(io_err("link=", target)(e)),
            Ok(m) if m.file_type().is_symlink() => {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                let tmp = path.with_file_name(format!(".{name}.sockbox-{}", std::process::id()));
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(to, &tmp).map_err(io_err("link=", target))?;
                if let Err(e) = std::fs::rename(&tmp, path) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io_err("link=", target)(e));
                }
                tracing::warn!("{target}: replaced the symbolic link {}", path.display());
            }
            Ok(_) => {
                return Err(Error::Refused(format!(
                    "{target}: {} exists and is not a symbolic link; sockbox replaces only a \
                     link (remove it, or choose another link= path)",
                    path.display()
                )))
            }
        }
        narrate!("symlink({}, {})", to.display(), path.display());
        Ok(Link {
            path: path.to_owned(),
            to: to.to_owned(),
        })
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if std::fs::read_link(&self.path).is_ok_and(|p| p == self.to) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// True while nobody has the slave open: the master then reports `POLLHUP` (and nothing to
/// read).
fn slave_closed(master: &impl AsFd) -> bool {
    let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => {
            let ev = fds[0].revents().unwrap_or(PollFlags::empty());
            ev.contains(PollFlags::POLLHUP) && !ev.contains(PollFlags::POLLIN)
        }
        Err(_) => false,
    }
}

/// How often `wait-slave` looks (socat's `pty-interval` is 1 s): the kernel has no event for
/// "the slave was opened".
const WAIT_SLAVE_INTERVAL: Duration = Duration::from_millis(50);

pub(crate) async fn open(addr: &Address) -> Result<Conn> {
    let target = addr.to_string();
    let t = &addr.options.terminal;
    let (master, slave, name) = new_pty(&target)?;
    termios::apply(&slave, t, &target)?;
    if let Some(mode) = addr.options.mode {
        nix::sys::stat::fchmod(&slave, Mode::from_bits_truncate(mode as libc::mode_t))
            .map_err(|e| io_err("chmod the slave of", &target)(e.into()))?;
    }
    let link = match &t.link {
        Some(path) => Some(Link::create(path, &name, &target)?),
        None => None,
    };
    let label = match &t.link {
        Some(path) => format!("pty {} ({})", name.display(), path.display()),
        None => format!("pty {}", name.display()),
    };
    tracing::info!(target: crate::PEER, "{label}");
    let slave = if t.wait_slave {
        drop(slave);
        narrate!("waiting for {} to be opened", name.display());
        while slave_closed(&master) {
            tokio::time::sleep(WAIT_SLAVE_INTERVAL).await;
        }
        narrate!("{} opened", name.display());
        None
    } else {
        Some(slave)
    };
    let fd = fdio::register(master).map_err(io_err("register", &target))?;
    let mut conn = Conn::terminal(label, fd, addr.options.frame, true);
    if let Some(link) = link {
        conn.holdings.guards.push(Box::new(link));
    }
    if let Some(slave) = slave {
        // The master never reads EIO while this slave fd is open: no end of stream.
        conn.reads_endlessly();
        conn.holdings.guards.push(Box::new(slave));
    }
    Ok(conn)
}
