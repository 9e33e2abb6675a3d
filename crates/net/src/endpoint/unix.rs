//! Unix-domain sockets: stream, datagram and seqpacket, on a path or in the abstract namespace.
//!
//! Listening on a path is where users get hurt, so it is careful:
//! - a path that exists and is not a socket is never removed;
//! - a socket file nobody accepts on (connect says `ECONNREFUSED`) is stale: it is removed,
//!   and a warning says so;
//! - a live one is refused, naming the listening process (`SO_PEERCRED` of a probe connection);
//! - `mode=` is applied with `fchmod(2)` on the socket *before* `bind(2)` (Linux creates the
//!   file with the socket inode's mode, less the umask), then set exactly with `chmod(2)`, so
//!   the file is never more open than asked; `owner=`/`group=` follow with `chown(2)`;
//! - the file is removed when the listener goes away, but only if it is still ours (same
//!   device and inode), so a restarted server's socket is never deleted by a dying one.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt, SockaddrStorage};
use nix::sys::stat::Mode;
use socket2::{Domain, SockAddr, Socket, Type};

use super::{sock, Bound, Conn, Cred, Described, Medium, Peer};
use crate::addr::{Address, Options, Transfer, UnixName, UnixType};
use crate::error::{io_err, Error, Result};
use crate::narrate;

const BACKLOG: u32 = 1024;

fn sock_type(ty: UnixType) -> Type {
    match ty {
        UnixType::Stream => Type::STREAM,
        UnixType::Dgram => Type::DGRAM,
        UnixType::Seqpacket => Type::SEQPACKET,
    }
}

fn medium(ty: UnixType) -> Medium {
    match ty {
        UnixType::Stream => Medium::UnixStream,
        UnixType::Dgram => Medium::Datagram,
        UnixType::Seqpacket => Medium::Seqpacket,
    }
}

fn transfer(ty: UnixType) -> Transfer {
    match ty {
        UnixType::Stream => Transfer::Stream,
        UnixType::Dgram | UnixType::Seqpacket => Transfer::Message,
    }
}

/// The kernel address for a name: a path, or `\0name` for the abstract namespace.
pub(crate) fn sockaddr(name: &UnixName) -> io::Result<SockAddr> {
    match name {
        UnixName::Path(p) => SockAddr::unix(p),
        UnixName::Abstract(n) => {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(n.as_bytes());
            SockAddr::unix(OsStr::from_bytes(&bytes))
        }
    }
}

/// A Unix name as users write it (`/path`, `@name`), or `None` for an unnamed socket.
pub(crate) fn display_name(a: &SockAddr) -> Option<String> {
    if let Some(p) = a.as_pathname() {
        return Some(p.display().to_string());
    }
    a.as_abstract_namespace()
        .map(|n| format!("@{}", String::from_utf8_lossy(n)))
}

/// Same as [`display_name`] for nix's address type (what `recvfrom` gives).
pub(crate) fn storage_name(a: &SockaddrStorage) -> Option<String> {
    let un = a.as_unix_addr()?;
    if let Some(p) = un.path() {
        return Some(p.display().to_string());
    }
    un.as_abstract()
        .map(|n| format!("@{}", String::from_utf8_lossy(n)))
}

/// True for the address of a Unix socket that never bound a name (it cannot be answered).
pub(crate) fn is_unnamed(a: &SockaddrStorage) -> bool {
    a.as_unix_addr().is_some_and(|u| u.is_unnamed())
}

/// `getsockopt(SO_PEERCRED)`: the process that created the other end, with its name.
pub fn peer_cred(fd: &impl AsFd) -> Option<Cred> {
    cred(fd, true)
}

/// [`peer_cred`] without the process name when `with_name` is false: a server whose peer lines
/// are not shown (`relay -q`) skips reading /proc (open, read, close) on every connection.
pub(crate) fn cred(fd: &impl AsFd, with_name: bool) -> Option<Cred> {
    let c = getsockopt(fd, sockopt::PeerCredentials).ok()?;
    if c.pid() <= 0 {
        return None;
    }
    let process = with_name
        .then(|| fs::read_to_string(format!("/proc/{}/comm", c.pid())).ok())
        .flatten()
        .map(|s| s.trim_end().to_string());
    Some(Cred {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
        process,
    })
}

