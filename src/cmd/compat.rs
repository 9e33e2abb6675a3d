//! `sockbox socat ...` and `sockbox nc ...` (also run as `socat`, `nc`, `ncat`, `netcat`):
//! the other tool's command line, translated by `sockbox_net::compat` into a native one,
//! which is then parsed by the same clap definitions as if typed, and run. `--explain` prints
//! the native command instead of running it.

use std::io::Write;
use std::process::ExitCode;

use sockbox_net::compat::{self, nc, socat, Plan};

use crate::cli::Cli;

/// Which front end a command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    Socat,
    Nc,
}

impl Front {
    fn name(self) -> &'static str {
        match self {
            Front::Socat => "socat",
            Front::Nc => "nc",
        }
    }

    fn by_name(name: &str) -> Option<Front> {
        match name {
            "socat" => Some(Front::Socat),
            "nc" | "ncat" | "netcat" => Some(Front::Nc),
            _ => None,
        }
    }
}

/// The front end this process was asked for, by program name (a `socat` or `nc` symlink) or
/// by verb (`sockbox [-v|-q] socat ...`), with sockbox's own leading flags and the tool's
/// arguments.
fn detect(args: &[String]) -> Option<(Front, Vec<String>, Vec<String>)> {
    let program = args.first()?;
    let base = program.rsplit('/').next().unwrap_or(program);
    if let Some(front) = Front::by_name(base) {
        return Some((front, Vec::new(), args[1..].to_vec()));
    }
    let leading = args[1..]
        .iter()
        .take_while(|a| matches!(a.as_str(), "-v" | "-q" | "--verbose" | "--quiet"))
        .count();
    let verb = args.get(1 + leading)?;
    let front = Front::by_name(verb).filter(|f| verb == f.name())?;
    Some((
        front,
        args[1..1 + leading].to_vec(),
        args[2 + leading..].to_vec(),
    ))
}

/// What main should do: nothing here (`None`, parse as usual), run this native command, or
/// exit with this code (help, version, `--explain`, a refused line).
pub fn intercept() -> Option<Result<Cli, ExitCode>> {
    let mut args = Vec::new();
    for a in std::env::args_os() {
        match a.into_string() {
            Ok(a) => args.push(a),
            // Not a front-end command line (or one with bytes no socat address has): clap
            // parses and reports it.
            Err(_) => return None,
        }
    }
    let (front, leading, rest) = detect(&args)?;
    Some(translate(front, leading, &rest))
}

fn fail(front: Front, e: impl std::fmt::Display) -> ExitCode {
    // The front ends' own messages start with the tool's name ("nc -z: ...", "socat: ...");
    // said after "sockbox " they read as the command typed, not "sockbox nc: nc -z: ...".
    let (name, e) = (front.name(), e.to_string());
    let named = e
        .strip_prefix(name)
        .is_some_and(|r| r.starts_with([' ', ':']));
    let _ = if named {
        writeln!(std::io::stderr(), "sockbox {e}")
    } else {
        writeln!(std::io::stderr(), "sockbox {name}: {e}")
    };
    ExitCode::from(2)
}

fn translate(front: Front, leading: Vec<String>, rest: &[String]) -> Result<Cli, ExitCode> {
    let (plan, explain) = match front {
        Front::Socat => match socat::translate(rest, &compat::probe) {
            Ok(socat::Request::Run { plan, explain }) => (plan, explain),
            Ok(socat::Request::Help) => return Err(help(front)),
            Ok(socat::Request::Version) => return Err(version(front)),
            Err(e) => return Err(fail(front, e)),
        },
        Front::Nc => match nc::translate(rest) {
            Ok(nc::Request::Run { plan, explain }) => (plan, explain),
            Ok(nc::Request::Help) => return Err(help(front)),
            Ok(nc::Request::Version) => return Err(version(front)),
            Err(e) => return Err(fail(front, e)),
        },
    };
    let plan = Plan {
        argv: leading.into_iter().chain(plan.argv).collect(),
        notes: plan.notes,
    };
    // The native line must parse before it is explained: --explain answers 0 only for a line
    // sockbox would run.
    let cli =
        crate::cli::try_parse_from(std::iter::once("sockbox".to_owned()).chain(plan.argv.clone()));
    let cli = match cli {
        Ok(cli) => cli,
        Err(e) => {
            let first = e.to_string();
            let first = first
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            return Err(fail(
                front,
                format!("{first} (native command: {})", plan.command_line()),
            ));
        }
    };
    if explain {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", plan.command_line());
        for note in &plan.notes {
            let _ = writeln!(out, "# {note}");
        }
        return Err(ExitCode::SUCCESS);
    }
    if cli.verbose {
        for note in &plan.notes {
            tracing::info!(target: sockbox_net::CALL, "{note}");
        }
        let _ = writeln!(
            std::io::stderr(),
            "sockbox: running {}",
            plan.command_line()
        );
    }
    Ok(cli)
}

