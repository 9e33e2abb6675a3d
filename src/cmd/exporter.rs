//! `sockbox exporter`: Prometheus metrics of this host's sockets over HTTP (docs/observe.md).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use sockbox_net::endpoint::Listener;
use sockbox_net::observe::metrics::{Config, GroupBy, Metrics};
use sockbox_net::{Error, PEER};

use super::Shutdown;

/// Where the exporter listens unless told: loopback only (socket owners and process names
/// are not for the whole network unless the operator says so), on a port in the range
/// Prometheus exporters use (9100-9999).
pub const DEFAULT_LISTEN: &str = "tcp:127.0.0.1:9977";

#[derive(Args, Debug)]
pub struct ExporterArgs {
    /// Where to serve /metrics: tcp:HOST:PORT, HOST:PORT, PORT, or unix:/PATH
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// What per-group series are keyed by: comm (process name), uid, or cgroup
    #[arg(long, value_name = "KEY", default_value = "comm")]
    pub group_by: GroupBy,
    /// Groups with their own series, by bytes moved; the rest are summed as group="other"
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub top_k: usize,
    /// TCP listening ports that get their own port="N" series (repeat or separate with
    /// commas); other listeners are summed under port="other"
    #[arg(long, value_name = "N", value_delimiter = ',')]
    pub port: Vec<u16>,
}

impl ExporterArgs {
    pub fn config(&self) -> Config {
        Config {
            group_by: self.group_by,
            top_k: self.top_k,
            ports: self.port.clone(),
        }
    }
}

pub async fn run(args: ExporterArgs, shutdown: Shutdown) -> Result<ExitCode> {
    // A bare port or HOST:PORT is TCP; anything else is the address grammar.
    let addr = match args.listen.parse::<u16>() {
        Ok(port) => super::parse_addr(&format!("tcp:{port}"))?,
        Err(_) => super::parse_addr(&args.listen)
            .or_else(|e| super::parse_addr(&format!("tcp:{}", args.listen)).map_err(|_| e))?,
    };
    if !matches!(
        addr.endpoint,
        sockbox_net::addr::Endpoint::Tcp(_)
            | sockbox_net::addr::Endpoint::Unix(sockbox_net::addr::UnixType::Stream, _)
    ) {
        return Err(Error::Usage(format!(
            "--listen {addr}: the exporter serves HTTP on tcp: or unix: (stream) addresses"
        ))
        .into());
    }
    if args.top_k == 0 {
        return Err(Error::Usage("--top-k 0: at least one group".into()).into());
    }
    // Subscribe and register before binding: a failure here leaves no socket behind.
    let metrics = tokio::task::spawn_blocking({
        let config = args.config();
        move || Metrics::start(config)
    })
    .await?
    .context("starting the exporter")?;
    let listener = Listener::bind(&addr).await?;
    tracing::info!(
        target: PEER,
        "listening on {} (metrics at /metrics)",
        listener.label
    );
    let stop = async move {
        shutdown.wait().await;
    };
    sockbox_net::observe::exporter::serve(listener, metrics, stop).await?;
    Ok(ExitCode::SUCCESS)
}
