//! `sockbox relay A B`: accept on A, connect each client to B, copy both ways.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use sockbox_net::addr::{Address, Role, Transfer};
use sockbox_net::endpoint::{self, Listener};
use sockbox_net::relay::{self, CopyMode, LiveTotals, RelayOptions};
use sockbox_net::server::{self, Totals};
use sockbox_net::{Error, PEER};

use super::Shutdown;
use crate::cli::{Copy, RelayArgs};
use crate::output;

/// Datagram clients never say goodbye: forget one after this long without traffic.
const DATAGRAM_IDLE: Duration = Duration::from_secs(60);

/// Who listens and who connects, once the prefixes are read: an unprefixed side takes the
/// role opposite to the other side's; with no prefix at all A listens and B connects.
fn roles(a: Address, b: Address) -> Result<(Option<Address>, Address, Option<Address>), Error> {
    let ra = a.role.unwrap_or(match b.role {
        Some(Role::Listen) => Role::Connect,
        _ => Role::Listen,
    });
    let rb = b.role.unwrap_or(match ra {
        Role::Listen => Role::Connect,
        Role::Connect => Role::Listen,
    });
    match (ra, rb) {
        (Role::Listen, Role::Connect) => Ok((Some(a), b, None)),
        (Role::Connect, Role::Listen) => Ok((Some(b), a, None)),
        (Role::Connect, Role::Connect) => Ok((None, a, Some(b))),
        (Role::Listen, Role::Listen) => Err(Error::Usage(format!(
            "relay {a} {b}: both sides listen; one side must connect"
        ))),
    }
}

pub async fn run(args: RelayArgs, shutdown: Shutdown) -> Result<ExitCode> {
    let allow = super::allow_peers(&args.allow)?;
    let max_conns = super::max_conns(&args.allow)?;
    // --pass-fds has its own rule (two unix: or two seqpacket: sides), said before the general
    // one, whose advice (frame=) would not apply.
    let check = |a: &Address, b: &Address| {
        if args.pass_fds {
            relay::fds::check_pair(a, b)?;
        }
        relay::check_pair(a, b)
    };
    let mut inherited = None;
    let (listen_on, connect_to, second) = match (&args.b, args.inherit) {
        // --inherit: the listening side is the socket handed over; the address given last is
        // the one to connect to (the first, when there are two, says which socket to serve).
        (b, true) => {
            let (hint, to) = match b {
                Some(b) => (std::slice::from_ref(&args.a), b),
                None => (&[][..], &args.a),
            };
            let to = super::parse_addr(to)?;
            let (addr, socket) = super::inherit(hint, &[])?;
            check(&addr, &to)?;
            inherited = Some(socket);
            (Some(addr), to, None)
        }
        (Some(b), false) => {
            let a = super::parse_addr(&args.a)?;
            let b = super::parse_addr(b)?;
            check(&a, &b)?;
            roles(a, b)?
        }
        (None, false) => unreachable!("clap requires B without --inherit"),
    };
    if !allow.is_empty() || max_conns.is_some() {
        match &listen_on {
            None => {
                return Err(Error::Usage(
                    "--allow-*, --deny-ip* and --max-conns need a side that is listened on: \
                     there is no client to check"
                        .into(),
                )
                .into())
            }
            Some(l) if inherited.is_none() => allow.check_address(l)?,
            Some(_) => {}
        }
    }
    let datagram_clients = listen_on.as_ref().is_some_and(|l| {
        l.endpoint.transfer() == Transfer::Message && !l.endpoint.kind().starts_with("seq")
    });
    let live = Arc::new(LiveTotals::default());
    let opts = Arc::new(RelayOptions {
        copy: match args.copy {
            Copy::Auto => CopyMode::Auto,
            Copy::Splice => CopyMode::Splice,
            Copy::Buffered => CopyMode::Buffered,
        },
        buffer: args.buffer,
        idle_timeout: args
            .idle_timeout
            .or(datagram_clients.then_some(DATAGRAM_IDLE)),
        pass_fds: args.pass_fds,
        live: Some(live.clone()),
        ..RelayOptions::default()
    });
    let timeout = args.timeout;

    let mut totals = match (listen_on, second) {
        // connect: A connect: B: join the two once.
        (None, Some(other)) => {
            let mut x = endpoint::connect(&connect_to, timeout).await?;
            let mut y = endpoint::connect(&other, timeout).await?;
            // A signal ends the relay like a server's: stop, close, report, exit 0.
            let stats = tokio::select! {
                s = relay::relay(&mut x, &mut y, &opts) => Some(s),
                _ = shutdown.clone().wait() => None,
            };
            server::close_pair(x, y).await;
            if let Some(stats) = stats {
                stats?;
            }
            Totals {
                connections: 1,
                ..Totals::default()
            }
        }
        (Some(listen_on), _) => {
            let mut listener = match inherited {
                Some(socket) => socket.into_listener()?,
                None => Listener::bind(&listen_on).await?,
            };
            if !allow.is_empty() {
                listener.allow_only(allow)?;
            }
            tracing::info!(target: PEER, "relaying {} -> {connect_to}", listener.label);
            let connect_to = Arc::new(connect_to);
            server::serve(
                &mut listener,
                max_conns,
                |mut client| {
                    let (to, opts) = (connect_to.clone(), opts.clone());
                    async move {
                        let mut upstream = endpoint::connect(&to, timeout).await?;
                        let stats = relay::relay(&mut client, &mut upstream, &opts).await;
                        server::close_pair(client, upstream).await;
                        stats
                    }
                },
                async {
                    shutdown.wait().await;
                },
            )
            .await?
        }
        (None, None) => unreachable!("roles() gives a listener or a second side"),
    };
    totals.count_live(&live);
    if args.stats {
        output::totals(&totals, args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}
