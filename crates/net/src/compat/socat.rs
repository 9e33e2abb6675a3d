//! `sockbox socat [OPTIONS] ADDRESS1 ADDRESS2`: socat's command line as a native one.
//!
//! socat decides what to do from the two addresses: one that listens (`*-LISTEN`,
//! `*-RECV*`) serves, `fork` on it means many clients (without it, one client and exit), and
//! data flows both ways unless `-u`/`-U` (or a read-only `STDIN`, a write-only `STDOUT`) says
//! otherwise. The translation keeps that:
//!
//! | socat | native |
//! |---|---|
//! | `STDIO` and a connecting address | `connect ADDR` |
//! | `STDIO` and a listening address | `listen ADDR` (`--keep` with `fork`) |
//! | anything else | `relay [--once] A B`, roles written out (`listen:`, `connect:`) |
//!
//! Address options socat has and sockbox spells differently (`range=`, `max-children=`,
//! `fork`, `creat`) become flags or native options; options that change nothing here are
//! dropped (said with `--explain`); the rest are refused with the reason and the nearest
//! thing sockbox does, from the table.

use std::path::Path;

use super::table::{self, Effect, Flow, Form, Opens, Verdict};
use super::{nearest, seconds, usage, PathKind, Plan};
use crate::addr::{escape_value, Address, Dual, Endpoint, FileWrite, IpVersion, Role};
use crate::error::Error;
use crate::scan::{services, Protocol as Proto};

/// What `sockbox socat` was asked: the plan, or help / version.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Run { plan: Plan, explain: bool },
    Help,
    Version,
}

/// One side, read the way socat reads it.
#[derive(Debug)]
struct Side {
    addr: Address,
    flow: Flow,
    fork: bool,
    allow: Vec<String>,
    max_children: Option<String>,
    /// `ECHO` or an unnamed `PIPE`: what is written comes back (`addr` is a placeholder).
    echo: bool,
    /// socat's own spelling, for messages.
    raw: String,
}

impl Side {
    fn role(&self) -> Option<Role> {
        self.addr.role
    }

    /// Plain stdio, which the connect and listen verbs give; `-,raw,echo=0` (termios settings
    /// on the user's terminal) is an address of its own, relayed.
    fn is_stdio(&self) -> bool {
        !self.echo
            && self.addr.endpoint == Endpoint::Stdio
            && !self.addr.options.terminal.sets_termios()
    }

    /// READLINE with nothing `connect --readline [--prompt P]` cannot say.
    fn is_plain_readline(&self) -> bool {
        let mut o = self.addr.options.clone();
        o.terminal.prompt = None;
        self.addr.endpoint == Endpoint::Readline && o == crate::addr::Options::default()
    }
}

/// Command-line settings that are not addresses.
#[derive(Debug, Default)]
struct Settings {
    debug: u32,
    oneway: bool,
    reverse: bool,
    linger: Option<String>,
    idle: Option<String>,
    buffer: Option<usize>,
    version: Option<IpVersion>,
    explain: bool,
    /// `-v` (text) or `-x` (hex, which wins when both are given): the traffic dump in socat's
    /// format.
    dump: Option<Dump>,
    /// `-lf FILE`: messages to FILE instead of stderr.
    log_file: Option<String>,
    notes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dump {
    Text,
    Hex,
}

/// Translates socat's arguments (without the program name). `probe` tells what is at a path,
/// for `GOPEN:` and bare paths.
pub fn translate(args: &[String], probe: &dyn Fn(&Path) -> PathKind) -> Result<Request, Error> {
    let mut set = Settings::default();
    let mut addrs = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        // `-`, `-,OPTIONS` and `-!!WRITE` are addresses, not flags.
        if !addrs.is_empty()
            || arg == "-"
            || arg.starts_with("-,")
            || arg.starts_with("-!!")
            || !arg.starts_with('-')
        {
            addrs.push(arg.clone());
            continue;
        }
        let mut value = |flag: &str, attached: &str| -> Result<String, Error> {
            if !attached.is_empty() {
                return Ok(attached.to_owned());
            }
            let v = args
                .get(i)
                .ok_or_else(|| usage(format!("socat {flag}: needs a value")))?;
            i += 1;
            Ok(v.clone())
        };
        match arg.as_str() {
            "--explain" => set.explain = true,
            "-h" | "-?" | "-hh" | "-hhh" | "--help" => return Ok(Request::Help),
            "-V" | "--version" => return Ok(Request::Version),
            "-u" => set.oneway = true,
            "-U" => {
                set.oneway = true;
                set.reverse = true;
            }
            "-v" => set.dump = Some(set.dump.unwrap_or(Dump::Text)),
            "-x" => set.dump = Some(Dump::Hex),
            "-4" => set.version = Some(IpVersion::V4),
            "-6" => set.version = Some(IpVersion::V6),
            "-D" | "-s" | "-g" | "-ls" | "-lm" | "-lu" | "-lh" => note_noop(&mut set, arg),
            a if a.starts_with("-d") && a[1..].bytes().all(|b| b == b'd') => {
                set.debug += (a.len() - 1) as u32;
            }
            a if a.starts_with("-lf") => set.log_file = Some(value("-lf", &a[3..])?),
            a if a.starts_with("-lp") => {
                value("-lp", &a[3..])?;
                note_noop(&mut set, "-lp");
            }
            a if a.starts_with("-b") => {
                let v = value("-b", &a[2..])?;
                let n: usize = v
                    .parse()
                    .map_err(|_| usage(format!("socat -b {v}: expected a size in bytes")))?;
                set.buffer = Some(n.max(4096));
            }
            a if a.starts_with("-t") => {
                let v = value("-t", &a[2..])?;
                set.linger = Some(seconds("-t", &v, true)?);
            }
            a if a.starts_with("-T") => {
                let v = value("-T", &a[2..])?;
                set.idle = Some(seconds("-T", &v, false)?);
            }
            a => return Err(refused_flag(a)),
        }
    }
    let [a, b] = addrs.as_slice() else {
        return Err(usage(format!(
            "socat: expected two addresses, got {}{}",
            addrs.len(),
            if addrs.len() > 2 {
                " (quote an address that contains spaces)"
            } else {
                ""
            }
        )));
    };
    let a = side(a, &mut set, probe)?;
    let b = side(b, &mut set, probe)?;
    let plan = plan(a, b, &mut set)?;
    Ok(Request::Run {
        plan,
        explain: set.explain,
    })
}

fn note_noop(set: &mut Settings, flag: &str) {
    if let Some(f) = table::find_flag(table::SOCAT_FLAGS, flag) {
        if let Verdict::NoOp(why) = f.verdict {
            set.notes.push(format!("socat {flag} ignored: {why}"));
        }
    }
}

fn refused_flag(flag: &str) -> Error {
    match table::find_flag(table::SOCAT_FLAGS, flag) {
        Some(f) => match f.verdict {
            Verdict::Refused(why) => usage(format!("socat {flag} is not supported: {why}")),
            _ => usage(format!("socat {flag}: not understood here")),
        },
        None => {
            let names = table::SOCAT_FLAGS
                .iter()
                .flat_map(|f| f.names.iter().copied());
            match nearest(flag, names) {
                Some(n) => usage(format!(
                    "socat: unknown option '{flag}'; did you mean '{n}'?"
                )),
                None => usage(format!(
                    "socat: unknown option '{flag}' (an address that starts with '-' must be \
                     '-', '-,OPTIONS' or '-!!WRITE')"
                )),
            }
        }
    }
}

