//! `sockbox listen ADDR`: one client to stdio; `--keep` many at once; `--echo`; `--exec PROG`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use sockbox_net::addr::{Address, Endpoint, Role};
use sockbox_net::endpoint::{self, activation, Bound, Conn, Listener};
use sockbox_net::frame::DEFAULT_MAX_FRAME;
use sockbox_net::message::Receiver;
use sockbox_net::relay::{self, Directions, RelayOptions, Stats};
use sockbox_net::server::{self, MaxConns, CLOSE_GRACE};
use sockbox_net::{Error, PEER};

use super::Shutdown;
use crate::cli::ListenArgs;

/// What each client is connected to.
enum Serve {
    Stdio,
    Echo,
    Exec(Vec<String>),
}

pub async fn run(args: ListenArgs, shutdown: Shutdown) -> Result<ExitCode> {
    let serve = match (&args.exec, args.echo) {
        (Some(prog), _) => Serve::Exec(split_prog(prog)?),
        (None, true) => Serve::Echo,
        (None, false) => Serve::Stdio,
    };
    let one_way = &args.one_way;
    if (one_way.send_only || one_way.recv_only) && matches!(serve, Serve::Echo) {
        return Err(Error::Usage(
            "--echo sends back what it reads: it has one way only already".into(),
        )
        .into());
    }
    if one_way.send_only && args.keep && matches!(serve, Serve::Stdio) {
        return Err(Error::Usage(
            "--keep without --exec only writes what clients send to stdout: --send-only has nothing to send".into(),
        )
        .into());
    }
    let check = |addr: &Address| match serve {
        Serve::Stdio => relay::check_pair(addr, &Address::new(Endpoint::Stdio)),
        _ => Ok(()),
    };
    let allow = super::allow_peers(&args.allow)?;
    let max_conns = super::max_conns(&args.allow)?;
    let brokering = args.broker || args.chat;
    if brokering && (max_conns.is_some() || one_way.send_only || one_way.recv_only) {
        return Err(Error::Usage(
            "--broker and --chat take no --max-conns, --send-only or --recv-only".into(),
        )
        .into());
    }
    if max_conns.is_some() && !args.keep {
        return Err(Error::Usage(
            "--max-conns needs --keep (one client has nothing to cap)".into(),
        )
        .into());
    }
    let faulty = fault_flags(&args.faults);
    if args.faults.accept.is_some() {
        return Err(Error::Usage(
            "--accept: is for relay's clients (relay LISTEN-ADDR ADDR --accept ...); listen \
             takes the faults on a connection"
                .into(),
        )
        .into());
    }
    if faulty && (brokering || (args.keep && matches!(serve, Serve::Stdio))) {
        return Err(Error::Usage(
            "faults need a relayed connection: with --keep, add --echo or --exec; --broker and \
             --chat take none"
                .into(),
        )
        .into());
    }
    let t = &args.traffic;
    let tapped = t.dump.is_some() || t.pcap.is_some() || t.record.is_some();
    if tapped && args.keep && matches!(serve, Serve::Stdio) {
        return Err(Error::Usage(
            "--dump, --pcap and --record need a relayed connection: with --keep, add --echo or \
             --exec (clients' bytes to stdout are not relayed)"
                .into(),
        )
        .into());
    }
    let iface = args
        .addrs
        .first()
        .cloned()
        .unwrap_or_else(|| "inherited socket".into());
    let tap = super::traffic::tap(
        t,
        &super::traffic::Capture {
            iface: &iface,
            description: &format!("sockbox listen {iface}: A is each client"),
            stdout_busy: matches!(serve, Serve::Stdio),
        },
    )?;
    // Faults (docs/faults.md): A is the client, B stdin/stdout or the program; up is what
    // the client sends.
    let plan = |addr: &Address| {
        let stdio = Address::new(Endpoint::Stdio);
        let other = if matches!(serve, Serve::Echo) {
            addr
        } else {
            &stdio
        };
        super::fault::plan(&args.faults, [addr, other], false)
    };
    let (mut listener, plan) = if args.inherit {
        let (addr, socket) = super::inherit(args.addrs.as_slice(), args.fdname.as_slice())?;
        check(&addr)?;
        let plan = plan(&addr)?;
        (socket.into_listener()?, plan)
    } else {
        let [addr] = args.addrs.as_slice() else {
            return Err(Error::Usage(
                "listen: one address (several only with --activate, which hands them to a program)"
                    .into(),
            )
            .into());
        };
        let addr = super::parse_addr(addr)?;
        if addr.role == Some(Role::Connect) {
            return Err(Error::Usage(format!("{addr}: to connect, use `sockbox connect`")).into());
        }
        check(&addr)?;
        allow.check_address(&addr)?;
        let plan = plan(&addr)?;
        (Listener::bind(&addr).await?, plan)
    };
    if !allow.is_empty() {
        listener.allow_only(allow)?;
    }
    let opts = Arc::new(RelayOptions {
        idle_timeout: args.idle_timeout,
        linger: args.linger,
        // The program or stdin -> the client is the backward direction.
        directions: super::one_way(&args.one_way, Directions::Backward),
        tap: tap.clone(),
        faults: plan.faults.filter(|_| plan.on_connections),
        ..RelayOptions::default()
    });
    tracing::info!(target: PEER, "listening on {}", listener.label);
    if brokering {
        let stop = async {
            shutdown.wait().await;
        };
        sockbox_net::broker::run(&mut listener, args.chat, stop).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.keep {
        let Some(conn) = listener.accept().await? else {
            return Ok(ExitCode::SUCCESS);
        };
        tracing::info!(target: PEER, "connection from {}", conn.label);
        let stats = handle(conn, &serve, &opts).await;
        super::traffic::sync(&tap).await;
        let stats = stats?;
        tracing::info!(
            target: PEER,
            "closed: {} bytes in, {} bytes out",
            stats.forward.bytes,
            stats.backward.bytes
        );
        return Ok(ExitCode::SUCCESS);
    }
    match serve {
        // Many clients cannot share stdin: what each sends is written to stdout.
        Serve::Stdio => collect(listener, max_conns, shutdown).await?,
        serve => {
            let serve = Arc::new(serve);
            let served = server::serve(
                &mut listener,
                max_conns,
                |conn| {
                    let (serve, opts) = (serve.clone(), opts.clone());
                    async move { handle(conn, &serve, &opts).await }
                },
                async {
                    shutdown.wait().await;
                },
            )
            .await;
            super::traffic::sync(&tap).await;
            served?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `listen ADDR.. --activate -- PROG ARGS`: bind every address, then become PROG with the
/// sockets as descriptors 3, 4, .... Runs before any async runtime starts (the descriptors are
/// placed by number, which needs a single-threaded process); binding uses a runtime of its
/// own, on this thread, dropped before the exec. Returns only on failure.
pub fn activate(args: &ListenArgs) -> Result<ExitCode> {
    if args.addrs.is_empty() {
        return Err(Error::Usage("--activate: no address to bind".into()).into());
    }
    let allow = super::allow_peers(&args.allow)?;
    if !allow.is_empty() || args.allow.max_conns.is_some() {
        return Err(Error::Usage(
            "--allow-*, --deny-ip* and --max-conns cannot be combined with --activate: the \
             program that accepts decides who gets in"
                .into(),
        )
        .into());
    }
    if !args.fdname.is_empty() && args.fdname.len() != args.addrs.len() {
        return Err(Error::Usage(format!(
            "--activate: {} addresses but {} --fdname (give one per address, or none)",
            args.addrs.len(),
            args.fdname.len()
        ))
        .into());
    }
    let mut wanted = Vec::new();
    for (i, a) in args.addrs.iter().enumerate() {
        let addr = super::parse_addr(a)?;
        let name = match args.fdname.get(i) {
            Some(n) => {
                activation::check_fdname(n)?;
                n.clone()
            }
            None => activation::default_fdname(&addr),
        };
        wanted.push((addr, name));
    }
    if let Some(prog) = args.prog.first() {
        activation::find_program(prog)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bound = rt.block_on(async {
        let mut bound = Vec::new();
        for (addr, name) in wanted {
            bound.push((Bound::bind(&addr).await?, name));
        }
        Ok::<_, Error>(bound)
    });
    // Name resolution may have run on a blocking thread: wait for every thread to end.
    drop(rt);
    activation::exec_activated(bound?, &args.prog)?;
    unreachable!("exec_activated returns only errors")
}

fn split_prog(prog: &str) -> Result<Vec<String>, Error> {
    match shlex::split(prog) {
        Some(argv) if !argv.is_empty() => Ok(argv),
        _ => Err(Error::Usage(format!(
            "--exec '{prog}': expected a program and its arguments (unbalanced quotes?)"
        ))),
    }
}

async fn handle(mut conn: Conn, serve: &Serve, opts: &RelayOptions) -> sockbox_net::Result<Stats> {
    match serve {
        Serve::Echo => {
            let stats = relay::echo(&mut conn, opts).await;
            conn.close(CLOSE_GRACE).await;
            stats
        }
        Serve::Exec(argv) => {
            let mut child = endpoint::spawn_for(argv, &endpoint::peer_env(&conn))?;
            let stats = relay::relay(&mut conn, &mut child, opts).await;
            server::close_pair(conn, child).await;
            stats
        }
        Serve::Stdio => {
            let mut io = endpoint::connect(&Address::new(Endpoint::Stdio), None).await?;
            let stats = relay::relay(&mut conn, &mut io, opts).await;
            server::close_pair(conn, io).await;
            stats
        }
    }
}

/// `--keep` without `--echo`/`--exec`: every client's bytes to stdout, as they arrive.
async fn collect(listener: Listener, max: Option<MaxConns>, shutdown: Shutdown) -> Result<()> {
    let mut rx = Receiver::from_listener(listener, DEFAULT_MAX_FRAME);
    if let Some(max) = max {
        rx.cap(max);
    }
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut out = std::io::stdout().lock();
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = &mut stop => return Ok(()),
        };
        match msg {
            Some(Ok(m)) => {
                out.write_all(&m.data)?;
                out.flush()?;
            }
            Some(Err(e)) => tracing::warn!("{e}"),
            None => return Ok(()),
        }
    }
}

/// True when any fault flag was given.
fn fault_flags(f: &crate::cli::FaultArgs) -> bool {
    let lists = [
        &f.latency,
        &f.rate,
        &f.rate_total,
        &f.slice,
        &f.close_after,
        &f.reset_after,
        &f.stall_after,
        &f.slow_close,
        &f.half_close,
        &f.drop,
        &f.dup,
        &f.reorder,
        &f.corrupt,
        &f.drop_fds,
    ];
    lists.iter().any(|l| !l.is_empty())
}
