//! Benchmarks between two hosts (iperf3's job): `sockbox bench --serve ADDR` on one,
//! `sockbox bench --to ADDR` on the other, for TCP and UDP, with the same measurements and
//! percentiles as the local bench.
//!
//! The client opens one TCP control connection to ADDR and runs its tests one after another
//! over it. The control protocol is JSON, one object per line:
//!
//! ```text
//! server: {"hello":"sockbox-bench","version":1}
//! client: {"test":"throughput","protocol":"udp","size":4096,"duration_ms":1000}
//! server: {"port":40123}              a data socket on the control connection's server address
//!                                     (or {"error":"..."}: that test is skipped)
//!         ... data: the client sends (throughput) or pings while the server echoes (latency)
//! client: {"sent_bytes":123,"sent_messages":45}     when the client is done sending
//! server: {"bytes":120,"messages":44,"seconds":0.98} what the server received (throughput:
//!                                     from its first read to the end; latency: messages echoed)
//! client: the next test, or it closes the connection.
//! ```
//!
//! A TCP data connection ends with `shutdown(SHUT_WR)`; a UDP flow with zero-length datagrams
//! and then the `sent_` line (the server stops reading once the line came and its socket went
//! quiet). The server measures throughput where the bytes arrive; the client measures round
//! trips. The server runs one client at a time, like iperf3, until SIGINT/SIGTERM.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use socket2::{Domain, SockAddr, Socket, Type};

use super::latency::{echo, ping, Buffers, Echoed};
use super::throughput::{pattern, receive, send, Shape};
use super::transports::{timed_out, Rx, Tx, UDP_MAX_PAYLOAD};
use super::{format_size, Latency, Machine, Phase, Received, Throughput, Timing, MAX_SIZE, POLL};
use crate::addr::{InetTarget, IpVersion};
use crate::error::io_err;
use crate::{Error, Result, PEER};

/// The protocol version in the server's greeting.
pub const VERSION: u32 = 1;
const HELLO: &str = "sockbox-bench";
/// How long the server waits for a client's next request.
const IDLE: Duration = Duration::from_secs(60);
/// How long either side waits for a data connection or the first datagram.
const DATA_WAIT: Duration = Duration::from_secs(10);
/// The longest control line accepted.
const MAX_LINE: usize = 64 * 1024;

/// The data protocol of a remote test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Throughput,
    Latency,
}

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    hello: String,
    version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    test: Kind,
    protocol: Protocol,
    size: usize,
    duration_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Ready {
    Port { port: u16 },
    Refused { error: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Sent {
    sent_bytes: u64,
    sent_messages: u64,
}

/// What to measure against a server.
#[derive(Clone, Debug)]
pub struct RemotePlan {
    /// The server's control address.
    pub server: InetTarget,
    pub protocols: Vec<Protocol>,
    pub sizes: Vec<usize>,
    pub latency_size: usize,
    pub duration: Duration,
    pub throughput: bool,
    pub latency: bool,
}

/// One remote throughput measurement.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteThroughput {
    pub protocol: Protocol,
    #[serde(flatten)]
    pub result: Throughput,
}

/// One remote round-trip measurement.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteLatency {
    pub protocol: Protocol,
    #[serde(flatten)]
    pub result: Latency,
}

/// Everything one `sockbox bench --to` measured.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteReport {
    /// The server's control address, as connected to (`tcp:IP:PORT`).
    pub server: String,
    /// This (the client's) machine.
    pub machine: Machine,
    pub duration_ms: u64,
    pub latency_size: usize,
    pub interrupted: bool,
    pub throughput: Vec<RemoteThroughput>,
    pub latency: Vec<RemoteLatency>,
    /// Tests the server refused, as `what: reason`.
    pub errors: Vec<String>,
}

/// A remote test about to start, for progress reporting.
#[derive(Clone, Copy, Debug)]
pub struct RemoteStep {
    pub protocol: Protocol,
    /// `Some(size)` for throughput, `None` for the round trip.
    pub throughput_size: Option<usize>,
    pub index: usize,
    pub total: usize,
}

/// The control connection: JSON lines both ways, every read bounded.
struct Control {
    reader: BufReader<Socket>,
    writer: Socket,
    label: String,
}

