//! What a received descriptor is, as plain data: `fstat(2)`, `readlink(2)` of
//! `/proc/self/fd/N`, `fcntl(F_GETFL)`, and for a socket `SO_DOMAIN`, `SO_TYPE`,
//! `SO_ACCEPTCONN`, `getsockname(2)`, `getpeername(2)` and `SO_PEERCRED`.
//!
//! Nothing here changes the descriptor: the open file description is shared with the sender,
//! so even its file offset and `O_NONBLOCK` are left as they are.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::{fstat, major, minor, SFlag};
use serde::Serialize;
use socket2::{Domain, SockAddr, SockRef, Type};

use crate::endpoint::peer_cred;
use crate::peer::Cred;

impl std::fmt::Display for FdInfo {
    /// One descriptor in words, as `fd recv` and the traffic dump show it: kind, what it points
    /// to, access mode and flags, and the details of its kind.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut words = vec![self.kind.name().to_string()];
        match (&self.socket, &self.anon_type) {
            (Some(s), _) => {
                words.push(format!("{} {}", s.family, s.socket_type));
                if s.listening {
                    words.push("listening".into());
                }
                words.push(format!(
                    "local {}",
                    s.local.as_deref().unwrap_or("(unnamed)")
                ));
                if s.peer.is_some() || s.peer_cred.is_some() {
                    let mut p = format!("peer {}", s.peer.as_deref().unwrap_or("(unnamed)"));
                    if let Some(c) = &s.peer_cred {
                        p.push_str(&format!(" {c}"));
                    }
                    words.push(p);
                }
            }
            (None, Some(t)) => words.push(t.clone()),
            (None, None) => words.push(self.path.clone()),
        }
        let mut mode = self.access.name().to_string();
        for flag in &self.flags {
            mode.push(' ');
            mode.push_str(flag);
        }
        words.push(mode);
        if let Some(size) = self.size {
            words.push(format!("size {size}"));
        }
        if let Some(o) = self.offset {
            words.push(format!("offset {o}"));
        }
        if let Some(d) = &self.device {
            words.push(format!("device {d}"));
        }
        f.write_str(&words.join("  "))
    }
}

/// What kind of object a descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FdKind {
    /// A regular file.
    File,
    /// An anonymous memory file (`memfd_create(2)`).
    Memfd,
    Directory,
    Socket,
    /// An anonymous pipe (`pipe(2)`).
    Pipe,
    /// A named pipe (`mkfifo(3)`).
    Fifo,
    CharDevice,
    BlockDevice,
    /// A symbolic link itself (opened with `O_PATH | O_NOFOLLOW`).
    Symlink,
    /// An anonymous inode: eventfd, timerfd, signalfd, epoll, pidfd, inotify...
    AnonInode,
    Unknown,
}

impl FdKind {
    /// The kind in words, as the text output shows it.
    pub fn name(self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::Memfd => "memfd",
            FdKind::Directory => "directory",
            FdKind::Socket => "socket",
            FdKind::Pipe => "pipe",
            FdKind::Fifo => "fifo",
            FdKind::CharDevice => "char device",
            FdKind::BlockDevice => "block device",
            FdKind::Symlink => "symlink",
            FdKind::AnonInode => "anon inode",
            FdKind::Unknown => "unknown",
        }
    }
}

/// The access mode the descriptor was opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// `O_RDONLY`.
    Read,
    /// `O_WRONLY`.
    Write,
    /// `O_RDWR`.
    ReadWrite,
    /// `O_PATH`: a location only, neither readable nor writable.
    Path,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read-only",
            Access::Write => "write-only",
            Access::ReadWrite => "read-write",
            Access::Path => "path-only",
        }
    }

    pub fn readable(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }
}

/// A socket behind a descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SocketInfo {
    /// `unix`, `inet`, `inet6`, `netlink`, `packet`, `vsock`, or `AF_<number>`.
    pub family: String,
    /// `stream`, `dgram`, `seqpacket`, `raw`, or `SOCK_<number>`.
    #[serde(rename = "type")]
    pub socket_type: String,
    /// Accepting connections (`SO_ACCEPTCONN`).
    pub listening: bool,
    /// The bound address (`getsockname(2)`): `/path`, `@abstract`, `127.0.0.1:80`,
    /// `[::1]:80`; `None` for an unnamed Unix socket or a family without one.
    pub local: Option<String>,
    /// The connected peer's address (`getpeername(2)`), as `local`; `None` when not
    /// connected or unnamed.
    pub peer: Option<String>,
    /// The process at the other end of a connected Unix socket (`SO_PEERCRED`).
    pub peer_cred: Option<Cred>,
}

