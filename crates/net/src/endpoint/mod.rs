//! Opening endpoints: every kind of the address grammar becomes a [`Conn`] (connect) or a
//! [`Listener`] that yields `Conn`s (listen).
//!
//! A `Conn` is one two-way channel, split into an optional [`Reader`] and [`Writer`] so the
//! relay can run the two directions independently. A socket is one fd for both halves and
//! half-closes with `shutdown(SHUT_WR)`; pipes, FIFOs and stdio have one fd per half and
//! half-close by closing the write fd; a one-way endpoint (a FIFO) has only one half.
//! Datagram listeners demultiplex by peer, so each peer of `udp:` or `unix-dgram:` is a `Conn`
//! of its own whose reader is a channel fed by the listener.
//!
//! One file per family opens the fds; the match in [`connect`] and [`Listener::bind`] is the
//! only place that knows them all, so a new kind is a new variant plus one file here.

mod accept;
mod access;
pub mod activation;
mod bound;
mod bridge;
mod crlf;
pub(crate) mod demux;
mod dual;
mod exec;
pub mod fdio;
mod fifo;
mod file;
mod inet;
pub mod proxy;
mod pty;
pub mod readline;
pub mod retry;
pub mod sock;
mod stdio;
mod termios;
pub mod tls;
mod tty;
mod unix;

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::SockaddrStorage;
use tokio::sync::mpsc;

use crate::addr::{Address, Endpoint, Framing, Role, Transfer};
use crate::error::{Error, Result};
pub use access::{
    group_id, parse_ip_range, parse_ip_ranges, read_ip_ranges, user_id, AllowPeers, Refusal,
    SubjectRule,
};
pub use bound::Bound;
pub use fdio::Fd;
pub use file::check_not_socket;
pub use unix::peer_cred;
// Peers are plain data (crate::peer); kept reachable here, where connections hand them out.
pub use crate::peer::{Cred, Peer};
pub(crate) use unix::{sockaddr as unix_sockaddr, FileGuard};

/// What is behind an fd, as far as copying is concerned: decides whether `splice(2)` can be
/// used, and how end-of-stream and half-close work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Medium {
    Tcp,
    UnixStream,
    Seqpacket,
    /// UDP or Unix datagram socket.
    Datagram,
    /// Pipe or FIFO (including stdio when it is one, and the pipes bridging files and ttys).
    Pipe,
    /// A terminal sockbox drives itself: a pty master, a `tty:` device. Pollable, but
    /// `splice(2)` refuses it, so its copies are buffered.
    Terminal,
}

impl Medium {
    /// True when `splice(2)` can move bytes in or out of this fd.
    pub fn splices(self) -> bool {
        matches!(self, Medium::Tcp | Medium::UnixStream | Medium::Pipe)
    }
}

pub(crate) enum Source {
    Fd(Arc<Fd>),
    /// Messages handed over by a demultiplexing datagram listener.
    Chan(mpsc::Receiver<Vec<u8>>),
}

pub(crate) enum Sink {
    Fd(Arc<Fd>),
    /// Replies to one peer of a datagram listener, sent on the listener's socket.
    SendTo(Arc<Fd>, Option<SockaddrStorage>),
}

/// The reading half of a connection.
pub struct Reader {
    pub(crate) src: Source,
    pub medium: Medium,
    /// This source never reads end of stream by itself: a `tty:` device (a serial line has no
    /// end of file), a `pty` whose slave sockbox holds open. Once the other direction has
    /// ended, the relay ends this one after a linger, as it does a datagram source.
    pub(crate) endless: bool,
}

/// The writing half of a connection.
pub struct Writer {
    pub(crate) dst: Sink,
    pub medium: Medium,
    /// Half-close by `shutdown(SHUT_WR)` (a socket) rather than by closing the fd.
    shutdown: bool,
}

