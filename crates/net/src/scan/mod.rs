//! Port scans: which TCP or UDP ports of one host answer (`sockbox scan HOST`), and which
//! Unix socket files under some directories are alive ([`unix`]).
//!
//! The TCP scan is a connect scan: a full `connect(2)` per port, with no raw packets and no
//! privileges. A port is *open* when the handshake completes (the connection is then reset
//! with `SO_LINGER` 0, so neither side keeps TIME_WAIT state), *closed* when the host answers
//! with a reset (`ECONNREFUSED`) and *filtered* when nothing answers before the timeout or an
//! ICMP error says a firewall or router refused. A connection whose local address equals the
//! destination is the kernel connecting a socket to itself (possible when the target port is
//! in the local ephemeral range), and counts as closed: `nc -z` reports such ports as open.
//!
//! The UDP scan uses connected UDP sockets: an ICMP port unreachable reaches the socket as
//! `ECONNREFUSED` (closed), a datagram back means open, and silence means *open|filtered*,
//! because an open port that ignores an empty datagram looks exactly like a dropped one.
//! Linux limits ICMP errors to about 1000 per second per host (`net.ipv4.icmp_msgs_per_sec`),
//! so the UDP scan is paced, and ports left silent are probed again more slowly.
//!
//! The engine (`engine.rs`) runs on plain threads, one `epoll(7)` instance each; this module
//! plans the passes, resolves the host, sizes the concurrency to the descriptor limit and
//! turns the outcomes into a [`ScanReport`].

mod engine;
pub mod ports;
pub mod services;
pub mod unix;

use crate::error::os_error_text;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::addr::IpVersion;
use crate::error::{Error, Result};
use crate::narrate;
pub use ports::{default_ports, parse_port_spec, PortSource, PortSpecError};
pub use services::ServiceNames;

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// What a scan concluded about a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum PortState {
    #[serde(rename = "open")]
    Open,
    #[serde(rename = "closed")]
    Closed,
    /// No answer (TCP), or an ICMP error other than port unreachable.
    #[serde(rename = "filtered")]
    Filtered,
    /// UDP only: no answer, which an open port and a firewall give alike.
    #[serde(rename = "open|filtered")]
    OpenFiltered,
}

impl PortState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::OpenFiltered => "open|filtered",
        }
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a port got its state (named as nmap's `--reason` names them where there is one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Reason {
    /// TCP handshake completed.
    SynAck = 1,
    /// TCP reset (`ECONNREFUSED`).
    Refused,
    /// The connection went to the probing socket itself, not to a listener.
    SelfConnect,
    /// No answer before the timeout (TCP).
    NoResponse,
    /// No answer before the timeout (UDP).
    NoUdpResponse,
    /// ICMP host unreachable (`EHOSTUNREACH`).
    HostUnreach,
    /// ICMP network unreachable (`ENETUNREACH`).
    NetUnreach,
    /// Refused by a firewall: ICMP administratively prohibited, or a local rule (`EACCES`,
    /// `EPERM`).
    AdminProhibited,
    /// A UDP datagram came back.
    UdpResponse,
    /// ICMP port unreachable (`ECONNREFUSED` on a UDP socket).
    PortUnreach,
}

impl Reason {
    const ALL: [Reason; 10] = [
        Reason::SynAck,
        Reason::Refused,
        Reason::SelfConnect,
        Reason::NoResponse,
        Reason::NoUdpResponse,
        Reason::HostUnreach,
        Reason::NetUnreach,
        Reason::AdminProhibited,
        Reason::UdpResponse,
        Reason::PortUnreach,
    ];

