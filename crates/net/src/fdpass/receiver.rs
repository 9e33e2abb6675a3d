//! Receiving descriptors from every client of a listening Unix socket, from one connection, or
//! on a bound datagram socket, in arrival order.
//!
//! Each connection is read by its own task into a small channel, so one quiet client does not
//! hold up another. Messages waiting in the channel own their descriptors: dropping the
//! receiver (at the end, on an error, on a signal) aborts the tasks and closes every descriptor
//! not yet handed out.

use std::os::fd::OwnedFd;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::scm::{self, RecvBuf, RecvError};
use super::socket::{self, PassSocket};
use super::{SocketKind, MAX_PAYLOAD};
use crate::addr::{Address, Role, UnixType};
use crate::endpoint::Listener;
use crate::error::{Error, Result};
use crate::PEER;

/// One message received: its data and the descriptors that came with it.
#[derive(Debug)]
pub struct Received {
    /// The sender: credentials of a connected peer, or a datagram's source address.
    pub peer: String,
    pub data: Vec<u8>,
    /// The descriptors, in the order the sender attached them; close-on-exec.
    pub fds: Vec<OwnedFd>,
}

/// At most this many received messages wait for the verb; the readers stop reading (and the
/// kernel's socket buffers push back on the senders) beyond it.
const QUEUE: usize = 4;

/// Messages with descriptors arriving on an address.
pub struct FdReceiver {
    /// The address received on.
    pub label: String,
    listener: Option<Listener>,
    /// The socket file of a bound datagram socket, removed when the receiver is dropped (here,
    /// not in the reading task, whose end after an abort nobody waits for).
    _socket_file: Option<crate::endpoint::FileGuard>,
    max_fds: usize,
    readers: JoinSet<()>,
    tx: Option<mpsc::Sender<Result<Received>>>,
    rx: mpsc::Receiver<Result<Received>>,
}

impl FdReceiver {
    fn new(label: String, listener: Option<Listener>, max_fds: usize) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        FdReceiver {
            label,
            listener,
            _socket_file: None,
            max_fds,
            readers: JoinSet::new(),
            tx: Some(tx),
            rx,
        }
    }

    /// Receive on `addr`: listen on it (every client of a unix or seqpacket socket; a bound
    /// unix-dgram socket), or with a `connect:` prefix connect to it and receive on that one
    /// connection. `max_fds` bounds the descriptors of one message (at most [`super::SCM_MAX_FD`]).
    pub async fn open(addr: &Address, timeout: Option<Duration>, max_fds: usize) -> Result<Self> {
        let ty = socket::unix_type(addr)?;
        let max_fds = max_fds.min(super::SCM_MAX_FD);
        if addr.role == Some(Role::Connect) {
            let sock = socket::connect(addr, timeout).await?;
            let mut r = FdReceiver::new(sock.label.clone(), None, max_fds);
            r.start(sock);
            r.tx = None;
            return Ok(r);
        }
        if ty == UnixType::Dgram {
            let mut sock = socket::bind_datagram(addr).await?;
            tracing::info!(target: PEER, "receiving on {}", sock.label);
            let mut r = FdReceiver::new(sock.label.clone(), None, max_fds);
            r._socket_file = sock.cleanup.take();
            r.start(sock);
            r.tx = None;
            return Ok(r);
        }
        let listener = Listener::bind(addr).await?;
        tracing::info!(target: PEER, "receiving on {}", listener.label);
        Ok(FdReceiver::new(
            listener.label.clone(),
            Some(listener),
            max_fds,
        ))
    }

    fn start(&mut self, sock: PassSocket) {
        if let Some(tx) = &self.tx {
            self.readers.spawn(read(sock, self.max_fds, tx.clone()));
        }
    }

    /// The next message; `None` once no sender can be left (a `connect:` connection or a
    /// datagram socket ended; a listener never ends).
    pub async fn recv(&mut self) -> Option<Result<Received>> {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                return self.rx.recv().await;
            };
            tokio::select! {
                m = self.rx.recv() => return m,
                accepted = listener.accept() => match accepted {
                    Ok(Some(conn)) => {
                        tracing::info!(target: PEER, "connection from {}", conn.label);
                        let kind = if conn.reader.as_ref().is_some_and(|r| {
                            r.medium == crate::endpoint::Medium::Seqpacket
                        }) {
                            SocketKind::Seqpacket
                        } else {
                            SocketKind::Stream
                        };
                        match socket::from_accepted(conn, kind) {
                            Ok(sock) => self.start(sock),
                            Err(e) => return Some(Err(e)),
                        }
                    }
                    Ok(None) => self.listener = None,
                    Err(e) => return Some(Err(e)),
                },
            }
        }
    }
}

/// Read one socket's messages into the channel until it ends, fails, or nobody listens.
async fn read(sock: PassSocket, max_fds: usize, tx: mpsc::Sender<Result<Received>>) {
    let data_len = MAX_PAYLOAD;
    let mut buf = RecvBuf::new(data_len, max_fds);
    let peer = sock.peer.clone().unwrap_or_else(|| sock.label.clone());
    loop {
        let item = match scm::recv(sock.fd(), sock.kind, &mut buf).await {
            Ok(Some(got)) => {
                crate::narrate!(
                    "recvmsg(fd {}) = {} bytes, SCM_RIGHTS {} fds",
                    std::os::fd::AsRawFd::as_raw_fd(sock.fd()),
                    got.len,
                    got.fds.len()
                );
                Ok(Received {
                    peer: got.from.unwrap_or_else(|| peer.clone()),
                    data: buf.data(got.len).to_vec(),
                    fds: got.fds,
                })
            }
            Ok(None) => {
                tracing::info!(target: PEER, "{peer} closed");
                return;
            }
            Err(RecvError::Io(err)) => Err(Error::Io {
                op: "recvmsg from",
                target: sock.label.clone(),
                err,
            }),
            Err(RecvError::Pass(err)) => Err(Error::FdPass {
                target: format!("recvmsg from {}", sock.label),
                err,
            }),
        };
        let stop = item.is_err();
        // A send that fails drops the message, and with it its descriptors.
        if tx.send(item).await.is_err() || stop {
            return;
        }
    }
}
