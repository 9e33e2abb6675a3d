//! One file per verb: arguments -> typed configuration -> library call -> output.

pub mod bench;
pub mod compat;
mod connect;
pub mod doctor;
pub mod exporter;
mod fault;
pub mod fd;
mod help;
pub mod http;
pub mod listen;
pub mod ls;
mod man;
pub mod ping;
mod recv;
mod relay;
pub mod scan;
mod send;
pub mod top;
mod topic;
mod traffic;
pub mod who;

use std::process::ExitCode;

use anyhow::Result;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use sockbox_net::endpoint::{self, AllowPeers};

use crate::cli::{Cli, Command};
use crate::report;

/// A signal asked us to stop: servers stop accepting, clean up and report; other verbs are
/// simply dropped (which also removes their socket files) and exit 128+N.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<Option<i32>>);

impl Shutdown {
    fn install() -> std::io::Result<Self> {
        let (tx, rx) = watch::channel(None);
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            let n = tokio::select! {
                _ = int.recv() => libc_signal::SIGINT,
                _ = term.recv() => libc_signal::SIGTERM,
            };
            let _ = tx.send(Some(n));
        });
        Ok(Shutdown(rx))
    }

    /// Resolves with the signal number once one arrives.
    pub async fn wait(mut self) -> i32 {
        loop {
            if let Some(n) = *self.0.borrow_and_update() {
                return n;
            }
            if self.0.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

mod libc_signal {
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
}

/// Run the verb and map its outcome to an exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let shutdown = match Shutdown::install() {
        Ok(s) => s,
        Err(e) => {
            report::error(&anyhow::Error::new(e).context("installing signal handlers"));
            return ExitCode::from(1);
        }
    };
    crate::output::color::init(cli.color);
    if let Err(e) = sockbox_net::server::raise_fd_limit() {
        tracing::warn!("cannot raise the open-file limit: {e}");
    }
    // Servers handle the signal themselves (stop, clean up, report); others are dropped.
    let handles_signals = matches!(
        &cli.command,
        Command::Relay(_)
            | Command::Recv(_)
            | Command::Bench(_)
            | Command::Ping(_)
            | Command::Exporter(_)
            | Command::Top(_)
    ) || matches!(&cli.command, Command::Listen(a) if a.keep)
        || matches!(&cli.command, Command::Fd(a) if a.stops_on_signal());
    let verb = dispatch(cli.command, shutdown.clone());
    let outcome = tokio::select! {
        r = verb => r,
        n = shutdown.wait(), if !handles_signals => Ok(ExitCode::from(128 + n as u8)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => exit_code(&e),
    }
}

async fn dispatch(command: Command, shutdown: Shutdown) -> Result<ExitCode> {
    match command {
        Command::Connect(a) => connect::run(*a).await,
        Command::Listen(a) => listen::run(*a, shutdown).await,
        Command::Relay(a) => relay::run(*a, shutdown).await,
        Command::Send(a) => send::run(a).await,
        Command::Recv(a) => recv::run(a, shutdown).await,
        Command::Ping(a) => ping::run(a, shutdown).await,
        Command::Scan(a) => scan::run(a).await,
        Command::Bench(a) => bench::run(a, shutdown).await,
        Command::Ls(a) => ls::run(a).await,
        Command::Top(a) => top::run(a, shutdown).await,
        Command::Exporter(a) => exporter::run(a, shutdown).await,
        Command::Who(a) => who::run(a).await,
        Command::Http(a) => http::run(a).await,
        Command::Fd(a) => fd::run(a, shutdown).await,
        Command::Help(a) => help::run(a),
        Command::Man(a) => man::run(a),
        Command::Completions(a) => man::completions(a),
        Command::Doctor(a) => doctor::run(a).await,
        // main hands these to the front ends before clap sees them.
        Command::Socat(_) | Command::Nc(_) => Err(sockbox_net::Error::Usage(
            "socat and nc command lines are translated before anything runs".into(),
        )
        .into()),
    }
}

/// 2 for usage errors, 0 for a closed stdout, 1 for everything else; reported on stderr.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    let broken_pipe = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    report::error(e);
    let usage = e.chain().any(|c| {
        c.downcast_ref::<sockbox_net::Error>()
            .is_some_and(|e| e.is_usage())
    });
    ExitCode::from(if usage { 2 } else { 1 })
}

