//! `readlinkat(2)` into a caller's buffer, for the `/proc/PID/fd` walk of `sockbox ls -p`.
//!
//! nix's `readlinkat` allocates a `PATH_MAX` buffer and shrinks it for every call; the walk
//! makes one call per open descriptor on the host (tens of thousands), so it reads into one
//! reused buffer instead.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// `readlinkat(dir, name)` into `buf`: the link's target, truncated to `buf.len()` bytes
/// (`readlink(2)` does not NUL-terminate and does not say whether it truncated; callers that
/// care pass a buffer larger than any answer they accept).
pub fn readlinkat_into<'b>(dir: impl AsFd, name: &CStr, buf: &'b mut [u8]) -> io::Result<&'b [u8]> {
    // SAFETY: `dir` is a borrowed, open descriptor for the duration of the call; `name` is a
    // valid NUL-terminated string; the kernel writes at most `buf.len()` bytes into `buf`,
    // which is valid for writes of that length, and returns how many it wrote.
    let n = unsafe {
        libc::readlinkat(
            dir.as_fd().as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(&buf[..(n as usize).min(buf.len())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn reads_a_socket_link_of_our_own() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fds = File::open("/proc/self/fd").unwrap();
        let name = std::ffi::CString::new(a.as_raw_fd().to_string()).unwrap();
        let mut buf = [0u8; 64];
        let link = readlinkat_into(&fds, &name, &mut buf).unwrap();
        assert!(link.starts_with(b"socket:["), "{link:?}");
        let mut tiny = [0u8; 3];
        assert_eq!(readlinkat_into(&fds, &name, &mut tiny).unwrap(), b"soc");
        let missing = std::ffi::CString::new("999999").unwrap();
        assert!(readlinkat_into(&fds, &missing, &mut buf).is_err());
    }
}
