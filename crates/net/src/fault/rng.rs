//! The random choices of faults: one small generator per (seed, connection, direction), so
//! that a run replays with the same `--seed` however its connections interleave.

/// splitmix64: tiny, fast, and good enough to decide which message to drop.
#[derive(Clone, Debug)]
pub struct Rng(u64);

/// Which stream of choices: a direction's, or the per-connection ones (`--faulty`).
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    AtoB,
    BtoA,
    Connection,
}

impl Rng {
    pub fn new(seed: u64, conn: u64, stream: Stream) -> Rng {
        let mut r = Rng(seed ^ 0x5bd1_e995_9e37_79b9);
        let salt = match stream {
            Stream::AtoB => 0xa2b,
            Stream::BtoA => 0xb2a,
            Stream::Connection => 0xc0,
        };
        r.0 ^= r
            .next_u64()
            .wrapping_add(conn.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.0 ^= r.next_u64().wrapping_add(salt);
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (no draw when `p` is 0, so an unused fault takes no choices).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_choices_different_directions_differ() {
        let take = |s| {
            let mut r = Rng::new(42, 3, s);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(take(Stream::AtoB), take(Stream::AtoB));
        assert_ne!(take(Stream::AtoB), take(Stream::BtoA));
        let mut r = Rng::new(1, 1, Stream::AtoB);
        assert!((0..1000).all(|_| r.between(3, 5) >= 3 && r.between(3, 5) <= 5));
    }
}