/// Splits at each comma outside quotes and not escaped (socat's nestlex rules: a comma
/// inside '...' or "..." belongs to the value).
fn split_options(s: &str, quotes: bool) -> (&str, Vec<&str>) {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') if quotes => quote = Some(c),
            (None, ',') => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    let target = parts.remove(0);
    (target, parts)
}

/// One parameter or option value as socat reads it (nestlex.c, as `xioparse_single` and
/// `parseopts` call it): quotes dropped ('...' taken as written, "..." with escapes solved
/// inside), a backslash escapes the next character (`\n`, `\t` ... are C escapes), and
/// brackets `( [ {` are kept with what they hold. So `file:"/tmp/a b"` opens `/tmp/a b`.
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    nestlex(s, 0, &[], true, true, &mut out);
    out
}

/// socat's `_nestlex`: copies `s` from byte `i` into `out` until one of `ends` (not copied),
/// and returns where it stopped. `quoting`: quotes and brackets are recognized; `drop`: the
/// outermost quotes are dropped (nested ones are copied as they are).
fn nestlex(
    s: &str,
    mut i: usize,
    ends: &[&str],
    quoting: bool,
    drop: bool,
    out: &mut String,
) -> usize {
    const NESTS: [(char, char); 3] = [('(', ')'), ('[', ']'), ('{', '}')];
    while let Some(c) = s[i..].chars().next() {
        if ends.iter().any(|e| s[i..].starts_with(e)) {
            return i;
        }
        if quoting && (c == '\'' || c == '"') {
            if !drop {
                out.push(c);
            }
            let end = c.to_string();
            // Hard quotes ('): no quoting inside; soft ("): quotes and brackets nest.
            i = nestlex(s, i + 1, &[end.as_str()], c == '"', false, out);
            if s[i..].starts_with(c) {
                if !drop {
                    out.push(c);
                }
                i += 1;
            }
            continue;
        }
        if let Some(&(open, close)) = NESTS.iter().find(|(o, _)| quoting && *o == c) {
            out.push(open);
            let end = close.to_string();
            i = nestlex(s, i + 1, &[end.as_str()], true, false, out);
            if s[i..].starts_with(close) {
                out.push(close);
                i += 1;
            }
            continue;
        }
        i += c.len_utf8();
        if c == '\\' {
            let Some(n) = s[i..].chars().next() else {
                break;
            };
            i += n.len_utf8();
            out.push(match n {
                '0' => '\0',
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'v' => '\x0b',
                other => other,
            });
            continue;
        }
        out.push(c);
    }
    i
}

/// EXEC's command line, split as socat's child splits it (xio-exec.c): at spaces, by
/// nestlex, quotes dropped.
fn exec_argv(line: &str) -> Vec<String> {
    let mut argv = Vec::new();
    let mut i = 0;
    loop {
        while line[i..].starts_with(' ') {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut word = String::new();
        i = nestlex(line, i, &[" "], true, true, &mut word);
        argv.push(word);
    }
    argv
}

/// Which way socat uses a half of a dual address `R!!W`: it opens R for reading only and W
/// for writing only, which decides how a file or a path is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Half {
    Read,
    Write,
}

