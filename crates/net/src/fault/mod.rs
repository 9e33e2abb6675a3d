//! Fault injection: a layer on a direction's copy that delays, paces, slices, cuts, resets,
//! stalls or mangles what the relay moves, so a program can be tested against a slow, flaky
//! or dying peer (`relay --latency`, `--rate`, `--reset-after` ...; see docs/faults.md).
//!
//! Like the tap, faults are chosen once, when a direction starts: a connection or direction
//! with none keeps the relay's own path (zero-copy `splice(2)` where it applies). A faulty
//! direction runs `copy`: a reader that stamps each chunk (or message) with the time it is
//! due, a bounded queue (at most the relay's `--buffer` bytes, so a slow reader still slows
//! the writer), and a writer that waits for that time, paces, slices and fires the one-time
//! faults at the byte offset or time asked.
//!
//! Randomness comes from (seed, connection number, direction) ([`rng`]): a run replays with
//! the same `--seed`, however its connections interleave. What fired is kept in a [`Log`].

pub mod accept;
mod copy;
mod fds;
mod log;
mod rate;
mod reset;
pub mod rng;
pub mod spec;

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use log::{Fired, Log};
pub use spec::{DirSpec, Spec, SpecError, Ways};

use crate::endpoint::Medium;
use crate::tap::Dir;
use rate::Pacer;
use rng::{Rng, Stream};

/// How a fault ended its direction on purpose (carried out of the copy as
/// `relay::Fault::Ended`).
#[derive(Debug)]
pub(crate) enum End {
    /// End the whole connection now (a reset, `--half-close full`, `--slow-close`).
    Cut,
    /// The direction is over, but its end of stream is not passed on (`--half-close swallow`).
    KeepSink,
}

/// Which connections get faults.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Who {
    #[default]
    All,
    /// Each connection with this probability (`--faulty P`), drawn from (seed, connection).
    Chance(f64),
    /// These connection numbers (`--faulty-conns 1,4-6`).
    Numbers(Vec<RangeInclusive<u64>>),
}

impl Who {
    /// `1,4-6`.
    pub fn parse_numbers(s: &str) -> Option<Who> {
        let mut v = Vec::new();
        for part in s.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            if a == 0 || b < a {
                return None;
            }
            v.push(a..=b);
        }
        Some(Who::Numbers(v))
    }
}

/// The faults of one run: what was asked, the seed, who gets them, when they are on, and
/// what fired.
#[derive(Debug)]
pub struct Faults {
    spec: Spec,
    seed: u64,
    who: Who,
    /// Faults act from this long after the start (`--faults-after`) ...
    after: Duration,
    /// ... for this long (`--faults-for`).
    length: Option<Duration>,
    /// Flipped by SIGUSR1.
    off: AtomicBool,
    start: Instant,
    next: AtomicU64,
    log: Log,
    /// `--rate-total`: one pacer per direction shared by every connection.
    total: [Option<Arc<Mutex<Pacer>>>; 2],
}

impl Faults {
    pub fn new(
        spec: Spec,
        seed: u64,
        who: Who,
        after: Option<Duration>,
        length: Option<Duration>,
    ) -> Arc<Faults> {
        let start = Instant::now();
        let total = spec
            .rate_total
            .map(|r| r.map(|r| Arc::new(Mutex::new(Pacer::new(r)))));
        Arc::new(Faults {
            spec,
            seed,
            who,
            after: after.unwrap_or_default(),
            length,
            off: AtomicBool::new(false),
            start,
            next: AtomicU64::new(0),
            log: Log::new(start),
            total,
        })
    }

    /// A seed for a run that was given none: from the clock and the process id.
    pub fn random_seed() -> u64 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut r = Rng::new(
            t.as_nanos() as u64,
            u64::from(std::process::id()),
            Stream::Connection,
        );
        // Short enough to retype.
        r.next_u64() % 1_000_000_000
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// SIGUSR1: faults off if they were on, on if off. Returns true when they are now on.
    pub fn toggle(&self) -> bool {
        // The old value of `off` is the new value of "on".
        self.off.fetch_xor(true, Ordering::Relaxed)
    }

    /// Every fault that fired so far.
    pub fn fired(&self) -> Vec<Fired> {
        self.log.fired()
    }

    /// True while faults act: inside the `--faults-after`/`--faults-for` window, not toggled
    /// off.
    pub(crate) fn active(&self) -> bool {
        if self.off.load(Ordering::Relaxed) {
            return false;
        }
        let t = self.start.elapsed();
        t >= self.after && self.length.is_none_or(|l| t < self.after + l)
    }

    /// `--accept reject`: a client was accepted and closed. Numbers it and logs it.
    pub fn rejected(&self) {
        let conn = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.log.add(conn, None, "reject", 0, None);
    }

    /// A connection starts: numbers it, and gives it its faults, or `None` when it has none
    /// (it then takes the relay's own path both ways).
    pub(crate) fn connection(self: &Arc<Self>) -> Option<ConnFaults> {
        let conn = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let chosen = match &self.who {
            Who::All => true,
            Who::Chance(p) => Rng::new(self.seed, conn, Stream::Connection).chance(*p),
            Who::Numbers(v) => v.iter().any(|r| r.contains(&conn)),
        };
        if !chosen {
            crate::narrate!("connection {conn}: no faults");
            return None;
        }
        Some(ConnFaults {
            run: self.clone(),
            conn,
        })
    }
}

/// One connection's faults.
#[derive(Debug)]
pub(crate) struct ConnFaults {
    run: Arc<Faults>,
    conn: u64,
}

impl ConnFaults {
    /// The faults of direction `dir`, or `None` when it has none.
    pub(crate) fn dir(&self, dir: Dir) -> Option<DirFaults> {
        let spec = &self.run.spec.dirs[dir.index()];
        let total = self.run.total[dir.index()].clone();
        if spec.is_empty() && total.is_none() {
            return None;
        }
        let stream = match dir {
            Dir::AtoB => Stream::AtoB,
            Dir::BtoA => Stream::BtoA,
        };
        Some(DirFaults {
            run: self.run.clone(),
            conn: self.conn,
            dir,
            spec: spec.clone(),
            rng: Rng::new(self.run.seed, self.conn, stream),
            pacer: spec.rate.map(Pacer::new),
            total,
            start: tokio::time::Instant::now(),
            ends: Ends::default(),
        })
    }
}

/// The two sockets of a direction, for the faults that act on them (reset, close).
#[derive(Debug, Default)]
pub(crate) struct Ends {
    pub src: Option<(Arc<crate::endpoint::fdio::Fd>, Medium)>,
    pub dst: Option<(Arc<crate::endpoint::fdio::Fd>, Medium)>,
}

/// One direction's faults and its own random choices.
#[derive(Debug)]
pub(crate) struct DirFaults {
    run: Arc<Faults>,
    conn: u64,
    dir: Dir,
    spec: DirSpec,
    rng: Rng,
    pacer: Option<Pacer>,
    total: Option<Arc<Mutex<Pacer>>>,
    /// When the direction started: `--close-after 2s` counts from here.
    start: tokio::time::Instant,
    ends: Ends,
}

impl DirFaults {
    /// The sockets the direction reads from and writes to.
    pub(crate) fn set_ends(&mut self, ends: Ends) {
        self.ends = ends;
    }
}

pub(crate) use copy::{copy_messages, copy_stream};
