//! `sockbox nc [FLAGS] [HOST] [PORT]`: nc's and ncat's command line as a native one.
//!
//! Flags are read with getopt's rules (`-lvnp 8080`, `-w3`, `--long=value`). Where OpenBSD nc
//! (Debian's `nc`) and ncat give one letter different meanings (`-i`, `-m`, `-d`, `-x`), nc's
//! wins and ncat's long spelling stays available (`--idle-timeout`, `--max-conns`); ncat's
//! letters nc lacks (`-e`, `-c`) are ncat's.
//!
//! | nc | native |
//! |---|---|
//! | `nc HOST PORT`, `nc -U PATH` | `connect tcp:HOST:PORT`, `connect unix:PATH` |
//! | `nc -l [-p] PORT` (`-k`) | `listen tcp:PORT` (`--keep`) |
//! | `nc -l PORT -e PROG` / `-c LINE` | `relay [--once] listen:tcp:PORT connect:exec:PROG` / `sh:` |
//! | `nc HOST PORT -e PROG` | `relay connect:tcp:HOST:PORT connect:exec:PROG` |
//! | `nc -z HOST PORTS` | `scan HOST -p PORTS` |
//!
//! nc says nothing on stderr unless `-v`: the native command runs with `-q` then; `-v`
//! gives sockbox's peer reports, `-vv` its socket-call narration.

use std::net::IpAddr;

use super::table::{self, Verdict};
use super::{nearest, seconds, usage, Plan};
use crate::error::Error;
use crate::scan::{services, Protocol as Proto};

/// What `sockbox nc` was asked.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Run { plan: Plan, explain: bool },
    Help,
    Version,
}

#[derive(Debug, Default)]
struct Flags {
    listen: bool,
    keep: bool,
    udp: bool,
    unix: bool,
    zero: bool,
    verbose: u32,
    numeric: bool,
    version: Option<char>,
    source_port: Option<String>,
    source: Option<String>,
    wait: Option<String>,
    quit: Option<String>,
    idle: Option<String>,
    /// OpenBSD nc's `-i` (ncat's `--delay`): a pause between lines sent and received, and
    /// between the ports of `-z`.
    interval: Option<String>,
    exec: Option<String>,
    sh: Option<String>,
    send_only: bool,
    recv_only: bool,
    max_conns: Option<String>,
    allow: Vec<(&'static str, String)>,
    /// `-x`/`--proxy HOST[:PORT]`, and whether it was ncat's `--proxy` (HTTP by default).
    proxy: Option<(String, bool)>,
    proxy_type: Option<String>,
    proxy_auth: Option<String>,
    broadcast: bool,
    crlf: bool,
    broker: bool,
    chat: bool,
    explain: bool,
    notes: Vec<String>,
    /// ncat's --ssl and its settings.
    ssl: bool,
    ssl_verify: bool,
    ssl_cert: Option<String>,
    ssl_key: Option<String>,
    ssl_trustfile: Option<String>,
    ssl_alpn: Option<String>,
}

/// Short flags that take a value (OpenBSD nc's, and ncat's -e and -c).
const SHORT_VALUED: &str = "IiMmOPpqsTVWwXxec";

/// Translates nc's arguments (without the program name).
pub fn translate(args: &[String]) -> Result<Request, Error> {
    let mut f = Flags::default();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let flag = format!("--{name}");
            let takes_value = matches!(
                name,
                "exec"
                    | "sh-exec"
                    | "wait"
                    | "source-port"
                    | "source"
                    | "max-conns"
                    | "allow"
                    | "deny"
                    | "allowfile"
                    | "denyfile"
                    | "idle-timeout"
                    | "delay"
                    | "proxy"
                    | "proxy-type"
                    | "proxy-auth"
                    | "ssl-cert"
                    | "ssl-key"
                    | "ssl-trustfile"
                    | "ssl-alpn"
            );
            let value = if takes_value {
                match inline {
                    Some(v) => Some(v),
                    None => {
                        let v = args
                            .get(i)
                            .ok_or_else(|| usage(format!("nc {flag}: needs a value")))?;
                        i += 1;
                        Some(v.clone())
                    }
                }
            } else {
                None
            };
            if let Some(r) = long_flag(&mut f, &flag, value)? {
                return Ok(r);
            }
            continue;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            positional.push(arg.clone());
            continue;
        }
        let cluster: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < cluster.len() {
            let c = cluster[j];
            j += 1;
            let value = if SHORT_VALUED.contains(c) {
                let attached: String = cluster[j..].iter().collect();
                j = cluster.len();
                if attached.is_empty() {
                    let v = args
                        .get(i)
                        .ok_or_else(|| usage(format!("nc -{c}: needs a value")))?;
                    i += 1;
                    Some(v.clone())
                } else {
                    Some(attached)
                }
            } else {
                None
            };
            if let Some(r) = short_flag(&mut f, c, value)? {
                return Ok(r);
            }
        }
    }
    let plan = plan(f, positional)?;
    Ok(Request::Run {
        explain: plan.1,
        plan: plan.0,
    })
}

