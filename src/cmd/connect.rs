//! `sockbox connect ADDR`: stdin to the socket, the socket to stdout, half-close done right.

use std::process::ExitCode;

use anyhow::Result;
use sockbox_net::addr::{Address, Endpoint, Role};
use sockbox_net::relay::{self, Directions, RelayOptions};
use sockbox_net::{endpoint, server, Error};

use crate::cli::ConnectArgs;

pub async fn run(args: ConnectArgs) -> Result<ExitCode> {
    let mut addr = super::parse_addr(&args.addr)?;
    if addr.role == Some(Role::Listen) {
        return Err(Error::Usage(format!("{addr}: to listen, use `sockbox listen`")).into());
    }
    if args.retry.retry.is_some() && !addr.endpoint.retries() {
        return Err(Error::Usage(format!(
            "--retry: {addr} cannot be retried; retry applies to tcp*, unix, unix-dgram and seqpacket"
        ))
        .into());
    }
    addr.default_retry(args.retry.retry, args.retry.retry_interval);
    let stdio = if args.readline {
        let mut readline = Address::new(Endpoint::Readline);
        readline.options.terminal.prompt = args.prompt.clone();
        readline
    } else {
        Address::new(Endpoint::Stdio)
    };
    if !args.echo {
        relay::check_pair(&stdio, &addr)?;
    }
    if args.faults.accept.is_some() {
        return Err(Error::Usage(
            "--accept: connect has no listening side; --accept is for relay's clients".into(),
        )
        .into());
    }
    // Faults (docs/faults.md): A is stdin/stdout (the echo: the peer), B the peer; up is
    // what is sent to the peer.
    let sides = if args.echo {
        [&addr, &addr]
    } else {
        [&stdio, &addr]
    };
    let plan = super::fault::plan(&args.faults, sides, false)?;
    let iface = addr.to_string();
    let description = if args.echo {
        format!("sockbox connect {addr} --echo: A is {addr}, B sends its bytes back")
    } else {
        format!("sockbox connect {addr}: A is stdin/stdout, B {addr}")
    };
    let tap = super::traffic::tap(
        &args.traffic,
        &super::traffic::Capture {
            iface: &iface,
            description: &description,
            stdout_busy: !args.echo,
        },
    )?;
    let opts = RelayOptions {
        idle_timeout: args.idle_timeout,
        // An interactive session ends soon after the peer has gone (haproxy's admin socket
        // closes after each answer), as socat's -t 0.5 does, not at the next line typed.
        linger: args.linger.or(args
            .readline
            .then_some(std::time::Duration::from_millis(500))),
        // stdin -> the peer is the forward direction.
        directions: super::one_way(&args.one_way, Directions::Forward),
        tap: tap.clone(),
        faults: plan.faults.filter(|_| plan.on_connections),
        ..RelayOptions::default()
    };
    let mut conn = endpoint::connect(&addr, args.timeout).await?;
    if args.echo {
        // The peer's bytes go back to it; stdin and stdout are not used.
        let stats = relay::echo(&mut conn, &opts).await;
        conn.close(server::CLOSE_GRACE).await;
        super::traffic::sync(&tap).await;
        stats?;
        return Ok(ExitCode::SUCCESS);
    }
    // A TLS session that fails after its handshake (an alert) is this run's error, said here.
    let tls_failure = endpoint::tls::claim_failure(&conn);
    let mut io = endpoint::connect(&stdio, None).await?;
    let stats = relay::relay(&mut io, &mut conn, &opts).await;
    server::close_pair(io, conn).await;
    super::traffic::sync(&tap).await;
    // The TLS failure is the cause; an error the relay then saw on the pair (a reset: the
    // pump dropped its end with bytes unread) is its consequence, and is not said twice.
    if let Some(why) = tls_failure.and_then(|f| f.why()) {
        return Err(Error::Tls(why).into());
    }
    stats?;
    Ok(ExitCode::SUCCESS)
}
