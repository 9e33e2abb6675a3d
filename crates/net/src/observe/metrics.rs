//! Prometheus metrics of this host's sockets: what `sockbox exporter` serves and
//! `sockbox top --once --prometheus` prints (OpenMetrics text, the `prometheus-client` crate).
//!
//! A [`Metrics`] keeps state across scrapes so its counters never go backwards: the last
//! `tcp_info` counters of every TCP socket by cookie, and totals per process group (comm,
//! uid or cgroup). Each scrape takes one sock_diag dump with `tcp_info` and owners and adds
//! each socket's growth since the previous scrape (its whole count when it is new) to its
//! group; a socket that closes adds what its destroy event carries beyond what the last dump
//! saw, so a connection's bytes stay counted after it is gone. [`Metrics::drain_events`]
//! reads the destroy broadcasts between scrapes (call it every second or so) so the socket
//! buffer does not overflow; overflows (ENOBUFS) are counted as `sockbox_lost_events_total`.
//!
//! Cardinality is bounded by design; no label names a connection:
//! - per-group series exist for the top `top_k` groups by bytes moved, plus `group="other"`,
//!   which adds up the growth of every group outside the top-K at each scrape (so it too only
//!   grows; a group entering the top-K starts a new series at its full total);
//! - TCP listeners get a `port` label only for ports in the allow list, the rest are summed
//!   under `port="other"`; Unix listeners are summed per kind.
//!
//! [`max_series`] is the most series one host can produce.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use super::events::DestroyEvents;
use crate::inspect::{self, Kind, KindSet, Query, Snapshot, SocketEntry, State};
use crate::Result;

/// What a per-group series is keyed by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupBy {
    /// The owning process's name (`/proc/PID/comm`).
    #[default]
    Comm,
    /// The socket's owner uid.
    Uid,
    /// The owning process's cgroup (the unified hierarchy's path in `/proc/PID/cgroup`).
    Cgroup,
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "comm" => Ok(GroupBy::Comm),
            "uid" => Ok(GroupBy::Uid),
            "cgroup" => Ok(GroupBy::Cgroup),
            _ => Err(format!("'{s}': expected comm, uid or cgroup")),
        }
    }
}

/// What to export.
#[derive(Clone, Debug)]
pub struct Config {
    pub group_by: GroupBy,
    /// Groups with their own series; the rest are summed as `other`.
    pub top_k: usize,
    /// TCP listening ports that get their own `port` label.
    pub ports: Vec<u16>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            group_by: GroupBy::Comm,
            top_k: 10,
            ports: Vec::new(),
        }
    }
}

/// Buckets of the closed-connection byte histogram: 1 KiB to 1 GiB, times 4.
const BYTE_BUCKETS: u16 = 11;
/// Buckets of the closed-connection RTT histogram: 100 us to 6.6 s, times 4.
const RTT_BUCKETS: u16 = 9;
/// Kind and state pairs `sockbox_sockets` can have: every kind times every named state (far
/// fewer occur: a Unix socket is never in `syn-sent`).
const KIND_STATES: usize = Kind::ALL.len() * State::NAMED.len();

