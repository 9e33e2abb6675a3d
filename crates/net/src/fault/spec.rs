//! What the fault flags say, parsed and checked: one [`DirSpec`] per direction.
//!
//! Every flag takes an optional `up:` (A to B, client to server) or `down:` (B to A) prefix;
//! without one it applies both ways. Durations and sizes are spelt as everywhere else in
//! sockbox (`500ms`, `64k`); rates as `1MiB/s`, `500k/s`, `10mbit/s`.

use std::time::Duration;

use crate::addr::{parse_duration, parse_size};

/// Which directions a flag's value applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ways {
    Both,
    /// A to B (`up:`).
    Up,
    /// B to A (`down:`).
    Down,
}

impl Ways {
    /// Splits the `up:` / `down:` prefix off a flag's value.
    pub fn split(value: &str) -> (Ways, &str) {
        if let Some(v) = value.strip_prefix("up:") {
            (Ways::Up, v)
        } else if let Some(v) = value.strip_prefix("down:") {
            (Ways::Down, v)
        } else {
            (Ways::Both, value)
        }
    }

    fn has(self, index: usize) -> bool {
        matches!(
            (self, index),
            (Ways::Both, _) | (Ways::Up, 0) | (Ways::Down, 1)
        )
    }
}

/// How a latency's jitter is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dist {
    /// Evenly between `delay - jitter` and `delay + jitter`.
    Uniform,
    /// Normal around `delay`, `jitter` the standard deviation (cut at 0 and 2x `delay`).
    Normal,
    /// At least `delay - jitter`, with a long tail (Pareto, shape 2, scaled by `jitter`).
    Pareto,
}

/// `--latency DUR[+-DUR][,dist=uniform|normal|pareto]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub delay: Duration,
    pub jitter: Duration,
    pub dist: Dist,
}

/// `--rate RATE[,burst=SIZE]` (and `--rate-total`): bytes per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub bytes_per_sec: f64,
    /// Bytes that may go at once after a quiet spell (default: 50 ms worth, at least 1 KiB).
    pub burst: usize,
}

/// `--slice MIN..MAX[,gap=DUR]`: each write between MIN and MAX bytes, DUR apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    pub min: usize,
    pub max: usize,
    pub gap: Duration,
}

/// When a one-time fault fires: after this many bytes moved, or this long after the
/// connection opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Bytes(u64),
    After(Duration),
}

/// `--half-close`: what happens at end of stream one way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfClose {
    /// The end of stream is not passed on: the receiver sees it only when the connection closes.
    Swallow,
    /// Passed on this late.
    Delay(Duration),
    /// The whole connection closes at the first end of stream (toxiproxy's behaviour).
    Full,
}

/// The faults of one direction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirSpec {
    pub latency: Option<Latency>,
    pub rate: Option<Rate>,
    pub slice: Option<Slice>,
    pub close_after: Option<Trigger>,
    pub reset_after: Option<Trigger>,
    pub stall_after: Option<Trigger>,
    pub slow_close: Option<Duration>,
    pub half_close: Option<HalfClose>,
    /// Message faults: probabilities per message.
    pub drop: f64,
    pub dup: f64,
    pub reorder: f64,
    pub corrupt: f64,
    /// `--pass-fds`: probability that a message's descriptors are lost (the bytes kept).
    pub drop_fds: f64,
}

impl DirSpec {
    /// True when nothing is asked of this direction.
    pub fn is_empty(&self) -> bool {
        *self == DirSpec::default()
    }

    /// True when a message fault is asked (drop, dup, reorder, corrupt).
    pub fn has_message_faults(&self) -> bool {
        self.drop > 0.0 || self.dup > 0.0 || self.reorder > 0.0 || self.corrupt > 0.0
    }
}

/// Both directions' faults: `[A to B, B to A]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    pub dirs: [DirSpec; 2],
    /// `--rate-total`: one budget shared by every connection, per direction.
    pub rate_total: [Option<Rate>; 2],
}

/// A flag's bad value: names the flag and what it expects.
#[derive(Debug, thiserror::Error)]
#[error("--{flag} {value}: expected {expected}")]
pub struct SpecError {
    pub flag: &'static str,
    pub value: String,
    pub expected: &'static str,
}

