//! `sockbox fd send ADDR FILE..` and `sockbox fd recv ADDR`: pass open file descriptors over a
//! Unix socket (SCM_RIGHTS), and see what arrives.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use sockbox_net::addr::{Role, UnixType};
use sockbox_net::fdpass::{self, FdInfo, FdReceiver, OpenMode, SCM_MAX_FD};
use sockbox_net::{Error, PEER};

use crate::output::fd as out;

/// A duration: `500ms`, `2s`, `1.5`, `1m`.
fn duration(s: &str) -> Result<Duration, String> {
    sockbox_net::addr::parse_duration(s).map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
pub struct FdArgs {
    #[command(subcommand)]
    pub action: FdAction,
}

#[derive(Subcommand, Debug)]
pub enum FdAction {
    /// Open FILEs (and pass inherited descriptors) and send them over a Unix socket
    #[command(after_help = "Examples:\n  \
        sockbox fd send unix:/tmp/fds.sock /etc/hostname       one file, read-only\n  \
        sockbox fd send seqpacket:@broker a.log b.log --append -d 'logs'\n  \
        sockbox fd send unix:/tmp/fds.sock --fd 3 3<&0          pass sockbox's stdin on\n  \
        sockbox fd send listen:unix:/tmp/give.sock /srv/data    wait for a client, give it the file\n  \
        sockbox fd send unix-dgram:/tmp/fds.sock /tmp            a directory (O_RDONLY)\n\n\
        The --fd descriptors go first, in the order given, then the FILEs. At most 253 \
        descriptors (SCM_MAX_FD) fit in one message: more are sent in several messages, each \
        with the payload. The payload is one NUL byte unless -d says otherwise; a stream \
        socket cannot carry descriptors without at least one byte. Files are opened \
        read-only, directories too; --write, --rw and --append open for writing, creating the \
        file if missing.")]
    Send(FdSendArgs),
    /// Receive descriptors on a Unix socket; print what each one is, copy it out, or hand it
    /// to a program
    #[command(after_help = "Examples:\n  \
        sockbox fd recv unix:/tmp/fds.sock --count 1\n  \
        sockbox fd recv seqpacket:@broker --json | jq '.fds[].path'\n  \
        sockbox fd recv unix:/tmp/fds.sock --count 1 --cat > copy.bin\n  \
        sockbox fd recv unix:/tmp/fds.sock --exec 'sh -c \"cat <&3\"'\n  \
        sockbox fd recv connect:unix:/run/broker.sock --timeout 5s\n\n\
        ADDR is listened on (every client is read), unless prefixed with connect:. Each \
        message is printed with its sender and payload, then one line per descriptor: kind \
        (file, directory, pipe, fifo, socket, char/block device, memfd, anon inode...), path \
        or socket addresses, access mode and flags. --cat copies each readable descriptor to \
        stdout (files from their current offset, pipes and sockets until end of stream) and \
        prints the descriptions on stderr. --exec runs PROG (split like a shell would, no \
        shell) once --count messages (default 1) arrived, with their descriptors as fds 3, 4, \
        ... and SOCKBOX_FDS set to how many; sockbox exits with PROG's status. A message with \
        more descriptors than --max-fds, control data the kernel had to truncate (MSG_CTRUNC) \
        or a seqpacket/datagram message over 64 KiB is an error: its descriptors are closed \
        and sockbox exits 1.")]
    Recv(FdRecvArgs),
}

#[derive(Args, Debug)]
pub struct FdSendArgs {
    /// Unix address to send to: unix:, seqpacket: or unix-dgram: (listen:unix:... waits for
    /// one client)
    #[arg(value_parser = crate::cli::Addr, allow_hyphen_values = true)]
    pub addr: String,
    /// Files to open and pass, in order
    #[arg(value_name = "FILE", required_unless_present = "fds")]
    pub files: Vec<PathBuf>,
    /// Pass descriptor N, which sockbox inherited (`3<file` in the shell); repeatable
    #[arg(long = "fd", value_name = "N")]
    pub fds: Vec<i32>,
    /// The data sent with the descriptors (default: one NUL byte)
    #[arg(short = 'd', long, value_name = "TEXT")]
    pub data: Option<String>,
    /// Open FILEs write-only (O_WRONLY), creating them if missing (never truncated)
    #[arg(long, conflicts_with = "rw")]
    pub write: bool,
    /// Open FILEs read-write (O_RDWR), creating them if missing
    #[arg(long)]
    pub rw: bool,
    /// Open FILEs for appending (O_APPEND; write-only unless --rw)
    #[arg(long)]
    pub append: bool,
    /// Leave the passed files non-blocking (O_NONBLOCK is shared with the receiver)
    #[arg(long)]
    pub nonblock: bool,
    /// Give up connecting (or, with listen:, waiting for a client) after this long
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
}

#[derive(Args, Debug)]
pub struct FdRecvArgs {
    /// Unix address to receive on: unix:, seqpacket: or unix-dgram: (connect:unix:... to
    /// connect instead of listening)
    #[arg(value_parser = crate::cli::Addr, allow_hyphen_values = true)]
    pub addr: String,
    /// Stop after this many messages (with --exec: run PROG after this many; default 1)
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// Give up after this long (exit 1 if --count messages did not all arrive, or a --cat copy
    /// did not end)
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
    /// One JSON object per message: peer, length, encoding, data, fds (docs/json.md)
    #[arg(long, conflicts_with_all = ["cat", "exec"])]
    pub json: bool,
    /// Copy each readable descriptor's content to stdout (descriptions go to stderr)
    #[arg(long, conflicts_with = "exec")]
    pub cat: bool,
    /// Run PROG with the received descriptors as fds 3, 4, ... and SOCKBOX_FDS=N; exit with
    /// its status
    #[arg(long, value_name = "PROG")]
    pub exec: Option<String>,
    /// Most descriptors one message may carry; a message with more is an error
    #[arg(long, default_value_t = SCM_MAX_FD, value_parser = max_fds)]
    pub max_fds: usize,
}

fn max_fds(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=SCM_MAX_FD).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number from 1 to {SCM_MAX_FD} (the kernel's SCM_MAX_FD)"
        )),
    }
}

