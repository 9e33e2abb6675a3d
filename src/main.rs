//! sockbox: one tool for everything you do with sockets on Linux.
//!
//! `main` is thin: parse the arguments, set up stderr reporting and the runtime, run the verb,
//! and turn the outcome into an exit code (0 success, 1 the operation failed, 2 usage error,
//! 128+N killed by signal N; a closed stdout is success).

mod cli;
mod cmd;
mod output;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    // socat's and nc's command lines (as `sockbox socat ...` or through a `socat`/`nc`
    // symlink) become the native command they translate to.
    let cli = match cmd::compat::intercept() {
        Some(Ok(cli)) => cli,
        Some(Err(code)) => return code,
        None => match cli::try_parse() {
            Ok(cli) => cli,
            // A flag value its parser refused (`--linger -1`): one line, as for a bad address.
            Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
                let text = e.to_string();
                let line = text.lines().next().unwrap_or_default();
                eprintln!("sockbox: {}", line.trim_start_matches("error: "));
                return ExitCode::from(2);
            }
            Err(e) => e.exit(),
        },
    };
    if let Some(path) = &cli.log_file {
        if let Err(e) = report::to_file(path) {
            let why = sockbox_net::error::os_error_text(&e);
            eprintln!("sockbox: --log-file {}: {why}", path.display());
            return ExitCode::from(1);
        }
    }
    report::init(cli.verbose, cli.quiet);
    // Socket activation execs another program with descriptors placed by number, which needs a
    // process with one thread: it runs before the multi-threaded runtime exists.
    match &cli.command {
        cli::Command::Listen(args) if args.activate => {
            cmd::listen::activate(args).unwrap_or_else(|e| cmd::exit_code(&e))
        }
        _ => run(cli),
    }
}

fn run(cli: cli::Cli) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report::error(&anyhow::Error::new(e).context("starting the runtime"));
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(cmd::run(cli));
    // Blocking threads may still sit in open() of a FIFO or read() of a terminal: do not wait.
    rt.shutdown_background();
    code
}