impl Writer {
    /// End this direction: the peer reads end-of-stream (or, for a datagram, nothing).
    pub fn finish(self) {
        if let (true, Medium::Terminal, Sink::Fd(fd)) = (self.shutdown, self.medium, &self.dst) {
            termios::send_eof(fd.get_ref());
            return;
        }
        if let (true, Sink::Fd(fd)) = (self.shutdown, &self.dst) {
            // An error here means the peer is gone already; the other direction will say so.
            let _ = sock::shutdown_write(fd.get_ref());
            // getsockopt(TCP_INFO) only for the narration (`-v`), not on every connection.
            if self.medium == Medium::Tcp
                && tracing::enabled!(target: crate::CALL, tracing::Level::INFO)
            {
                if let Ok(i) = sockbox_sys::tcp_info(fd.get_ref()) {
                    crate::narrate!(
                        "tcp_info: rtt {:.3} ms, cwnd {} segments, {} retransmits, {} bytes acked",
                        f64::from(i.rtt_us) / 1e3,
                        i.snd_cwnd,
                        i.total_retrans,
                        i.bytes_acked
                    );
                }
            }
        }
    }
}

/// Things a connection holds until it is closed: a child process to reap, bridge threads
/// to join so no byte written to a file or tty is lost, fd flags to restore.
#[derive(Default)]
pub(crate) struct Holdings {
    child: Option<tokio::process::Child>,
    threads: Vec<std::thread::JoinHandle<()>>,
    guards: Vec<Box<dyn Send + Sync>>,
    /// Tasks moving the bytes of a layer (TLS, crlf) between the real fd and the one the
    /// relay sees.
    tasks: Vec<Task>,
}

impl Holdings {
    /// Takes over what `other` holds: a dual address's two halves become one connection.
    fn absorb(&mut self, other: Holdings) {
        self.threads.extend(other.threads);
        self.guards.extend(other.guards);
        self.tasks.extend(other.tasks);
        match (&self.child, other.child) {
            (None, child) => self.child = child,
            // Not made by the parser (a read half is never a program); kept, not lost.
            (Some(_), Some(child)) => self.guards.push(Box::new(child)),
            (Some(_), None) => {}
        }
    }
}

/// A task serving a connection: waited for at close, after being told the connection is
/// closed (`stop` dropped).
pub(crate) struct Task {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
    /// Why the task failed, if it did.
    failure: Arc<Failure>,
}

/// Why a connection's layer task failed (a TLS alert after the handshake), said once: by the
/// verb that [claimed](Failure::claim) it, as the error that ends its run (`connect`), or else
/// as a warning when the connection closes (a server's client, which the server outlives).
#[derive(Debug, Default)]
pub struct Failure {
    why: std::sync::Mutex<Option<String>>,
    claimed: std::sync::atomic::AtomicBool,
}

impl Failure {
    /// Record why the task failed (the first reason is kept).
    pub(crate) fn set(&self, why: String) {
        if let Ok(mut w) = self.why.lock() {
            w.get_or_insert(why);
        }
    }

    /// The caller says this failure itself: no warning at close.
    pub fn claim(&self) {
        self.claimed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Why the task failed, once it has.
    pub fn why(&self) -> Option<String> {
        self.why.lock().ok().and_then(|w| w.clone())
    }

    /// At close: a failure nobody claimed is a warning.
    fn warn_unclaimed(&self) {
        if !self.claimed.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some(why) = self.why() {
                tracing::warn!("{why}");
            }
        }
    }
}

/// One open two-way channel.
pub struct Conn {
    /// How to name this connection in messages: the peer, or the address opened. Shared, not
    /// copied, by the relay's two directions and the server's report of the connection.
    pub label: Arc<str>,
    pub peer: Option<Peer>,
    /// Byte stream or messages, before framing.
    pub transfer: Transfer,
    /// `frame=` of the address this came from.
    pub framing: Option<Framing>,
    pub reader: Option<Reader>,
    pub writer: Option<Writer>,
    pub(crate) holdings: Holdings,
}

impl Conn {
    fn new(label: impl Into<Arc<str>>, transfer: Transfer, framing: Option<Framing>) -> Self {
        Conn {
            label: label.into(),
            peer: None,
            transfer,
            framing,
            reader: None,
            writer: None,
            holdings: Holdings::default(),
        }
    }

    /// A connected socket: one fd, both directions, half-closed by `shutdown`.
    pub(crate) fn socket(
        label: impl Into<Arc<str>>,
        fd: Fd,
        medium: Medium,
        transfer: Transfer,
        framing: Option<Framing>,
    ) -> Self {
        let fd = Arc::new(fd);
        let mut c = Conn::new(label, transfer, framing);
        c.reader = Some(Reader {
            src: Source::Fd(fd.clone()),
            medium,
            endless: false,
        });
        c.writer = Some(Writer {
            dst: Sink::Fd(fd),
            medium,
            shutdown: true,
        });
        c
    }