/// The peers `--allow-uid/--allow-gid/--allow-user` and `--allow-ip/--deny-ip` (and their
/// files) let in: names resolved and files read now, once.
pub fn allow_peers(a: &crate::cli::AllowArgs) -> Result<AllowPeers, sockbox_net::Error> {
    use sockbox_net::Error;
    let mut allow = AllowPeers {
        uids: a.allow_uid.clone(),
        ..AllowPeers::default()
    };
    for u in &a.allow_user {
        allow.uids.push(endpoint::user_id(u)?);
    }
    for g in &a.allow_gid {
        allow.gids.push(endpoint::group_id(g)?);
    }
    let range = |flag: &str, s: &str| {
        endpoint::parse_ip_range(s).map_err(|why| Error::Usage(format!("{flag}: {why}")))
    };
    for s in &a.allow_ip {
        allow.allow_ip.push(range("--allow-ip", s)?);
    }
    for s in &a.deny_ip {
        allow.deny_ip.push(range("--deny-ip", s)?);
    }
    for f in &a.allow_ip_file {
        allow
            .allow_ip
            .extend(endpoint::read_ip_ranges(f, "--allow-ip-file")?);
    }
    for s in &a.allow_subject {
        allow.subjects.push(
            endpoint::SubjectRule::parse(s)
                .map_err(|why| Error::Usage(format!("--allow-subject: {why}")))?,
        );
    }
    for f in &a.deny_ip_file {
        allow
            .deny_ip
            .extend(endpoint::read_ip_ranges(f, "--deny-ip-file")?);
    }
    Ok(allow)
}

/// `--max-conns N [--max-conns-refuse]`, checked: N at least 1, the second flag only with the
/// first.
pub fn max_conns(
    a: &crate::cli::AllowArgs,
) -> Result<Option<sockbox_net::server::MaxConns>, sockbox_net::Error> {
    use sockbox_net::Error;
    match (a.max_conns, a.max_conns_refuse) {
        (None, false) => Ok(None),
        (None, true) => Err(Error::Usage(
            "--max-conns-refuse says what to do over --max-conns N: give --max-conns too".into(),
        )),
        (Some(0), _) => Err(Error::Usage(
            "--max-conns 0 would serve nobody: give 1 or more".into(),
        )),
        (Some(limit), refuse) => Ok(Some(sockbox_net::server::MaxConns { limit, refuse })),
    }
}

/// The socket to serve out of those this process inherited by socket activation (`--inherit`):
/// the one `addrs` (at most one) or `fdnames` (at most one) names, or the only one. Returns the
/// address it serves (as given, or as the kernel names it) with the socket.
pub fn inherit(
    addrs: &[String],
    fdnames: &[String],
) -> Result<(sockbox_net::addr::Address, endpoint::Bound), sockbox_net::Error> {
    use sockbox_net::Error;
    let addr = match addrs {
        [] => None,
        [a] => Some(parse_addr(a)?),
        _ => {
            return Err(Error::Usage(
                "--inherit serves one socket: give at most one address".into(),
            ))
        }
    };
    let name = match fdnames {
        [] => None,
        [n] => Some(n.as_str()),
        _ => {
            return Err(Error::Usage(
                "--inherit serves one socket: give at most one --fdname".into(),
            ))
        }
    };
    let chosen =
        endpoint::activation::choose(endpoint::activation::inherited()?, addr.as_ref(), name)?;
    let mut socket = chosen.socket;
    let addr = match addr {
        Some(a) => {
            socket.set_options(&a.options);
            a
        }
        None => parse_addr(&socket.label)?,
    };
    tracing::info!(target: sockbox_net::PEER, "serving inherited descriptor {} ({})", chosen.fd, socket.label);
    Ok((addr, socket))
}