impl Control {
    fn new(s: Socket, label: String) -> Result<Control> {
        s.set_read_timeout(Some(POLL))
            .map_err(io_err("set SO_RCVTIMEO on", &label))?;
        let writer = s.try_clone().map_err(io_err("dup", &label))?;
        Ok(Control {
            reader: BufReader::new(s),
            writer,
            label,
        })
    }

    fn send<T: Serialize>(&mut self, msg: &T) -> Result<()> {
        let mut line = serde_json::to_vec(msg).map_err(|e| Error::Bench(e.to_string()))?;
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .map_err(io_err("send on", &self.label))
    }

    /// The next message; `None` when the peer closed the connection between messages.
    fn recv<T: DeserializeOwned>(
        &mut self,
        patience: Duration,
        cancel: &AtomicBool,
    ) -> Result<Option<T>> {
        let deadline = Instant::now() + patience;
        let mut line = Vec::new();
        loop {
            // read_until keeps what it read before a timeout; the next call appends.
            let mut limited = Read::take(&mut self.reader, (MAX_LINE - line.len()) as u64);
            match limited.read_until(b'\n', &mut line) {
                Ok(0) if line.is_empty() => return Ok(None),
                Ok(_) if line.ends_with(b"\n") => break,
                Ok(0) => {
                    return Err(Error::Bench(format!(
                        "{}: the peer closed the connection in the middle of a message",
                        self.label
                    )))
                }
                Ok(_) if line.len() >= MAX_LINE => {
                    return Err(Error::Bench(format!(
                        "{}: a control message longer than {MAX_LINE} bytes",
                        self.label
                    )))
                }
                Ok(_) => {}
                Err(e) if timed_out(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err("receive on", &self.label)(e)),
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Bench("interrupted".into()));
            }
            if Instant::now() >= deadline {
                return Err(Error::Bench(format!(
                    "{}: no answer within {patience:?}",
                    self.label
                )));
            }
        }
        serde_json::from_slice(&line).map(Some).map_err(|e| {
            Error::Bench(format!(
                "{}: not a sockbox bench message ({e}): {:?}",
                self.label,
                String::from_utf8_lossy(&line[..line.len().min(200)])
            ))
        })
    }

    /// The next message, which must come.
    fn expect<T: DeserializeOwned>(
        &mut self,
        patience: Duration,
        cancel: &AtomicBool,
    ) -> Result<T> {
        self.recv(patience, cancel)?
            .ok_or_else(|| Error::Bench(format!("{}: the peer closed the connection", self.label)))
    }

    fn local(&self) -> Result<SocketAddr> {
        sock_addr(self.writer.local_addr(), &self.label)
    }
}

fn sock_addr(a: io::Result<SockAddr>, label: &str) -> Result<SocketAddr> {
    a.map_err(io_err("getsockname", label))?
        .as_socket()
        .ok_or_else(|| Error::Bench(format!("{label}: not an IP socket")))
}

/// Resolve a `tcp:` target to socket addresses of its IP version; no host means every
/// address (to listen) of that version.
fn resolve(t: &InetTarget) -> Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = match &t.host {
        None => vec![match t.version {
            IpVersion::V6 => SocketAddr::from((Ipv6Addr::UNSPECIFIED, t.port)),
            _ => SocketAddr::from((Ipv4Addr::UNSPECIFIED, t.port)),
        }],
        Some(h) => (h.as_str(), t.port)
            .to_socket_addrs()
            .map_err(io_err("resolve", h))?
            .filter(|a| match t.version {
                IpVersion::Any => true,
                IpVersion::V4 => a.is_ipv4(),
                IpVersion::V6 => a.is_ipv6(),
            })
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Error::Bench(format!(
            "{}: no address of the right IP version",
            t.host.as_deref().unwrap_or("")
        )));
    }
    Ok(addrs)
}

fn socket_for(ip: IpAddr, ty: Type, label: &str) -> Result<Socket> {
    let domain = if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    Socket::new(domain, ty, None).map_err(io_err("socket", label))
}

/// `tcp:IP:PORT`, as the address grammar writes it.
fn tcp_label(a: SocketAddr) -> String {
    format!("tcp:{a}")
}

// ---------------------------------------------------------------------------------------------
// The server

