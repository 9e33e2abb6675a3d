//! Socket activation, both ways (sd_listen_fds(3), the protocol of systemd and
//! `systemd-socket-activate`): a program receives its listening sockets as descriptors 3, 4, ...
//! with `LISTEN_FDS` (how many), `LISTEN_PID` (for which process: the variables are ignored by
//! any other, e.g. a child that inherited the environment) and `LISTEN_FDNAMES` (a name per
//! socket, colon-separated).
//!
//! - [`inherited`] takes the sockets this process was given, for `listen --inherit`.
//! - [`exec_activated`] hands bound sockets to a program, for `listen --activate -- PROG`.

use std::convert::Infallible;

use super::Bound;
use crate::addr::{Address, Endpoint, UnixName};
use crate::error::{Error, Result};

/// One socket handed over by socket activation.
pub struct Inherited {
    pub socket: Bound,
    /// Its name from `LISTEN_FDNAMES`, when given.
    pub name: Option<String>,
    /// The descriptor number it arrived as.
    pub fd: i32,
}

/// The sockets this process was started with, by the socket-activation protocol. Errors when
/// there are none (no `LISTEN_FDS`), when they were meant for another process (`LISTEN_PID`),
/// or when a descriptor is not a usable socket.
pub fn inherited() -> Result<Vec<Inherited>> {
    let var = |k: &str| std::env::var(k).ok();
    let Some(count) = var("LISTEN_FDS") else {
        return Err(Error::Usage(
            "--inherit: no sockets were passed to sockbox (LISTEN_FDS is not set); start it \
             from a systemd .socket unit, systemd-socket-activate, or sockbox listen --activate"
                .into(),
        ));
    };
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| Error::Usage(format!("--inherit: LISTEN_FDS={count} is not a number")))?;
    let me = std::process::id();
    match var("LISTEN_PID").map(|p| p.trim().parse::<u32>()) {
        Some(Ok(pid)) if pid == me => {}
        Some(_) | None => {
            return Err(Error::Usage(format!(
                "--inherit: LISTEN_PID is {}, not this process ({me}): the sockets were meant \
                 for another process",
                var("LISTEN_PID").unwrap_or_else(|| "not set".into())
            )))
        }
    }
    let names: Vec<String> = var("LISTEN_FDNAMES")
        .map(|n| n.split(':').map(str::to_string).collect())
        .unwrap_or_default();
    let fds =
        sockbox_sys::take_listen_fds(count).map_err(|e| Error::Usage(format!("--inherit: {e}")))?;
    crate::narrate!("sd_listen_fds: {count} descriptors from pid {me}'s parent");
    fds.into_iter()
        .enumerate()
        .map(|(i, fd)| {
            let n = sockbox_sys::LISTEN_FDS_START + i as i32;
            Ok(Inherited {
                socket: Bound::inherited(fd)?,
                name: names.get(i).filter(|n| !n.is_empty()).cloned(),
                fd: n,
            })
        })
        .collect()
}

/// Pick the inherited socket to serve: the one matching `addr` (kind and address) or named
/// `name`, or the only one there is.
pub fn choose(
    mut all: Vec<Inherited>,
    addr: Option<&Address>,
    name: Option<&str>,
) -> Result<Inherited> {
    let describe = |all: &[Inherited]| {
        all.iter()
            .map(|i| match &i.name {
                Some(n) => format!("{} {} ({n})", i.fd, i.socket.label),
                None => format!("{} {}", i.fd, i.socket.label),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pos = match (addr, name) {
        (Some(a), _) => all
            .iter()
            .position(|i| i.socket.matches(a))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--inherit: none of the inherited sockets is {a}: {}",
                    describe(&all)
                ))
            })?,
        (None, Some(n)) => all
            .iter()
            .position(|i| i.name.as_deref() == Some(n))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--inherit: no inherited socket is named {n}: {}",
                    describe(&all)
                ))
            })?,
        (None, None) if all.len() == 1 => 0,
        (None, None) => {
            return Err(Error::Usage(format!(
                "--inherit: {} sockets were inherited ({}); say which with its address or \
                 --fdname",
                all.len(),
                describe(&all)
            )))
        }
    };
    Ok(all.swap_remove(pos))
}

