//! `sockbox ping`: ICMP echo to a host, or the time `connect(2)` takes to a TCP port or a
//! Unix socket.
//!
//! [`ping`] sends a probe every interval, reports each answer (or its absence) to a callback
//! as it happens, and returns the totals when `count` probes are done or the `stop` future
//! resolves (Ctrl-C), so the caller can always print a summary. ICMP probes overlap: a
//! request goes out every interval whether or not the previous one was answered, as ping(8)
//! does; replies are matched by sequence number (and identifier, on a raw socket). Connect
//! probes run one after the other, as tcping's do.
//!
//! Packets are built and read by [`icmp`] and replies matched to requests by `track.rs`
//! (both pure code); the socket is opened by `socket.rs` (datagram ICMP socket, else raw);
//! connect probes live in `connect.rs`.

mod connect;
pub mod icmp;
mod socket;
mod track;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use socket2::SockAddr;

use crate::addr::{Address, Endpoint, IpVersion, Options, UnixType};
use crate::error::{Error, Result};
use crate::narrate;
use crate::peer::Cred;
use connect::ConnectTarget;
pub use socket::IcmpSocketKind;
use track::{Match, SentAt, Tracker};

/// What to ping.
#[derive(Clone, Debug, PartialEq, Eq)]
// One per run: an `Address` inline costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Target {
    /// ICMP echo to a host name or address.
    Icmp { host: String, version: IpVersion },
    /// Time connects to a `tcp:`/`tcp4:`/`tcp6:` or Unix (`unix:`, `seqpacket:`,
    /// `unix-dgram:`) address.
    Connect(Address),
}

impl Target {
    /// Read a ping target: an IP address or host name (ICMP), or an address of the grammar
    /// (`tcp:HOST:PORT`, `unix:/path`, `seqpacket:@name`, `icmp6:HOST`, ...).
    pub fn parse(arg: &str) -> Result<Target> {
        let bare = arg.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(Target::Icmp {
                host: bare.to_string(),
                version: IpVersion::Any,
            });
        }
        if !arg.contains(':') {
            if arg.is_empty() || arg.starts_with('/') || arg.starts_with('@') {
                return Err(Error::Usage(format!(
                    "ping {arg:?}: give a host, tcp:HOST:PORT or unix:/path"
                )));
            }
            return Ok(Target::Icmp {
                host: arg.to_string(),
                version: IpVersion::Any,
            });
        }
        let addr: Address = arg.parse()?;
        match &addr.endpoint {
            Endpoint::Icmp { v6, host } => Ok(Target::Icmp {
                host: host.clone(),
                version: if *v6 { IpVersion::V6 } else { IpVersion::V4 },
            }),
            Endpoint::Tcp(t) if t.host.is_none() => Err(Error::Usage(format!(
                "{addr}: ping needs a host: tcp:HOST:{}",
                t.port
            ))),
            Endpoint::Tcp(_) | Endpoint::Unix(..) => {
                let extra = Options {
                    timeout: None,
                    ..addr.options.clone()
                };
                if extra != Options::default() || addr.role.is_some() {
                    return Err(Error::Usage(format!(
                        "{addr}: ping takes no options other than timeout="
                    )));
                }
                Ok(Target::Connect(addr))
            }
            _ => Err(Error::Usage(format!(
                "{addr}: ping works with a host (ICMP), tcp:HOST:PORT and unix:, seqpacket:, \
                 unix-dgram: addresses, not {}",
                addr.endpoint.kind()
            ))),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Icmp { host, .. } => f.write_str(host),
            Target::Connect(a) => write!(f, "{a}"),
        }
    }
}

/// How to ping.
#[derive(Clone, Debug)]
pub struct PingConfig {
    /// Stop after this many probes (`None`: until stopped).
    pub count: Option<u64>,
    /// Time between probe starts.
    pub interval: Duration,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// ICMP payload bytes (56 gives the classic 64-byte ICMP message).
    pub size: usize,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            count: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            size: 56,
        }
    }
}

/// The shortest interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// How a ping reaches its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Icmp(IcmpSocketKind),
    TcpConnect,
    UnixConnect(UnixType),
}

