//! Which process holds which socket: one walk of `/proc/*/fd`.
//!
//! Each descriptor of each process is one `readlinkat(2)` on its `/proc/PID/fd` directory;
//! a socket reads `socket:[INODE]`. That is all that is done per descriptor: no `stat`, no
//! SELinux context lookup (`ss -p` does one `getfilecon` per descriptor, about half of its
//! system calls). Processes are listed first and their descriptors then read by a few
//! threads in chunks, so one process holding 20,000 sockets is shared out too. Only the
//! inodes asked for are kept, and only the processes asked for are read when a filter says
//! which (`--pid`, `--process`). A process that ends during the walk, or that we may not
//! look at (another user's, without root), is skipped.

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::dir::Dir;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Owner, Owners, Process};
use crate::error::io_err;
use crate::Result;

/// Which processes to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every process.
    All,
    /// Only these pids.
    Pids(Vec<u32>),
    /// Only processes whose name (`/proc/PID/comm`) is one of these.
    Names(Vec<String>),
}

/// What the walk found.
#[derive(Clone, Debug, Default)]
pub struct Walk {
    /// Socket inode -> the processes holding it (sorted by pid, then fd).
    pub owners: FxHashMap<u64, Owners>,
    /// The processes holding at least one wanted socket, with their names.
    pub processes: HashMap<u32, Process>,
    /// Processes whose descriptors could not be read (permission), skipped.
    pub unreadable: usize,
}

/// Descriptors read per unit of work: small enough to share one big process between
/// threads, large enough that handing out work costs nothing.
const CHUNK: usize = 2048;

/// One process's descriptor directory and the descriptor numbers in it.
struct FdDir {
    pid: u32,
    dir: OwnedFd,
    fds: Vec<u32>,
}

/// Walk `/proc` and map each socket inode in `wanted` to the processes holding it.
pub fn walk(scope: &Scope, wanted: &FxHashSet<u64>) -> Result<Walk> {
    let proc_dir = Dir::open(
        "/proc",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open", "/proc")(e.into()))?;
    let proc_fd = proc_dir.as_fd();
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut dirs = Vec::new();
    let mut unreadable = 0;

    for pid in pids(scope)? {
        if let Scope::Names(want) = scope {
            let Some(name) = comm(pid) else { continue };
            if !want.iter().any(|w| name_matches(w, &name)) {
                continue;
            }
            names.insert(pid, name);
        }
        match list_fds(&proc_fd, pid) {
            Ok(Some(d)) => dirs.push(d),
            Ok(None) => {}
            Err(_) => unreadable += 1,
        }
    }

    let found = read_dirs(&dirs, |inode| wanted.contains(&inode));
    let mut owners: FxHashMap<u64, Owners> = FxHashMap::default();
    for (inode, owner) in found {
        owners.entry(inode).or_default().push(owner);
    }
    let mut processes = HashMap::new();
    for list in owners.values_mut() {
        list.sort_unstable();
        for o in list.iter() {
            processes.entry(o.pid).or_insert_with(|| Process {
                pid: o.pid,
                name: names
                    .remove(&o.pid)
                    .or_else(|| comm(o.pid))
                    .unwrap_or_default(),
                uid: None,
                cmdline: None,
            });
        }
    }
    Ok(Walk {
        owners,
        processes,
        unreadable,
    })
}

/// Owners kept from one walk to the next, for a caller that dumps every second (`top`, the
/// exporter): a full walk at the start and every [`Index::full_every`], otherwise an
/// incremental one.
///
/// The incremental walk is skipped when every socket asked for already has known owners (or
/// is known to have none). When some are new, it looks for them only in the processes that
/// can hold them: a process not seen before, one whose number of open descriptors changed
/// (`stat(2)` of `/proc/PID/fd` reports it since Linux 6.2, from the descriptor bitmap), or
/// one that closed a socket it held (the new one usually takes its number). Their descriptor
/// directories are listed again, and only the descriptors not known to hold a live socket are
/// read with `readlinkat(2)`. On an older kernel (no count) every process is listed. What the
/// incremental walk misses until the next full one: a live socket that gains an owner (passed
/// over a Unix socket, inherited across `fork`) while no new socket appears; a new socket in a
/// process that closed as many descriptors that were not sockets as it opened; and a
/// descriptor moved with `dup2` onto a number that held another live socket.
#[derive(Debug)]
pub struct Index {
    /// pid -> descriptor -> socket inode, for the descriptors known to be sockets.
    fds: FxHashMap<u32, FxHashMap<u32, u64>>,
    /// Every inode in `fds`.
    known: FxHashSet<u64>,
    /// pid -> descriptors it had open when its directory was last listed (processes that
    /// could be read).
    counts: FxHashMap<u32, u64>,
    /// Whether `stat` of `/proc/PID/fd` counts descriptors (Linux 6.2+).
    counts_work: bool,
    /// The inodes the previous walk was asked for.
    wanted_before: FxHashSet<u64>,
    /// Inodes looked for and held by no readable process.
    ownerless: FxHashSet<u64>,
    names: HashMap<u32, String>,
    unreadable: usize,
    last_full: Option<std::time::Instant>,
    /// How often the walk is a full one.
    pub full_every: std::time::Duration,
    /// What the last walk did.
    pub last: WalkKind,
}

/// What [`Index::walk`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WalkKind {
    /// Every descriptor of every process read.
    #[default]
    Full,
    /// Some processes' descriptor directories listed, only descriptors not known read.
    Incremental {
        /// Processes listed (the others' descriptor counts had not changed).
        listed: usize,
        /// Descriptors read with `readlinkat(2)`.
        read: usize,
    },
    /// No socket was new: `/proc` was not touched.
    Skipped,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            fds: FxHashMap::default(),
            known: FxHashSet::default(),
            counts: FxHashMap::default(),
            counts_work: false,
            wanted_before: FxHashSet::default(),
            ownerless: FxHashSet::default(),
            names: HashMap::new(),
            unreadable: 0,
            last_full: None,
            full_every: std::time::Duration::from_secs(30),
            last: WalkKind::Full,
        }
    }
}

