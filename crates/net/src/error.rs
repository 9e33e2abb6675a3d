//! The library's error type: what failed, on which endpoint, and the likely cause.
//!
//! Messages are written for the person at the terminal: one line, naming the address and,
//! where the errno makes it clear, what to check. The binary maps [`Error::is_usage`] to exit
//! code 2 and everything else to 1.

use std::fmt;
use std::io;

use crate::addr::AddrError;
use crate::frame::FrameError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address string did not parse (exit 2).
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// Arguments that cannot work together, found before anything was opened (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A system call failed on an endpoint.
    #[error("{op} {target}: {}", Cause(.err, .op))]
    Io {
        op: &'static str,
        target: String,
        err: io::Error,
    },
    /// sockbox refused to do something unsafe or impossible (e.g. replace a regular file).
    #[error("{0}")]
    Refused(String),
    /// A framed stream carried something that is not a valid frame.
    #[error("{target}: {err}")]
    Frame { target: String, err: FrameError },
    /// A benchmark could not run, or its remote peer broke the control protocol.
    #[error("{0}")]
    Bench(String),
    /// Descriptor passing broke a bound the kernel does not report as an errno: control data
    /// truncated (`MSG_CTRUNC`), too many descriptors, a message cut short (`MSG_TRUNC`).
    #[error("{target}: {err}")]
    FdPass { target: String, err: PassError },
    /// An HTTP exchange failed: the peer is not HTTP, closed early, or did not answer in time.
    #[error("{0}")]
    Http(String),
    /// A proxy would not make the connection, or did not speak its protocol.
    #[error("{proxy}: {why}")]
    Proxy { proxy: String, why: String },
    /// A TLS handshake or session failed: certificate checks, alerts, a peer not speaking TLS.
    #[error("{0}")]
    Tls(String),
    /// A connect with `retry=` failed on every attempt: the last failure, and how many.
    #[error("{last}; gave up after {attempts} attempts")]
    GaveUp { attempts: u64, last: Box<Error> },
}

impl Error {
    /// True when the fault is in the arguments, not in the world (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Addr(_) | Error::Usage(_))
    }

    /// The underlying OS error, if this is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io { err, .. } => Some(err.kind()),
            Error::GaveUp { last, .. } => last.io_kind(),
            _ => None,
        }
    }

    /// The raw errno, if this is an OS error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { err, .. } => err.raw_os_error(),
            Error::GaveUp { last, .. } => last.errno(),
            _ => None,
        }
    }
}

/// Build a closure for `map_err` that names the operation and the endpoint.
pub fn io_err(op: &'static str, target: impl fmt::Display) -> impl FnOnce(io::Error) -> Error {
    move |err| Error::Io {
        op,
        target: target.to_string(),
        err,
    }
}

/// An errno in words, with the usual cause when there is one.
struct Cause<'a>(&'a io::Error, &'a str);

impl fmt::Display for Cause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Cause(err, op) = *self;
        let hint = match err.raw_os_error() {
            Some(libc::ECONNREFUSED) => "connection refused (nothing is listening there)",
            Some(libc::ENOENT) if op == "connect" => "no such file (is the server running?)",
            Some(libc::ENOENT) => "no such file or directory",
            Some(libc::EACCES) | Some(libc::EPERM) => {
                "permission denied (check the owner and mode of the file, or run as a user allowed to)"
            }
            Some(libc::EADDRINUSE) => "address already in use (another socket is bound there)",
            Some(libc::EADDRNOTAVAIL) => "address not available on this host",
            Some(libc::ETIMEDOUT) => "timed out",
            Some(libc::ECONNRESET) => "connection reset by peer",
            Some(libc::EPIPE) => "the peer closed the connection",
            Some(libc::ENETUNREACH) => "network unreachable",
            Some(libc::EHOSTUNREACH) => "host unreachable",
            Some(libc::EPROTOTYPE) => {
                "wrong socket type (the socket there is of another kind: try unix, unix-dgram or seqpacket)"
            }
            Some(libc::ENOTSOCK) => "not a socket",
            Some(libc::EMSGSIZE) => "message too long for this socket",
            Some(libc::ENXIO) => "no process has the FIFO open for reading",
            Some(libc::EMFILE) | Some(libc::ENFILE) => "too many open files",
            Some(libc::ETOOMANYREFS) => {
                "too many descriptors in flight (the receiver is not taking them)"
            }
            _ => return write!(f, "{}", Plain(err)),
        };
        f.write_str(hint)
    }
}

/// io::Error's text without the " (os error N)" suffix std adds, in lower case, to fit
/// after a colon in a one-line message.
pub fn os_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

struct Plain<'a>(&'a io::Error);

impl fmt::Display for Plain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&os_error_text(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_name_the_operation_the_target_and_the_cause() {
        let e =
            io_err("connect", "tcp:127.0.0.1:1")(io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(
            e.to_string(),
            "connect tcp:127.0.0.1:1: connection refused (nothing is listening there)"
        );
        assert!(!e.is_usage());
    }

    #[test]
    fn unknown_errnos_read_as_plain_words() {
        let e = io_err("read", "x")(io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(e.to_string(), "read x: input/output error");
    }
}

/// A bound a message broke that the kernel does not report as an errno.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PassError {
    /// `MSG_CTRUNC`: the message carried more descriptors than the control buffer (sized for
    /// `max`) had room for; the kernel closed those that did not fit, and the `received` ones
    /// that did were closed too.
    #[error(
        "control data truncated (MSG_CTRUNC): the message carried more descriptors than the \
         {max} allowed; the kernel closed those that did not fit and sockbox closed the \
         {received} that did"
    )]
    ControlTruncated { received: usize, max: usize },
    /// More descriptors than the receiver allows in one message (they were closed).
    #[error(
        "a message carried {received} descriptors, more than the {max} allowed; all were closed"
    )]
    TooMany { received: usize, max: usize },
    /// `MSG_TRUNC`: a seqpacket or datagram message longer than the receive buffer.
    #[error("a {len}-byte message did not fit the {room}-byte buffer (MSG_TRUNC); its descriptors were closed")]
    Truncated { len: usize, room: usize },
}