/// Serve benchmark clients on `at`, one at a time, until `cancel` is set. Announces
/// `listening on tcp:IP:PORT` (target [`PEER`]); a client's failure is reported as a warning
/// and the server goes on.
pub fn serve(at: &InetTarget, cancel: &AtomicBool) -> Result<()> {
    let addr = resolve(at)?[0];
    let label = tcp_label(addr);
    let listener = socket_for(addr.ip(), Type::STREAM, &label)?;
    listener
        .set_reuse_address(true)
        .map_err(io_err("set SO_REUSEADDR on", &label))?;
    listener
        .bind(&addr.into())
        .and_then(|()| listener.listen(16))
        .map_err(io_err("listen", &label))?;
    listener
        .set_read_timeout(Some(POLL))
        .map_err(io_err("set SO_RCVTIMEO on", &label))?;
    let bound = sock_addr(listener.local_addr(), &label)?;
    tracing::info!(target: PEER, "listening on {}", tcp_label(bound));
    while !cancel.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((s, peer)) => {
                let peer = peer
                    .as_socket()
                    .map_or_else(|| "?".to_string(), |p| p.to_string());
                tracing::info!(target: PEER, "benchmark client {peer}");
                match session(s, &peer, cancel) {
                    Ok(()) => tracing::info!(target: PEER, "benchmark client {peer} left"),
                    Err(e) => tracing::warn!("benchmark client {peer}: {e}"),
                }
            }
            Err(e)
                if timed_out(&e)
                    || matches!(
                        e.raw_os_error(),
                        Some(libc::EINTR) | Some(libc::ECONNABORTED)
                    ) => {}
            Err(e) => return Err(io_err("accept", &label)(e)),
        }
    }
    Ok(())
}

fn session(s: Socket, peer: &str, cancel: &AtomicBool) -> Result<()> {
    let mut ctl = Control::new(s, format!("control connection from {peer}"))?;
    ctl.send(&Hello {
        hello: HELLO.into(),
        version: VERSION,
    })?;
    let local_ip = ctl.local()?.ip();
    while let Some(req) = ctl.recv::<Request>(IDLE, cancel)? {
        if let Err(why) = check(&req) {
            ctl.send(&Ready::Refused { error: why })?;
            continue;
        }
        let received = serve_test(&mut ctl, &req, local_ip, cancel)?;
        ctl.send(&received)?;
        let what = format!(
            "{} {} {}",
            req.protocol,
            kind_name(req.test),
            format_size(req.size)
        );
        match req.test {
            Kind::Throughput => tracing::info!(
                target: PEER,
                "{what}: {:.1} MiB/s from {peer}",
                if received.seconds > 0.0 {
                    received.bytes as f64 / 1048576.0 / received.seconds
                } else {
                    0.0
                }
            ),
            Kind::Latency => {
                tracing::info!(target: PEER, "{what}: echoed {} messages to {peer}", received.messages)
            }
        }
    }
    Ok(())
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Throughput => "throughput",
        Kind::Latency => "round trip",
    }
}

/// What the server refuses to run.
fn check(req: &Request) -> Result<(), String> {
    let max = match req.protocol {
        Protocol::Tcp => MAX_SIZE,
        Protocol::Udp => UDP_MAX_PAYLOAD,
    };
    if req.size == 0 || req.size > max {
        return Err(format!("size {} is out of range (1 to {max})", req.size));
    }
    if req.duration_ms == 0 || req.duration_ms > 3_600_000 {
        return Err(format!("duration {} ms is out of range", req.duration_ms));
    }
    Ok(())
}