/// Where socat splits `R!!W`: the first "!!" outside quotes and not after a backslash.
fn split_dual(raw: &str) -> Option<(&str, &str)> {
    let b = raw.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < b.len() {
        match (quote, b[i]) {
            (_, b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, c @ (b'\'' | b'"')) => quote = Some(c),
            (None, b'!') if b.get(i + 1) == Some(&b'!') => return Some((&raw[..i], &raw[i + 2..])),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Reads one socat address into a native one plus what the front end must do for it.
fn side(raw: &str, set: &mut Settings, probe: &dyn Fn(&Path) -> PathKind) -> Result<Side, Error> {
    if let Some((read, write)) = split_dual(raw) {
        // Reading stdin and writing stdout, however spelt, is stdio.
        if is_std_in(read) && is_std_out(write) {
            let mut s = side("-", set, probe)?;
            s.raw = raw.to_owned();
            return Ok(s);
        }
        return dual_side(raw, read, write, set, probe);
    }
    single_side(raw, set, probe, None)
}

/// `R!!W`: each half translated as socat opens it (R for reading, W for writing), joined into
/// a native dual address.
fn dual_side(
    raw: &str,
    read: &str,
    write: &str,
    set: &mut Settings,
    probe: &dyn Fn(&Path) -> PathKind,
) -> Result<Side, Error> {
    let r = half_side(raw, read, Half::Read, set, probe)?;
    // socat opens R first: a PIPE: read half has made its FIFO by the time W's path is looked at.
    let made = match &r.addr.endpoint {
        Endpoint::Fifo(p) if probe(p) == PathKind::Missing => Some(p.clone()),
        _ => None,
    };
    let probe_w = |p: &Path| match &made {
        Some(m) if m == p => PathKind::Fifo,
        _ => probe(p),
    };
    let w = half_side(raw, write, Half::Write, set, &probe_w)?;
    let dual = Dual::new(r.addr, w.addr)
        .map_err(|why| usage(format!("'{raw}': socat's dual address: {why}")))?;
    Ok(Side {
        addr: Address::new(Endpoint::Dual(dual)),
        flow: Flow::Both,
        fork: false,
        allow: Vec::new(),
        max_children: None,
        echo: false,
        raw: raw.to_owned(),
    })
}

/// One half of a dual address, refused when socat's use of it has no sockbox meaning.
fn half_side(
    raw: &str,
    text: &str,
    half: Half,
    set: &mut Settings,
    probe: &dyn Fn(&Path) -> PathKind,
) -> Result<Side, Error> {
    let (name, unusable) = match half {
        Half::Read => ("read", Flow::WriteOnly),
        Half::Write => ("write", Flow::ReadOnly),
    };
    if text.is_empty() {
        return Err(usage(format!(
            "'{raw}': socat's dual address needs two addresses, READ!!WRITE"
        )));
    }
    let s = single_side(text, set, probe, Some(half))?;
    if s.echo {
        return Err(usage(format!(
            "'{raw}': {text} as the {name} half of a dual address: an echo has no halves; \
             nearest: ECHO alone"
        )));
    }
    if s.flow == unusable {
        return Err(usage(format!(
            "'{raw}': {text} cannot be the {name} half of a dual address: it only {}",
            if half == Half::Read {
                "writes"
            } else {
                "reads"
            }
        )));
    }
    if s.fork || !s.allow.is_empty() || s.max_children.is_some() {
        return Err(usage(format!(
            "'{raw}': fork, range= and max-children= apply to a listening address; the halves \
             of a dual address are connected to"
        )));
    }
    Ok(s)
}

/// One socat address that is not dual; `half` says how a dual address uses it.
fn single_side(
    raw: &str,
    set: &mut Settings,
    probe: &dyn Fn(&Path) -> PathKind,
    half: Option<Half>,
) -> Result<Side, Error> {
    let word_end = raw.find([':', ',']).unwrap_or(raw.len());
    let word = &raw[..word_end];
    let rest = raw[word_end..].strip_prefix(':');
    let entry = table::socat_address(word);
    // ECHO, and PIPE without a name (socat's unnamed pipe reads back what was written).
    let echo = rest.is_none()
        && (matches!(entry.map(|e| e.opens), Some(Opens::Echo))
            || word.eq_ignore_ascii_case("pipe"));
    if echo || matches!(entry.map(|e| e.opens), Some(Opens::Echo)) {
        if !echo || word_end < raw.len() {
            return Err(usage(format!(
                "'{raw}': socat's {} takes no name and no options here",
                word.to_ascii_uppercase()
            )));
        }
        return Ok(Side {
            addr: Address::new(Endpoint::Stdio),
            flow: Flow::Both,
            fork: false,
            allow: Vec::new(),
            max_children: None,
            echo: true,
            raw: raw.to_owned(),
        });
    }
    // A bare path (socat: anything with a '/' that is no keyword) opens like GOPEN.
    let (opens, word, body) = match (entry, rest) {
        (Some(e), Some(body)) => (e.opens, word, Some(body)),
        (Some(e), None) => (e.opens, word, None),
        (None, _) if raw.contains('/') => (Opens::Generic, "GOPEN", Some(raw)),
        (None, _) if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(usage(format!(
                "'{raw}': socat's FD:N is not supported: {}",
                refused_why("fd")
            )))
        }
        (None, _) => {
            let names = table::SOCAT_ADDRESSES
                .iter()
                .flat_map(|a| a.names.iter().copied());
            let hint = nearest(word, names)
                .map(|n| format!("; did you mean '{}'?", n.to_ascii_uppercase()))
                .unwrap_or_else(|| {
                    "; socat addresses look like TYPE:PARAMS,OPTIONS, e.g. TCP:host:80".into()
                });
            return Err(usage(format!(
                "unknown socat address type '{word}' in '{raw}'{hint}"
            )));
        }
    };
    let (target, options) = match body {
        Some(body) => split_options(body, true),
        // `STDIO,OPTIONS` / `-,OPTIONS`: options and no target.
        None => {
            let list = raw[word_end..].strip_prefix(',').unwrap_or("");
            let (first, mut others) = split_options(list, false);
            others.insert(0, first);
            ("", others)
        }
    };
    let mut side = Side {
        addr: Address::new(Endpoint::Stdio),
        flow: Flow::Both,
        fork: false,
        allow: Vec::new(),
        max_children: None,
        echo: false,
        raw: raw.to_owned(),
    };
    let mut native_opts = Vec::new();
    // Whether socat options (not words socat does not know) are among `native_opts`.
    let mut socat_opts = false;
    let mut write = None;
    let mut family = None;
    // SO_REUSEADDR is an IP option: on a Unix socket it changes nothing, and socat takes it
    // there without a word (socat's own test.sh puts it on every listener).
    let unix = matches!(
        opens,
        Opens::Kind {
            kind: "unix" | "unix-dgram" | "seqpacket",
            ..
        }
    );
    // socat's quoting and escapes, solved: what the native text then spells its own way.
    let target = unquote(target);
    let target = target.as_str();
    for item in options.iter().filter(|o| !o.is_empty()) {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (unquote(n), Some(unquote(v))),
            None => (unquote(item), None),
        };
        let (name, value) = (name.as_str(), value.as_deref());
        // The option as the native grammar reads it.
        let item = &match value {
            Some(v) => format!("{name}={}", escape_value(v)),
            None => name.to_owned(),
        };
        let Some(opt) = table::socat_option(name) else {
            // Not socat's: perhaps a native option (frame=line); the native parser decides.
            native_opts.push((*item).to_owned());
            continue;
        };
        match (opt.verdict, opt.effect) {
            (Verdict::Native("reuseaddr"), _) if unix => set.notes.push(format!(
                "{name} in '{raw}' ignored: SO_REUSEADDR means nothing on a Unix socket"
            )),
            (_, Effect::FileWrite(w)) => write = Some(w),
            (Verdict::Native(_), _) => {
                socat_opts = true;
                native_opts.push((*item).to_owned())
            }
            (_, Effect::Family) => family = Some(protocol_family(need(name, value, raw)?, raw)?),
            (_, Effect::Fork) => side.fork = true,
            (_, Effect::Range) => side.allow.push(need(name, value, raw)?.to_owned()),
            (_, Effect::MaxChildren) => {
                side.max_children = Some(need(name, value, raw)?.to_owned())
            }
            (Verdict::NoOp(why), _) => set.notes.push(format!("{name} in '{raw}' ignored: {why}")),
            (Verdict::Refused(why), _) => {
                return Err(usage(format!(
                    "socat option '{name}' in '{raw}' is not supported: {why}"
                )))
            }
            (Verdict::Mapped(_), Effect::None) => {
                socat_opts = true;
                native_opts.push((*item).to_owned())
            }
        }
    }
    let (native, flow) = match opens {
        // STDIN and STDOUT are stdio with a direction.
        Opens::Kind {
            kind: "stdio",
            flow,
            ..
        } => ("stdio".to_owned(), flow),
        // PTY and READLINE take no target.
        Opens::Kind {
            kind: kind @ ("pty" | "readline"),
            flow,
            ..
        } if target.is_empty() => (kind.to_owned(), flow),
        // EXEC: socat's child splits the line at spaces; the native line is that argv.
        Opens::Kind {
            kind: "exec", flow, ..
        } => (
            Address::new(Endpoint::Exec(exec_argv(target))).to_string(),
            flow,
        ),
        // SYSTEM: the line goes to sh -c as it is (words after a comma that are no socat
        // option stay in it, as before). The native sh: takes the rest verbatim and has no
        // options, so a line with socat's options (pty, stderr ...) becomes the same
        // /bin/sh -c as an exec: argv, which carries them.
        Opens::Kind {
            kind: "sh", flow, ..
        } if !socat_opts => (format!("{word}:{target}"), flow),
        Opens::Kind {
            kind: "sh", flow, ..
        } => {
            let argv = ["/bin/sh", "-c", target].map(String::from).to_vec();
            (Address::new(Endpoint::Exec(argv)).to_string(), flow)
        }
        Opens::Kind {
            kind, form, flow, ..
        } => {
            let target = service_port(kind, form, target, raw)?;
            (format!("{word}:{}", escape_value(&target)), flow)
        }
        // Taken above: ECHO and PIPE have no target or options here.
        Opens::Echo => {
            return Err(usage(format!(
                "'{raw}': socat's ECHO takes no name and no options here"
            )))
        }
        Opens::Refused(why) => {
            return Err(usage(format!(
                "socat's address type '{}' is not supported: {why}",
                word.to_ascii_uppercase()
            )))
        }
        // socat opens a write half O_WRONLY: from the start, or as CREATE's creat() does; a
        // FIFO there is written as one.
        Opens::File { create } if half == Some(Half::Write) => {
            match (write, probe(Path::new(target))) {
                (None, PathKind::Fifo) => (format!("fifo:{}", escape_value(target)), Flow::Both),
                _ => {
                    let default = if create {
                        FileWrite::Truncate
                    } else {
                        FileWrite::Create
                    };
                    write = Some(write.unwrap_or(default));
                    (file_address(word, target, probe, write)?, Flow::Both)
                }
            }
        }
        Opens::File { create } => {
            let write = write.or(create.then_some(FileWrite::Truncate));
            (file_address(word, target, probe, write)?, Flow::Both)
        }
        // A terminal device (socat applies termios options to whatever it opened).
        Opens::Generic if is_terminal_path(target) || native_opts.iter().any(|o| is_termios(o)) => {
            (format!("tty:{}", escape_value(target)), Flow::Both)
        }
        Opens::Generic => {
            let path = Path::new(target);
            let text = match probe(path) {
                PathKind::Socket if write.is_none() => format!("unix:{}", escape_value(target)),
                PathKind::Fifo if write.is_none() => format!("fifo:{}", escape_value(target)),
                // GOPEN opens what is not a socket with O_APPEND, and creates a missing file:
                // as a write half, that is append.
                _ if half == Some(Half::Write) => {
                    write = Some(write.unwrap_or(FileWrite::Append));
                    file_address(word, target, probe, write)?
                }
                // ... also to read it: a read half that follows a missing file (ignoreeof)
                // reads the new, empty file as it grows (test.sh's FILE: `F,ignoreeof!!F`).
                PathKind::Missing
                    if half == Some(Half::Read)
                        && write.is_none()
                        && native_opts
                            .iter()
                            .any(|o| o == "ignoreeof" || o == "follow") =>
                {
                    write = Some(FileWrite::Create);
                    file_address(word, target, probe, write)?
                }
                _ => file_address(word, target, probe, write)?,
            };
            (text, Flow::Both)
        }
    };
    if write.is_some() && !native.starts_with("file:") {
        return Err(usage(format!(
            "'{raw}': creat, trunc and append apply to files (OPEN:, GOPEN:, CREATE:)"
        )));
    }
    let mut text = native;
    if let Some(w) = write {
        text.push_str(match w {
            FileWrite::Create => ",creat",
            FileWrite::Truncate => ",trunc",
            FileWrite::Append => ",append",
        });
    }
    for o in &native_opts {
        text.push(',');
        text.push_str(o);
    }
    let mut addr: Address = text.parse().map_err(|e| usage(format!("'{raw}': {e}")))?;
    if let Some(v) = family {
        set_family(&mut addr, v, raw, set)?;
    }
    if let (Some(v), Endpoint::Tcp(t) | Endpoint::Udp(t)) = (set.version, &mut addr.endpoint) {
        if t.version == IpVersion::Any {
            t.version = v;
        }
    }
    side.addr = addr;
    side.flow = flow;
    Ok(side)
}

/// The port of an inet or proxy address's target with a service name looked up, as socat's
/// getservbyname(3) does (`TCP:h:www`, `TCP-LISTEN:http-alt`); other kinds as they are.
fn service_port(kind: &str, form: Form, target: &str, raw: &str) -> Result<String, Error> {
    let proto = match kind {
        "udp" | "udp4" | "udp6" => Proto::Udp,
        "tcp" | "tcp4" | "tcp6" | "tls" | "http-connect" | "socks4" | "socks4a" | "socks5" => {
            Proto::Tcp
        }
        _ => return Ok(target.to_owned()),
    };
    let (head, port) = match target.rsplit_once(':') {
        Some((head, port)) => (Some(head), port),
        None if form == Form::PortOnly => (None, target),
        None => return Ok(target.to_owned()),
    };
    let name = |c: char| c.is_ascii_alphanumeric() || "-_.+".contains(c);
    if port.is_empty() || port.bytes().all(|b| b.is_ascii_digit()) || !port.chars().all(name) {
        return Ok(target.to_owned());
    }
    let Some(number) = services::system_port(port, proto) else {
        return Err(usage(format!(
            "'{raw}': '{port}' is not a port number, nor a {} service in /etc/services",
            if proto == Proto::Udp { "udp" } else { "tcp" }
        )));
    };
    Ok(match head {
        Some(h) => format!("{h}:{number}"),
        None => number.to_string(),
    })
}

/// socat's `pf=` values (`retropt_socket_pf`): the IP version they name.
fn protocol_family(value: &str, raw: &str) -> Result<IpVersion, Error> {
    match value.to_ascii_lowercase().as_str() {
        "ip4" | "ipv4" | "inet" | "inet4" | "2" => Ok(IpVersion::V4),
        "ip6" | "ipv6" | "inet6" | "10" => Ok(IpVersion::V6),
        _ => Err(usage(format!(
            "socat option 'pf={value}' in '{raw}': expected ip4 or ip6"
        ))),
    }
}

/// `pf=ip4|ip6` on a tcp, udp or TLS address: its version (tcp4:, udp6: ...). A word that says
/// the other version already (TCP6-LISTEN with pf=ip4) is a contradiction socat would only
/// fail on later; a proxy's own connection is left to the resolver, with a note.
fn set_family(
    addr: &mut Address,
    v: IpVersion,
    raw: &str,
    set: &mut Settings,
) -> Result<(), Error> {
    match &mut addr.endpoint {
        Endpoint::Tcp(t) | Endpoint::Udp(t) => {
            if t.version != IpVersion::Any && t.version != v {
                return Err(usage(format!(
                    "'{raw}': pf= names the other IP version than the address type"
                )));
            }
            t.version = v;
            Ok(())
        }
        Endpoint::Proxy(_) => {
            set.notes.push(format!(
                "pf= in '{raw}' ignored: sockbox reaches the proxy at whatever address its name \
                 has"
            ));
            Ok(())
        }
        _ => Err(usage(format!(
            "'{raw}': pf= (the IP version) applies to TCP, UDP and OPENSSL addresses"
        ))),
    }
}

/// socat's spellings of standard input as the read half of a dual address `R!!W`.
fn is_std_in(s: &str) -> bool {
    ["-", "stdio", "stdin", "fd:0", "0", "/dev/stdin"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

/// ... and of standard output as its write half.
fn is_std_out(s: &str) -> bool {
    ["-", "stdio", "stdout", "fd:1", "1", "/dev/stdout"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

/// Paths socat users open as terminals: `/dev/ttyS0`, `/dev/ttyUSB0`, `/dev/pts/3`.
fn is_terminal_path(path: &str) -> bool {
    path.starts_with("/dev/tty") || path.starts_with("/dev/pts/")
}

/// An option that only a terminal takes (`raw`, `echo=0`, `b115200`, `cs8` ...).
fn is_termios(item: &str) -> bool {
    let name = item
        .split('=')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let speed = name
        .strip_prefix('b')
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()));
    speed
        || matches!(
            name.as_str(),
            "raw"
                | "rawer"
                | "cfmakeraw"
                | "echo"
                | "cs5"
                | "cs6"
                | "cs7"
                | "cs8"
                | "parenb"
                | "cstopb"
                | "crtscts"
                | "clocal"
                | "baud"
                | "charsize"
        )
}

fn need<'a>(name: &str, value: Option<&'a str>, raw: &str) -> Result<&'a str, Error> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| usage(format!("socat option '{name}' in '{raw}' needs a value")))
}

fn refused_why(word: &str) -> &'static str {
    match table::socat_address(word).map(|a| a.opens) {
        Some(Opens::Refused(why)) => why,
        _ => "",
    }
}