fn long_flag(f: &mut Flags, flag: &str, value: Option<String>) -> Result<Option<Request>, Error> {
    let v = || value.clone().unwrap_or_default();
    match flag {
        "--listen" => f.listen = true,
        "--keep-open" => f.keep = true,
        "--udp" => f.udp = true,
        "--unixsock" => f.unix = true,
        "--verbose" => f.verbose += 1,
        "--nodns" => f.numeric = true,
        "--wait" => f.wait = Some(seconds(flag, &v(), false)?),
        "--idle-timeout" => f.idle = Some(seconds(flag, &v(), false)?),
        "--delay" => f.interval = Some(seconds(flag, &v(), false)?),
        "--source-port" => f.source_port = Some(v()),
        "--source" => f.source = Some(v()),
        "--exec" => f.exec = Some(v()),
        "--sh-exec" => f.sh = Some(v()),
        "--send-only" => f.send_only = true,
        "--recv-only" => f.recv_only = true,
        "--max-conns" => f.max_conns = Some(count(flag, &v())?),
        "--allow" => f.allow.push(("--allow-ip", v())),
        "--deny" => f.allow.push(("--deny-ip", v())),
        "--allowfile" => f.allow.push(("--allow-ip-file", v())),
        "--denyfile" => f.allow.push(("--deny-ip-file", v())),
        "--proxy" => f.proxy = Some((v(), true)),
        "--proxy-type" => f.proxy_type = Some(v()),
        "--proxy-auth" => f.proxy_auth = Some(v()),
        "--crlf" => f.crlf = true,
        "--broker" => f.broker = true,
        "--chat" => f.chat = true,
        "--explain" => f.explain = true,
        "--ssl" => f.ssl = true,
        "--ssl-verify" => (f.ssl, f.ssl_verify) = (true, true),
        "--ssl-cert" => (f.ssl, f.ssl_cert) = (true, Some(v())),
        "--ssl-key" => (f.ssl, f.ssl_key) = (true, Some(v())),
        "--ssl-trustfile" => (f.ssl, f.ssl_verify, f.ssl_trustfile) = (true, true, Some(v())),
        "--ssl-alpn" => (f.ssl, f.ssl_alpn) = (true, Some(v())),
        "--help" => return Ok(Some(Request::Help)),
        "--version" => return Ok(Some(Request::Version)),
        _ => return Err(refused(flag)),
    }
    Ok(None)
}

fn short_flag(f: &mut Flags, c: char, value: Option<String>) -> Result<Option<Request>, Error> {
    let v = || value.clone().unwrap_or_default();
    let flag = format!("-{c}");
    match c {
        'l' => f.listen = true,
        'k' => f.keep = true,
        'u' => f.udp = true,
        'U' => f.unix = true,
        'z' => f.zero = true,
        'v' => f.verbose += 1,
        'n' => f.numeric = true,
        '4' | '6' => f.version = Some(c),
        'N' => f.notes.push(format!("nc -N ignored: {}", noop_why("-N"))),
        'p' => f.source_port = Some(v()),
        's' => f.source = Some(v()),
        'w' => f.wait = Some(seconds(&flag, &v(), false)?),
        'i' => f.interval = Some(seconds(&flag, &v(), false)?),
        'q' => {
            let v = v();
            // A negative -q is OpenBSD nc's default: wait forever.
            if !v.starts_with('-') {
                f.quit = Some(seconds(&flag, &v, true)?);
            }
        }
        'e' => f.exec = Some(v()),
        'c' => f.sh = Some(v()),
        'x' => f.proxy = Some((v(), false)),
        'X' => f.proxy_type = Some(v()),
        'P' => f.proxy_auth = Some(v()),
        'b' => f.broadcast = true,
        'C' => f.crlf = true,
        'h' => return Ok(Some(Request::Help)),
        _ => return Err(refused(&flag)),
    }
    Ok(None)
}

