//! `sockbox ping` output: lines like iputils' ping (a header, one line per probe, the
//! statistics), or one JSON document (docs/json.md).

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;
use sockbox_net::peer::Cred;
use sockbox_net::ping::{Event, Header, Method, Outcome, Probe, Summary};

/// A round-trip time in milliseconds with ping's precision: three decimals under 1 ms, two
/// under 10, one under 100, none above.
fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A percentage as `%g` prints it: `0`, `33.3333`, `100`.
fn percent(p: f64) -> String {
    let s = format!("{p:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn seq_name(h: &Header) -> &'static str {
    match h.method {
        Method::Icmp(_) => "icmp_seq",
        _ => "seq",
    }
}

/// One event as a line (the header, or a probe).
pub fn event_text(out: &mut impl Write, header: Option<&Header>, e: &Event) -> io::Result<()> {
    match e {
        Event::Start(h) => start_text(out, h),
        Event::Probe(p) => match header {
            Some(h) => probe_text(out, h, p),
            None => Ok(()),
        },
    }
}

fn start_text(out: &mut impl Write, h: &Header) -> io::Result<()> {
    match h.method {
        Method::Icmp(_) if h.v6 => writeln!(
            out,
            "PING {} ({}) {} data bytes",
            h.target, h.address, h.size
        ),
        Method::Icmp(_) => writeln!(
            out,
            "PING {} ({}) {}({}) bytes of data.",
            h.target,
            h.address,
            h.size,
            h.size + 28
        ),
        Method::TcpConnect => writeln!(out, "PING {} ({}): TCP connect", h.target, h.address),
        Method::UnixConnect(_) => {
            writeln!(out, "PING {}: connect on {}", h.target, h.method.socket())
        }
    }
}

fn probe_text(out: &mut impl Write, h: &Header, p: &Probe) -> io::Result<()> {
    let seq = seq_name(h);
    match &p.outcome {
        Outcome::Reply(r) => {
            match h.method {
                Method::Icmp(_) => {
                    write!(out, "{} bytes from {}: {seq}={}", r.bytes, r.from, p.seq)?;
                    if let Some(t) = r.ttl {
                        write!(out, " ttl={t}")?;
                    }
                }
                _ => {
                    write!(out, "connected to {}", r.from)?;
                    if let Some(c) = &r.listener {
                        write!(out, " ({c})")?;
                    }
                    write!(out, ": {seq}={}", p.seq)?;
                }
            }
            write!(out, " time={} ms", ms(r.rtt))?;
            if r.duplicate {
                write!(out, " (DUP!)")?;
            }
            if r.bad_checksum {
                write!(out, " (BAD CHECKSUM!)")?;
            }
            if r.bad_payload {
                write!(out, " (wrong data)")?;
            }
            writeln!(out)
        }
        Outcome::Timeout(t) => writeln!(
            out,
            "no answer from {} for {seq}={} within {} ms",
            h.address,
            p.seq,
            t.as_millis()
        ),
        Outcome::Failed { from, error } => match (h.method, from) {
            (Method::Icmp(_), Some(f)) => writeln!(out, "From {f} {seq}={} {error}", p.seq),
            (_, Some(f)) => writeln!(out, "{f}: {seq}={} {error}", p.seq),
            (_, None) => writeln!(out, "{seq}={} {error}", p.seq),
        },
    }
}

/// The statistics, as ping prints them when it ends.
pub fn summary_text(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "--- {} ping statistics ---", s.header.target)?;
    let icmp = matches!(s.header.method, Method::Icmp(_));
    let mut extra = String::new();
    if s.duplicates > 0 {
        extra.push_str(&format!(", +{} duplicates", s.duplicates));
    }
    if s.errors > 0 {
        extra.push_str(&format!(", +{} errors", s.errors));
    }
    let time = s.elapsed.as_millis();
    if icmp {
        writeln!(
            out,
            "{} packets transmitted, {} received{extra}, {}% packet loss, time {time}ms",
            s.transmitted,
            s.received,
            percent(s.loss_percent())
        )?;
    } else {
        writeln!(
            out,
            "{} connects attempted, {} succeeded{extra}, {}% failed, time {time}ms",
            s.transmitted,
            s.received,
            percent(s.loss_percent())
        )?;
    }
    if let Some(r) = &s.rtt {
        let f = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
        writeln!(
            out,
            "{} min/avg/max/mdev = {}/{}/{}/{} ms",
            if icmp { "rtt" } else { "connect" },
            f(r.min),
            f(r.avg),
            f(r.max),
            f(r.mdev)
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct RttJson {
    min: f64,
    avg: f64,
    max: f64,
    mdev: f64,
}

#[derive(Serialize)]
struct ProbeJson<'a> {
    seq: u64,
    /// `reply`, `timeout` or `error`.
    status: &'static str,
    time_ms: Option<f64>,
    ttl: Option<u8>,
    bytes: Option<usize>,
    from: Option<&'a str>,
    duplicate: bool,
    listener: Option<&'a Cred>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct PingJson<'a> {
    target: &'a str,
    address: &'a str,
    kind: &'static str,
    socket: &'static str,
    size: usize,
    transmitted: u64,
    received: u64,
    duplicates: u64,
    errors: u64,
    loss_percent: f64,
    elapsed_ms: f64,
    rtt_ms: Option<RttJson>,
    probes: Vec<ProbeJson<'a>>,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The whole ping as one JSON document.
pub fn json(out: &mut impl Write, s: &Summary, probes: &[Probe]) -> io::Result<()> {
    let doc = PingJson {
        target: &s.header.target,
        address: &s.header.address,
        kind: s.header.method.kind(),
        socket: s.header.method.socket(),
        size: s.header.size,
        transmitted: s.transmitted,
        received: s.received,
        duplicates: s.duplicates,
        errors: s.errors,
        loss_percent: s.loss_percent(),
        elapsed_ms: millis(s.elapsed),
        rtt_ms: s.rtt.map(|r| RttJson {
            min: millis(r.min),
            avg: millis(r.avg),
            max: millis(r.max),
            mdev: millis(r.mdev),
        }),
        probes: probes
            .iter()
            .map(|p| match &p.outcome {
                Outcome::Reply(r) => ProbeJson {
                    seq: p.seq,
                    status: "reply",
                    time_ms: Some(millis(r.rtt)),
                    ttl: r.ttl,
                    bytes: matches!(s.header.method, Method::Icmp(_)).then_some(r.bytes),
                    from: Some(&r.from),
                    duplicate: r.duplicate,
                    listener: r.listener.as_ref(),
                    error: None,
                },
                Outcome::Timeout(_) => ProbeJson {
                    seq: p.seq,
                    status: "timeout",
                    time_ms: None,
                    ttl: None,
                    bytes: None,
                    from: None,
                    duplicate: false,
                    listener: None,
                    error: None,
                },
                Outcome::Failed { from, error } => ProbeJson {
                    seq: p.seq,
                    status: "error",
                    time_ms: None,
                    ttl: None,
                    bytes: None,
                    from: from.as_deref(),
                    duplicate: false,
                    listener: None,
                    error: Some(error),
                },
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &doc)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockbox_net::ping::{IcmpSocketKind, Reply, RttStats};

    fn header() -> Header {
        Header {
            target: "localhost".into(),
            address: "127.0.0.1".into(),
            method: Method::Icmp(IcmpSocketKind::Raw),
            size: 56,
            v6: false,
        }
    }

    fn reply(ms: f64, duplicate: bool) -> Outcome {
        Outcome::Reply(Reply {
            rtt: Duration::from_secs_f64(ms / 1e3),
            ttl: Some(64),
            bytes: 64,
            from: "127.0.0.1".into(),
            duplicate,
            bad_checksum: false,
            bad_payload: false,
            listener: None,
        })
    }

    #[test]
    fn lines_read_like_iputils() {
        let h = header();
        let mut v = Vec::new();
        event_text(&mut v, None, &Event::Start(h.clone())).unwrap();
        for p in [
            Probe {
                seq: 1,
                outcome: reply(0.0423, false),
            },
            Probe {
                seq: 1,
                outcome: reply(12.34, true),
            },
            Probe {
                seq: 2,
                outcome: Outcome::Timeout(Duration::from_secs(2)),
            },
            Probe {
                seq: 3,
                outcome: Outcome::Failed {
                    from: Some("10.0.0.1".into()),
                    error: "Destination Host Unreachable".into(),
                },
            },
        ] {
            event_text(&mut v, Some(&h), &Event::Probe(p)).unwrap();
        }
        let samples = [Duration::from_micros(42), Duration::from_micros(58)];
        summary_text(
            &mut v,
            &Summary {
                header: h,
                transmitted: 3,
                received: 1,
                duplicates: 1,
                errors: 1,
                elapsed: Duration::from_millis(2003),
                rtt: RttStats::from_samples(&samples),
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "PING localhost (127.0.0.1) 56(84) bytes of data.\n\
             64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.042 ms\n\
             64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=12.3 ms (DUP!)\n\
             no answer from 127.0.0.1 for icmp_seq=2 within 2000 ms\n\
             From 10.0.0.1 icmp_seq=3 Destination Host Unreachable\n\
             \n\
             --- localhost ping statistics ---\n\
             3 packets transmitted, 1 received, +1 duplicates, +1 errors, 66.6667% packet loss, time 2003ms\n\
             rtt min/avg/max/mdev = 0.042/0.050/0.058/0.008 ms\n"
        );
    }

    #[test]
    fn json_has_every_probe() {
        let h = header();
        let probes = vec![
            Probe {
                seq: 1,
                outcome: reply(0.5, false),
            },
            Probe {
                seq: 2,
                outcome: Outcome::Timeout(Duration::from_secs(1)),
            },
        ];
        let s = Summary {
            header: h,
            transmitted: 2,
            received: 1,
            duplicates: 0,
            errors: 0,
            elapsed: Duration::from_secs(1),
            rtt: RttStats::from_samples(&[Duration::from_micros(500)]),
        };
        let mut v = Vec::new();
        json(&mut v, &s, &probes).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(doc["socket"], "SOCK_RAW");
        assert_eq!(doc["kind"], "icmp");
        assert_eq!(doc["loss_percent"], 50.0);
        assert_eq!(doc["probes"][0]["status"], "reply");
        assert_eq!(doc["probes"][0]["ttl"], 64);
        assert_eq!(doc["probes"][1]["status"], "timeout");
        assert_eq!(doc["rtt_ms"]["min"], 0.5);
    }
}
