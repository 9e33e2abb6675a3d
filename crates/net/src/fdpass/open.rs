//! The descriptors `fd send` passes: files it opens, and descriptors it inherited.

use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::sys::stat::Mode;

use crate::error::{io_err, Error, Result};
use crate::narrate;

/// How to open a file to pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenMode {
    /// Open for writing (`O_WRONLY`, or `O_RDWR` with `read`), creating the file if missing.
    pub write: bool,
    /// Open for reading too when writing (`O_RDWR`).
    pub read_write: bool,
    /// `O_APPEND`: every write goes to the end.
    pub append: bool,
    /// Leave `O_NONBLOCK` set on the passed description (it is shared with the receiver).
    pub nonblock: bool,
}

/// Open `path` to pass it: read-only by default (a directory too, `O_RDONLY`: enough for
/// `openat(2)` and `fchdir(2)` on the receiving side), or as `mode` says.
///
/// The open itself is non-blocking (`O_NONBLOCK`), so a FIFO without a peer or a device that
/// waits for a carrier cannot hang it; the flag is cleared afterwards unless `mode.nonblock`,
/// because the receiver shares this open file description and its flags. `O_NOCTTY` keeps a
/// terminal from becoming sockbox's controlling terminal.
pub fn open_file(path: &Path, mode: OpenMode) -> Result<OwnedFd> {
    let access = match (mode.write || mode.append, mode.read_write) {
        (_, true) => OFlag::O_RDWR | OFlag::O_CREAT,
        (true, false) => OFlag::O_WRONLY | OFlag::O_CREAT,
        (false, false) => OFlag::O_RDONLY,
    };
    let mut flags = access | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    if mode.append {
        flags |= OFlag::O_APPEND;
    }
    let shown = path.display();
    let fd = open(path, flags, Mode::from_bits_truncate(0o666))
        .map_err(|e| io_err("open", &shown)(e.into()))?;
    narrate!(
        "open({shown}, {}) = fd {}",
        flag_names(flags),
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    );
    if !mode.nonblock {
        let now = OFlag::from_bits_retain(
            fcntl(&fd, FcntlArg::F_GETFL).map_err(|e| io_err("fcntl", &shown)(e.into()))?,
        );
        fcntl(&fd, FcntlArg::F_SETFL(now - OFlag::O_NONBLOCK))
            .map_err(|e| io_err("fcntl", &shown)(e.into()))?;
    }
    Ok(fd)
}

/// `O_RDONLY|O_NONBLOCK|...`, as open(2) spells the flags sockbox uses.
fn flag_names(flags: OFlag) -> String {
    let access = match flags & OFlag::O_ACCMODE {
        OFlag::O_WRONLY => "O_WRONLY",
        OFlag::O_RDWR => "O_RDWR",
        _ => "O_RDONLY",
    };
    let mut s = access.to_string();
    for (f, name) in [
        (OFlag::O_CREAT, "O_CREAT"),
        (OFlag::O_APPEND, "O_APPEND"),
        (OFlag::O_NONBLOCK, "O_NONBLOCK"),
        (OFlag::O_NOCTTY, "O_NOCTTY"),
        (OFlag::O_CLOEXEC, "O_CLOEXEC"),
    ] {
        if flags.contains(f) {
            s.push('|');
            s.push_str(name);
        }
    }
    s
}

/// A close-on-exec duplicate of descriptor `n`, which sockbox's parent must have passed it
/// (`3<file` in a shell). A number that is not open, or that is one of sockbox's own
/// descriptors (those are close-on-exec; inherited ones cannot be), is a usage error.
pub fn inherited(n: RawFd) -> Result<OwnedFd> {
    match sockbox_sys::dup_inherited(n) {
        Ok(sockbox_sys::Inherited::Open(fd)) => {
            narrate!(
                "fcntl({n}, F_DUPFD_CLOEXEC) = fd {}",
                std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd())
            );
            Ok(fd)
        }
        Ok(sockbox_sys::Inherited::NotOpen) => Err(Error::Usage(format!(
            "--fd {n}: descriptor {n} is not open (pass it to sockbox from the shell, e.g. {n}<FILE)"
        ))),
        Ok(sockbox_sys::Inherited::Own) => Err(Error::Usage(format!(
            "--fd {n}: descriptor {n} was not inherited (it is one sockbox opened itself); pass it from the shell, e.g. {n}<FILE"
        ))),
        Err(e) => Err(io_err("fcntl", format!("descriptor {n}"))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fdpass::describe::{describe, Access};

    #[test]
    fn files_open_read_only_by_default_and_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        let i = describe(open_file(&p, OpenMode::default()).unwrap().as_fd()).unwrap();
        assert_eq!(i.access, Access::Read);
        assert!(i.flags.is_empty(), "{:?}", i.flags);
        let i = describe(open_file(dir.path(), OpenMode::default()).unwrap().as_fd()).unwrap();
        assert_eq!(i.kind, crate::fdpass::FdKind::Directory);
    }

    #[test]
    fn append_creates_and_opens_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mode = OpenMode {
            append: true,
            ..OpenMode::default()
        };
        let i = describe(open_file(&p, mode).unwrap().as_fd()).unwrap();
        assert_eq!((i.access, i.flags), (Access::Write, vec!["append"]));
        assert!(p.exists());
    }

    #[test]
    fn flags_are_named_as_open_2_spells_them() {
        assert_eq!(
            flag_names(OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND | OFlag::O_CLOEXEC),
            "O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC"
        );
        assert_eq!(flag_names(OFlag::O_NONBLOCK), "O_RDONLY|O_NONBLOCK");
    }

    #[test]
    fn a_missing_file_names_itself() {
        let e = open_file(Path::new("/nonexistent/x"), OpenMode::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "open /nonexistent/x: no such file or directory"
        );
    }

    #[test]
    fn descriptors_not_inherited_are_usage_errors() {
        assert!(inherited(1_000_000).unwrap_err().is_usage());
        let f = std::fs::File::open("/proc/self/status").unwrap();
        let e = inherited(std::os::fd::AsRawFd::as_raw_fd(&f)).unwrap_err();
        assert!(e.to_string().contains("not inherited"), "{e}");
    }
}
