//! `file:PATH`: a regular file as an endpoint.
//!
//! One rule, and it never destroys data: a file that exists is read and its content sent
//! (up to the size it had when opened, so a file cannot feed on what it receives); a path that
//! does not exist yet is created and what arrives is written to it. A terminal is both read
//! and written. Regular files and terminals cannot be polled, so all go through bridge
//! threads.
//!
//! `creat` or `trunc` with `follow` make the file (empty it, with `trunc`) and then read it as
//! it grows: the read half of socat's `FILE:X,trunc,ignoreeof!!FILE:X` (`O_RDONLY|O_CREAT|O_TRUNC`).

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::{bridge, Conn, Medium};
use crate::addr::{Address, Endpoint, FileWrite};
use crate::error::{io_err, Error, Result};

/// `file:` (or socat's `open:`, `gopen:`) naming a Unix socket: `open(2)` cannot open one (it
/// fails with `ENXIO`). A usage error the verbs check before opening anything (exit 2); `open`
/// refuses the same way (exit 1) if a socket appears there later.
pub fn check_not_socket(addr: &Address) -> Result<()> {
    match &addr.endpoint {
        Endpoint::File(path) if is_socket(path) => Err(Error::Usage(socket_message(addr, path))),
        _ => Ok(()),
    }
}

fn is_socket(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn socket_message(addr: &Address, path: &Path) -> String {
    format!(
        "{addr}: {} is a Unix socket, which cannot be opened as a file: write unix:{} to \
         connect to it",
        path.display(),
        path.display()
    )
}

/// A terminal is two-way: opened read-write (not as the controlling terminal), what it reads
/// is sent and what arrives is written to it, each through a bridge thread. Opened read-only,
/// what is sent towards it would have nowhere to go.
fn terminal(addr: &Address, path: &Path) -> Result<Conn> {
    let target = addr.to_string();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => Error::Refused(format!(
                "{target}: {} is a terminal this user may not write to, and sockbox does not \
                 open a terminal one way only (what is sent to it would be lost)",
                path.display()
            )),
            _ => io_err("open", &target)(e),
        })?;
    crate::narrate!("open({}, O_RDWR|O_NOCTTY): a terminal", path.display());
    let read_half = f.try_clone().map_err(io_err("dup", &target))?;
    let rd = bridge::reader(OwnedFd::from(read_half), bridge::ReadTo::End(None), &target)
        .map_err(io_err("open", &target))?;
    let (wr, thread) =
        bridge::writer(OwnedFd::from(f), &target).map_err(io_err("open", &target))?;
    let mut conn = Conn::pipes(
        target,
        Some((rd, Medium::Pipe)),
        Some((wr, Medium::Pipe, false)),
        addr.options.frame,
    );
    conn.holdings.threads.push(thread);
    Ok(conn)
}

/// `mode=`, `owner=`, `group=` on a file sockbox writes (socat's `perm=`, `user=`, `group=`):
/// set on the open file, exactly (not less the umask), before a byte is written.
fn set_owner_and_mode(addr: &Address, path: &Path, f: &File) -> Result<()> {
    let target = addr.to_string();
    if let Some(mode) = addr.options.mode {
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(io_err("chmod", &target))?;
        crate::narrate!("fchmod({}, {mode:04o})", path.display());
    }
    super::unix::chown(&target, path, &addr.options)
}

