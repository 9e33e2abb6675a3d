//! Which sockets to show: filters on the typed entries, after the dumps.
//!
//! Every filter given must match (AND); a filter given several values matches any of them
//! (OR): `--port 80 --port 443 --state listen` is "listening on 80 or 443". Filters on the
//! socket run before the `/proc` walk, so the walk looks only for what is left; filters on
//! processes (`--pid`, `--process`) also limit which processes the walk reads.

use std::collections::HashMap;

use super::proc::{name_matches, Scope};
use super::{Kind, Process, SocketEntry, State};

/// The filters of `sockbox ls` (the kinds are in [`super::Query::kinds`]).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Sockets waiting for peers: LISTEN, and bound unconnected datagram sockets (as `ss -l`).
    pub listening: bool,
    /// Any of these states.
    pub states: Vec<State>,
    /// Either end on any of these ports.
    pub ports: Vec<u16>,
    /// A Unix socket whose name, or whose peer's name, matches (`*` matches `/` too;
    /// abstract names are matched as `@name`).
    pub path: Option<glob::Pattern>,
    /// Held by any of these processes.
    pub pids: Vec<u32>,
    /// Held by a process with any of these names (`/proc/PID/comm`).
    pub processes: Vec<String>,
    /// Owned by any of these uids.
    pub uids: Vec<u32>,
}

impl Filter {
    /// True if `e` passes every filter that does not need processes. `peer` is `e`'s peer
    /// socket, or the listener it waits on, if known (a Unix client matches `--path` through
    /// it).
    pub fn matches_socket(&self, e: &SocketEntry, peer: Option<&SocketEntry>) -> bool {
        if self.listening && !e.waits_for_peers() {
            return false;
        }
        if !self.states.is_empty() && !self.states.contains(&e.state) {
            return false;
        }
        if !self.ports.is_empty() {
            // A raw socket's "port" is its protocol: never a port match.
            let either = [e.local.port(), e.remote.port()];
            let hit = either.iter().flatten().any(|p| self.ports.contains(p));
            if !matches!(e.kind, Kind::Tcp | Kind::Udp) || !hit {
                return false;
            }
        }
        if let Some(glob) = &self.path {
            let named = |s: &SocketEntry| {
                s.local
                    .unix_name()
                    .is_some_and(|n| glob.matches(&n.to_string()))
            };
            if !(e.kind.is_unix() && (named(e) || peer.is_some_and(named))) {
                return false;
            }
        }
        if !self.uids.is_empty() && !e.uid.is_some_and(|u| self.uids.contains(&u)) {
            return false;
        }
        true
    }

    /// True if `--pid` / `--process` are given (the `/proc` walk is needed to filter).
    pub fn needs_processes(&self) -> bool {
        !self.pids.is_empty() || !self.processes.is_empty()
    }

    /// The processes the `/proc` walk must read for the process filters alone.
    pub fn process_scope(&self) -> Scope {
        if !self.pids.is_empty() {
            Scope::Pids(self.pids.clone())
        } else if !self.processes.is_empty() {
            Scope::Names(self.processes.clone())
        } else {
            Scope::All
        }
    }

    /// True if `e` passes the process filters, its owners known.
    pub fn matches_owners(&self, e: &SocketEntry, processes: &HashMap<u32, Process>) -> bool {
        if !self.pids.is_empty() && !e.owners.iter().any(|o| self.pids.contains(&o.pid)) {
            return false;
        }
        if !self.processes.is_empty() {
            let named = e.owners.iter().any(|o| {
                processes.get(&o.pid).is_some_and(|p| {
                    self.processes
                        .iter()
                        .any(|want| name_matches(want, &p.name))
                })
            });
            if !named {
                return false;
            }
        }
        true
    }
}

/// Compile a `--path` glob (a usage error when malformed).
pub fn parse_glob(glob: &str) -> crate::Result<glob::Pattern> {
    glob::Pattern::new(glob).map_err(|e| crate::Error::Usage(format!("--path {glob}: {e}")))
}

/// A uid given as a number or a user name (a usage error when no such user exists).
pub fn parse_uid(s: &str) -> crate::Result<u32> {
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(s) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        _ => Err(crate::Error::Usage(format!(
            "--uid {s}: no such user (give a user name or a number)"
        ))),
    }
}

