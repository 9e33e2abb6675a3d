//! `readline` (and `connect --readline`): the user's terminal with line editing and history,
//! for interactive admin sockets (`sockbox connect unix:/run/haproxy/admin.sock --readline`).
//!
//! When stdin is a terminal, a thread runs rustyline's editor (emacs keys, history, a prompt
//! from `prompt=`) and writes each finished line, with its newline, into a pipe the relay
//! reads; Ctrl-D ends the input (the peer sees end of stream), Ctrl-C interrupts sockbox as it
//! would without the editor. What the peer sends is printed through rustyline's external
//! printer, so it appears above the line being edited instead of through it. Each line is
//! appended to the history file as it is entered: `history=PATH`, or
//! `$XDG_STATE_HOME/sockbox/history` (`~/.local/state/sockbox/history`). When stdin is not a
//! terminal there is nothing to edit and this is plain stdio.
//!
//! rustyline (not reedline): a line editor is all this needs; it is a small crate over the
//! same nix as sockbox, where reedline brings crossterm and a larger dependency tree.

use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::unistd::pipe2;
use rustyline::error::ReadlineError;
use rustyline::ExternalPrinter as _;

use super::{fdio, stdio, termios, Conn, Medium};
use crate::addr::Address;
use crate::error::{io_err, Error, Result};

/// The history file: `history=`, else under the user's state directory (XDG base directory
/// specification), else none.
pub fn history_path(given: Option<&PathBuf>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.clone());
    }
    let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    Some(state.join("sockbox").join("history"))
}

pub(crate) fn open(addr: &Address) -> Result<Conn> {
    if !io::stdin().is_terminal() {
        crate::narrate!("readline: stdin is not a terminal, plain stdio");
        return stdio::open(addr);
    }
    let target = addr.to_string();
    let t = &addr.options.terminal;
    let err = |what| io_err(what, &target);
    let mut editor = rustyline::DefaultEditor::new()
        .map_err(|e| Error::Refused(format!("{target}: cannot start the line editor: {e}")))?;
    let history = history_path(t.history.as_ref());
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // A missing file is a first run.
        let _ = editor.load_history(path);
    }
    let mut printer = editor
        .create_external_printer()
        .map_err(|e| Error::Refused(format!("{target}: cannot start the line editor: {e}")))?;
    // Whatever happens to the editor's thread, the terminal is left as it was found.
    let stdin = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(err("dup stdin for"))?;
    let saved =
        nix::sys::termios::tcgetattr(&stdin).map_err(|e| err("tcgetattr stdin for")(e.into()))?;
    let editing = Arc::new(AtomicBool::new(false));
    let guard = Leave {
        _restore: termios::Restore::new(stdin, saved),
        editing: editing.clone(),
    };

    let (lines_r, lines_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| err("pipe for")(e.into()))?;
    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| err("pipe for")(e.into()))?;
    let prompt = t.prompt.clone().unwrap_or_default();
    std::thread::Builder::new()
        .name("readline".into())
        .spawn(move || edit(editor, &prompt, history, lines_w, &editing))
        .map_err(err("start the editor of"))?;
    let printing = std::thread::Builder::new()
        .name("readline output".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match nix::unistd::read(&out_r, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        if printer.print(text).is_err() {
                            break;
                        }
                    }
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                }
            }
        })
        .map_err(err("start the printer of"))?;
    let rd = fdio::register(lines_r).map_err(err("register"))?;
    let wr = fdio::register(out_w).map_err(err("register"))?;
    let mut conn = Conn::pipes(
        "readline".into(),
        Some((rd, Medium::Pipe)),
        Some((wr, Medium::Pipe, false)),
        addr.options.frame,
    );
    conn.holdings.threads.push(printing);
    conn.holdings.guards.push(Box::new(guard));
    Ok(conn)
}

/// Leaves the terminal as it was when the connection ends, also in the middle of a line being
/// edited (the peer closed): settings restored, bracketed paste off, the cursor on a new line.
struct Leave {
    _restore: termios::Restore,
    editing: Arc<AtomicBool>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        if self.editing.load(Ordering::SeqCst) {
            let mut out = io::stdout();
            let _ = io::Write::write_all(&mut out, b"\x1b[?2004l\r\n");
            let _ = io::Write::flush(&mut out);
        }
    }
}

/// The editor's loop: each line into `lines` (blocking writes: the relay's backpressure
/// holds the user, not memory), its history entry appended to the file.
fn edit(
    mut editor: rustyline::DefaultEditor,
    prompt: &str,
    history: Option<PathBuf>,
    lines: OwnedFd,
    editing: &AtomicBool,
) {
    let lines = std::fs::File::from(lines);
    loop {
        editing.store(true, Ordering::SeqCst);
        let read = editor.readline(prompt);
        editing.store(false, Ordering::SeqCst);
        match read {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        if let Err(e) = editor.append_history(path) {
                            tracing::warn!("history file {}: {e}", path.display());
                        }
                    }
                }
                let mut bytes = line.into_bytes();
                bytes.push(b'\n');
                if io::Write::write_all(&mut &lines, &bytes).is_err() {
                    break;
                }
            }
            // Ctrl-D: the end of the input; the peer reads end of stream.
            Err(ReadlineError::Eof) => break,
            // Ctrl-C in the editor's raw mode is a key, not a signal: deliver it as the signal
            // it would have been, so sockbox stops as it does without the editor.
            Err(ReadlineError::Interrupted) => {
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGINT);
                break;
            }
            Err(e) => {
                tracing::warn!("readline: {e}");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_goes_where_it_is_asked() {
        let p = PathBuf::from("/tmp/h");
        assert_eq!(history_path(Some(&p)), Some(p));
    }
}
