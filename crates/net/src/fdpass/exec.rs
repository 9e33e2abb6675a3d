//! Handing received descriptors to a program (`fd recv --exec`): the program starts with them
//! as its descriptors 3, 4, ..., in the order they arrived, and [`FDS_ENV`] says how many.
//!
//! command-fds places them between `fork` and `exec` (`dup2(2)`, moving any that sit in the
//! way first), which is what its `pre_exec` hook is for; sockbox then waits for the program.

use std::os::fd::OwnedFd;
use std::process::ExitStatus;

use command_fds::{CommandFdExt, FdMapping};

use crate::error::{io_err, Error, Result};
use crate::narrate;

/// The environment variable telling the program how many descriptors it got (at 3, 4, ...).
pub const FDS_ENV: &str = "SOCKBOX_FDS";

/// The first descriptor number the program gets.
const FIRST_FD: i32 = 3;

/// Run `argv` with `fds` as its descriptors 3.. (and `SOCKBOX_FDS` set, plus `env`), its
/// stdin, stdout and stderr sockbox's own; wait for it and return how it ended. The program is
/// killed if this future is dropped (sockbox interrupted).
pub async fn run_with_fds(
    argv: &[String],
    fds: Vec<OwnedFd>,
    env: &[(String, String)],
) -> Result<ExitStatus> {
    let Some(prog) = argv.first() else {
        return Err(Error::Usage("--exec needs a program to run".into()));
    };
    let n = fds.len();
    let mappings = fds
        .into_iter()
        .zip(FIRST_FD..)
        .map(|(parent_fd, child_fd)| FdMapping {
            parent_fd,
            child_fd,
        })
        .collect();
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(&argv[1..])
        .env(FDS_ENV, n.to_string())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(true);
    cmd.fd_mappings(mappings)
        .map_err(|e| Error::Refused(format!("exec {prog}: {e}")))?;
    let mut child = cmd.spawn().map_err(io_err("exec", prog))?;
    let pid = child.id().unwrap_or(0);
    narrate!(
        "spawn {prog} = pid {pid}, with {n} descriptors at {FIRST_FD}..{}",
        FIRST_FD as usize + n
    );
    // The parent's copies were moved into the command: drop it so they close now.
    drop(cmd);
    let status = child.wait().await.map_err(io_err("wait for", prog))?;
    narrate!("wait(pid {pid}) = {status}");
    Ok(status)
}
