//! `sockbox doctor`: this host's socket facts and the limits that bite (`sockbox_net::doctor`),
//! as text or one JSON document; `--strict` turns a warning into exit code 1.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::output;

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// One JSON document (docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when any check warns
    #[arg(long)]
    pub strict: bool,
    /// Only the one-line findings, without what they mean and how to change them
    #[arg(short, long)]
    pub brief: bool,
}

pub async fn run(args: DoctorArgs) -> Result<ExitCode> {
    let report = tokio::task::spawn_blocking(sockbox_net::doctor::examine).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        output::doctor::json(&mut out, &report)?;
    } else {
        output::doctor::text(&mut out, &report, args.brief)?;
    }
    out.flush()?;
    Ok(if args.strict && report.warnings() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
