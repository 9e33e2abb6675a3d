//! Trying a connect again (`retry=N|forever`, `interval=DURATION`): for a client started
//! before its server, or a server restarting.
//!
//! Only failures that may pass are retried: nothing listening yet (`ECONNREFUSED`, a stale
//! socket file), no socket file yet (`ENOENT`), a full accept queue (`EAGAIN`) and a connect
//! that timed out (`ETIMEDOUT`, also from `timeout=`). Anything else (permission denied, a
//! path that is not a socket, a bad `bind=`) fails at once. The waits double from `interval`
//! (1 s by default) up to ten times it, each with ±10% jitter so that clients started together
//! do not retry in step. Each failed attempt is narrated (`-v`). Retrying is for opening only:
//! a relay never reconnects in the middle of a stream.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::time::Duration;

use super::Conn;
use crate::addr::{Address, Retry};
use crate::error::{Error, Result};

/// The wait before the first retry when the address has no `interval=`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// The longest wait between attempts, as a multiple of the interval.
pub const MAX_BACKOFF_FACTOR: u32 = 10;

/// Run `attempt` until it succeeds, fails for good, or the retries of `addr` are spent.
pub(crate) async fn retrying<F, Fut>(addr: &Address, retry: Retry, mut attempt: F) -> Result<Conn>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Conn>>,
{
    let interval = addr.options.interval.unwrap_or(DEFAULT_INTERVAL);
    let attempts = match retry {
        Retry::Times(n) => Some(u64::from(n) + 1),
        Retry::Forever => None,
    };
    let mut n: u64 = 1;
    loop {
        let err = match attempt().await {
            Ok(conn) => return Ok(conn),
            Err(e) => e,
        };
        let last = attempts.is_some_and(|total| n >= total);
        if !may_pass(&err) || last {
            if last {
                crate::narrate!("{err} (attempt {n} of {n})");
            }
            return Err(match n {
                1 => err,
                _ => Error::GaveUp {
                    attempts: n,
                    last: Box::new(err),
                },
            });
        }
        let wait = backoff(interval, n);
        match attempts {
            Some(total) => crate::narrate!(
                "{err} (attempt {n} of {total}, next in {:.1}s)",
                wait.as_secs_f64()
            ),
            None => crate::narrate!(
                "{err} (attempt {n}, retrying forever, next in {:.1}s)",
                wait.as_secs_f64()
            ),
        }
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

/// True when a failed connect may succeed later.
fn may_pass(e: &Error) -> bool {
    let Error::Io {
        op: "connect", err, ..
    } = e
    else {
        return false;
    };
    match err.raw_os_error() {
        Some(errno) => matches!(
            errno,
            libc::ENOENT | libc::ECONNREFUSED | libc::EAGAIN | libc::ETIMEDOUT
        ),
        // A stale socket file, explained in words (unix.rs) but still a refusal.
        None => matches!(
            err.kind(),
            io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut
        ),
    }
}

/// The wait after failed attempt `n` (from 1): `interval` doubled `n - 1` times, at most
/// [`MAX_BACKOFF_FACTOR`] times `interval`, then ±10%.
fn backoff(interval: Duration, n: u64) -> Duration {
    let doublings = u32::try_from(n.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    let base = interval
        .saturating_mul(1 << doublings)
        .min(interval.saturating_mul(MAX_BACKOFF_FACTOR));
    base.mul_f64(0.9 + 0.2 * random_unit())
}

/// A number in [0, 1) that differs per call and per process (no cryptographic claim): the
/// standard library's randomly keyed hasher, over the time.
fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_intervals_with_jitter() {
        let i = Duration::from_millis(100);
        let within = |d: Duration, ms: f64| {
            let got = d.as_secs_f64() * 1e3;
            got >= ms * 0.9 - 1e-6 && got <= ms * 1.1 + 1e-6
        };
        for _ in 0..50 {
            assert!(within(backoff(i, 1), 100.0));
            assert!(within(backoff(i, 2), 200.0));
            assert!(within(backoff(i, 4), 800.0));
            assert!(within(backoff(i, 5), 1000.0));
            assert!(within(backoff(i, 1000), 1000.0));
            assert!(within(backoff(i, u64::MAX), 1000.0));
        }
        let waits: Vec<Duration> = (0..20).map(|_| backoff(i, 1)).collect();
        assert!(waits.iter().any(|w| *w != waits[0]), "no jitter: {waits:?}");
    }

    #[test]
    fn only_failures_that_may_pass_are_retried() {
        let connect =
            |errno| crate::error::io_err("connect", "x")(io::Error::from_raw_os_error(errno));
        for errno in [
            libc::ENOENT,
            libc::ECONNREFUSED,
            libc::EAGAIN,
            libc::ETIMEDOUT,
        ] {
            assert!(may_pass(&connect(errno)), "{errno}");
        }
        for errno in [libc::EACCES, libc::EPERM, libc::EPROTOTYPE, libc::ENOTSOCK] {
            assert!(!may_pass(&connect(errno)), "{errno}");
        }
        let bind = crate::error::io_err("bind", "x")(io::Error::from_raw_os_error(libc::ENOENT));
        assert!(!may_pass(&bind));
        assert!(!may_pass(&Error::Usage("x".into())));
        assert!(!may_pass(&Error::Refused(
            "x is a regular file, not a socket".into()
        )));
        let stale = crate::error::io_err("connect", "x")(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "stale",
        ));
        assert!(may_pass(&stale));
    }
}
