//! `sockbox recv ADDR`: print messages as they arrive, from every peer.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use sockbox_net::frame::DEFAULT_MAX_FRAME;
use sockbox_net::message::Receiver;
use sockbox_net::PEER;

use super::Shutdown;
use crate::cli::RecvArgs;
use crate::output;

pub async fn run(args: RecvArgs, shutdown: Shutdown) -> Result<ExitCode> {
    let addr = super::parse_addr(&args.addr)?;
    let mut rx = Receiver::bind(&addr, DEFAULT_MAX_FRAME).await?;
    tracing::info!(target: PEER, "receiving on {}", rx.label);
    let deadline = args.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut got = 0u64;
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut out = std::io::stdout().lock();
    while args.count.is_none_or(|c| got < c) {
        let next = tokio::select! {
            m = rx.recv() => m,
            _ = &mut stop => break,
            _ = sleep_until(deadline) => {
                if let Some(c) = args.count {
                    anyhow::bail!("{}: timed out with {got} of {c} messages received", rx.label);
                }
                break;
            }
        };
        let Some(msg) = next else { break };
        let msg = msg?;
        if args.json {
            output::message_json(&mut out, &msg)?;
        } else {
            output::message_text(&mut out, &msg)?;
        }
        out.flush()?;
        got += 1;
    }
    Ok(ExitCode::SUCCESS)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