/// The directions `--send-only` / `--recv-only` leave running, `sending` being the direction
/// from this side (stdin, or listen's --exec program) to the peer.
pub fn one_way(
    flags: &crate::cli::OneWayArgs,
    sending: sockbox_net::relay::Directions,
) -> sockbox_net::relay::Directions {
    use sockbox_net::relay::Directions;
    let receiving = match sending {
        Directions::Forward => Directions::Backward,
        Directions::Backward => Directions::Forward,
        Directions::Both => Directions::Both,
    };
    match (flags.send_only, flags.recv_only) {
        (true, _) => sending,
        (_, true) => receiving,
        _ => Directions::Both,
    }
}

/// Parse an address argument (a usage error, exit 2, when malformed, or when `file:` names a
/// Unix socket). The parser is pure; what the file system says is added here.
pub fn parse_addr(s: &str) -> Result<sockbox_net::addr::Address, sockbox_net::Error> {
    use sockbox_net::{addr::AddrError, Error};
    let addr = s.parse().map_err(|e| match e {
        AddrError::UnknownKind { .. } => existing_path(s).map_or(Error::from(e), Error::Usage),
        AddrError::BadPort { ref port, .. } => match service_port(s, port) {
            Some(hint) => Error::Usage(format!("{e}; {hint}")),
            None => Error::from(e),
        },
        e => Error::from(e),
    })?;
    endpoint::check_not_socket(&addr)?;
    Ok(addr)
}

/// A service name given as a port (`tcp:localhost:www`): the number `/etc/services` gives it,
/// and the address with that number.
fn service_port(input: &str, name: &str) -> Option<String> {
    use sockbox_net::scan::{services, Protocol};
    let kind = ["listen:", "connect:"]
        .iter()
        .find_map(|r| {
            input
                .get(..r.len())
                .filter(|p| p.eq_ignore_ascii_case(r))
                .map(|p| &input[p.len()..])
        })
        .unwrap_or(input);
    let udp = kind.get(..3).is_some_and(|k| k.eq_ignore_ascii_case("udp"));
    let proto = if udp { Protocol::Udp } else { Protocol::Tcp };
    let port = services::system_port(name, proto)?;
    let end = input.find(',').unwrap_or(input.len());
    let fixed = input[..end]
        .strip_suffix(name)
        .filter(|head| head.ends_with(':'))
        .map(|head| format!(", write {head}{port}{}", &input[end..]))
        .unwrap_or_default();
    Some(format!(
        "/etc/services gives '{name}' as {port}/{proto}{fixed}"
    ))
}

/// An address without a kind that is the path of an existing file (`/tmp/app.sock`): what the
/// file is, and the kind that opens it.
fn existing_path(s: &str) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let pathlike = ["/", "./", "../"].iter().any(|p| s.starts_with(p)) || !s.contains(':');
    let t = std::fs::metadata(s).ok().filter(|_| pathlike)?.file_type();
    let (what, kind) = if t.is_socket() {
        ("a Unix socket", Some("unix"))
    } else if t.is_fifo() {
        ("a FIFO", Some("fifo"))
    } else if t.is_file() {
        ("a regular file", Some("file"))
    } else if t.is_char_device() {
        ("a character device", Some("file"))
    } else if t.is_dir() {
        ("a directory", None)
    } else {
        ("a block device", None)
    };
    Some(match kind {
        Some(kind) => format!("no kind in '{s}': {s} is {what}; write {kind}:{s}"),
        None => format!(
            "no kind in '{s}': {s} is {what}, which no address kind opens; addresses look \
             like KIND:TARGET (sockbox help addresses)"
        ),
    })
}
