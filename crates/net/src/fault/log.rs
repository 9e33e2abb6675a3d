//! The log of faults that fired: what `relay --stats --json` lists, so a failing run can be
//! compared with its replay.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::tap::Dir;

/// One fault that fired.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fired {
    /// The connection's number, from 1, in the order connections started.
    pub conn: u64,
    /// `a2b` or `b2a`; `null` for the connection-wide ones (`accept`, `faulty`).
    pub dir: Option<Dir>,
    /// `close`, `reset`, `stall`, `half-close-swallow`, `half-close-delay`, `half-close-full`,
    /// `slow-close`, `drop`, `dup`, `reorder`, `corrupt`, `drop-fds`, `reject`.
    pub fault: &'static str,
    /// Bytes that had moved in this direction when it fired.
    pub offset: u64,
    /// For message faults: the message's number in this direction, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<u64>,
    /// Seconds since the relay started.
    pub time: f64,
}

/// Every fault fired in a run, in the order they fired.
#[derive(Debug)]
pub struct Log {
    start: Instant,
    fired: Mutex<Vec<Fired>>,
}

impl Log {
    pub fn new(start: Instant) -> Log {
        Log {
            start,
            fired: Mutex::new(Vec::new()),
        }
    }

    pub fn add(
        &self,
        conn: u64,
        dir: Option<Dir>,
        fault: &'static str,
        offset: u64,
        message: Option<u64>,
    ) {
        let f = Fired {
            conn,
            dir,
            fault,
            offset,
            message,
            time: self.start.elapsed().as_secs_f64(),
        };
        crate::narrate!(
            "fault {} on connection {conn}{} at byte {offset}",
            f.fault,
            dir.map_or(String::new(), |d| format!(" {}", d.arrow()))
        );
        if let Ok(mut v) = self.fired.lock() {
            v.push(f);
        }
    }

    /// What fired so far, sorted by connection, then direction, then time: concurrent
    /// connections fire in any order, but each one's own list replays.
    pub fn fired(&self) -> Vec<Fired> {
        let mut v = self.fired.lock().map(|v| v.clone()).unwrap_or_default();
        v.sort_by(|a, b| {
            (a.conn, a.dir.map(Dir::index))
                .cmp(&(b.conn, b.dir.map(Dir::index)))
                .then(a.time.total_cmp(&b.time))
        });
        v
    }
}