fn serve_test(
    ctl: &mut Control,
    req: &Request,
    ip: IpAddr,
    cancel: &AtomicBool,
) -> Result<Received> {
    let label = format!("{} data socket", req.protocol);
    let data = match req.protocol {
        Protocol::Tcp => {
            let l = socket_for(ip, Type::STREAM, &label)?;
            l.bind(&SocketAddr::new(ip, 0).into())
                .and_then(|()| l.listen(1))
                .and_then(|()| l.set_read_timeout(Some(POLL)))
                .map_err(io_err("listen", &label))?;
            ctl.send(&Ready::Port {
                port: sock_addr(l.local_addr(), &label)?.port(),
            })?;
            let s = wait_for(DATA_WAIT, cancel, &label, || l.accept().map(|(s, _)| s))?;
            if req.test == Kind::Latency {
                s.set_tcp_nodelay(true)
                    .map_err(io_err("set TCP_NODELAY on", &label))?;
            }
            s
        }
        Protocol::Udp => {
            let s = socket_for(ip, Type::DGRAM, &label)?;
            s.bind(&SocketAddr::new(ip, 0).into())
                .and_then(|()| s.set_read_timeout(Some(POLL)))
                .map_err(io_err("bind", &label))?;
            ctl.send(&Ready::Port {
                port: sock_addr(s.local_addr(), &label)?.port(),
            })?;
            // The first datagram names the client; connect to it so that only its datagrams
            // arrive and echoes go back to it.
            let mut first = [std::mem::MaybeUninit::<u8>::uninit(); 1];
            let (_, from) = wait_for(DATA_WAIT, cancel, &label, || s.peek_from(&mut first))?;
            s.connect(&from).map_err(io_err("connect", &label))?;
            s
        }
    };
    let stream = req.protocol == Protocol::Tcp;
    let dup = data.try_clone().map_err(io_err("dup", &label))?;
    let rx = Rx::from_socket(data);
    let tx = Tx::from_socket(dup, stream);
    let phase = &Phase::measuring();
    let shape = Shape {
        size: req.size,
        messages: !stream,
        lossy: !stream,
    };
    let mut buf = pattern(match req.test {
        Kind::Throughput => shape.buffer_len(),
        Kind::Latency => req.size,
    });
    thread::scope(|sc| {
        let worker = sc.spawn(move || match req.test {
            Kind::Throughput => receive(&rx, &mut buf, shape, phase),
            Kind::Latency => echo(&rx, &tx, &mut buf, phase).map(|n| Received {
                bytes: n * req.size as u64,
                messages: n,
                seconds: 0.0,
            }),
        });
        let patience = Duration::from_millis(req.duration_ms) + Duration::from_secs(30);
        let sent = ctl.expect::<Sent>(patience, cancel);
        phase.stop();
        let done = worker
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the receiving thread panicked")));
        sent?;
        done.map_err(io_err("receive on", &label))
    })
}

