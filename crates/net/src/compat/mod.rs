//! Front ends for the command lines people already have: `sockbox socat` and `sockbox nc`.
//!
//! These are translators, not engines: each turns its tool's argv into a native sockbox
//! command line ([`Plan`]), which the binary then parses and runs like any other (so the typed
//! config, the engine and the error messages are the native ones), or prints for `--explain`.
//! What each of the other tools' spellings becomes is decided in one place, [`table`], which
//! the native address parser, both translators and `docs/compat.md` ([`doc::markdown`]) read.

pub mod doc;
pub mod nc;
pub mod socat;
pub mod table;

use std::path::Path;

use crate::error::Error;

/// A native command line that does what the other tool's command line asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The arguments after `sockbox`: global flags, the verb, its flags and addresses.
    pub argv: Vec<String>,
    /// Accepted spellings that change nothing, said once with `--explain` (and `-v`).
    pub notes: Vec<String>,
}

impl Plan {
    /// The command as a shell would need it typed: `sockbox relay --once 'listen:tcp:8080' ...`.
    pub fn command_line(&self) -> String {
        let mut line = String::from("sockbox");
        for word in &self.argv {
            line.push(' ');
            line.push_str(&shell_word(word));
        }
        line
    }
}

/// A word as a POSIX shell reads it back: as it is when it holds nothing the shell treats
/// specially (addresses keep their commas and colons readable), else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_+=/:.,@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What is at a path, for socat's `GOPEN:` and bare paths, which open by what they find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    Missing,
    Socket,
    Fifo,
    Directory,
    /// A regular file, a character or block device, anything else that opens like a file.
    File,
}

/// Looks at `path` without following it further than `stat(2)` does.
pub fn probe(path: &Path) -> PathKind {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Err(_) => PathKind::Missing,
        Ok(m) => {
            let t = m.file_type();
            if t.is_socket() {
                PathKind::Socket
            } else if t.is_fifo() {
                PathKind::Fifo
            } else if t.is_dir() {
                PathKind::Directory
            } else {
                PathKind::File
            }
        }
    }
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Seconds as the other tools write them (`1`, `0.5`), as a native duration (`1s`, `500ms`);
/// `zero_ok` allows 0 (`-t 0`, `-q 0`: at once).
fn seconds(flag: &str, value: &str, zero_ok: bool) -> Result<String, Error> {
    let bad = || {
        usage(format!(
            "{flag} {value}: expected a number of seconds, such as 1 or 0.5"
        ))
    };
    let secs: f64 = value.parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 || (secs == 0.0 && !zero_ok) || secs > 1e9 {
        return Err(bad());
    }
    let ms = (secs * 1000.0).round() as u64;
    Ok(if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

/// The nearest of `names` to `word`, when it is a plausible typo.
fn nearest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = match word.len() {
        0..=3 => 1,
        4..=6 => 2,
        _ => 3,
    };
    names
        .into_iter()
        .map(|n| (strsim::osa_distance(&word, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_spellings() {
        assert_eq!(seconds("-t", "1", false).unwrap(), "1s");
        assert_eq!(seconds("-t", "0.5", false).unwrap(), "500ms");
        assert_eq!(seconds("-q", "0", true).unwrap(), "0s");
        assert!(seconds("-t", "0", false).is_err());
        assert!(seconds("-t", "-1", true).is_err());
        assert!(seconds("-t", "x", true).is_err());
        assert!(seconds("-t", "nan", true).is_err());
    }

    #[test]
    fn command_line_quotes_what_needs_it() {
        let plan = Plan {
            argv: vec!["relay".into(), "listen:tcp:80".into(), "sh:echo a b".into()],
            notes: vec![],
        };
        assert_eq!(
            plan.command_line(),
            "sockbox relay listen:tcp:80 'sh:echo a b'"
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("tcp6:[::1]:80"), "'tcp6:[::1]:80'");
        assert_eq!(shell_word(""), "''");
    }
}