const DUR: &str = "a duration above zero such as 50ms, 2s or 1.5s";
const LATENCY: &str = "[up:|down:]DUR[+-DUR][,dist=uniform|normal|pareto], e.g. 50ms+-10ms";
const RATE: &str = "[up:|down:]RATE[,burst=SIZE] above zero, e.g. 1MiB/s, 500k/s, 10mbit/s";
const SLICE: &str = "[up:|down:]MIN..MAX[,gap=DUR] with 1 <= MIN <= MAX, e.g. 1..16,gap=10ms";
const TRIGGER: &str = "[up:|down:]SIZE or DURATION, e.g. 64k or 2s";
const HALF: &str = "[up:|down:]swallow, delay=DUR or full";
const PROB: &str = "[up:|down:]a probability from 0 to 1, e.g. 0.1";

impl Spec {
    /// Reads one flag's values (each may carry a prefix) into the directions they name.
    pub fn add(&mut self, flag: &'static str, values: &[String]) -> Result<(), SpecError> {
        for value in values {
            let (ways, v) = Ways::split(value);
            let bad = |expected| SpecError {
                flag,
                value: value.clone(),
                expected,
            };
            if flag == "rate-total" {
                let r = parse_rate(v).ok_or_else(|| bad(RATE))?;
                for i in 0..2 {
                    if ways.has(i) {
                        self.rate_total[i] = Some(r);
                    }
                }
                continue;
            }
            // Parse once, then set each direction named.
            let set: Box<dyn Fn(&mut DirSpec)> = match flag {
                "latency" => {
                    let l = parse_latency(v).ok_or_else(|| bad(LATENCY))?;
                    Box::new(move |d| d.latency = Some(l))
                }
                "rate" => {
                    let r = parse_rate(v).ok_or_else(|| bad(RATE))?;
                    Box::new(move |d| d.rate = Some(r))
                }
                "slice" => {
                    let s = parse_slice(v).ok_or_else(|| bad(SLICE))?;
                    Box::new(move |d| d.slice = Some(s))
                }
                "close-after" | "reset-after" | "stall-after" => {
                    let t = parse_trigger(v).ok_or_else(|| bad(TRIGGER))?;
                    match flag {
                        "close-after" => Box::new(move |d| d.close_after = Some(t)),
                        "reset-after" => Box::new(move |d| d.reset_after = Some(t)),
                        _ => Box::new(move |d| d.stall_after = Some(t)),
                    }
                }
                "slow-close" => {
                    let t = parse_duration(v).map_err(|_| bad(DUR))?;
                    Box::new(move |d| d.slow_close = Some(t))
                }
                "half-close" => {
                    let h = parse_half_close(v).ok_or_else(|| bad(HALF))?;
                    Box::new(move |d| d.half_close = Some(h))
                }
                "drop" | "dup" | "reorder" | "corrupt" | "drop-fds" => {
                    let p = parse_probability(v).ok_or_else(|| bad(PROB))?;
                    match flag {
                        "drop" => Box::new(move |d| d.drop = p),
                        "dup" => Box::new(move |d| d.dup = p),
                        "reorder" => Box::new(move |d| d.reorder = p),
                        "corrupt" => Box::new(move |d| d.corrupt = p),
                        _ => Box::new(move |d| d.drop_fds = p),
                    }
                }
                other => unreachable!("no fault flag --{other}"),
            };
            for (i, d) in self.dirs.iter_mut().enumerate() {
                if ways.has(i) {
                    set(d);
                }
            }
        }
        Ok(())
    }

    /// True when no fault is asked at all: the relay keeps its plain path.
    pub fn is_empty(&self) -> bool {
        self.dirs.iter().all(DirSpec::is_empty) && self.rate_total.iter().all(Option::is_none)
    }
}

/// `50ms`, `50ms+-10ms`, `50ms+-10ms,dist=normal`.
pub fn parse_latency(v: &str) -> Option<Latency> {
    let (main, dist) = match v.split_once(",dist=") {
        Some((m, d)) => (
            m,
            match d {
                "uniform" => Dist::Uniform,
                "normal" => Dist::Normal,
                "pareto" => Dist::Pareto,
                _ => return None,
            },
        ),
        None => (v, Dist::Uniform),
    };
    let (delay, jitter) = match main.split_once("+-") {
        Some((d, j)) => (parse_duration(d).ok()?, parse_duration(j).ok()?),
        None => (parse_duration(main).ok()?, Duration::ZERO),
    };
    Some(Latency {
        delay,
        jitter,
        dist,
    })
}

