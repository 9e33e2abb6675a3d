//! `sockbox ls`: every socket on the host (ss / netstat / lsof's job), filtered, with
//! processes and peers on request; `--summary`, `--json`, `--graph dot`, `--files`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use sockbox_net::inspect::{self, files, filter, Filter, Kind, KindSet, Query};
use sockbox_net::observe::events::{DestroyEvents, OwnerCache};

use crate::output::observe::Change;

use crate::output;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz: `sockbox ls --graph dot | dot -Tsvg > who-talks-to-whom.svg`
    Dot,
}

/// Which sockets: the kinds and filters `ls`, `ls --events` and `top` share (and `top`'s `/`
/// prompt parses).
#[derive(Args, Debug, Default, Clone)]
pub struct SelectArgs {
    /// TCP sockets (kinds combine: --tcp --udp; none given = every kind)
    #[arg(short, long, help_heading = "Kinds")]
    pub tcp: bool,
    /// UDP sockets
    #[arg(short, long, help_heading = "Kinds")]
    pub udp: bool,
    /// Unix sockets: stream, datagram and seqpacket
    #[arg(short = 'x', long, help_heading = "Kinds")]
    pub unix: bool,
    /// Raw IP sockets (v4 and v6)
    #[arg(short = 'w', long, help_heading = "Kinds")]
    pub raw: bool,
    /// Packet (link-layer) sockets
    #[arg(long, help_heading = "Kinds")]
    pub packet: bool,
    /// Netlink sockets
    #[arg(long, help_heading = "Kinds")]
    pub netlink: bool,

    /// Only sockets waiting for peers: listeners, and bound datagram sockets (as ss -l)
    #[arg(short, long, help_heading = "Filters")]
    pub listening: bool,
    /// Only sockets in this state (listen, established, time-wait, unconnected, syn-sent,
    /// close-wait, ...; repeat or separate with commas)
    #[arg(
        long,
        value_name = "STATE",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub state: Vec<String>,
    /// Only sockets with this port at either end (repeat or separate with commas)
    #[arg(
        long,
        value_name = "N",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub port: Vec<u16>,
    /// Only Unix sockets whose name (or whose peer's name) matches GLOB: '/run/*.sock',
    /// '@dbus*' (`*` matches `/` too)
    #[arg(long, value_name = "GLOB", help_heading = "Filters")]
    pub path: Option<String>,
    /// Only sockets held by this process (repeat or separate with commas)
    #[arg(
        long,
        value_name = "N",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub pid: Vec<u32>,
    /// Only sockets held by a process with this name (as in /proc/PID/comm)
    #[arg(long, value_name = "NAME", help_heading = "Filters")]
    pub process: Vec<String>,
    /// Only sockets owned by this user (uid or name; repeat or separate with commas)
    #[arg(
        long,
        value_name = "UID",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    pub uid: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Show ports as numbers, not service names from /etc/services
    #[arg(short, long, help_heading = "Output")]
    pub numeric: bool,
    /// Show the processes holding each socket (one walk of /proc/*/fd)
    #[arg(short, long, help_heading = "Output")]
    pub processes: bool,
    /// Join both ends of local connections: `proc A (pid) <-> proc B (pid)`
    #[arg(long, help_heading = "Output")]
    pub peers: bool,
    /// TCP: rtt, cwnd, retransmits, bytes sent/acked/received; Unix listeners: pending
    /// connections
    #[arg(short, long, help_heading = "Output")]
    pub extended: bool,
    /// Counts by kind and state instead of the list
    #[arg(short, long, help_heading = "Output", conflicts_with = "graph")]
    pub summary: bool,
    /// One JSON document (docs/json.md)
    #[arg(long, help_heading = "Output", conflicts_with = "graph")]
    pub json: bool,
    /// Watch instead of listing: one line (or, with --json, one JSON object) per TCP or UDP
    /// socket as it closes, with its owner and final counters, and per TCP connection a dump
    /// sees open (every second); `--tcp`, `--udp`, `--port`, `--pid`, `--process`, `--uid`
    /// narrow it. Runs until interrupted.
    #[arg(
        long,
        help_heading = "Output",
        conflicts_with_all = ["summary", "graph", "listening", "unix", "raw", "packet", "netlink", "path"]
    )]
    pub events: bool,
    /// Who talks to whom, as a graph: processes are nodes, connections edges
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = "Output")]
    pub graph: Option<GraphFormat>,
    /// Socket files on disk under DIRs (default /): live (someone listens), stale (nobody
    /// does) or unreadable
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..,
        help_heading = "Socket files",
        conflicts_with_all = ["summary", "graph", "peers", "extended", "tcp", "udp", "raw", "packet", "netlink"]
    )]
    pub files: Option<Vec<PathBuf>>,
}

