//! `sockbox bench`: throughput, round-trip latency and connection rate of every local
//! transport, measured on this machine, and of TCP and UDP between two hosts.
//!
//! A [`Plan`] says what to measure (transports, message sizes, how long, where the two ends
//! run); [`run`] measures it and returns a [`Report`]: plain data (serde `Serialize`) that the
//! binary prints as a table, JSON or an SVG chart ([`plot`]). Nothing here prints.
//!
//! Every measurement runs its two ends on two plain threads (no async runtime in the measured
//! path), optionally pinned with `sched_setaffinity(2)`: where the two ends run changes
//! small-message latency 5-10x on a VM (waking a task on the other vCPU costs tens of
//! microseconds), so the plan can ask for one CPU, two CPUs, or both in turn. Buffers are
//! allocated before the hot loops start and reused; the loops allocate nothing per message.
//!
//! A measurement warms up first (a quarter of its duration, at most 200 ms, not counted), then
//! counts for the duration. The phases are one shared atomic (`Phase`) the coordinating
//! thread flips; hot loops read it with a relaxed load per message.
//!
//! Files: [`transports`] opens each transport as a connected pair; `throughput.rs`,
//! `latency.rs` and `connect_rate.rs` are the three measurements; [`remote`] runs TCP and UDP
//! against `sockbox bench --serve` on another host; [`plot`] draws the chart.

pub mod plot;
pub mod remote;
pub mod transports;

mod connect_rate;
mod latency;
mod throughput;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use serde::Serialize;

pub use transports::Transport;

use crate::{Error, Result};

/// The message sizes measured when none are given: 64 B, 4 KiB, 64 KiB, 1 MiB.
pub const DEFAULT_SIZES: [usize; 4] = [64, 4096, 65536, 1 << 20];
/// The round-trip message size when none is given.
pub const DEFAULT_LATENCY_SIZE: usize = 64;
/// How long each measurement counts when no duration is given (the default matrix of about
/// fifty measurements then takes well under a minute).
pub const DEFAULT_DURATION: Duration = Duration::from_millis(300);
/// The largest message any measurement accepts (a stream transport carries any size; this
/// bounds the buffers).
pub const MAX_SIZE: usize = 64 << 20;

/// Where the two ends of each measurement run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// The scheduler decides (and may move them).
    Unpinned,
    /// Both ends pinned to one CPU: every hand-over is a context switch on that CPU.
    SameCpu,
    /// The two ends pinned to two different CPUs: every hand-over wakes the other CPU.
    CrossCpu,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::Unpinned => "unpinned",
            Placement::SameCpu => "same-cpu",
            Placement::CrossCpu => "cross-cpu",
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of the three measurements to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measures {
    pub throughput: bool,
    pub latency: bool,
    /// Connections per second, for the kinds that connect (tcp4, tcp6, unix, seqpacket).
    pub connect: bool,
}

impl Measures {
    pub const ALL: Measures = Measures {
        throughput: true,
        latency: true,
        connect: true,
    };
}

impl FromStr for Measures {
    type Err = Error;

    /// A comma-separated list of `throughput`, `latency`, `connect`.
    fn from_str(s: &str) -> Result<Self> {
        let mut m = Measures {
            throughput: false,
            latency: false,
            connect: false,
        };
        for word in s.split(',').map(str::trim) {
            match word {
                "throughput" => m.throughput = true,
                "latency" => m.latency = true,
                "connect" => m.connect = true,
                _ => {
                    return Err(Error::Usage(format!(
                        "unknown measurement '{word}': expected throughput, latency or connect \
                         (comma-separated)"
                    )))
                }
            }
        }
        Ok(m)
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    pub transports: Vec<Transport>,
    /// Bytes per write (stream kinds) or per message (datagram kinds); a datagram kind
    /// measures a size above its limit at the limit instead, once.
    pub sizes: Vec<usize>,
    /// Bytes per round-trip message.
    pub latency_size: usize,
    /// How long each measurement counts (after its warm-up).
    pub duration: Duration,
    /// One run of the whole matrix per placement, in this order.
    pub placements: Vec<Placement>,
    pub measures: Measures,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            transports: Transport::ALL.to_vec(),
            sizes: DEFAULT_SIZES.to_vec(),
            latency_size: DEFAULT_LATENCY_SIZE,
            duration: DEFAULT_DURATION,
            placements: vec![Placement::Unpinned],
            measures: Measures::ALL,
        }
    }
}

