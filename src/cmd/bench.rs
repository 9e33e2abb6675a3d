//! `sockbox bench`: arguments -> a measurement plan -> the library's bench engine on plain
//! threads -> a table, JSON or an SVG chart. `--serve` / `--to` run TCP and UDP between two
//! hosts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use sockbox_net::addr::{Endpoint, InetTarget};
use sockbox_net::bench::remote::{self, Protocol, RemotePlan};
use sockbox_net::bench::{self, Measures, Placement, Plan, Transport};
use sockbox_net::Error;

use super::Shutdown;
use crate::output;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    sockbox bench                                   every transport, about 20 s\n  \
    sockbox bench unix tcp4 --sizes 4k,64k --duration 1s\n  \
    sockbox bench pipe unix --measure latency --pin    one CPU, then two\n  \
    sockbox bench --json > bench.json\n  \
    sockbox bench --svg chart.svg\n  \
    sockbox bench --serve tcp:5201                  on one host (until Ctrl-C)\n  \
    sockbox bench --to tcp:10.0.0.1:5201 tcp udp    on the other\n\n\
    Transports: tcp4 tcp6 udp4 unix unix-dgram seqpacket socketpair pipe fifo (all by \
    default); with --to: tcp, udp. Throughput is counted at the receiver (MiB/s and \
    messages/s); datagram kinds measure sizes above their limit at the limit (65507 B for \
    UDP, the socket send buffer less 32 B for Unix datagram and seqpacket sockets). Round \
    trips: p50/p90/p99/p99.9/max of one message in flight. Connections per second: tcp4, \
    tcp6, unix, seqpacket.\n\n\
    Where the two ends run matters: on a VM, one CPU vs two changes small-message latency \
    5-10x or more. --pin same|cross|both pins them with sched_setaffinity.")]
pub struct BenchArgs {
    /// Transports to measure (default: every local one)
    #[arg(value_name = "TRANSPORT")]
    pub transports: Vec<String>,
    /// Message sizes, comma-separated (default 64,4k,64k,1m)
    #[arg(long, value_name = "SIZES")]
    pub sizes: Option<String>,
    /// How long each measurement counts, after its warm-up (default 300ms; with --to, 1s)
    #[arg(long, value_parser = duration)]
    pub duration: Option<Duration>,
    /// Bytes per round-trip message
    #[arg(long, value_name = "SIZE", value_parser = size, default_value = "64")]
    pub latency_size: usize,
    /// Which measurements, comma-separated: throughput, latency, connect (default: all)
    #[arg(long, value_name = "LIST")]
    pub measure: Option<String>,
    /// Pin the two ends: same (one CPU), cross (two CPUs), both (a run each); --pin = both
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "both", value_name = "WHERE")]
    pub pin: Option<Pin>,
    /// One JSON document on stdout instead of tables (docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Also draw the results as an SVG chart into FILE
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Serve remote benchmarks on ADDR (a tcp: address) until interrupted
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["to", "json", "svg", "pin", "transports", "sizes", "duration", "measure"])]
    pub serve: Option<String>,
    /// Measure TCP and UDP to a `sockbox bench --serve` at ADDR
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["pin", "svg"])]
    pub to: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Pin {
    /// Both ends on one CPU
    Same,
    /// The ends on two different CPUs
    Cross,
    /// One run on one CPU, then one on two
    Both,
}

fn duration(s: &str) -> Result<Duration, String> {
    sockbox_net::addr::parse_duration(s).map_err(|e| e.to_string())
}

fn size(s: &str) -> Result<usize, String> {
    sockbox_net::addr::parse_size(s).map_err(|e| e.to_string())
}

pub async fn run(args: BenchArgs, shutdown: Shutdown) -> Result<ExitCode> {
    // This verb handles SIGINT/SIGTERM itself: the engine stops between (and cuts short the
    // current) measurements, and what was measured is still printed.
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let signal = tokio::spawn(async move {
        let n = shutdown.wait().await;
        flag.store(true, Ordering::Relaxed);
        n
    });
    let code = if let Some(addr) = &args.serve {
        serve(addr, cancel.clone()).await?
    } else if let Some(addr) = &args.to {
        to(addr, &args, cancel.clone()).await?
    } else {
        local(&args, cancel.clone()).await?
    };
    if cancel.load(Ordering::Relaxed) && args.serve.is_none() {
        let n = signal.await.unwrap_or(2);
        return Ok(ExitCode::from(128 + n as u8));
    }
    signal.abort();
    Ok(code)
}