    /// Separate fds per direction (pipes); either may be missing.
    pub(crate) fn pipes(
        label: String,
        rd: Option<(Fd, Medium)>,
        wr: Option<(Fd, Medium, bool)>,
        framing: Option<Framing>,
    ) -> Self {
        let mut c = Conn::new(label, Transfer::Stream, framing);
        c.reader = rd.map(|(fd, medium)| Reader {
            src: Source::Fd(Arc::new(fd)),
            medium,
            endless: false,
        });
        c.writer = wr.map(|(fd, medium, shutdown)| Writer {
            dst: Sink::Fd(Arc::new(fd)),
            medium,
            shutdown,
        });
        c
    }

    /// A terminal (pty master, tty device): one fd for both directions. Half-close on a pty
    /// master (`eof`) types the end-of-file character when the slave is in canonical mode,
    /// as a user would (Ctrl-D: the program reading the slave gets end of file); in raw mode,
    /// and on a tty device (whose far end is another machine), it sends nothing.
    pub(crate) fn terminal(label: String, fd: Fd, framing: Option<Framing>, eof: bool) -> Self {
        let fd = Arc::new(fd);
        let mut c = Conn::new(label, Transfer::Stream, framing);
        c.reader = Some(Reader {
            src: Source::Fd(fd.clone()),
            medium: Medium::Terminal,
            endless: false,
        });
        c.writer = Some(Writer {
            dst: Sink::Fd(fd),
            medium: Medium::Terminal,
            shutdown: eof,
        });
        c
    }

    /// Mark what this connection reads as never ending by itself (see [`Reader::endless`]).
    pub(crate) fn reads_endlessly(&mut self) {
        if let Some(r) = &mut self.reader {
            r.endless = true;
        }
    }

    /// True when this connection is a program sockbox started (`exec:`, `sh:`).
    pub(crate) fn runs_program(&self) -> bool {
        self.holdings.child.is_some()
    }

    /// The socket under a connection (stream, seqpacket, or a connected datagram socket),
    /// taken out of the runtime (deregistered, still non-blocking) for code that drives it
    /// another way: the HTTP client, descriptor passing. `None` (and the connection closed)
    /// when the connection is not one socket fd: pipes, a child process, a datagram
    /// listener's peer.
    pub fn into_socket(mut self) -> Option<(OwnedFd, Medium)> {
        // A child process or bridge threads belong to the connection, not to the socket.
        if self.holdings.child.is_some()
            || !self.holdings.threads.is_empty()
            || !self.holdings.tasks.is_empty()
        {
            return None;
        }
        let reader = self.reader.take()?;
        let medium = reader.medium;
        let Source::Fd(fd) = reader.src else {
            return None;
        };
        if let Some(Writer {
            dst: Sink::Fd(w), ..
        }) = self.writer.take()
        {
            if !Arc::ptr_eq(&w, &fd) {
                return None;
            }
        }
        if medium == Medium::Pipe || medium == Medium::Terminal {
            return None;
        }
        Arc::into_inner(fd).map(|fd| (fd.into_inner(), medium))
    }

    /// Wait for what the connection holds: bridge threads finish writing, the child exits
    /// (killed if it has not exited `grace` after its input ended). Returns the child's exit
    /// status when there was one.
    pub async fn close(mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        self.reader = None;
        self.writer = None;
        let threads = std::mem::take(&mut self.holdings.threads);
        if !threads.is_empty() {
            let _ = tokio::task::spawn_blocking(move || {
                for t in threads {
                    let _ = t.join();
                }
            })
            .await;
        }
        for Task {
            mut task,
            stop,
            failure,
        } in std::mem::take(&mut self.holdings.tasks)
        {
            drop(stop);
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
            }
            failure.warn_unclaimed();
        }
        let mut child = self.holdings.child.take()?;
        let pid = child.id().unwrap_or(0);
        let status = match tokio::time::timeout(grace, child.wait()).await {
            Ok(s) => s.ok(),
            Err(_) => {
                let _ = child.start_kill();
                child.wait().await.ok()
            }
        };
        if let Some(s) = status {
            crate::narrate!("wait(pid {pid}) = {s}");
        }
        status
    }
}

