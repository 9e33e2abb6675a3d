//! `sockbox ping TARGET`: ICMP echo to a host, or connect time to a `tcp:` or Unix address.
//! Prints each probe as it completes and the statistics at the end, also on Ctrl-C.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use sockbox_net::addr::IpVersion;
use sockbox_net::ping::{self, Event, Header, PingConfig, Probe, Target};
use tokio::sync::Notify;

use super::Shutdown;
use crate::output;

#[derive(Args, Debug)]
pub struct PingArgs {
    /// A host name or IP address (ICMP echo), or an address to time connects to:
    /// tcp:HOST:PORT, unix:/path, seqpacket:@name, unix-dgram:/path; icmp6:HOST for IPv6
    pub target: String,
    /// Stop after COUNT probes (default: until interrupted)
    #[arg(short, long, value_name = "COUNT")]
    pub count: Option<u64>,
    /// Time between probes (e.g. 0.2, 200ms, 1s)
    #[arg(short, long, value_parser = duration, default_value = "1s")]
    pub interval: Duration,
    /// How long to wait for each answer
    #[arg(short = 'W', long, value_parser = duration, default_value = "2s")]
    pub timeout: Duration,
    /// ICMP payload bytes (ICMP only; 56 makes 64-byte ICMP messages)
    #[arg(short, long, value_name = "SIZE")]
    pub size: Option<usize>,
    /// Use only IPv4 addresses of the host
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Use only IPv6 addresses of the host
    #[arg(short = '6')]
    pub ipv6: bool,
    /// One JSON document on stdout at the end (docs/json.md)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: PingArgs, shutdown: Shutdown) -> Result<ExitCode> {
    let mut target = Target::parse(&args.target)?;
    if let Target::Icmp { version, .. } = &mut target {
        if args.ipv4 {
            *version = IpVersion::V4;
        } else if args.ipv6 {
            *version = IpVersion::V6;
        }
    } else if args.size.is_some() || args.ipv4 || args.ipv6 {
        return Err(sockbox_net::Error::Usage(
            "-s, -4 and -6 apply to ICMP pings; a tcp: address says its family as tcp4:/tcp6:"
                .into(),
        )
        .into());
    }
    let config = PingConfig {
        count: args.count,
        interval: args.interval,
        timeout: args.timeout,
        size: args.size.unwrap_or(PingConfig::default().size),
    };
    ping::validate(&target, &config)?;

    // Lines go out as probes complete; a closed stdout (`| head`) stops the ping like Ctrl-C.
    let stdout_closed = Arc::new(Notify::new());
    let failure: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
    let mut header: Option<Header> = None;
    let mut probes: Vec<Probe> = Vec::new();
    let json = args.json;
    let on_event = |e: &Event| {
        if let Event::Start(h) = e {
            header = Some(h.clone());
        }
        if json {
            if let Event::Probe(p) = e {
                probes.push(p.clone());
            }
            return;
        }
        let mut out = std::io::stdout().lock();
        let r = output::ping::event_text(&mut out, header.as_ref(), e).and_then(|()| out.flush());
        if let Err(err) = r {
            failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(err);
            stdout_closed.notify_one();
        }
    };
    let stop = {
        let closed = stdout_closed.clone();
        async move {
            tokio::select! {
                _ = shutdown.wait() => {}
                _ = closed.notified() => {}
            }
        }
    };
    let summary = ping::ping(&target, &config, stop, on_event).await?;
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e.into());
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        output::ping::json(&mut out, &summary, &probes)?;
    } else {
        output::ping::summary_text(&mut out, &summary)?;
    }
    out.flush()?;
    Ok(if summary.received > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A duration flag: `0.2` (seconds), `200ms`, `1s`.
fn duration(s: &str) -> Result<Duration, String> {
    sockbox_net::addr::parse_duration(s).map_err(|e| e.to_string())
}
