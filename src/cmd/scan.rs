//! `sockbox scan HOST`: TCP connect scan (or `--udp`) of the ports named with `-p`, and
//! `sockbox scan --unix [DIR..]`: which socket files are live.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use sockbox_net::addr::IpVersion;
use sockbox_net::scan::{self, PortState, Progress, Protocol, ScanConfig};

use crate::output;

/// How many ports a scan without `-p` covers.
const DEFAULT_PORT_COUNT: usize = 1000;

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The host to scan (name or IP address); with --unix, the directories to search
    /// (default /run and /tmp)
    #[arg(value_name = "HOST | DIR")]
    pub targets: Vec<String>,
    /// Ports: 22,80,8000-8100; 1000- or -1023 for open-ended ranges; - for all 65535.
    /// Default: the 1000 most common (nmap's frequency table when installed, else the ports
    /// /etc/services names, then the lowest others)
    #[arg(short, long, value_name = "SPEC")]
    pub ports: Option<String>,
    /// UDP instead of TCP: silent ports are reported open|filtered
    #[arg(short, long, conflicts_with = "unix")]
    pub udp: bool,
    /// Find socket files under the directories and try each: live, stale, permission denied
    #[arg(long)]
    pub unix: bool,
    /// How long a probe waits for an answer (e.g. 500ms)
    #[arg(short = 'W', long, value_parser = duration, default_value = "1s")]
    pub timeout: Duration,
    /// How many more times a port that gave no answer is probed
    #[arg(long, default_value_t = 1)]
    pub retries: u32,
    /// Most probes in flight at once (default: as the open-file limit allows)
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<usize>,
    /// Worker threads (default: one per CPU for TCP, one for UDP)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// UDP probes per second (halved on each retry)
    #[arg(long, value_name = "N", default_value_t = scan::DEFAULT_UDP_RATE)]
    pub udp_rate: u32,
    /// One probe at a time, each started DUR after the one before (nc -z -i), e.g.
    /// `scan 10.0.0.5 -p 20-30 --interval 1s`; overrides --threads and --max-parallel
    #[arg(long, value_name = "DUR", value_parser = duration)]
    pub interval: Option<Duration>,
    /// Use only IPv4 addresses of HOST
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use only IPv6 addresses of HOST
    #[arg(short = '6')]
    pub ipv6: bool,
    /// One JSON document on stdout (docs/json.md)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ScanArgs) -> Result<ExitCode> {
    if args.unix {
        return unix(args).await;
    }
    let host = match args.targets.as_slice() {
        [h] => h.clone(),
        [] => {
            return Err(usage(
                "name the host to scan, e.g. `sockbox scan 127.0.0.1 -p 1-1024`",
            ))
        }
        _ => return Err(usage("scan takes one host (or use --unix DIR...)")),
    };
    let protocol = if args.udp {
        Protocol::Udp
    } else {
        Protocol::Tcp
    };
    let (ports, source) = match &args.ports {
        Some(spec) => (
            scan::parse_port_spec(spec).map_err(|e| usage(&e.to_string()))?,
            None,
        ),
        None => {
            let (p, s) = scan::default_ports(protocol, DEFAULT_PORT_COUNT);
            sockbox_net::narrate!("default ports: {} ({} ports)", s, p.len());
            (p, Some(s))
        }
    };
    if args.threads == Some(0) || args.max_parallel == Some(0) || args.udp_rate == 0 {
        return Err(usage(
            "--threads, --max-parallel and --udp-rate must be above 0",
        ));
    }
    if args.interval.is_some_and(|i| i.is_zero()) {
        return Err(usage(
            "--interval must be above 0 (leave it out for no pacing)",
        ));
    }
    let version = match (args.ipv4, args.ipv6) {
        (true, _) => IpVersion::V4,
        (_, true) => IpVersion::V6,
        _ => IpVersion::Any,
    };
    let config = {
        let h = host.clone();
        let target = tokio::task::spawn_blocking(move || scan::resolve(&h, version)).await??;
        let mut c = ScanConfig::new(host, target, ports);
        c.protocol = protocol;
        c.timeout = args.timeout;
        c.retries = args.retries;
        c.threads = args.threads;
        c.max_parallel = args.max_parallel;
        c.udp_rate = args.udp_rate;
        c.interval = args.interval;
        c
    };
    let progress = Arc::new(Progress::default());
    let bar = progress_bar(config.ports.len());
    let report = {
        let shared = progress.clone();
        let mut job = tokio::task::spawn_blocking(move || scan::scan(&config, &shared));
        loop {
            tokio::select! {
                r = &mut job => break r.context("the scan thread failed")??,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if let Some(b) = &bar {
                        b.set_position(progress.done.load(Ordering::Relaxed));
                    }
                }
            }
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        output::scan::ports_json(&mut out, &report, source.as_ref())?;
    } else {
        output::scan::ports_text(&mut out, &report)?;
    }
    out.flush()?;
    // `nc -z` semantics for scripts: success means something answered. A silent UDP port
    // (open|filtered) may be a firewall, so it does not count.
    Ok(if report.count(PortState::Open) > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn unix(args: ScanArgs) -> Result<ExitCode> {
    if args.ports.is_some() {
        return Err(usage("--unix scans socket files: -p does not apply"));
    }
    let dirs: Vec<PathBuf> = if args.targets.is_empty() {
        scan::unix::DEFAULT_DIRS
            .iter()
            .map(PathBuf::from)
            .filter(|d| d.exists())
            .collect()
    } else {
        args.targets.iter().map(PathBuf::from).collect()
    };
    let report = tokio::task::spawn_blocking(move || scan::unix::scan_unix(&dirs)).await??;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::scan::unix_json(&mut out, &report)?;
    } else {
        output::scan::unix_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on stderr, only when stderr is a terminal.
fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} ports, {elapsed} elapsed, {eta} left",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn usage(msg: &str) -> anyhow::Error {
    sockbox_net::Error::Usage(msg.to_string()).into()
}

/// A duration flag: `500ms`, `2s`, `1.5`.
fn duration(s: &str) -> Result<Duration, String> {
    sockbox_net::addr::parse_duration(s).map_err(|e| e.to_string())
}
