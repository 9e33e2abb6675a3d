//! The chart of a bench report, as an SVG document: data in, SVG text out.
//!
//! One block per placement: throughput by message size (one line per transport, log-log) on
//! top; below it, round-trip percentiles per transport (a bar from p50 to p99, a line on to
//! p99.9, a dot at the maximum, the figures beside it), and connections per second for the
//! kinds that connect. Colours are fixed per transport, so blocks compare at a glance.
//!
//! Drawn with plotters' SVG backend and no font features: text goes into the SVG as `<text>`
//! and the viewer's fonts render it, so no font library (fontconfig) is needed.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{format_size, Report, Run, Transport, TransportReport};
use crate::{Error, Result};

/// Width of the chart and height of one placement's block, in pixels.
pub const WIDTH: u32 = 1200;
pub const BLOCK_HEIGHT: u32 = 900;
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(0x33, 0x33, 0x33);
const FAINT: RGBColor = RGBColor(0x88, 0x88, 0x88);

/// The colour of a transport: blues for TCP, orange for UDP, greens for Unix sockets, purples
/// for pipes.
pub fn colour(t: Transport) -> RGBColor {
    match t {
        Transport::Tcp4 => RGBColor(0x1f, 0x5f, 0xb4),
        Transport::Tcp6 => RGBColor(0x5b, 0x9b, 0xd5),
        Transport::Udp4 => RGBColor(0xe6, 0x7e, 0x22),
        Transport::Unix => RGBColor(0x1e, 0x8c, 0x45),
        Transport::UnixDgram => RGBColor(0x7c, 0xc3, 0x5a),
        Transport::Seqpacket => RGBColor(0x16, 0xa0, 0x98),
        Transport::Socketpair => RGBColor(0x0b, 0x4f, 0x2a),
        Transport::Pipe => RGBColor(0x8e, 0x44, 0xad),
        Transport::Fifo => RGBColor(0xc3, 0x8d, 0xd6),
    }
}