pub(crate) fn open(addr: &Address, path: &Path) -> Result<Conn> {
    let target = addr.to_string();
    // With follow, creat and trunc make the file to read; otherwise they write it.
    let (made, flags) = match (addr.options.write, addr.options.follow) {
        (Some(mode), false) => return open_for_writing(addr, path, mode),
        (Some(FileWrite::Append), true) => {
            return Err(Error::Usage(format!(
                "{target}: follow reads a file and append writes one; give one (creat,follow \
                 or trunc,follow make the file, then read it as it grows)"
            )))
        }
        (Some(FileWrite::Truncate), true) => (true, libc::O_CREAT | libc::O_TRUNC),
        (Some(FileWrite::Create), true) => (true, libc::O_CREAT),
        (None, _) => (false, 0),
    };
    // O_NOCTTY: a terminal opened here must not become sockbox's controlling terminal.
    match OpenOptions::new()
        .read(true)
        .mode(0o666)
        .custom_flags(libc::O_NOCTTY | flags)
        .open(path)
    {
        Ok(f) => {
            let meta = f.metadata().map_err(io_err("stat", &target))?;
            let o = &addr.options;
            if made {
                crate::narrate!(
                    "open({}, O_RDONLY|O_CREAT{})",
                    path.display(),
                    if flags & libc::O_TRUNC != 0 {
                        "|O_TRUNC"
                    } else {
                        ""
                    }
                );
                set_owner_and_mode(addr, path, &f)?;
            } else if o.mode.is_some() || o.owner.is_some() || o.group.is_some() {
                return Err(Error::Usage(format!(
                    "{target}: mode=, owner= and group= set a file sockbox creates or writes; this \
                     one exists and is read (add creat, trunc or append to write it)"
                )));
            }
            if meta.is_dir() {
                return Err(Error::Refused(format!(
                    "{target}: {} is a directory",
                    path.display()
                )));
            }
            if f.is_terminal() {
                return terminal(addr, path);
            }
            let to = if addr.options.follow {
                crate::narrate!(
                    "open({}, O_RDONLY): {} bytes, then what is appended (follow)",
                    path.display(),
                    meta.len()
                );
                bridge::ReadTo::Follow
            } else {
                crate::narrate!(
                    "open({}, O_RDONLY): {} bytes to send",
                    path.display(),
                    meta.len()
                );
                bridge::ReadTo::End(meta.is_file().then_some(meta.len()))
            };
            let fd =
                bridge::reader(OwnedFd::from(f), to, &target).map_err(io_err("open", &target))?;
            Ok(Conn::pipes(
                target,
                Some((fd, Medium::Pipe)),
                None,
                addr.options.frame,
            ))
        }
        // Nothing to follow: a file that is not there is an error, not a file to create.
        Err(e) if e.kind() == io::ErrorKind::NotFound && addr.options.follow => {
            Err(io_err("open", &target)(e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(io_err("create", &target))?;
            crate::narrate!("open({}, O_WRONLY|O_CREAT|O_EXCL)", path.display());
            set_owner_and_mode(addr, path, &f)?;
            writer(addr, f)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) && is_socket(path) => {
            Err(Error::Refused(socket_message(addr, path)))
        }
        Err(e) => Err(io_err("open", &target)(e)),
    }
}

/// `file:PATH,creat|trunc|append`: written whether or not it exists (socat's `OPEN:PATH,creat`
/// and friends); created with mode 0666 less the umask when missing.
fn open_for_writing(addr: &Address, path: &Path, mode: FileWrite) -> Result<Conn> {
    let target = addr.to_string();
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    let flags = match mode {
        FileWrite::Create => "O_WRONLY|O_CREAT",
        FileWrite::Truncate => {
            options.truncate(true);
            "O_WRONLY|O_CREAT|O_TRUNC"
        }
        FileWrite::Append => {
            options.append(true);
            "O_WRONLY|O_CREAT|O_APPEND"
        }
    };
    let f = options.open(path).map_err(io_err("open", &target))?;
    crate::narrate!("open({}, {flags})", path.display());
    if f.metadata().map_err(io_err("stat", &target))?.is_dir() {
        return Err(Error::Refused(format!(
            "{target}: {} is a directory",
            path.display()
        )));
    }
    set_owner_and_mode(addr, path, &f)?;
    writer(addr, f)
}

/// A file to write, through a bridge thread.
fn writer(addr: &Address, f: File) -> Result<Conn> {
    let target = addr.to_string();
    let (fd, thread) =
        bridge::writer(OwnedFd::from(f), &target).map_err(io_err("open", &target))?;
    let mut conn = Conn::pipes(
        target,
        None,
        Some((fd, Medium::Pipe, false)),
        addr.options.frame,
    );
    conn.holdings.threads.push(thread);
    Ok(conn)
}
