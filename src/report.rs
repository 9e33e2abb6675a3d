//! What reaches stderr: errors, warnings, peers coming and going, and with `-v` the socket
//! calls the library narrates. The library emits `tracing` events; this layer picks which to
//! show and prints each as one `sockbox: ...` line.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

struct Stderr {
    verbose: bool,
    quiet: bool,
}

impl Stderr {
    fn shows(&self, meta: &Metadata<'_>) -> bool {
        match meta.target() {
            sockbox_net::CALL => self.verbose,
            sockbox_net::PEER => !self.quiet,
            t if t.starts_with("sockbox") => *meta.level() <= Level::WARN || self.verbose,
            // Other crates: only their warnings and errors, and only with -v.
            _ => self.verbose && *meta.level() <= Level::WARN,
        }
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for Stderr {
    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.shows(meta)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let mut msg = Message(String::new());
        event.record(&mut msg);
        let prefix = match *meta.level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            _ => "",
        };
        // stderr may be closed; nothing useful can be done about it then.
        let _ = writeln!(std::io::stderr().lock(), "sockbox: {prefix}{}", msg.0);
    }
}

/// Send everything written to stderr from now on to `path`, appended (created if missing):
/// the reporter's lines, and anything else this process writes to descriptor 2.
pub fn to_file(path: &std::path::Path) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    nix::unistd::dup2_stderr(&f)?;
    Ok(())
}

/// Install the stderr reporter. `verbose`: narrate socket calls; `quiet`: no peer lines.
pub fn init(verbose: bool, quiet: bool) {
    let subscriber = tracing_subscriber::registry().with(Stderr { verbose, quiet });
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Print an error with its whole cause chain, on one line.
pub fn error(e: &anyhow::Error) {
    let _ = writeln!(std::io::stderr().lock(), "sockbox: {e:#}");
}