impl Index {
    /// The owners of the sockets in `wanted` (the live ones: the cache forgets the rest).
    pub fn walk(&mut self, wanted: &FxHashSet<u64>) -> Result<Walk> {
        let full = self
            .last_full
            .is_none_or(|t| t.elapsed() >= self.full_every);
        if full {
            self.walk_full(wanted)?;
        } else {
            self.ownerless.retain(|i| wanted.contains(i));
            let new = wanted
                .iter()
                .any(|i| !self.known.contains(i) && !self.ownerless.contains(i));
            if new {
                self.walk_incremental(wanted)?;
            } else {
                self.last = WalkKind::Skipped;
            }
        }
        self.wanted_before.clone_from(wanted);
        Ok(self.result(wanted))
    }

    fn walk_full(&mut self, wanted: &FxHashSet<u64>) -> Result<()> {
        // Every socket descriptor is remembered, not only the wanted ones: a socket a filter
        // leaves out now may be wanted later.
        let all = walk_all(&Scope::All)?;
        self.fds = all.fds;
        self.counts = all.counts;
        self.unreadable = all.unreadable;
        self.names = all.names;
        // We hold descriptors, so a kernel that counts them reports more than 0 for us.
        self.counts_work = nix::sys::stat::stat("/proc/self/fd").is_ok_and(|st| st.st_size > 0);
        self.found(wanted);
        self.last_full = Some(std::time::Instant::now());
        self.last = WalkKind::Full;
        Ok(())
    }

    /// After a walk: the inodes known, and those wanted that no process holds.
    fn found(&mut self, wanted: &FxHashSet<u64>) {
        self.known.clear();
        self.known
            .extend(self.fds.values().flat_map(|m| m.values().copied()));
        self.ownerless = wanted
            .iter()
            .filter(|i| !self.known.contains(i))
            .copied()
            .collect();
    }

