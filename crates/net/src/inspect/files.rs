//! Socket files on disk (`sockbox ls --files [DIR..]`, what `find DIR -type s` finds), each
//! marked live, stale or unreadable.
//!
//! A file is live when a socket of this network namespace is bound to it and waits for
//! peers (a listener, or a bound datagram socket): the Unix sock_diag dump reports each bound
//! socket's file by device and inode (`UNIX_DIAG_VFS`), so nothing is connected to find
//! out. A file no socket here holds may still belong to another network namespace (a
//! container sharing the directory): those are probed with a non-blocking `connect(2)`;
//! `ECONNREFUSED` means nobody listens (stale), success or a full backlog means live, a
//! permission error means sockbox cannot tell (unreadable).

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr as Socket2Addr, Socket, Type};

use super::{snapshot, KindSet, Query, Snapshot};
use crate::Result;

/// Directories never descended into when walking (kernel interfaces with no socket files;
/// `/proc` would also show every process's fds).
const SKIP: [&str; 2] = ["/proc", "/sys"];

/// Upper bound on directories visited, so a huge tree cannot keep sockbox walking for ever.
const MAX_DIRS: usize = 2_000_000;

/// Whether anyone listens on a socket file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// A socket is bound to the file and waits for peers.
    Live,
    /// Nobody listens: connecting fails with ECONNREFUSED.
    Stale,
    /// sockbox cannot tell (no permission to connect, a path too long to connect to).
    Unreadable,
}

impl FileStatus {
    pub fn name(self) -> &'static str {
        match self {
            FileStatus::Live => "live",
            FileStatus::Stale => "stale",
            FileStatus::Unreadable => "unreadable",
        }
    }
}

/// One socket file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketFile {
    pub path: PathBuf,
    pub status: FileStatus,
    /// The socket bound to it in this namespace, as an index into the report's snapshot.
    pub holder: Option<usize>,
    /// Why it is unreadable, or "another network namespace" for a live file no socket here
    /// holds.
    pub note: Option<String>,
}

/// The socket files found, and the snapshot their holders are in.
#[derive(Clone, Debug, Default)]
pub struct FilesReport {
    pub files: Vec<SocketFile>,
    pub snapshot: Snapshot,
    /// Directories that could not be read, with the reason.
    pub unreadable_dirs: Vec<(PathBuf, String)>,
}

/// Find the socket files under `dirs` (`/` when empty) and say who holds each; `processes`
/// maps holders to processes as `ls -p` does.
pub fn socket_files(dirs: &[PathBuf], processes: bool) -> Result<FilesReport> {
    let snap = snapshot(&Query {
        kinds: KindSet::default().with_unix(),
        processes,
        ..Default::default()
    })?;
    let roots: Vec<PathBuf> = if dirs.is_empty() {
        vec![PathBuf::from("/")]
    } else {
        dirs.to_vec()
    };
    let (found, unreadable_dirs) = find_socket_files(&roots);

    // (dev, ino) of a socket file -> the socket bound to it, preferring one that waits for
    // peers (accepted connections carry their listener's file too).
    let mut holders: HashMap<(u64, u64), usize> = HashMap::new();
    for (i, e) in snap.sockets.iter().enumerate() {
        if let Some(key) = e.vfs {
            let waiting = |j: usize| snap.sockets[j].waits_for_peers();
            match holders.get(&key) {
                Some(&j) if waiting(j) => {}
                _ => {
                    holders.insert(key, i);
                }
            }
        }
    }
    let files = found
        .into_iter()
        .map(|(path, key)| {
            let holder = holders.get(&key).copied();
            let (status, note) = match holder {
                Some(i) if snap.sockets[i].waits_for_peers() => (FileStatus::Live, None),
                // Bound, but nobody accepts or receives: connect would be refused.
                Some(_) => (
                    FileStatus::Stale,
                    Some("bound, but not listening".to_string()),
                ),
                None => probe(&path),
            };
            SocketFile {
                path,
                status,
                holder,
                note,
            }
        })
        .collect();
    let mut snap = snap;
    snap.shown.clear();
    Ok(FilesReport {
        files,
        snapshot: snap,
        unreadable_dirs,
    })
}

/// A socket file's path and (device, inode).
pub type FoundFile = (PathBuf, (u64, u64));