/// `OPEN:PATH` and friends as a native `file:` address; a Unix socket there is an error, as in
/// socat (which fails to open it with ENXIO).
fn file_address(
    word: &str,
    target: &str,
    probe: &dyn Fn(&Path) -> PathKind,
    write: Option<FileWrite>,
) -> Result<String, Error> {
    match probe(Path::new(target)) {
        PathKind::Socket => Err(usage(format!(
            "{}:{target}: {target} is a Unix socket; connect to it with UNIX-CONNECT:{target}",
            word.to_ascii_uppercase()
        ))),
        PathKind::Directory => Err(usage(format!(
            "{}:{target}: {target} is a directory",
            word.to_ascii_uppercase()
        ))),
        PathKind::Fifo if write.is_none() => Ok(format!("fifo:{}", escape_value(target))),
        _ => Ok(format!("file:{}", escape_value(target))),
    }
}

/// Chooses the native verb for two sides.
fn plan(a: Side, b: Side, set: &mut Settings) -> Result<Plan, Error> {
    let mut argv = Vec::new();
    // A terminal in raw mode cannot type an end of file (Ctrl-D and Ctrl-C are bytes then):
    // once the peer has gone, end after socat's default -t 0.5 instead of waiting for one.
    let raw_stdio =
        |s: &Side| s.addr.endpoint == Endpoint::Stdio && s.addr.options.terminal.sets_termios();
    // Nor does a file read with ignoreeof (follow) ever end: socat's -t 0.5 is what ends such a
    // line after the other direction has.
    let follows = |s: &Side| match &s.addr.endpoint {
        Endpoint::Dual(d) => d.read().options.follow,
        _ => s.addr.options.follow,
    };
    let endless = |s: &Side| raw_stdio(s) || follows(s);
    if set.linger.is_none() && (endless(&a) || endless(&b)) {
        set.linger = Some("500ms".to_owned());
    }
    match set.debug {
        0 | 1 => {}
        _ => argv.push("-v".to_owned()),
    }
    if let Some(f) = &set.log_file {
        argv.extend(["--log-file".to_owned(), f.clone()]);
    }
    // The direction as socat sees it: first address to second with -u, back with -U; a
    // read-only or write-only address decides it too.
    let forward_only =
        set.oneway && !set.reverse || a.flow == Flow::ReadOnly || b.flow == Flow::WriteOnly;
    let backward_only =
        set.oneway && set.reverse || a.flow == Flow::WriteOnly || b.flow == Flow::ReadOnly;
    if forward_only && backward_only {
        return Err(usage(format!(
            "socat {} {}: no direction left for data to flow",
            a.raw, b.raw
        )));
    }
    if a.echo || b.echo {
        return echo_plan(a, b, set, argv, forward_only || backward_only);
    }
    let listeners = [&a, &b]
        .iter()
        .filter(|s| s.role() == Some(Role::Listen))
        .count();
    if listeners == 2 {
        return Err(usage(format!(
            "socat {} {}: both addresses listen; sockbox relays a listening side to a connecting \
             one (socat would accept on the first, then on the second)",
            a.raw, b.raw
        )));
    }
    // READLINE against a connecting address: `connect ADDR --readline`.
    if let Some((line, other)) = [(&a, &b), (&b, &a)]
        .into_iter()
        .find(|(s, o)| s.is_plain_readline() && o.role() != Some(Role::Listen) && !o.is_stdio())
    {
        if !(forward_only || backward_only) && other.addr.endpoint != Endpoint::Readline {
            refuse_server_options(other)?;
            let mut addr = other.addr.clone();
            addr.role = None;
            argv.extend([
                "connect".to_owned(),
                addr.to_string(),
                "--readline".to_owned(),
            ]);
            if let Some(p) = &line.addr.options.terminal.prompt {
                argv.extend(["--prompt".to_owned(), p.clone()]);
            }
            timing_flags(set, &mut argv, false);
            return Ok(Plan {
                argv,
                notes: std::mem::take(&mut set.notes),
            });
        }
    }
    let (other, stdio_first) = match (a.is_stdio(), b.is_stdio()) {
        // `socat -u - -` is cat: stdin to stdout, one way.
        (true, true) if forward_only || backward_only => {
            argv.extend(["relay", "--oneway", "connect:stdio", "connect:stdio"].map(String::from));
            return Ok(Plan {
                argv,
                notes: std::mem::take(&mut set.notes),
            });
        }
        (true, true) => {
            return Err(usage(
                "socat STDIO STDIO: both sides are stdin/stdout, both ways; nothing to relay \
                 (socat -u - - copies stdin to stdout)"
                    .to_owned(),
            ))
        }
        (true, false) => (Some(&b), true),
        (false, true) => (Some(&a), false),
        (false, false) => (None, false),
    };
    if let Some(other) = other {
        // stdio -> other is "send"; other -> stdio is "receive".
        let (send_only, recv_only) = if stdio_first {
            (forward_only, backward_only)
        } else {
            (backward_only, forward_only)
        };
        let listens = other.role() == Some(Role::Listen);
        argv.push(if listens { "listen" } else { "connect" }.to_owned());
        // socat's `>` is first address to second. connect's A is stdio, listen's A the client.
        // (Before the address: clap would take `--dump=...` after it for a second address.)
        dump_flags(set, &mut argv, stdio_first == listens);
        let mut addr = other.addr.clone();
        addr.role = None;
        argv.push(addr.to_string());
        if listens && other.fork {
            argv.push("--keep".into());
        }
        if send_only {
            argv.push("--send-only".into());
        }
        if recv_only {
            argv.push("--recv-only".into());
        }
        if listens {
            access_flags(other, &mut argv);
        } else {
            refuse_server_options(other)?;
        }
        timing_flags(set, &mut argv, false);
        return Ok(Plan {
            argv,
            notes: std::mem::take(&mut set.notes),
        });
    }
    argv.push("relay".into());
    // The listening side (if any) and whether it forks.
    let listener = [&a, &b]
        .into_iter()
        .find(|s| s.role() == Some(Role::Listen));
    match listener {
        Some(l) if !l.fork => argv.push("--once".into()),
        _ => {}
    }
    if forward_only || backward_only {
        argv.push("--oneway".into());
    }
    timing_flags(set, &mut argv, true);
    match listener {
        Some(l) => access_flags(l, &mut argv),
        None => {
            refuse_server_options(&a)?;
            refuse_server_options(&b)?;
        }
    }
    // Roles written out, so the native relay reads them as socat meant: what does not
    // listen connects (EXEC, OPEN and the like are opened once per client).
    let (first, second) = if backward_only { (&b, &a) } else { (&a, &b) };
    // The relay's A is the side it listens on, else the first written.
    let native_a = match listener {
        Some(l) => l,
        None => first,
    };
    dump_flags(set, &mut argv, !std::ptr::eq(native_a, &a));
    for s in [first, second] {
        let mut addr = s.addr.clone();
        addr.role = Some(s.role().unwrap_or(Role::Connect));
        argv.push(addr.to_string());
    }
    Ok(Plan {
        argv,
        notes: std::mem::take(&mut set.notes),
    })
}