/// Everything sockbox can tell about a descriptor without changing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FdInfo {
    pub kind: FdKind,
    /// What `/proc/self/fd/N` points to: a path (` (deleted)` appended when unlinked),
    /// `socket:[INODE]`, `pipe:[INODE]`, `anon_inode:[eventfd]`, `/memfd:NAME (deleted)`.
    pub path: String,
    pub access: Access,
    /// File status flags besides the access mode (`fcntl(F_GETFL)`): `append`, `nonblock`,
    /// `sync`, `dsync`, `direct`, `noatime`, `async`.
    pub flags: Vec<&'static str>,
    /// Inode number (`st_ino`).
    pub inode: u64,
    /// Size in bytes, for regular files and memfds (`st_size`).
    pub size: Option<u64>,
    /// The shared file offset (`lseek(fd, 0, SEEK_CUR)`), for regular files, memfds and block
    /// devices.
    pub offset: Option<u64>,
    /// `MAJOR:MINOR` of a character or block device (`st_rdev`).
    pub device: Option<String>,
    /// For an anonymous inode: what it is (`eventfd`, `timerfd`, `pidfd`, `[eventpoll]` ...).
    pub anon_type: Option<String>,
    /// For a socket: its family, type and addresses.
    pub socket: Option<SocketInfo>,
}

const FLAG_NAMES: [(OFlag, &str); 7] = [
    (OFlag::O_APPEND, "append"),
    (OFlag::O_NONBLOCK, "nonblock"),
    (OFlag::O_SYNC, "sync"),
    (OFlag::O_DSYNC, "dsync"),
    (OFlag::O_DIRECT, "direct"),
    (OFlag::O_NOATIME, "noatime"),
    (OFlag::O_ASYNC, "async"),
];

/// Describe `fd`. Each question the kernel refuses to answer leaves its field empty; only a
/// descriptor that cannot even be `fstat`ed gives an error.
pub fn describe(fd: BorrowedFd<'_>) -> std::io::Result<FdInfo> {
    let st = fstat(fd)?;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let status = fcntl(fd, FcntlArg::F_GETFL)
        .map(OFlag::from_bits_retain)
        .unwrap_or(OFlag::empty());
    // O_SYNC includes O_DSYNC's bit: name only the stronger one.
    let flags = FLAG_NAMES
        .iter()
        .filter(|(f, name)| {
            status.contains(*f) && !(*name == "dsync" && status.contains(OFlag::O_SYNC))
        })
        .map(|(_, name)| *name)
        .collect();
    let access = if status.contains(OFlag::O_PATH) {
        Access::Path
    } else {
        match status & OFlag::O_ACCMODE {
            OFlag::O_WRONLY => Access::Write,
            OFlag::O_RDWR => Access::ReadWrite,
            _ => Access::Read,
        }
    };
    let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let kind = classify(fmt, &path);
    let anon_type = (kind == FdKind::AnonInode).then(|| anon_type(&path));
    let seekable = matches!(kind, FdKind::File | FdKind::Memfd | FdKind::BlockDevice);
    let offset = seekable
        .then(|| nix::unistd::lseek(fd, 0, nix::unistd::Whence::SeekCur).ok())
        .flatten()
        .and_then(|o| u64::try_from(o).ok());
    let size = matches!(kind, FdKind::File | FdKind::Memfd)
        .then(|| u64::try_from(st.st_size).ok())
        .flatten();
    let device = matches!(kind, FdKind::CharDevice | FdKind::BlockDevice)
        .then(|| format!("{}:{}", major(st.st_rdev), minor(st.st_rdev)));
    let socket = (kind == FdKind::Socket).then(|| socket_info(fd));
    Ok(FdInfo {
        kind,
        path,
        access,
        flags,
        inode: st.st_ino,
        size,
        offset,
        device,
        anon_type,
        socket,
    })
}

/// The kind from the file type bits and the `/proc/self/fd` link. Anonymous inodes are told by
/// their link: since Linux 6.15 they carry `S_IFREG`, before that no type at all.
fn classify(fmt: SFlag, link: &str) -> FdKind {
    if link.starts_with("anon_inode:") || (link.starts_with("pidfd:") && fmt != SFlag::S_IFDIR) {
        return FdKind::AnonInode;
    }
    match fmt {
        SFlag::S_IFSOCK => FdKind::Socket,
        SFlag::S_IFIFO if link.starts_with("pipe:") => FdKind::Pipe,
        SFlag::S_IFIFO => FdKind::Fifo,
        SFlag::S_IFDIR => FdKind::Directory,
        SFlag::S_IFCHR => FdKind::CharDevice,
        SFlag::S_IFBLK => FdKind::BlockDevice,
        SFlag::S_IFLNK => FdKind::Symlink,
        SFlag::S_IFREG if link.starts_with("/memfd:") => FdKind::Memfd,
        SFlag::S_IFREG => FdKind::File,
        _ => FdKind::Unknown,
    }
}

/// `anon_inode:[eventfd]` -> `eventfd`; `anon_inode:inotify` -> `inotify`; `pidfd:[..]` ->
/// `pidfd`.
fn anon_type(link: &str) -> String {
    if link.starts_with("pidfd:") {
        return "pidfd".into();
    }
    let t = link.trim_start_matches("anon_inode:");
    t.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t)
        .to_string()
}

