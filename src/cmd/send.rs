//! `sockbox send ADDR [DATA]`: one message (or one per line), boundaries kept.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sockbox_net::message;

use crate::cli::SendArgs;

pub async fn run(args: SendArgs) -> Result<ExitCode> {
    let addr = super::parse_addr(&args.addr)?;
    let msgs = match args.data {
        Some(d) => vec![d.into_bytes()],
        None => {
            let input = tokio::task::spawn_blocking(|| {
                let mut buf = Vec::new();
                std::io::stdin().lock().read_to_end(&mut buf).map(|_| buf)
            })
            .await?
            .context("reading stdin")?;
            if args.lines {
                input
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            } else {
                vec![input]
            }
        }
    };
    message::send(&addr, &msgs, args.timeout).await?;
    Ok(ExitCode::SUCCESS)
}