/// Retry `f` while it times out (`SO_RCVTIMEO`), up to `patience` or until `cancel`.
fn wait_for<T>(
    patience: Duration,
    cancel: &AtomicBool,
    label: &str,
    mut f: impl FnMut() -> io::Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + patience;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if timed_out(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("wait on", label)(e)),
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Bench("interrupted".into()));
        }
        if Instant::now() >= deadline {
            return Err(Error::Bench(format!(
                "{label}: the peer did not come within {patience:?}"
            )));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The client

impl RemotePlan {
    /// The tests in order: per protocol, throughput per size (UDP sizes above 65507 become
    /// one test at 65507), then the round trip.
    fn tests(&self) -> Vec<(Protocol, Option<(usize, bool)>)> {
        let mut tests = Vec::new();
        for &p in &self.protocols {
            if self.throughput {
                let mut sizes: Vec<(usize, bool)> = self
                    .sizes
                    .iter()
                    .map(|&s| match p {
                        Protocol::Udp if s > UDP_MAX_PAYLOAD => (UDP_MAX_PAYLOAD, true),
                        _ => (s, false),
                    })
                    .collect();
                sizes.sort_unstable();
                sizes.dedup_by_key(|&mut (s, _)| s);
                tests.extend(sizes.into_iter().map(|s| (p, Some(s))));
            }
            if self.latency {
                tests.push((p, None));
            }
        }
        tests
    }
}

/// Run `plan` against a `sockbox bench --serve` server.
pub fn run(
    plan: &RemotePlan,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&RemoteStep),
) -> Result<RemoteReport> {
    if plan.latency_size == 0 || plan.latency_size > UDP_MAX_PAYLOAD {
        return Err(Error::Usage(format!(
            "round-trip size {} is out of range: 1 to {UDP_MAX_PAYLOAD} bytes",
            plan.latency_size
        )));
    }
    let machine = Machine::probe();
    let addrs = resolve(&plan.server)?;
    let mut last_err = None;
    let mut control = None;
    for a in &addrs {
        let s = socket_for(a.ip(), Type::STREAM, &tcp_label(*a))?;
        match s.connect_timeout(&(*a).into(), Duration::from_secs(5)) {
            Ok(()) => {
                control = Some((s, *a));
                break;
            }
            Err(e) => last_err = Some(io_err("connect", tcp_label(*a))(e)),
        }
    }
    let Some((s, server)) = control else {
        return Err(last_err.unwrap_or_else(|| Error::Bench("no address to connect to".into())));
    };
    let label = tcp_label(server);
    tracing::info!(target: PEER, "connected to {label}");
    let mut ctl = Control::new(s, format!("control connection to {label}"))?;
    let hello: Hello = ctl.expect(DATA_WAIT, cancel)?;
    if hello.hello != HELLO || hello.version != VERSION {
        return Err(Error::Bench(format!(
            "{label} is not a sockbox bench server of version {VERSION} (it said {hello:?})"
        )));
    }
    let mut report = RemoteReport {
        server: label,
        machine,
        duration_ms: plan.duration.as_millis() as u64,
        latency_size: plan.latency_size,
        interrupted: false,
        throughput: Vec::new(),
        latency: Vec::new(),
        errors: Vec::new(),
    };
    let tests = plan.tests();
    for (index, &(protocol, size)) in tests.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        progress(&RemoteStep {
            protocol,
            throughput_size: size.map(|(s, _)| s),
            index,
            total: tests.len(),
        });
        let test_size = size.map_or(plan.latency_size, |(s, _)| s);
        let req = Request {
            test: if size.is_some() {
                Kind::Throughput
            } else {
                Kind::Latency
            },
            protocol,
            size: test_size,
            duration_ms: plan.duration.as_millis() as u64,
        };
        ctl.send(&req)?;
        let port = match ctl.expect::<Ready>(DATA_WAIT, cancel)? {
            Ready::Port { port } => port,
            Ready::Refused { error } => {
                report.errors.push(format!(
                    "{protocol} {} {}: the server refused: {error}",
                    kind_name(req.test),
                    format_size(test_size)
                ));
                continue;
            }
        };
        let data_at = SocketAddr::new(server.ip(), port);
        let end = open_data(protocol, data_at, req.test == Kind::Latency)?;
        match size {
            Some((size, limited)) => {
                let sent = client_throughput(end, size, plan.duration, cancel)?;
                ctl.send(&sent)?;
                let received: Received = ctl.expect(DATA_WAIT * 3, cancel)?;
                let lossy = protocol == Protocol::Udp;
                report.throughput.push(RemoteThroughput {
                    protocol,
                    result: Throughput::new(size, limited, received, sent.sent_messages, lossy),
                });
            }
            None => {
                let (latency, sent) = client_latency(end, plan, protocol, cancel)?;
                ctl.send(&sent)?;
                let _: Received = ctl.expect(DATA_WAIT * 3, cancel)?;
                report.latency.push(RemoteLatency {
                    protocol,
                    result: latency,
                });
            }
        }
    }
    report.interrupted = cancel.load(Ordering::Relaxed);
    Ok(report)
}

/// The client's data socket, connected to the server's data port.
fn open_data(p: Protocol, at: SocketAddr, nodelay: bool) -> Result<(Rx, Tx)> {
    let label = format!("{p} data socket to {at}");
    let (ty, stream) = match p {
        Protocol::Tcp => (Type::STREAM, true),
        Protocol::Udp => (Type::DGRAM, false),
    };
    let s = socket_for(at.ip(), ty, &label)?;
    match p {
        Protocol::Tcp => s.connect_timeout(&at.into(), DATA_WAIT),
        Protocol::Udp => s.connect(&at.into()),
    }
    .map_err(io_err("connect", &label))?;
    if nodelay && stream {
        s.set_tcp_nodelay(true)
            .map_err(io_err("set TCP_NODELAY on", &label))?;
    }
    s.set_read_timeout(Some(POLL))
        .map_err(io_err("set SO_RCVTIMEO on", &label))?;
    let dup = s.try_clone().map_err(io_err("dup", &label))?;
    let tx = Tx::from_socket(dup, stream);
    Ok((Rx::from_socket(s), tx))
}