fn noop_why(flag: &str) -> &'static str {
    match table::find_flag(table::NC_FLAGS, flag).map(|f| f.verdict) {
        Some(Verdict::NoOp(why)) => why,
        _ => "",
    }
}

fn count(flag: &str, v: &str) -> Result<String, Error> {
    match v.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n.to_string()),
        _ => Err(usage(format!("nc {flag} {v}: expected a number above 0"))),
    }
}

fn refused(flag: &str) -> Error {
    match table::find_flag(table::NC_FLAGS, flag).map(|f| f.verdict) {
        Some(Verdict::Refused(why)) => usage(format!("nc {flag} is not supported: {why}")),
        _ => {
            let names = table::NC_FLAGS.iter().flat_map(|f| f.names.iter().copied());
            let hint = match nearest(flag, names.filter(|n| n.starts_with("--"))) {
                Some(n) if flag.starts_with("--") => format!("; did you mean '{n}'?"),
                _ => String::new(),
            };
            usage(format!("nc: unknown option '{flag}'{hint}"))
        }
    }
}

/// A host as nc takes it: with -n it must be numeric; IPv6 gets brackets in an address.
fn host(f: &Flags, h: &str) -> Result<String, Error> {
    let ip = h.parse::<IpAddr>().ok();
    if f.numeric && ip.is_none() {
        return Err(usage(format!(
            "nc -n {h}: with -n the host must be a numeric address (names are not looked up)"
        )));
    }
    Ok(match ip {
        Some(IpAddr::V6(_)) => format!("[{h}]"),
        _ => h.to_owned(),
    })
}

fn kind(f: &Flags) -> String {
    let base = if f.udp { "udp" } else { "tcp" };
    match f.version {
        Some(v) => format!("{base}{v}"),
        None => base.to_owned(),
    }
}

/// `value` as a port: digits as they are, else the service name's port in /etc/services.
fn port_number(value: &str, proto: Proto) -> Option<u16> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok();
    }
    services::system_port(value, proto)
}

/// A port as nc takes it: a number, or a service name from /etc/services (nc and ncat look
/// names up with getservbyname(3), for UDP with -u).
fn port(f: &Flags, p: &str) -> Result<u16, Error> {
    let proto = if f.udp { Proto::Udp } else { Proto::Tcp };
    port_number(p, proto).ok_or_else(|| {
        usage(format!(
            "nc: '{p}' is not a port number, nor a {} service in /etc/services",
            if f.udp { "udp" } else { "tcp" }
        ))
    })
}

