//! Serving many clients: the accept loop behind `listen --keep` and `relay`.
//!
//! Each client runs as its own task; a client that fails (reset, refused upstream) is
//! reported and ends alone while the others go on. Running out of file descriptors on accept
//! (`EMFILE`) is survived by backing off and trying again rather than spinning or exiting.
//! The loop takes its shutdown signal as a future, so tests and the binary decide when it ends.
//!
//! `--max-conns` ([`MaxConns`]) caps the clients served at once by counting the running client
//! tasks. At the cap the loop stops accepting: further clients wait in the kernel's accept
//! queue (their handshake is done, their bytes are buffered) and are served as slots free, so
//! nothing is lost and nobody is turned away while the server catches up, as haproxy's
//! `maxconn` does. With `refuse` they are accepted and closed at once instead (ncat's
//! `--max-conns`). A datagram listener has no queue to leave clients in: its demultiplexer
//! hands out at most that many peers and drops datagrams from further ones.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;

use crate::endpoint::{Conn, Listener, ListenerShard};
use crate::error::{Error, Result};
use crate::relay::{LiveTotals, Stats};
use crate::PEER;

/// What a server did over its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Clients accepted.
    pub connections: u64,
    /// Clients whose connection ended in an error.
    pub failed: u64,
    /// Clients closed on arrival: turned away by an access rule (`--allow-*`, `--deny-ip*`)
    /// or over `--max-conns` with `--max-conns-refuse`. Not in `connections`.
    pub refused: u64,
    /// Bytes from clients (towards the far side).
    pub bytes_in: u64,
    /// Bytes to clients.
    pub bytes_out: u64,
    pub messages_in: u64,
    pub messages_out: u64,
}

impl Totals {
    /// Take the byte and message counts from `live` (every connection's, counted as they
    /// moved, including those cut when the server stopped) instead of from finished ones.
    pub fn count_live(&mut self, live: &LiveTotals) {
        let (f, b) = (live.forward.read(), live.backward.read());
        self.bytes_in = f.bytes;
        self.bytes_out = b.bytes;
        self.messages_in = f.messages;
        self.messages_out = b.messages;
    }

    /// Add another server's totals (a shard of [`Sharded`]).
    fn sum(&mut self, o: &Totals) {
        self.connections += o.connections;
        self.failed += o.failed;
        self.refused += o.refused;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.messages_in += o.messages_in;
        self.messages_out += o.messages_out;
    }

    fn add(&mut self, s: &Stats) {
        self.bytes_in += s.forward.bytes;
        self.bytes_out += s.backward.bytes;
        self.messages_in += s.forward.messages;
        self.messages_out += s.backward.messages;
    }
}

/// How many clients a server serves at once, and what becomes of more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxConns {
    /// At most this many at once (at least 1).
    pub limit: usize,
    /// Over the limit, accept and close clients at once, rather than leave them waiting in
    /// the accept queue until a slot frees.
    pub refuse: bool,
}

/// Clients accepted in a row before the loop yields to the clients it runs (haproxy's
/// `tune.maxaccept`). Accepting does not wait while the queue has clients, so without it a
/// burst of 64 arrivals is accepted (and connected onwards) before any earlier client's
/// bytes move, which stretches the tail of every cycle under load.
const MAX_ACCEPT: u32 = 8;

/// Accept clients on `listener` and run `handle` for each, concurrently (at most `max` at
/// once), until `shutdown` resolves or the listener has no more clients (then running clients
/// are waited for).
pub async fn serve<H, F>(
    listener: &mut Listener,
    max: Option<MaxConns>,
    handle: H,
    shutdown: impl Future<Output = ()>,
) -> Result<Totals>
where
    H: Fn(Conn) -> F,
    F: Future<Output = Result<Stats>> + Send + 'static,
{
    let mut totals = Totals::default();
    // Each client's task is its handler's future alone (no wrapper carrying a copy of it):
    // its label is kept here, by task id, for the report when it ends.
    let mut running: JoinSet<Result<Stats>> = JoinSet::new();
    let mut labels: HashMap<tokio::task::Id, Arc<str>> = HashMap::new();
    let mut starved = Starved::default();
    let max = max.map(|m| MaxConns {
        limit: m.limit.max(1),
        ..m
    });
    // A datagram listener turns new peers away itself, over the cap: the loop only waits.
    let datagram = max.is_some_and(|m| listener.cap_peers(m.limit));
    let refuse = max.is_some_and(|m| m.refuse) && !datagram;
    let mut in_row = 0;
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting (unless refusing): clients wait in the backlog.
        let full = max.is_some_and(|m| running.len() >= m.limit);
        tokio::select! {
            _ = &mut shutdown => {
                running.shutdown().await;
                return Ok(totals);
            }
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                finished(done, &mut labels, &mut totals);
            }
            accepted = accept_next(listener, &mut starved), if !full || refuse => match accepted? {
                Some(conn) => {
                    if let Some(m) = max.filter(|_| refuse) {
                        // Clients that ended free their slots before this one is judged.
                        while let Some(done) = running.try_join_next_with_id() {
                            finished(done, &mut labels, &mut totals);
                        }
                        if running.len() >= m.limit {
                            // Dropping the connection closes it.
                            tracing::warn!(
                                "refused {}: --max-conns {} reached",
                                conn.label,
                                m.limit
                            );
                            totals.refused += 1;
                            continue;
                        }
                    }
                    totals.connections += 1;
                    let label = conn.label.clone();
                    tracing::info!(target: PEER, "connection from {label}");
                    let id = running.spawn(handle(conn)).id();
                    labels.insert(id, label);
                    in_row += 1;
                    if in_row == MAX_ACCEPT {
                        // The clients already here get a turn before more are taken.
                        in_row = 0;
                        tokio::task::yield_now().await;
                    }
                }
                None => break,
            },
        }
    }
    while let Some(done) = running.join_next_with_id().await {
        finished(done, &mut labels, &mut totals);
    }
    totals.refused += listener.refused();
    Ok(totals)
}

