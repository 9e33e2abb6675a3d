//! `sockbox scan` results: a port table like nmap's, the socket-file table of `--unix`, and
//! their JSON documents (docs/json.md).

use std::io::{self, Write};

use serde::Serialize;
use sockbox_net::peer::Cred;
use sockbox_net::scan::unix::{UnixScanReport, UnixState};
use sockbox_net::scan::{PortResult, PortSource, PortState, ScanReport};

/// Closed ports are listed only when a scan covers at most this many ports; otherwise they
/// are counted.
const LIST_CLOSED_UP_TO: usize = 25;

/// The ports worth reading (open, filtered, open|filtered; closed too for small scans), then
/// one summary line.
pub fn ports_text(out: &mut impl Write, r: &ScanReport) -> io::Result<()> {
    let list_closed = r.ports.len() <= LIST_CLOSED_UP_TO;
    let shown: Vec<&PortResult> = r
        .ports
        .iter()
        .filter(|p| list_closed || p.state != PortState::Closed)
        .collect();
    if !shown.is_empty() {
        let width = shown
            .iter()
            .map(|p| p.port.to_string().len() + 4)
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(
            out,
            "{:<width$}  {:<13}  {:<15}  REASON",
            "PORT", "STATE", "SERVICE"
        )?;
        for p in &shown {
            writeln!(
                out,
                "{:<width$}  {:<13}  {:<15}  {}",
                format!("{}/{}", p.port, r.protocol),
                p.state,
                p.service.as_deref().unwrap_or("-"),
                p.reason
            )?;
        }
    }
    let mut counts = Vec::new();
    for state in [
        PortState::Open,
        PortState::OpenFiltered,
        PortState::Filtered,
        PortState::Closed,
    ] {
        let n = r.count(state);
        if n > 0 || state == PortState::Open {
            counts.push(format!("{n} {state}"));
        }
    }
    let hidden = if list_closed || r.count(PortState::Closed) == 0 {
        ""
    } else {
        " (closed ports not listed)"
    };
    let host = if r.host == r.address.to_string() {
        r.host.clone()
    } else {
        format!("{} ({})", r.host, r.address)
    };
    writeln!(
        out,
        "{}{hidden}: {} {} ports of {host} scanned in {:.2} s",
        counts.join(", "),
        r.ports.len(),
        r.protocol,
        r.elapsed.as_secs_f64()
    )
}

#[derive(Serialize)]
struct PortsJson<'a> {
    host: &'a str,
    address: String,
    protocol: String,
    scanned: usize,
    elapsed_ms: f64,
    open: usize,
    closed: usize,
    filtered: usize,
    open_filtered: usize,
    /// Every port not closed.
    ports: Vec<&'a PortResult>,
    /// Where the port list came from, when `-p` was not given.
    default_ports: Option<String>,
    threads: usize,
    peak_in_flight: usize,
    retried: usize,
}

/// One JSON document for a port scan.
pub fn ports_json(
    out: &mut impl Write,
    r: &ScanReport,
    source: Option<&PortSource>,
) -> io::Result<()> {
    let doc = PortsJson {
        host: &r.host,
        address: r.address.to_string(),
        protocol: r.protocol.to_string(),
        scanned: r.ports.len(),
        elapsed_ms: r.elapsed.as_secs_f64() * 1e3,
        open: r.count(PortState::Open),
        closed: r.count(PortState::Closed),
        filtered: r.count(PortState::Filtered),
        open_filtered: r.count(PortState::OpenFiltered),
        ports: r
            .ports
            .iter()
            .filter(|p| p.state != PortState::Closed)
            .collect(),
        default_ports: source.map(ToString::to_string),
        threads: r.threads,
        peak_in_flight: r.peak_in_flight,
        retried: r.retried,
    };
    serde_json::to_writer(&mut *out, &doc)?;
    out.write_all(b"\n")
}

fn listener(c: &Option<Cred>) -> String {
    match c {
        Some(c) => c.to_string(),
        None => "-".into(),
    }
}

/// A row per socket file (path last: paths are long), then one summary line.
pub fn unix_text(out: &mut impl Write, r: &UnixScanReport) -> io::Result<()> {
    if !r.sockets.is_empty() {
        let process_width = r
            .sockets
            .iter()
            .map(|s| listener(&s.listener).len())
            .max()
            .unwrap_or(0)
            .max(8);
        writeln!(
            out,
            "{:<17}  {:<9}  {:<process_width$}  PATH",
            "STATE", "TYPE", "LISTENER"
        )?;
        for s in &r.sockets {
            let path = match &s.error {
                Some(e) => format!("{} ({e})", s.path.display()),
                None => s.path.display().to_string(),
            };
            writeln!(
                out,
                "{:<17}  {:<9}  {:<process_width$}  {path}",
                s.state.as_str(),
                s.sock_type.unwrap_or("-"),
                listener(&s.listener),
            )?;
        }
    }
    for d in &r.unreadable {
        writeln!(out, "unreadable directory: {}", d.display())?;
    }
    writeln!(
        out,
        "{} socket files: {} live, {} stale, {} permission denied, {} other errors",
        r.sockets.len(),
        r.count(UnixState::Live),
        r.count(UnixState::Stale),
        r.count(UnixState::PermissionDenied),
        r.count(UnixState::Error)
    )
}

