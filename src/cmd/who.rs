//! `sockbox who TARGET`: who owns a port, a socket path, an abstract name or an inode
//! (pid, process, user, command line), and everything connected to it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use sockbox_net::inspect::target::{self, Target};

use crate::output;

#[derive(Args, Debug)]
pub struct WhoArgs {
    /// `:PORT`, `HOST:PORT`, `tcp:HOST:PORT`, `udp:HOST:PORT`, a socket path
    /// (`/run/app.sock`, `./rel.sock`, `unix:PATH`), `@abstract`, or a socket inode
    pub target: String,
    /// One JSON document (docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Show ports as numbers, not service names
    #[arg(short, long)]
    pub numeric: bool,
}

pub async fn run(args: WhoArgs) -> Result<ExitCode> {
    let spec = args.target.clone();
    let report = tokio::task::spawn_blocking(move || {
        let t = Target::parse(&spec)?;
        target::who(&t)
    })
    .await?
    .with_context(|| format!("who {}", args.target))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        output::inspect::who_json(&mut out, &args.target, &report)?;
    } else {
        output::table::who(&mut out, &args.target, &report, args.numeric)?;
    }
    out.flush()?;
    if report.is_empty() {
        return Err(anyhow!(
            "nothing on this host is bound to or connected to {}",
            args.target
        ));
    }
    Ok(ExitCode::SUCCESS)
}