/// Open `addr` as a client. `timeout` bounds the connect when the address has no `timeout=`.
/// With `retry=`, a connect that failed for a reason that may pass is tried again (see
/// [`retry`]).
pub async fn connect(addr: &Address, timeout: Option<Duration>) -> Result<Conn> {
    connect_with(addr, None, timeout, Described::Fully).await
}

/// An address connected to again and again (the relay's side B, once per client), with its
/// label formatted once: formatting it for every connection showed in the profile of a relay
/// of short connections (docs/benchmarks.md, issue 15).
pub struct Target {
    addr: Address,
    label: Arc<str>,
}

impl Target {
    pub fn new(addr: Address) -> Self {
        let label = addr.to_string().into();
        Target { addr, label }
    }
}

/// How much a connection learns about the process at its other end (Unix sockets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Described {
    /// `SO_PEERCRED` and the process name: for what `connect`, `recv` and `fd` show, and for
    /// the relay's side connected to when a tap (`--dump`, `--pcap`) names both peers.
    Fully,
    /// Nothing: the relay's side connected to, with no tap, is described to nobody, and
    /// asking (a `getsockopt` and a read of /proc) was five system calls per connection.
    Not,
}

/// `label`: the address as formatted once by a [`Target`], for the connection's label.
async fn connect_with(
    addr: &Address,
    label: Option<&Arc<str>>,
    timeout: Option<Duration>,
    d: Described,
) -> Result<Conn> {
    if addr.options.merge {
        return Err(Error::Usage(format!(
            "{addr}: merge is for a datagram socket that is listened on (every sender in one \
             connection); a connected socket has one peer"
        )));
    }
    // TLS files are read before anything opens: a bad one is a usage error.
    let tls = match addr.options.tls {
        true => Some(tls::Client::new(addr)?),
        false => None,
    };
    let conn = match addr.options.retry {
        Some(r) => {
            let again = || connect_once(addr, label, timeout, d);
            Box::pin(retry::retrying(addr, r, again)).await
        }
        None => connect_once(addr, label, timeout, d).await,
    };
    match tls {
        Some(tls) => Box::pin(tls.handshake(conn?, addr)).await,
        None => conn,
    }
}

async fn connect_once(
    addr: &Address,
    label: Option<&Arc<str>>,
    timeout: Option<Duration>,
    d: Described,
) -> Result<Conn> {
    let conn = Box::pin(open_kind(addr, label, timeout, d)).await?;
    if let Some(ways) = addr.options.crlf {
        return crlf::wrap(conn, ways);
    }
    Ok(conn)
}

async fn open_kind(
    addr: &Address,
    label: Option<&Arc<str>>,
    timeout: Option<Duration>,
    d: Described,
) -> Result<Conn> {
    let timeout = addr.options.timeout.or(timeout);
    // The per-kind futures are boxed: they live only while connecting, and inline they would
    // make every connection's task as large as the largest of them for its whole life.
    match &addr.endpoint {
        Endpoint::Tcp(t) => Box::pin(inet::connect_tcp(addr, label, t, timeout)).await,
        Endpoint::Udp(t) => Box::pin(inet::connect_udp(addr, t)).await,
        Endpoint::Unix(ty, name) => {
            Box::pin(unix::connect(addr, label, *ty, name, timeout, d)).await
        }
        Endpoint::Fifo(path) => Box::pin(fifo::open_for_writing(addr, path)).await,
        Endpoint::File(path) => file::open(addr, path),
        Endpoint::Exec(argv) => exec::spawn(addr, argv, &[]),
        Endpoint::Sh(line) => exec::spawn(addr, &sh_argv(line), &[]),
        Endpoint::Stdio => stdio::open(addr),
        Endpoint::Icmp { .. } => Err(Error::Usage(format!(
            "{addr}: icmp addresses are for `sockbox ping`, not for connecting"
        ))),
        Endpoint::Proxy(t) => Box::pin(proxy::connect(addr, t, timeout)).await,
        Endpoint::Pty => Box::pin(pty::open(addr)).await,
        Endpoint::Tty(path) => tty::open(addr, path),
        Endpoint::Readline => readline::open(addr),
        Endpoint::Dual(halves) => Box::pin(dual::open(halves, timeout, None, d)).await,
    }
}

