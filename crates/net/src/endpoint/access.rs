//! Who may connect: `--allow-uid`, `--allow-gid`, `--allow-user` on a Unix listener.
//!
//! The kernel records the credentials of the process that called `connect(2)` on the socket
//! (`SO_PEERCRED`: pid, uid, primary gid; `SO_PEERGROUPS`: supplementary groups), so the check
//! is made right after `accept(2)`, before a byte is read or written, and cannot be forged by
//! the client. A refused client's connection is closed at once (it reads end-of-stream) and
//! the refusal is logged with the peer's pid, process name, uid and gid.

use std::fmt;
use std::os::fd::AsFd;

use super::Cred;
use crate::error::{Error, Result};

/// The peers allowed in: a client passes when its uid is listed, or its primary or any
/// supplementary group is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowPeers {
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
}

impl AllowPeers {
    /// True when nothing is restricted.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty()
    }

    /// Decide on a connected Unix socket; `Err` carries the reason for the log line.
    pub(crate) fn check(
        &self,
        fd: impl AsFd,
        cred: Option<&Cred>,
    ) -> std::result::Result<(), String> {
        let Some(cred) = cred else {
            return Err("the kernel gave no credentials for it".into());
        };
        if self.uids.contains(&cred.uid) || self.gids.contains(&cred.gid) {
            return Ok(());
        }
        if !self.gids.is_empty() {
            if let Ok(groups) = sockbox_sys::peer_groups(fd) {
                if groups.iter().any(|g| self.gids.contains(g)) {
                    return Ok(());
                }
            }
        }
        Err(format!("not allowed ({self})"))
    }
}

impl fmt::Display for AllowPeers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        match (self.uids.is_empty(), self.gids.is_empty()) {
            (false, false) => write!(
                f,
                "allowed: uid {}, gid {}",
                list(&self.uids),
                list(&self.gids)
            ),
            (false, true) => write!(f, "allowed: uid {}", list(&self.uids)),
            (true, false) => write!(f, "allowed: gid {}", list(&self.gids)),
            (true, true) => f.write_str("everyone allowed"),
        }
    }
}

/// Whether a listener on `addr` can tell who connects (Unix stream and seqpacket sockets), so
/// `--allow-*` is refused before anything is bound.
pub fn check_allow_address(addr: &crate::addr::Address) -> Result<()> {
    use crate::addr::{Endpoint, UnixType};
    match addr.endpoint {
        Endpoint::Unix(UnixType::Stream | UnixType::Seqpacket, _) => Ok(()),
        _ => Err(not_checkable(&addr.to_string())),
    }
}

/// The usage error for `--allow-*` on a listener that cannot know its peers.
pub(crate) fn not_checkable(what: &str) -> Error {
    Error::Usage(format!(
        "{what}: --allow-uid/--allow-gid/--allow-user need a unix: or seqpacket: listener (only \
         a Unix connection says who is at the other end)"
    ))
}

/// A user name (or number) to its uid, from the user database (`getpwnam(3)`).
pub fn user_id(name: &str) -> Result<u32> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(Error::Usage(format!("no such user: {name}"))),
        Err(e) => Err(Error::Usage(format!("looking up user {name}: {e}"))),
    }
}

/// A group name (or number) to its gid (`getgrnam(3)`).
pub fn group_id(name: &str) -> Result<u32> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(Error::Usage(format!("no such group: {name}"))),
        Err(e) => Err(Error::Usage(format!("looking up group {name}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(uid: u32, gid: u32) -> Cred {
        Cred {
            pid: 1,
            uid,
            gid,
            process: None,
        }
    }

    #[test]
    fn uid_or_group_lets_a_peer_in() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let allow = AllowPeers {
            uids: vec![1000],
            gids: vec![50],
        };
        assert!(allow.check(&a, Some(&cred(1000, 1))).is_ok());
        assert!(allow.check(&a, Some(&cred(7, 50))).is_ok());
        let refused = allow.check(&a, Some(&cred(7, 8))).unwrap_err();
        assert!(
            refused.contains("uid 1000") && refused.contains("gid 50"),
            "{refused}"
        );
        assert!(allow.check(&a, None).is_err());
    }

    #[test]
    fn names_and_numbers_resolve() {
        assert_eq!(user_id("root").unwrap(), 0);
        assert_eq!(user_id("1234").unwrap(), 1234);
        assert_eq!(group_id("root").unwrap(), 0);
        assert!(user_id("no-such-user-sockbox").unwrap_err().is_usage());
        assert!(group_id("no-such-group-sockbox").unwrap_err().is_usage());
    }
}
