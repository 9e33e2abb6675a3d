//! Who is on the other end of a connection: plain data, shared by the endpoints that learn it
//! (`SO_PEERCRED`, `accept`'s address), the scanners and pingers that report it, and the
//! binary's printers.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

/// The process on the other end of a Unix socket (`SO_PEERCRED`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// `/proc/PID/comm`, when readable.
    pub process: Option<String>,
}

/// Who is on the other end of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Peer {
    Inet {
        addr: SocketAddr,
    },
    Unix {
        /// The peer's bound name, if any (`@name` for abstract).
        name: Option<String>,
        cred: Option<Cred>,
    },
}

impl fmt::Display for Cred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(p) = &self.process {
            write!(f, " ({p})")?;
        }
        write!(f, " uid {} gid {}", self.uid, self.gid)
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Inet { addr } => write!(f, "{addr}"),
            Peer::Unix { name, cred } => match (name, cred) {
                (Some(n), Some(c)) => write!(f, "{n} {c}"),
                (None, Some(c)) => write!(f, "{c}"),
                (Some(n), None) => write!(f, "{n}"),
                (None, None) => f.write_str("unnamed unix socket"),
            },
        }
    }
}
