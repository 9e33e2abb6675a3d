//! Sockets over time: `ls --events` lines and objects, and `top --once` tables and JSON
//! (fields documented in docs/json.md).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::table;
use serde::Serialize;
use sockbox_net::inspect::{Process, SockAddr, SocketEntry};
use sockbox_net::observe::top::Report;

/// What happened to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A dump saw the connection for the first time.
    Open,
    /// The kernel destroyed the socket (sock_diag destroy broadcast).
    Close,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Change::Open => "open",
            Change::Close => "close",
        }
    }
}

fn unix_time(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `HH:MM:SS.mmm` in UTC.
fn clock(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

fn addr_text(a: &SockAddr) -> String {
    match a {
        SockAddr::Inet(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// `comm (pid)` of the first owner, else `uid N` (never "unknown").
fn owner_text(e: &SocketEntry, owners: &[Process]) -> String {
    match (owners.first(), e.uid) {
        (Some(p), _) if !p.name.is_empty() => format!("{} ({})", p.name, p.pid),
        (Some(p), _) => format!("pid {}", p.pid),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "-".to_string(),
    }
}

#[derive(Serialize)]
struct OwnerJson<'a> {
    pid: u32,
    comm: &'a str,
}

#[derive(Serialize)]
struct EventJson<'a> {
    event: &'static str,
    time: f64,
    kind: &'static str,
    state: &'static str,
    local: String,
    remote: String,
    cookie: u64,
    uid: Option<u32>,
    owner: String,
    pid: Option<u32>,
    comm: Option<&'a str>,
    owners: Vec<OwnerJson<'a>>,
    rx_bytes: Option<u64>,
    tx_bytes: Option<u64>,
    bytes_acked: Option<u64>,
    rtt_ms: Option<f64>,
    retrans: Option<u32>,
}

/// One socket event: a line, or one JSON object on a line.
pub fn event(
    out: &mut impl Write,
    at: SystemTime,
    change: Change,
    e: &SocketEntry,
    owners: &[Process],
    json: bool,
) -> io::Result<()> {
    let info = e.tcp_info.as_deref();
    let owner = owner_text(e, owners);
    if json {
        let j = EventJson {
            event: change.name(),
            time: unix_time(at),
            kind: e.kind.name(),
            state: e.state.name(),
            local: addr_text(&e.local),
            remote: addr_text(&e.remote),
            cookie: e.cookie,
            uid: e.uid,
            owner,
            pid: owners.first().map(|p| p.pid),
            comm: owners.first().map(|p| p.name.as_str()),
            owners: owners
                .iter()
                .map(|p| OwnerJson {
                    pid: p.pid,
                    comm: &p.name,
                })
                .collect(),
            rx_bytes: info.and_then(|i| i.bytes_received),
            tx_bytes: info.and_then(|i| i.bytes_sent.or(i.bytes_acked)),
            bytes_acked: info.and_then(|i| i.bytes_acked),
            rtt_ms: info.map(|i| f64::from(i.rtt_us) / 1000.0),
            retrans: info.map(|i| i.total_retrans),
        };
        serde_json::to_writer(&mut *out, &j)?;
        return writeln!(out);
    }
    write!(
        out,
        "{} {:<5} {:<3} {} -> {}  {}",
        clock(at),
        change.name(),
        e.kind.name(),
        addr_text(&e.local),
        addr_text(&e.remote),
        owner
    )?;
    if change == Change::Open {
        write!(out, "  {}", e.state.name())?;
    }
    if let Some(i) = info {
        if change == Change::Close {
            write!(
                out,
                "  rx {} tx {} rtt {:.3}ms retrans {}",
                i.bytes_received.map_or("-".into(), |b| b.to_string()),
                i.bytes_sent
                    .or(i.bytes_acked)
                    .map_or("-".into(), |b| b.to_string()),
                f64::from(i.rtt_us) / 1000.0,
                i.total_retrans
            )?;
        }
    }
    writeln!(out)
}

/// The kernel dropped destroy events (its buffer was full): say so, and how often so far.
pub fn lost(out: &mut impl Write, at: SystemTime, times: u64, json: bool) -> io::Result<()> {
    if json {
        writeln!(
            out,
            "{{\"event\":\"lost\",\"time\":{},\"times\":{times}}}",
            unix_time(at)
        )
    } else {
        writeln!(
            out,
            "{} lost  events dropped by the kernel (receive buffer full; {times} time(s) so far)",
            clock(at)
        )
    }
}

/// `top --once --json`: the report as one document (`jsonl`: on one line). It is made in
/// `buf` (kept by the caller from one report to the next) and written at once: serde_json
/// writes a report of 20,000 sockets in some 300,000 pieces, which a `Vec` takes for less
/// than any `Write` in front of stdout.
pub fn report_json(
    out: &mut impl Write,
    buf: &mut Vec<u8>,
    r: &Report,
    one_line: bool,
) -> io::Result<()> {
    buf.clear();
    if one_line {
        serde_json::to_writer(&mut *buf, r)?;
    } else {
        serde_json::to_writer_pretty(&mut *buf, r)?;
    }
    buf.push(b'\n');
    out.write_all(buf)
}

/// A byte rate for people: `0`, `12.3K`, `4.5M` bytes per second.
pub fn rate(bps: f64) -> String {
    if bps < 1.0 {
        "0".to_string()
    } else if bps < 1000.0 {
        format!("{bps:.0}")
    } else if bps < 1e6 {
        format!("{:.1}K", bps / 1e3)
    } else if bps < 1e9 {
        format!("{:.1}M", bps / 1e6)
    } else {
        format!("{:.2}G", bps / 1e9)
    }
}

/// `top --once`: the report as tables, the busiest `rows` of each view.
pub fn report_text(out: &mut impl Write, r: &Report, rows: usize) -> io::Result<()> {
    writeln!(
        out,
        "interval {:.2}s  sockets {}  rx {}/s  tx {}/s\nopened {}  closed {}  short-lived {}{}{}",
        r.interval_s,
        r.totals.sockets,
        rate(r.totals.rx_rate),
        rate(r.totals.tx_rate),
        r.totals.opened,
        r.totals.closed,
        r.totals.opened_and_closed,
        if r.lost_events > 0 {
            format!("  LOST EVENTS {}", r.lost_events)
        } else {
            String::new()
        },
        if r.unreadable_processes > 0 {
            format!(
                "\n{} processes not readable: their sockets are shown by uid",
                r.unreadable_processes
            )
        } else {
            String::new()
        }
    )?;
    writeln!(out, "\nPROCESSES")?;
    let header = [
        "OWNER", "TCP", "UDP", "UNIX", "RX/s", "TX/s", "RETRANS", "RECV-Q", "SEND-Q", "OPEN",
        "CLOSE",
    ];
    let cells = r.processes.iter().take(rows).map(|p| {
        let n = |k: &str| p.sockets.get(k).copied().unwrap_or(0);
        vec![
            p.owner.to_string(),
            n("tcp").to_string(),
            n("udp").to_string(),
            (n("unix") + n("unix-dgram") + n("seqpacket")).to_string(),
            rate(p.rx_rate),
            rate(p.tx_rate),
            p.retrans.to_string(),
            p.recv_q.to_string(),
            p.send_q.to_string(),
            p.opened.to_string(),
            p.closed.to_string(),
        ]
    });
    table::write_cells(out, &header, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], cells)?;

    writeln!(out, "\nCONNECTIONS")?;
    let header = [
        "LOCAL", "REMOTE", "OWNER", "RX/s", "TX/s", "RTT(ms)", "CWND", "RETRANS", "RECV-Q",
        "SEND-Q",
    ];
    let cells = r.connections.iter().take(rows).map(|c| {
        vec![
            c.local.to_string(),
            c.remote.to_string(),
            c.owner.to_string(),
            rate(c.rx_rate),
            rate(c.tx_rate),
            c.rtt_ms.map_or("-".into(), |v| format!("{v:.3}")),
            c.cwnd.map_or("-".into(), |v| v.to_string()),
            c.retrans.to_string(),
            c.recv_q.to_string(),
            c.send_q.to_string(),
        ]
    });
    table::write_cells(out, &header, &[3, 4, 5, 6, 7, 8, 9], cells)?;

    writeln!(out, "\nUNIX PAIRS")?;
    let header = ["A", "A QUEUED", "", "B", "B QUEUED", "STATE"];
    let cells = r.unix_pairs.iter().take(rows).map(|u| {
        let stalled = [&u.a, &u.b]
            .iter()
            .filter(|e| e.stalled)
            .map(|e| {
                format!(
                    "stalled: {} not reading for {:.1}s",
                    e.owner,
                    e.stalled_for_s.unwrap_or(0.0)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        vec![
            u.a.owner.to_string(),
            u.a.queued.to_string(),
            "<->".into(),
            u.b.owner.to_string(),
            u.b.queued.to_string(),
            if stalled.is_empty() {
                "ok".into()
            } else {
                stalled
            },
        ]
    });
    table::write_cells(out, &header, &[1, 4], cells)?;

    writeln!(out, "\nLISTENERS")?;
    let header = ["KIND", "LOCAL", "OWNER", "QUEUE", "BACKLOG"];
    let cells = r.listeners.iter().take(rows).map(|l| {
        vec![
            l.kind.to_owned(),
            l.local.to_string(),
            l.owner.to_string(),
            l.accept_queue.to_string(),
            l.backlog.to_string(),
        ]
    });
    table::write_cells(out, &header, &[3, 4], cells)?;

    if !r.closed.is_empty() {
        writeln!(out, "\nCLOSED")?;
        let header = ["LOCAL", "REMOTE", "OWNER", "RX", "TX", "RTT(ms)", "RETRANS"];
        let cells = r.closed.iter().take(rows).map(|c| {
            vec![
                c.local.to_string(),
                c.remote.to_string(),
                c.owner.to_string(),
                c.rx_bytes.map_or("-".into(), |v| v.to_string()),
                c.tx_bytes.map_or("-".into(), |v| v.to_string()),
                c.rtt_ms.map_or("-".into(), |v| format!("{v:.3}")),
                c.retrans.map_or("-".into(), |v| v.to_string()),
            ]
        });
        table::write_cells(out, &header, &[3, 4, 5, 6], cells)?;
    }
    Ok(())
}