    fn from_u8(n: u8) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| *r as u8 == n)
    }

    /// The name shown in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Refused => "conn-refused",
            Reason::SelfConnect => "self-connect",
            Reason::NoResponse | Reason::NoUdpResponse => "no-response",
            Reason::HostUnreach => "host-unreach",
            Reason::NetUnreach => "net-unreach",
            Reason::AdminProhibited => "admin-prohibited",
            Reason::UdpResponse => "udp-response",
            Reason::PortUnreach => "port-unreach",
        }
    }

    /// The state this reason gives a port.
    pub fn state(self) -> PortState {
        match self {
            Reason::SynAck | Reason::UdpResponse => PortState::Open,
            Reason::Refused | Reason::SelfConnect | Reason::PortUnreach => PortState::Closed,
            Reason::NoResponse
            | Reason::HostUnreach
            | Reason::NetUnreach
            | Reason::AdminProhibited => PortState::Filtered,
            Reason::NoUdpResponse => PortState::OpenFiltered,
        }
    }

    /// True for "nothing came back": worth asking again.
    fn is_silence(self) -> bool {
        matches!(self, Reason::NoResponse | Reason::NoUdpResponse)
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What to scan and how.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// The host, as the user named it (for the report).
    pub host: String,
    pub target: IpAddr,
    /// The ports, in the order to probe them.
    pub ports: Vec<u16>,
    pub protocol: Protocol,
    /// How long one probe waits for an answer.
    pub timeout: Duration,
    /// How many more times a silent port is probed.
    pub retries: u32,
    /// Worker threads; `None`: one per CPU for TCP, one for UDP.
    pub threads: Option<usize>,
    /// Most probes in flight in all; `None`: as many as the descriptor limit allows.
    pub max_parallel: Option<usize>,
    /// UDP probes per second at the start (each retry pass halves it).
    pub udp_rate: u32,
    /// One probe at a time, each started this long after the one before (nc -z -i): for a
    /// host that must not see a burst. `None`: as fast as the window allows.
    pub interval: Option<Duration>,
}

impl ScanConfig {
    /// A TCP scan of `ports` with the defaults: 1 s timeout, one retry.
    pub fn new(host: impl Into<String>, target: IpAddr, ports: Vec<u16>) -> Self {
        ScanConfig {
            host: host.into(),
            target,
            ports,
            protocol: Protocol::Tcp,
            timeout: Duration::from_secs(1),
            retries: 1,
            threads: None,
            max_parallel: None,
            udp_rate: DEFAULT_UDP_RATE,
            interval: None,
        }
    }
}

/// UDP probes per second, under the kernel's default ICMP error budget of 1000/s
/// (`net.ipv4.icmp_msgs_per_sec`), so port unreachables are not dropped at the target.
pub const DEFAULT_UDP_RATE: u32 = 800;

/// One port's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortResult {
    pub port: u16,
    pub state: PortState,
    pub reason: Reason,
    /// Name from `/etc/services`, when it has one.
    pub service: Option<String>,
}

/// Everything a scan found.
#[derive(Clone, Debug, Serialize)]
pub struct ScanReport {
    pub host: String,
    pub address: IpAddr,
    pub protocol: Protocol,
    /// Every port scanned, ascending.
    pub ports: Vec<PortResult>,
    pub elapsed: Duration,
    /// Worker threads used.
    pub threads: usize,
    /// Most probes in flight on one worker.
    pub peak_in_flight: usize,
    /// Ports probed again because nothing came back the first time.
    pub retried: usize,
}

impl ScanReport {
    pub fn count(&self, state: PortState) -> usize {
        self.ports.iter().filter(|p| p.state == state).count()
    }
}

/// Progress of a running scan, for a progress display: probes finished and to do.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
}

