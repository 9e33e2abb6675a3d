//! `sockbox bench` results for people (ranked tables), for scripts (one JSON document, see
//! docs/json.md) and for the eye (an SVG chart drawn by the library); and the progress bar on
//! stderr while it runs.

use sockbox_net::bench::three_figures;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result};
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use sockbox_net::bench::remote::{RemoteReport, RemoteStep};
use sockbox_net::bench::{
    format_size, plot, Placement, Report, Run, Step, Throughput, TransportReport, UnixVsTcp,
};

/// A progress bar on stderr, drawn only when stderr is a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new() -> Progress {
        if !io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos:>3}/{len} {elapsed:>4} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress(Some(bar))
    }

    pub fn step(&self, s: &Step) {
        if let Some(bar) = &self.0 {
            bar.set_length(s.total as u64);
            bar.set_position(s.index as u64);
            let placement = match s.placement {
                Placement::Unpinned => String::new(),
                p => format!(" ({p})"),
            };
            bar.set_message(format!("{} {}{placement}", s.transport, s.test));
        }
    }

    pub fn remote_step(&self, s: &RemoteStep) {
        if let Some(bar) = &self.0 {
            bar.set_length(s.total as u64);
            bar.set_position(s.index as u64);
            bar.set_message(match s.throughput_size {
                Some(size) => format!("{} throughput {}", s.protocol, format_size(size)),
                None => format!("{} round trip", s.protocol),
            });
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// One JSON document and a newline.
pub fn json(out: &mut impl Write, report: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Fail early when the chart cannot be written where asked.
pub fn check_writable(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
        .with_context(|| format!("cannot write the chart to {}", path.display()))
}

/// Draw the chart into `path`.
pub fn svg(path: &Path, report: &Report) -> Result<()> {
    let doc = plot::svg(report)?;
    std::fs::write(path, doc).with_context(|| format!("writing the chart to {}", path.display()))
}

fn plain_table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    t
}

/// Right-align every column but the first two (rank, transport).
fn align_numbers(t: &mut Table, columns: usize) {
    for i in 2..columns {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// `19.7M`, `67.4k`, `950`.
fn count(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Microseconds, three significant figures.
fn micros(us: f64) -> String {
    if us >= 100.0 {
        format!("{us:.0}")
    } else if us >= 10.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.2}")
    }
}

/// p50, p90, p99, p99.9 and max of a latency histogram, as table cells.
fn percentile_cells(l: &sockbox_net::bench::Latency) -> [String; 5] {
    [l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us].map(micros)
}

fn lost_percent(t: &Throughput) -> Option<f64> {
    let lost = t.lost_messages?;
    (t.sent_messages > 0).then(|| 100.0 * lost as f64 / t.sent_messages as f64)
}

/// The cell of one throughput measurement: MiB/s, messages/s, and losses when there were any.
fn throughput_cell(t: &Throughput) -> String {
    let mut s = format!(
        "{} MiB/s\n{} msg/s",
        three_figures(t.mib_per_s),
        count(t.messages_per_s)
    );
    if t.limited {
        s.push_str(&format!("\nat {}", format_size(t.size)));
    }
    if let Some(p) = lost_percent(t).filter(|&p| p >= 0.05) {
        s.push_str(&format!("\n{p:.1}% lost"));
    }
    s
}

/// The measurement shown in the column of requested size `size`: the one at that size, or
/// the one at the transport's limit in the first column above the limit.
fn in_column<'a>(tr: &'a TransportReport, size: usize, sizes: &[usize]) -> Option<&'a Throughput> {
    if let Some(t) = tr.throughput.iter().find(|t| t.size == size && !t.limited) {
        return Some(t);
    }
    let max = tr.max_message?;
    let first_above = sizes.iter().copied().filter(|&s| s > max).min()?;
    (size == first_above)
        .then(|| tr.throughput.iter().find(|t| t.limited))
        .flatten()
}

fn best(tr: &TransportReport) -> f64 {
    tr.throughput
        .iter()
        .map(|t| t.mib_per_s)
        .fold(0.0, f64::max)
}

/// The report as ranked tables: throughput, round trip, connections; then the Unix-vs-TCP
/// comparison and, with two placements, what placement changed.
pub fn table(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let m = &r.machine;
    let transports = r.runs.first().map_or(0, |run| run.transports.len());
    writeln!(
        out,
        "sockbox bench: {transports} transports, {} ms per measurement; {} CPUs, Linux {}, \
         load average {:.2} {:.2} {:.2}",
        r.duration_ms, m.cpus, m.kernel, m.load_average[0], m.load_average[1], m.load_average[2]
    )?;
    if r.interrupted {
        writeln!(out, "interrupted: what was measured so far")?;
    }
    for run in &r.runs {
        run_tables(out, r, run)?;
    }
    if r.runs.len() > 1 {
        placement_table(out, r)?;
    }
    let errors: Vec<String> = r
        .runs
        .iter()
        .flat_map(|run| {
            run.transports.iter().flat_map(move |t| {
                t.errors
                    .iter()
                    .map(move |e| format!("{} ({}): {e}", t.transport, run.placement))
            })
        })
        .collect();
    if !errors.is_empty() {
        writeln!(out, "\nFailed:")?;
        for e in errors {
            writeln!(out, "  {e}")?;
        }
    }
    Ok(())
}

fn run_tables(out: &mut impl Write, r: &Report, run: &Run) -> io::Result<()> {
    writeln!(out)?;
    match (run.placement, run.cpus) {
        (Placement::SameCpu, Some([a, _])) => writeln!(
            out,
            "== placement: both ends pinned to CPU {a} (same-cpu) =="
        )?,
        (Placement::CrossCpu, Some([a, b])) => writeln!(
            out,
            "== placement: ends pinned to CPUs {a} and {b} (cross-cpu) =="
        )?,
        _ => writeln!(
            out,
            "placement: unpinned (the scheduler places the two ends). Where they run changes \
             small-message latency 5-10x or more on this VM (one CPU or two): compare with \
             --pin."
        )?,
    }
    let has_throughput = run.transports.iter().any(|t| !t.throughput.is_empty());
    if has_throughput {
        let mut sizes = r.sizes.clone();
        sizes.sort_unstable();
        let mut ranked: Vec<&TransportReport> = run
            .transports
            .iter()
            .filter(|t| !t.throughput.is_empty())
            .collect();
        ranked.sort_by(|a, b| best(b).total_cmp(&best(a)));
        let mut t = plain_table();
        let mut header = vec!["#".to_string(), "transport".to_string()];
        header.extend(sizes.iter().map(|&s| format_size(s)));
        header.push("best".into());
        t.set_header(header);
        for (i, tr) in ranked.iter().enumerate() {
            let mut row = vec![(i + 1).to_string(), tr.transport.to_string()];
            for &size in &sizes {
                row.push(match in_column(tr, size, &sizes) {
                    Some(m) => throughput_cell(m),
                    None if tr.max_message.is_some_and(|m| size > m) => "-".into(),
                    None => "failed".into(),
                });
            }
            row.push(format!("{} MiB/s", three_figures(best(tr))));
            t.add_row(row);
        }
        align_numbers(&mut t, sizes.len() + 3);
        writeln!(
            out,
            "\nThroughput, counted at the receiver, ranked by the best size (MiB/s, messages/s):"
        )?;
        writeln!(out, "{t}")?;
        let limits: Vec<String> = run
            .transports
            .iter()
            .filter(|t| t.throughput.iter().any(|x| x.limited))
            .filter_map(|t| t.max_message.map(|m| format!("{} {} B", t.transport, m)))
            .collect();
        if !limits.is_empty() {
            writeln!(
                out,
                "Largest message (larger sizes measured at it): {}.",
                limits.join(", ")
            )?;
        }
    }
    let mut lat: Vec<&TransportReport> = run
        .transports
        .iter()
        .filter(|t| t.latency.as_ref().is_some_and(|l| l.samples > 0))
        .collect();
    if !lat.is_empty() {
        let p50 = |t: &TransportReport| t.latency.as_ref().map_or(f64::MAX, |l| l.p50_us);
        lat.sort_by(|a, b| p50(a).total_cmp(&p50(b)));
        let mut t = plain_table();
        t.set_header(vec![
            "#",
            "transport",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "round trips",
        ]);
        for (i, tr) in lat.iter().enumerate() {
            let l = tr.latency.as_ref().expect("filtered");
            let mut trips = count(l.samples as f64);
            if l.lost > 0 {
                trips.push_str(&format!(" ({} lost)", l.lost));
            }
            let mut row = vec![(i + 1).to_string(), tr.transport.to_string()];
            row.extend(percentile_cells(l));
            row.push(trips);
            t.add_row(row);
        }
        align_numbers(&mut t, 8);
        writeln!(
            out,
            "\nRound trip of one {}-byte message, microseconds, ranked by p50:",
            r.latency_size
        )?;
        writeln!(out, "{t}")?;
    }
    let mut conn: Vec<&TransportReport> = run
        .transports
        .iter()
        .filter(|t| t.connect.is_some())
        .collect();
    if !conn.is_empty() {
        let rate_of = |t: &TransportReport| t.connect.as_ref().map_or(0.0, |c| c.per_s);
        conn.sort_by(|a, b| rate_of(b).total_cmp(&rate_of(a)));
        let mut t = plain_table();
        t.set_header(vec!["#", "transport", "per second"]);
        for (i, tr) in conn.iter().enumerate() {
            t.add_row(vec![
                (i + 1).to_string(),
                tr.transport.to_string(),
                format!("{:.0}", rate_of(tr)),
            ]);
        }
        align_numbers(&mut t, 3);
        writeln!(
            out,
            "\nConnections (connect, accept, close; one at a time), ranked:"
        )?;
        writeln!(out, "{t}")?;
    }
    if let Some(c) = UnixVsTcp::of(run) {
        writeln!(out, "\n{}.", c.sentence())?;
        if !c.pinned {
            writeln!(
                out,
                "Unpinned, the scheduler may have run the two ends on one CPU for one transport \
                 and on two for the other: --pin compares them under the same placement."
            )?;
        }
        if c.unix_wins() {
            writeln!(
                out,
                "Why: a Unix stream write is copied straight into the peer socket's receive \
                 queue. Over loopback, TCP builds segments, runs them through IP (routing, \
                 netfilter hooks), the loopback device and the TCP state machine \
                 (acknowledgements, windows, congestion control) before the same copy, and \
                 connecting costs a three-way handshake."
            )?;
        } else {
            writeln!(
                out,
                "Here the two are close: the cost of waking the other end (where the scheduler \
                 runs it) outweighs what TCP does on top of a Unix socket. Compare --pin same \
                 and --pin cross."
            )?;
        }
    }
    Ok(())
}

/// With one run per placement: the round-trip p50 in each, and the ratio.
fn placement_table(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let (Some(first), Some(second)) = (r.runs.first(), r.runs.get(1)) else {
        return Ok(());
    };
    let mut t = plain_table();
    t.set_header(vec![
        "".to_string(),
        "transport".to_string(),
        format!("p50 {}", first.placement),
        format!("p50 {}", second.placement),
        "ratio".to_string(),
    ]);
    let mut rows = 0;
    for a in &first.transports {
        let Some(b) = second
            .transports
            .iter()
            .find(|b| b.transport == a.transport)
        else {
            continue;
        };
        let (Some(la), Some(lb)) = (&a.latency, &b.latency) else {
            continue;
        };
        if la.samples == 0 || lb.samples == 0 {
            continue;
        }
        rows += 1;
        t.add_row(vec![
            String::new(),
            a.transport.to_string(),
            micros(la.p50_us),
            micros(lb.p50_us),
            format!("{:.1}x", lb.p50_us / la.p50_us),
        ]);
    }
    if rows > 0 {
        align_numbers(&mut t, 5);
        writeln!(
            out,
            "\nWhere the ends run: round-trip p50 in microseconds, {} vs {}:",
            first.placement, second.placement
        )?;
        writeln!(out, "{t}")?;
    }
    Ok(())
}

/// A remote run as two tables.
pub fn remote_table(out: &mut impl Write, r: &RemoteReport) -> io::Result<()> {
    let m = &r.machine;
    writeln!(
        out,
        "sockbox bench to {}: {} ms per test; this host: {} CPUs, Linux {}, load average \
         {:.2} {:.2} {:.2}",
        r.server,
        r.duration_ms,
        m.cpus,
        m.kernel,
        m.load_average[0],
        m.load_average[1],
        m.load_average[2]
    )?;
    if r.interrupted {
        writeln!(out, "interrupted: what was measured so far")?;
    }
    if !r.throughput.is_empty() {
        let mut t = plain_table();
        t.set_header(vec!["", "protocol", "size", "MiB/s", "messages/s", "lost"]);
        for x in &r.throughput {
            let lost = lost_percent(&x.result).map_or(String::new(), |p| format!("{p:.1}%"));
            let mut size = format_size(x.result.size);
            if x.result.limited {
                size.push_str(" (max)");
            }
            t.add_row(vec![
                String::new(),
                x.protocol.to_string(),
                size,
                three_figures(x.result.mib_per_s),
                count(x.result.messages_per_s),
                lost,
            ]);
        }
        align_numbers(&mut t, 6);
        writeln!(out, "\nThroughput to the server, counted by the server:")?;
        writeln!(out, "{t}")?;
    }
    if !r.latency.is_empty() {
        let mut t = plain_table();
        t.set_header(vec![
            "",
            "protocol",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "round trips",
        ]);
        for x in &r.latency {
            let l = &x.result;
            let mut trips = count(l.samples as f64);
            if l.lost > 0 {
                trips.push_str(&format!(" ({} lost)", l.lost));
            }
            let mut row = vec![String::new(), x.protocol.to_string()];
            row.extend(percentile_cells(l));
            row.push(trips);
            t.add_row(row);
        }
        align_numbers(&mut t, 8);
        writeln!(
            out,
            "\nRound trip of one {}-byte message, microseconds:",
            r.latency_size
        )?;
        writeln!(out, "{t}")?;
    }
    if !r.errors.is_empty() {
        writeln!(out, "\nFailed:")?;
        for e in &r.errors {
            writeln!(out, "  {e}")?;
        }
    }
    Ok(())
}