/// A server running [`serve`] on several threads, each with its own current-thread runtime
/// accepting on its [`ListenerShard`] and running the clients it accepted: a client's whole
/// life (accept, connect, copy, close) stays on the thread that accepted it, and no task is
/// woken on another thread, as haproxy's threads and nginx's workers do. (One multi-threaded
/// runtime measured about 15% of its CPU in cross-thread wake-ups and futex waits on short
/// connections; see docs/benchmarks.md.) The shards share one listening socket, so the kernel
/// hands each new client to whichever thread calls `accept(2)` first. No `--max-conns` here:
/// its cap counts the clients of one accept loop.
pub struct Sharded {
    stop: tokio::sync::watch::Sender<bool>,
    running: JoinSet<Result<Totals>>,
}

impl Sharded {
    /// Start one thread per shard and return once every one has its runtime and its listening
    /// socket registered (a caller that announces "listening" after this announces the truth,
    /// and descriptors counted after it include the runtimes'). `handle` runs for each client.
    pub async fn start<H, F>(shards: Vec<ListenerShard>, handle: H) -> Result<Sharded>
    where
        H: Fn(Conn) -> F + Clone + Send + 'static,
        F: Future<Output = Result<Stats>> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut running = JoinSet::new();
        let mut starting = Vec::new();
        for (i, shard) in shards.into_iter().enumerate() {
            let (handle, mut stopped) = (handle.clone(), stopped.clone());
            let (ready, started) = tokio::sync::oneshot::channel::<Result<()>>();
            let (done, outcome) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name(format!("sockbox-serve-{i}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(err) => {
                            let _ = ready.send(Err(Error::Io {
                                op: "start",
                                target: "a runtime".into(),
                                err,
                            }));
                            return;
                        }
                    };
                    let served = rt.block_on(async move {
                        let mut l = match shard.into_listener() {
                            Ok(l) => l,
                            Err(e) => {
                                let _ = ready.send(Err(e));
                                return None;
                            }
                        };
                        let _ = ready.send(Ok(()));
                        let stop = async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        };
                        Some(serve(&mut l, None, handle, stop).await)
                    });
                    if let Some(served) = served {
                        let _ = done.send(served);
                    }
                })
                .map_err(|err| Error::Io {
                    op: "start",
                    target: "a serving thread".into(),
                    err,
                })?;
            starting.push(started);
            running.spawn(async move {
                outcome.await.unwrap_or_else(|_| {
                    Err(Error::Io {
                        op: "run",
                        target: "a serving thread".into(),
                        err: std::io::Error::other("it ended without a result"),
                    })
                })
            });
        }
        let sharded = Sharded { stop, running };
        for started in starting {
            let failed = match started.await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(Error::Io {
                    op: "start",
                    target: "a serving thread".into(),
                    err: std::io::Error::other("it ended before it was ready"),
                }),
            };
            if let Some(e) = failed {
                // The threads already started stop (and are waited for) before the error goes up.
                let _ = sharded.stop.send(true);
                let mut running = sharded.running;
                while running.join_next().await.is_some() {}
                return Err(e);
            }
        }
        Ok(sharded)
    }

    /// Serve until `shutdown` resolves (or a shard's listener fails: then the others stop and
    /// its error is returned); the totals are summed over the shards.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<Totals> {
        let Sharded { stop, mut running } = self;
        tokio::pin!(shutdown);
        let mut totals = Totals::default();
        let mut failure = None;
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                    let _ = stop.send(true);
                }
                done = running.join_next() => match done {
                    None => break,
                    Some(Ok(Ok(t))) => totals.sum(&t),
                    Some(Ok(Err(e))) => {
                        failure.get_or_insert(e);
                        stopping = true;
                        let _ = stop.send(true);
                    }
                    Some(Err(_)) => {}
                },
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(totals),
        }
    }
}

