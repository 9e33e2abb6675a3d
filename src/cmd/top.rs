//! `sockbox top`: rates per process and connection, Unix pairs, listeners and closes, from
//! sock_diag dumps one interval apart (`--once` and `-n N` print; see docs/json.md).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use sockbox_net::inspect::{Filter, KindSet};
use sockbox_net::observe::metrics::{Config, Format, GroupBy, Metrics};
use sockbox_net::observe::top::Tracker;

use crate::output;

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Two samples one interval apart, one report, then exit (same as -n 1)
    #[arg(long)]
    pub once: bool,
    /// Reports to print before exiting
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1)]
    pub count: u32,
    /// Seconds between samples (0.1 to 3600)
    #[arg(short = 'd', long, value_name = "SECONDS", default_value_t = 1.0)]
    pub delay: f64,
    /// Rows per view in tables
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub rows: usize,
    /// Each report as one JSON document (docs/json.md)
    #[arg(long, conflicts_with = "jsonl")]
    pub json: bool,
    /// Each report as one JSON object on one line
    #[arg(long)]
    pub jsonl: bool,
    /// With --once: the exporter's metrics (text format 0.0.4) for node_exporter's textfile
    /// collector; counters cover the open sockets' lives and the closes of the interval
    #[arg(long, requires = "once", conflicts_with_all = ["json", "jsonl"])]
    pub prometheus: bool,
    /// With --prometheus: what per-group series are keyed by (comm, uid, cgroup)
    #[arg(
        long,
        value_name = "KEY",
        default_value = "comm",
        requires = "prometheus"
    )]
    pub group_by: GroupBy,
    /// With --prometheus: groups with their own series; the rest are summed as "other"
    #[arg(long, value_name = "K", default_value_t = 10, requires = "prometheus")]
    pub top_k: usize,
}

pub async fn run(args: TopArgs) -> Result<ExitCode> {
    if !(0.1..=3600.0).contains(&args.delay) {
        return Err(sockbox_net::Error::Usage(format!(
            "-d {}: the interval must be between 0.1 and 3600 seconds",
            args.delay
        ))
        .into());
    }
    if args.count == 0 {
        return Err(sockbox_net::Error::Usage("-n 0: at least one report".into()).into());
    }
    let count = if args.once { 1 } else { args.count };
    let interval = Duration::from_secs_f64(args.delay);
    if args.prometheus {
        return prometheus(&args, interval).await;
    }
    tokio::task::spawn_blocking(move || -> Result<()> {
        let mut tracker =
            Tracker::start(KindSet::default(), Filter::default()).context("sampling sockets")?;
        let mut out = std::io::stdout().lock();
        for _ in 0..count {
            std::thread::sleep(interval);
            let report = tracker.refresh().context("sampling sockets")?;
            if args.json || args.jsonl {
                output::observe::report_json(&mut out, &report, args.jsonl)?;
            } else {
                output::observe::report_text(&mut out, &report, args.rows)?;
            }
            out.flush()?;
        }
        Ok(())
    })
    .await??;
    Ok(ExitCode::SUCCESS)
}

/// `--once --prometheus`: one scrape at the start, one after the interval (so closes in
/// between are counted from their destroy events), the second printed.
async fn prometheus(args: &TopArgs, interval: Duration) -> Result<ExitCode> {
    if args.top_k == 0 {
        return Err(sockbox_net::Error::Usage("--top-k 0: at least one group".into()).into());
    }
    let config = Config {
        group_by: args.group_by,
        top_k: args.top_k,
        ports: Vec::new(),
    };
    let text = tokio::task::spawn_blocking(move || -> Result<String> {
        let mut metrics = Metrics::start(config).context("sampling sockets")?;
        metrics.scrape(Format::Text).context("sampling sockets")?;
        std::thread::sleep(interval);
        metrics.scrape(Format::Text).context("sampling sockets")
    })
    .await??;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
