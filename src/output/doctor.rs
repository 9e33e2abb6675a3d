//! `sockbox doctor`'s report: a block per check for people, one JSON document for scripts.

use std::io::{self, Write};

use sockbox_net::doctor::{Report, Status};

use super::color::{self, Paint};

fn label(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Info => "info",
        Status::Warn => "WARN",
    }
}

/// `[ok]   ipv6  IPv6 is enabled ...`, then what it means and how to change it, indented.
pub fn text(out: &mut impl Write, report: &Report, brief: bool) -> io::Result<()> {
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &report.checks {
        let tag = format!("[{}]", label(c.status));
        let pad = " ".repeat(6usize.saturating_sub(tag.len()));
        let tag = color::paint(
            &tag,
            match c.status {
                Status::Ok => Paint::Green,
                Status::Info => Paint::Cyan,
                Status::Warn => Paint::BoldYellow,
            },
        );
        writeln!(out, "{tag}{pad} {:<width$}  {}", c.id, c.summary)?;
        if brief {
            continue;
        }
        let indent = " ".repeat(7 + width + 2);
        for line in wrap(c.meaning, 88usize.saturating_sub(indent.len()).max(40)) {
            writeln!(out, "{indent}{line}")?;
        }
        if let Some(fix) = &c.fix {
            writeln!(out, "{indent}change: {fix}")?;
        }
        writeln!(out)?;
    }
    let warnings = report.warnings();
    writeln!(
        out,
        "{} check(s), {warnings} warning(s)",
        report.checks.len()
    )
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `{"warnings": N, "checks": [{"id", "status", "summary", "meaning", "fix", "facts"}]}`
pub fn json(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let doc = serde_json::json!({
        "warnings": report.warnings(),
        "checks": report.checks,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