/// Open `addr` for `client`, a connection a server accepted (the B side of `relay`): as
/// [`connect`] does, and a program (`exec:`, `sh:`) knows the client by [`peer_env`]. The
/// process behind a Unix socket connected to is asked for (`SO_PEERCRED`, once) only when
/// `described` says someone reads it: a relay's tap does, its plain copy does not.
pub async fn connect_for(
    target: &Target,
    timeout: Option<Duration>,
    client: &Conn,
    described: Described,
) -> Result<Conn> {
    let label = Some(&target.label);
    open_for(&target.addr, label, timeout, client, described).await
}

/// [`connect_for`] an address, with its label if it was formatted already.
async fn open_for(
    addr: &Address,
    label: Option<&Arc<str>>,
    timeout: Option<Duration>,
    client: &Conn,
    described: Described,
) -> Result<Conn> {
    match &addr.endpoint {
        Endpoint::Exec(argv) => exec::spawn(addr, argv, &peer_env(client)),
        Endpoint::Sh(line) => exec::spawn(addr, &sh_argv(line), &peer_env(client)),
        Endpoint::Dual(d) => Box::pin(dual::open(d, timeout, Some(client), described)).await,
        _ => connect_with(addr, label, timeout, described).await,
    }
}

/// The environment a program run for a client knows it by, as inetd and socat give it:
/// `SOCKBOX_PEER` (the client as sockbox names it) and, for a Unix peer, `SOCKBOX_PEER_PID`,
/// `SOCKBOX_PEER_UID`, `SOCKBOX_PEER_GID` (from `SO_PEERCRED`).
pub fn peer_env(client: &Conn) -> Vec<(String, String)> {
    let mut env = vec![("SOCKBOX_PEER".to_string(), client.label.to_string())];
    if let Some(Peer::Unix { cred: Some(c), .. }) = &client.peer {
        env.push(("SOCKBOX_PEER_PID".into(), c.pid.to_string()));
        env.push(("SOCKBOX_PEER_UID".into(), c.uid.to_string()));
        env.push(("SOCKBOX_PEER_GID".into(), c.gid.to_string()));
    }
    env
}

/// Spawn `argv` for one client (`listen --exec`), with `env` added to its environment.
pub fn spawn_for(argv: &[String], env: &[(String, String)]) -> Result<Conn> {
    let addr = Address::new(Endpoint::Exec(argv.to_vec()));
    exec::spawn(&addr, argv, env)
}

fn sh_argv(line: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), line.into()]
}

enum Accepting {
    /// A listening stream or seqpacket socket.
    Stream(accept::StreamListener),
    /// Peers of a datagram socket, demultiplexed by a task started on the first accept.
    Datagram(demux::Peers),
    /// A FIFO: each "client" is the next writer to open it.
    Fifo(fifo::FifoListener),
    /// stdio, file, exec, sh: one connection, opened on the first accept.
    Once(Option<Address>),
}

/// The accepting side of an address.
pub struct Listener {
    /// The address as bound (with the port the kernel chose for port 0).
    pub label: String,
    accepting: Accepting,
    /// Only these peers are let in: checked on each accepted stream client, handed to the
    /// demultiplexer of a datagram socket when it starts.
    allow: Option<AllowPeers>,
    /// Removes the socket file or FIFO we created when the listener goes away.
    _cleanup: Option<unix::FileGuard>,
    /// Stream clients closed on arrival by the access rules.
    refused: u64,
    /// Each stream client's line ends are converted (`crlf`).
    crlf: Option<crate::addr::Crlf>,
    /// `tls`: each accepted client's handshake, before it is handed out.
    tls: Option<tls::Acceptor>,
}

impl Listener {
    /// Bind `addr` to accept clients. A listener of a non-socket kind (stdio, file, exec, sh)
    /// yields exactly one connection.
    pub async fn bind(addr: &Address) -> Result<Listener> {
        let mut listener = Self::bind_kind(addr).await?;
        listener.crlf = addr.options.crlf;
        Ok(listener)
    }