fn plan(mut f: Flags, pos: Vec<String>) -> Result<(Plan, bool), Error> {
    let mut argv: Vec<String> = Vec::new();
    match f.verbose {
        0 => argv.push("-q".into()),
        1 => {}
        _ => argv.push("-v".into()),
    }
    if f.exec.is_some() && f.sh.is_some() {
        return Err(usage("nc: give -e or -c, not both"));
    }
    if f.send_only && f.recv_only {
        return Err(usage("nc: --send-only and --recv-only leave nothing to do"));
    }
    if !f.listen && (f.keep || f.max_conns.is_some() || !f.allow.is_empty()) {
        return Err(usage(
            "nc: -k, --max-conns, --allow and --deny apply to listening (-l)",
        ));
    }
    if f.proxy.is_some() && (f.listen || f.unix || f.udp || f.zero) {
        return Err(usage(
            "nc: a proxy (-x, --proxy) carries TCP connections out; not with -l, -U, -u or -z",
        ));
    }
    if f.listen && f.proxy.is_none() && f.proxy_type.is_some() {
        return Err(usage(
            "nc -l --proxy-type: sockbox is not an HTTP or SOCKS proxy server; nearest: tinyproxy \
             or microsocks, and sockbox's proxy kinds (socks5:, http-connect:) as clients",
        ));
    }
    if f.proxy.is_none() && (f.proxy_type.is_some() || f.proxy_auth.is_some()) {
        return Err(usage(
            "nc: -X, -P, --proxy-type and --proxy-auth need a proxy (-x or --proxy)",
        ));
    }
    if (f.broker || f.chat) && (!f.listen || f.exec.is_some() || f.sh.is_some() || f.udp) {
        return Err(usage(
            "nc --broker and --chat need -l, over TCP or -U, and no -e or -c",
        ));
    }
    if f.broadcast && !f.udp {
        return Err(usage("nc -b: broadcast is for UDP (-u)"));
    }
    let program = match (&f.exec, &f.sh) {
        (Some(p), _) => Some(format!("exec:{p}")),
        (_, Some(line)) => Some(format!("sh:{line}")),
        _ => None,
    };
    if f.zero {
        if f.unix || f.listen {
            return Err(usage(
                "nc -z scans TCP or UDP ports of a host; not with -l or -U",
            ));
        }
        let [h, ports @ ..] = pos.as_slice() else {
            return Err(usage("nc -z: expected HOST and PORT[S]"));
        };
        if ports.is_empty() {
            return Err(usage("nc -z: expected HOST and PORT[S]"));
        }
        let h = host(&f, h)?;
        argv.retain(|a| a != "-q");
        argv.extend(["scan".into(), h.trim_matches(['[', ']']).to_owned()]);
        argv.extend(["-p".into(), ports.join(",")]);
        if f.udp {
            argv.push("--udp".into());
        }
        if let Some(w) = &f.wait {
            argv.extend(["--timeout".into(), w.clone()]);
        }
        if f.interval.is_some() {
            // Debian's nc (OpenBSD's) pauses only in its read/write loop, which -z never
            // enters: its -z -i 1 over two ports takes no time. Do as it does; say what does.
            f.notes.push(
                "nc -z -i ignored: nc does not pause between the ports of -z either; \
                 sockbox scan --interval DUR does"
                    .into(),
            );
        }
        return Ok((
            Plan {
                argv,
                notes: f.notes,
            },
            f.explain,
        ));
    }
    let mut addr = if f.unix {
        let [path] = pos.as_slice() else {
            return Err(usage("nc -U: expected one socket PATH"));
        };
        let kind = if f.udp { "unix-dgram" } else { "unix" };
        format!("{kind}:{path}")
    } else if f.listen {
        let (h, p) = match (pos.as_slice(), &f.source_port) {
            ([], Some(p)) => (f.source.clone(), p.clone()),
            // ncat listens on 31337 when no port is given (OpenBSD nc needs one).
            ([], None) => (f.source.clone(), "31337".to_owned()),
            ([p], None) => (f.source.clone(), p.clone()),
            ([h, p], None) => (Some(h.clone()), p.clone()),
            ([h], Some(p)) => (Some(h.clone()), p.clone()),
            _ => return Err(usage("nc -l: expected [HOST] PORT (or -p PORT)")),
        };
        let p = port(&f, &p)?;
        match h {
            Some(h) => format!("{}:{}:{p}", kind(&f), host(&f, &h)?),
            None => format!("{}:{p}", kind(&f)),
        }
    } else {
        let [h, p] = pos.as_slice() else {
            return Err(usage(
                "nc: expected HOST PORT (or -l PORT to listen, -U PATH)",
            ));
        };
        let mut a = match &f.proxy {
            Some(proxy) => proxied(&f, proxy, h, p)?,
            None => format!("{}:{}:{}", kind(&f), host(&f, h)?, port(&f, p)?),
        };
        if f.broadcast {
            a.push_str(",broadcast");
        }

        let bind_host = f.source.as_deref().map(|s| host(&f, s)).transpose()?;
        match (bind_host, &f.source_port) {
            (Some(s), Some(p)) => a.push_str(&format!(",bind={s}:{}", port(&f, p)?)),
            (Some(s), None) => a.push_str(&format!(",bind={s}")),
            (None, Some(p)) => {
                let any = if f.version == Some('6') {
                    "[::]"
                } else {
                    "0.0.0.0"
                };
                a.push_str(&format!(",bind={any}:{}", port(&f, p)?));
            }
            (None, None) => {}
        }
        a
    };
    if f.crlf {
        // nc and ncat turn LF into CR LF in what they send, and leave what they read alone.
        addr.push_str(",crlf=send");
    }
    let addr = if f.ssl { ssl(&f, addr)? } else { addr };
    if f.interval.is_some() {
        if f.udp {
            return Err(usage(
                "nc -i paces a byte stream; UDP datagrams are not paced (nearest: sockbox relay \
                 with --latency on a udp: side)",
            ));
        }
        if f.listen && program.is_none() && (f.keep || f.broker || f.chat) {
            return Err(usage(
                "nc -i with -k, --broker or --chat: sockbox paces one connection, or each client \
                 of -e/-c; not many clients' bytes to one stdout",
            ));
        }
    }
    match (f.listen, program) {
        (true, Some(prog)) => {
            argv.push("relay".into());
            if !f.keep {
                argv.push("--once".into());
            }
            access(&f, &mut argv);
            timing(&f, &mut argv, false);
            argv.push(format!("listen:{addr}"));
            argv.push(format!("connect:{prog}"));
        }
        (true, None) => {
            argv.push("listen".into());
            argv.push(addr);
            if f.chat {
                argv.push("--chat".into());
            } else if f.broker {
                argv.push("--broker".into());
            } else if f.keep {
                argv.push("--keep".into());
            }
            direction(&f, &mut argv);
            access(&f, &mut argv);
            timing(&f, &mut argv, false);
        }
        (false, Some(prog)) => {
            argv.push("relay".into());
            timing(&f, &mut argv, true);
            argv.push(format!("connect:{addr}"));
            argv.push(format!("connect:{prog}"));
        }
        (false, None) => {
            argv.push("connect".into());
            argv.push(addr);
            direction(&f, &mut argv);
            timing(&f, &mut argv, true);
        }
    }
    Ok((
        Plan {
            argv,
            notes: f.notes,
        },
        f.explain,
    ))
}