/// One measurement of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    /// `size` bytes per write; `limited` when `size` is the transport's message limit, measured
    /// in place of larger requested sizes.
    Throughput {
        size: usize,
        limited: bool,
    },
    Latency {
        size: usize,
    },
    Connect,
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Test::Throughput { size, .. } => write!(f, "throughput {}", format_size(size)),
            Test::Latency { size } => write!(f, "round trip {}", format_size(size)),
            Test::Connect => f.write_str("connections"),
        }
    }
}

/// A measurement about to start, for progress reporting.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub placement: Placement,
    pub transport: Transport,
    pub test: Test,
    /// 0-based position in the plan, and the number of steps in all.
    pub index: usize,
    pub total: usize,
}

impl Plan {
    /// Checks what can be checked before anything is opened (exit 2 when wrong).
    pub fn validate(&self) -> Result<()> {
        if self.transports.is_empty() {
            return Err(Error::Usage("no transport to measure".into()));
        }
        if let Some(&bad) = self.sizes.iter().find(|&&s| s == 0 || s > MAX_SIZE) {
            return Err(Error::Usage(format!(
                "message size {bad} is out of range: 1 byte to {}",
                format_size(MAX_SIZE)
            )));
        }
        if self.measures.throughput && self.sizes.is_empty() {
            return Err(Error::Usage("no message size to measure".into()));
        }
        if self.latency_size == 0 || self.latency_size > transports::UDP_MAX_PAYLOAD {
            return Err(Error::Usage(format!(
                "round-trip size {} is out of range: 1 to {} bytes (the largest UDP datagram)",
                self.latency_size,
                transports::UDP_MAX_PAYLOAD
            )));
        }
        if self.duration < Duration::from_millis(10) || self.duration > Duration::from_secs(3600) {
            return Err(Error::Usage(
                "the duration of each measurement must be between 10ms and 1h".into(),
            ));
        }
        if self.placements.is_empty() {
            return Err(Error::Usage("no placement to measure".into()));
        }
        Ok(())
    }

    /// The measurements of one transport, in order: throughput per size (sizes above the
    /// transport's message limit become one measurement at the limit), round trip, connect.
    pub fn tests(&self, transport: Transport, max_message: Option<usize>) -> Vec<Test> {
        let mut tests = Vec::new();
        if self.measures.throughput {
            let mut sizes: Vec<(usize, bool)> = self
                .sizes
                .iter()
                .map(|&s| match max_message {
                    Some(max) if s > max => (max, true),
                    _ => (s, false),
                })
                .collect();
            sizes.sort_unstable();
            // A size asked for exactly equal to the limit is not "limited": keep the first.
            sizes.dedup_by_key(|&mut (s, _)| s);
            tests.extend(
                sizes
                    .into_iter()
                    .map(|(size, limited)| Test::Throughput { size, limited }),
            );
        }
        if self.measures.latency {
            tests.push(Test::Latency {
                size: self.latency_size,
            });
        }
        if self.measures.connect && transport.connectable() {
            tests.push(Test::Connect);
        }
        tests
    }
}

/// The machine the figures were measured on: they mean little without it.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// CPUs this process may run on.
    pub cpus: usize,
    /// `uname -r`.
    pub kernel: String,
    /// 1, 5 and 15 minute load averages when the run started (`/proc/loadavg`).
    pub load_average: [f64; 3],
}