    async fn bind_kind(addr: &Address) -> Result<Listener> {
        if addr.role == Some(Role::Connect) {
            return Err(Error::Usage(format!(
                "{addr}: cannot listen on a connect: address"
            )));
        }
        if addr.options.tls {
            // Certificates are read (or made) before the socket is bound.
            let acceptor = tls::Acceptor::new(addr)?;
            let mut listener = Bound::bind(addr).await?.into_listener()?;
            listener.tls = Some(acceptor);
            // A TCP listener's label is its bound address, with no options; a Unix one's is the
            // address as given, `tls` already among its options (printed twice, it would not
            // parse back).
            listener.label = match (&addr.endpoint, listener.label.strip_prefix("tcp:")) {
                (Endpoint::Unix(..), _) => listener.label,
                (_, Some(rest)) => format!("tls:{rest}"),
                (_, None) => format!("{},tls", listener.label),
            };
            return Ok(listener);
        }
        match &addr.endpoint {
            Endpoint::Tcp(_) | Endpoint::Udp(_) | Endpoint::Unix(..) => {
                let mut listener = Bound::bind(addr).await?.into_listener()?;
                if addr.options.merge {
                    match &mut listener.accepting {
                        Accepting::Datagram(p) => p.merge(listener.label.clone()),
                        _ => {
                            return Err(Error::Usage(format!(
                                "{addr}: merge applies to a datagram socket (udp, unix-dgram)"
                            )))
                        }
                    }
                }
                Ok(listener)
            }
            Endpoint::Fifo(path) => {
                let guard = fifo::create(addr, path)?;
                Ok(Listener {
                    label: addr.to_string(),
                    accepting: Accepting::Fifo(fifo::FifoListener::new(addr, path)),
                    allow: None,
                    _cleanup: guard,
                    refused: 0,
                    crlf: None,
                    tls: None,
                })
            }
            Endpoint::File(_)
            | Endpoint::Exec(_)
            | Endpoint::Sh(_)
            | Endpoint::Stdio
            | Endpoint::Pty
            | Endpoint::Tty(_)
            | Endpoint::Readline
            // Both halves connect: opened once, as a file is.
            | Endpoint::Dual(_) => Ok(Listener {
                label: addr.to_string(),
                accepting: Accepting::Once(Some(addr.clone())),
                allow: None,
                _cleanup: None,
                refused: 0,
                crlf: None,
                tls: None,
            }),
            Endpoint::Icmp { .. } => Err(Error::Usage(format!(
                "{addr}: icmp addresses are for `sockbox ping`, not for listening"
            ))),
            Endpoint::Proxy(_) => Err(Error::Usage(format!(
                "{addr}: a proxy kind connects through its proxy; it cannot listen (put it on \
                 the connecting side, e.g. `relay tcp:8080 {addr}`)"
            ))),
        }
    }

    /// Label Unix clients by pid, uid and gid only, without reading each one's process name
    /// from /proc (open, read, close per connection): for a server whose peer lines are not
    /// shown (`relay -q`).
    pub fn unnamed_processes(&mut self) {
        if let Accepting::Stream(l) = &mut self.accepting {
            l.process_names = false;
        }
    }

    /// The listening socket of a stream or seqpacket listener (`relay --accept stall` fills
    /// its backlog).
    pub fn stream_socket(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.accepting {
            Accepting::Stream(l) => Some(std::os::fd::AsFd::as_fd(l.fd.get_ref())),
            _ => None,
        }
    }

    /// Stream clients closed on arrival by the access rules so far.
    pub fn refused(&self) -> u64 {
        self.refused + self.tls.as_ref().map_or(0, tls::Acceptor::refused)
    }

    /// True when this listener yields one connection and no more (stdio, file, exec, sh): its
    /// server's outcome is that connection's.
    pub fn yields_one(&self) -> bool {
        match &self.accepting {
            Accepting::Once(_) => true,
            Accepting::Datagram(p) => p.merged.is_some(),
            _ => false,
        }
    }