/// The address of HOST PORT reached through nc's proxy: OpenBSD nc's `-x` speaks SOCKS 5
/// unless `-X` says otherwise, ncat's `--proxy` HTTP; both default to port 1080 for SOCKS
/// and 3128 for HTTP.
fn proxied(f: &Flags, (proxy, ncat): &(String, bool), h: &str, p: &str) -> Result<String, Error> {
    let default = if *ncat { "http" } else { "5" };
    let ty = f.proxy_type.as_deref().unwrap_or(default);
    let (kind, default_port) = match ty.to_ascii_lowercase().as_str() {
        "5" | "socks5" => ("socks5", 1080),
        "4" | "socks4" => ("socks4", 1080),
        "socks4a" => ("socks4a", 1080),
        "connect" | "http" => ("http-connect", 3128),
        _ => {
            return Err(usage(format!(
                "nc proxy type '{ty}': expected 4, 5, connect (nc -X) or socks4, socks4a, socks5, \
                 http (ncat --proxy-type)"
            )))
        }
    };
    let has_port = match proxy.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => proxy.matches(':').count() == 1,
    };
    let proxy = if has_port {
        proxy.clone()
    } else if proxy.contains(':') && !proxy.starts_with('[') {
        format!("[{proxy}]:{default_port}")
    } else {
        format!("{proxy}:{default_port}")
    };
    let mut a = format!("{kind}:{proxy}/{}:{}", host(f, h)?, port(f, p)?);
    if let Some(auth) = &f.proxy_auth {
        a.push_str(&format!(
            ",auth={}",
            auth.replace('\\', "\\\\").replace(',', "\\,")
        ));
    }
    Ok(a)
}

/// ncat's --ssl on the address: `tls:` for TCP, `,tls` on a Unix socket. ncat's client checks
/// nothing unless --ssl-verify; its server asks no client certificate.
fn ssl(f: &Flags, addr: String) -> Result<String, Error> {
    if f.udp {
        return Err(usage(
            "nc --ssl with -u: sockbox has no DTLS; nearest: --ssl over TCP",
        ));
    }
    let mut a = match addr.strip_prefix("tcp:") {
        Some(rest) => format!("tls:{rest}"),
        None => format!("{addr},tls"),
    };
    let escape = |v: &str| v.replace(',', "\\,");
    for (option, value) in [("cert", &f.ssl_cert), ("key", &f.ssl_key)] {
        if let Some(v) = value {
            a.push_str(&format!(",{option}={}", escape(v)));
        }
    }
    if let Some(alpn) = &f.ssl_alpn {
        a.push_str(&format!(",alpn={}", alpn.replace(',', ":")));
    }
    if !f.listen {
        match (&f.ssl_trustfile, f.ssl_verify) {
            (Some(t), _) => a.push_str(&format!(",cafile={}", escape(t))),
            (None, true) => {}
            (None, false) => a.push_str(",verify=0"),
        }
    }
    Ok(a)
}