impl Machine {
    /// Reads the CPU count (`sched_getaffinity(2)`), `/proc/sys/kernel/osrelease` and
    /// `/proc/loadavg`.
    pub fn probe() -> Machine {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let mut load_average = [0.0; 3];
        if let Ok(s) = std::fs::read_to_string("/proc/loadavg") {
            for (slot, word) in load_average.iter_mut().zip(s.split_whitespace()) {
                *slot = word.parse().unwrap_or(0.0);
            }
        }
        Machine {
            cpus: allowed_cpus().map_or(0, |c| c.len()),
            kernel,
            load_average,
        }
    }
}

/// Everything one `sockbox bench` measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    /// How long each measurement counted, in milliseconds.
    pub duration_ms: u64,
    /// The message sizes asked for (datagram kinds measure those above their limit at it).
    pub sizes: Vec<usize>,
    /// Bytes per round-trip message.
    pub latency_size: usize,
    /// True when SIGINT/SIGTERM stopped the run: what was measured is kept.
    pub interrupted: bool,
    /// One per placement.
    pub runs: Vec<Run>,
}

/// The matrix measured under one placement.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub placement: Placement,
    /// The CPUs of the two ends (sender and receiver, or client and echo) when pinned.
    pub cpus: Option<[usize; 2]>,
    pub transports: Vec<TransportReport>,
}

/// What one transport measured.
#[derive(Clone, Debug, Serialize)]
pub struct TransportReport {
    pub transport: Transport,
    /// The largest message the transport carries whole (datagram kinds), in bytes.
    pub max_message: Option<usize>,
    pub throughput: Vec<Throughput>,
    pub latency: Option<Latency>,
    pub connect: Option<ConnectRate>,
    /// Measurements that failed, each as `what: error`; the others still ran.
    pub errors: Vec<String>,
}

/// One throughput measurement: a sender writes `size`-byte messages as fast as it can, a
/// receiver drains them; counted at the receiver.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Throughput {
    /// Bytes per write or message.
    pub size: usize,
    /// True when `size` is the transport's message limit, measured instead of a larger size.
    pub limited: bool,
    /// Bytes received while counting.
    pub bytes: u64,
    /// Messages received (stream kinds: bytes / size).
    pub messages: u64,
    /// Seconds counted, at the receiver.
    pub seconds: f64,
    pub mib_per_s: f64,
    pub messages_per_s: f64,
    /// Messages the sender wrote while counting.
    pub sent_messages: u64,
    /// Datagrams sent and never received (UDP only: the others do not drop).
    pub lost_messages: Option<u64>,
}

impl Throughput {
    fn new(size: usize, limited: bool, rx: Received, sent_messages: u64, lossy: bool) -> Self {
        let seconds = rx.seconds;
        let per_s = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
        Throughput {
            size,
            limited,
            bytes: rx.bytes,
            messages: rx.messages,
            seconds,
            mib_per_s: per_s(rx.bytes as f64 / (1024.0 * 1024.0)),
            messages_per_s: per_s(rx.messages as f64),
            sent_messages,
            lost_messages: lossy.then(|| sent_messages.saturating_sub(rx.messages)),
        }
    }
}

/// Round-trip times of `size`-byte messages: one in flight, echoed back whole.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Latency {
    pub size: usize,
    /// Round trips recorded.
    pub samples: u64,
    /// Round trips given up on (UDP: no answer within 100 ms; the message is sent again).
    pub lost: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// Connections per second: connect, accept, the server closes, the client sees end of stream
/// and closes; one at a time.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConnectRate {
    pub connections: u64,
    pub seconds: f64,
    pub per_s: f64,
}

/// What a receiver counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Received {
    pub bytes: u64,
    pub messages: u64,
    pub seconds: f64,
}

