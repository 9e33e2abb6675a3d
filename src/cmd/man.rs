//! `sockbox man [VERB]` and `sockbox completions SHELL`: man pages and shell completions,
//! generated from the clap definitions in `cli.rs` (clap_mangen, clap_complete), so a new verb
//! or flag is documented and completed without anyone writing it twice.
//!
//! Pages: `sockbox(1)`, one `sockbox-VERB(1)` per verb (`sockbox-fd-send(1)` for nested ones),
//! and section 7 pages rendered from the same text as `sockbox help TOPIC`
//! (`sockbox-addresses(7)` is `sockbox_net::addr::HELP`).
//!
//! Completions: clap_complete's static scripts. Where an address goes (the `addr`, `addrs`,
//! `a`, `b` positionals), the command handed to the generator carries the kind words
//! (`tcp:`, `unix:`, `pty` ...) as possible values, so bash and zsh offer them; fish's generator
//! ignores positional values, so its script gets one `complete` line per verb added by hand,
//! and bash's a wrapper that leaves no space after `unix:` and lists each word once.
//! Static rather than clap_complete's dynamic engine: the dynamic one runs sockbox on every
//! TAB and is still behind an unstable feature; these words change only with the binary,
//! which regenerates them.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::builder::PossibleValuesParser;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs, ManArgs};

/// A section 7 page: its name after `sockbox-`, one line of description, and the text.
pub struct Topic {
    pub name: &'static str,
    pub about: &'static str,
    pub text: &'static str,
}

/// Every section 7 page: the address grammar, then the help topics.
pub fn topics() -> Vec<Topic> {
    let mut all = vec![Topic {
        name: "addresses",
        about: "the address grammar of sockbox(1)",
        text: sockbox_net::addr::HELP,
    }];
    all.extend(super::topic::TOPICS.iter().map(|t| Topic {
        name: t.name,
        about: t.about,
        text: t.text,
    }));
    all
}

