//! `exec:PROG ARGS` and `sh:LINE`: a child process as an endpoint.
//!
//! The child gets one end of a `socketpair(AF_UNIX, SOCK_STREAM)` as both stdin and stdout
//! (stderr is ours), as socat does: one fd, `splice(2)`-able, and half-close by
//! `shutdown(SHUT_WR)` gives the child end-of-file on stdin while its output keeps flowing.
//! No shell is involved for `exec:`; the argv is the one the parser split.

use std::os::fd::OwnedFd;
use std::process::Stdio;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::{fdio, Conn, Medium};
use crate::addr::{Address, Transfer};
use crate::error::{io_err, Error, Result};
use crate::narrate;

pub(crate) fn spawn(addr: &Address, argv: &[String], env: &[(String, String)]) -> Result<Conn> {
    let target = addr.to_string();
    let Some((prog, args)) = argv.split_first() else {
        return Err(Error::Usage(format!("{target}: no program to run")));
    };
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| io_err("socketpair for", &target)(e.into()))?;
    narrate!("socketpair(AF_UNIX, SOCK_STREAM)");
    let theirs2: OwnedFd = theirs.try_clone().map_err(io_err("dup for", &target))?;
    let child = tokio::process::Command::new(prog)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        // Socket activation variables describe sockbox's descriptors, not the child's.
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES")
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::from(theirs2))
        .kill_on_drop(true)
        .spawn()
        .map_err(io_err("exec", prog))?;
    narrate!("exec({}) = pid {}", argv.join(" "), child.id().unwrap_or(0));
    let fd = fdio::register(ours).map_err(io_err("exec", &target))?;
    let mut conn = Conn::socket(
        target,
        fd,
        Medium::UnixStream,
        Transfer::Stream,
        addr.options.frame,
    );
    conn.holdings.child = Some(child);
    Ok(conn)
}