/// The typed plan of a local run, validated before anything is opened.
fn plan(args: &BenchArgs) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    if !args.transports.is_empty() {
        plan.transports.clear();
        for word in &args.transports {
            let t: Transport = word.parse()?;
            if !plan.transports.contains(&t) {
                plan.transports.push(t);
            }
        }
    }
    if let Some(s) = &args.sizes {
        plan.sizes = bench::parse_sizes(s)?;
    }
    if let Some(d) = args.duration {
        plan.duration = d;
    }
    if let Some(m) = &args.measure {
        plan.measures = m.parse::<Measures>()?;
    }
    plan.latency_size = args.latency_size;
    plan.placements = match args.pin {
        None => vec![Placement::Unpinned],
        Some(Pin::Same) => vec![Placement::SameCpu],
        Some(Pin::Cross) => vec![Placement::CrossCpu],
        Some(Pin::Both) => vec![Placement::SameCpu, Placement::CrossCpu],
    };
    plan.validate()?;
    Ok(plan)
}

async fn local(args: &BenchArgs, cancel: Arc<AtomicBool>) -> Result<ExitCode> {
    let plan = plan(args)?;
    // Fail on an unwritable chart file before measuring for a minute.
    if let Some(path) = &args.svg {
        output::bench::check_writable(path)?;
    }
    let progress = output::bench::Progress::new();
    let report = tokio::task::spawn_blocking(move || {
        bench::run(&plan, &cancel, &mut |step| progress.step(step)).inspect(|_| progress.finish())
    })
    .await
    .context("the benchmark thread")??;
    if let Some(path) = &args.svg {
        output::bench::svg(path, &report)?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        output::bench::json(&mut out, &report)?;
    } else {
        output::bench::table(&mut out, &report)?;
    }
    let failed = report
        .runs
        .iter()
        .any(|r| r.transports.iter().any(|t| !t.errors.is_empty()));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The `tcp:` target of `--serve` / `--to`.
fn tcp_target(flag: &str, addr: &str, need_host: bool) -> Result<InetTarget, Error> {
    let parsed = super::parse_addr(addr)?;
    match parsed.endpoint {
        Endpoint::Tcp(t) if t.host.is_some() || !need_host => Ok(t),
        Endpoint::Tcp(_) => Err(Error::Usage(format!(
            "{flag} {addr}: which host? e.g. {flag} tcp:10.0.0.1:5201"
        ))),
        other => Err(Error::Usage(format!(
            "{flag} takes a tcp: address (the control connection; data goes over TCP and UDP), \
             not {}: e.g. {flag} tcp:5201",
            other.kind()
        ))),
    }
}

async fn serve(addr: &str, cancel: Arc<AtomicBool>) -> Result<ExitCode> {
    let target = tcp_target("--serve", addr, false)?;
    tokio::task::spawn_blocking(move || remote::serve(&target, &cancel))
        .await
        .context("the benchmark server thread")??;
    Ok(ExitCode::SUCCESS)
}

async fn to(addr: &str, args: &BenchArgs, cancel: Arc<AtomicBool>) -> Result<ExitCode> {
    let server = tcp_target("--to", addr, true)?;
    let mut protocols = Vec::new();
    for word in &args.transports {
        let p = match word.to_ascii_lowercase().as_str() {
            "tcp" | "tcp4" | "tcp6" => Protocol::Tcp,
            "udp" | "udp4" | "udp6" => Protocol::Udp,
            _ => {
                return Err(Error::Usage(format!(
                    "--to measures tcp and udp, not '{word}' (the IP version is the address's)"
                ))
                .into())
            }
        };
        if !protocols.contains(&p) {
            protocols.push(p);
        }
    }
    if protocols.is_empty() {
        protocols = vec![Protocol::Tcp, Protocol::Udp];
    }
    let measures = match &args.measure {
        Some(m) => m.parse::<Measures>()?,
        None => Measures::ALL,
    };
    if !measures.throughput && !measures.latency {
        return Err(Error::Usage(
            "--to measures throughput and latency (connection rates are local only)".into(),
        )
        .into());
    }
    let plan = RemotePlan {
        server,
        protocols,
        sizes: match &args.sizes {
            Some(s) => bench::parse_sizes(s)?,
            None => bench::DEFAULT_SIZES.to_vec(),
        },
        latency_size: args.latency_size,
        duration: args.duration.unwrap_or(Duration::from_secs(1)),
        throughput: measures.throughput,
        latency: measures.latency,
    };
    let progress = output::bench::Progress::new();
    let report = tokio::task::spawn_blocking(move || {
        remote::run(&plan, &cancel, &mut |step| progress.remote_step(step))
            .inspect(|_| progress.finish())
    })
    .await
    .context("the benchmark thread")??;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::bench::json(&mut out, &report)?;
    } else {
        output::bench::remote_table(&mut out, &report)?;
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
