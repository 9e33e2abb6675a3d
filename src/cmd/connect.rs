//! `sockbox connect ADDR`: stdin to the socket, the socket to stdout, half-close done right.

use std::process::ExitCode;

use anyhow::Result;
use sockbox_net::addr::{Address, Endpoint, Role};
use sockbox_net::relay::{self, RelayOptions};
use sockbox_net::{endpoint, server, Error};

use crate::cli::ConnectArgs;

pub async fn run(args: ConnectArgs) -> Result<ExitCode> {
    let addr = super::parse_addr(&args.addr)?;
    if addr.role == Some(Role::Listen) {
        return Err(Error::Usage(format!("{addr}: to listen, use `sockbox listen`")).into());
    }
    let stdio = Address::new(Endpoint::Stdio);
    relay::check_pair(&stdio, &addr)?;
    let opts = RelayOptions {
        idle_timeout: args.idle_timeout,
        ..RelayOptions::default()
    };
    let mut conn = endpoint::connect(&addr, args.timeout).await?;
    let mut io = endpoint::connect(&stdio, None).await?;
    let stats = relay::relay(&mut io, &mut conn, &opts).await;
    server::close_pair(io, conn).await;
    stats?;
    Ok(ExitCode::SUCCESS)
}
