//! `listen --broker` and `--chat` (ncat's connection brokering): every client's bytes go to
//! every other client, so clients that cannot reach each other talk through the server.
//!
//! One task owns the table of clients; each client has a reader task (its bytes to the
//! table) and a writer task (bytes from the table to it), so a slow client never holds up the
//! others. A client whose queue stays full is not reading: it is closed with a warning rather
//! than left to grow memory or to drop bytes without a word.
//!
//! `--chat` is ncat's chat mode: each chunk a client sends reaches the others prefixed
//! `<userN> `, and joins and leaves are announced (`<announce> ...`), word for word as ncat
//! says them. Users are numbered as ncat numbers them: the lowest free number from 4 (ncat
//! uses the client's file descriptor).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::endpoint::{fdio, Conn, Listener, Peer, Sink, Source};
use crate::error::{Error, Result};
use crate::PEER;

/// Chunks queued for one client before it counts as not reading.
const QUEUE: usize = 1024;
/// The first user number (ncat's first client descriptor).
const FIRST_USER: u32 = 4;

/// What a client's reader reports: by user number and by serial, as a number is reused once
/// its client has gone.
enum Event {
    Data(u32, u64, Vec<u8>),
    Left(u32, u64),
}

struct Client {
    serial: u64,
    /// How `--chat` names the client's address: its IP, or the label of a Unix peer.
    host: String,
    tx: mpsc::Sender<Arc<[u8]>>,
}

/// Serve `listener` as a broker until `shutdown` resolves.
pub async fn run(
    listener: &mut Listener,
    chat: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let (events_tx, mut events) = mpsc::channel::<Event>(QUEUE);
    let mut clients: BTreeMap<u32, Client> = BTreeMap::new();
    let mut serial = 0u64;
    // Whether an event comes from the client that holds its number now.
    let current = |clients: &BTreeMap<u32, Client>, id: u32, serial: u64| {
        clients.get(&id).is_some_and(|c| c.serial == serial)
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let Some(conn) = accepted? else { return Ok(()) };
                let id = (FIRST_USER..).find(|n| !clients.contains_key(n)).unwrap_or(u32::MAX);
                let host = host_of(&conn);
                tracing::info!(target: PEER, "connection from {} as <user{id}>", conn.label);
                serial += 1;
                let tx = start(conn, id, serial, events_tx.clone())?;
                let others: Vec<String> = clients
                    .iter()
                    .map(|(n, c)| format!("{} as <user{n}>", c.host))
                    .collect();
                clients.insert(id, Client { serial, host: host.clone(), tx });
                if chat {
                    let list = if others.is_empty() { "nobody".to_owned() } else { others.join(", ") };
                    let text = format!(
                        "<announce> {host} is connected as <user{id}>.\n<announce> already connected: {list}.\n"
                    );
                    send_all(&mut clients, None, text.into_bytes());
                }
            }
            Some(event) = events.recv() => match event {
                // A client closed for not reading may still send: its number may be another's.
                Event::Data(from, s, _) if !current(&clients, from, s) => {}
                Event::Data(from, _, data) => {
                    let data = if chat {
                        let mut line = format!("<user{from}> ").into_bytes();
                        line.extend_from_slice(&data);
                        line
                    } else {
                        data
                    };
                    send_all(&mut clients, Some(from), data);
                }
                Event::Left(id, s) => {
                    if current(&clients, id, s) {
                        clients.remove(&id);
                        tracing::info!(target: PEER, "<user{id}> left");
                        if chat {
                            let text = format!("<announce> <user{id}> is disconnected.\n");
                            send_all(&mut clients, None, text.into_bytes());
                        }
                    }
                }
            },
        }
    }
}

/// Queue `data` for every client but `except`; a client whose queue is full is closed.
fn send_all(clients: &mut BTreeMap<u32, Client>, except: Option<u32>, data: Vec<u8>) {
    let data: Arc<[u8]> = data.into();
    let mut stuck = Vec::new();
    for (id, c) in clients.iter() {
        if Some(*id) == except {
            continue;
        }
        if c.tx.try_send(data.clone()).is_err() {
            stuck.push(*id);
        }
    }
    for id in stuck {
        tracing::warn!(
            "<user{id}> is not reading what the others send: nothing more is sent to it"
        );
        clients.remove(&id);
    }
}

fn host_of(conn: &Conn) -> String {
    match &conn.peer {
        Some(Peer::Inet { addr }) => addr.ip().to_string(),
        _ => conn.label.to_string(),
    }
}

/// The client's reader and writer tasks; returns the writer's queue.
fn start(
    mut conn: Conn,
    id: u32,
    serial: u64,
    events: mpsc::Sender<Event>,
) -> Result<mpsc::Sender<Arc<[u8]>>> {
    let (reader, writer) = match (conn.reader.take(), conn.writer.take()) {
        (Some(r), Some(w)) => (r, w),
        _ => {
            return Err(Error::Usage(format!(
                "{}: --broker needs two-way clients",
                conn.label
            )))
        }
    };
    let (Source::Fd(src), Sink::Fd(dst)) = (&reader.src, &writer.dst) else {
        return Err(Error::Usage(format!(
            "{}: --broker needs a stream listener (tcp, unix)",
            conn.label
        )));
    };
    let (src, dst) = (src.clone(), dst.clone());
    let (tx, mut rx) = mpsc::channel::<Arc<[u8]>>(QUEUE);
    // The connection (and what it holds) lives as long as its reader.
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match fdio::read_stream(&src, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if events
                        .send(Event::Data(id, serial, buf[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = events.send(Event::Left(id, serial)).await;
        drop(conn);
    });
    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if fdio::write_all(&dst, &data).await.is_err() {
                break;
            }
        }
        // Dropped by the table (it left, or stopped reading): the socket closes with the reader.
        writer.finish();
    });
    Ok(tx)
}