/// Measure `plan`. `progress` is told before each measurement starts; `cancel` (set from a
/// signal handler) stops the run between measurements and cuts the current one short, and the
/// report keeps what was measured, with `interrupted` set.
pub fn run(plan: &Plan, cancel: &AtomicBool, progress: &mut dyn FnMut(&Step)) -> Result<Report> {
    plan.validate()?;
    let machine = Machine::probe();
    let mut limits = Vec::with_capacity(plan.transports.len());
    for &t in &plan.transports {
        limits.push(
            t.max_message()
                .map_err(crate::error::io_err("probe the message limit of", t.name()))?,
        );
    }
    let mut cpus = Vec::with_capacity(plan.placements.len());
    for &p in &plan.placements {
        cpus.push(cpus_for(p)?);
    }
    let total = plan.placements.len()
        * plan
            .transports
            .iter()
            .zip(&limits)
            .map(|(&t, &max)| plan.tests(t, max).len())
            .sum::<usize>();
    let timing = Timing::for_duration(plan.duration);
    let mut index = 0;
    let mut runs = Vec::new();
    'runs: for (&placement, &pins) in plan.placements.iter().zip(&cpus) {
        let mut run = Run {
            placement,
            cpus: pins,
            transports: Vec::new(),
        };
        for (&transport, &max_message) in plan.transports.iter().zip(&limits) {
            let mut tr = TransportReport {
                transport,
                max_message,
                throughput: Vec::new(),
                latency: None,
                connect: None,
                errors: Vec::new(),
            };
            for test in plan.tests(transport, max_message) {
                if cancel.load(Ordering::Relaxed) {
                    if !tr.throughput.is_empty() || tr.latency.is_some() || tr.connect.is_some() {
                        run.transports.push(tr);
                    }
                    runs.push(run);
                    break 'runs;
                }
                progress(&Step {
                    placement,
                    transport,
                    test,
                    index,
                    total,
                });
                index += 1;
                let env = Env {
                    cpus: pins,
                    timing,
                    cancel,
                };
                let outcome = match test {
                    Test::Throughput { size, limited } => {
                        throughput::measure(transport, size, limited, &env)
                            .map(|t| tr.throughput.push(t))
                    }
                    Test::Latency { size } => {
                        latency::measure(transport, size, &env).map(|l| tr.latency = Some(l))
                    }
                    Test::Connect => {
                        connect_rate::measure(transport, &env).map(|c| tr.connect = Some(c))
                    }
                };
                if let Err(e) = outcome {
                    tr.errors.push(format!("{test}: {e}"));
                }
            }
            run.transports.push(tr);
        }
        runs.push(run);
    }
    Ok(Report {
        machine,
        duration_ms: plan.duration.as_millis() as u64,
        sizes: if plan.measures.throughput {
            plan.sizes.clone()
        } else {
            Vec::new()
        },
        latency_size: plan.latency_size,
        interrupted: cancel.load(Ordering::Relaxed),
        runs,
    })
}

/// The folklore, checked on one run: a Unix stream socket against TCP over 127.0.0.1.
#[derive(Clone, Debug, PartialEq)]
pub struct UnixVsTcp {
    /// Unix stream MiB/s over tcp4 MiB/s, at each size both measured.
    pub throughput: Vec<(usize, f64)>,
    /// Round-trip p50 of unix and of tcp4, in microseconds.
    pub p50_us: Option<(f64, f64)>,
    /// Unix connections per second over tcp4's.
    pub connects: Option<f64>,
    /// The run pinned its ends: both transports were measured under the same placement.
    /// Unpinned, the scheduler may have put the ends on one CPU for one transport and on two
    /// for the other, which changes round trips 5-10x.
    pub pinned: bool,
}

impl UnixVsTcp {
    /// `None` unless the run measured both `unix` and `tcp4`.
    pub fn of(run: &Run) -> Option<UnixVsTcp> {
        let find = |t| run.transports.iter().find(|r| r.transport == t);
        let (unix, tcp) = (find(Transport::Unix)?, find(Transport::Tcp4)?);
        let throughput = unix
            .throughput
            .iter()
            .filter_map(|u| {
                let t = tcp.throughput.iter().find(|t| t.size == u.size)?;
                (t.mib_per_s > 0.0).then(|| (u.size, u.mib_per_s / t.mib_per_s))
            })
            .collect();
        let p50_us = match (&unix.latency, &tcp.latency) {
            (Some(u), Some(t)) if u.samples > 0 && t.samples > 0 => Some((u.p50_us, t.p50_us)),
            _ => None,
        };
        let connects = match (&unix.connect, &tcp.connect) {
            (Some(u), Some(t)) if t.per_s > 0.0 => Some(u.per_s / t.per_s),
            _ => None,
        };
        Some(UnixVsTcp {
            throughput,
            p50_us,
            connects,
            pinned: run.placement != Placement::Unpinned,
        })
    }

