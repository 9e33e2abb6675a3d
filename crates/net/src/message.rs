//! Messages with their boundaries: what `sockbox send` and `sockbox recv` do.
//!
//! Both reuse the endpoint layer and the relay's message path, so every kind that can carry
//! messages works the same: UDP and Unix datagrams, seqpacket, and any stream with `frame=`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::addr::Address;
use crate::endpoint::{self, Listener};
use crate::error::{Error, Result};
use crate::relay::datagram::{MsgIn, MsgOut};
use crate::relay::{Fault, Flow};
use crate::server::MaxConns;

/// One message received, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The sender: an inet address, a Unix name or credentials, or the endpoint's name.
    pub peer: String,
    pub data: Vec<u8>,
}

fn fault(label: &str, f: Fault) -> Error {
    match f {
        Fault::Read(err) => Error::Io {
            op: "read from",
            target: label.into(),
            err,
        },
        Fault::Write(err) => Error::Io {
            op: "send to",
            target: label.into(),
            err,
        },
        Fault::Frame(err) => Error::Frame {
            target: label.into(),
            err,
        },
        Fault::Ended(_) => unreachable!("no faults outside the relay"),
    }
}

/// Connect to `addr` and send each message whole, then end the stream (where there is one).
pub async fn send(addr: &Address, msgs: &[Vec<u8>], timeout: Option<Duration>) -> Result<Flow> {
    let mut conn = endpoint::connect(addr, timeout).await?;
    let writer = conn
        .writer
        .take()
        .ok_or_else(|| Error::Usage(format!("{addr}: this endpoint can only be read from")))?;
    let mut out = MsgOut::new(&writer, conn.transfer, conn.framing);
    let mut flow = Flow::default();
    for m in msgs {
        out.send(m).await.map_err(|f| fault(&conn.label, f))?;
        flow.bytes += m.len() as u64;
        flow.messages += 1;
    }
    writer.finish();
    conn.close(crate::server::CLOSE_GRACE).await;
    Ok(flow)
}

/// Messages arriving on a bound address, from every peer, in arrival order.
///
/// The receiver owns its listener (accepting in [`Receiver::recv`]), so dropping the receiver
/// closes the listener and removes its socket file or FIFO at once.
pub struct Receiver {
    pub label: String,
    listener: Option<Listener>,
    max_frame: usize,
    /// At most this many stream clients at once (`listen --keep --max-conns`); each client's
    /// task holds a permit.
    cap: Option<(Arc<Semaphore>, MaxConns)>,
    tx: mpsc::Sender<Result<Message>>,
    rx: mpsc::Receiver<Result<Message>>,
}

impl Receiver {
    /// Bind `addr` and start receiving from every client or peer.
    pub async fn bind(addr: &Address, max_frame: usize) -> Result<Receiver> {
        Ok(Self::from_listener(Listener::bind(addr).await?, max_frame))
    }

    /// Receive from every client of an already bound listener.
    pub fn from_listener(listener: Listener, max_frame: usize) -> Receiver {
        let (tx, rx) = mpsc::channel(1024);
        Receiver {
            label: listener.label.clone(),
            listener: Some(listener),
            max_frame,
            cap: None,
            tx,
            rx,
        }
    }

    /// Serve at most `max.limit` clients at once: the next ones wait in the accept queue, or
    /// with `max.refuse` are accepted and closed at once. A datagram listener drops new
    /// peers' datagrams over the cap instead.
    pub fn cap(&mut self, max: MaxConns) {
        let limit = max.limit.max(1);
        if let Some(l) = self.listener.as_mut() {
            if l.cap_peers(limit) {
                return;
            }
        }
        self.cap = Some((Arc::new(Semaphore::new(limit)), max));
    }

    /// The next message; `None` once no sender is left (only for non-socket kinds, whose
    /// listener gives one connection).
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                return self.rx.recv().await;
            };
            let cap = self.cap.clone();
            let waiting = async { (slot(cap.as_ref()).await, listener.accept().await) };
            tokio::select! {
                m = self.rx.recv() => return m,
                (permit, accepted) = waiting => match accepted {
                    Ok(Some(conn)) => {
                        let permit = match (&self.cap, permit) {
                            (_, Some(p)) => Some(p),
                            (Some((sem, _)), None) => match sem.clone().try_acquire_owned() {
                                Ok(p) => Some(p),
                                Err(_) => {
                                    tracing::warn!("refused {}: --max-conns reached", conn.label);
                                    continue;
                                }
                            },
                            (None, None) => None,
                        };
                        let (max_frame, tx) = (self.max_frame, self.tx.clone());
                        tokio::spawn(async move {
                            forward(conn, max_frame, tx).await;
                            drop(permit);
                        });
                    }
                    Ok(None) => {
                        // No more clients: the channel closes with the last one.
                        self.listener = None;
                        let (dead, _) = mpsc::channel(1);
                        self.tx = dead;
                    }
                    Err(e) => return Some(Err(e)),
                },
            }
        }
    }
}

/// A slot for the next client: waited for, unless over-cap clients are refused (then the
/// slot is judged after the accept).
async fn slot(cap: Option<&(Arc<Semaphore>, MaxConns)>) -> Option<OwnedSemaphorePermit> {
    match cap {
        Some((sem, m)) if !m.refuse => sem.clone().acquire_owned().await.ok(),
        _ => None,
    }
}

async fn forward(mut conn: endpoint::Conn, max_frame: usize, tx: mpsc::Sender<Result<Message>>) {
    let Some(reader) = conn.reader.take() else {
        return;
    };
    let peer = conn
        .peer
        .as_ref()
        .map_or_else(|| conn.label.to_string(), |p| p.to_string());
    let mut input = MsgIn::new(reader, conn.transfer, conn.framing, max_frame);
    loop {
        let item = match input.next().await {
            Ok(Some(data)) => Ok(Message {
                peer: peer.clone(),
                data: data.to_vec(),
            }),
            Ok(None) => return,
            Err(f) => Err(fault(&conn.label, f)),
        };
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            return;
        }
    }
}