impl Method {
    /// `icmp`, `tcp` or `unix`.
    pub fn kind(self) -> &'static str {
        match self {
            Method::Icmp(_) => "icmp",
            Method::TcpConnect => "tcp",
            Method::UnixConnect(_) => "unix",
        }
    }

    /// The socket type used: `SOCK_DGRAM`, `SOCK_RAW`, `SOCK_STREAM`, `SOCK_SEQPACKET`.
    pub fn socket(self) -> &'static str {
        match self {
            Method::Icmp(k) => k.as_str(),
            Method::TcpConnect | Method::UnixConnect(UnixType::Stream) => "SOCK_STREAM",
            Method::UnixConnect(UnixType::Seqpacket) => "SOCK_SEQPACKET",
            Method::UnixConnect(UnixType::Dgram) => "SOCK_DGRAM",
        }
    }
}

/// What is being pinged, once resolved: reported before the first probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The target as the user gave it.
    pub target: String,
    /// The address probed: an IP, `IP:PORT`, a path or `@name`.
    pub address: String,
    pub method: Method,
    /// ICMP payload bytes (0 for connect pings).
    pub size: usize,
    /// True for an IPv6 ICMP ping.
    pub v6: bool,
}

/// One answered probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Round trip: send to kernel receive time (ICMP), or the `connect(2)` call (connect).
    pub rtt: Duration,
    /// TTL / hop limit of the reply, when known (ICMP).
    pub ttl: Option<u8>,
    /// ICMP message bytes received (0 for connect pings).
    pub bytes: usize,
    /// Who answered.
    pub from: String,
    /// A second reply to the same request.
    pub duplicate: bool,
    /// The ICMPv4 checksum of the reply is wrong.
    pub bad_checksum: bool,
    /// The reply's payload differs from what was sent.
    pub bad_payload: bool,
    /// The listening process (Unix stream and seqpacket connect pings).
    pub listener: Option<Cred>,
}

/// The outcome of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Reply(Reply),
    /// No answer within the timeout.
    Timeout(Duration),
    /// An error answered instead: refused, unreachable, time exceeded, a send error.
    Failed {
        /// Who said so, when a router or host did.
        from: Option<String>,
        error: String,
    },
}

/// One probe, reported as it completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Sequence number, from 1.
    pub seq: u64,
    pub outcome: Outcome,
}

/// What [`ping`] reports while it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Start(Header),
    Probe(Probe),
}

/// Minimum, mean, maximum and mean deviation of round-trip times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RttStats {
    pub min: Duration,
    pub avg: Duration,
    pub max: Duration,
    /// sqrt(mean(rtt²) − mean(rtt)²), as iputils computes its `mdev`.
    pub mdev: Duration,
}

impl RttStats {
    /// `None` for no samples.
    pub fn from_samples(samples: &[Duration]) -> Option<RttStats> {
        let n = samples.len() as f64;
        if samples.is_empty() {
            return None;
        }
        let secs: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        let mean = secs.iter().sum::<f64>() / n;
        let mean_sq = secs.iter().map(|s| s * s).sum::<f64>() / n;
        let mdev = (mean_sq - mean * mean).max(0.0).sqrt();
        Some(RttStats {
            min: *samples.iter().min()?,
            avg: Duration::from_secs_f64(mean),
            max: *samples.iter().max()?,
            mdev: Duration::from_secs_f64(mdev),
        })
    }
}

/// Totals of a finished (or stopped) ping.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub header: Header,
    pub transmitted: u64,
    /// Probes answered (duplicates not counted).
    pub received: u64,
    pub duplicates: u64,
    /// Probes answered by an error (unreachable, refused, ...).
    pub errors: u64,
    /// From the first probe to the end.
    pub elapsed: Duration,
    pub rtt: Option<RttStats>,
}

impl Summary {
    /// Share of probes without a reply, in percent.
    pub fn loss_percent(&self) -> f64 {
        if self.transmitted == 0 {
            0.0
        } else {
            100.0 * (self.transmitted - self.received.min(self.transmitted)) as f64
                / self.transmitted as f64
        }
    }
}

/// Check a configuration before anything is opened.
pub fn validate(target: &Target, cfg: &PingConfig) -> Result<()> {
    if cfg.count == Some(0) {
        return Err(Error::Usage("-c must be at least 1".into()));
    }
    if cfg.interval < MIN_INTERVAL {
        return Err(Error::Usage(format!(
            "the interval must be at least {} ms",
            MIN_INTERVAL.as_millis()
        )));
    }
    if cfg.timeout.is_zero() {
        return Err(Error::Usage("the timeout must be above zero".into()));
    }
    if let Target::Icmp { version, .. } = target {
        let max = icmp::max_payload(*version == IpVersion::V6);
        if cfg.size > max {
            return Err(Error::Usage(format!(
                "-s {}: an echo request carries at most {max} bytes",
                cfg.size
            )));
        }
    }
    Ok(())
}