    /// Unix answered faster (p50) and moved more bytes at most sizes.
    pub fn unix_wins(&self) -> bool {
        let faster = self.p50_us.is_some_and(|(u, t)| u < t);
        let more = self.throughput.iter().filter(|(_, r)| *r > 1.0).count();
        faster && more * 2 > self.throughput.len()
    }

    /// One sentence with the ratios, e.g. `unix vs tcp4: 1.31x the bytes per second at
    /// 64 KiB, ...`.
    pub fn sentence(&self) -> String {
        let mut parts = Vec::new();
        let by_size: Vec<String> = self
            .throughput
            .iter()
            .map(|(s, r)| format!("{r:.2}x at {}", format_size(*s)))
            .collect();
        if !by_size.is_empty() {
            parts.push(format!("throughput {}", by_size.join(", ")));
        }
        if let Some((u, t)) = self.p50_us {
            parts.push(format!("round trip p50 {u:.1} us vs {t:.1} us"));
        }
        if let Some(r) = self.connects {
            parts.push(format!("{r:.2}x the connections per second"));
        }
        format!("unix vs tcp4: {}", parts.join("; "))
    }
}

/// Warm-up and counting time of one measurement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub warmup: Duration,
    pub duration: Duration,
}

impl Timing {
    pub fn for_duration(duration: Duration) -> Timing {
        Timing {
            warmup: (duration / 4).min(Duration::from_millis(200)),
            duration,
        }
    }
}

/// What every measurement needs besides its transport.
pub(crate) struct Env<'a> {
    pub cpus: Option<[usize; 2]>,
    pub timing: Timing,
    pub cancel: &'a AtomicBool,
}

/// The phase of a measurement, shared by the coordinating thread and the two ends.
pub(crate) struct Phase(AtomicU8);

impl Phase {
    const WARMUP: u8 = 0;
    const MEASURE: u8 = 1;
    const STOP: u8 = 2;

    pub fn warming_up() -> Phase {
        Phase(AtomicU8::new(Self::WARMUP))
    }

    /// Counting from the start (the server side of a remote test, which has no warm-up).
    pub fn measuring() -> Phase {
        Phase(AtomicU8::new(Self::MEASURE))
    }

    #[inline]
    pub fn counting(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= Self::MEASURE
    }

