//! `sockbox relay A B`: accept on A, connect each client to B, copy both ways.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use sockbox_net::addr::{Address, Role, Transfer};
use sockbox_net::endpoint::{self, Conn, Described, Listener};
use sockbox_net::relay::{self, CopyMode, Directions, LiveTotals, RelayOptions};
use sockbox_net::server::{self, Sharded, Totals};
use sockbox_net::{Error, PEER};

use super::Shutdown;
use crate::cli::{AcceptMode, Copy, RelayArgs};
use crate::output;
use sockbox_net::fault::{self, Faults};

/// Datagram clients never say goodbye: forget one after this long without traffic.
const DATAGRAM_IDLE: Duration = Duration::from_secs(60);

/// Who listens and who connects, once the prefixes are read: an unprefixed side takes the
/// role opposite to the other side's; with no prefix at all A listens and B connects.
fn roles(a: Address, b: Address) -> Result<(Option<Address>, Address, Option<Address>), Error> {
    match role_pair(&a, &b) {
        (Role::Listen, Role::Connect) => Ok((Some(a), b, None)),
        (Role::Connect, Role::Listen) => Ok((Some(b), a, None)),
        (Role::Connect, Role::Connect) => Ok((None, a, Some(b))),
        (Role::Listen, Role::Listen) => Err(Error::Usage(format!(
            "relay {a} {b}: both sides listen; one side must connect"
        ))),
    }
}

