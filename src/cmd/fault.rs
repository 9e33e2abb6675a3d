//! The fault flags of `relay` (docs/faults.md): parsed and checked against the two sides
//! before anything opens, the seed said, SIGUSR1 wired to switch faults off and on.

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;
use sockbox_net::addr::{Address, Transfer};
use sockbox_net::fault::{Faults, Fired, Spec, Who};
use sockbox_net::server::Totals;
use sockbox_net::Error;

use crate::cli::FaultArgs;

/// What the fault flags asked for, ready to run.
pub struct Plan {
    /// Every fault and the log; `None` when no fault flag was given.
    pub faults: Option<Arc<Faults>>,
    /// Whether connections themselves get faults (not only `--accept`).
    pub on_connections: bool,
}

/// Read the fault flags. `sides`: the two addresses (listening side first when there is one).
pub fn plan(args: &FaultArgs, sides: [&Address; 2], pass_fds: bool) -> Result<Plan> {
    let mut spec = Spec::default();
    let usage = |e: sockbox_net::fault::SpecError| Error::Usage(e.to_string());
    for (flag, values) in [
        ("latency", &args.latency),
        ("rate", &args.rate),
        ("rate-total", &args.rate_total),
        ("slice", &args.slice),
        ("close-after", &args.close_after),
        ("reset-after", &args.reset_after),
        ("stall-after", &args.stall_after),
        ("slow-close", &args.slow_close),
        ("half-close", &args.half_close),
        ("drop", &args.drop),
        ("dup", &args.dup),
        ("reorder", &args.reorder),
        ("corrupt", &args.corrupt),
        ("drop-fds", &args.drop_fds),
    ] {
        spec.add(flag, values).map_err(usage)?;
    }
    let who = match (&args.faulty, &args.faulty_conns) {
        (Some(p), _) => Who::Chance(sockbox_net::fault::spec::parse_probability(p).ok_or_else(
            || {
                Error::Usage(format!(
                    "--faulty {p}: expected a probability from 0 to 1, e.g. 0.25"
                ))
            },
        )?),
        (None, Some(list)) => Who::parse_numbers(list).ok_or_else(|| {
            Error::Usage(format!(
                "--faulty-conns {list}: expected connection numbers from 1, e.g. 1,4-6"
            ))
        })?,
        (None, None) => Who::All,
    };
    let on_connections = !spec.is_empty();
    let asked = on_connections
        || args.accept.is_some()
        || args.faulty.is_some()
        || args.faulty_conns.is_some()
        || args.faults_after.is_some()
        || args.faults_for.is_some()
        || args.seed.is_some();
    if !asked {
        return Ok(Plan {
            faults: None,
            on_connections: false,
        });
    }
    check(&spec, sides, pass_fds)?;
    let seed = match args.seed {
        Some(s) => s,
        None => {
            let s = Faults::random_seed();
            eprintln!("sockbox: faults with seed {s} (--seed {s} replays their random choices)");
            s
        }
    };
    let faults = Faults::new(spec, seed, who, args.faults_after, args.faults_for);
    toggle_on_sigusr1(&faults)?;
    Ok(Plan {
        faults: Some(faults),
        on_connections,
    })
}

/// Refuse faults the sides cannot have.
fn check(spec: &Spec, sides: [&Address; 2], pass_fds: bool) -> Result<(), Error> {
    let dirs = &spec.dirs;
    let any = |f: &dyn Fn(&sockbox_net::fault::DirSpec) -> bool| dirs.iter().any(f);
    let messages = sides.iter().any(|a| a.carries_messages());
    if any(&|d| d.reset_after.is_some()) {
        for a in sides {
            if a.endpoint.is_socket()
                && a.endpoint.transfer() == Transfer::Message
                && !a.endpoint.kind().starts_with("seq")
            {
                return Err(Error::Usage(format!(
                    "--reset-after: {a} is a datagram socket, which has no connection to reset; \
                     reset needs tcp, unix or seqpacket sides (use --close-after or --drop)"
                )));
            }
        }
        if !sides.iter().any(|a| a.endpoint.is_socket()) {
            return Err(Error::Usage(
                "--reset-after: neither side is a socket; reset needs a tcp, unix or seqpacket side"
                    .into(),
            ));
        }
    }
    if !messages {
        for (flag, asked) in [
            ("drop", any(&|d| d.drop > 0.0)),
            ("dup", any(&|d| d.dup > 0.0)),
            ("reorder", any(&|d| d.reorder > 0.0)),
            ("corrupt", any(&|d| d.corrupt > 0.0)),
        ] {
            if asked {
                return Err(Error::Usage(format!(
                    "--{flag}: {} and {} are byte streams; message faults need a datagram or \
                     seqpacket side, or frame=len32|len16|line on a stream side",
                    sides[0], sides[1]
                )));
            }
        }
    } else if any(&|d| d.slice.is_some()) {
        return Err(Error::Usage(
            "--slice: cuts byte streams into short writes; these sides carry messages, which \
             are never cut"
                .into(),
        ));
    }
    if any(&|d| d.drop_fds > 0.0) && !pass_fds {
        return Err(Error::Usage(
            "--drop-fds: loses descriptors passed with SCM_RIGHTS; it needs --pass-fds \
             (two unix: or two seqpacket: sides)"
                .into(),
        ));
    }
    if pass_fds {
        let mut others = spec.clone();
        others.dirs.iter_mut().for_each(|d| d.drop_fds = 0.0);
        if !others.is_empty() {
            return Err(Error::Usage(
                "--pass-fds: of the faults on bytes only --drop-fds applies to a \
                 descriptor-passing relay (--accept, --faulty, --faults-after/-for and --seed \
                 do too)"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// SIGUSR1 switches faults off, and on again.
fn toggle_on_sigusr1(faults: &Arc<Faults>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let f = faults.clone();
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            let on = f.toggle();
            eprintln!("sockbox: SIGUSR1: faults {}", if on { "on" } else { "off" });
        }
    });
    Ok(())
}

/// `--stats` with faults: the totals, the seed and every fault that fired.
#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    totals: &'a Totals,
    seed: u64,
    faults: Vec<Fired>,
}

/// Print the faults that fired: with the totals as one JSON document, or as lines on stderr.
pub fn report(totals: &Totals, faults: &Faults, json: bool) -> std::io::Result<()> {
    use std::io::Write;
    let fired = faults.fired();
    if json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(
            &mut out,
            &Report {
                totals,
                seed: faults.seed(),
                faults: fired,
            },
        )?;
        return out.write_all(b"\n");
    }
    crate::output::totals(totals, false)?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "sockbox: {} faults fired (seed {})",
        fired.len(),
        faults.seed()
    )?;
    for f in fired {
        writeln!(
            err,
            "sockbox: fault {} on connection {}{} at byte {} ({:.3}s)",
            f.fault,
            f.conn,
            f.dir.map_or(String::new(), |d| format!(" {}", d.arrow())),
            f.offset,
            f.time
        )?;
    }
    Ok(())
}