pub async fn run(args: FdArgs, shutdown: super::Shutdown) -> Result<ExitCode> {
    match args.action {
        FdAction::Send(a) => send(a).await,
        FdAction::Recv(a) => recv(a, shutdown).await,
    }
}

impl FdArgs {
    /// `fd recv` that only prints ends on SIGINT/SIGTERM like `recv` (exit 0, socket file
    /// removed); with `--cat` or `--exec` a signal interrupts it (128+N).
    pub fn stops_on_signal(&self) -> bool {
        matches!(&self.action, FdAction::Recv(r) if r.only_prints())
    }
}

impl FdRecvArgs {
    /// Neither `--cat` nor `--exec`: what arrives is only described.
    fn only_prints(&self) -> bool {
        !self.cat && self.exec.is_none()
    }
}

async fn send(args: FdSendArgs) -> Result<ExitCode> {
    let addr = super::parse_addr(&args.addr)?;
    let payload = args.data.map_or_else(|| vec![0], String::into_bytes);
    let ty = fdpass::unix_type(&addr)?;
    if payload.is_empty() && ty == UnixType::Stream {
        return Err(Error::Usage(format!(
            "{addr}: a stream socket carries descriptors only with at least one byte of data; give -d a non-empty payload"
        ))
        .into());
    }
    // Everything to pass is opened before the socket, so a missing file fails first.
    let mut fds: Vec<OwnedFd> = Vec::new();
    for &n in &args.fds {
        fds.push(fdpass::inherited(n)?);
    }
    let mode = OpenMode {
        write: args.write,
        read_write: args.rw,
        append: args.append,
        nonblock: args.nonblock,
    };
    for f in &args.files {
        fds.push(fdpass::open_file(f, mode)?);
    }
    let sock = if addr.role == Some(Role::Listen) {
        let accept = fdpass::accept_one(&addr);
        match args.timeout {
            Some(t) => tokio::time::timeout(t, accept)
                .await
                .with_context(|| format!("{addr}: no client within {t:?}"))??,
            None => accept.await?,
        }
    } else {
        fdpass::connect(&addr, args.timeout).await?
    };
    let report = fdpass::send(&sock, &payload, &fds).await?;
    sock.finish();
    tracing::info!(
        target: PEER,
        "sent {} in {} to {}",
        plural(report.fds, "descriptor", "descriptors"),
        plural(report.messages, "message", "messages"),
        sock.label
    );
    Ok(ExitCode::SUCCESS)
}

