//! `exec:PROG ARGS` and `sh:LINE`: a child process as an endpoint.
//!
//! The child gets one end of a `socketpair(AF_UNIX, SOCK_STREAM)` as both stdin and stdout
//! (stderr is ours unless `stderr`), as socat does: one fd, `splice(2)`-able, and half-close by
//! `shutdown(SHUT_WR)` gives the child end-of-file on stdin while its output keeps flowing.
//! No shell is involved for `exec:`; the argv is the one the parser split.
//!
//! With `pty`, the child runs on a new pseudo-terminal instead (its stdin, stdout and, with
//! `stderr`, stderr are the slave), so line-buffered and interactive programs behave as on a
//! terminal; sockbox keeps the master. `setsid` starts the child in a session of its own,
//! `ctty` makes the pty its controlling terminal, and `sigint` turns the line discipline's
//! signals on, so byte 0x03 from the peer reaches the program as SIGINT. When the program
//! (and whatever it started on the pty) has exited, reading the master fails with `EIO`: the
//! end of the stream.

use std::os::fd::OwnedFd;
use std::process::Stdio;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::{fdio, pty, termios, Conn, Medium};
use crate::addr::{Address, Transfer};
use crate::error::{io_err, Error, Result};
use crate::narrate;

pub(crate) fn spawn(addr: &Address, argv: &[String], env: &[(String, String)]) -> Result<Conn> {
    let target = addr.to_string();
    let Some((prog, args)) = argv.split_first() else {
        return Err(Error::Usage(format!("{target}: no program to run")));
    };
    let t = &addr.options.terminal;
    // ours: the fd sockbox keeps; theirs: what the child gets as stdin, stdout (and stderr).
    let (ours, theirs, medium, pty_name) = if t.pty {
        let (master, slave, name) = pty::new_pty(&target)?;
        termios::apply(&slave, t, &target)?;
        (master, slave, Medium::Terminal, Some(name))
    } else {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| io_err("socketpair for", &target)(e.into()))?;
        narrate!("socketpair(AF_UNIX, SOCK_STREAM)");
        (ours, theirs, Medium::UnixStream, None)
    };
    let dup =
        |fd: &OwnedFd| -> Result<OwnedFd> { fd.try_clone().map_err(io_err("dup for", &target)) };
    let stdout = dup(&theirs)?;
    let stderr = if t.stderr {
        Stdio::from(dup(&theirs)?)
    } else {
        Stdio::inherit()
    };
    let mut command = tokio::process::Command::new(prog);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        // Socket activation variables describe sockbox's descriptors, not the child's.
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES")
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::from(stdout))
        .stderr(stderr)
        .kill_on_drop(true);
    let ctty = t.pty && (t.ctty || t.sigint);
    if t.setsid || ctty {
        sockbox_sys::new_session(command.as_std_mut(), ctty);
    }
    // The child's copies of the slave (or socket) are closed here, once it has them.
    let child = command.spawn().map_err(io_err("exec", prog))?;
    narrate!("exec({}) = pid {}", argv.join(" "), child.id().unwrap_or(0));
    drop(command);
    let fd = fdio::register(ours).map_err(io_err("exec", &target))?;
    let mut conn = match pty_name {
        Some(name) => {
            narrate!("{prog} runs on {}", name.display());
            Conn::terminal(target, fd, addr.options.frame, true)
        }
        None => Conn::socket(target, fd, medium, Transfer::Stream, addr.options.frame),
    };
    conn.holdings.child = Some(child);
    Ok(conn)
}
