//! Which echo requests are waiting, answered or given up on: the matching of replies and
//! ICMP errors to requests by their 16-bit sequence number, and the deadlines.
//!
//! Pure bookkeeping with the clock passed in, so it is tested without sockets. The sequence
//! number on the wire is 16 bits; the count sockbox prints is not, so a long ping wraps, and
//! a sequence number then means the latest request sent with it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

/// When a request left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SentAt {
    /// Wall clock, to compare with the kernel's receive timestamp.
    pub wall: SystemTime,
    /// Monotonic clock, when there is no kernel timestamp.
    pub mono: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Answered,
    /// Timed out, answered by an error, or never sent: a late reply is not counted.
    Settled,
}

struct Request {
    seq: u64,
    at: SentAt,
    state: State,
}

/// What a reply is, to the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// The first reply to a waiting request.
    First { seq: u64, at: SentAt },
    /// Another reply to an answered request.
    Duplicate { seq: u64, at: SentAt },
    /// A reply after the request timed out or got an error.
    Late { seq: u64, at: SentAt },
    /// No request was sent with this sequence number.
    Unknown,
}

pub(crate) struct Tracker {
    timeout: Duration,
    requests: HashMap<u16, Request>,
    /// (deadline, wire sequence, sequence); in deadline order since the timeout is fixed.
    deadlines: VecDeque<(Instant, u16, u64)>,
}

impl Tracker {
    pub fn new(timeout: Duration) -> Self {
        Tracker {
            timeout,
            requests: HashMap::new(),
            deadlines: VecDeque::new(),
        }
    }

    /// Request `seq` left at `at` and waits for its reply until `at.mono + timeout`.
    pub fn sent(&mut self, seq: u64, at: SentAt) {
        self.requests.insert(
            seq as u16,
            Request {
                seq,
                at,
                state: State::Waiting,
            },
        );
        self.deadlines
            .push_back((at.mono + self.timeout, seq as u16, seq));
    }

    /// Request `seq` could not be sent: nothing will answer it.
    pub fn not_sent(&mut self, seq: u64, at: SentAt) {
        self.requests.insert(
            seq as u16,
            Request {
                seq,
                at,
                state: State::Settled,
            },
        );
    }

    /// A reply carrying wire sequence number `wire`.
    pub fn reply(&mut self, wire: u16) -> Match {
        let Some(r) = self.requests.get_mut(&wire) else {
            return Match::Unknown;
        };
        let (seq, at) = (r.seq, r.at);
        match r.state {
            State::Waiting => {
                r.state = State::Answered;
                Match::First { seq, at }
            }
            State::Answered => Match::Duplicate { seq, at },
            State::Settled => Match::Late { seq, at },
        }
    }

    /// An ICMP error about the request with wire sequence number `wire`: settles it if it was
    /// waiting, and returns its sequence number then.
    pub fn error(&mut self, wire: u16) -> Option<u64> {
        let r = self.requests.get_mut(&wire)?;
        (r.state == State::Waiting).then(|| {
            r.state = State::Settled;
            r.seq
        })
    }

    fn is_waiting(&self, wire: u16, seq: u64) -> bool {
        self.requests
            .get(&wire)
            .is_some_and(|r| r.seq == seq && r.state == State::Waiting)
    }

    /// The next deadline of a waiting request, if any is waiting.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&(deadline, wire, seq)) = self.deadlines.front() {
            if self.is_waiting(wire, seq) {
                return Some(deadline);
            }
            self.deadlines.pop_front();
        }
        None
    }

    /// Settle every waiting request whose deadline is at or before `now`; returns their
    /// sequence numbers, oldest first.
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        let mut gone = Vec::new();
        while let Some(&(deadline, wire, seq)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if self.is_waiting(wire, seq) {
                if let Some(r) = self.requests.get_mut(&wire) {
                    r.state = State::Settled;
                }
                gone.push(seq);
            }
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> SentAt {
        SentAt {
            wall: SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
            mono: base + Duration::from_millis(ms),
        }
    }

    #[test]
    fn replies_are_first_then_duplicate_and_unknown_otherwise() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::from_secs(1));
        t.sent(1, at(t0, 0));
        t.sent(2, at(t0, 10));
        assert_eq!(
            t.reply(2),
            Match::First {
                seq: 2,
                at: at(t0, 10)
            }
        );
        assert_eq!(
            t.reply(2),
            Match::Duplicate {
                seq: 2,
                at: at(t0, 10)
            }
        );
        assert_eq!(t.reply(3), Match::Unknown);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(
            t.reply(1),
            Match::First {
                seq: 1,
                at: at(t0, 0)
            }
        );
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn deadlines_expire_in_order_and_late_replies_are_not_counted() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::from_millis(100));
        for seq in 1..=3 {
            t.sent(seq, at(t0, seq * 10));
        }
        assert_eq!(t.expire(t0 + Duration::from_millis(105)), Vec::<u64>::new());
        assert_eq!(t.expire(t0 + Duration::from_millis(120)), vec![1, 2]);
        assert_eq!(
            t.reply(1),
            Match::Late {
                seq: 1,
                at: at(t0, 10)
            }
        );
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_millis(130)));
        assert_eq!(
            t.reply(3),
            Match::First {
                seq: 3,
                at: at(t0, 30)
            }
        );
        assert_eq!(t.expire(t0 + Duration::from_secs(9)), Vec::<u64>::new());
    }

    #[test]
    fn errors_settle_only_waiting_requests() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::from_secs(1));
        t.sent(5, at(t0, 0));
        assert_eq!(t.error(5), Some(5));
        assert_eq!(t.error(5), None);
        assert_eq!(t.next_deadline(), None);
        t.not_sent(6, at(t0, 1));
        assert_eq!(t.error(6), None);
        assert_eq!(
            t.reply(6),
            Match::Late {
                seq: 6,
                at: at(t0, 1)
            }
        );
    }

    #[test]
    fn sequence_numbers_wrap_at_16_bits() {
        let t0 = Instant::now();
        let mut t = Tracker::new(Duration::from_secs(1));
        t.sent(1, at(t0, 0));
        t.sent(65537, at(t0, 5));
        // The wire number 1 now means request 65537; request 1 no longer waits.
        assert_eq!(
            t.reply(1),
            Match::First {
                seq: 65537,
                at: at(t0, 5)
            }
        );
        assert_eq!(t.next_deadline(), None);
        assert!(t.expire(t0 + Duration::from_secs(2)).is_empty());
    }
}