pub(crate) async fn connect(
    addr: &Address,
    label: Option<&Arc<str>>,
    ty: UnixType,
    name: &UnixName,
    timeout: Option<Duration>,
    described: Described,
) -> Result<Conn> {
    let target: Arc<str> = label.map_or_else(|| addr.to_string().into(), Arc::clone);
    let to = sockaddr(name).map_err(io_err("connect", &target))?;
    let s = sock::socket(Domain::UNIX, sock_type(ty)).map_err(io_err("socket", &target))?;
    apply_buffers(&s, &addr.options).map_err(io_err("setsockopt", &target))?;
    if let Some(spec) = &addr.options.bind {
        let local = parse_name(spec);
        let sa = sockaddr(&local).map_err(io_err("bind", spec))?;
        sock::bind(&s, &sa, &local).map_err(io_err("bind", spec))?;
    } else if ty == UnixType::Dgram {
        // An unbound datagram socket cannot be answered: autobind to a kernel-chosen
        // abstract name (bind with only the family), as `SO_PASSCRED` would.
        let unnamed = SockAddr::unix("").map_err(io_err("bind", &target))?;
        sock::bind(&s, &unnamed, &"autobind").map_err(io_err("bind", &target))?;
    }
    let fd = match sock::connect(s, &to, name, timeout).await {
        Ok(fd) => fd,
        Err(e) => return Err(explain_connect_error(&target, name, e)),
    };
    let cred = match described {
        Described::Fully => peer_cred(fd.get_ref()),
        Described::Not => None,
    };
    if let Some(c) = &cred {
        narrate!("getsockopt(SO_PEERCRED) = {c}");
    }
    let mut conn = Conn::socket(target, fd, medium(ty), transfer(ty), addr.options.frame);
    conn.peer = Some(Peer::Unix {
        name: Some(name.to_string()),
        cred,
    });
    Ok(conn)
}

/// Turn "connection refused" on a path that is not a socket into words that say so.
fn explain_connect_error(target: &str, name: &UnixName, e: io::Error) -> Error {
    if let UnixName::Path(p) = name {
        if let Ok(m) = fs::metadata(p) {
            if !m.file_type().is_socket() {
                return Error::Refused(format!(
                    "connect {target}: {} is {}, not a socket",
                    p.display(),
                    describe_file(&m)
                ));
            }
            if e.raw_os_error() == Some(libc::ECONNREFUSED) {
                return Error::Io {
                    op: "connect",
                    target: target.to_string(),
                    err: io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "connection refused (a stale socket file: nobody accepts on it)",
                    ),
                };
            }
        }
    }
    io_err("connect", target)(e)
}

fn describe_file(m: &fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a regular file"
    }
}

fn parse_name(spec: &str) -> UnixName {
    match spec.strip_prefix('@') {
        Some(n) => UnixName::Abstract(n.to_string()),
        None => UnixName::Path(PathBuf::from(spec)),
    }
}

fn apply_buffers(s: &Socket, o: &Options) -> io::Result<()> {
    if let Some(n) = o.rcvbuf {
        sock::setsockopt(s, "SO_RCVBUF", &n, |s| s.set_recv_buffer_size(n))?;
    }
    if let Some(n) = o.sndbuf {
        sock::setsockopt(s, "SO_SNDBUF", &n, |s| s.set_send_buffer_size(n))?;
    }
    Ok(())
}

pub(crate) fn bind(addr: &Address, ty: UnixType, name: &UnixName) -> Result<Bound> {
    let target = addr.to_string();
    let o = &addr.options;
    match name {
        UnixName::Path(p) => clear_path(&target, p, ty)?,
        UnixName::Abstract(n) => tracing::warn!(
            "@{n} is an abstract socket: it has no file permissions, so any process in this \
             network namespace can connect to it"
        ),
    }
    let s = sock::socket(Domain::UNIX, sock_type(ty)).map_err(io_err("socket", &target))?;
    apply_buffers(&s, o).map_err(io_err("setsockopt", &target))?;
    if let Some(mode) = o.mode {
        nix::sys::stat::fchmod(&s, Mode::from_bits_truncate(mode))
            .map_err(|e| io_err("fchmod", &target)(e.into()))?;
        narrate!("fchmod(fd {}, {mode:04o})", s.as_raw_fd());
    }
    let sa = sockaddr(name).map_err(io_err("bind", &target))?;
    sock::bind(&s, &sa, name).map_err(io_err("bind", &target))?;
    let guard = match name {
        UnixName::Path(p) => Some(FileGuard::new(p).map_err(io_err("stat", &target))?),
        UnixName::Abstract(_) => None,
    };
    if let UnixName::Path(p) = name {
        set_permissions(&target, p, o)?;
    }
    if ty != UnixType::Dgram {
        sock::listen(&s, o.backlog.unwrap_or(BACKLOG)).map_err(io_err("listen", &target))?;
    }
    let label = target.trim_start_matches("listen:").to_string();
    let mut b = Bound::new(s, label, medium(ty), guard);
    b.set_options(o);
    Ok(b)
}

