//! `R!!W`: one connection made of two addresses, read from R and written to W (socat's dual
//! address, e.g. `file:/tmp/log,follow!!file:/tmp/log,append`).
//!
//! Both halves are opened as clients, at the same time: a FIFO read half (opened for reading,
//! made with `mkfifo(3)` when missing, as `listen:fifo:` does) and a write half on the same
//! FIFO each wait in `open(2)` for the other. The connection takes R's reader and W's writer;
//! R's writer and W's reader are closed unused (nothing is written to R, nothing read from W),
//! and what either half holds (a child, bridge threads, guards, layer tasks) stays with the
//! connection until [`Conn::close`], so no byte is lost at the end. The relay half-closes the
//! written direction by finishing W's writer, as for any connection.

use std::time::Duration;

use super::{fifo, Conn, Described};
use crate::addr::{Address, Dual, Endpoint};
use crate::error::{Error, Result};

/// Open both halves of `dual` and join them. `client` is the connection a server accepted,
/// when there is one: a program half knows it by its environment, and a Unix half is
/// `described` or not, as in [`super::connect_for`].
pub(crate) async fn open(
    dual: &Dual,
    timeout: Option<Duration>,
    client: Option<&Conn>,
    described: Described,
) -> Result<Conn> {
    let (read, write) = (dual.read(), dual.write());
    let label = format!("{read}!!{write}");
    let fifo_guard = match &read.endpoint {
        Endpoint::File(path) if read.options.write.is_none() && !path.exists() => {
            return Err(Error::Usage(format!(
                "{label}: its read half {read} does not exist (file: would create it to write \
                 into; add creat,follow to read a file that is made empty first)"
            )))
        }
        // Made before either half opens, so a write half naming the same FIFO finds it.
        Endpoint::Fifo(path) => fifo::create(read, path)?,
        _ => None,
    };
    let reading = async {
        match &read.endpoint {
            Endpoint::Fifo(path) => fifo::open_for_reading(read, path).await,
            _ => open_half(read, timeout, client, described).await,
        }
    };
    let (mut r, mut w) = tokio::try_join!(reading, open_half(write, timeout, client, described))?;
    let reader = r.reader.take().ok_or_else(|| {
        Error::Usage(format!(
            "{label}: its read half {read} opened with nothing to read"
        ))
    })?;
    let writer = w.writer.take().ok_or_else(|| {
        Error::Usage(format!(
            "{label}: its write half {write} opened with nothing to write to (a file: that \
             exists is read: add creat, trunc or append to write it)"
        ))
    })?;
    let mut conn = Conn::new(label, r.transfer, r.framing);
    conn.peer = r.peer.take().or_else(|| w.peer.take());
    conn.reader = Some(reader);
    conn.writer = Some(writer);
    // Unused halves: R's writer and W's reader close here; their holdings stay.
    r.writer = None;
    w.reader = None;
    conn.holdings.absorb(std::mem::take(&mut r.holdings));
    conn.holdings.absorb(std::mem::take(&mut w.holdings));
    if let Some(g) = fifo_guard {
        conn.holdings.guards.push(Box::new(g));
    }
    Ok(conn)
}

/// One half, opened as [`super::connect`] (or [`super::connect_for`] for a server's client)
/// opens any address. Boxed: a dual's half is an address, so the futures nest.
async fn open_half(
    addr: &Address,
    timeout: Option<Duration>,
    client: Option<&Conn>,
    described: Described,
) -> Result<Conn> {
    match client {
        Some(c) => Box::pin(super::open_for(addr, None, timeout, c, described)).await,
        None => Box::pin(super::connect(addr, timeout)).await,
    }
}