/// A name for `LISTEN_FDNAMES` when the user gave none: the socket file's name, the abstract
/// name, or `tcp-PORT`; only characters systemd accepts in a name (no `:`, printable ASCII).
pub fn default_fdname(addr: &Address) -> String {
    let raw = match &addr.endpoint {
        Endpoint::Unix(_, UnixName::Path(p)) => p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unix".into()),
        Endpoint::Unix(_, UnixName::Abstract(n)) => n.clone(),
        Endpoint::Tcp(t) | Endpoint::Udp(t) => format!("{}-{}", addr.endpoint.kind(), t.port),
        other => other.kind().to_string(),
    };
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != ':' {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

/// Check a user-given `LISTEN_FDNAMES` name as systemd does.
pub fn check_fdname(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 255
        || !name.chars().all(|c| c.is_ascii_graphic() && c != ':')
    {
        return Err(Error::Usage(format!(
            "--fdname {name:?}: a name is 1 to 255 printable ASCII characters without ':'"
        )));
    }
    Ok(())
}

/// Replace this process with `argv`, giving it `sockets` as descriptors 3, 4, ... with
/// `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` set. The process must be single-threaded
/// (no async runtime running): descriptors are placed by number. Returns only on failure; a
/// program that cannot be run makes the process exit 127 once the descriptors are placed, so
/// callers check it with [`find_program`] before binding anything.
pub fn exec_activated(sockets: Vec<(Bound, String)>, argv: &[String]) -> Result<Infallible> {
    let Some((prog, args)) = argv.split_first() else {
        return Err(Error::Usage(
            "--activate: no program to run after --".into(),
        ));
    };
    let names: Vec<&str> = sockets.iter().map(|(_, n)| n.as_str()).collect();
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args)
        .env("LISTEN_FDS", sockets.len().to_string())
        .env("LISTEN_PID", std::process::id().to_string())
        .env("LISTEN_FDNAMES", names.join(":"));
    for (i, (b, name)) in sockets.iter().enumerate() {
        tracing::info!(
            target: crate::PEER,
            "{} as descriptor {} ({name})",
            b.label,
            sockbox_sys::LISTEN_FDS_START + i as i32
        );
    }
    crate::narrate!("execvp({})", argv.join(" "));
    let fds = sockets.into_iter().map(|(b, _)| b.into_fd()).collect();
    sockbox_sys::exec_with_fds(cmd, fds).map_err(|e| Error::Io {
        op: "exec",
        target: prog.clone(),
        err: e,
    })
}

/// Where `execvp(3)` would find `prog`: checked before the sockets are handed over, since a
/// failed exec after that point can only exit. (A PATH walk is a few lines; the `which` crate
/// would add a dependency for them.)
pub fn find_program(prog: &str) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let not_found = |what: String| Error::Refused(format!("--activate: {what}"));
    if prog.contains('/') {
        let p = std::path::PathBuf::from(prog);
        return if runnable(&p) {
            Ok(p)
        } else {
            Err(not_found(format!("{prog} is not an executable file")))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| runnable(p))
        .ok_or_else(|| not_found(format!("{prog}: no such program in PATH")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_valid_fdnames() {
        for a in [
            "unix:/run/app.sock",
            "unix:@ctl:x",
            "tcp:8080",
            "udp:[::1]:53",
            "seqpacket:/a b",
        ] {
            let addr: Address = a.parse().unwrap();
            let n = default_fdname(&addr);
            check_fdname(&n).unwrap_or_else(|e| panic!("{a} -> {n}: {e}"));
        }
        let a: Address = "unix:/run/app.sock".parse().unwrap();
        assert_eq!(default_fdname(&a), "app.sock");
        let a: Address = "tcp:127.0.0.1:8080".parse().unwrap();
        assert_eq!(default_fdname(&a), "tcp-8080");
    }

    #[test]
    fn programs_are_found_as_execvp_would() {
        assert!(find_program("sh").unwrap().ends_with("sh"));
        assert!(find_program("/bin/sh").is_ok());
        assert!(find_program("no-such-program-sockbox").is_err());
        assert!(find_program("/etc/passwd").is_err());
    }

    #[test]
    fn bad_fdnames_are_refused() {
        for n in ["", "a:b", "tab\there", &"x".repeat(256)] {
            assert!(check_fdname(n).is_err(), "{n:?}");
        }
    }
}