/// The next client, through the errors accept(2) may pass: out of descriptors (wait, backing
/// off), a client that left before it was accepted (try again). `None` when the listener has
/// no more. Cancel-safe, as [`Listener::accept`] is.
async fn accept_next(listener: &mut Listener, starved: &mut Starved) -> Result<Option<Conn>> {
    loop {
        match listener.accept().await {
            Ok(conn) => {
                starved.accepted();
                return Ok(conn);
            }
            Err(e) if out_of_resources(&e) => tokio::time::sleep(starved.failed(&e)).await,
            Err(e) if transient(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Accept one client on `listener` and run `handle` for it (`relay --once`, and a listener
/// that yields one connection only). Unlike [`serve`], the client's failure is returned, not
/// logged: it is the outcome of the whole run. `shutdown` ends the wait or the client quietly.
pub async fn serve_one<H, F>(
    listener: &mut Listener,
    handle: H,
    shutdown: impl Future<Output = ()>,
) -> Result<Totals>
where
    H: FnOnce(Conn) -> F,
    F: Future<Output = Result<Stats>>,
{
    let mut totals = Totals::default();
    let mut starved = Starved::default();
    tokio::pin!(shutdown);
    let conn = tokio::select! {
        _ = &mut shutdown => return Ok(totals),
        accepted = accept_next(listener, &mut starved) => match accepted? {
            Some(conn) => conn,
            None => return Ok(totals),
        },
    };
    totals.refused = listener.refused();
    totals.connections = 1;
    let label = conn.label.clone();
    tracing::info!(target: PEER, "connection from {label}");
    let stats = tokio::select! {
        _ = &mut shutdown => return Ok(totals),
        outcome = handle(conn) => outcome?,
    };
    totals.add(&stats);
    tracing::info!(
        target: PEER,
        "{label} closed: {} bytes in, {} bytes out",
        stats.forward.bytes,
        stats.backward.bytes
    );
    Ok(totals)
}

fn finished(
    done: std::result::Result<(tokio::task::Id, Result<Stats>), tokio::task::JoinError>,
    labels: &mut HashMap<tokio::task::Id, Arc<str>>,
    totals: &mut Totals,
) {
    let (id, outcome) = match done {
        Ok((id, outcome)) => (id, Ok(outcome)),
        Err(e) => (e.id(), Err(e)),
    };
    let label = labels.remove(&id).unwrap_or_else(|| Arc::from(""));
    match outcome {
        Ok(Ok(stats)) => {
            totals.add(&stats);
            tracing::info!(
                target: PEER,
                "{label} closed: {} bytes in, {} bytes out",
                stats.forward.bytes,
                stats.backward.bytes
            );
        }
        Ok(Err(e)) => {
            totals.failed += 1;
            tracing::warn!("{label}: {e}");
        }
        Err(e) if e.is_cancelled() => {}
        Err(e) => {
            totals.failed += 1;
            tracing::warn!("{label}: client task failed: {e}");
        }
    }
}

/// Back-off state while accept fails for lack of fds: one warning when it starts, one line
/// when it ends, and a delay that doubles (10 ms to 1 s) and comes down only gradually, so
/// a server at its fd limit neither spins nor floods stderr.
#[derive(Default)]
struct Starved {
    delay: Duration,
    failures: u64,
}

impl Starved {
    fn failed(&mut self, e: &Error) -> Duration {
        if self.failures == 0 {
            tracing::warn!("{e}; backing off and accepting again as descriptors free up");
        }
        self.failures += 1;
        self.delay = (self.delay * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        self.delay
    }

    /// The episode ends once accepts have succeeded long enough to bring the delay down.
    fn accepted(&mut self) {
        self.delay /= 2;
        if self.delay < Duration::from_millis(10) {
            self.delay = Duration::ZERO;
            if self.failures > 0 {
                tracing::warn!(
                    "accepting normally again after {} failed attempts",
                    self.failures
                );
                self.failures = 0;
            }
        }
    }
}

/// Accept failed for lack of fds or memory: the client waits in the backlog, try later.
fn out_of_resources(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The client went away between the kernel's accept queue and us.
fn transient(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
    )
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit (`setrlimit(2)`), as Go's runtime and most
/// servers do: a relay needs two descriptors per client, and the usual soft limit (1024, or
/// whatever the login set) is far below what the kernel allows the process. Returns the limit
/// now in force.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
        crate::narrate!("setrlimit(RLIMIT_NOFILE, {hard}) (was {soft})");
    }
    Ok(hard.max(soft))
}

/// Close a finished connection, giving a child process this long to exit by itself.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Close both connections of a relayed pair after `relay` returned.
pub fn close_pair(a: Conn, b: Conn) -> impl Future<Output = ()> {
    // Boxed, both connections with it: closing (bridge threads, a child's exit) is a large
    // state machine that runs once; inline, every idle connection's task would carry it and
    // room for two moved `Conn`s (about 1 KB) for its whole life.
    Box::pin(async move {
        tokio::join!(
            Box::pin(a.close(CLOSE_GRACE)),
            Box::pin(b.close(CLOSE_GRACE))
        );
    })
}
