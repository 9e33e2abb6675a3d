//! Standard input and output as one endpoint (`-`, `stdio`).
//!
//! A pipe or socket on fd 0/1 is used directly (a duplicate of it, made non-blocking for the
//! run and restored after), so `splice(2)` serves `cmd | sockbox ... | cmd`. Anything else (a
//! terminal, a file, `/dev/null`) goes through a bridge thread; see `bridge.rs`.

use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::{fstat, SFlag};
use socket2::{Domain, SockRef, Type};

use super::{bridge, fdio, Conn, Medium};
use crate::addr::Address;
use crate::error::{io_err, Result};

/// What fd 0 or 1 is, for choosing how to drive it.
enum Kind {
    Pipe,
    Socket(Medium),
    Other,
}

fn kind(fd: BorrowedFd<'_>) -> Kind {
    let Ok(st) = fstat(fd) else {
        return Kind::Other;
    };
    let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if fmt == SFlag::S_IFIFO {
        Kind::Pipe
    } else if fmt == SFlag::S_IFSOCK {
        let s = SockRef::from(&fd);
        match (s.r#type(), s.domain()) {
            (Ok(Type::STREAM), Ok(Domain::UNIX)) => Kind::Socket(Medium::UnixStream),
            (Ok(Type::STREAM), _) => Kind::Socket(Medium::Tcp),
            _ => Kind::Other,
        }
    } else {
        Kind::Other
    }
}

/// Puts the original file status flags back on drop (the description is shared with
/// whoever gave us the fd).
struct RestoreFlags {
    fd: OwnedFd,
    flags: OFlag,
}

impl Drop for RestoreFlags {
    fn drop(&mut self) {
        let _ = fcntl(&self.fd, FcntlArg::F_SETFL(self.flags));
    }
}

fn direct(fd: BorrowedFd<'_>) -> io::Result<(fdio::Fd, RestoreFlags)> {
    let dup = fd.try_clone_to_owned()?;
    let flags = OFlag::from_bits_truncate(fcntl(&dup, FcntlArg::F_GETFL)?);
    let restore = RestoreFlags {
        fd: dup.try_clone()?,
        flags,
    };
    Ok((fdio::register(dup)?, restore))
}

pub(crate) fn open(addr: &Address) -> Result<Conn> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let err = |what| io_err(what, addr);
    let mut guards: Vec<Box<dyn Send + Sync>> = Vec::new();
    let mut threads = Vec::new();
    // stdio,raw,echo=0 (socat's `-,raw,echo=0` for a remote shell): the user's terminal set
    // for the run and put back at the end; nothing to set when stdin is not a terminal.
    if addr.options.terminal.sets_termios() && stdin.is_terminal() {
        let fd = stdin
            .as_fd()
            .try_clone_to_owned()
            .map_err(err("open stdin of"))?;
        let saved = super::termios::apply(&fd, &addr.options.terminal, "stdin")?;
        guards.push(Box::new(super::termios::Restore::new(fd, saved)));
    }

    let rd = match stdin.as_fd().try_clone_to_owned() {
        // A closed stdin reads as empty.
        Err(_) => None,
        Ok(dup) => match kind(stdin.as_fd()) {
            Kind::Pipe | Kind::Socket(_) => {
                let medium = match kind(stdin.as_fd()) {
                    Kind::Socket(m) => m,
                    _ => Medium::Pipe,
                };
                drop(dup);
                let (fd, restore) = direct(stdin.as_fd()).map_err(err("open stdin of"))?;
                guards.push(Box::new(restore));
                Some((fd, medium))
            }
            Kind::Other => Some((
                bridge::reader(dup, bridge::ReadTo::End(None), "stdin")
                    .map_err(err("open stdin of"))?,
                Medium::Pipe,
            )),
        },
    };
    let wr = match kind(stdout.as_fd()) {
        Kind::Pipe => {
            let (fd, restore) = direct(stdout.as_fd()).map_err(err("open stdout of"))?;
            guards.push(Box::new(restore));
            (fd, Medium::Pipe, false)
        }
        Kind::Socket(m) => {
            let (fd, restore) = direct(stdout.as_fd()).map_err(err("open stdout of"))?;
            guards.push(Box::new(restore));
            (fd, m, true)
        }
        Kind::Other => {
            let dup = stdout
                .as_fd()
                .try_clone_to_owned()
                .map_err(err("open stdout of"))?;
            let (fd, t) = bridge::writer(dup, "stdout").map_err(err("open stdout of"))?;
            threads.push(t);
            (fd, Medium::Pipe, false)
        }
    };
    let mut conn = Conn::pipes("stdio".into(), rd, Some(wr), addr.options.frame);
    conn.holdings.guards = guards;
    conn.holdings.threads = threads;
    Ok(conn)
}