/// One side is `ECHO`: the other side's verb sends back what it reads.
fn echo_plan(
    a: Side,
    b: Side,
    set: &mut Settings,
    mut argv: Vec<String>,
    one_way: bool,
) -> Result<Plan, Error> {
    if a.echo && b.echo {
        return Err(usage(format!(
            "socat {} {}: both addresses are echoes; no data would enter",
            a.raw, b.raw
        )));
    }
    let echo_first = a.echo;
    let (echo, other) = if echo_first { (a, b) } else { (b, a) };
    if other.is_stdio() {
        // stdin into the echo, the echo out to stdout: cat, one way or both.
        argv.extend(["relay", "--oneway", "connect:stdio", "connect:stdio"].map(String::from));
        timing_flags(set, &mut argv, true);
        return Ok(Plan {
            argv,
            notes: std::mem::take(&mut set.notes),
        });
    }
    if one_way {
        return Err(usage(format!(
            "socat -u/-U with {}: the echo would send nothing back; sockbox's recv or \
             `connect --recv-only` reads without answering",
            echo.raw
        )));
    }
    let listens = other.role() == Some(Role::Listen);
    argv.push(if listens { "listen" } else { "connect" }.to_owned());
    // The native A is the other side, B the echo: swapped when socat wrote ECHO first.
    dump_flags(set, &mut argv, echo_first);
    let mut addr = other.addr.clone();
    addr.role = None;
    argv.push(addr.to_string());
    argv.push("--echo".into());
    if listens {
        if other.fork {
            argv.push("--keep".into());
        }
        access_flags(&other, &mut argv);
    } else {
        refuse_server_options(&other)?;
    }
    timing_flags(set, &mut argv, false);
    Ok(Plan {
        argv,
        notes: std::mem::take(&mut set.notes),
    })
}