/// The most series one host can produce with `top_k` groups and `ports` allowed ports.
pub fn max_series(top_k: usize, ports: usize) -> usize {
    let groups = top_k + 1;
    // Listener series: tcp by port (allowed ones and "other"), unix and seqpacket summed.
    let listeners = 3 * (ports + 1 + 2);
    // A histogram is its buckets, +Inf, _sum and _count.
    let histograms = (BYTE_BUCKETS as usize + 3) + (RTT_BUCKETS as usize + 3);
    // bytes received, sent, retransmitted segments, connections closed; unix queued bytes.
    let per_group = 5 * groups;
    // scrape duration, lost events, unreadable processes.
    let own = 3;
    KIND_STATES + listeners + per_group + histograms + own
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindState {
    kind: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenLabels {
    kind: &'static str,
    port: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabel {
    group: String,
}

/// Counters of one group (or one socket, as last seen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    rx: u64,
    tx: u64,
    retrans: u64,
    closed: u64,
}

impl Counts {
    fn of(e: &SocketEntry) -> Counts {
        let Some(i) = e.tcp_info.as_deref() else {
            return Counts::default();
        };
        Counts {
            rx: i.bytes_received.unwrap_or(0),
            tx: i.bytes_sent.or(i.bytes_acked).unwrap_or(0),
            retrans: u64::from(i.total_retrans),
            closed: 0,
        }
    }

    /// `self - before`, each field at least 0.
    fn since(self, before: Counts) -> Counts {
        Counts {
            rx: self.rx.saturating_sub(before.rx),
            tx: self.tx.saturating_sub(before.tx),
            retrans: self.retrans.saturating_sub(before.retrans),
            closed: self.closed.saturating_sub(before.closed),
        }
    }

    fn add(&mut self, d: Counts) {
        self.rx += d.rx;
        self.tx += d.tx;
        self.retrans += d.retrans;
        self.closed += d.closed;
    }
}

/// A TCP socket as the last dump saw it.
struct Seen {
    group: String,
    counts: Counts,
}

/// The registered metric families.
struct Families {
    sockets: Family<KindState, Gauge>,
    listen_queue: Family<ListenLabels, Gauge>,
    listen_limit: Family<ListenLabels, Gauge>,
    listeners: Family<ListenLabels, Gauge>,
    rx: Family<GroupLabel, Counter>,
    tx: Family<GroupLabel, Counter>,
    retrans: Family<GroupLabel, Counter>,
    closed: Family<GroupLabel, Counter>,
    unix_queued: Family<GroupLabel, Gauge>,
    closed_bytes: Histogram,
    closed_rtt: Histogram,
    scrape: Gauge<f64, std::sync::atomic::AtomicU64>,
    lost: Counter,
    unreadable: Gauge,
}

/// Metrics kept across scrapes (see the module's documentation).
pub struct Metrics {
    config: Config,
    events: DestroyEvents,
    registry: Registry,
    m: Families,
    /// TCP sockets by cookie, as the last dump saw them.
    sockets: HashMap<u64, Seen>,
    /// Everything each group has moved since the exporter started.
    totals: HashMap<String, Counts>,
    /// Each group's totals when the last scrape exported them.
    exported: HashMap<String, Counts>,
    /// The sum of what groups outside the top-K grew by, scrape after scrape.
    other: Counts,
    lost_reported: u64,
    /// The sock_diag sockets and socket owners kept across scrapes (full `/proc` walk at the
    /// start and every 30 s, else incremental).
    sampler: inspect::Sampler,
}

impl Metrics {
    /// Join the destroy groups and register the metrics. The first scrape counts every TCP
    /// socket's bytes since it opened.
    pub fn start(config: Config) -> Result<Self> {
        let events = DestroyEvents::subscribe(KindSet::default().with(Kind::Tcp))?;
        let mut registry = Registry::default();
        let m = Families {
            sockets: Family::default(),
            listen_queue: Family::default(),
            listen_limit: Family::default(),
            listeners: Family::default(),
            rx: Family::default(),
            tx: Family::default(),
            retrans: Family::default(),
            closed: Family::default(),
            unix_queued: Family::default(),
            closed_bytes: Histogram::new(exponential_buckets(1024.0, 4.0, BYTE_BUCKETS)),
            closed_rtt: Histogram::new(exponential_buckets(0.0001, 4.0, RTT_BUCKETS)),
            scrape: Gauge::default(),
            lost: Counter::default(),
            unreadable: Gauge::default(),
        };
        registry.register(
            "sockbox_sockets",
            "Sockets open on the host, by kind and state",
            m.sockets.clone(),
        );
        registry.register(
            "sockbox_listen_queue",
            "Connections waiting to be accepted, summed over the listeners of a kind and port \
             (ports outside --port are summed as \"other\")",
            m.listen_queue.clone(),
        );
        registry.register(
            "sockbox_listen_queue_limit",
            "Listen backlogs (the most connections that can wait), summed as \
             sockbox_listen_queue is",
            m.listen_limit.clone(),
        );
        registry.register(
            "sockbox_listeners",
            "Listening sockets, by kind and port as sockbox_listen_queue",
            m.listeners.clone(),
        );
        registry.register_with_unit(
            "sockbox_tcp_received",
            "TCP payload bytes received by a process group's sockets (tcp_info), closed ones \
             included",
            Unit::Bytes,
            m.rx.clone(),
        );
        registry.register_with_unit(
            "sockbox_tcp_sent",
            "TCP payload bytes sent by a process group's sockets (tcp_info, retransmissions \
             included), closed ones included",
            Unit::Bytes,
            m.tx.clone(),
        );
        registry.register(
            "sockbox_tcp_retransmitted_segments",
            "TCP segments a process group's sockets retransmitted",
            m.retrans.clone(),
        );
        registry.register(
            "sockbox_tcp_connections_closed",
            "TCP connections of a process group that closed",
            m.closed.clone(),
        );
        registry.register_with_unit(
            "sockbox_unix_queued",
            "Bytes waiting to be read in a process group's Unix sockets",
            Unit::Bytes,
            m.unix_queued.clone(),
        );
        registry.register_with_unit(
            "sockbox_tcp_closed_connection",
            "Bytes a closed TCP connection moved (received plus sent), from its destroy event",
            Unit::Bytes,
            m.closed_bytes.clone(),
        );
        registry.register_with_unit(
            "sockbox_tcp_closed_connection_rtt",
            "Smoothed round-trip time of a closed TCP connection, from its destroy event",
            Unit::Seconds,
            m.closed_rtt.clone(),
        );
        registry.register_with_unit(
            "sockbox_scrape_duration",
            "Time this scrape took to dump the sockets and walk /proc",
            Unit::Seconds,
            m.scrape.clone(),
        );
        registry.register(
            "sockbox_lost_events",
            "Times the kernel dropped destroy events (ENOBUFS): closes whose last bytes are \
             missing",
            m.lost.clone(),
        );
        registry.register(
            "sockbox_unreadable_processes",
            "Processes whose descriptors could not be read (their sockets count under their \
             uid)",
            m.unreadable.clone(),
        );
        Ok(Metrics {
            config,
            events,
            registry,
            m,
            sockets: HashMap::new(),
            totals: HashMap::new(),
            exported: HashMap::new(),
            other: Counts::default(),
            lost_reported: 0,
            sampler: inspect::Sampler::default(),
        })
    }

    /// Read the destroy broadcasts queued now and count the closed connections' final
    /// counters. Never waits.
    pub fn drain_events(&mut self) -> Result<()> {
        let got = self.events.drain()?;
        for end in got.destroyed.iter().filter(|e| e.kind == Kind::Tcp) {
            let last = Counts::of(end);
            let (group, before) = match self.sockets.remove(&end.cookie) {
                Some(seen) => (seen.group, seen.counts),
                // Opened and closed since the last dump: its owner was never seen.
                None => (uid_group(self.config.group_by, end.uid), Counts::default()),
            };
            let mut d = last.since(before);
            d.closed = 1;
            self.totals.entry(group).or_default().add(d);
            self.m.closed_bytes.observe((last.rx + last.tx) as f64);
            if let Some(i) = end.tcp_info.as_deref() {
                self.m.closed_rtt.observe(f64::from(i.rtt_us) / 1e6);
            }
        }
        Ok(())
    }

    /// Dump the sockets, update every metric, and encode them in `format`.
    pub fn scrape(&mut self, format: Format) -> Result<String> {
        let started = Instant::now();
        self.drain_events()?;
        let snap = self.sampler.snapshot(&Query {
            kinds: KindSet::default().or_all(),
            processes: true,
            extended: true,
            ..Query::default()
        })?;
        self.update(&snap);
        self.sampler.recycle(snap);
        self.m.scrape.set(started.elapsed().as_secs_f64());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        Ok(match format {
            Format::OpenMetrics => out,
            Format::Text => openmetrics_to_text(&out),
        })
    }

    fn update(&mut self, snap: &Snapshot) {
        let by = self.config.group_by;
        let mut cgroups: HashMap<u32, String> = HashMap::new();
        let mut group_of = |e: &SocketEntry| -> String {
            match (by, e.owners.first()) {
                (GroupBy::Uid, _) | (_, None) => uid_group(by, e.uid),
                (GroupBy::Comm, Some(o)) => match snap.processes.get(&o.pid) {
                    Some(p) if !p.name.is_empty() => p.name.clone(),
                    _ => uid_group(by, e.uid),
                },
                (GroupBy::Cgroup, Some(o)) => cgroups
                    .entry(o.pid)
                    .or_insert_with(|| cgroup_of(o.pid))
                    .clone(),
            }
        };

        let mut kind_states: HashMap<KindState, i64> = HashMap::new();
        let mut listen: HashMap<ListenLabels, (i64, i64, i64)> = HashMap::new();
        let mut unix_queued: HashMap<String, i64> = HashMap::new();
        let mut alive: HashSet<u64> = HashSet::new();
        for e in snap.shown() {
            *kind_states
                .entry(KindState {
                    kind: e.kind.name(),
                    state: e.state.name(),
                })
                .or_default() += 1;
            if e.is_listening() {
                let port = match (e.kind, e.local.port()) {
                    (Kind::Tcp, Some(p)) if self.config.ports.contains(&p) => p.to_string(),
                    (Kind::Tcp, _) => "other".to_string(),
                    _ => String::new(),
                };
                let l = listen
                    .entry(ListenLabels {
                        kind: e.kind.name(),
                        port,
                    })
                    .or_default();
                l.0 += e.recv_q as i64;
                l.1 += e.send_q as i64;
                l.2 += 1;
                continue;
            }
            if e.kind.is_unix() {
                if e.recv_q > 0 {
                    *unix_queued.entry(group_of(e)).or_default() += e.recv_q as i64;
                }
                continue;
            }
            if e.kind != Kind::Tcp || e.cookie == 0 || e.tcp_info.is_none() {
                continue;
            }
            alive.insert(e.cookie);
            let now = Counts::of(e);
            match self.sockets.get_mut(&e.cookie) {
                Some(seen) => {
                    let d = now.since(seen.counts);
                    seen.counts = now;
                    self.totals.entry(seen.group.clone()).or_default().add(d);
                }
                None => {
                    // New since the last dump. A socket no process holds (orphaned while it
                    // finishes closing) is counted under its uid.
                    let group = group_of(e);
                    self.totals.entry(group.clone()).or_default().add(now);
                    self.sockets.insert(e.cookie, Seen { group, counts: now });
                }
            }
        }
        // Gone without a destroy event (it was lost, or will come): what it moved since the
        // last dump is not known; forget it.
        self.sockets.retain(|c, _| alive.contains(c));

        self.m.sockets.clear();
        for (k, n) in kind_states {
            self.m.sockets.get_or_create(&k).set(n);
        }
        for f in [
            &self.m.listen_queue,
            &self.m.listen_limit,
            &self.m.listeners,
        ] {
            f.clear();
        }
        for (k, (q, limit, n)) in listen {
            self.m.listen_queue.get_or_create(&k).set(q);
            self.m.listen_limit.get_or_create(&k).set(limit);
            self.m.listeners.get_or_create(&k).set(n);
        }

        // Per-group counters: the top-K groups by bytes moved keep their own series.
        let mut ranked: Vec<(&String, &Counts)> = self
            .totals
            .iter()
            .filter(|(_, c)| c.rx + c.tx > 0)
            .collect();
        ranked.sort_by(|a, b| (b.1.rx + b.1.tx).cmp(&(a.1.rx + a.1.tx)).then(a.0.cmp(b.0)));
        let top: HashSet<String> = ranked
            .iter()
            .take(self.config.top_k)
            .map(|(g, _)| (*g).clone())
            .collect();
        for (g, total) in &self.totals {
            let was = self.exported.get(g).copied().unwrap_or_default();
            if !top.contains(g) {
                self.other.add(total.since(was));
            }
        }
        self.exported = self.totals.clone();
        let families = [&self.m.rx, &self.m.tx, &self.m.retrans, &self.m.closed];
        for f in families {
            f.clear();
        }
        let rows = top
            .iter()
            .map(|g| (g.clone(), self.totals[g]))
            .chain([("other".to_string(), self.other)]);
        for (group, c) in rows {
            let l = GroupLabel { group };
            self.m.rx.get_or_create(&l).inc_by(c.rx);
            self.m.tx.get_or_create(&l).inc_by(c.tx);
            self.m.retrans.get_or_create(&l).inc_by(c.retrans);
            self.m.closed.get_or_create(&l).inc_by(c.closed);
        }

        // Unix queues are a gauge: the top-K groups now, the rest summed.
        let mut queued: Vec<(String, i64)> = unix_queued.into_iter().collect();
        queued.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.m.unix_queued.clear();
        let mut rest = 0;
        for (i, (g, q)) in queued.into_iter().enumerate() {
            if i < self.config.top_k {
                self.m
                    .unix_queued
                    .get_or_create(&GroupLabel { group: g })
                    .set(q);
            } else {
                rest += q;
            }
        }
        self.m
            .unix_queued
            .get_or_create(&GroupLabel {
                group: "other".into(),
            })
            .set(rest);

        self.m
            .lost
            .inc_by(self.events.overflows - self.lost_reported);
        self.lost_reported = self.events.overflows;
        self.m.unreadable.set(snap.unreadable_processes as i64);
    }
}

/// The two exposition formats Prometheus reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text (`application/openmetrics-text`), what `prometheus-client`
    /// writes: counters are described without their `_total` suffix, with `# UNIT` lines and
    /// a closing `# EOF`.
    OpenMetrics,
    /// The classic text format 0.0.4 (`text/plain; version=0.0.4`), which node_exporter's
    /// textfile collector and `promtool check metrics` parse: there a counter's HELP and
    /// TYPE name its samples' full name (`..._total`), and there are no UNIT or EOF lines.
    Text,
}

/// OpenMetrics text as the classic text format (see [`Format::Text`]).
pub fn openmetrics_to_text(om: &str) -> String {
    let counters: HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = line
            .strip_prefix("# HELP ")
            .map(|r| ("# HELP ", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("# TYPE ", r)));
        if let Some((tag, rest)) = described {
            let name = rest.split(' ').next().unwrap_or_default();
            if counters.contains(name) {
                out.push_str(tag);
                out.push_str(name);
                out.push_str("_total");
                out.push_str(&rest[name.len()..]);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The group of a socket whose owner could not be seen: its uid.
fn uid_group(by: GroupBy, uid: Option<u32>) -> String {
    match (by, uid) {
        (GroupBy::Uid, Some(u)) => u.to_string(),
        (_, Some(u)) => format!("uid:{u}"),
        (_, None) => "unknown-uid".to_string(),
    }
}

/// The cgroup of a process: the unified hierarchy's path (`0::/PATH` in `/proc/PID/cgroup`),
/// else the first hierarchy's; `pid:N` when it cannot be read.
fn cgroup_of(pid: u32) -> String {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return format!("pid:{pid}");
    };
    let path = |l: &str| l.splitn(3, ':').nth(2).map(str::to_string);
    text.lines()
        .find(|l| l.starts_with("0::"))
        .and_then(path)
        .or_else(|| text.lines().next().and_then(path))
        .unwrap_or_else(|| "/".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn sample(text: &str, name: &str, group: &str) -> Option<f64> {
        let prefix = format!("{name}{{group=\"{group}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.parse().unwrap())
    }

    #[test]
    fn bytes_stay_counted_after_the_connection_closes() {
        let mut m = Metrics::start(Config {
            top_k: 1000,
            ..Config::default()
        })
        .unwrap();
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let comm = comm.trim();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(&[1u8; 100_000]).unwrap();
        let mut got = vec![0u8; 100_000];
        server.read_exact(&mut got).unwrap();
        let first = m.scrape(Format::OpenMetrics).unwrap();
        let sent = sample(&first, "sockbox_tcp_sent_bytes_total", comm).unwrap();
        assert!(sent >= 100_000.0, "{first}");
        client.write_all(&[2u8; 50_000]).unwrap();
        let mut got = vec![0u8; 50_000];
        server.read_exact(&mut got).unwrap();
        drop(client);
        drop(server);
        // The destroy events carry the last 50,000 bytes.
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = m.scrape(Format::OpenMetrics).unwrap();
            let now = sample(&text, "sockbox_tcp_sent_bytes_total", comm).unwrap();
            assert!(now >= sent, "went backwards: {now} < {sent}\n{text}");
            if now >= sent + 50_000.0 {
                assert!(text.ends_with("# EOF\n"));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the closed bytes never came: {text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    #[test]
    fn classic_text_names_counters_in_full_and_drops_unit_and_eof() {
        let om = "# HELP a_bytes Bytes.\n# TYPE a_bytes counter\n# UNIT a_bytes bytes\n\
                  a_bytes_total{group=\"x\"} 5\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP a_bytes_total Bytes.\n# TYPE a_bytes_total counter\n\
             a_bytes_total{group=\"x\"} 5\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n"
        );
    }

    #[test]
    fn series_are_bounded() {
        assert_eq!(max_series(10, 0), KIND_STATES + 9 + 55 + 26 + 3);
        assert!(max_series(10, 5) < 300);
    }

    #[test]
    fn group_by_parses() {
        assert_eq!("uid".parse::<GroupBy>(), Ok(GroupBy::Uid));
        assert!("pid".parse::<GroupBy>().is_err());
    }
}