pub fn run(args: ManArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.out {
        let written = write_pages(dir)?;
        eprintln!("sockbox: wrote {written} man pages under {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let page = match args.verb.as_deref() {
        None => render_command(&built())?,
        Some(name) => {
            let name = name.strip_prefix("sockbox-").unwrap_or(name);
            if let Some(cmd) = find_page(&built(), name) {
                render_command(&cmd)?
            } else if let Some(t) = topics().into_iter().find(|t| t.name == name) {
                render_topic(&t)
            } else {
                return Err(sockbox_net::Error::Usage(format!(
                    "no man page 'sockbox-{name}': try a command name (relay, fd-send ...) \
                     or a topic ({})",
                    topics()
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into());
            }
        }
    };
    std::io::stdout().write_all(&page)?;
    Ok(ExitCode::SUCCESS)
}

pub fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.out {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let path = dir.join(completion_file(shell));
            std::fs::create_dir_all(path.parent().unwrap_or(dir))
                .with_context(|| format!("creating {}", dir.display()))?;
            std::fs::write(&path, completion_script(shell))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        eprintln!(
            "sockbox: wrote bash, zsh and fish completions under {}",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(shell) = args.shell else {
        return Err(sockbox_net::Error::Usage(
            "which shell? bash, zsh or fish (or --out DIR)".into(),
        )
        .into());
    };
    std::io::stdout().write_all(&completion_script(shell))?;
    Ok(ExitCode::SUCCESS)
}

/// Where a packager puts each script, relative to the output directory; the same layout as
/// `/usr/share` (bash-completion's lazy loader, zsh's vendor functions, fish's vendor dir).
pub fn completion_file(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "bash-completion/completions/sockbox",
        Shell::Zsh => "zsh/vendor-completions/_sockbox",
        Shell::Fish => "fish/vendor_completions.d/sockbox.fish",
        _ => "sockbox.completion",
    }
}

/// The clap command with display names filled in (`sockbox-relay`), as clap_mangen names pages.
fn built() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The command whose page is `sockbox-NAME` (`relay`, `fd-send`).
fn find_page(cmd: &clap::Command, name: &str) -> Option<clap::Command> {
    let want = format!("sockbox-{name}");
    let mut stack = vec![cmd.clone()];
    while let Some(c) = stack.pop() {
        if c.get_display_name() == Some(want.as_str()) {
            return Some(c);
        }
        stack.extend(c.get_subcommands().cloned());
    }
    None
}

fn render_command(cmd: &clap::Command) -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    let mut out = examples_kept(&String::from_utf8_lossy(&page)).into_bytes();
    // Every page points at the grammar and the topics.
    let mut see = String::from(".SH \"SEE ALSO\"\n");
    let refs: Vec<String> = topics()
        .iter()
        .map(|t| format!("\\fBsockbox\\-{}\\fR(7)", t.name.replace('-', "\\-")))
        .collect();
    see.push_str(&refs.join(", "));
    see.push('\n');
    out.extend_from_slice(see.as_bytes());
    Ok(out)
}

/// clap_mangen sets `after_help` as filled text under EXTRA: there it is the examples and
/// notes, so the section is named EXAMPLES and each indented line (a command) is kept as
/// written (`.nf`) instead of being joined and re-spaced; prose lines still fill.
fn examples_kept(page: &str) -> String {
    let mut out = String::with_capacity(page.len() + 1024);
    let mut in_extra = false;
    for line in page.lines() {
        if line.starts_with(".SH") {
            in_extra = line == ".SH EXTRA";
            out.push_str(if in_extra { ".SH EXAMPLES" } else { line });
            out.push('\n');
            continue;
        }
        if in_extra && line.starts_with("  ") {
            out.push_str(".nf\n");
            out.push_str(line);
            out.push_str("\n.fi\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A help text as a section 7 page: lines in capitals at the left margin become sections,
/// the rest is kept as laid out (`.nf`), so the page reads as `sockbox help` prints it.
pub fn render_topic(t: &Topic) -> Vec<u8> {
    let upper = format!("SOCKBOX-{}", t.name.to_uppercase());
    let mut out = format!(
        ".TH {upper} 7 \"\" \"sockbox {}\" \"sockbox manual\"\n.SH NAME\nsockbox\\-{} \\- {}\n",
        env!("CARGO_PKG_VERSION"),
        t.name.replace('-', "\\-"),
        escape(t.about)
    );
    let mut open = false;
    for (i, line) in t.text.lines().enumerate() {
        let heading = !line.is_empty()
            && !line.starts_with(' ')
            && line.chars().any(|c| c.is_ascii_uppercase())
            && !line.chars().any(|c| c.is_ascii_lowercase());
        if heading {
            if open {
                out.push_str(".fi\n");
            }
            // The first heading repeats the page's name: NAME says it already.
            let title = if i == 0 { "DESCRIPTION" } else { line.trim() };
            out.push_str(&format!(".SH \"{}\"\n.nf\n", escape(title)));
            open = true;
            continue;
        }
        if !open {
            out.push_str(".SH DESCRIPTION\n.nf\n");
            open = true;
        }
        let text = escape(line);
        if text.starts_with('.') || text.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&text);
        out.push('\n');
    }
    if open {
        out.push_str(".fi\n");
    }
    out.push_str(".SH \"SEE ALSO\"\n\\fBsockbox\\fR(1)\n");
    out.into_bytes()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

/// Writes every page to DIR/man1 and DIR/man7; returns how many.
pub fn write_pages(dir: &Path) -> Result<usize> {
    let man1 = dir.join("man1");
    let man7 = dir.join("man7");
    for d in [&man1, &man7] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut n = 0;
    let mut stack = vec![built()];
    while let Some(c) = stack.pop() {
        stack.extend(c.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let name = c.get_display_name().unwrap_or(c.get_name()).to_string();
        let path = man1.join(format!("{name}.1"));
        std::fs::write(&path, render_command(&c)?)
            .with_context(|| format!("writing {}", path.display()))?;
        n += 1;
    }
    for t in topics() {
        let path = man7.join(format!("sockbox-{}.7", t.name));
        std::fs::write(&path, render_topic(&t))
            .with_context(|| format!("writing {}", path.display()))?;
        n += 1;
    }
    Ok(n)
}

/// Positionals that take an address (see the module comment).
const ADDR_ARGS: &[&str] = &["addr", "addrs", "a", "b"];

/// The command as the completion generators see it: address positionals list the kind words.
fn completion_command() -> clap::Command {
    // clap takes possible values as `&'static str` (owned strings need its `string`
    // feature); this runs once per process, so the few words are leaked.
    let words: Vec<&'static str> = sockbox_net::addr::completion_words()
        .map(|w| &*Box::leak(w.into_boxed_str()))
        .collect();
    fn mark(cmd: clap::Command, words: &[&'static str]) -> clap::Command {
        // `mut_arg` moves the argument to the end, and a positional's place is its order: so
        // every positional is moved, in order, and their order stays what it was.
        let ids: Vec<String> = cmd
            .get_positionals()
            .map(|a| a.get_id().to_string())
            .collect();
        let mut cmd = cmd;
        for id in ids {
            let words = words.to_vec();
            let addr = ADDR_ARGS.contains(&id.as_str());
            cmd = cmd.mut_arg(id, move |a| {
                if addr {
                    a.value_parser(PossibleValuesParser::new(words))
                } else {
                    a
                }
            });
        }
        let subs: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for sub in subs {
            cmd = cmd.mut_subcommand(sub, |s| mark(s, words));
        }
        cmd
    }
    mark(Cli::command(), &words)
}

/// Added to clap's bash script: after a kind word (`unix:`) no space, so the target is typed
/// (or completed as a file name, `-o default`) right after it; and each word once (relay's A
/// and B both list the kinds).
const BASH_ADDRESS_WORDS: &str = r#"
# Added by sockbox: no space after an address kind (tcp:, unix: ...), each candidate once.
_sockbox_addresses() {
    _sockbox "$@"
    local -A seen=()
    local w out=()
    for w in "${COMPREPLY[@]}"; do
        [[ -n ${seen[$w]} ]] && continue
        seen[$w]=1
        out+=("$w")
    done
    COMPREPLY=("${out[@]}")
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _sockbox_addresses -o nosort -o bashdefault -o default sockbox
else
    complete -F _sockbox_addresses -o bashdefault -o default sockbox
fi
"#;

/// The verbs (paths of subcommand names) with an address positional: for fish's extra lines.
fn addr_verbs(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if cmd
        .get_positionals()
        .any(|a| ADDR_ARGS.contains(&a.get_id().as_str()))
    {
        out.push(path.clone());
    }
    for sub in cmd.get_subcommands() {
        path.push(sub.get_name().to_string());
        addr_verbs(sub, path, out);
        path.pop();
    }
}

pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut cmd = completion_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sockbox", &mut out);
    if shell == Shell::Bash {
        out.extend_from_slice(BASH_ADDRESS_WORDS.as_bytes());
    }
    if shell == Shell::Fish {
        let mut verbs = Vec::new();
        addr_verbs(&Cli::command(), &mut Vec::new(), &mut verbs);
        let words: Vec<String> = sockbox_net::addr::completion_words().collect();
        out.extend_from_slice(b"# Address kinds after a verb (added by sockbox: fish's generator skips positionals)\n");
        for path in verbs.iter().filter(|p| !p.is_empty()) {
            let last = path.last().map(String::as_str).unwrap_or_default();
            let cond = if path.len() == 1 {
                format!("__fish_seen_subcommand_from {last}")
            } else {
                format!(
                    "__fish_seen_subcommand_from {} && __fish_seen_subcommand_from {last}",
                    path[0]
                )
            };
            out.extend_from_slice(
                format!(
                    "complete -c sockbox -n \"{cond}\" -a \"{}\" -d 'address kind'\n",
                    words.join(" ")
                )
                .as_bytes(),
            );
        }
    }
    out
}