    /// Whether `pid`, which held the sockets `held` at the last walk, may hold a new one: it
    /// was not seen listed before, its descriptor count changed, or it closed a socket.
    fn may_have_new(
        &self,
        proc_fd: &impl AsFd,
        pid: u32,
        held: &FxHashMap<u32, u64>,
        wanted: &FxHashSet<u64>,
    ) -> (bool, Option<u64>) {
        if !self.counts_work {
            return (true, None);
        }
        let Some(&was) = self.counts.get(&pid) else {
            return (true, None);
        };
        let Some(now) = fd_count(proc_fd, pid) else {
            return (true, None);
        };
        let closed_one = held
            .values()
            .any(|i| self.wanted_before.contains(i) && !wanted.contains(i));
        (now != was || closed_one, Some(now))
    }

    fn walk_incremental(&mut self, wanted: &FxHashSet<u64>) -> Result<()> {
        let proc_dir = Dir::open(
            "/proc",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err("open", "/proc")(e.into()))?;
        let proc_fd = proc_dir.as_fd();
        let mut link = [0u8; 32];
        let (mut listed, mut read, mut unreadable) = (0, 0, 0);
        let mut fds: FxHashMap<u32, FxHashMap<u32, u64>> = FxHashMap::default();
        let mut counts: FxHashMap<u32, u64> = FxHashMap::default();
        for pid in pids(&Scope::All)? {
            let before = self.fds.remove(&pid).unwrap_or_default();
            let (changed, count) = self.may_have_new(&proc_fd, pid, &before, wanted);
            if !changed {
                if let Some(n) = count {
                    counts.insert(pid, n);
                }
                if !before.is_empty() {
                    fds.insert(pid, before);
                }
                continue;
            }
            listed += 1;
            let d = match list_fds(&proc_fd, pid) {
                Ok(Some(d)) => d,
                Ok(None) => {
                    counts.insert(pid, 0);
                    continue;
                }
                Err(_) => {
                    unreadable += 1;
                    continue;
                }
            };
            counts.insert(pid, d.fds.len() as u64);
            let mut now = FxHashMap::default();
            for &fd in &d.fds {
                // A descriptor that held a socket still alive holds it still (see the type's
                // docs for the one case this misses until the next full walk).
                if let Some(&inode) = before.get(&fd) {
                    if wanted.contains(&inode) {
                        now.insert(fd, inode);
                        continue;
                    }
                }
                read += 1;
                if let Some(inode) = socket_inode(&d.dir, fd, &mut link) {
                    now.insert(fd, inode);
                }
            }
            if !now.is_empty() {
                if let std::collections::hash_map::Entry::Vacant(e) = self.names.entry(pid) {
                    if let Some(n) = comm(pid) {
                        e.insert(n);
                    }
                }
                fds.insert(pid, now);
            }
        }
        self.names.retain(|pid, _| fds.contains_key(pid));
        self.fds = fds;
        self.counts = counts;
        self.unreadable = unreadable;
        self.found(wanted);
        self.last = WalkKind::Incremental { listed, read };
        Ok(())
    }

    /// The cache as a [`Walk`] of the wanted inodes.
    fn result(&self, wanted: &FxHashSet<u64>) -> Walk {
        let mut owners: FxHashMap<u64, Owners> = FxHashMap::default();
        let mut processes = HashMap::new();
        for (&pid, fds) in &self.fds {
            for (&fd, &inode) in fds {
                if wanted.contains(&inode) {
                    owners.entry(inode).or_default().push(Owner { pid, fd });
                    processes.entry(pid).or_insert_with(|| Process {
                        pid,
                        name: self.names.get(&pid).cloned().unwrap_or_default(),
                        uid: None,
                        cmdline: None,
                    });
                }
            }
        }
        for list in owners.values_mut() {
            list.sort_unstable();
        }
        Walk {
            owners,
            processes,
            unreadable: self.unreadable,
        }
    }
}