async fn recv(args: FdRecvArgs, shutdown: super::Shutdown) -> Result<ExitCode> {
    let handles_signals = args.only_prints();
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let addr = super::parse_addr(&args.addr)?;
    let exec = match &args.exec {
        Some(line) => match shlex::split(line) {
            Some(argv) if !argv.is_empty() => Some(argv),
            _ => {
                return Err(Error::Usage(format!(
                    "--exec {line:?}: expected a program and its arguments"
                ))
                .into())
            }
        },
        None => None,
    };
    let count = args.count.or(exec.as_ref().map(|_| 1));
    let mut rx = FdReceiver::open(&addr, args.timeout, args.max_fds).await?;
    let deadline = args.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut got = 0u64;
    let mut kept: Vec<OwnedFd> = Vec::new();
    let mut first_peer = None;
    while count.is_none_or(|c| got < c) {
        let next = tokio::select! {
            m = rx.recv() => m,
            _ = &mut stop, if handles_signals => break,
            _ = sleep_until(deadline) => {
                if let Some(c) = count {
                    bail!("{}: timed out with {got} of {c} messages received", rx.label);
                }
                break;
            }
        };
        let Some(msg) = next else {
            if let Some(c) = count {
                bail!(
                    "{}: the connection ended after {got} of {c} messages",
                    rx.label
                );
            }
            break;
        };
        let msg = msg?;
        got += 1;
        let infos = msg
            .fds
            .iter()
            .map(|fd| fdpass::describe(fd.as_fd()))
            .collect::<std::io::Result<Vec<FdInfo>>>()
            .context("describing a received descriptor")?;
        if args.json {
            out::message_json(&mut std::io::stdout().lock(), &msg, &infos)?;
        } else if args.cat || exec.is_some() {
            out::message_text(&mut std::io::stderr().lock(), got, &msg, &infos)?;
        } else {
            out::message_text(&mut std::io::stdout().lock(), got, &msg, &infos)?;
        }
        first_peer.get_or_insert_with(|| msg.peer.clone());
        if args.cat {
            let until = deadline.map(tokio::time::Instant::into_std);
            for (i, (fd, info)) in msg.fds.into_iter().zip(&infos).enumerate() {
                if !fdpass::readable(info) {
                    out::not_copied(i, info)?;
                    continue;
                }
                tokio::task::spawn_blocking(move || out::cat(fd, until))
                    .await?
                    .with_context(|| format!("copying descriptor [{i}] ({})", info.path))?;
            }
        } else if exec.is_some() {
            kept.extend(msg.fds);
        }
        // Otherwise the descriptors close here, once described.
    }
    std::io::stdout().flush()?;
    let Some(argv) = exec else {
        return Ok(ExitCode::SUCCESS);
    };
    // Stop receiving (the socket file goes) before the program runs.
    drop(rx);
    let env = [("SOCKBOX_PEER".to_string(), first_peer.unwrap_or_default())];
    let status = fdpass::run_with_fds(&argv, kept, &env).await?;
    Ok(exit_code(status))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The exit code of a program's status: its code, or 128+N when killed by signal N.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitCode::from(c.clamp(0, 255) as u8),
        (None, Some(s)) => ExitCode::from((128 + s).clamp(0, 255) as u8),
        (None, None) => ExitCode::from(1),
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