/// The whole report as one SVG document.
pub fn svg(report: &Report) -> Result<String> {
    let blocks = report.runs.len().max(1) as u32;
    let mut out = String::new();
    {
        let root =
            SVGBackend::with_string(&mut out, (WIDTH, BLOCK_HEIGHT * blocks)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        for (i, run) in report.runs.iter().enumerate() {
            let top = i as i32 * BLOCK_HEIGHT as i32;
            let area = root.clone().shrink((0, top), (WIDTH, BLOCK_HEIGHT));
            block(&root, &area, top, report, run)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

fn drawing<E: std::error::Error>(e: E) -> Error {
    Error::Bench(format!("drawing the chart: {e}"))
}

fn text_style(size: u32, colour: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One placement: title, throughput, latency, connections. `root` takes absolute pixel
/// coordinates; `top` is where this block starts.
fn block(root: &Area<'_>, area: &Area<'_>, top: i32, report: &Report, run: &Run) -> Result<()> {
    let m = &report.machine;
    let placement = match (run.placement, run.cpus) {
        (super::Placement::Unpinned, _) => {
            "unpinned (the scheduler places the two ends)".to_string()
        }
        (super::Placement::SameCpu, Some([a, _])) => format!("both ends pinned to CPU {a}"),
        (super::Placement::CrossCpu, Some([a, b])) => format!("ends pinned to CPUs {a} and {b}"),
        (p, _) => p.to_string(),
    };
    let title = format!("sockbox bench: {placement}");
    root.draw(&Text::new(title, (24, top + 14), text_style(24, INK)))
        .map_err(drawing)?;
    let sub = format!(
        "{} CPUs, Linux {}, load average {:.2} {:.2} {:.2}, {} ms per measurement. \
         Where the two ends run changes small-message latency 5-10x or more on a VM.",
        m.cpus,
        m.kernel,
        m.load_average[0],
        m.load_average[1],
        m.load_average[2],
        report.duration_ms
    );
    root.draw(&Text::new(sub, (24, top + 46), text_style(13, FAINT)))
        .map_err(drawing)?;
    if let Some(verdict) = super::UnixVsTcp::of(run).map(|c| {
        let caveat = if c.pinned {
            ""
        } else {
            " (unpinned: the two may have run under different placements)"
        };
        format!("{}{caveat}", c.sentence())
    }) {
        root.draw(&Text::new(verdict, (24, top + 66), text_style(13, INK)))
            .map_err(drawing)?;
    }
    let (upper, lower) = area.split_vertically(455);
    let upper = upper.margin(84, 0, 10, 20);
    throughput_chart(&upper, run)?;
    let connects: Vec<&TransportReport> = run
        .transports
        .iter()
        .filter(|t| t.connect.is_some())
        .collect();
    if connects.is_empty() {
        latency_chart(root, &lower.margin(10, 10, 10, 20), run)?;
    } else {
        let (left, right) = lower.split_horizontally(760);
        latency_chart(root, &left.margin(10, 10, 10, 20), run)?;
        connect_chart(root, &right.margin(10, 10, 10, 20), &connects)?;
    }
    Ok(())
}

fn throughput_chart(area: &Area<'_>, run: &Run) -> Result<()> {
    let points: Vec<(f64, f64)> = run
        .transports
        .iter()
        .flat_map(|t| t.throughput.iter())
        .filter(|p| p.mib_per_s > 0.0)
        .map(|p| ((p.size as f64).log2(), p.mib_per_s))
        .collect();
    let caption = ("Throughput by message size (MiB/s, log scale)", (FONT, 18));
    if points.is_empty() {
        area.titled(caption.0, caption.1).map_err(drawing)?;
        return Ok(());
    }
    let (x0, x1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(caption.0, caption.1)
        .margin(8)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x0.floor() - 0.5)..(x1.ceil() + 0.5),
            (y0 / 2.0..y1 * 2.0).log_scale(),
        )
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("bytes per write or message")
        .y_desc("MiB/s")
        .x_labels(16)
        .x_label_formatter(&|x| {
            let r = x.round();
            if (x - r).abs() < 1e-6 && (0.0..=40.0).contains(&r) {
                format_size(1usize << r as u32)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| {
            if *y >= 10.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()
        .map_err(drawing)?;
    for t in &run.transports {
        let pts: Vec<(f64, f64)> = t
            .throughput
            .iter()
            .filter(|p| p.mib_per_s > 0.0)
            .map(|p| ((p.size as f64).log2(), p.mib_per_s))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let c = colour(t.transport);
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))
            .map_err(drawing)?
            .label(t.transport.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3)));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
            .map_err(drawing)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xcc, 0xcc, 0xcc))
        .label_font((FONT, 13))
        .draw()
        .map_err(drawing)?;
    Ok(())
}

fn latency_chart(root: &Area<'_>, area: &Area<'_>, run: &Run) -> Result<()> {
    let mut rows: Vec<(Transport, &super::Latency)> = run
        .transports
        .iter()
        .filter_map(|t| {
            t.latency
                .as_ref()
                .filter(|l| l.samples > 0)
                .map(|l| (t.transport, l))
        })
        .collect();
    let caption = "Round trip of one small message (µs, log scale; fastest on top)";
    if rows.is_empty() {
        area.titled(caption, (FONT, 18)).map_err(drawing)?;
        return Ok(());
    }
    // Slowest first: row 0 is drawn at the bottom.
    rows.sort_by(|a, b| b.1.p50_us.total_cmp(&a.1.p50_us));
    let lo = rows
        .iter()
        .map(|r| r.1.min_us)
        .fold(f64::MAX, f64::min)
        .max(0.01);
    let hi = rows
        .iter()
        .map(|r| r.1.max_us)
        .fold(0.0, f64::max)
        .max(lo * 2.0);
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 16))
        .margin_left(96)
        .margin_right(190)
        .x_label_area_size(34)
        .build_cartesian_2d((lo / 1.5..hi * 1.5).log_scale(), 0.0..n)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("microseconds")
        .x_label_formatter(&|x| {
            if *x >= 10.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        })
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()
        .map_err(drawing)?;
    let x_right = chart.backend_coord(&(hi * 1.5, 0.0)).0;
    let x_left = chart.backend_coord(&(lo / 1.5, 0.0)).0;
    for (i, (t, l)) in rows.iter().enumerate() {
        let y = i as f64 + 0.5;
        let c = colour(*t);
        chart
            .draw_series([
                PathElement::new(vec![(l.p99_us, y), (l.p999_us, y)], c.stroke_width(2)),
                PathElement::new(
                    vec![(l.p999_us, y), (l.max_us, y)],
                    c.mix(0.5).stroke_width(1),
                ),
            ])
            .map_err(drawing)?;
        chart
            .draw_series([Rectangle::new(
                [
                    (l.p50_us, y - 0.28),
                    (l.p99_us.max(l.p50_us * 1.02), y + 0.28),
                ],
                c.mix(0.85).filled(),
            )])
            .map_err(drawing)?;
        chart
            .draw_series([Circle::new((l.max_us, y), 3, c.filled())])
            .map_err(drawing)?;
        let (_, py) = chart.backend_coord(&(l.p50_us, y));
        root.draw(&Text::new(
            t.name().to_string(),
            (x_left - 10, py),
            text_style(13, INK).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(drawing)?;
        root.draw(&Text::new(
            format!(
                "{} / {} / {} / {}",
                super::three_figures(l.p50_us),
                super::three_figures(l.p99_us),
                super::three_figures(l.p999_us),
                super::three_figures(l.max_us)
            ),
            (x_right + 10, py),
            text_style(12, INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(drawing)?;
    }
    let (_, top_y) = chart.backend_coord(&(lo, n));
    root.draw(&Text::new(
        "p50 / p99 / p99.9 / max".to_string(),
        (x_right + 10, top_y - 4),
        text_style(12, FAINT).pos(Pos::new(HPos::Left, VPos::Bottom)),
    ))
    .map_err(drawing)?;
    let (_, bottom_y) = chart.backend_coord(&(lo, 0.0));
    root.draw(&Text::new(
        "bar: p50 to p99; thick line: on to p99.9; thin line: on to the maximum (dot)".to_string(),
        (x_left, bottom_y + 36),
        text_style(12, FAINT).pos(Pos::new(HPos::Left, VPos::Top)),
    ))
    .map_err(drawing)?;
    Ok(())
}

fn connect_chart(root: &Area<'_>, area: &Area<'_>, rows: &[&TransportReport]) -> Result<()> {
    let mut rows: Vec<(Transport, f64)> = rows
        .iter()
        .filter_map(|t| t.connect.as_ref().map(|c| (t.transport, c.per_s)))
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let hi = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0);
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption("Connections per second", (FONT, 16))
        .margin_left(84)
        .margin_right(24)
        .x_label_area_size(40)
        .build_cartesian_2d(0.0..hi * 1.3, 0.0..n)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(4)
        .x_desc("connect + accept + close, one at a time")
        .x_label_formatter(&|x| short_count(*x))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()
        .map_err(drawing)?;
    let x_left = chart.backend_coord(&(0.0, 0.0)).0;
    for (i, (t, per_s)) in rows.iter().enumerate() {
        let y = i as f64 + 0.5;
        chart
            .draw_series([Rectangle::new(
                [(0.0, y - 0.3), (*per_s, y + 0.3)],
                colour(*t).mix(0.85).filled(),
            )])
            .map_err(drawing)?;
        let (px, py) = chart.backend_coord(&(*per_s, y));
        root.draw(&Text::new(
            t.name().to_string(),
            (x_left - 10, py),
            text_style(13, INK).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(drawing)?;
        root.draw(&Text::new(
            short_count(*per_s),
            (px + 6, py),
            text_style(12, INK).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(drawing)?;
    }
    Ok(())
}

/// `36.1k`, `950`, `1.2M`.
fn short_count(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 && (n / 1e3).fract() == 0.0 {
        format!("{:.0}k", n / 1e3)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn report() -> Report {
        let tp = |size: usize, mib: f64| Throughput {
            size,
            limited: false,
            bytes: 1,
            messages: 1,
            seconds: 1.0,
            mib_per_s: mib,
            messages_per_s: 1.0,
            sent_messages: 1,
            lost_messages: None,
        };
        let lat = |p50: f64| Latency {
            size: 64,
            samples: 1000,
            lost: 0,
            min_us: p50 * 0.8,
            mean_us: p50,
            p50_us: p50,
            p90_us: p50 * 1.1,
            p99_us: p50 * 1.5,
            p999_us: p50 * 3.0,
            max_us: p50 * 10.0,
        };
        let tr = |t, mib: f64, p50| TransportReport {
            transport: t,
            max_message: None,
            throughput: vec![tp(64, mib / 50.0), tp(65536, mib)],
            latency: Some(lat(p50)),
            connect: t.connectable().then_some(ConnectRate {
                connections: 100,
                seconds: 1.0,
                per_s: 100.0 * mib,
            }),
            errors: vec![],
        };
        Report {
            machine: Machine {
                cpus: 2,
                kernel: "6.1".into(),
                load_average: [0.5, 0.4, 0.3],
            },
            duration_ms: 300,
            sizes: vec![64, 65536],
            latency_size: 64,
            interrupted: false,
            runs: vec![Run {
                placement: Placement::Unpinned,
                cpus: None,
                transports: vec![
                    tr(Transport::Tcp4, 3000.0, 13.0),
                    tr(Transport::Unix, 4500.0, 8.5),
                    tr(Transport::Pipe, 1500.0, 4.8),
                ],
            }],
        }
    }

    #[test]
    fn the_chart_names_every_transport_and_draws_its_lines() {
        let svg = svg(&report()).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for name in [
            "tcp4",
            "unix",
            "pipe",
            "Throughput",
            "Connections per second",
        ] {
            assert!(svg.contains(name), "no {name} in the chart");
        }
        assert!(svg.contains("<polyline"), "no lines");
        assert!(
            svg.contains("#1E8C45") || svg.contains("#1e8c45"),
            "unix's colour"
        );
    }
}