    /// Let in only the peers `allow` lets in; everyone else is refused right after
    /// `accept(2)`, before a byte is read, and the refusal is logged. Unix rules need a Unix
    /// stream or seqpacket listener (which knows who connects), IP rules a TCP or UDP one; on a
    /// UDP socket a refused source's datagrams are dropped (one warning per source). Call it
    /// before the first `accept`.
    pub fn allow_only(&mut self, allow: AllowPeers) -> Result<()> {
        if matches!(&self.accepting, Accepting::Datagram(p) if p.merged.is_some()) {
            return Err(Error::Usage(format!(
                "{}: with merge every sender is one connection, so none can be turned away; \
                 --allow-*/--deny-* need the listener without merge",
                self.label
            )));
        }
        let knows = match &self.accepting {
            Accepting::Stream(l) => match l.medium {
                Medium::UnixStream | Medium::Seqpacket => access::Knows::Credentials,
                _ => access::Knows::Address,
            },
            Accepting::Datagram(p) if p.inet => access::Knows::Address,
            Accepting::Datagram(_) => access::Knows::Nothing { unix: true },
            Accepting::Fifo(_) | Accepting::Once(_) => access::Knows::Nothing { unix: false },
        };
        allow.check_listener(&self.label, knows)?;
        let verifies = self
            .tls
            .as_ref()
            .is_some_and(tls::Acceptor::verifies_clients);
        allow.check_subjects(&self.label, verifies)?;
        let mut allow = allow;
        // A certificate is known after the handshake: the TLS layer judges it.
        if let Some(tls) = &mut self.tls {
            tls.allow_subjects(std::mem::take(&mut allow.subjects));
        }
        if !allow.is_empty() {
            self.allow = Some(allow);
        }
        Ok(())
    }

    /// For a datagram listener: hand out at most `max` peers at once; datagrams from a new
    /// peer over that are dropped, with one warning per peer (there is no connection to keep
    /// waiting, and not reading would stall every peer). False for other listeners, whose
    /// clients a server paces by accepting or not. Call it before the first `accept`.
    pub(crate) fn cap_peers(&mut self, max: usize) -> bool {
        match &mut self.accepting {
            Accepting::Datagram(p) => {
                p.cap(max);
                true
            }
            _ => false,
        }
    }

    /// The next client, or `None` when this listener has no more to give (a non-socket
    /// kind after its one connection). Cancel-safe: a client is never lost by dropping the
    /// future, so servers can race it against other events.
    pub async fn accept(&mut self) -> Result<Option<Conn>> {
        let conn = self.accept_layers().await?;
        match (conn, self.crlf) {
            // Line ends are converted on the plain text: after TLS, if there is TLS.
            (Some(c), Some(ways)) => crlf::wrap(c, ways).map(Some),
            (c, _) => Ok(c),
        }
    }

    async fn accept_layers(&mut self) -> Result<Option<Conn>> {
        let Some(tls) = &mut self.tls else {
            return self.accept_plain().await;
        };
        // With TLS, a client is handed out once its handshake is done; handshakes run
        // concurrently with accepting the next clients. Both futures are cancel-safe.
        let mut accepting = true;
        loop {
            let busy = tls.busy();
            let plain = accept_plain(&mut self.accepting, self.allow.as_ref(), &mut self.refused);
            tokio::select! {
                conn = tls.next(), if busy => return Ok(Some(conn)),
                accepted = plain, if accepting => {
                    match accepted? {
                        Some(conn) => tls.start(conn),
                        None if busy => accepting = false,
                        None => return Ok(None),
                    }
                }
                else => return Ok(None),
            }
        }
    }

    async fn accept_plain(&mut self) -> Result<Option<Conn>> {
        accept_plain(&mut self.accepting, self.allow.as_ref(), &mut self.refused).await
    }
}

/// A plain stream listener (TCP or Unix stream, no TLS) handed to another runtime: the
/// listening socket (or a `dup(2)` of it), its settings and access rules, not yet registered.
/// A server running one current-thread runtime per core gives each a shard
/// ([`Listener::shards`]) and each accepts and serves its clients on its own thread
/// ([`crate::server::Sharded`]). The original listener keeps the socket file's guard.
pub struct ListenerShard {
    fd: OwnedFd,
    label: String,
    medium: Medium,
    transfer: Transfer,
    framing: Option<Framing>,
    nodelay: bool,
    keepalive: bool,
    process_names: bool,
    allow: Option<AllowPeers>,
    crlf: Option<crate::addr::Crlf>,
}