    #[inline]
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed) == Self::STOP
    }

    pub fn start_counting(&self) {
        let _ = self.0.compare_exchange(
            Self::WARMUP,
            Self::MEASURE,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    pub fn stop(&self) {
        self.0.store(Self::STOP, Ordering::Relaxed);
    }
}

/// How often threads blocked in a receive look at the phase (`SO_RCVTIMEO`, accept timeout).
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Run `a` and `b` on two threads (pinned to `env.cpus` when set) while this thread keeps
/// time: warm-up, counting, stop. Stops early when `env.cancel` is set or either end returns
/// (an error on one end ends the other too: it drops its fds, and the phase says stop).
pub(crate) fn run_pair<A, B>(
    env: &Env<'_>,
    phase: &Phase,
    a: impl FnOnce() -> Result<A> + Send,
    b: impl FnOnce() -> Result<B> + Send,
) -> Result<(A, B)>
where
    A: Send,
    B: Send,
{
    let (cpu_a, cpu_b) = match env.cpus {
        Some([x, y]) => (Some(x), Some(y)),
        None => (None, None),
    };
    thread::scope(|s| {
        let ha = thread::Builder::new()
            .name("bench-a".into())
            .spawn_scoped(s, move || {
                pin(cpu_a)?;
                a()
            })
            .map_err(crate::error::io_err("spawn", "a benchmark thread"))?;
        let hb = thread::Builder::new()
            .name("bench-b".into())
            .spawn_scoped(s, move || {
                pin(cpu_b)?;
                b()
            })
            .map_err(crate::error::io_err("spawn", "a benchmark thread"))?;
        let ended = || ha.is_finished() || hb.is_finished();
        if sleep_watching(env.timing.warmup, env.cancel, &ended) {
            phase.start_counting();
            let counting = env.timing.duration;
            sleep_watching(counting, env.cancel, &ended);
        }
        phase.stop();
        let ra = join(ha);
        let rb = join(hb);
        Ok((ra?, rb?))
    })
}

/// Run `f` on one thread while this thread keeps time (the remote client: the other end is on
/// the other host).
pub(crate) fn run_one<T: Send>(
    timing: Timing,
    cancel: &AtomicBool,
    phase: &Phase,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    thread::scope(|s| {
        let h = thread::Builder::new()
            .name("bench".into())
            .spawn_scoped(s, f)
            .map_err(crate::error::io_err("spawn", "a benchmark thread"))?;
        let ended = || h.is_finished();
        if sleep_watching(timing.warmup, cancel, &ended) {
            phase.start_counting();
            sleep_watching(timing.duration, cancel, &ended);
        }
        phase.stop();
        join(h)
    })
}

fn join<T>(h: thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    h.join()
        .unwrap_or_else(|_| Err(Error::Bench("a benchmark thread panicked".into())))
}

/// Sleep for `d` in short steps; false when cut short by `cancel` or `ended()`.
fn sleep_watching(d: Duration, cancel: &AtomicBool, ended: &dyn Fn() -> bool) -> bool {
    let until = Instant::now() + d;
    loop {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        if cancel.load(Ordering::Relaxed) || ended() {
            return false;
        }
        thread::sleep((until - now).min(Duration::from_millis(10)));
    }
}

/// The CPUs this process may run on (`sched_getaffinity(2)`).
pub fn allowed_cpus() -> Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0))
        .map_err(|e| crate::error::io_err("sched_getaffinity", "this process")(e.into()))?;
    Ok((0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect())
}

/// The two CPUs of a placement: the first allowed CPU twice, or the first two.
pub fn cpus_for(p: Placement) -> Result<Option<[usize; 2]>> {
    let cpus = allowed_cpus()?;
    match p {
        Placement::Unpinned => Ok(None),
        Placement::SameCpu => Ok(cpus.first().map(|&c| [c, c])),
        Placement::CrossCpu => match cpus[..] {
            [a, b, ..] => Ok(Some([a, b])),
            _ => Err(Error::Usage(format!(
                "--pin cross needs two CPUs, and this process may run on {} only",
                cpus.len()
            ))),
        },
    }
}

/// Pin the calling thread to `cpu` (`sched_setaffinity(2)` on thread id 0 = this thread).
fn pin(cpu: Option<usize>) -> Result<()> {
    let Some(cpu) = cpu else { return Ok(()) };
    let mut set = CpuSet::new();
    set.set(cpu)
        .and_then(|()| sched_setaffinity(Pid::from_raw(0), &set))
        .map_err(|e| crate::error::io_err("sched_setaffinity", format!("CPU {cpu}"))(e.into()))
}

/// A figure to three significant places for tables and charts: `4210`, `12.5`, `0.31`.
pub fn three_figures(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// `64 B`, `4 KiB`, `1 MiB`, `65507 B`: exact binary units when the size is a multiple.
pub fn format_size(n: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if n >= unit && n % unit == 0 {
            return format!("{} {name}", n / unit);
        }
    }
    format!("{n} B")
}