fn direction(f: &Flags, argv: &mut Vec<String>) {
    if f.send_only {
        argv.push("--send-only".into());
    }
    if f.recv_only {
        argv.push("--recv-only".into());
    }
}

fn access(f: &Flags, argv: &mut Vec<String>) {
    if let Some(n) = &f.max_conns {
        // ncat closes a client over the cap at once; it does not leave it waiting.
        argv.extend(["--max-conns".into(), n.clone(), "--max-conns-refuse".into()]);
    }
    for (flag, v) in &f.allow {
        argv.extend([(*flag).to_owned(), v.clone()]);
    }
}

fn timing(f: &Flags, argv: &mut Vec<String>, connecting: bool) {
    // -w bounds the connect and, as in OpenBSD nc, idle reads; it does not apply to -l.
    if let (true, Some(w)) = (connecting, &f.wait) {
        argv.extend(["--timeout".into(), w.clone()]);
    }
    if let Some(t) = f.idle.as_ref().or(f.wait.as_ref().filter(|_| connecting)) {
        argv.extend(["--idle-timeout".into(), t.clone()]);
    }
    if let Some(q) = &f.quit {
        argv.extend(["--linger".into(), q.clone()]);
    }
    if let Some(i) = &f.interval {
        // Every write at most 64 KiB and `i` after the one before, both ways: a line typed
        // or piped is one write, as in nc's loop that sleeps between its reads and writes.
        argv.extend(["--slice".into(), format!("64k,gap={i}")]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(line: &str) -> String {
        let args = shlex::split(line).unwrap();
        match translate(&args) {
            Ok(Request::Run { plan, .. }) => plan.command_line(),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn refused(line: &str) -> String {
        let args = shlex::split(line).unwrap();
        match translate(&args) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("{line}: accepted as {r:?}"),
        }
    }

    #[test]
    fn interval_paces_writes_and_is_ignored_by_z() {
        assert_eq!(
            native("-i 1 127.0.0.1 80"),
            "sockbox -q connect tcp:127.0.0.1:80 --slice 64k,gap=1s"
        );
        assert_eq!(
            native("--delay 0.5 -l 8080 -e cat"),
            "sockbox -q relay --once --slice 64k,gap=500ms listen:tcp:8080 connect:exec:cat"
        );
        assert_eq!(
            native("-z -i 1 127.0.0.1 20-30"),
            "sockbox scan 127.0.0.1 -p 20-30"
        );
        assert!(refused("-u -i 1 127.0.0.1 53").contains("UDP datagrams are not paced"));
        assert!(refused("-lk -i 1 8080").contains("nc -i with -k"));
        assert!(refused("-i 0 127.0.0.1 80").contains("expected a number of seconds"));
    }

    #[test]
    fn ncat_ssl() {
        // ncat checks nothing unless --ssl-verify.
        assert_eq!(
            native("--ssl localhost 443"),
            "sockbox -q connect tls:localhost:443,verify=0"
        );
        assert_eq!(
            native("--ssl-verify localhost 443"),
            "sockbox -q connect tls:localhost:443"
        );
        assert_eq!(
            native("--ssl-trustfile /ca.pem localhost 443"),
            "sockbox -q connect tls:localhost:443,cafile=/ca.pem"
        );
        assert_eq!(
            native("--ssl --ssl-alpn h2,http/1.1 h 443"),
            "sockbox -q connect tls:h:443,alpn=h2:http/1.1,verify=0"
        );
        assert_eq!(
            native("-U /run/x.sock --ssl"),
            "sockbox -q connect unix:/run/x.sock,tls,verify=0"
        );
        assert_eq!(
            native("-l 4433 --ssl-cert /s.pem --ssl-key /s.key"),
            "sockbox -q listen tls:4433,cert=/s.pem,key=/s.key"
        );
        assert_eq!(
            native("--ssl -l 4433 -e /bin/cat"),
            "sockbox -q relay --once listen:tls:4433 connect:exec:/bin/cat"
        );
    }

    #[test]
    fn the_common_lines() {
        assert_eq!(native("-l -p 8080"), "sockbox -q listen tcp:8080");
        assert_eq!(native("-l 8080"), "sockbox -q listen tcp:8080");
        assert_eq!(
            native("-lk 127.0.0.1 8080"),
            "sockbox -q listen tcp:127.0.0.1:8080 --keep"
        );
        assert_eq!(native("-lvnp 8080"), "sockbox listen tcp:8080");
        assert_eq!(
            native("localhost 80"),
            "sockbox -q connect tcp:localhost:80"
        );
        assert_eq!(
            native("-U /run/x.sock"),
            "sockbox -q connect unix:/run/x.sock"
        );
        assert_eq!(
            native("-Uu /tmp/d.sock"),
            "sockbox -q connect unix-dgram:/tmp/d.sock"
        );
        assert_eq!(
            native("-q 1 127.0.0.1 80"),
            "sockbox -q connect tcp:127.0.0.1:80 --linger 1s"
        );
        assert_eq!(
            native("-N 127.0.0.1 80"),
            "sockbox -q connect tcp:127.0.0.1:80"
        );
        assert_eq!(
            native("-zv 127.0.0.1 20-30"),
            "sockbox scan 127.0.0.1 -p 20-30"
        );
        assert_eq!(
            native("-w 3 -z ::1 22 80"),
            "sockbox scan ::1 -p 22,80 --timeout 3s"
        );
        assert_eq!(
            native("-lk 9000 --sh-exec 'tr a-z A-Z'"),
            "sockbox -q relay listen:tcp:9000 'connect:sh:tr a-z A-Z'"
        );
        assert_eq!(
            native("-l 9000 -e /bin/cat"),
            "sockbox -q relay --once listen:tcp:9000 connect:exec:/bin/cat"
        );
        assert_eq!(
            native("127.0.0.1 9000 -e cat"),
            "sockbox -q relay connect:tcp:127.0.0.1:9000 connect:exec:cat"
        );
        assert_eq!(
            native("-u 127.0.0.1 53"),
            "sockbox -q connect udp:127.0.0.1:53"
        );
        assert_eq!(native("-6 ::1 80"), "sockbox -q connect 'tcp6:[::1]:80'");
        assert_eq!(
            native("-w3 -s 127.0.0.1 -p 5555 127.0.0.1 80"),
            "sockbox -q connect tcp:127.0.0.1:80,bind=127.0.0.1:5555 --timeout 3s --idle-timeout 3s"
        );
        assert_eq!(
            native("-lk 8080 --max-conns 2 --allow 127.0.0.1 --send-only"),
            "sockbox -q listen tcp:8080 --keep --send-only --max-conns 2 --max-conns-refuse --allow-ip 127.0.0.1"
        );
        assert_eq!(
            native("-vv 127.0.0.1 80"),
            "sockbox -v connect tcp:127.0.0.1:80"
        );
    }

    #[test]
    fn proxies() {
        // OpenBSD nc: -x speaks SOCKS 5 unless -X says otherwise.
        assert_eq!(
            native("-x 127.0.0.1 h 80"),
            "sockbox -q connect socks5:127.0.0.1:1080/h:80"
        );
        assert_eq!(
            native("-X connect -x p:8000 -P bob h 443"),
            "sockbox -q connect http-connect:p:8000/h:443,auth=bob"
        );
        assert_eq!(
            native("-X 4 -x p h 80"),
            "sockbox -q connect socks4:p:1080/h:80"
        );
        // ncat: --proxy speaks HTTP unless --proxy-type says otherwise; 3128 by default.
        assert_eq!(
            native("--proxy ::1 h 80"),
            "sockbox -q connect 'http-connect:[::1]:3128/h:80'"
        );
        assert_eq!(
            native("--proxy p:9 --proxy-type socks4a --proxy-auth a:b,c h 80"),
            "sockbox -q connect 'socks4a:p:9/h:80,auth=a:b\\,c'"
        );
    }

    #[test]
    fn refusals_say_why() {
        assert!(refused("-n localhost 80").contains("numeric"));
        assert!(refused("-l -x proxy:1080 8080").contains("proxy"));
        assert!(refused("-X 5 h 80").contains("need a proxy"));
        assert!(refused("-X 9 -x p h 80").contains("proxy type '9'"));
        assert!(refused("--ssl -u h 443").contains("DTLS"));
        assert!(refused("-Q h 80").contains("unknown option '-Q'"));
        assert!(refused("--keep-opn h 80").contains("did you mean '--keep-open'"));
        assert!(refused("h no-such-service").contains("nor a tcp service in /etc/services"));
        assert!(refused("-k h 80").contains("-l"));
        assert!(refused("h").contains("HOST PORT"));
        assert!(refused("-w").contains("needs a value"));
    }
}
