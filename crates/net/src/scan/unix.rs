//! Unix socket files: find them under some directories and try each one
//! (`sockbox scan --unix [DIR..]`).
//!
//! A socket file says nothing about whether anyone still accepts on it: a server that died
//! leaves its file behind. The only way to know is to `connect(2)`: a listener accepts (or
//! its queue is full: `EAGAIN`), a stale file answers `ECONNREFUSED`, and a file we may not
//! write to answers `EACCES`. A socket of another type answers `EPROTOTYPE`, so stream,
//! seqpacket and datagram are tried in turn. For stream and seqpacket the connection carries
//! the listener's credentials (`SO_PEERCRED`), which name the owning process.
//!
//! Connecting is what clients do, so the server sees a connection that closes at once; a
//! socket-activated service (systemd) is started by it, as by any client.

use crate::error::os_error_text;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::error::{io_err, Result};
use crate::narrate;
use crate::peer::Cred;

/// Directories below this depth are not entered (a bound for loops of bind mounts).
const MAX_DEPTH: usize = 32;
/// Stop after looking at this many directory entries in all.
const MAX_ENTRIES: usize = 1_000_000;

/// Where `scan --unix` looks when no directory is named.
pub const DEFAULT_DIRS: [&str; 2] = ["/run", "/tmp"];

/// What a connect to a socket file found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnixState {
    /// Someone accepts (or receives) on it.
    Live,
    /// Nobody does: the file is left over (`ECONNREFUSED`).
    Stale,
    /// No write permission on the file (`EACCES`/`EPERM`).
    PermissionDenied,
    /// Some other error; see `error`.
    Error,
}

impl UnixState {
    pub fn as_str(self) -> &'static str {
        match self {
            UnixState::Live => "live",
            UnixState::Stale => "stale",
            UnixState::PermissionDenied => "permission-denied",
            UnixState::Error => "error",
        }
    }
}

/// One socket file and what trying it said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnixSocketFile {
    pub path: PathBuf,
    pub state: UnixState,
    /// `stream`, `seqpacket` or `dgram` when a connect of that type succeeded.
    #[serde(rename = "type")]
    pub sock_type: Option<&'static str>,
    /// The listening process (`SO_PEERCRED`; stream and seqpacket only).
    pub listener: Option<Cred>,
    /// Owner and permission bits of the file.
    pub file_uid: u32,
    pub file_mode: u32,
    /// The error, for `error`.
    pub error: Option<String>,
}

/// Everything `scan --unix` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UnixScanReport {
    pub dirs: Vec<PathBuf>,
    pub sockets: Vec<UnixSocketFile>,
    /// Directories that could not be read (permission denied, vanished).
    pub unreadable: Vec<PathBuf>,
}

impl UnixScanReport {
    pub fn count(&self, state: UnixState) -> usize {
        self.sockets.iter().filter(|s| s.state == state).count()
    }
}

/// Find the socket files under `dirs` (a named socket file is taken as is) and try each.
/// Symbolic links are not followed; a directory named that does not exist is an error.
pub fn scan_unix(dirs: &[PathBuf]) -> Result<UnixScanReport> {
    let mut report = UnixScanReport {
        dirs: dirs.to_vec(),
        ..UnixScanReport::default()
    };
    let mut found = Vec::new();
    let mut budget = MAX_ENTRIES;
    for dir in dirs {
        let meta = fs::symlink_metadata(dir).map_err(io_err("scan", dir.display()))?;
        if meta.file_type().is_socket() {
            found.push((dir.clone(), meta));
        } else {
            walk(dir, 0, &mut found, &mut report.unreadable, &mut budget);
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.dedup_by(|a, b| a.0 == b.0);
    narrate!(
        "found {} socket files under {} dirs",
        found.len(),
        dirs.len()
    );
    report.sockets = found.into_iter().map(|(p, m)| probe(&p, &m)).collect();
    Ok(report)
}

fn walk(
    dir: &Path,
    depth: usize,
    found: &mut Vec<(PathBuf, fs::Metadata)>,
    unreadable: &mut Vec<PathBuf>,
    budget: &mut usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            if depth == 0 || e.kind() == io::ErrorKind::PermissionDenied {
                unreadable.push(dir.to_path_buf());
            }
            return;
        }
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = entry.path();
        // symlink_metadata: a link is never followed, so no loops and no escaping the tree.
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_socket() {
            found.push((path, meta));
        } else if ft.is_dir() {
            walk(&path, depth + 1, found, unreadable, budget);
        }
    }
}