/// Parses a comma-separated list of sizes as `rcvbuf=` takes them: `64,4k,64k,1m`.
pub fn parse_sizes(s: &str) -> Result<Vec<usize>> {
    let mut sizes = Vec::new();
    for word in s.split(',').map(str::trim) {
        let n = crate::addr::parse_size(word)?;
        if n == 0 || n > MAX_SIZE {
            return Err(Error::Usage(format!(
                "message size '{word}' is out of range: 1 byte to {}",
                format_size(MAX_SIZE)
            )));
        }
        if !sizes.contains(&n) {
            sizes.push(n);
        }
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_above_a_datagram_limit_become_one_measurement_at_the_limit() {
        let plan = Plan::default();
        let udp = plan.tests(Transport::Udp4, Some(65507));
        assert_eq!(
            udp,
            vec![
                Test::Throughput {
                    size: 64,
                    limited: false
                },
                Test::Throughput {
                    size: 4096,
                    limited: false
                },
                Test::Throughput {
                    size: 65507,
                    limited: true
                },
                Test::Latency { size: 64 },
            ]
        );
        let tcp = plan.tests(Transport::Tcp4, None);
        assert_eq!(tcp.len(), 6, "four sizes, latency, connect: {tcp:?}");
        assert_eq!(tcp.last(), Some(&Test::Connect));
    }

    #[test]
    fn sizes_print_in_exact_binary_units() {
        assert_eq!(format_size(64), "64 B");
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(1 << 20), "1 MiB");
        assert_eq!(format_size(65507), "65507 B");
        assert_eq!(format_size(1536), "1536 B");
    }

    #[test]
    fn size_lists_parse_and_refuse_zero() {
        assert_eq!(
            parse_sizes("64,4k,64KiB,1m").unwrap(),
            vec![64, 4096, 65536, 1 << 20]
        );
        assert!(parse_sizes("0").unwrap_err().is_usage());
        assert!(parse_sizes("4k,,8k").unwrap_err().is_usage());
        assert!(parse_sizes("1g").unwrap_err().is_usage());
    }

    #[test]
    fn unix_wins_only_when_faster_and_ahead_at_most_sizes() {
        let c = |ratios: &[f64], p50: (f64, f64)| UnixVsTcp {
            throughput: ratios.iter().map(|&r| (64, r)).collect(),
            p50_us: Some(p50),
            connects: None,
            pinned: true,
        };
        assert!(c(&[0.9, 1.3, 3.6], (4.2, 5.6)).unix_wins());
        assert!(
            !c(&[0.9, 1.3, 3.6], (79.7, 76.0)).unix_wins(),
            "slower round trip"
        );
        assert!(
            !c(&[0.7, 0.8, 1.5], (4.2, 5.6)).unix_wins(),
            "behind at most sizes"
        );
        let s = c(&[1.31], (8.5, 13.0)).sentence();
        assert_eq!(
            s,
            "unix vs tcp4: throughput 1.31x at 64 B; round trip p50 8.5 us vs 13.0 us"
        );
    }

    #[test]
    fn measures_parse() {
        let m: Measures = "latency,connect".parse().unwrap();
        assert!(!m.throughput && m.latency && m.connect);
        assert!("latency,speed".parse::<Measures>().unwrap_err().is_usage());
    }

    #[test]
    fn a_same_cpu_placement_pins_both_ends_to_one_allowed_cpu() {
        let allowed = allowed_cpus().unwrap();
        let [a, b] = cpus_for(Placement::SameCpu).unwrap().unwrap();
        assert_eq!(a, b);
        assert!(allowed.contains(&a));
        assert_eq!(cpus_for(Placement::Unpinned).unwrap(), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn size_lists_round_trip(sizes in proptest::collection::vec(1usize..=MAX_SIZE, 1..6)) {
            let text: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
            let mut want = sizes.clone();
            want.dedup();
            let mut seen = Vec::new();
            want.retain(|s| if seen.contains(s) { false } else { seen.push(*s); true });
            prop_assert_eq!(parse_sizes(&text.join(",")).unwrap(), want);
        }

        #[test]
        fn size_lists_never_panic(s in "[0-9kKmMiB, ]{0,24}") {
            let _ = parse_sizes(&s);
        }
    }
}
