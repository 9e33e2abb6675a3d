//! `docs/compat.md`, rendered from [`super::table`]: one row per spelling, so the page says
//! exactly what the front ends and the native parser accept. A test in the CLI suite compares
//! the file with this rendering (`sockbox help compat` prints it).

use std::fmt::Write;

use super::table::{self, Flag, Opens, Verdict, SOCAT_ADDRESSES, SOCAT_OPTIONS};
use crate::addr::Role;

fn verdict_cells(v: Verdict) -> (&'static str, String) {
    match v {
        Verdict::Native(to) => ("supported", format!("`{to}`")),
        Verdict::Mapped(to) => ("mapped", to.to_owned()),
        Verdict::NoOp(why) => ("accepted, no effect", why.to_owned()),
        Verdict::Refused(why) => ("refused", why.to_owned()),
    }
}

fn opens_cells(o: Opens) -> (&'static str, String) {
    match o {
        Opens::Kind {
            kind,
            role,
            flow,
            merge,
            ..
        } => {
            let role = match role {
                Some(Role::Listen) => "listen:",
                Some(Role::Connect) => "connect:",
                None => "",
            };
            let flow = match flow {
                table::Flow::Both => "",
                table::Flow::ReadOnly => " (read only: data flows from it)",
                table::Flow::WriteOnly => " (write only: data flows to it)",
            };
            let merge = if merge {
                " with `merge` (every sender's datagrams in one connection, opened at once)"
            } else {
                ""
            };
            ("mapped", format!("`{role}{kind}:`{merge}{flow}"))
        }
        Opens::Generic => (
            "mapped",
            "by what is there: a socket `unix:`, a FIFO `fifo:`, else `file:`".to_owned(),
        ),
        Opens::File { create: false } => (
            "mapped",
            "`file:` (with `creat`, `trunc` or `append`: written)".to_owned(),
        ),
        Opens::File { create: true } => ("mapped", "`file:PATH,trunc`".to_owned()),
        Opens::Echo => (
            "mapped",
            "`--echo` on the other side's verb (`listen ADDR --echo`, `connect ADDR --echo`); \
             against stdio, stdin to stdout"
                .to_owned(),
        ),
        Opens::Refused(why) => ("refused", why.to_owned()),
    }
}

/// Escapes a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn flag_rows(out: &mut String, flags: &[Flag]) {
    out.push_str("| flag | value | what sockbox does | details |\n|---|---|---|---|\n");
    for f in flags {
        let (what, details) = verdict_cells(f.verdict);
        for name in f.names {
            let _ = writeln!(
                out,
                "| `{name}` | {} | {what} | {} |",
                cell(f.value),
                cell(&details)
            );
        }
    }
}

/// The whole page.
pub fn markdown() -> String {
    let mut out = String::from(
        "# socat and nc compatibility\n\n\
         Generated from `crates/net/src/compat/table.rs` (`sockbox help compat` prints it; a \
         test fails when this file and the table disagree). Every socat address type and \
         option of socat 1.7.4's manual, every socat command-line option, and nc's (OpenBSD \
         netcat, Debian's `nc`) and ncat's flags: one row each.\n\n\
         - **supported**: the same thing in sockbox's grammar, under the name given;\n\
         - **mapped**: `sockbox socat` / `sockbox nc` turn it into the native flag, option or \
         verb given (`--explain` prints the native command);\n\
         - **accepted, no effect**: sockbox behaves so already, or it changes nothing here;\n\
         - **refused**: exit 2 with one line saying why and what to use instead.\n\n\
         Where sockbox differs on purpose: it honours half-close (end of input shuts down the \
         socket's write side and the other direction goes on until the peer closes; socat's \
         `-t` and nc's `-q` bound that wait when given), it serves a relay's clients \
         concurrently, and it reports peers on stderr (`sockbox nc` only with `-v`, as nc). \
         Where nc and ncat give one letter two meanings, Debian's `nc` (OpenBSD) wins and \
         ncat's long option stays available.\n\n",
    );
    out.push_str("## socat address types\n\n");
    out.push_str("| socat | what sockbox does | as |\n|---|---|---|\n");
    for a in SOCAT_ADDRESSES {
        let (what, details) = opens_cells(a.opens);
        for name in a.names {
            let _ = writeln!(
                out,
                "| `{}` | {what} | {} |",
                name.to_ascii_uppercase(),
                cell(&details)
            );
        }
    }
    out.push_str(
        "\n**Dual addresses `R!!W`** (read from R, write to W): mapped to sockbox's dual address \
         `R!!W`, on either address of the line, each half translated as above but opened the \
         way socat opens it: R for reading, W for writing. So a bare path or `GOPEN:` write \
         half appends (`file:PATH,append`, socat's `O_APPEND`), an `OPEN:`/`FILE:` write half \
         writes from the start (`file:PATH,creat`), a `PIPE:` read half makes its FIFO (which a \
         bare path write half then names) and reads it, and `ignoreeof` with `trunc` or \
         `create` on the read half empties (makes) the file, then follows it. A line with a \
         followed file (`ignoreeof`) and no `-t` gets socat's default `-t 0.5` \
         (`--linger 500ms`), as the followed side never ends. Refused, one line each: a \
         listening half, a half that only writes (`STDOUT`) as R or only reads (`STDIN`) as W, \
         `ECHO`/`PIPE` without a name as a half, a program (`EXEC:`, `SYSTEM:`) as the read \
         half (sockbox's program lines keep `!!`: put it on the write side), a datagram half \
         with a stream half. `STDIN!!STDOUT` and its spellings are plain stdio.\n",
    );
    out.push_str("\n## socat address options\n\n");
    out.push_str("| option | what sockbox does | as / why |\n|---|---|---|\n");
    for o in SOCAT_OPTIONS {
        let (what, details) = verdict_cells(o.verdict);
        for name in o.names {
            let _ = writeln!(out, "| `{name}` | {what} | {} |", cell(&details));
        }
    }
    out.push_str("\n## socat command-line options\n\n");
    flag_rows(&mut out, table::SOCAT_FLAGS);
    out.push_str("\n## nc and ncat flags\n\n");
    flag_rows(&mut out, table::NC_FLAGS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_one_row() {
        let page = markdown();
        for a in SOCAT_ADDRESSES {
            for n in a.names {
                let row = format!("| `{}` |", n.to_ascii_uppercase());
                assert_eq!(page.matches(&row).count(), 1, "{row}");
            }
        }
    }

    #[test]
    fn no_spelling_is_in_two_entries() {
        let mut seen = std::collections::HashSet::new();
        for n in SOCAT_ADDRESSES.iter().flat_map(|a| a.names.iter()) {
            assert!(seen.insert(n.to_ascii_lowercase()), "address {n} twice");
        }
        seen.clear();
        for n in SOCAT_OPTIONS.iter().flat_map(|o| o.names.iter()) {
            assert!(seen.insert(n.to_ascii_lowercase()), "option {n} twice");
        }
        for table in [table::SOCAT_FLAGS, table::NC_FLAGS] {
            seen.clear();
            for n in table.iter().flat_map(|f| f.names.iter()) {
                assert!(seen.insert(n.to_string()), "flag {n} twice");
            }
        }
    }
}