/// Ping `target` until `count` probes are done or `stop` resolves; every event goes to
/// `on_event` as it happens. Fails only when the target cannot be resolved or the socket
/// cannot be opened; unanswered probes are part of the summary, not errors.
pub async fn ping(
    target: &Target,
    cfg: &PingConfig,
    stop: impl Future<Output = ()>,
    on_event: impl FnMut(&Event),
) -> Result<Summary> {
    validate(target, cfg)?;
    match target {
        Target::Icmp { host, version } => {
            let h = host.clone();
            let v = *version;
            let ip = tokio::task::spawn_blocking(move || crate::scan::resolve(&h, v))
                .await
                .map_err(|e| Error::Refused(format!("resolving {host}: {e}")))??;
            icmp_ping(host, ip, cfg, stop, on_event).await
        }
        Target::Connect(addr) => {
            let timeout = addr.options.timeout.unwrap_or(cfg.timeout);
            let (connect_target, method) = connect_target(addr).await?;
            let cfg = PingConfig {
                timeout,
                ..cfg.clone()
            };
            connect_ping(addr, connect_target, method, &cfg, stop, on_event).await
        }
    }
}

async fn connect_target(addr: &Address) -> Result<(ConnectTarget, Method)> {
    match &addr.endpoint {
        Endpoint::Tcp(t) => {
            let host = t.host.clone().unwrap_or_default();
            let version = t.version;
            let ip = tokio::task::spawn_blocking(move || crate::scan::resolve(&host, version))
                .await
                .map_err(|e| Error::Refused(format!("resolving {addr}: {e}")))??;
            Ok((
                ConnectTarget::Tcp(SocketAddr::new(ip, t.port)),
                Method::TcpConnect,
            ))
        }
        Endpoint::Unix(ty, name) => Ok((
            ConnectTarget::Unix {
                ty: *ty,
                name: name.clone(),
            },
            Method::UnixConnect(*ty),
        )),
        _ => Err(Error::Usage(format!("{addr}: not a connect ping target"))),
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn connect_ping(
    addr: &Address,
    target: ConnectTarget,
    method: Method,
    cfg: &PingConfig,
    stop: impl Future<Output = ()>,
    mut on_event: impl FnMut(&Event),
) -> Result<Summary> {
    let header = Header {
        target: addr.to_string(),
        address: target.shown(),
        method,
        size: 0,
        v6: false,
    };
    on_event(&Event::Start(header.clone()));
    tokio::pin!(stop);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut errors = 0u64;
    let mut samples = Vec::new();
    while cfg.count.is_none_or(|c| sent < c) {
        let probe_start = tokio::time::Instant::now();
        let t = target.clone();
        let timeout = cfg.timeout;
        let job = tokio::task::spawn_blocking(move || connect::probe(&t, timeout));
        let (took, result) = tokio::select! {
            r = job => r.map_err(|e| Error::Refused(format!("connect probe: {e}")))?,
            _ = &mut stop => break,
        };
        sent += 1;
        let outcome = match result {
            Ok(c) => {
                samples.push(took);
                Outcome::Reply(Reply {
                    rtt: took,
                    ttl: None,
                    bytes: 0,
                    from: target.shown(),
                    duplicate: false,
                    bad_checksum: false,
                    bad_payload: false,
                    listener: c.listener,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Outcome::Timeout(timeout),
            Err(e) => {
                errors += 1;
                Outcome::Failed {
                    from: Some(target.shown()),
                    error: connect_error(&e, &target),
                }
            }
        };
        on_event(&Event::Probe(Probe { seq: sent, outcome }));
        if cfg.count.is_some_and(|c| sent >= c) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(probe_start + cfg.interval) => {}
            _ = &mut stop => break,
        }
    }
    Ok(Summary {
        header,
        transmitted: sent,
        received: samples.len() as u64,
        duplicates: 0,
        errors,
        elapsed: started.elapsed(),
        rtt: RttStats::from_samples(&samples),
    })
}

/// A failed connect in words, as the rest of sockbox words errors.
fn connect_error(e: &std::io::Error, target: &ConnectTarget) -> String {
    let shown = match target {
        ConnectTarget::Tcp(a) => format!("tcp:{a}"),
        ConnectTarget::Unix { name, .. } => name.to_string(),
    };
    cause("connect", &shown, e)
}

/// The words the library's error type gives `err` (the usual cause of each errno), without
/// the "op target: " prefix.
fn cause(op: &'static str, target: &str, err: &std::io::Error) -> String {
    let copy = match err.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::new(err.kind(), err.to_string()),
    };
    let full = crate::error::io_err(op, target)(copy).to_string();
    let prefix = format!("{op} {target}: ");
    full.strip_prefix(&prefix).unwrap_or(&full).to_string()
}

async fn icmp_ping(
    host: &str,
    ip: IpAddr,
    cfg: &PingConfig,
    stop: impl Future<Output = ()>,
    mut on_event: impl FnMut(&Event),
) -> Result<Summary> {
    let v6 = ip.is_ipv6();
    let mut sock = socket::open(v6)?;
    let header = Header {
        target: host.to_string(),
        address: ip.to_string(),
        method: Method::Icmp(sock.kind),
        size: cfg.size,
        v6,
    };
    on_event(&Event::Start(header.clone()));
    let raw = sock.kind == IcmpSocketKind::Raw;
    // A raw socket sees every echo reply the host gets: ours carry this identifier. The
    // datagram socket's identifier is chosen by the kernel, which filters for us.
    let ident = (std::process::id() as u16)
        ^ (SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u16));
    let to = SockAddr::from(SocketAddr::new(ip, 0));
    let mut buf = vec![0u8; 65536 + 64];
    let mut tracker = Tracker::new(cfg.timeout);
    let mut samples = Vec::new();
    let (mut sent, mut duplicates, mut errors) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut next_send = tokio::time::Instant::now();
    tokio::pin!(stop);
    loop {
        let more = cfg.count.is_none_or(|c| sent < c);
        let next_deadline = tracker.next_deadline().map(tokio::time::Instant::from_std);
        if !more && next_deadline.is_none() {
            break;
        }
        tokio::select! {
            biased;
            _ = &mut stop => break,
            r = sock.recv(&mut buf) => {
                let got = r.map_err(|e| Error::Io {
                    op: "recvmsg",
                    target: format!("icmp:{ip}"),
                    err: e,
                })?;
                let len = got.len.min(buf.len());
                let packet = match icmp::parse(v6, &buf[..len], raw && !v6) {
                    Ok(p) => p,
                    Err(e) => {
                        narrate!("ignored a packet from {:?}: {e}", got.from);
                        continue;
                    }
                };
                let from = packet.source.or(got.from);
                match packet.message {
                    icmp::Message::EchoReply { id, seq: wire, payload } => {
                        if (raw && id != ident) || from != Some(ip) {
                            continue;
                        }
                        let (seq, at, duplicate) = match tracker.reply(wire) {
                            Match::First { seq, at } => (seq, at, false),
                            Match::Duplicate { seq, at } => (seq, at, true),
                            Match::Late { seq, at } => {
                                narrate!(
                                    "late reply to icmp_seq={seq} after {:.3} ms (already counted lost)",
                                    at.mono.elapsed().as_secs_f64() * 1e3
                                );
                                continue;
                            }
                            Match::Unknown => continue,
                        };
                        // The kernel's receive timestamp against the send time; the monotonic
                        // clock if there is no timestamp or the wall clock stepped back.
                        let rtt = got
                            .at
                            .and_then(|t| t.duration_since(at.wall).ok())
                            .unwrap_or_else(|| at.mono.elapsed());
                        if duplicate {
                            duplicates += 1;
                        } else {
                            samples.push(rtt);
                        }
                        let bad_payload = payload.len() != cfg.size
                            || payload.iter().enumerate().any(|(i, &b)| b != icmp::payload_byte(i));
                        on_event(&Event::Probe(Probe {
                            seq,
                            outcome: Outcome::Reply(Reply {
                                rtt,
                                ttl: packet.ttl.or(got.ttl),
                                bytes: packet.icmp_len,
                                from: ip.to_string(),
                                duplicate,
                                bad_checksum: !packet.checksum_ok,
                                bad_payload,
                                listener: None,
                            }),
                        }));
                    }
                    icmp::Message::Error { trouble, request: Some((id, wire)) } => {
                        if raw && id != ident {
                            continue;
                        }
                        let Some(seq) = tracker.error(wire) else {
                            continue;
                        };
                        errors += 1;
                        on_event(&Event::Probe(Probe {
                            seq,
                            outcome: Outcome::Failed {
                                from: from.map(|a| a.to_string()),
                                error: trouble.describe(v6),
                            },
                        }));
                    }
                    // Our own requests (a raw socket on loopback sees them), errors about
                    // other packets, and everything else.
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(next_send), if more => {
                let seq = sent + 1;
                let packet = icmp::echo_request(v6, ident, seq as u16, cfg.size);
                let at = SentAt { wall: SystemTime::now(), mono: Instant::now() };
                let r = sock.send(&packet, &to).await;
                sent = seq;
                next_send += cfg.interval;
                // Behind schedule (a slow send, a suspended process): do not burst to catch up.
                let now = tokio::time::Instant::now();
                if next_send < now {
                    next_send = now;
                }
                match r {
                    Ok(()) => tracker.sent(seq, at),
                    Err(e) => {
                        narrate!("sendto(fd {}, {ip}) = {e}", sock.raw_fd());
                        tracker.not_sent(seq, at);
                        errors += 1;
                        on_event(&Event::Probe(Probe {
                            seq,
                            outcome: Outcome::Failed {
                                from: None,
                                error: format!("sendto: {}", cause("sendto", &ip.to_string(), &e)),
                            },
                        }));
                    }
                }
            }
            _ = sleep_until(next_deadline), if next_deadline.is_some() => {
                for seq in tracker.expire(Instant::now()) {
                    on_event(&Event::Probe(Probe {
                        seq,
                        outcome: Outcome::Timeout(cfg.timeout),
                    }));
                }
            }
        }
    }
    Ok(Summary {
        header,
        transmitted: sent,
        received: samples.len() as u64,
        duplicates,
        errors,
        elapsed: started.elapsed(),
        rtt: RttStats::from_samples(&samples),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_hosts_or_addresses() {
        let icmp = |h: &str| Target::Icmp {
            host: h.into(),
            version: IpVersion::Any,
        };
        assert_eq!(Target::parse("127.0.0.1").unwrap(), icmp("127.0.0.1"));
        assert_eq!(Target::parse("::1").unwrap(), icmp("::1"));
        assert_eq!(Target::parse("[::1]").unwrap(), icmp("::1"));
        assert_eq!(Target::parse("localhost").unwrap(), icmp("localhost"));
        assert_eq!(
            Target::parse("icmp6:localhost").unwrap(),
            Target::Icmp {
                host: "localhost".into(),
                version: IpVersion::V6
            }
        );
        assert!(matches!(
            Target::parse("tcp:127.0.0.1:22").unwrap(),
            Target::Connect(_)
        ));
        assert!(matches!(
            Target::parse("seqpacket:@x").unwrap(),
            Target::Connect(_)
        ));
        assert!(matches!(
            Target::parse("unix:/run/x.sock,timeout=1s").unwrap(),
            Target::Connect(_)
        ));
        for bad in [
            "udp:127.0.0.1:53",
            "tcp:22",
            "/run/x",
            "unix:/x,mode=0600",
            "",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
        }
    }

    #[test]
    fn rtt_statistics_follow_iputils() {
        let ms = |v: f64| Duration::from_secs_f64(v / 1e3);
        let s = RttStats::from_samples(&[ms(1.0), ms(2.0), ms(3.0)]).unwrap();
        assert_eq!(s.min, ms(1.0));
        assert_eq!(s.max, ms(3.0));
        assert!((s.avg.as_secs_f64() * 1e3 - 2.0).abs() < 1e-9);
        // sqrt((1+4+9)/3 - 4) = sqrt(2/3)
        assert!((s.mdev.as_secs_f64() * 1e3 - (2.0f64 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(RttStats::from_samples(&[]), None);
    }

    #[test]
    fn bad_configurations_are_usage_errors() {
        let t = Target::parse("127.0.0.1").unwrap();
        let bad = [
            PingConfig {
                count: Some(0),
                ..PingConfig::default()
            },
            PingConfig {
                interval: Duration::ZERO,
                ..PingConfig::default()
            },
            PingConfig {
                size: 70000,
                ..PingConfig::default()
            },
        ];
        for cfg in bad {
            assert!(validate(&t, &cfg).unwrap_err().is_usage());
        }
    }

    #[tokio::test]
    async fn a_closed_tcp_port_fails_every_probe() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let t = Target::parse(&format!("tcp:127.0.0.1:{port}")).unwrap();
        let cfg = PingConfig {
            count: Some(2),
            interval: Duration::from_millis(10),
            ..PingConfig::default()
        };
        let mut events = Vec::new();
        let s = ping(&t, &cfg, std::future::pending(), |e| events.push(e.clone()))
            .await
            .unwrap();
        assert_eq!((s.transmitted, s.received, s.errors), (2, 0, 2));
        assert_eq!(events.len(), 3);
        match &events[1] {
            Event::Probe(Probe {
                seq: 1,
                outcome: Outcome::Failed { error, .. },
            }) => assert!(error.contains("refused"), "{error}"),
            e => panic!("{e:?}"),
        }
    }
}