/// Make way for a new socket file at `path`: refuse anything that is not a stale socket.
fn clear_path(target: &str, path: &Path, ty: UnixType) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("stat", target)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(Error::Refused(format!(
            "listen {target}: refusing to replace {}: it is {}, not a socket",
            path.display(),
            describe_file(&meta)
        )));
    }
    match probe(path, ty) {
        Probe::Stale => {
            fs::remove_file(path).map_err(io_err("remove stale socket", target))?;
            narrate!("unlink({})", path.display());
            tracing::warn!(
                "removed stale socket file {} (nobody was accepting on it)",
                path.display()
            );
            Ok(())
        }
        Probe::Live(who) => Err(Error::Refused(format!(
            "listen {target}: {} is in use{who}; stop that server or choose another path",
            path.display()
        ))),
        Probe::Unknown(e) => Err(Error::Refused(format!(
            "listen {target}: cannot tell whether {} is in use ({e}); remove it yourself if it is stale",
            path.display()
        ))),
    }
}

enum Probe {
    Stale,
    /// Someone accepts; the text names them when the kernel says who.
    Live(String),
    Unknown(io::Error),
}

/// Connect to the existing socket file to learn whether anyone is behind it.
fn probe(path: &Path, ty: UnixType) -> Probe {
    let try_type = |t: Type| -> io::Result<Socket> {
        let s = Socket::new(Domain::UNIX, t, None)?;
        s.connect(&SockAddr::unix(path)?)?;
        Ok(s)
    };
    let first = try_type(sock_type(ty));
    // A socket of another type answers EPROTOTYPE: live, but say what it is.
    let result = match first {
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            [Type::STREAM, Type::SEQPACKET, Type::DGRAM]
                .into_iter()
                .map(try_type)
                .find(|r| r.is_ok())
                .unwrap_or(Err(e))
        }
        r => r,
    };
    match result {
        Ok(s) => Probe::Live(match peer_cred(&s) {
            Some(c) => format!(": {c} is listening on it"),
            None => String::new(),
        }),
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Probe::Stale,
        // A full accept queue means someone listens.
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Probe::Live(String::new()),
        Err(e) => Probe::Unknown(e),
    }
}

fn set_permissions(target: &str, path: &Path, o: &Options) -> Result<()> {
    if let Some(mode) = o.mode {
        fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(io_err("chmod", target))?;
        narrate!("chmod({}, {mode:04o})", path.display());
    }
    chown(target, path, o)
}

/// `chown(2)` to `owner=` / `group=`, names or numbers.
pub(crate) fn chown(target: &str, path: &Path, o: &Options) -> Result<()> {
    if o.owner.is_none() && o.group.is_none() {
        return Ok(());
    }
    let uid = o
        .owner
        .as_deref()
        .map(|u| lookup_user(target, u))
        .transpose()?;
    let gid = o
        .group
        .as_deref()
        .map(|g| lookup_group(target, g))
        .transpose()?;
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        uid.map(nix::unistd::Uid::from_raw),
        gid.map(nix::unistd::Gid::from_raw),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io_err("chown", target)(e.into()))?;
    narrate!(
        "chown({}, {}, {})",
        path.display(),
        uid.map_or("-".into(), |u| u.to_string()),
        gid.map_or("-".into(), |g| g.to_string())
    );
    Ok(())
}

fn lookup_user(target: &str, user: &str) -> Result<u32> {
    if let Ok(n) = user.parse() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(user) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        _ => Err(Error::Usage(format!(
            "{target}: owner={user}: no such user"
        ))),
    }
}

fn lookup_group(target: &str, group: &str) -> Result<u32> {
    if let Ok(n) = group.parse() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => Err(Error::Usage(format!(
            "{target}: group={group}: no such group"
        ))),
    }
}

/// Removes a file sockbox created (socket file, FIFO) when dropped, if it is still the same
/// file (device and inode), so a file another process put there since is left alone.
pub(crate) struct FileGuard {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl FileGuard {
    pub(crate) fn new(path: &Path) -> io::Result<Self> {
        let m = fs::symlink_metadata(path)?;
        Ok(FileGuard {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

impl FileGuard {
    /// Leave the file in place: another process serves the socket now.
    pub(crate) fn keep(mut self) {
        self.path = PathBuf::new();
    }
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        if self.path.as_os_str().is_empty() {
            return;
        }
        if let Ok(m) = fs::symlink_metadata(&self.path) {
            if m.dev() == self.dev && m.ino() == self.ino && fs::remove_file(&self.path).is_ok() {
                narrate!("unlink({})", self.path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_names_get_a_leading_nul() {
        let a = sockaddr(&UnixName::Abstract("x".into())).unwrap();
        assert_eq!(a.as_abstract_namespace(), Some(&b"x"[..]));
        assert_eq!(display_name(&a).as_deref(), Some("@x"));
    }

    #[test]
    fn a_mode_set_before_bind_is_the_mode_of_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let s = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        nix::sys::stat::fchmod(&s, Mode::from_bits_truncate(0o600)).unwrap();
        s.bind(&SockAddr::unix(&path).unwrap()).unwrap();
        let mode = fs::metadata(&path).unwrap().mode() & 0o7777;
        assert_eq!(
            mode & !0o600,
            0,
            "file created with mode {mode:o}, wider than 0600"
        );
    }
}
