//! `--dump`, `--pcap`, `--record` (relay, connect, listen): the traffic flags turned into the
//! library's tap and its views. Every file is opened here, before the verb binds or connects
//! anything, so a path that cannot be written is one line and exit 1 with nothing opened.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sockbox_net::tap::json::JsonView;
use sockbox_net::tap::pcap::{PcapView, DEFAULT_PORT};
use sockbox_net::tap::record::RecordView;
use sockbox_net::tap::socat::SocatView;
use sockbox_net::tap::text::{Mode, TextView};
use sockbox_net::tap::{Tap, TimeStyle, View};
use sockbox_net::Error;

use crate::cli::{DumpMode, TimeArg, TrafficArgs};

/// How long the end of a run waits for the views to write what is queued.
pub const SYNC: Duration = Duration::from_secs(5);

/// What the capture's interface is called and said to be.
pub struct Capture<'a> {
    /// The real address: the interface's name (`unix:/run/docker.sock`).
    pub iface: &'a str,
    /// The interface's description: the verb's line, in words.
    pub description: &'a str,
    /// Stdout carries the relayed bytes (connect, listen to stdio): `-` is refused.
    pub stdout_busy: bool,
}

/// The tap the flags ask for, or `None` (and the relay's paths untouched).
pub fn tap(args: &TrafficArgs, cap: &Capture<'_>) -> Result<Option<Arc<Tap>>> {
    let mut views: Vec<Box<dyn View>> = Vec::new();
    if let Some(mode) = args.dump {
        let (out, name, terminal): (Box<dyn Write + Send>, String, bool) = match &args.dump_to {
            Some(p) => {
                let f = create(p, "--dump-to")?;
                let t = f.is_terminal();
                (Box::new(f), format!("--dump-to {}", p.display()), t)
            }
            None => (
                Box::new(std::io::stderr()),
                "the dump on stderr".into(),
                std::io::stderr().is_terminal(),
            ),
        };
        let color = crate::output::color::for_stream(terminal);
        let time = match args.time {
            TimeArg::Abs => TimeStyle::Abs,
            TimeArg::Rel => TimeStyle::Rel,
            TimeArg::Delta => TimeStyle::Delta,
        };
        let text = match mode {
            DumpMode::Hex => Mode::Hex,
            DumpMode::Auto => Mode::Auto,
            _ => Mode::Text,
        };
        views.push(match mode {
            DumpMode::Text | DumpMode::Hex | DumpMode::Auto => {
                Box::new(TextView::new(out, name, text, time, color))
            }
            DumpMode::Json => Box::new(JsonView::new(out, name)),
            DumpMode::Socat => Box::new(SocatView::new(out, name, false, args.dump_swap)),
            DumpMode::SocatHex => Box::new(SocatView::new(out, name, true, args.dump_swap)),
        });
    }
    if let Some(p) = &args.pcap {
        let (out, name): (Box<dyn Write + Send>, String) = if p == "-" {
            if cap.stdout_busy {
                return Err(Error::Usage(
                    "--pcap -: stdout carries the connection's bytes here; give a file".into(),
                )
                .into());
            }
            // A dup of fd 1 as a plain file: std's stdout is line-buffered, which would split
            // binary blocks at each 0x0a byte.
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .context("--pcap -: stdout")?;
            (Box::new(File::from(fd)), "--pcap on stdout".into())
        } else {
            (
                Box::new(create(Path::new(p), "--pcap")?),
                format!("--pcap {p}"),
            )
        };
        let port = args.pcap_port.unwrap_or(DEFAULT_PORT);
        let v = PcapView::new(out, name, cap.iface, cap.description, port)
            .with_context(|| format!("--pcap {p}: cannot write"))?;
        views.push(Box::new(v));
    }
    if let Some(dir) = &args.record {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--record {}: cannot create the directory", dir.display()))?;
        // Writable? Find out now rather than at the first connection.
        let probe = dir.join(format!(".sockbox-probe-{}", std::process::id()));
        create(&probe, "--record")?;
        let _ = std::fs::remove_file(&probe);
        views.push(Box::new(RecordView::new(dir.clone())));
    }
    if views.is_empty() {
        return Ok(None);
    }
    Ok(Some(Tap::start(views).context("starting the traffic tap")?))
}

fn create(p: &Path, flag: &str) -> Result<File> {
    File::create(p).with_context(|| format!("{flag} {}: cannot write", p.display()))
}

/// Let the views write what is queued before the process exits.
pub async fn sync(tap: &Option<Arc<Tap>>) {
    if let Some(t) = tap {
        t.sync(SYNC).await;
    }
}
