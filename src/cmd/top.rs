//! `sockbox top`: rates per process and connection, Unix pairs, listeners and closes, from
//! sock_diag dumps one interval apart (`--once` and `-n N` print; see docs/json.md).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use sockbox_net::inspect::{Filter, KindSet};
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