/// Every socket file under `roots` with its (device, inode), sorted by path; symbolic links
/// are not followed. Also the directories that could not be read, with why.
pub fn find_socket_files(roots: &[PathBuf]) -> (Vec<FoundFile>, Vec<(PathBuf, String)>) {
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for root in roots {
        match std::fs::symlink_metadata(root) {
            Ok(m) if m.file_type().is_socket() => found.push((root.clone(), (m.dev(), m.ino()))),
            Ok(m) if m.is_dir() => stack.push(root.clone()),
            Ok(_) => {}
            Err(e) => unreadable.push((root.clone(), e.to_string())),
        }
    }
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > MAX_DIRS {
            unreadable.push((dir, format!("not read: more than {MAX_DIRS} directories")));
            break;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                unreadable.push((dir, e.to_string()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            if ft.is_dir() {
                if !SKIP.iter().any(|s| Path::new(s) == path) {
                    stack.push(path);
                }
            } else if ft.is_socket() {
                if let Ok(m) = entry.metadata() {
                    found.push((path, (m.dev(), m.ino())));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    (found, unreadable)
}

/// Connect to a socket file no socket of this namespace holds, without blocking, with each
/// socket type until one is not refused for being the wrong type.
fn probe(path: &Path) -> (FileStatus, Option<String>) {
    let Ok(addr) = Socket2Addr::unix(path) else {
        return (
            FileStatus::Unreadable,
            Some("path too long to connect to".to_string()),
        );
    };
    for ty in [Type::STREAM, Type::SEQPACKET, Type::DGRAM] {
        let Ok(s) = Socket::new(Domain::UNIX, ty.nonblocking().cloexec(), None) else {
            continue;
        };
        match s.connect(&addr) {
            Ok(()) => {
                return (
                    FileStatus::Live,
                    Some("held in another network namespace".into()),
                )
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::EPROTOTYPE) => continue,
                Some(libc::ECONNREFUSED) => return (FileStatus::Stale, None),
                Some(libc::EAGAIN) | Some(libc::EINPROGRESS) => {
                    return (
                        FileStatus::Live,
                        Some("held in another network namespace (backlog full)".into()),
                    )
                }
                Some(libc::EACCES) | Some(libc::EPERM) => {
                    return (FileStatus::Unreadable, Some("permission denied".into()))
                }
                Some(libc::ENOENT) => return (FileStatus::Unreadable, Some("removed".into())),
                _ => return (FileStatus::Unreadable, Some(e.to_string())),
            },
        }
    }
    (
        FileStatus::Unreadable,
        Some("no socket type accepted".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixDatagram, UnixListener};

    #[test]
    fn live_stale_and_bound_files() {
        let dir = tempfile::Builder::new()
            .prefix("sbxf")
            .tempdir_in("/tmp")
            .unwrap();
        let live = dir.path().join("live.sock");
        let stale = dir.path().join("stale.sock");
        let dgram = dir.path().join("dgram.sock");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let nested = dir.path().join("sub/nested.sock");
        let _l = UnixListener::bind(&live).unwrap();
        drop(UnixListener::bind(&stale).unwrap());
        let _d = UnixDatagram::bind(&dgram).unwrap();
        let _n = UnixListener::bind(&nested).unwrap();
        std::fs::write(dir.path().join("plain"), b"x").unwrap();

        let r = socket_files(&[dir.path().to_path_buf()], true).unwrap();
        let status = |p: &Path| {
            r.files
                .iter()
                .find(|f| f.path == p)
                .unwrap_or_else(|| panic!("{} not found in {:?}", p.display(), r.files))
                .status
        };
        assert_eq!(r.files.len(), 4, "{:?}", r.files);
        assert_eq!(status(&live), FileStatus::Live);
        assert_eq!(status(&stale), FileStatus::Stale);
        assert_eq!(status(&dgram), FileStatus::Live);
        assert_eq!(status(&nested), FileStatus::Live);
        let holder = r
            .files
            .iter()
            .find(|f| f.path == live)
            .unwrap()
            .holder
            .unwrap();
        let me = std::process::id();
        assert!(r.snapshot.sockets[holder]
            .owners
            .iter()
            .any(|o| o.pid == me));
    }

    #[test]
    fn a_missing_root_is_reported() {
        let (found, bad) = find_socket_files(&[PathBuf::from("/no/such/dir")]);
        assert!(found.is_empty());
        assert_eq!(bad.len(), 1);
    }
}