/// `-v`/`-x`: the dump in socat's format; `swap` when the native verb's A is socat's second
/// address, so `>` still means first address to second.
fn dump_flags(set: &Settings, argv: &mut Vec<String>, swap: bool) {
    let Some(d) = set.dump else {
        return;
    };
    argv.push(
        match d {
            Dump::Text => "--dump=socat",
            Dump::Hex => "--dump=socat-hex",
        }
        .into(),
    );
    if swap {
        argv.push("--dump-swap".into());
    }
}

fn access_flags(listener: &Side, argv: &mut Vec<String>) {
    for cidr in &listener.allow {
        argv.push("--allow-ip".into());
        argv.push(cidr.clone());
    }
    if let Some(n) = &listener.max_children {
        argv.push("--max-conns".into());
        argv.push(n.clone());
    }
}

/// range= and max-children= belong on the listening address.
fn refuse_server_options(s: &Side) -> Result<(), Error> {
    if !s.allow.is_empty() || s.max_children.is_some() {
        return Err(usage(format!(
            "'{}': range= and max-children= apply to a listening address",
            s.raw
        )));
    }
    Ok(())
}

fn timing_flags(set: &Settings, argv: &mut Vec<String>, relay: bool) {
    if let Some(l) = &set.linger {
        argv.push("--linger".into());
        argv.push(l.clone());
    }
    if let Some(t) = &set.idle {
        argv.push("--idle-timeout".into());
        argv.push(t.clone());
    }
    if let (true, Some(b)) = (relay, set.buffer) {
        argv.push("--buffer".into());
        argv.push(b.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_nothing(_: &Path) -> PathKind {
        PathKind::Missing
    }

    fn native(line: &str) -> String {
        native_with(line, &probe_nothing)
    }

    fn native_with(line: &str, probe: &dyn Fn(&Path) -> PathKind) -> String {
        let args = shlex::split(line).unwrap();
        match translate(&args, probe) {
            Ok(Request::Run { plan, .. }) => plan.command_line(),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn refused(line: &str) -> String {
        let args = shlex::split(line).unwrap();
        match translate(&args, &probe_nothing) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("{line}: accepted as {r:?}"),
        }
    }

    #[test]
    fn the_common_lines() {
        assert_eq!(
            native("TCP-LISTEN:8080,fork,reuseaddr UNIX-CONNECT:/var/run/docker.sock"),
            "sockbox relay listen:tcp:8080,reuseaddr connect:unix:/var/run/docker.sock"
        );
        assert_eq!(
            native("- UNIX-CONNECT:/run/x.sock"),
            "sockbox connect unix:/run/x.sock"
        );
        assert_eq!(
            native("UNIX-LISTEN:/tmp/s,fork EXEC:cat"),
            "sockbox relay listen:unix:/tmp/s connect:exec:cat"
        );
        assert_eq!(
            native("-u TCP-LISTEN:9000,reuseaddr OPEN:/tmp/out,creat"),
            "sockbox relay --once --oneway listen:tcp:9000,reuseaddr connect:file:/tmp/out,creat"
        );
        assert_eq!(
            native("UDP-RECVFROM:5353,fork EXEC:'tr a-z A-Z'"),
            "sockbox relay listen:udp:5353 'connect:exec:tr a-z A-Z'"
        );
        assert_eq!(
            native("TCP-LISTEN:80 TCP:localhost:8080"),
            "sockbox relay --once listen:tcp:80 connect:tcp:localhost:8080"
        );
        assert_eq!(native("STDIO TCP-LISTEN:80"), "sockbox listen tcp:80");
        assert_eq!(native("-,nonblock TCP:h:1"), "sockbox connect tcp:h:1");
        assert_eq!(
            native("-d -d -t 2 -T 30 -b 65536 TCP-L:80,fork TCP:h:1"),
            "sockbox -v relay --linger 2s --idle-timeout 30s --buffer 65536 listen:tcp:80 \
             connect:tcp:h:1"
        );
    }

    #[test]
    fn directions() {
        assert_eq!(
            native("-u - TCP:h:1"),
            "sockbox connect tcp:h:1 --send-only"
        );
        assert_eq!(
            native("-U - TCP:h:1"),
            "sockbox connect tcp:h:1 --recv-only"
        );
        assert_eq!(
            native("STDIN TCP:h:1"),
            "sockbox connect tcp:h:1 --send-only"
        );
        assert_eq!(
            native("TCP:h:1 STDOUT"),
            "sockbox connect tcp:h:1 --recv-only"
        );
        assert_eq!(
            native("-U TCP-L:80,fork OPEN:/tmp/in"),
            "sockbox relay --oneway connect:file:/tmp/in listen:tcp:80"
        );
        assert!(refused("-u STDOUT TCP:h:1").contains("no direction"));
    }

    #[test]
    fn versions_and_options() {
        assert_eq!(native("-4 - TCP:h:1"), "sockbox connect tcp4:h:1");
        assert_eq!(native("-6 - TCP4:h:1"), "sockbox connect tcp4:h:1");
        assert_eq!(
            native("TCP-LISTEN:80,fork,range=127.0.0.0/8,max-children=5 TCP:h:1"),
            "sockbox relay --allow-ip 127.0.0.0/8 --max-conns 5 listen:tcp:80 connect:tcp:h:1"
        );
        assert_eq!(
            native("UNIX-LISTEN:/s,fork,perm=0600,unlink-early SYSTEM:'echo a,b'"),
            "sockbox relay listen:unix:/s,mode=0600 'connect:sh:echo a,b'"
        );
        // SYSTEM's options stay options: sh: has none, so the line runs as exec's argv.
        assert_eq!(
            native("- \"SYSTEM:'echo a,b',pty,stderr\""),
            "sockbox connect 'exec:/bin/sh -c '\\''echo a,b'\\'',pty,stderr'"
        );
    }

    #[test]
    fn paths_open_by_what_they_are() {
        let sock = |_: &Path| PathKind::Socket;
        let fifo = |_: &Path| PathKind::Fifo;
        let file = |_: &Path| PathKind::File;
        assert_eq!(
            native_with("- /run/x.sock", &sock),
            "sockbox connect unix:/run/x.sock"
        );
        assert_eq!(
            native_with("- GOPEN:/tmp/p", &fifo),
            "sockbox connect fifo:/tmp/p"
        );
        assert_eq!(
            native_with("- /tmp/f", &file),
            "sockbox connect file:/tmp/f"
        );
        let args = shlex::split("- OPEN:/run/x.sock").unwrap();
        let e = translate(&args, &sock).unwrap_err().to_string();
        assert!(
            e.contains("is a Unix socket") && e.contains("UNIX-CONNECT"),
            "{e}"
        );
    }

    #[test]
    fn openssl_addresses_are_tls() {
        assert_eq!(
            native("OPENSSL:localhost:443,cafile=/ca.pem -"),
            "sockbox connect tls:localhost:443,cafile=/ca.pem"
        );
        assert_eq!(
            native("OPENSSL-LISTEN:4433,cert=/s.pem,verify=0,fork,reuseaddr TCP:127.0.0.1:80"),
            "sockbox relay listen:tls:4433,reuseaddr,cert=/s.pem,verify=0 connect:tcp:127.0.0.1:80"
        );
        assert_eq!(
            native("SSL:h:443,commonname=x.example STDIO"),
            "sockbox connect tls:h:443,sni=x.example"
        );
        assert_eq!(
            native("STDIO OPENSSL:h:443,snihost=h.example,cert=/c.pem,key=/c.key"),
            "sockbox connect tls:h:443,cert=/c.pem,key=/c.key,sni=h.example"
        );
    }

    #[test]
    fn refusals_say_why() {
        let e = refused("OPENSSL-DTLS-CLIENT:h:443 -");
        assert!(
            e.contains("'OPENSSL-DTLS-CLIENT'") && e.contains("DTLS"),
            "{e}"
        );
        let e = refused("OPENSSL:h:443,cipher=HIGH -");
        assert!(e.contains("'cipher'") && e.contains("rustls"), "{e}");
        let e = refused("TCP-L:80,su=nobody EXEC:sh");
        assert!(e.contains("'su'") && e.contains("setpriv"), "{e}");
        let e = refused("-ly TCP-L:80 -");
        assert!(e.contains("-ly") && e.contains("syslog"), "{e}");
        // -v and -x are socat's own dump.
        assert_eq!(
            native("-v TCP-L:80,fork UNIX-CONNECT:/s"),
            "sockbox relay --dump=socat listen:tcp:80 connect:unix:/s"
        );
        assert_eq!(
            native("-x -v TCP:h:80 -"),
            "sockbox connect --dump=socat-hex --dump-swap tcp:h:80"
        );
        let e = refused("TCP-L:80 TCP-L:81");
        assert!(e.contains("both addresses listen"), "{e}");
        let e = refused("TCP-L:80!!STDOUT -");
        assert!(e.contains("dual"), "{e}");
        let e = refused("TCP-LSTEN:80 -");
        assert!(e.contains("did you mean 'TCP-LISTEN'"), "{e}");
        let e = refused("- ");
        assert!(e.contains("two addresses"), "{e}");
        let e = refused("-Q - -");
        assert!(e.contains("unknown option"), "{e}");
    }

    #[test]
    fn dual_addresses() {
        // socat's EXAMPLES, each half opened the way socat opens it (R read, W written).
        assert_eq!(
            native("- FILE:/tmp/outfile1,ignoreeof!!FILE:/tmp/outfile1,append"),
            "sockbox connect 'file:/tmp/outfile1,follow!!file:/tmp/outfile1,append' \
             --linger 500ms"
        );
        let file = |_: &Path| PathKind::File;
        assert_eq!(
            native_with("- /tmp/hugo,trunc,ignoreeof!!/tmp/hugo", &file),
            "sockbox connect 'file:/tmp/hugo,trunc,follow!!file:/tmp/hugo,append' --linger 500ms"
        );
        // PIPE: makes the FIFO the bare path then names (socat opens R first).
        assert_eq!(
            native("- PIPE:/tmp/pipi,nonblock!!/tmp/pipi"),
            "sockbox connect 'fifo:/tmp/pipi!!fifo:/tmp/pipi'"
        );
        assert_eq!(
            native("-,echo=0 open:/tmp/myfile,create,trunc,ignoreeof!!/tmp/myfile"),
            "sockbox relay --linger 500ms connect:stdio,echo=0 \
             'connect:file:/tmp/myfile,trunc,follow!!file:/tmp/myfile,append'"
        );
        // OPEN: as a write half writes from the start (O_WRONLY); CREATE: truncates.
        assert_eq!(
            native_with("- OPEN:/in!!OPEN:/out", &file),
            "sockbox connect 'file:/in!!file:/out,creat'"
        );
        assert_eq!(
            native("- OPEN:/in,ignoreeof!!CREATE:/out"),
            "sockbox connect 'file:/in,follow!!file:/out,trunc' --linger 500ms"
        );
        // On either address, with a listener on the other; quotes keep a program's "!!".
        assert_eq!(
            native("TCP-LISTEN:9000,fork,reuseaddr PIPE:/tmp/in!!SYSTEM:'cat >/dev/null!!'"),
            "sockbox relay listen:tcp:9000,reuseaddr 'connect:fifo:/tmp/in!!sh:cat >/dev/null!!'"
        );
        assert_eq!(
            native("-!!OPEN:/out,append TCP:h:1"),
            "sockbox relay 'connect:stdio!!file:/out,append' connect:tcp:h:1"
        );
        // GOPEN makes a missing file, also the one a followed read half reads; OPEN without
        // creat does not (socat fails to open it).
        assert_eq!(
            native("-t 0.1 - /tmp/f9,ignoreeof!!/tmp/f9"),
            "sockbox connect 'file:/tmp/f9,creat,follow!!file:/tmp/f9,append' --linger 100ms"
        );
        assert_eq!(
            native("- OPEN:/tmp/f9,ignoreeof!!/tmp/f9"),
            "sockbox connect 'file:/tmp/f9,follow!!file:/tmp/f9,append' --linger 500ms"
        );
        // Standard I/O however spelt is still stdio.
        assert_eq!(
            native("echo FD:0!!FD:1"),
            "sockbox relay --oneway connect:stdio connect:stdio"
        );
    }

    #[test]
    fn dual_halves_that_cannot_combine() {
        for (line, why) in [
            ("TCP-L:80!!STDOUT -", "read half listen:tcp:80 listens"),
            (
                "- FILE:/x!!UDP-RECVFROM:53",
                "write half listen:udp:53 listens",
            ),
            ("- STDOUT!!FILE:/x", "only writes"),
            ("- FILE:/x!!STDIN", "only reads"),
            ("- ECHO!!FILE:/x", "an echo has no halves"),
            ("- EXEC:cat!!FILE:/x", "is a program"),
            ("- FILE:/x,append!!FILE:/y", "only writes (append)"),
            ("- UDP:h:1!!FILE:/y", "byte stream"),
            ("- !!FILE:/y", "READ!!WRITE"),
            ("- FILE:/x,fork!!FILE:/y", "listening address"),
            ("- FILE:/x,su=nobody!!FILE:/y", "'su'"),
        ] {
            let e = refused(line);
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn terminals() {
        assert_eq!(
            native("PTY,link=/tmp/ttyA,raw,echo=0 PTY,link=/tmp/ttyB,raw,echo=0"),
            "sockbox relay connect:pty,raw,echo=0,link=/tmp/ttyA \
             connect:pty,raw,echo=0,link=/tmp/ttyB"
        );
        assert_eq!(
            native("PTY,link=/tmp/ttyA,raw,echo=0,wait-slave -"),
            "sockbox connect pty,raw,echo=0,link=/tmp/ttyA,wait-slave"
        );
        assert_eq!(
            native("/dev/ttyUSB0,b115200,raw,echo=0 TCP-LISTEN:5555,fork,reuseaddr"),
            "sockbox relay connect:tty:/dev/ttyUSB0,raw,echo=0,b115200 listen:tcp:5555,reuseaddr"
        );
        assert_eq!(
            native("- /dev/ttyS0,cs8,parenb=0,cstopb=0,crtscts=0,clocal=1"),
            "sockbox connect tty:/dev/ttyS0,cs8,parenb=0,cstopb=0,crtscts=0,clocal=1"
        );
        assert_eq!(
            native("- GOPEN:/dev/serial/by-id/x,b9600"),
            "sockbox connect tty:/dev/serial/by-id/x,b9600"
        );
        assert_eq!(
            native("TCP-LISTEN:2323,fork EXEC:bash,pty,stderr,setsid,ctty,sigint"),
            "sockbox relay listen:tcp:2323 connect:exec:bash,pty,stderr,setsid,ctty,sigint"
        );
    }

    #[test]
    fn readline() {
        assert_eq!(
            native("READLINE UNIX-CONNECT:/run/haproxy/admin.sock"),
            "sockbox connect unix:/run/haproxy/admin.sock --readline"
        );
        assert_eq!(
            native("READLINE,prompt=hap> UNIX-CONNECT:/run/haproxy/admin.sock"),
            "sockbox connect unix:/run/haproxy/admin.sock --readline --prompt 'hap>'"
        );
        assert_eq!(
            native("READLINE,history=/tmp/h,noprompt TCP:h:1"),
            "sockbox relay connect:readline,history=/tmp/h connect:tcp:h:1"
        );
        assert_eq!(
            native("-,raw,echo=0 TCP:h:2023"),
            "sockbox relay --linger 500ms connect:stdio,raw,echo=0 connect:tcp:h:2023"
        );
        let e = refused("READLINE,noecho=pass TCP:h:1");
        assert!(e.contains("'noecho'"), "{e}");
        let e = refused("PTY,sighup -");
        assert!(e.contains("'sighup'"), "{e}");
    }

    #[test]
    fn help_and_version() {
        assert_eq!(
            translate(&["-h".into()], &probe_nothing).unwrap(),
            Request::Help
        );
        assert_eq!(
            translate(&["-V".into()], &probe_nothing).unwrap(),
            Request::Version
        );
    }
    #[test]
    fn quotes_and_escapes_are_socats() {
        // The shell has removed its own quotes; these are the ones socat reads.
        let run = |v: &[&str]| {
            let args: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            match translate(&args, &probe_nothing) {
                Ok(Request::Run { plan, .. }) => plan.command_line(),
                other => panic!("{v:?}: {other:?}"),
            }
        };
        assert_eq!(
            run(&["-u", r#"file:"/tmp/in put",ignoreeof"#, "-"]),
            "sockbox connect 'file:/tmp/in put,follow' --recv-only --linger 500ms"
        );
        assert_eq!(
            run(&["-", "OPEN:'/tmp/a,b',creat"]),
            r"sockbox connect 'file:/tmp/a\,b,creat'"
        );
        assert_eq!(
            run(&["-", r"UNIX-CONNECT:/tmp/a\ b"]),
            "sockbox connect 'unix:/tmp/a b'"
        );
        // EXEC: socat drops the outer quotes, then splits the line at spaces (test.sh's
        // EXECSPACES).
        assert_eq!(
            run(&[
                "-u",
                r#"exec:"bash -c \"echo \\\"$1\\\"\"  \"\" \"test123\"""#,
                "-"
            ]),
            r#"sockbox connect 'exec:bash -c '\''echo "$1"'\'' '\'''\'' test123' --recv-only"#
        );
        // Option values lose their quotes too; brackets keep what they hold.
        assert_eq!(
            run(&["UNIX-LISTEN:/tmp/s,mode=\"0600\"", "-"]),
            "sockbox listen unix:/tmp/s,mode=0600"
        );
        assert_eq!(unquote("[ff02::2]:lo"), "[ff02::2]:lo");
        assert_eq!(unquote(r#"a"b'c'\"d"e"#), r#"ab'c'"de"#);
        assert_eq!(unquote(r"x\ty\,z"), "x\ty,z");
        assert_eq!(
            exec_argv(r#"sh -c "a  b" '' x"#),
            ["sh", "-c", "a  b", "", "x"]
        );
    }

    #[test]
    fn service_names_are_ports() {
        // From this host's /etc/services, as socat reads them (Debian's netbase has these).
        if services::system_port("www", Proto::Tcp) != Some(80) {
            return;
        }
        assert_eq!(
            native("- TCP:127.0.0.1:www"),
            "sockbox connect tcp:127.0.0.1:80"
        );
        assert_eq!(
            native("TCP-LISTEN:http-alt,fork TCP6:[::1]:http"),
            "sockbox relay listen:tcp:8080 'connect:tcp6:[::1]:80'"
        );
        assert_eq!(native("- UDP:h:domain"), "sockbox connect udp:h:53");
        assert!(refused("- TCP:h:no-such-service").contains("nor a tcp service"));
    }

    #[test]
    fn protocol_family_is_the_ip_version() {
        assert_eq!(
            native("TCP-LISTEN:80,pf=ip4,reuseaddr PIPE"),
            "sockbox listen tcp4:80,reuseaddr --echo"
        );
        assert_eq!(
            native("UDP-RECV:53,pf=ip6 -"),
            "sockbox listen udp6:53,merge"
        );
        assert_eq!(
            native("- TCP:localhost:80,pf=inet6"),
            "sockbox connect tcp6:localhost:80"
        );
        assert_eq!(
            native("OPENSSL-LISTEN:443,pf=ip6,cert=/c.pem TCP4:h:80,protocol-family=ip4"),
            "sockbox relay --once listen:tcp6:443,tls,cert=/c.pem connect:tcp4:h:80"
        );
        assert!(refused("TCP6-LISTEN:80,pf=ip4 -").contains("other IP version"));
        assert!(refused("UNIX-CONNECT:/s,pf=ip4 -").contains("applies to TCP"));
        assert!(refused("TCP:h:1,pf=ipx -").contains("expected ip4 or ip6"));
    }

    #[test]
    fn recv_addresses_merge_every_sender() {
        assert_eq!(
            native("-t 0.1 UDP6-RECV:5000,ipv6-join-group=[ff02::2]:lo /dev/null"),
            "sockbox relay --once --linger 100ms listen:udp6:5000,join=ff02::2%lo,merge \
             connect:file:/dev/null"
        );
        assert_eq!(
            native("UNIX-RECV:/tmp/log.sock -"),
            "sockbox listen unix-dgram:/tmp/log.sock,merge"
        );
        // RECVFROM and LISTEN wait for a first datagram, as socat does.
        assert_eq!(native("UDP-RECVFROM:5000 -"), "sockbox listen udp:5000");
    }

    #[test]
    fn reuseaddr_on_a_unix_socket_is_dropped_as_socat_ignores_it() {
        assert_eq!(
            native("UNIX-LISTEN:/tmp/x.sock,reuseaddr,fork EXEC:cat"),
            "sockbox relay listen:unix:/tmp/x.sock connect:exec:cat"
        );
        assert_eq!(
            native("TCP-LISTEN:80,reuseaddr UNIX-CONNECT:/s"),
            "sockbox relay --once listen:tcp:80,reuseaddr connect:unix:/s"
        );
    }
}