/// `1MiB/s`, `500k/s` (binary units: k = KiB), `1MB/s` (decimal), `10mbit/s`; `,burst=SIZE`.
pub fn parse_rate(v: &str) -> Option<Rate> {
    let (main, burst) = match v.split_once(",burst=") {
        Some((m, b)) => (m, Some(parse_size(b).ok().filter(|&b| b > 0)?)),
        None => (v, None),
    };
    let main = main.strip_suffix("/s")?;
    let split = main
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(main.len());
    let (number, unit) = main.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kbit" => 1e3 / 8.0,
        "mbit" => 1e6 / 8.0,
        "gbit" => 1e9 / 8.0,
        _ => return None,
    };
    let bytes_per_sec = number * unit;
    if !(bytes_per_sec >= 1.0 && bytes_per_sec.is_finite()) {
        return None;
    }
    let burst = burst.unwrap_or_else(|| ((bytes_per_sec / 20.0) as usize).max(1024));
    Some(Rate {
        bytes_per_sec,
        burst,
    })
}

/// `MIN..MAX[,gap=DUR]`, or one size for every write.
pub fn parse_slice(v: &str) -> Option<Slice> {
    let (main, gap) = match v.split_once(",gap=") {
        Some((m, g)) => (m, parse_duration(g).ok()?),
        None => (v, Duration::ZERO),
    };
    let (min, max) = match main.split_once("..") {
        Some((a, b)) => (parse_size(a).ok()?, parse_size(b).ok()?),
        None => {
            let n = parse_size(main).ok()?;
            (n, n)
        }
    };
    (min >= 1 && min <= max).then_some(Slice { min, max, gap })
}

/// A size (`64k`, `1000`) or a duration (`2s`, `500ms`). A bare number is a size.
pub fn parse_trigger(v: &str) -> Option<Trigger> {
    if let Ok(n) = parse_size(v) {
        return Some(Trigger::Bytes(n as u64));
    }
    parse_duration(v).ok().map(Trigger::After)
}

pub fn parse_half_close(v: &str) -> Option<HalfClose> {
    match v {
        "swallow" => Some(HalfClose::Swallow),
        "full" => Some(HalfClose::Full),
        _ => parse_duration(v.strip_prefix("delay=")?)
            .ok()
            .map(HalfClose::Delay),
    }
}

pub fn parse_probability(v: &str) -> Option<f64> {
    let p: f64 = v.parse().ok()?;
    (0.0..=1.0).contains(&p).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_binary_decimal_and_bit_units() {
        assert_eq!(parse_rate("1MiB/s").unwrap().bytes_per_sec, 1048576.0);
        assert_eq!(parse_rate("500k/s").unwrap().bytes_per_sec, 512000.0);
        assert_eq!(parse_rate("1MB/s").unwrap().bytes_per_sec, 1e6);
        assert_eq!(parse_rate("8mbit/s").unwrap().bytes_per_sec, 1e6);
        assert_eq!(parse_rate("1MiB/s,burst=4k").unwrap().burst, 4096);
        assert!(parse_rate("0/s").is_none());
        assert!(parse_rate("0MiB/s").is_none());
        assert!(parse_rate("1MiB").is_none());
        assert!(parse_rate("fast/s").is_none());
    }

    #[test]
    fn latency_jitter_and_distributions() {
        let l = parse_latency("50ms+-10ms,dist=normal").unwrap();
        assert_eq!(l.delay, Duration::from_millis(50));
        assert_eq!(l.jitter, Duration::from_millis(10));
        assert_eq!(l.dist, Dist::Normal);
        assert!(parse_latency("-5ms").is_none());
        assert!(parse_latency("50ms,dist=zipf").is_none());
    }

    #[test]
    fn prefixes_pick_directions() {
        let mut s = Spec::default();
        s.add("latency", &["up:10ms".into()]).unwrap();
        s.add("close-after", &["64k".into()]).unwrap();
        assert!(s.dirs[0].latency.is_some() && s.dirs[1].latency.is_none());
        assert_eq!(s.dirs[1].close_after, Some(Trigger::Bytes(65536)));
        let e = s.add("rate", &["down:0/s".into()]).unwrap_err();
        assert!(
            e.to_string().starts_with("--rate down:0/s: expected"),
            "{e}"
        );
    }

    #[test]
    fn slices_triggers_and_half_close() {
        assert_eq!(
            parse_slice("1..16,gap=10ms"),
            Some(Slice {
                min: 1,
                max: 16,
                gap: Duration::from_millis(10)
            })
        );
        assert!(parse_slice("16..1").is_none());
        assert_eq!(
            parse_trigger("2s"),
            Some(Trigger::After(Duration::from_secs(2)))
        );
        assert_eq!(parse_trigger("1000"), Some(Trigger::Bytes(1000)));
        assert_eq!(
            parse_half_close("delay=1s"),
            Some(HalfClose::Delay(Duration::from_secs(1)))
        );
        assert!(parse_probability("1.5").is_none());
    }
}