fn version(front: Front) -> ExitCode {
    let _ = writeln!(
        std::io::stdout(),
        "sockbox {} ({} front end: `sockbox {} --help`)",
        env!("CARGO_PKG_VERSION"),
        front.name(),
        front.name()
    );
    ExitCode::SUCCESS
}

fn help(front: Front) -> ExitCode {
    let text = match front {
        Front::Socat => SOCAT_HELP,
        Front::Nc => NC_HELP,
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

pub const SOCAT_HELP: &str = "\
sockbox socat [OPTIONS] ADDRESS1 ADDRESS2   (also run as `socat`)

socat's command line, run by sockbox's engine: each line is translated into a native
sockbox command (--explain prints it and exits; 0 when sockbox would run the line, 2 with
the reason when it would not).

Examples:
  sockbox socat TCP-LISTEN:8080,fork,reuseaddr UNIX-CONNECT:/var/run/docker.sock
  sockbox socat - UNIX-CONNECT:/run/app.sock
  sockbox socat -u TCP-LISTEN:9000,reuseaddr OPEN:/tmp/upload,creat
  sockbox socat UDP-RECVFROM:5353,fork EXEC:'tr a-z A-Z'
  sockbox socat --explain UNIX-LISTEN:/tmp/s,fork EXEC:cat
  sockbox socat -v UNIX-LISTEN:/tmp/d.sock,fork UNIX-CONNECT:/var/run/docker.sock

Options: -v / -x (the traffic in socat's dump format, text or hex: --dump=socat),
-d -d (narrate socket calls, -v), -u / -U (one direction), -t N (linger after
one side ends), -T N (idle timeout), -b N (buffer), -4 / -6, -s, -D, -h, -V, --explain.
Without fork a listening address serves one client and exits, as socat does; with fork,
clients are served concurrently. sockbox honours half-close: after one side's end of
stream the other direction goes on until it ends (socat's -t bounds that wait when given).
Every socat address type, option and flag, and what sockbox does with it:
`sockbox help compat` (docs/compat.md).
";

pub const NC_HELP: &str = "\
sockbox nc [FLAGS] [HOST] [PORT]   (also run as `nc`, `ncat`, `netcat`)

nc's (OpenBSD netcat, Debian's `nc`) and ncat's command line, run by sockbox's engine:
each line is translated into a native sockbox command (--explain prints it and exits).

Examples:
  sockbox nc -l -p 8080                 one client, to stdin/stdout
  sockbox nc -lk 8080                   many clients, their bytes to stdout
  sockbox nc -zv 127.0.0.1 20-30        which ports are open (exit 0 when one is)
  sockbox nc -U /run/app.sock           a Unix socket
  sockbox nc -q 1 127.0.0.1 80          quit 1 s after end of stdin
  sockbox nc -lk 9000 --sh-exec 'tr a-z A-Z'
  sockbox nc --explain -lvnp 4444

Flags: -l -p -s -k -u -U -z -v -w -q -N -n -4 -6, and ncat's -e/--exec, -c/--sh-exec,
--send-only, --recv-only, --max-conns, --allow, --deny, --allowfile, --denyfile,
--idle-timeout. Where nc and ncat give a letter two meanings, nc's wins. sockbox always
shuts the socket's write side down at end of stdin (nc needs -N for that). Every flag and
what sockbox does with it: `sockbox help compat` (docs/compat.md).
";