/// The kinds and filter the arguments ask for: every value checked before anything is read.
pub fn select(args: &SelectArgs) -> Result<(KindSet, Filter)> {
    let mut kinds = KindSet::default();
    for (on, kind) in [
        (args.tcp, Kind::Tcp),
        (args.udp, Kind::Udp),
        (args.raw, Kind::Raw),
        (args.packet, Kind::Packet),
        (args.netlink, Kind::Netlink),
    ] {
        if on {
            kinds = kinds.with(kind);
        }
    }
    if args.unix {
        kinds = kinds.with_unix();
    }
    let states = args
        .state
        .iter()
        .map(|s| filter::parse_state(s))
        .collect::<Result<Vec<_>, _>>()?;
    let path = args.path.as_deref().map(filter::parse_glob).transpose()?;
    let uids = args
        .uid
        .iter()
        .map(|u| filter::parse_uid(u))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        kinds,
        Filter {
            listening: args.listening,
            states,
            ports: args.port.clone(),
            path,
            pids: args.pid.clone(),
            processes: args.process.clone(),
            uids,
        },
    ))
}

/// Turn the arguments into a query: every value checked before anything is read.
fn query(args: &LsArgs) -> Result<Query> {
    let (kinds, filter) = select(&args.select)?;
    let graph = args.graph.is_some();
    Ok(Query {
        kinds,
        filter,
        processes: args.processes || graph,
        peers: args.peers || graph,
        extended: args.extended,
        skip_mini_sockets: false,
        skip_inet_peers: false,
    })
}

pub async fn run(args: LsArgs) -> Result<ExitCode> {
    if let Some(dirs) = &args.files {
        return run_files(&args, dirs.clone()).await;
    }
    let query = query(&args)?;
    if args.events {
        return run_events(query, args.json).await;
    }
    let snap = tokio::task::spawn_blocking(move || inspect::snapshot(&query))
        .await?
        .context("listing sockets")?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let view = output::table::View {
        numeric: args.numeric,
        processes: args.processes
            || args.peers
            || !args.select.pid.is_empty()
            || !args.select.process.is_empty(),
        peers: args.peers,
        extended: args.extended,
    };
    if args.graph.is_some() {
        output::inspect::graph_dot(&mut out, &snap)?;
    } else if args.summary {
        let rows = inspect::summary(&snap);
        if args.json {
            output::inspect::summary_json(&mut out, &rows)?;
        } else {
            output::table::summary(&mut out, &rows)?;
        }
    } else if args.json {
        output::inspect::sockets_json(&mut out, &snap)?;
    } else {
        output::table::sockets(&mut out, &snap, &view)?;
    }
    out.flush()?;
    // Freeing tens of thousands of entries one by one costs more than the process exit does.
    std::mem::forget(snap);
    Ok(ExitCode::SUCCESS)
}

