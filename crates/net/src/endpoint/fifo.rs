//! `fifo:PATH`: a named pipe. Listening creates it (mkfifo) if missing and reads what writers
//! send; connecting opens it for writing. Opening a FIFO blocks until the other side opens
//! it too, so that happens on a blocking thread.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use tokio::task::JoinHandle;

use super::unix::{chown, FileGuard};
use super::{fdio, Conn, Medium};
use crate::addr::Address;
use crate::error::{io_err, Error, Result};
use crate::narrate;

/// Make sure a FIFO exists at `path`; returns a guard that removes it if we created it.
pub(crate) fn create(addr: &Address, path: &Path) -> Result<Option<FileGuard>> {
    let target = addr.to_string();
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_fifo() => Ok(None),
        Ok(_) => Err(not_a_fifo(&target, path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // mkfifo's mode is narrowed by the umask; chmod afterwards sets it exactly, so the
            // FIFO is never more open than asked.
            let mode = addr.options.mode.unwrap_or(0o600);
            nix::unistd::mkfifo(path, Mode::from_bits_truncate(mode))
                .map_err(|e| io_err("mkfifo", &target)(e.into()))?;
            narrate!("mkfifo({}, {mode:04o})", path.display());
            let guard = FileGuard::new(path).map_err(io_err("stat", &target))?;
            fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(io_err("chmod", &target))?;
            chown(&target, path, &addr.options)?;
            Ok(Some(guard))
        }
        Err(e) => Err(io_err("stat", &target)(e)),
    }
}

fn not_a_fifo(target: &str, path: &Path) -> Error {
    Error::Refused(format!(
        "{target}: {} exists and is not a FIFO (use file: for a regular file)",
        path.display()
    ))
}

fn check_fifo(target: &str, path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_fifo() => Err(not_a_fifo(target, path)),
        Ok(_) => Ok(()),
        Err(e) => Err(io_err("open", target)(e)),
    }
}

type Opening = JoinHandle<io::Result<OwnedFd>>;

/// `open(2)` on a blocking thread: it returns only once the other side opens too.
fn start_open(path: &Path, flags: OFlag) -> Opening {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        nix::fcntl::open(&p, flags | OFlag::O_CLOEXEC, Mode::empty()).map_err(io::Error::from)
    })
}

async fn finish_open(
    target: &str,
    path: &Path,
    flags: OFlag,
    opening: &mut Opening,
) -> Result<fdio::Fd> {
    let fd = opening
        .await
        .map_err(|e| io_err("open", target)(io::Error::other(e)))?
        .map_err(io_err("open", target))?;
    narrate!("open({}, {flags:?})", path.display());
    fdio::register(fd).map_err(io_err("open", target))
}

/// Listening on a FIFO: each client is the next opening for reading. The blocking open is kept
/// across a cancelled `accept` (the server loop races accept against other events), so a
/// writer is never paired with a reader that nobody uses.
pub(crate) struct FifoListener {
    addr: Address,
    path: PathBuf,
    pending: Option<Opening>,
}

impl FifoListener {
    pub(crate) fn new(addr: &Address, path: &Path) -> Self {
        FifoListener {
            addr: addr.clone(),
            path: path.to_path_buf(),
            pending: None,
        }
    }

    pub(crate) async fn accept(&mut self) -> Result<Conn> {
        let target = self.addr.to_string();
        check_fifo(&target, &self.path)?;
        let path = &self.path;
        let opening = self
            .pending
            .get_or_insert_with(|| start_open(path, OFlag::O_RDONLY));
        let fd = finish_open(&target, path, OFlag::O_RDONLY, opening).await;
        self.pending = None;
        Ok(Conn::pipes(
            target,
            Some((fd?, Medium::Pipe)),
            None,
            self.addr.options.frame,
        ))
    }
}

/// Read from the FIFO as a client (the read half of a dual address): waits until some process
/// opens it for writing. The FIFO exists already ([`create`] made it if it was missing).
pub(crate) async fn open_for_reading(addr: &Address, path: &Path) -> Result<Conn> {
    let target = addr.to_string();
    check_fifo(&target, path)?;
    let fd = finish_open(
        &target,
        path,
        OFlag::O_RDONLY,
        &mut start_open(path, OFlag::O_RDONLY),
    )
    .await?;
    Ok(Conn::pipes(
        target,
        Some((fd, Medium::Pipe)),
        None,
        addr.options.frame,
    ))
}

/// Write into the FIFO: blocks until some process opens it for reading.
pub(crate) async fn open_for_writing(addr: &Address, path: &Path) -> Result<Conn> {
    let target = addr.to_string();
    check_fifo(&target, path)?;
    let fd = finish_open(
        &target,
        path,
        OFlag::O_WRONLY,
        &mut start_open(path, OFlag::O_WRONLY),
    )
    .await?;
    Ok(Conn::pipes(
        target,
        None,
        Some((fd, Medium::Pipe, false)),
        addr.options.frame,
    ))
}
