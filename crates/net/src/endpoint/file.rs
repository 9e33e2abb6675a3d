//! `file:PATH`: a regular file as an endpoint.
//!
//! One rule, and it never destroys data: a file that exists is read and its content sent
//! (up to the size it had when opened, so a file cannot feed on what it receives); a path that
//! does not exist yet is created and what arrives is written to it. Regular files cannot be
//! polled, so both go through bridge threads.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use super::{bridge, Conn, Medium};
use crate::addr::{Address, FileWrite};
use crate::error::{io_err, Error, Result};

pub(crate) fn open(addr: &Address, path: &Path) -> Result<Conn> {
    let target = addr.to_string();
    if let Some(mode) = addr.options.write {
        return open_for_writing(addr, path, mode);
    }
    match File::open(path) {
        Ok(f) => {
            let meta = f.metadata().map_err(io_err("stat", &target))?;
            if meta.is_dir() {
                return Err(Error::Refused(format!(
                    "{target}: {} is a directory",
                    path.display()
                )));
            }
            let limit = meta.is_file().then_some(meta.len());
            crate::narrate!(
                "open({}, O_RDONLY): {} bytes to send",
                path.display(),
                meta.len()
            );
            let fd = bridge::reader(OwnedFd::from(f), limit, &target)
                .map_err(io_err("open", &target))?;
            Ok(Conn::pipes(
                target,
                Some((fd, Medium::Pipe)),
                None,
                addr.options.frame,
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(io_err("create", &target))?;
            crate::narrate!("open({}, O_WRONLY|O_CREAT|O_EXCL)", path.display());
            writer(addr, f)
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
