//! The colour policy, one for every verb: colour only when `--color always`, or with `--color
//! auto` (the default) when stdout is a terminal and `NO_COLOR` is unset or empty
//! (<https://no-color.org>: a command-line flag overrides it). Decided once at start.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::cli::ColorWhen;

static ENABLED: OnceLock<bool> = OnceLock::new();
static WHEN: OnceLock<ColorWhen> = OnceLock::new();

/// Whether to colour, from the flag, `NO_COLOR` and whether stdout is a terminal.
pub fn decide(when: ColorWhen, no_color: Option<OsString>, terminal: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// Decide for this process (the first call wins).
pub fn init(when: ColorWhen) {
    let on = decide(
        when,
        std::env::var_os("NO_COLOR"),
        std::io::stdout().is_terminal(),
    );
    let _ = ENABLED.set(on);
    let _ = WHEN.set(when);
}

/// The same policy for another stream than stdout (the traffic dump on stderr or in a file):
/// `terminal` is whether that stream is one.
pub fn for_stream(terminal: bool) -> bool {
    decide(
        *WHEN.get().unwrap_or(&ColorWhen::Auto),
        std::env::var_os("NO_COLOR"),
        terminal,
    )
}

pub fn enabled() -> bool {
    *ENABLED.get().unwrap_or(&false)
}

/// SGR colours used in reports.
#[derive(Clone, Copy)]
pub enum Paint {
    Green,
    Cyan,
    BoldYellow,
}

/// `text` in `paint` when colour is on, else as it is.
pub fn paint(text: &str, paint: Paint) -> String {
    if !enabled() {
        return text.to_string();
    }
    let sgr = match paint {
        Paint::Green => "32",
        Paint::Cyan => "36",
        Paint::BoldYellow => "1;33",
    };
    format!("\x1b[{sgr}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_then_no_color_then_the_terminal() {
        let set = Some(OsString::from("1"));
        let empty = Some(OsString::new());
        assert!(decide(ColorWhen::Always, set.clone(), false));
        assert!(!decide(ColorWhen::Never, None, true));
        assert!(decide(ColorWhen::Auto, None, true));
        assert!(!decide(ColorWhen::Auto, None, false));
        assert!(!decide(ColorWhen::Auto, set, true));
        assert!(decide(ColorWhen::Auto, empty, true));
    }
}