#[derive(Serialize)]
struct UnixFileJson<'a> {
    path: String,
    state: UnixState,
    #[serde(rename = "type")]
    sock_type: Option<&'a str>,
    listener: Option<&'a Cred>,
    file_uid: u32,
    file_mode: String,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct UnixJson<'a> {
    dirs: Vec<String>,
    live: usize,
    stale: usize,
    permission_denied: usize,
    errors: usize,
    sockets: Vec<UnixFileJson<'a>>,
    unreadable: Vec<String>,
}

/// One JSON document for `scan --unix`.
pub fn unix_json(out: &mut impl Write, r: &UnixScanReport) -> io::Result<()> {
    let doc = UnixJson {
        dirs: r.dirs.iter().map(|d| d.display().to_string()).collect(),
        live: r.count(UnixState::Live),
        stale: r.count(UnixState::Stale),
        permission_denied: r.count(UnixState::PermissionDenied),
        errors: r.count(UnixState::Error),
        sockets: r
            .sockets
            .iter()
            .map(|s| UnixFileJson {
                path: s.path.display().to_string(),
                state: s.state,
                sock_type: s.sock_type,
                listener: s.listener.as_ref(),
                file_uid: s.file_uid,
                file_mode: format!("{:04o}", s.file_mode),
                error: s.error.as_deref(),
            })
            .collect(),
        unreadable: r
            .unreadable
            .iter()
            .map(|d| d.display().to_string())
            .collect(),
    };
    serde_json::to_writer(&mut *out, &doc)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockbox_net::scan::{Protocol, Reason};
    use std::time::Duration;

    fn report(states: &[(u16, Reason)]) -> ScanReport {
        ScanReport {
            host: "localhost".into(),
            address: "127.0.0.1".parse().unwrap(),
            protocol: Protocol::Tcp,
            ports: states
                .iter()
                .map(|&(port, reason)| PortResult {
                    port,
                    state: reason.state(),
                    reason,
                    service: (port == 22).then(|| "ssh".to_string()),
                })
                .collect(),
            elapsed: Duration::from_millis(1234),
            threads: 2,
            peak_in_flight: 1,
            retried: 0,
        }
    }

    #[test]
    fn small_scans_list_every_port() {
        let mut v = Vec::new();
        ports_text(
            &mut v,
            &report(&[
                (22, Reason::SynAck),
                (23, Reason::Refused),
                (24, Reason::SelfConnect),
            ]),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "PORT    STATE          SERVICE          REASON\n\
             22/tcp  open           ssh              syn-ack\n\
             23/tcp  closed         -                conn-refused\n\
             24/tcp  closed         -                self-connect\n\
             1 open, 2 closed: 3 tcp ports of localhost (127.0.0.1) scanned in 1.23 s\n"
        );
    }

    #[test]
    fn large_scans_count_closed_ports() {
        let mut states: Vec<(u16, Reason)> = (1..=100).map(|p| (p, Reason::Refused)).collect();
        states[21] = (22, Reason::SynAck);
        states[50] = (51, Reason::NoResponse);
        let mut v = Vec::new();
        ports_text(&mut v, &report(&states)).unwrap();
        let text = String::from_utf8(v).unwrap();
        assert!(text.contains("22/tcp  open"), "{text}");
        assert!(text.contains("51/tcp  filtered       -                no-response"));
        assert!(!text.contains("23/tcp"));
        assert!(text.ends_with(
            "1 open, 1 filtered, 98 closed (closed ports not listed): 100 tcp ports of localhost (127.0.0.1) scanned in 1.23 s\n"
        ));

        let mut j = Vec::new();
        ports_json(&mut j, &report(&states), None).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&j).unwrap();
        assert_eq!(doc["open"], 1);
        assert_eq!(doc["closed"], 98);
        assert_eq!(doc["ports"].as_array().unwrap().len(), 2);
        assert_eq!(doc["ports"][0]["state"], "open");
        assert_eq!(doc["ports"][0]["service"], "ssh");
        assert_eq!(doc["ports"][1]["reason"], "no-response");
    }
}