/// Every socket descriptor of every process in `scope`, by pid (the full walk of [`Index`]).
struct AllSockets {
    fds: FxHashMap<u32, FxHashMap<u32, u64>>,
    /// Descriptors listed per readable process.
    counts: FxHashMap<u32, u64>,
    names: HashMap<u32, String>,
    unreadable: usize,
}

fn walk_all(scope: &Scope) -> Result<AllSockets> {
    let proc_dir = Dir::open(
        "/proc",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open", "/proc")(e.into()))?;
    let proc_fd = proc_dir.as_fd();
    let mut dirs = Vec::new();
    let mut counts = FxHashMap::default();
    let mut unreadable = 0;
    for pid in pids(scope)? {
        match list_fds(&proc_fd, pid) {
            Ok(Some(d)) => {
                counts.insert(pid, d.fds.len() as u64);
                dirs.push(d);
            }
            Ok(None) => {
                counts.insert(pid, 0);
            }
            Err(_) => unreadable += 1,
        }
    }
    let found = read_dirs(&dirs, |_| true);
    let mut fds: FxHashMap<u32, FxHashMap<u32, u64>> = FxHashMap::default();
    for (inode, o) in found {
        fds.entry(o.pid).or_default().insert(o.fd, inode);
    }
    let names = fds
        .keys()
        .filter_map(|&pid| comm(pid).map(|n| (pid, n)))
        .collect();
    Ok(AllSockets {
        fds,
        counts,
        names,
        unreadable,
    })
}

/// Read the descriptors of `dirs` on a few threads, in chunks: the sockets whose inode `keep`
/// accepts, with who holds them.
fn read_dirs(dirs: &[FdDir], keep: impl Fn(u64) -> bool + Sync) -> Vec<(u64, Owner)> {
    // Work items: (index into dirs, range of its fds).
    let mut work = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let mut start = 0;
        while start < d.fds.len() {
            let end = (start + CHUNK).min(d.fds.len());
            work.push((i, start, end));
            start = end;
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(work.len().max(1));
    let next = AtomicUsize::new(0);
    let read_chunks = || {
        let mut found: Vec<(u64, Owner)> = Vec::new();
        // "socket:[" + 20 digits + "]" fits; anything longer is not a socket.
        let mut link = [0u8; 32];
        loop {
            let w = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(i, start, end)) = work.get(w) else {
                break;
            };
            let d = &dirs[i];
            for &fd in &d.fds[start..end] {
                if let Some(inode) = socket_inode(&d.dir, fd, &mut link) {
                    if keep(inode) {
                        found.push((inode, Owner { pid: d.pid, fd }));
                    }
                }
            }
        }
        found
    };
    let found: Vec<Vec<(u64, Owner)>> = std::thread::scope(|s| {
        let others: Vec<_> = (1..threads).map(|_| s.spawn(read_chunks)).collect();
        let mut all = vec![read_chunks()];
        for t in others {
            match t.join() {
                Ok(f) => all.push(f),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        all
    });

    found.into_iter().flatten().collect()
}

/// The pids to read, in `/proc` order.
fn pids(scope: &Scope) -> Result<Vec<u32>> {
    if let Scope::Pids(p) = scope {
        return Ok(p.clone());
    }
    let mut dir = Dir::open(
        "/proc",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err("open", "/proc")(e.into()))?;
    Ok(dir
        .iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_number(e.file_name()))
        .collect())
}

/// Open `/proc/PID/fd` and list its descriptor numbers. `Ok(None)` when the process is gone
/// or has no descriptors (kernel threads); `Err` when we may not read it.
fn list_fds(proc_fd: &impl AsFd, pid: u32) -> std::result::Result<Option<FdDir>, nix::Error> {
    let path = format!("{pid}/fd");
    let fd = match openat(
        proc_fd,
        path.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) | Err(nix::Error::ESRCH) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Dir takes the fd it lists; list through a duplicate and keep the original for
    // readlinkat.
    let mut listing = Dir::from_fd(fd.try_clone().map_err(|_| nix::Error::EMFILE)?)?;
    let fds: Vec<u32> = listing
        .iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_number(e.file_name()))
        .collect();
    if fds.is_empty() {
        return Ok(None);
    }
    Ok(Some(FdDir { pid, dir: fd, fds }))
}

/// The number of descriptors `pid` has open: the size `stat(2)` reports for `/proc/PID/fd`
/// (Linux 6.2+; 0 before). `None` if the process is gone or may not be looked at.
fn fd_count(proc_fd: &impl AsFd, pid: u32) -> Option<u64> {
    let mut path = [0u8; 16];
    let mut name = itoa_buf(pid);
    let digits = name.as_cstr().to_bytes();
    path[..digits.len()].copy_from_slice(digits);
    path[digits.len()..digits.len() + 3].copy_from_slice(b"/fd");
    let path = CStr::from_bytes_until_nul(&path).ok()?;
    let st = nix::sys::stat::fstatat(proc_fd, path, nix::fcntl::AtFlags::empty()).ok()?;
    u64::try_from(st.st_size).ok()
}

/// `readlinkat(dir, "FD")`: the inode if the descriptor is a socket.
fn socket_inode(dir: &OwnedFd, fd: u32, buf: &mut [u8]) -> Option<u64> {
    let mut name = itoa_buf(fd);
    let target = sockbox_sys::readlinkat_into(dir, name.as_cstr(), buf).ok()?;
    parse_socket_link(target)
}

/// `socket:[12345]` -> 12345.
pub fn parse_socket_link(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A directory entry name that is a decimal number (a pid or a descriptor).
fn parse_number(name: &CStr) -> Option<u32> {
    let b = name.to_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// A small decimal number as a NUL-terminated name, without allocating.
struct NumName {
    buf: [u8; 12],
    start: usize,
}

impl NumName {
    fn as_cstr(&mut self) -> &CStr {
        // The buffer ends with the NUL written by itoa_buf and holds only digits before it.
        CStr::from_bytes_with_nul(&self.buf[self.start..]).unwrap_or(c"")
    }
}

fn itoa_buf(mut n: u32) -> NumName {
    let mut buf = [0u8; 12];
    let mut i = buf.len() - 1; // buf[11] stays NUL
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    NumName { buf, start: i }
}

/// `/proc/PID/comm` without its newline.
pub fn comm(pid: u32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(s.trim_end_matches('\n').to_string())
}

/// Does a process named `comm` (at most 15 bytes, the kernel truncates) match `want`?
pub fn name_matches(want: &str, comm: &str) -> bool {
    want == comm || (want.len() > 15 && want.as_bytes().get(..15) == Some(comm.as_bytes()))
}

/// Fill in the uid and command line of `p` (`/proc/PID/status`, `/proc/PID/cmdline`).
pub fn read_details(p: &mut Process) {
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", p.pid)) {
        p.uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok());
    }
    if let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", p.pid)) {
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        p.cmdline = (!args.is_empty()).then_some(args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::MetadataExt;

    fn inode(s: &impl std::os::fd::AsRawFd) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{}", s.as_raw_fd()))
            .unwrap()
            .ino()
    }

    /// Real sockets of this process: found by the full walk; a new one (on the number a
    /// closed one had) found by an incremental walk that reads few descriptors; nothing new,
    /// no walk.
    #[test]
    fn index_walks_in_full_then_incrementally() {
        use std::os::fd::AsRawFd;
        use std::os::unix::net::UnixStream;
        let me = std::process::id();
        let (a, b) = UnixStream::pair().unwrap();
        let mut index = Index::default();
        let wanted: FxHashSet<u64> = [inode(&a), inode(&b)].into_iter().collect();
        let w = index.walk(&wanted).unwrap();
        assert_eq!(index.last, WalkKind::Full);
        assert_eq!(w.owners[&inode(&a)][0].pid, me);
        assert_eq!(w.owners[&inode(&b)][0].fd, b.as_raw_fd() as u32);
        assert!(!w.processes[&me].name.is_empty());

        let w = index.walk(&wanted).unwrap();
        assert_eq!(index.last, WalkKind::Skipped);
        assert_eq!(w.owners[&inode(&a)][0].pid, me);

        // Close b; a new socket takes the lowest free number (other tests' threads may take
        // it first, which the walk must handle all the same).
        let old = inode(&b);
        drop(b);
        let (c, d) = UnixStream::pair().unwrap();
        let wanted: FxHashSet<u64> = [inode(&a), inode(&c), inode(&d)].into_iter().collect();
        let w = index.walk(&wanted).unwrap();
        let WalkKind::Incremental { listed, read } = index.last else {
            panic!("{:?}", index.last);
        };
        assert!(read >= 2, "{read}");
        if index.counts_work {
            // Only processes whose descriptors changed are listed, not every process.
            let all = pids(&Scope::All).unwrap().len();
            assert!(listed < all, "listed {listed} of {all} processes");
        }
        assert_eq!(w.owners[&inode(&c)][0].fd, c.as_raw_fd() as u32);
        assert_eq!(w.owners[&inode(&d)][0].fd, d.as_raw_fd() as u32);
        assert!(!w.owners.contains_key(&old));
        assert_eq!(w.owners[&inode(&a)][0].pid, me);

        // One socket closed and one opened: the same number of descriptors, but the process
        // closed a socket it held, so it is listed and the new one found.
        let old = inode(&d);
        drop(d);
        let e = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let wanted: FxHashSet<u64> = [inode(&a), inode(&c), inode(&e)].into_iter().collect();
        let w = index.walk(&wanted).unwrap();
        assert!(
            matches!(index.last, WalkKind::Incremental { .. }),
            "{:?}",
            index.last
        );
        assert_eq!(w.owners[&inode(&e)][0].fd, e.as_raw_fd() as u32);
        assert!(!w.owners.contains_key(&old));
    }

    #[test]
    fn socket_links_parse() {
        assert_eq!(parse_socket_link(b"socket:[12345]"), Some(12345));
        assert_eq!(parse_socket_link(b"socket:[]"), None);
        assert_eq!(parse_socket_link(b"pipe:[12]"), None);
        assert_eq!(parse_socket_link(b"/dev/null"), None);
        assert_eq!(parse_socket_link(b"socket:[1x]"), None);
    }

    #[test]
    fn numbers_as_names() {
        for n in [0u32, 7, 10, 4096, u32::MAX] {
            assert_eq!(itoa_buf(n).as_cstr().to_str().unwrap(), n.to_string());
        }
    }

    #[test]
    fn the_walk_finds_our_own_socket() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
        let inode = std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .unwrap()
            .ino();
        let me = std::process::id();
        for scope in [Scope::All, Scope::Pids(vec![me])] {
            let w = walk(&scope, &FxHashSet::from_iter([inode])).unwrap();
            assert_eq!(
                w.owners.get(&inode).map(|o| o.as_slice()),
                Some(
                    &[Owner {
                        pid: me,
                        fd: fd as u32
                    }][..]
                ),
                "{scope:?}"
            );
            assert_eq!(w.processes[&me].name, comm(me).unwrap());
        }
        let names = Scope::Names(vec!["no-such-process-name".into()]);
        let w = walk(&names, &FxHashSet::from_iter([inode])).unwrap();
        assert!(w.owners.is_empty());
    }

    #[test]
    fn details_of_ourselves() {
        let mut p = Process {
            pid: std::process::id(),
            ..Default::default()
        };
        read_details(&mut p);
        assert_eq!(p.uid, Some(nix::unistd::getuid().as_raw()));
        assert!(p.cmdline.is_some_and(|c| !c.is_empty()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn links_parse_back(n in any::<u64>()) {
            prop_assert_eq!(parse_socket_link(format!("socket:[{n}]").as_bytes()), Some(n));
        }

        #[test]
        fn any_link_parses_without_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_socket_link(&b);
        }
    }
}