/// The roles of A and B, as [`roles`] reads them.
fn role_pair(a: &Address, b: &Address) -> (Role, Role) {
    let ra = a.role.unwrap_or(match b.role {
        Some(Role::Listen) => Role::Connect,
        _ => Role::Listen,
    });
    let rb = b.role.unwrap_or(match ra {
        Role::Listen => Role::Connect,
        Role::Connect => Role::Listen,
    });
    (ra, rb)
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
    // --oneway copies A to B: from the accepted client to the side connected to, unless the
    // roles are the other way round (A connect:, B listen:).
    let mut a_to_b = Directions::Forward;
    let (listen_on, mut connect_to, mut second) = match (&args.b, args.inherit) {
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
            if role_pair(&a, &b) == (Role::Connect, Role::Listen) {
                a_to_b = Directions::Backward;
            }
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
    let (retry, interval) = (args.retry.retry, args.retry.retry_interval);
    if retry.is_some()
        && !connect_to.endpoint.retries()
        && !second.as_ref().is_some_and(|s| s.endpoint.retries())
    {
        return Err(Error::Usage(format!(
            "--retry: {connect_to} cannot be retried; retry applies to tcp*, unix, unix-dgram and seqpacket"
        ))
        .into());
    }
    connect_to.default_retry(retry, interval);
    if let Some(s) = &mut second {
        s.default_retry(retry, interval);
    }
    // A TLS connecting side reads its files now: a bad one is exit 2 before the listener opens,
    // not a failure of each client.
    endpoint::tls::prepare(&connect_to)?;
    let datagram_clients = listen_on.as_ref().is_some_and(|l| {
        l.endpoint.transfer() == Transfer::Message && !l.endpoint.kind().starts_with("seq")
    });
    // The capture's interface is the side connected to (docker.sock behind a relay).
    let description = match (&listen_on, &second) {
        (Some(l), _) => format!("sockbox relay: clients of {l} to {connect_to}"),
        (None, Some(s)) => format!("sockbox relay: {connect_to} to {s}"),
        (None, None) => String::new(),
    };
    let iface = connect_to.to_string();
    let tap = super::traffic::tap(
        &args.traffic,
        &super::traffic::Capture {
            iface: &iface,
            description: &description,
            stdout_busy: false,
        },
    )?;
    // The addresses of the relay's side A and side B.
    let sides = [
        listen_on.as_ref().unwrap_or(&connect_to),
        second.as_ref().unwrap_or(&connect_to),
    ];
    let plan = super::fault::plan(&args.faults, sides, args.pass_fds)?;
    let accept = args.faults.accept;
    if accept.is_some() && listen_on.is_none() {
        return Err(Error::Usage(
            "--accept: needs a side that is listened on; both sides here connect".into(),
        )
        .into());
    }
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
        // Summed across connections (and threads) only for `--stats`, which prints them.
        live: args.stats.then(|| live.clone()),
        linger: args.linger,
        directions: if args.oneway {
            a_to_b
        } else {
            Directions::Both
        },
        tap: tap.clone(),
        faults: plan.faults.clone().filter(|_| plan.on_connections),
        // A side whose address says `sndbuf=` keeps it; the others may be raised for bulk.
        raise_sndbuf: sides.map(|a| a.options.sndbuf.is_none()),
        ..RelayOptions::default()
    });
    let faults = plan.faults;
    let timeout = args.timeout;

    let totals = match (listen_on, second) {
        // connect: A connect: B: join the two once.
        (None, Some(other)) => {
            // A signal ends the relay like a server's (also while connecting, which may be
            // retried forever): stop, close, report, exit 0.
            let connected = tokio::select! {
                pair = async {
                    let x = endpoint::connect(&connect_to, timeout).await?;
                    Ok::<_, Error>((x, endpoint::connect(&other, timeout).await?))
                } => Some(pair?),
                _ = shutdown.clone().wait() => None,
            };
            let Some((mut x, mut y)) = connected else {
                return finish(&args, Totals::default(), &live, &tap, &faults).await;
            };
            let stats = tokio::select! {
                s = relay::relay(&mut x, &mut y, &opts) => Some(s),
                _ = shutdown.clone().wait() => None,
            };
            server::close_pair(x, y).await;
            if let Some(stats) = stats {
                super::traffic::sync(&tap).await;
                stats?;
            }
            Totals {
                connections: 1,
                ..Totals::default()
            }
        }
        (Some(listen_on), _) if accept == Some(AcceptMode::Refuse) => {
            eprintln!("sockbox: --accept refuse: nothing listens on {listen_on}");
            shutdown.wait().await;
            Totals::default()
        }
        (Some(listen_on), _) => {
            let mut listener = match inherited {
                Some(socket) => socket.into_listener()?,
                None => Listener::bind(&listen_on).await?,
            };
            if accept == Some(AcceptMode::Stall) {
                let Some(socket) = listener.stream_socket() else {
                    return Err(Error::Usage(format!(
                        "--accept stall: {listen_on} has no backlog; it needs a tcp, unix or \
                         seqpacket listening side"
                    ))
                    .into());
                };
                let _fillers = fault::accept::fill_backlog(socket)
                    .map_err(|e| anyhow::anyhow!("--accept stall: {e}"))?;
                tracing::info!(target: PEER, "--accept stall: {} accepts nothing", listener.label);
                shutdown.wait().await;
                return finish(&args, Totals::default(), &live, &tap, &faults).await;
            }
            if !allow.is_empty() {
                listener.allow_only(allow)?;
            }
            // A tap names both peers' processes, shown or not on stderr.
            if !tracing::enabled!(target: PEER, tracing::Level::INFO) && tap.is_none() {
                listener.unnamed_processes();
            }
            // B's process (SO_PEERCRED, /proc) is asked for only when a tap shows it: a plain
            // relay's short connections make no system call for it.
            let described = match tap {
                Some(_) => Described::Fully,
                None => Described::Not,
            };
            // A plain relay runs one accept loop and runtime per core (see `Sharded`); taps,
            // faults and --max-conns keep the one accept loop they are written for.
            let shardable = max_conns.is_none() && tap.is_none() && faults.is_none();
            let connect_to_label = connect_to.to_string();
            let connect_to = Arc::new(endpoint::Target::new(connect_to));
            let opts = opts.clone();
            let reject = (accept == Some(AcceptMode::Reject))
                .then(|| faults.clone())
                .flatten();
            let handle = move |mut client: Conn| {
                let (to, opts, reject) = (connect_to.clone(), opts.clone(), reject.clone());
                async move {
                    if let Some(f) = reject {
                        // Accepted, then closed at once: B is never connected to.
                        f.rejected();
                        drop(client);
                        return Ok(relay::Stats::default());
                    }
                    let mut upstream =
                        endpoint::connect_for(&to, timeout, &client, described).await?;
                    let stats = relay::relay(&mut client, &mut upstream, &opts).await;
                    server::close_pair(client, upstream).await;
                    stats
                }
            };
            let stop = || {
                let s = shutdown.clone();
                async move {
                    s.wait().await;
                }
            };
            // The line tests and scripts wait for: said once the serving threads (and their
            // runtimes' descriptors) exist.
            let relaying = |l: &Listener| {
                tracing::info!(target: PEER, "relaying {} -> {}", l.label, connect_to_label);
            };
            // One client only: its failure is the relay's (exit 1), not a line in a log.
            let served = if args.once || listener.yields_one() {
                relaying(&listener);
                server::serve_one(&mut listener, handle, stop()).await
            } else if let Some(shards) = shardable
                .then(|| listener.shards(serving_threads()))
                .transpose()?
                .flatten()
            {
                let sharded = Sharded::start(shards, handle).await?;
                relaying(&listener);
                sharded.run(stop()).await
            } else {
                relaying(&listener);
                server::serve(&mut listener, max_conns, handle, stop()).await
            };
            super::traffic::sync(&tap).await;
            served?
        }
        (None, None) => unreachable!("roles() gives a listener or a second side"),
    };
    finish(&args, totals, &live, &tap, &faults).await
}

/// Report the totals (`--stats`) and give the exit code of a relay that ran to its end.
async fn finish(
    args: &RelayArgs,
    mut totals: Totals,
    live: &LiveTotals,
    tap: &Option<Arc<sockbox_net::tap::Tap>>,
    faults: &Option<Arc<Faults>>,
) -> Result<ExitCode> {
    super::traffic::sync(tap).await;
    totals.count_live(live);
    match (args.stats, faults) {
        (true, Some(f)) => super::fault::report(&totals, f, args.json)?,
        (true, None) => output::totals(&totals, args.json)?,
        (false, _) => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// How many threads serve a plain relay's clients: one per core the process may run on.
fn serving_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