/// A `--state` name (a usage error listing the names when unknown).
pub fn parse_state(s: &str) -> crate::Result<State> {
    State::parse(s).ok_or_else(|| {
        let names: Vec<&str> = State::NAMED.iter().map(|s| s.name()).collect();
        crate::Error::Usage(format!(
            "--state {s}: unknown state; one of {}",
            names.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Family, Owner, SockAddr, UnixName};
    use super::*;

    fn tcp(local: &str, remote: &str, state: State) -> SocketEntry {
        let mut e = SocketEntry::new(Kind::Tcp, Family::Inet, state, 1);
        e.local = SockAddr::Inet(local.parse().unwrap());
        e.remote = SockAddr::Inet(remote.parse().unwrap());
        e.uid = Some(1000);
        e
    }

    fn unix(name: Option<&str>) -> SocketEntry {
        let mut e = SocketEntry::new(Kind::Unix, Family::Unix, State::Established, 2);
        e.local = SockAddr::Unix(name.map(|n| match n.strip_prefix('@') {
            Some(a) => UnixName::Abstract(a.as_bytes().to_vec()),
            None => UnixName::Path(n.as_bytes().to_vec()),
        }));
        e
    }

    #[test]
    fn ports_match_either_end() {
        let f = Filter {
            ports: vec![80],
            ..Default::default()
        };
        assert!(f.matches_socket(&tcp("127.0.0.1:80", "0.0.0.0:0", State::Listen), None));
        assert!(f.matches_socket(
            &tcp("127.0.0.1:5000", "127.0.0.1:80", State::Established),
            None
        ));
        assert!(!f.matches_socket(
            &tcp("127.0.0.1:5000", "127.0.0.1:81", State::Established),
            None
        ));
        assert!(!f.matches_socket(&unix(Some("/x")), None));
    }

    #[test]
    fn listening_includes_bound_datagram_sockets() {
        let f = Filter {
            listening: true,
            ..Default::default()
        };
        assert!(f.matches_socket(&tcp("0.0.0.0:22", "0.0.0.0:0", State::Listen), None));
        assert!(!f.matches_socket(
            &tcp("127.0.0.1:5000", "127.0.0.1:22", State::Established),
            None
        ));
        let mut udp = tcp("0.0.0.0:53", "0.0.0.0:0", State::Unconnected);
        udp.kind = Kind::Udp;
        assert!(f.matches_socket(&udp, None));
    }

    #[test]
    fn paths_glob_the_name_or_the_peer_name() {
        let f = Filter {
            path: Some(glob::Pattern::new("/run/*.sock").unwrap()),
            ..Default::default()
        };
        let server = unix(Some("/run/app.sock"));
        let client = unix(None);
        assert!(f.matches_socket(&server, None));
        assert!(f.matches_socket(&client, Some(&server)));
        assert!(!f.matches_socket(&client, None));
        assert!(!f.matches_socket(&unix(Some("/tmp/x.sock")), None));
        let f = Filter {
            path: Some(glob::Pattern::new("@dbus*").unwrap()),
            ..Default::default()
        };
        assert!(f.matches_socket(&unix(Some("@dbus-1")), None));
    }

    #[test]
    fn values_parse_or_are_usage_errors() {
        assert_eq!(parse_uid("0").unwrap(), 0);
        assert_eq!(parse_uid("root").unwrap(), 0);
        assert!(parse_uid("no-such-user-xyz").unwrap_err().is_usage());
        assert!(parse_glob("[x").unwrap_err().is_usage());
        assert_eq!(parse_state("LISTEN").unwrap(), State::Listen);
        assert!(parse_state("bogus")
            .unwrap_err()
            .to_string()
            .contains("time-wait"));
    }

    #[test]
    fn states_and_uids_and_owners() {
        let f = Filter {
            states: vec![State::Listen, State::TimeWait],
            uids: vec![1000],
            ..Default::default()
        };
        assert!(f.matches_socket(&tcp("0.0.0.0:1", "0.0.0.0:0", State::Listen), None));
        assert!(!f.matches_socket(&tcp("0.0.0.0:1", "1.2.3.4:5", State::Established), None));
        let mut other = tcp("0.0.0.0:1", "0.0.0.0:0", State::Listen);
        other.uid = Some(0);
        assert!(!f.matches_socket(&other, None));

        let f = Filter {
            processes: vec!["nginx".into()],
            ..Default::default()
        };
        let mut e = tcp("0.0.0.0:80", "0.0.0.0:0", State::Listen);
        e.owners = [Owner { pid: 7, fd: 3 }].into_iter().collect();
        let procs = HashMap::from([(
            7,
            Process {
                pid: 7,
                name: "nginx".into(),
                ..Default::default()
            },
        )]);
        assert!(f.matches_owners(&e, &procs));
        assert!(!f.matches_owners(&e, &HashMap::new()));
        assert_eq!(f.process_scope(), Scope::Names(vec!["nginx".into()]));
    }
}