/// Resolve `host` for a scan or ping: an IP literal as is, a name by getaddrinfo(3), the
/// first address of the family asked for.
pub fn resolve(host: &str, version: IpVersion) -> Result<IpAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let fits = |ip: &IpAddr| match version {
        IpVersion::Any => true,
        IpVersion::V4 => ip.is_ipv4(),
        IpVersion::V6 => ip.is_ipv6(),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if fits(&ip) {
            Ok(ip)
        } else {
            Err(Error::Usage(format!(
                "{ip} is not an IPv{} address",
                if version == IpVersion::V4 { 4 } else { 6 }
            )))
        };
    }
    let found: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| Error::Io {
            op: "resolve",
            target: host.to_string(),
            err: std::io::Error::new(std::io::ErrorKind::NotFound, os_error_text(&e)),
        })?
        .map(|a| a.ip())
        .collect();
    let chosen = found.iter().copied().find(fits).ok_or_else(|| Error::Io {
        op: "resolve",
        target: host.to_string(),
        err: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no address of the requested family",
        ),
    })?;
    narrate!(
        "getaddrinfo({host}) = {} -> using {chosen}",
        found
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(chosen)
}

/// Scan `config.ports` of `config.target`; `progress` counts probes as they finish.
/// Blocks the calling thread (run it on a thread of its own in async code).
pub fn scan(config: &ScanConfig, progress: &Progress) -> Result<ScanReport> {
    if config.ports.is_empty() {
        return Err(Error::Usage("no ports to scan".into()));
    }
    if config.timeout.is_zero() {
        return Err(Error::Usage("the timeout must be above zero".into()));
    }
    let started = Instant::now();
    let udp = config.protocol == Protocol::Udp;
    let threads = config
        .threads
        .filter(|_| config.interval.is_none())
        .unwrap_or_else(|| {
            if config.interval.is_some() {
                return 1;
            }
            if udp {
                1
            } else {
                std::thread::available_parallelism().map_or(2, |n| n.get())
            }
        })
        .clamp(1, config.ports.len().div_ceil(64).max(1));
    let fd_limit = crate::server::raise_fd_limit().unwrap_or(1024);
    // Leave room for what the process already holds and for the workers' epoll fds.
    let by_fds = usize::try_from(fd_limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(64)
        / threads;
    let mut window_cap = by_fds.clamp(1, 4096);
    if let Some(m) = config.max_parallel {
        window_cap = window_cap.min((m / threads).max(1));
    }
    if config.interval.is_some() {
        window_cap = 1;
    }
    let window = window_cap.min(if udp { 64 } else { 256 });
    narrate!(
        "scan {} {} ports of {}: {threads} threads, up to {window_cap} probes in flight each \
         (RLIMIT_NOFILE {fd_limit}), timeout {:?}",
        config.ports.len(),
        config.protocol,
        config.target,
        config.timeout
    );

    let outcomes: Vec<AtomicU8> = config.ports.iter().map(|_| AtomicU8::new(0)).collect();
    progress
        .total
        .store(config.ports.len() as u64, Ordering::Relaxed);
    progress.done.store(0, Ordering::Relaxed);
    let target = SocketAddr::new(config.target, 0);
    let per_thread_gap = |rate: u32| -> Duration {
        if let Some(i) = config.interval {
            i
        } else if udp {
            Duration::from_secs_f64(f64::from(threads as u32) / f64::from(rate.max(1)))
        } else {
            Duration::ZERO
        }
    };
    let mut rate = config.udp_rate.max(1);
    let first = engine::Job {
        target,
        udp,
        timeout: config.timeout,
        gap: per_thread_gap(rate),
        window,
        window_cap,
        ports: &config.ports,
        outcomes: &outcomes,
        done: &progress.done,
    };
    let stats = engine::run(&first, threads).map_err(scan_error(config))?;
    let mut peak = stats.peak_in_flight;
    narrate!(
        "pass 1: {} answered after waiting, {} silent, peak {} in flight",
        stats.answered_late,
        stats.timed_out,
        stats.peak_in_flight
    );

    // Ports nothing answered get asked again (UDP more slowly: lost ICMP errors are the
    // usual reason a closed UDP port looks silent).
    let mut retried = 0;
    for pass in 0..config.retries {
        let silent: Vec<usize> = (0..config.ports.len())
            .filter(|&i| {
                Reason::from_u8(outcomes[i].load(Ordering::Relaxed)).is_some_and(Reason::is_silence)
            })
            .collect();
        if silent.is_empty() {
            break;
        }
        retried += silent.len();
        rate = (rate / 2).max(1);
        let ports: Vec<u16> = silent.iter().map(|&i| config.ports[i]).collect();
        let again: Vec<AtomicU8> = ports.iter().map(|_| AtomicU8::new(0)).collect();
        let done = AtomicU64::new(0);
        let job = engine::Job {
            ports: &ports,
            outcomes: &again,
            done: &done,
            gap: per_thread_gap(rate),
            window: window.min(ports.len()),
            ..first
        };
        let stats =
            engine::run(&job, threads.min(ports.len().div_ceil(64))).map_err(scan_error(config))?;
        peak = peak.max(stats.peak_in_flight);
        narrate!(
            "retry {}: {} ports, {} still silent",
            pass + 1,
            ports.len(),
            stats.timed_out
        );
        for (k, &i) in silent.iter().enumerate() {
            outcomes[i].store(again[k].load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    let names = ServiceNames::system();
    let mut ports: Vec<PortResult> = config
        .ports
        .iter()
        .zip(&outcomes)
        .map(|(&port, o)| {
            // Every port has an outcome once the engine returned Ok; a missing one would be
            // a bug, reported as the most cautious state rather than a panic.
            let reason = Reason::from_u8(o.load(Ordering::Relaxed)).unwrap_or(if udp {
                Reason::NoUdpResponse
            } else {
                Reason::NoResponse
            });
            PortResult {
                port,
                state: reason.state(),
                reason,
                service: names.name(port, config.protocol).map(str::to_string),
            }
        })
        .collect();
    ports.sort_unstable_by_key(|p| p.port);
    ports.dedup_by_key(|p| p.port);
    Ok(ScanReport {
        host: config.host.clone(),
        address: config.target,
        protocol: config.protocol,
        ports,
        elapsed: started.elapsed(),
        threads,
        peak_in_flight: peak,
        retried,
    })
}

fn scan_error(config: &ScanConfig) -> impl Fn(std::io::Error) -> Error + '_ {
    move |err| Error::Io {
        op: "scan",
        target: format!("{} ({})", config.host, config.target),
        err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_their_byte() {
        for n in 0..=255u8 {
            if let Some(r) = Reason::from_u8(n) {
                assert_eq!(r as u8, n);
            }
        }
        assert_eq!(Reason::from_u8(0), None);
        assert_eq!(Reason::SelfConnect.state(), PortState::Closed);
        assert_eq!(Reason::NoUdpResponse.state(), PortState::OpenFiltered);
        assert_eq!(Reason::SelfConnect.to_string(), "self-connect");
        assert_eq!(Reason::Refused.to_string(), "conn-refused");
        assert_eq!(Reason::NoUdpResponse.to_string(), "no-response");
    }

    #[test]
    fn a_loopback_scan_finds_listeners_and_nothing_else() {
        let listeners: Vec<std::net::TcpListener> = (0..3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let open: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        let lo = *open.iter().min().unwrap();
        let hi = *open.iter().max().unwrap();
        let ports: Vec<u16> = (lo.saturating_sub(50).max(1)..=hi.saturating_add(50)).collect();
        let cfg = ScanConfig::new("127.0.0.1", "127.0.0.1".parse().unwrap(), ports.clone());
        let progress = Progress::default();
        let report = scan(&cfg, &progress).unwrap();
        let found: Vec<u16> = report
            .ports
            .iter()
            .filter(|p| p.state == PortState::Open)
            .map(|p| p.port)
            .collect();
        // Other tests may listen in the same range at the same time: every listener of ours
        // is found, and every port found open is one somebody listens on.
        for p in &open {
            assert!(found.contains(p), "port {p} not found open: {found:?}");
        }
        for p in &found {
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", *p)).is_err(),
                "port {p} reported open but nothing listens there"
            );
        }
        assert_eq!(report.ports.len(), ports.len());
        assert_eq!(progress.done.load(Ordering::Relaxed), ports.len() as u64);
    }
}