/// Connect to `path` with each socket type until one is not the wrong type.
fn probe(path: &Path, meta: &fs::Metadata) -> UnixSocketFile {
    let mut file = UnixSocketFile {
        path: path.to_path_buf(),
        state: UnixState::Error,
        sock_type: None,
        listener: None,
        file_uid: meta.uid(),
        file_mode: meta.mode() & 0o7777,
        error: None,
    };
    let addr = match SockAddr::unix(path) {
        Ok(a) => a,
        Err(e) => {
            file.error = Some(e.to_string());
            return file;
        }
    };
    let mut last = None;
    for (ty, name) in [
        (Type::STREAM, "stream"),
        (Type::SEQPACKET, "seqpacket"),
        (Type::DGRAM, "dgram"),
    ] {
        let r = Socket::new(Domain::UNIX, ty.nonblocking().cloexec(), None)
            .and_then(|s| s.connect(&addr).map(|()| s));
        match r {
            Ok(s) => {
                narrate!("connect({name}, {}) = ok", path.display());
                file.state = UnixState::Live;
                file.sock_type = Some(name);
                if ty != Type::DGRAM {
                    file.listener = crate::endpoint::peer_cred(&s);
                }
                return file;
            }
            Err(e) => {
                narrate!("connect({name}, {}) = {e}", path.display());
                match e.raw_os_error() {
                    Some(libc::EPROTOTYPE) => {
                        last = Some(e);
                        continue;
                    }
                    // A full accept queue: someone listens, but is not keeping up.
                    Some(libc::EAGAIN) => {
                        file.state = UnixState::Live;
                        file.sock_type = Some(name);
                        file.error = Some("accept queue full".into());
                    }
                    Some(libc::ECONNREFUSED) => file.state = UnixState::Stale,
                    Some(libc::EACCES | libc::EPERM) => file.state = UnixState::PermissionDenied,
                    _ => file.error = Some(os_error_text(&e)),
                }
                return file;
            }
        }
    }
    file.error = last.map(|e| os_error_text(&e));
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixDatagram, UnixListener};

    #[test]
    fn live_stale_and_typed_sockets_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.sock");
        let _l = UnixListener::bind(&live).unwrap();
        let stale = dir.path().join("sub/stale.sock");
        fs::create_dir(dir.path().join("sub")).unwrap();
        drop(UnixListener::bind(&stale).unwrap());
        let dgram = dir.path().join("d.sock");
        let _d = UnixDatagram::bind(&dgram).unwrap();
        fs::write(dir.path().join("plain"), b"x").unwrap();
        std::os::unix::fs::symlink(&live, dir.path().join("link")).unwrap();

        let r = scan_unix(&[dir.path().to_path_buf()]).unwrap();
        let got: Vec<(String, UnixState, Option<&str>)> = r
            .sockets
            .iter()
            .map(|s| {
                (
                    s.path
                        .strip_prefix(dir.path())
                        .unwrap()
                        .display()
                        .to_string(),
                    s.state,
                    s.sock_type,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("d.sock".into(), UnixState::Live, Some("dgram")),
                ("live.sock".into(), UnixState::Live, Some("stream")),
                ("sub/stale.sock".into(), UnixState::Stale, None),
            ]
        );
        let me = std::process::id() as i32;
        assert_eq!(r.sockets[1].listener.as_ref().map(|c| c.pid), Some(me));
        assert_eq!(r.sockets[0].listener, None);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let e = scan_unix(&[PathBuf::from("/nonexistent/sockbox-test")]).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
    }
}
