//! Connections per second, for the kinds that connect: the client thread loops `socket(2)`,
//! `connect(2)`, `read(2)` until the server's close arrives, `close(2)`; the server thread
//! loops `accept(2)`, `close(2)`. One connection at a time, so the accept queue never
//! overflows (an overflowing TCP accept queue drops SYNs, and the client would wait a second
//! for its retransmission). The server closes first, so TCP's TIME_WAIT stays on its side and
//! the client's ephemeral ports are free at once.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use nix::errno::Errno;
use socket2::{Domain, SockAddr, Socket, Type};

use super::transports::{set_receive_timeout, show, timed_out, Transport};
use super::{run_pair, ConnectRate, Env, Phase, POLL};
use crate::error::io_err;
use crate::{Error, Result};

pub(crate) fn measure(t: Transport, env: &Env<'_>) -> Result<ConnectRate> {
    let what = &format!("bench {t}");
    let dir;
    let (domain, ty, at) = match t {
        Transport::Tcp4 => (
            Domain::IPV4,
            Type::STREAM,
            SockAddr::from(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
        ),
        Transport::Tcp6 => (
            Domain::IPV6,
            Type::STREAM,
            SockAddr::from(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))),
        ),
        Transport::Unix | Transport::Seqpacket => {
            dir = tempfile::Builder::new()
                .prefix("sockbox-bench-")
                .tempdir()
                .map_err(io_err("create a temporary directory for", what))?;
            let path = dir.path().join("c.sock");
            let ty = if t == Transport::Unix {
                Type::STREAM
            } else {
                Type::SEQPACKET
            };
            let at = SockAddr::unix(&path).map_err(io_err("name", path.display()))?;
            (Domain::UNIX, ty, at)
        }
        _ => {
            return Err(Error::Bench(format!(
                "{t} does not connect: connection rates are for tcp4, tcp6, unix and seqpacket"
            )))
        }
    };
    let listener = Socket::new(domain, ty, None).map_err(io_err("socket", what))?;
    if domain != Domain::UNIX {
        listener
            .set_reuse_address(true)
            .map_err(io_err("set SO_REUSEADDR on", what))?;
    }
    listener
        .bind(&at)
        .and_then(|()| listener.listen(128))
        .map_err(io_err("listen", what))?;
    set_receive_timeout(&listener, POLL).map_err(io_err("set SO_RCVTIMEO on", what))?;
    let at = &listener.local_addr().map_err(io_err("getsockname", what))?;
    crate::narrate!("{what}: connecting in a loop to {}", show(at));
    let phase = &Phase::warming_up();
    let (rate, _) = run_pair(
        env,
        phase,
        move || client(domain, ty, at, phase).map_err(|(op, e)| io_err(op, what)(e)),
        // The listener moves to the server thread: if that thread stops early, its close resets
        // the client's pending connection instead of leaving it waiting.
        move || server(listener, phase).map_err(io_err("accept", what)),
    )?;
    Ok(rate)
}

type OpError = (&'static str, std::io::Error);

fn client(domain: Domain, ty: Type, at: &SockAddr, phase: &Phase) -> Result<ConnectRate, OpError> {
    let mut byte = [0u8; 1];
    let mut connections = 0u64;
    let mut start: Option<Instant> = None;
    // Until the phase says stop, and until one connection was counted (at most 20 more
    // tries), so a measurement squeezed out by a busy machine still has its figure.
    let mut extra = 0;
    loop {
        if phase.stopped() {
            if connections > 0 || extra >= 20 {
                break;
            }
            extra += 1;
        }
        if start.is_none() && phase.counting() {
            start = Some(Instant::now());
        }
        let s = Socket::new(domain, ty, None).map_err(|e| ("socket", e))?;
        if let Err(e) = s.connect(at) {
            if phase.stopped() {
                break;
            }
            return Err(("connect", e));
        }
        // The server's close: end of stream (or a reset when it closed with the connection
        // still in its queue, as it does when it stops).
        match nix::unistd::read(&s, &mut byte) {
            Ok(_) | Err(Errno::ECONNRESET) => {}
            Err(_) if phase.stopped() => break,
            Err(e) => return Err(("read", e.into())),
        }
        drop(s);
        if start.is_some() {
            connections += 1;
        }
    }
    let seconds = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    Ok(ConnectRate {
        connections,
        seconds,
        per_s: if seconds > 0.0 {
            connections as f64 / seconds
        } else {
            0.0
        },
    })
}

fn server(listener: Socket, phase: &Phase) -> std::io::Result<u64> {
    let mut accepted = 0u64;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                drop(s);
                accepted += 1;
            }
            Err(e) if timed_out(&e) => {
                if phase.stopped() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR) | Some(libc::ECONNABORTED)
                ) => {}
            Err(e) => {
                if phase.stopped() {
                    break;
                }
                return Err(e);
            }
        }
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::super::Timing;
    use super::*;

    #[test]
    fn every_connectable_kind_connects_in_a_loop() {
        let cancel = AtomicBool::new(false);
        let env = Env {
            cpus: None,
            timing: Timing::for_duration(Duration::from_millis(30)),
            cancel: &cancel,
        };
        for t in Transport::ALL.into_iter().filter(|t| t.connectable()) {
            let r = measure(t, &env).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert!(r.connections > 0 && r.per_s > 0.0, "{t}: {r:?}");
        }
        assert!(measure(Transport::Pipe, &env).is_err());
    }
}