fn socket_info(fd: BorrowedFd<'_>) -> SocketInfo {
    let s = SockRef::from(&fd);
    let family = match s.domain() {
        Ok(d) => family_name(d),
        Err(_) => "unknown".into(),
    };
    let socket_type = match s.r#type() {
        Ok(t) => type_name(t),
        Err(_) => "unknown".into(),
    };
    let unix = family == "unix";
    SocketInfo {
        family,
        socket_type,
        listening: s.is_listener().unwrap_or(false),
        local: s.local_addr().ok().and_then(|a| address(&a)),
        peer: s.peer_addr().ok().and_then(|a| address(&a)),
        peer_cred: if unix { peer_cred(&fd.as_fd()) } else { None },
    }
}

fn family_name(d: Domain) -> String {
    match d {
        Domain::UNIX => "unix".into(),
        Domain::IPV4 => "inet".into(),
        Domain::IPV6 => "inet6".into(),
        Domain::PACKET => "packet".into(),
        Domain::VSOCK => "vsock".into(),
        d if i32::from(d) == libc::AF_NETLINK => "netlink".into(),
        d => format!("AF_{}", i32::from(d)),
    }
}

fn type_name(t: Type) -> String {
    match t {
        Type::STREAM => "stream".into(),
        Type::DGRAM => "dgram".into(),
        Type::SEQPACKET => "seqpacket".into(),
        Type::RAW => "raw".into(),
        t => format!("SOCK_{}", i32::from(t)),
    }
}

/// An address as users write it; `None` for an unnamed Unix socket or an address family
/// without a printable form here.
fn address(a: &SockAddr) -> Option<String> {
    if let Some(sa) = a.as_socket() {
        return Some(sa.to_string());
    }
    if let Some(p) = a.as_pathname() {
        return Some(p.display().to_string());
    }
    a.as_abstract_namespace()
        .map(|n| format!("@{}", String::from_utf8_lossy(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_regular_file_read_only_with_its_size_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let i = describe(f.as_fd()).unwrap();
        assert_eq!(i.kind, FdKind::File);
        assert_eq!(i.access, Access::Read);
        assert_eq!(i.path, p.display().to_string());
        assert_eq!((i.size, i.offset), (Some(5), Some(0)));
        assert!(i.socket.is_none());
    }

    #[test]
    fn append_and_write_only_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.path().join("log"))
            .unwrap();
        let i = describe(f.as_fd()).unwrap();
        assert_eq!(i.access, Access::Write);
        assert_eq!(i.flags, vec!["append"]);
    }

    #[test]
    fn pipes_directories_devices_and_eventfds() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let i = describe(r.as_fd()).unwrap();
        assert_eq!((i.kind, i.access), (FdKind::Pipe, Access::Read));
        assert!(i.path.starts_with("pipe:["), "{}", i.path);
        assert_eq!(describe(w.as_fd()).unwrap().access, Access::Write);
        let d = std::fs::File::open("/").unwrap();
        assert_eq!(describe(d.as_fd()).unwrap().kind, FdKind::Directory);
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        let i = describe(null.as_fd()).unwrap();
        assert_eq!((i.kind, i.access), (FdKind::CharDevice, Access::ReadWrite));
        assert_eq!(i.device.as_deref(), Some("1:3"));
        let e = nix::sys::eventfd::EventFd::new().unwrap();
        let i = describe(e.as_fd()).unwrap();
        assert_eq!(i.kind, FdKind::AnonInode);
        assert_eq!(i.anon_type.as_deref(), Some("eventfd"));
    }

    #[test]
    fn sockets_with_their_family_type_and_addresses() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let i = describe(l.as_fd()).unwrap();
        let s = i.socket.unwrap();
        assert_eq!(
            (s.family.as_str(), s.socket_type.as_str()),
            ("inet", "stream")
        );
        assert!(s.listening);
        assert_eq!(s.local, Some(l.local_addr().unwrap().to_string()));
        assert_eq!(s.peer, None);

        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let s = describe(a.as_fd()).unwrap().socket.unwrap();
        assert_eq!(
            (s.family.as_str(), s.socket_type.as_str()),
            ("unix", "stream")
        );
        assert_eq!((s.local, s.peer), (None, None));
        assert_eq!(s.peer_cred.unwrap().pid, std::process::id() as i32);
    }

    #[test]
    fn anon_types_are_read_from_the_link() {
        assert_eq!(anon_type("anon_inode:[eventfd]"), "eventfd");
        assert_eq!(anon_type("anon_inode:inotify"), "inotify");
        assert_eq!(anon_type("pidfd:[1234]"), "pidfd");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any link text is classified without panicking, and an `anon_inode:[NAME]` link is
        /// an anonymous inode named NAME whatever its file type bits.
        #[test]
        fn any_link_is_classified(link in ".{0,40}", name in "[a-z_]{1,16}", bits in 0u32..16) {
            let fmt = SFlag::from_bits_truncate(bits << 12);
            let _ = classify(fmt, &link);
            let _ = anon_type(&link);
            let anon = format!("anon_inode:[{name}]");
            proptest::prop_assert_eq!(classify(fmt, &anon), FdKind::AnonInode);
            proptest::prop_assert_eq!(anon_type(&anon), name);
        }
    }
}