impl Listener {
    /// Hand this listener's socket over as `n` [`ListenerShard`]s sharing it (the first owns
    /// it, the others are `dup(2)`s), or `None`, changing nothing, when it is not a plain
    /// stream listener (datagram, FIFO, one-connection kinds, TLS: those are served by
    /// [`crate::server::serve`]). The socket leaves this runtime's poller, so a new client
    /// wakes only the shards' threads; this listener accepts nothing more and only keeps the
    /// socket file until it is dropped.
    pub fn shards(&mut self, n: usize) -> Result<Option<Vec<ListenerShard>>> {
        if self.tls.is_some() || !matches!(self.accepting, Accepting::Stream(_)) {
            return Ok(None);
        }
        let Accepting::Stream(l) = std::mem::replace(&mut self.accepting, Accepting::Once(None))
        else {
            unreachable!("checked above");
        };
        let (medium, transfer, framing) = (l.medium, l.transfer, l.framing);
        let (nodelay, keepalive, process_names) = (l.nodelay, l.keepalive, l.process_names);
        // `into_inner` takes the socket out of this runtime's epoll (EPOLL_CTL_DEL).
        let first = l.fd.into_inner();
        let mut fds = Vec::with_capacity(n.max(1));
        for _ in 1..n.max(1) {
            fds.push(
                first
                    .try_clone()
                    .map_err(crate::error::io_err("dup", &self.label))?,
            );
        }
        fds.insert(0, first);
        Ok(Some(
            fds.into_iter()
                .map(|fd| ListenerShard {
                    fd,
                    label: self.label.clone(),
                    medium,
                    transfer,
                    framing,
                    nodelay,
                    keepalive,
                    process_names,
                    allow: self.allow.clone(),
                    crlf: self.crlf,
                })
                .collect(),
        ))
    }
}

impl ListenerShard {
    /// Register the socket with the current runtime and accept on it.
    pub fn into_listener(self) -> Result<Listener> {
        let sock = socket2::Socket::from(self.fd);
        let mut l = accept::StreamListener::new(sock, self.label.clone(), self.medium)
            .map_err(crate::error::io_err("listen", &self.label))?;
        l.transfer = self.transfer;
        l.framing = self.framing;
        l.nodelay = self.nodelay;
        l.keepalive = self.keepalive;
        l.process_names = self.process_names;
        // Each shard's epoll holds the socket: wake one idle shard per new client, not all.
        // Unix stream sockets only: on TCP the same change measured 0.83-0.84x the shared
        // wake-up at 64 clients in two runs (docs/benchmarks.md), and 1.05-1.10x at 4.
        let fd = std::os::fd::AsFd::as_fd(l.fd.get_ref());
        let woken = if self.medium == Medium::UnixStream {
            sockbox_sys::wake_one(fd)
        } else {
            Ok(false)
        };
        match woken {
            Ok(true) => crate::narrate!(
                "epoll_ctl(EPOLL_CTL_ADD, fd {}, EPOLLIN|EPOLLET|EPOLLEXCLUSIVE)",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ),
            Ok(false) => crate::narrate!("EPOLLEXCLUSIVE not available: every shard wakes"),
            Err(e) => crate::narrate!("EPOLLEXCLUSIVE: {e}: every shard wakes"),
        }
        Ok(Listener {
            label: self.label,
            accepting: Accepting::Stream(l),
            allow: self.allow,
            _cleanup: None,
            refused: 0,
            crlf: self.crlf,
            tls: None,
        })
    }
}

/// The next client of a listener, before any layer (TLS) runs on it.
async fn accept_plain(
    accepting: &mut Accepting,
    allow: Option<&AllowPeers>,
    refused: &mut u64,
) -> Result<Option<Conn>> {
    match accepting {
        Accepting::Stream(l) => loop {
            let conn = l.accept().await?;
            let Some(allow) = allow else {
                return Ok(Some(conn));
            };
            match allow.check_conn(&conn) {
                Ok(()) => return Ok(Some(conn)),
                // Dropping the connection closes it: the client reads end-of-stream.
                Err(why) => {
                    *refused += 1;
                    tracing::warn!("refused {}: {why}", conn.label);
                }
            }
        },
        Accepting::Datagram(p) => Ok(p.next(allow).await),
        Accepting::Fifo(f) => f.accept().await.map(Some),
        Accepting::Once(addr) => match addr.take() {
            Some(a) => connect(&a, None).await.map(Some),
            None => Ok(None),
        },
    }
}