/// `ls --events`: destroy broadcasts as they come, opens as the owner refresh sees them.
async fn run_events(query: Query, json: bool) -> Result<ExitCode> {
    // Only TCP and UDP have destroy events; with no kind asked, both.
    let kinds = if query.kinds.is_empty() {
        KindSet::default().with(Kind::Tcp).with(Kind::Udp)
    } else {
        query.kinds
    };
    tokio::task::spawn_blocking(move || -> Result<()> {
        let mut events = DestroyEvents::subscribe(kinds).context("watching socket events")?;
        let mut cache = OwnerCache::default();
        cache.refresh(kinds).context("reading socket owners")?;
        let mut next_refresh = Instant::now() + OWNER_REFRESH;
        let mut out = std::io::stdout().lock();
        loop {
            let wait = next_refresh.saturating_duration_since(Instant::now());
            let got = events
                .receive(wait.max(Duration::from_millis(1)))
                .context("watching socket events")?;
            let now = SystemTime::now();
            if got.overflowed {
                output::observe::lost(&mut out, now, events.overflows, json)?;
            }
            for mut e in got.destroyed {
                if !kinds.contains(e.kind) {
                    continue;
                }
                let owners = cache.owners(e.cookie).to_vec();
                cache.forget(e.cookie);
                if show_event(&query.filter, &mut e, &owners) {
                    output::observe::event(&mut out, now, Change::Close, &e, &owners, json)?;
                }
            }
            if Instant::now() >= next_refresh {
                let opened = cache.refresh(kinds).context("reading socket owners")?;
                let now = SystemTime::now();
                for (mut e, owners) in opened {
                    if kinds.contains(e.kind) && show_event(&query.filter, &mut e, &owners) {
                        output::observe::event(&mut out, now, Change::Open, &e, &owners, json)?;
                    }
                }
                next_refresh = Instant::now() + OWNER_REFRESH;
            }
            out.flush()?;
        }
    })
    .await??;
    Ok(ExitCode::SUCCESS)
}

/// How often `ls --events` dumps sockets to learn owners (and see opens).
const OWNER_REFRESH: Duration = Duration::from_secs(1);

/// Whether an event passes the filters; fills the entry's owners from the cache for them.
fn show_event(filter: &Filter, e: &mut inspect::SocketEntry, owners: &[inspect::Process]) -> bool {
    e.owners = owners
        .iter()
        .map(|p| inspect::Owner { pid: p.pid, fd: 0 })
        .collect();
    let procs: HashMap<u32, inspect::Process> = owners.iter().map(|p| (p.pid, p.clone())).collect();
    filter.matches_socket(e, None) && filter.matches_owners(e, &procs)
}

async fn run_files(args: &LsArgs, dirs: Vec<PathBuf>) -> Result<ExitCode> {
    let processes = args.processes;
    let report = tokio::task::spawn_blocking(move || files::socket_files(&dirs, processes))
        .await?
        .context("finding socket files")?;
    for (dir, why) in &report.unreadable_dirs {
        tracing::warn!("{}: {why}", dir.display());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        output::inspect::files_json(&mut out, &report)?;
    } else {
        output::table::files(&mut out, &report, processes)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        ls: LsArgs,
    }

    fn parse(args: &[&str]) -> LsArgs {
        Wrap::try_parse_from(std::iter::once("ls").chain(args.iter().copied()))
            .unwrap()
            .ls
    }

    #[test]
    fn flags_become_a_query() {
        let q = query(&parse(&[
            "--tcp",
            "-x",
            "--state",
            "listen,estab",
            "--port",
            "80",
            "--uid",
            "0",
        ]))
        .unwrap();
        assert!(q.kinds.contains(Kind::Tcp) && q.kinds.contains(Kind::Seqpacket));
        assert!(!q.kinds.contains(Kind::Udp));
        assert_eq!(
            q.filter.states,
            vec![inspect::State::Listen, inspect::State::Established]
        );
        assert_eq!(
            (q.filter.ports.clone(), q.filter.uids.clone()),
            (vec![80], vec![0])
        );
        let q = query(&parse(&["--graph", "dot"])).unwrap();
        assert!(q.processes && q.peers);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["--state", "bogus"][..],
            &["--path", "[x"],
            &["--uid", "no-such-user-xyz"],
        ] {
            let e = query(&parse(bad)).unwrap_err();
            assert!(
                e.downcast_ref::<sockbox_net::Error>()
                    .is_some_and(|e| e.is_usage()),
                "{bad:?}: {e}"
            );
        }
    }
}