/// Send for `duration`, then end the data. Counts everything sent: the server counts
/// everything it receives.
fn client_throughput(
    (rx, tx): (Rx, Tx),
    size: usize,
    duration: Duration,
    cancel: &AtomicBool,
) -> Result<Sent> {
    let phase = &Phase::measuring();
    let timing = Timing {
        warmup: Duration::ZERO,
        duration,
    };
    let buf = pattern(size);
    let messages = super::run_one(timing, cancel, phase, move || {
        send(&tx, &buf, phase)
            .map_err(io_err("send on", "the data socket"))
            .and_then(|n| {
                if tx.marks_end_with_a_datagram() {
                    // A few markers; the server also stops on the `sent_` line.
                    for _ in 0..3 {
                        let _ = tx.send_end_marker();
                        thread::sleep(Duration::from_millis(1));
                    }
                    Ok(n)
                } else {
                    tx.finish()
                        .map(|()| n)
                        .map_err(io_err("shut down", "the data socket"))
                }
            })
    })?;
    drop(rx);
    Ok(Sent {
        sent_bytes: messages * size as u64,
        sent_messages: messages,
    })
}

fn client_latency(
    (rx, tx): (Rx, Tx),
    plan: &RemotePlan,
    protocol: Protocol,
    cancel: &AtomicBool,
) -> Result<(Latency, Sent)> {
    let phase = &Phase::warming_up();
    let how = Echoed {
        size: plan.latency_size,
        messages: protocol == Protocol::Udp,
        lossy: protocol == Protocol::Udp,
    };
    let what = format!("{protocol} round trip");
    let mut bufs = Buffers::new(how).map_err(|e| e.named(&what))?;
    let timings = super::run_one(
        Timing::for_duration(plan.duration),
        cancel,
        phase,
        move || {
            let r = ping(&rx, &tx, &mut bufs, how, phase);
            let _ = tx.finish();
            r.map_err(|e| e.named(&what))
        },
    )?;
    let latency = timings.summary(plan.latency_size);
    let sent = Sent {
        sent_bytes: (latency.samples + latency.lost) * plan.latency_size as u64,
        sent_messages: latency.samples + latency.lost,
    };
    Ok((latency, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_have_the_documented_shape() {
        let req = Request {
            test: Kind::Throughput,
            protocol: Protocol::Udp,
            size: 4096,
            duration_ms: 1000,
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"test":"throughput","protocol":"udp","size":4096,"duration_ms":1000}"#
        );
        let ready: Ready = serde_json::from_str(r#"{"port":40123}"#).unwrap();
        assert!(matches!(ready, Ready::Port { port: 40123 }));
        let refused: Ready = serde_json::from_str(r#"{"error":"no"}"#).unwrap();
        assert!(matches!(refused, Ready::Refused { .. }));
        assert!(serde_json::from_str::<Request>(r#"{"test":"speed"}"#).is_err());
    }

    #[test]
    fn a_server_refuses_sizes_it_cannot_carry() {
        let req = |protocol, size| Request {
            test: Kind::Throughput,
            protocol,
            size,
            duration_ms: 100,
        };
        assert!(check(&req(Protocol::Udp, 65508)).is_err());
        assert!(check(&req(Protocol::Udp, 65507)).is_ok());
        assert!(check(&req(Protocol::Tcp, 0)).is_err());
    }

    #[test]
    fn a_client_and_a_server_on_loopback_measure_tcp_and_udp() {
        let cancel = AtomicBool::new(false);
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let target = InetTarget {
            version: IpVersion::V4,
            host: Some("127.0.0.1".into()),
            port,
        };
        thread::scope(|s| {
            let server = s.spawn(|| serve(&target, &cancel));
            let plan = RemotePlan {
                server: target.clone(),
                protocols: vec![Protocol::Tcp, Protocol::Udp],
                sizes: vec![4096, 1 << 20],
                latency_size: 64,
                duration: Duration::from_millis(40),
                throughput: true,
                latency: true,
            };
            // The server binds in its thread: retry the connection for a bounded while.
            let deadline = Instant::now() + Duration::from_secs(10);
            let report = loop {
                match run(&plan, &cancel, &mut |_| {}) {
                    Ok(r) => break r,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            cancel.store(true, Ordering::Relaxed);
            server.join().unwrap().unwrap();
            assert_eq!(report.throughput.len(), 4, "{report:?}");
            let udp_big = &report.throughput[3];
            assert_eq!(udp_big.protocol, Protocol::Udp);
            assert_eq!((udp_big.result.size, udp_big.result.limited), (65507, true));
            for t in &report.throughput {
                assert!(t.result.bytes > 0, "{t:?}");
            }
            assert_eq!(report.latency.len(), 2);
            for l in &report.latency {
                assert!(l.result.samples > 0 && l.result.p50_us > 0.0, "{l:?}");
            }
        });
    }
}
