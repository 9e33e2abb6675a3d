//! `sockbox top`: rates per process and connection, Unix pairs, listeners and closes, from
//! sock_diag dumps one interval apart: a full-screen live view on a terminal (drawn by
//! `output/live.rs`), or reports printed for scripts (`--once`, `-n N`; see docs/json.md).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser};
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use sockbox_net::inspect::{Filter, KindSet};
use sockbox_net::observe::metrics::{Config, Format, GroupBy, Metrics};
use sockbox_net::observe::top::Tracker;

use super::ls::{select, SelectArgs};
use super::Shutdown;
use crate::output;
use crate::output::live::{Outcome, Screen};

#[derive(Args, Debug)]
pub struct TopArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Two samples one interval apart, one report, then exit (same as -n 1)
    #[arg(long)]
    pub once: bool,
    /// Print N reports, one interval apart, instead of the live view
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u32>,
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

/// The `/` prompt's text, parsed as `ls`'s kind and filter flags.
#[derive(Parser, Debug)]
#[command(name = "filter", no_binary_name = true, disable_help_flag = true)]
struct FilterLine {
    #[command(flatten)]
    select: SelectArgs,
}

/// `ls` flags typed in the live view -> the kinds and filter to sample, or one line saying
/// what is wrong.
fn parse_filter(text: &str) -> std::result::Result<(KindSet, Filter), String> {
    let words = shlex::split(text).ok_or_else(|| format!("{text}: unbalanced quotes"))?;
    let line = FilterLine::try_parse_from(words).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("bad filter");
        first.trim_start_matches("error: ").to_string()
    })?;
    select(&line.select).map_err(|e| format!("{e:#}"))
}

pub async fn run(args: TopArgs, shutdown: Shutdown) -> Result<ExitCode> {
    if !(0.1..=3600.0).contains(&args.delay) {
        return Err(sockbox_net::Error::Usage(format!(
            "-d {}: the interval must be between 0.1 and 3600 seconds",
            args.delay
        ))
        .into());
    }
    if args.count == Some(0) {
        return Err(sockbox_net::Error::Usage("-n 0: at least one report".into()).into());
    }
    let (kinds, filter) = select(&args.select)?;
    let interval = Duration::from_secs_f64(args.delay);
    if args.prometheus {
        return prometheus(&args, interval).await;
    }
    let printed = args.once || args.count.is_some() || args.json || args.jsonl;
    if !printed {
        if !std::io::stdout().is_terminal() {
            return Err(sockbox_net::Error::Usage(
                "stdout is not a terminal: the live view needs one; for scripts use --once, \
                 -n N, --json or --jsonl"
                    .into(),
            )
            .into());
        }
        return live(args, kinds, filter, interval, shutdown).await;
    }
    let count = if args.once {
        1
    } else {
        args.count.unwrap_or(1)
    };
    let print = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut tracker = Tracker::start(kinds, filter).context("sampling sockets")?;
        // Reports are written in pieces (a text report is a few hundred writes): a buffer,
        // flushed after each report, instead of stdout's line buffering, which searches every
        // piece for a newline. A JSON report is made in `json` and written at once.
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut json = Vec::new();
        for _ in 0..count {
            std::thread::sleep(interval);
            let report = tracker.refresh().context("sampling sockets")?;
            if args.json || args.jsonl {
                output::observe::report_json(&mut out, &mut json, &report, args.jsonl)?;
            } else {
                output::observe::report_text(&mut out, &report, args.rows)?;
            }
            out.flush()?;
        }
        Ok(())
    });
    tokio::select! {
        r = print => r??,
        n = shutdown.wait() => return Ok(ExitCode::from(128 + n as u8)),
    }
    Ok(ExitCode::SUCCESS)
}

/// How often the live view looks for a key or a signal between refreshes.
const TICK: Duration = Duration::from_millis(100);

/// The full-screen view: raw mode and the alternate screen, restored on every way out (q,
/// Ctrl-C, SIGINT/SIGTERM, an error, a panic: ratatui's panic hook restores too).
async fn live(
    args: TopArgs,
    kinds: KindSet,
    filter: Filter,
    interval: Duration,
    shutdown: Shutdown,
) -> Result<ExitCode> {
    let signal = Arc::new(AtomicI32::new(0));
    let watch = tokio::spawn({
        let signal = signal.clone();
        async move {
            let n = shutdown.wait().await;
            signal.store(n, Ordering::SeqCst);
        }
    });
    let shown_filter = shown_filter(&args.select);
    let ran = tokio::task::spawn_blocking({
        let signal = signal.clone();
        move || live_loop(kinds, filter, shown_filter, interval, &signal)
    })
    .await?;
    watch.abort();
    ran?;
    match signal.load(Ordering::SeqCst) {
        0 => Ok(ExitCode::SUCCESS),
        n => Ok(ExitCode::from(128 + n as u8)),
    }
}

/// Puts the terminal back when dropped.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

fn live_loop(
    kinds: KindSet,
    filter: Filter,
    shown_filter: String,
    interval: Duration,
    signal: &AtomicI32,
) -> Result<()> {
    // The first dump before the screen changes: an error is an ordinary one-line error.
    let mut tracker = Tracker::start(kinds, filter).context("sampling sockets")?;
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let _restore = Restore;
    let mut screen = Screen::new(interval, shown_filter);
    let mut next = Instant::now() + interval;
    let mut dirty = true;
    while signal.load(Ordering::SeqCst) == 0 {
        if dirty {
            terminal.draw(|f| screen.draw(f))?;
            dirty = false;
        }
        let wait = next.saturating_duration_since(Instant::now()).min(TICK);
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    dirty = true;
                    match screen.key(k) {
                        Outcome::Redraw => {}
                        Outcome::Quit => break,
                        Outcome::Filter(text) => match parse_filter(&text)
                            .and_then(|(k, f)| Tracker::start(k, f).map_err(|e| e.to_string()))
                        {
                            Ok(t) => {
                                tracker = t;
                                screen.filter = text;
                                screen.reset();
                                next = Instant::now() + interval;
                            }
                            Err(e) => screen.message = Some(format!("filter refused: {e}")),
                        },
                    }
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        if Instant::now() >= next {
            let report = tracker.refresh().context("sampling sockets")?;
            screen.update(report, Instant::now());
            next += interval;
            if next < Instant::now() {
                next = Instant::now() + interval;
            }
            dirty = true;
        }
    }
    Ok(())
}

/// The filter flags given on the command line, as the status line shows them.
fn shown_filter(s: &SelectArgs) -> String {
    let mut words: Vec<String> = Vec::new();
    for (on, flag) in [
        (s.tcp, "--tcp"),
        (s.udp, "--udp"),
        (s.unix, "--unix"),
        (s.raw, "--raw"),
        (s.packet, "--packet"),
        (s.netlink, "--netlink"),
        (s.listening, "--listening"),
    ] {
        if on {
            words.push(flag.into());
        }
    }
    let mut list = |flag: &str, values: Vec<String>| {
        if !values.is_empty() {
            words.push(format!("{flag} {}", values.join(",")));
        }
    };
    list("--state", s.state.clone());
    list("--port", s.port.iter().map(u16::to_string).collect());
    list("--pid", s.pid.iter().map(u32::to_string).collect());
    list("--uid", s.uid.clone());
    for p in &s.process {
        words.push(format!("--process {p}"));
    }
    if let Some(p) = &s.path {
        words.push(format!("--path '{p}'"));
    }
    words.join(" ")
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
