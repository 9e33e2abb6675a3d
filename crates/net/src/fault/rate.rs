//! Pacing (`--rate`, `--rate-total`): a virtual clock per budget (GCRA). Each write reserves
//! its bytes and is told when it may go; up to `burst` bytes may go at once after a quiet
//! spell.

use std::time::Duration;

use tokio::time::Instant;

use super::spec::Rate;

#[derive(Debug)]
pub(crate) struct Pacer {
    rate: f64,
    burst: usize,
    /// When the budget is spent up to (the theoretical arrival time).
    tat: Instant,
}

impl Pacer {
    pub(crate) fn new(r: Rate) -> Pacer {
        Pacer {
            rate: r.bytes_per_sec,
            burst: r.burst.max(1),
            tat: Instant::now(),
        }
    }

    /// Reserve up to `want` bytes (`whole`: all of them, a message cannot be cut): how many,
    /// and when they may go.
    pub(crate) fn reserve(&mut self, want: usize, whole: bool) -> (usize, Instant) {
        let n = if whole { want } else { want.min(self.burst) };
        let now = Instant::now();
        let tolerance = Duration::from_secs_f64(self.burst as f64 / self.rate);
        let earliest = self.tat.checked_sub(tolerance).unwrap_or(now);
        let at = earliest.max(now);
        self.tat = self.tat.max(at) + Duration::from_secs_f64(n as f64 / self.rate);
        (n, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_over_the_burst_take_their_time() {
        let mut p = Pacer::new(Rate {
            bytes_per_sec: 10000.0,
            burst: 1000,
        });
        let start = Instant::now();
        let mut last = start;
        let mut sent = 0;
        while sent < 3000 {
            let (n, at) = p.reserve(3000 - sent, false);
            assert!(n <= 1000);
            tokio::time::sleep_until(at).await;
            last = at;
            sent += n;
        }
        let took = (last - start).as_secs_f64();
        // Two bursts go at once, the third when the first has drained at 10000/s: 0.1 s (sleeps
        // run late, never early).
        assert!((0.099..=0.5).contains(&took), "{took}");
    }
}
