//! `sockbox ping` and `sockbox scan` against the kernel and Python peers: 127.0.0.1, ::1,
//! Unix sockets in temporary directories, and network namespaces these tests create (with a
//! veth pair and 10.x addresses inside them only). Namespaces make scans exact: nothing else
//! listens in a fresh namespace, so "exactly these ports are open" can be asserted while the
//! rest of the suite runs.
//!
//! RTTs are compared with iputils' ping on the same path, as orders of magnitude, never
//! as timed assertions.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::*;

// ---------------------------------------------------------------------------------------------
// Helpers: network namespaces, peers inside them, output parsing.
// ---------------------------------------------------------------------------------------------

/// A Python peer (tests/peers/diag_peer.py) inside the namespace `ns`.
fn ns_peer(ns: &Netns, items: &[&str]) -> Peer {
    let mut args = vec![peer_script("diag_peer.py").to_str().unwrap().to_string()];
    args.extend(items.iter().map(|s| s.to_string()));
    Peer::start(ns.cmd(python(), &args))
}

/// Two namespaces joined by a veth pair: `a` is 10.203.0.1/24, `b` is 10.203.0.2/24.
struct VethPair {
    a: Netns,
    b: Netns,
}

impl VethPair {
    const A: &'static str = "10.203.0.1";
    const B: &'static str = "10.203.0.2";

    fn new() -> VethPair {
        let pair = VethPair {
            a: Netns::new("a"),
            b: Netns::new("b"),
        };
        let (a, b) = (&pair.a.name, &pair.b.name);
        must(Command::new("ip").args([
            "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b,
        ]));
        let (cidr_a, cidr_b) = (format!("{}/24", Self::A), format!("{}/24", Self::B));
        must(Command::new("ip").args(["-n", a, "addr", "add", &cidr_a, "dev", "va"]));
        must(Command::new("ip").args(["-n", b, "addr", "add", &cidr_b, "dev", "vb"]));
        must(Command::new("ip").args(["-n", a, "link", "set", "va", "up"]));
        must(Command::new("ip").args(["-n", b, "link", "set", "vb", "up"]));
        pair
    }
}

/// A diag_peer.py process and its ports, in item order. Killed when dropped.
struct Peer {
    _proc: Proc,
    ports: Vec<u16>,
}

impl Peer {
    fn start(cmd: Command) -> Peer {
        let proc = Proc::spawn("diag_peer", cmd);
        let line = wait_for("diag_peer to say ready", WAIT, || {
            complete_lines(&proc.stdout()).into_iter().next()
        });
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words.first(),
            Some(&"ready"),
            "peer said {line:?}: {}",
            proc.stderr()
        );
        let nums: Vec<u32> = words[1..].iter().map(|w| w.parse().unwrap()).collect();
        // The last number is the peer's pid.
        let ports = &nums[..nums.len() - 1];
        Peer {
            ports: ports.iter().map(|&p| p as u16).collect(),
            _proc: proc,
        }
    }

    /// Peer on the host (not in a namespace).
    fn here(items: &[&str]) -> Peer {
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("diag_peer.py")).args(items);
        Peer::start(cmd)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `avg` of a `rtt min/avg/max/mdev = a/b/c/d ms` line (iputils and sockbox alike).
fn avg_rtt_ms(out: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.contains("min/avg/max/mdev = "))
        .unwrap_or_else(|| panic!("no rtt line in:\n{out}"));
    let values = line.split(" = ").nth(1).unwrap().trim_end_matches(" ms");
    values.split('/').nth(1).unwrap().parse().unwrap()
}

/// Lines of a ping reporting a reply, e.g. `64 bytes from ...: icmp_seq=1 ttl=64 time=...`.
fn reply_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            (l.contains(" bytes from ") || l.starts_with("connected to ")) && l.contains(" time=")
        })
        .collect()
}

/// Ports a text scan reports open.
fn open_ports(out: &str) -> Vec<u16> {
    out.lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("open"))
        .map(|l| l.split('/').next().unwrap().parse().unwrap())
        .collect()
}

fn json(out: &Outcome) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", text(&out.stdout), out.stderr))
}

fn assert_code(out: &Outcome, code: i32, what: &str) {
    assert_eq!(
        out.code,
        code,
        "{what}: exit {}\nstdout:\n{}\nstderr:\n{}",
        out.code,
        text(&out.stdout),
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// ping: ICMP
// ---------------------------------------------------------------------------------------------

#[test]
fn ping_loopback_v4_answers_with_ttl_and_statistics() {
    let out = run_sockbox(&["-v", "ping", "127.0.0.1", "-c", "3", "-i", "0.1"], b"");
    assert_code(&out, 0, "ping 127.0.0.1");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n"),
        "{stdout}"
    );
    let replies = reply_lines(&stdout);
    assert_eq!(replies.len(), 3, "{stdout}");
    for (i, l) in replies.iter().enumerate() {
        assert!(
            l.starts_with(&format!(
                "64 bytes from 127.0.0.1: icmp_seq={} ttl=64 time=",
                i + 1
            )),
            "{l}"
        );
    }
    assert!(
        stdout.contains("3 packets transmitted, 3 received, 0% packet loss"),
        "{stdout}"
    );
    assert!(avg_rtt_ms(&stdout) < 1000.0);
    // -v says which ICMP socket the kernel allowed.
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)"))
            && out
                .stderr
                .lines()
                .any(|l| (l.contains("SOCK_DGRAM") || l.contains("SOCK_RAW"))
                    && l.contains(" = fd ")),
        "{}",
        out.stderr
    );
}

#[test]
fn ping_loopback_v6_answers() {
    let out = run_sockbox(&["ping", "::1", "-c", "2", "-i", "0.1", "-s", "100"], b"");
    assert_code(&out, 0, "ping ::1");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("PING ::1 (::1) 100 data bytes\n"),
        "{stdout}"
    );
    let replies = reply_lines(&stdout);
    assert_eq!(replies.len(), 2, "{stdout}");
    assert!(
        replies[0].starts_with("108 bytes from ::1: icmp_seq=1 ttl=64 time="),
        "{stdout}"
    );
}

#[test]
fn ping_json_documents_every_probe() {
    let out = run_sockbox(
        &["ping", "127.0.0.1", "-c", "2", "-i", "0.05", "--json"],
        b"",
    );
    assert_code(&out, 0, "ping --json");
    let doc = json(&out);
    assert_eq!(doc["kind"], "icmp");
    assert!(
        doc["socket"] == "SOCK_RAW" || doc["socket"] == "SOCK_DGRAM",
        "{doc}"
    );
    assert_eq!(doc["transmitted"], 2);
    assert_eq!(doc["received"], 2);
    assert_eq!(doc["loss_percent"], 0.0);
    let probes = doc["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2);
    assert_eq!(probes[1]["seq"], 2);
    assert_eq!(probes[1]["status"], "reply");
    assert_eq!(probes[1]["ttl"], 64);
    assert_eq!(probes[1]["bytes"], 64);
    assert!(doc["rtt_ms"]["avg"].as_f64().unwrap() > 0.0);
}

#[test]
fn ping_ctrl_c_prints_the_statistics() {
    let mut p = spawn_sockbox(&["ping", "127.0.0.1", "-i", "0.1"]);
    wait_for("two replies", WAIT, || {
        text(&p.stdout()).contains("icmp_seq=2 ").then_some(())
    });
    p.signal(Signal::SIGINT);
    let code = p.wait_code(WAIT);
    let stdout = text(&p.stdout());
    assert_eq!(code, 0, "{stdout}\n{}", p.stderr());
    assert!(
        stdout.contains("--- 127.0.0.1 ping statistics ---"),
        "{stdout}"
    );
    assert!(stdout.contains("0% packet loss"), "{stdout}");
}

/// Across a veth pair between two namespaces, with the unprivileged datagram socket (allowed
/// by the namespace's ping_group_range) and with the raw socket: sockbox's RTT is of the same
/// order as iputils ping's on the same path.
#[test]
fn ping_across_namespaces_agrees_with_iputils() {
    require_tool("ping");
    let pair = VethPair::new();
    let args = ["-c", "5", "-i", "0.1", VethPair::B];
    let reference = pair.a.run("ping", &args);
    assert_code(&reference, 0, "iputils ping across the veth pair");
    let theirs = avg_rtt_ms(&text(&reference.stdout));

    for (range, socket) in [("0 2147483647", "SOCK_DGRAM"), ("1 0", "SOCK_RAW")] {
        pair.a.sysctl(&format!("net.ipv4.ping_group_range={range}"));
        let mut sb_args = vec!["-v", "ping"];
        sb_args.extend(args);
        let out = pair.a.sockbox(&sb_args);
        assert_code(&out, 0, "sockbox ping across the veth pair");
        let stdout = text(&out.stdout);
        assert_eq!(reply_lines(&stdout).len(), 5, "{stdout}");
        assert!(
            reply_lines(&stdout)[0].contains(&format!("from {}: icmp_seq=1 ttl=64 ", VethPair::B)),
            "{stdout}"
        );
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(&format!("{socket}, IPPROTO_ICMP) = fd"))),
            "range {range}: expected {socket}:\n{}",
            out.stderr
        );
        let ours = avg_rtt_ms(&stdout);
        assert!(
            ours < 1000.0 && theirs < 1000.0,
            "sockbox {ours} ms, ping {theirs} ms"
        );
        let ratio = ours.max(theirs) / ours.min(theirs).max(1e-6);
        assert!(
            ratio < 50.0,
            "sockbox {ours} ms vs ping {theirs} ms ({socket})"
        );
    }
}

/// A host that ignores echo requests: every probe times out, exit 1.
#[test]
fn ping_unanswered_probes_time_out() {
    let pair = VethPair::new();
    pair.b.sysctl("net.ipv4.icmp_echo_ignore_all=1");
    let out = pair
        .a
        .sockbox(&["ping", "-c", "2", "-i", "0.1", "-W", "300ms", VethPair::B]);
    assert_code(&out, 1, "ping of a host that ignores echo requests");
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout
            .matches(&format!("no answer from {} for icmp_seq=", VethPair::B))
            .count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("2 packets transmitted, 0 received, 100% packet loss"),
        "{stdout}"
    );
    assert!(!stdout.contains("min/avg/max"), "{stdout}");
}

/// ::1 inside a namespace that allows the datagram socket: the ICMPv6 datagram socket.
#[test]
fn ping_v6_uses_the_datagram_socket_when_allowed() {
    let ns = Netns::new("p6");
    ns.sysctl("net.ipv4.ping_group_range=0 2147483647");
    let out = ns.sockbox(&["-v", "ping", "::1", "-c", "2", "-i", "0.05"]);
    assert_code(&out, 0, "ping ::1 with the datagram socket");
    assert!(
        out.stderr
            .contains("socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6) = fd"),
        "{}",
        out.stderr
    );
    let stdout = text(&out.stdout);
    assert!(
        reply_lines(&stdout)[1].contains("icmp_seq=2 ttl=64 time="),
        "{stdout}"
    );
}

/// Neither socket allowed: one line naming the sysctl and CAP_NET_RAW, exit 1.
#[test]
fn ping_without_any_icmp_socket_explains_in_one_line() {
    require_tool("setpriv");
    let ns = Netns::new("p0");
    ns.sysctl("net.ipv4.ping_group_range=1 0");
    let out = ns.run(
        "setpriv",
        &[
            "--bounding-set",
            "-net_raw",
            sockbox_bin(),
            "ping",
            "-c",
            "1",
            "127.0.0.1",
        ],
    );
    assert_code(&out, 1, "ping without privileges");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("net.ipv4.ping_group_range") && lines[0].contains("CAP_NET_RAW"),
        "{}",
        lines[0]
    );
}

// ---------------------------------------------------------------------------------------------
// ping: connect time
// ---------------------------------------------------------------------------------------------

#[test]
fn ping_tcp_times_connects_to_a_listener() {
    let peer = Peer::here(&["tcp:127.0.0.1"]);
    let target = format!("tcp:127.0.0.1:{}", peer.ports[0]);
    let out = run_sockbox(&["ping", &target, "-c", "3", "-i", "0.05"], b"");
    assert_code(&out, 0, "tcp ping");
    let stdout = text(&out.stdout);
    let replies = reply_lines(&stdout);
    assert_eq!(replies.len(), 3, "{stdout}");
    assert!(
        replies[2].starts_with(&format!(
            "connected to 127.0.0.1:{}: seq=3 time=",
            peer.ports[0]
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 connects attempted, 3 succeeded, 0% failed"),
        "{stdout}"
    );
    assert!(stdout.contains("connect min/avg/max/mdev = "), "{stdout}");
}

#[test]
fn ping_tcp_to_a_closed_port_fails_with_exit_1() {
    let out = run_sockbox(
        &[
            "ping",
            &format!("tcp:127.0.0.1:{}", free_port()),
            "-c",
            "2",
            "-i",
            "0.05",
        ],
        b"",
    );
    assert_code(&out, 1, "tcp ping of a closed port");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("connection refused").count(), 2, "{stdout}");
    assert!(
        stdout.contains("2 connects attempted, 0 succeeded, +2 errors, 100% failed"),
        "{stdout}"
    );
}

#[test]
fn ping_tcp6_json() {
    let peer = Peer::here(&["tcp:::1"]);
    let target = format!("tcp:[::1]:{}", peer.ports[0]);
    let out = run_sockbox(&["ping", &target, "-c", "2", "-i", "0.05", "--json"], b"");
    assert_code(&out, 0, "tcp6 ping");
    let doc = json(&out);
    assert_eq!(doc["kind"], "tcp");
    assert_eq!(doc["socket"], "SOCK_STREAM");
    assert_eq!(doc["address"], format!("[::1]:{}", peer.ports[0]));
    assert_eq!(doc["received"], 2);
    assert_eq!(doc["probes"][0]["status"], "reply");
}

#[test]
fn ping_unix_names_the_listening_process() {
    let dir = tempdir();
    let path = dir.path().join("d.sock");
    let path = path.to_str().unwrap();
    let peer = Puppet::listen("unix", path);
    let out = run_sockbox(
        &["ping", &format!("unix:{path}"), "-c", "2", "-i", "0.05"],
        b"",
    );
    assert_code(&out, 0, "unix ping");
    let stdout = text(&out.stdout);
    let replies = reply_lines(&stdout);
    assert_eq!(replies.len(), 2, "{stdout}");
    assert!(
        replies[0].starts_with(&format!("connected to {path} (pid {} (python", peer.pid)),
        "{stdout}"
    );

    // seqpacket in the abstract namespace, and a Unix datagram socket (no listener process).
    let name = abstract_name("ping");
    let sp = Puppet::listen("seqpacket", &name);
    let out = run_sockbox(
        &["ping", &format!("seqpacket:{name}"), "-c", "1", "--json"],
        b"",
    );
    assert_code(&out, 0, "seqpacket ping");
    let doc = json(&out);
    assert_eq!(doc["socket"], "SOCK_SEQPACKET");
    assert_eq!(doc["probes"][0]["listener"]["pid"], sp.pid);

    let dgram = dir.path().join("g.sock");
    let _dg = Puppet::listen("unix-dgram", dgram.to_str().unwrap());
    let out = run_sockbox(
        &[
            "ping",
            &format!("unix-dgram:{}", dgram.display()),
            "-c",
            "1",
        ],
        b"",
    );
    assert_code(&out, 0, "unix-dgram ping");
}

#[test]
fn ping_unix_missing_and_stale_files_fail() {
    let dir = tempdir();
    let missing = dir.path().join("missing.sock");
    let out = run_sockbox(
        &["ping", &format!("unix:{}", missing.display()), "-c", "1"],
        b"",
    );
    assert_code(&out, 1, "ping of a missing socket file");
    assert!(
        text(&out.stdout).contains("no such file"),
        "{}",
        text(&out.stdout)
    );

    let stale = dir.path().join("stale.sock");
    let _p = Peer::here(&[&format!("unix-stale:{}", stale.display())]);
    let out = run_sockbox(
        &["ping", &format!("unix:{}", stale.display()), "-c", "1"],
        b"",
    );
    assert_code(&out, 1, "ping of a stale socket file");
    assert!(
        text(&out.stdout).contains("connection refused"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn ping_usage_errors_exit_2() {
    for args in [
        &["ping", "udp:127.0.0.1:53"][..],
        &["ping", "127.0.0.1", "-s", "70000"],
        &["ping", "tcp:127.0.0.1:1", "-s", "10"],
        &["ping", "127.0.0.1", "-c", "0"],
        &["ping", "127.0.0.1", "-i", "0"],
        &["ping", "uinx:/x"],
    ] {
        let out = run_sockbox(args, b"");
        assert_code(&out, 2, &args.join(" "));
        // One line says what is wrong (clap adds its --help hint below its own).
        let first = out.stderr_lines()[0];
        assert!(
            first.starts_with("sockbox: ") || first.starts_with("error: "),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// scan: TCP and UDP ports
// ---------------------------------------------------------------------------------------------

/// The smallest range around `ports`, widened by `margin`, as a -p spec.
fn range_around(ports: &[u16], margin: u16) -> String {
    let lo = ports.iter().min().unwrap().saturating_sub(margin).max(1);
    let hi = ports.iter().max().unwrap().saturating_add(margin);
    format!("{lo}-{hi}")
}

#[test]
fn scan_finds_exactly_the_python_listeners() {
    let ns = Netns::new("s4");
    let peer = ns_peer(&ns, &["tcp:127.0.0.1", "tcp:127.0.0.1", "tcp:127.0.0.1"]);
    let mut expected = peer.ports.clone();
    expected.sort_unstable();
    let spec = range_around(&peer.ports, 300);
    let out = ns.sockbox(&["scan", "127.0.0.1", "-p", &spec]);
    assert_code(&out, 0, "scan");
    let stdout = text(&out.stdout);
    assert_eq!(open_ports(&stdout), expected, "{stdout}");
    assert!(
        stdout.contains(&format!("{} open", expected.len())),
        "{stdout}"
    );

    let out = ns.sockbox(&["scan", "127.0.0.1", "-p", &spec, "--json"]);
    assert_code(&out, 0, "scan --json");
    let doc = json(&out);
    let open: Vec<u64> = doc["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "open")
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(
        open,
        expected.iter().map(|&p| u64::from(p)).collect::<Vec<_>>()
    );
    assert_eq!(doc["open"], expected.len());
    assert_eq!(doc["protocol"], "tcp");
    assert_eq!(
        doc["scanned"].as_u64().unwrap() as usize,
        doc["open"].as_u64().unwrap() as usize + doc["closed"].as_u64().unwrap() as usize
    );
    drop(peer);
}

/// `--interval`: one probe at a time, each started the interval after the one before: four
/// ports at 300 ms take at least 0.9 s (and find what they would find at full speed).
#[test]
fn scan_interval_probes_one_port_at_a_time() {
    let ns = Netns::new("si");
    let peer = ns_peer(&ns, &["tcp:127.0.0.1", "tcp:127.0.0.1", "tcp:127.0.0.1"]);
    let mut expected = peer.ports.clone();
    expected.sort_unstable();
    let closed = free_port();
    let spec = format!(
        "{},{closed}",
        peer.ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let started = std::time::Instant::now();
    let out = ns.sockbox(&[
        "scan",
        "127.0.0.1",
        "-p",
        &spec,
        "--interval",
        "300ms",
        "--json",
    ]);
    let took = started.elapsed();
    assert_code(&out, 0, "scan --interval");
    let doc = json(&out);
    assert_eq!(doc["open"], 3, "{doc}");
    assert_eq!(doc["scanned"], 4, "{doc}");
    assert!(
        took >= Duration::from_millis(880),
        "4 paced probes took only {took:?}"
    );

    let bad = ns.sockbox(&["scan", "127.0.0.1", "-p", &spec, "--interval", "0s"]);
    assert_code(&bad, 2, "--interval 0s");
    drop(peer);
}

#[test]
fn scan_ipv6_loopback() {
    let ns = Netns::new("s6");
    let peer = ns_peer(&ns, &["tcp:::1", "tcp:::1"]);
    let mut expected = peer.ports.clone();
    expected.sort_unstable();
    let out = ns.sockbox(&["scan", "::1", "-p", &range_around(&peer.ports, 100)]);
    assert_code(&out, 0, "scan ::1");
    assert_eq!(
        open_ports(&text(&out.stdout)),
        expected,
        "{}",
        text(&out.stdout)
    );
}

/// A connect can reach the probing socket itself when the kernel picks the destination port
/// as the source port: `nc -z` reports such a port open, sockbox reports it closed. A
/// namespace whose ephemeral range is 40000-40001 makes it happen every time.
#[test]
fn scan_rejects_tcp_self_connects() {
    require_tool("nc");
    let ns = Netns::new("sc");
    ns.sysctl("net.ipv4.ip_local_port_range=40000 40001");
    // sockbox first: it resets what it connects, where nc's self-connection would leave
    // 40000 in TIME_WAIT for a minute.
    let out = ns.sockbox(&["scan", "127.0.0.1", "-p", "39999-40001"]);
    assert_code(&out, 1, "scan finding no open port");
    let stdout = text(&out.stdout);
    assert!(open_ports(&stdout).is_empty(), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("40000/tcp")
            && l.contains("closed")
            && l.contains("self-connect")),
        "{stdout}"
    );
    let nc = ns.run("nc", &["-z", "-v", "127.0.0.1", "40000"]);
    assert!(
        nc.code == 0 && nc.stderr.contains("succeeded"),
        "nc was expected to fall for the self-connect: {nc:?}"
    );
}

#[test]
fn scan_udp_tells_closed_from_open_or_filtered() {
    let ns = Netns::new("su");
    let peer = ns_peer(&ns, &["udp-silent:127.0.0.1", "udp-echo:127.0.0.1"]);
    let (silent, echo) = (peer.ports[0], peer.ports[1]);
    // A port next to them that nobody has: the kernel answers ICMP port unreachable.
    let closed = (1..)
        .map(|d| silent.wrapping_add(d))
        .find(|p| *p != echo && *p > 0)
        .unwrap();
    let spec = format!("{silent},{echo},{closed}");
    let out = ns.sockbox(&[
        "scan",
        "127.0.0.1",
        "--udp",
        "-p",
        &spec,
        "-W",
        "300ms",
        "--json",
    ]);
    assert_code(&out, 0, "udp scan");
    let doc = json(&out);
    let state = |port: u16| -> String {
        doc["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["port"] == port)
            .map_or("closed".to_string(), |p| {
                p["state"].as_str().unwrap().to_string()
            })
    };
    assert_eq!(state(silent), "open|filtered", "{doc}");
    assert_eq!(state(echo), "open", "{doc}");
    assert_eq!(state(closed), "closed", "{doc}");
    assert_eq!(doc["closed"], 1);
    assert_eq!(doc["protocol"], "udp");

    let out = ns.sockbox(&["scan", "127.0.0.1", "-u", "-p", &spec, "-W", "300ms"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("{closed}/udp"))
                && l.contains("closed")
                && l.contains("port-unreach")),
        "{stdout}"
    );
}

/// Exit 0 when a port is open, 1 when none is (`sockbox scan HOST -p N && echo up`, as with
/// `nc -z`); for UDP a silent port (open|filtered) does not count, one that answers does.
#[test]
fn scan_exit_code_says_whether_a_port_is_open() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = free_port();
    let both = format!("{open},{closed}");
    let out = run_sockbox(&["scan", "127.0.0.1", "-p", &both], b"");
    assert_code(&out, 0, "scan of an open and a closed port");
    assert_eq!(open_ports(&text(&out.stdout)), vec![open]);
    for args in [
        &["scan", "127.0.0.1", "-p", &closed.to_string()][..],
        &["scan", "127.0.0.1", "-p", &closed.to_string(), "--json"],
    ] {
        let out = run_sockbox(args, b"");
        assert_code(&out, 1, "scan of a closed port");
        assert!(
            text(&out.stdout).contains("closed"),
            "the report is still printed"
        );
    }
    drop(listener);

    // UDP: a socket that answers is open; a silent one is open|filtered, which is not.
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    echo.set_read_timeout(Some(WAIT)).unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    let answering = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        if let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let out = run_sockbox(
        &[
            "scan",
            "127.0.0.1",
            "--udp",
            "-p",
            &echo_port.to_string(),
            "-W",
            "2s",
        ],
        b"",
    );
    assert_code(&out, 0, "udp scan of a port that answers");
    answering.join().unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port().to_string();
    let out = run_sockbox(
        &[
            "scan",
            "127.0.0.1",
            "--udp",
            "-p",
            &silent_port,
            "-W",
            "300ms",
        ],
        b"",
    );
    assert_code(&out, 1, "udp scan of a silent port");
    assert!(
        text(&out.stdout).contains("open|filtered"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn scan_usage_errors_exit_2() {
    for args in [
        &["scan"][..],
        &["scan", "127.0.0.1", "-p", "0"],
        &["scan", "127.0.0.1", "-p", "90-80"],
        &["scan", "127.0.0.1", "::1"],
        &["scan", "--unix", "/tmp", "-p", "22"],
        &["scan", "127.0.0.1", "--threads", "0"],
    ] {
        let out = run_sockbox(args, b"");
        assert_code(&out, 2, &args.join(" "));
    }
}

// ---------------------------------------------------------------------------------------------
// scan --unix
// ---------------------------------------------------------------------------------------------

#[test]
fn scan_unix_finds_live_stale_and_forbidden_socket_files() {
    require_tool("setpriv");
    let dir = tempdir();
    let live = dir.path().join("live.sock");
    let stale = dir.path().join("sub/stale.sock");
    let forbidden = dir.path().join("forbidden.sock");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let listener = Puppet::listen("unix", live.to_str().unwrap());
    let _stale = Peer::here(&[&format!("unix-stale:{}", stale.display())]);
    let _f = Puppet::listen("unix", forbidden.to_str().unwrap());
    std::fs::set_permissions(
        &forbidden,
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    write_file(dir.path(), "not-a-socket", b"x");

    let out = run_sockbox(&["scan", "--unix", dir.path().to_str().unwrap()], b"");
    assert_code(&out, 0, "scan --unix");
    let stdout = text(&out.stdout);
    let row = |p: &Path| -> String {
        stdout
            .lines()
            .find(|l| l.ends_with(p.to_str().unwrap()))
            .unwrap_or_else(|| panic!("no row for {}:\n{stdout}", p.display()))
            .to_string()
    };
    assert!(row(&live).starts_with("live "), "{stdout}");
    assert!(
        row(&live).contains(&format!("pid {} (python", listener.pid)),
        "{stdout}"
    );
    assert!(row(&stale).starts_with("stale "), "{stdout}");
    assert!(!stdout.contains("not-a-socket"), "{stdout}");
    assert!(
        stdout.contains("3 socket files: 2 live, 1 stale"),
        "{stdout}"
    );

    // Without CAP_DAC_OVERRIDE even root needs write permission on the file.
    let out = {
        let mut p = Proc::spawn("setpriv sockbox scan --unix", {
            let mut c = Command::new("setpriv");
            c.args([
                "--bounding-set",
                "-dac_override,-dac_read_search",
                sockbox_bin(),
            ])
            .args(["scan", "--unix", dir.path().to_str().unwrap(), "--json"]);
            c
        });
        p.close_stdin();
        let code = p.wait_code(WAIT);
        Outcome {
            code,
            stdout: p.stdout(),
            stderr: p.stderr(),
        }
    };
    assert_code(&out, 0, "scan --unix without CAP_DAC_OVERRIDE");
    let doc = json(&out);
    let entry = |p: &Path| -> Value {
        doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["path"] == p.to_str().unwrap())
            .cloned()
            .unwrap_or_else(|| panic!("no entry for {}: {doc}", p.display()))
    };
    assert_eq!(entry(&forbidden)["state"], "permission-denied", "{doc}");
    assert_eq!(entry(&forbidden)["file_mode"], "0000");
    assert_eq!(entry(&live)["state"], "live");
    assert_eq!(entry(&live)["type"], "stream");
    assert_eq!(entry(&live)["listener"]["pid"], listener.pid);
    assert_eq!(entry(&stale)["state"], "stale");
    assert_eq!(doc["live"], 1);
    assert_eq!(doc["stale"], 1);
    assert_eq!(doc["permission_denied"], 1);
}

#[test]
fn scan_unix_of_a_missing_directory_fails() {
    let dir = tempdir();
    let missing = dir.path().join("nope");
    let out = run_sockbox(&["scan", "--unix", missing.to_str().unwrap()], b"");
    assert_code(&out, 1, "scan --unix of a missing directory");
    assert!(out.stderr.contains("no such file"), "{}", out.stderr);
}

#[test]
fn scan_default_ports_come_from_the_services_tables() {
    let ns = Netns::new("sd");
    let out = ns.sockbox(&["-v", "scan", "127.0.0.1", "-W", "200ms", "--json"]);
    assert_code(&out, 1, "scan with default ports (none open)");
    let doc = json(&out);
    assert_eq!(doc["scanned"], 1000);
    assert_eq!(doc["open"], 0);
    assert!(
        doc["default_ports"].as_str().unwrap().contains("services"),
        "{doc}"
    );
    // Keep the timing knobs honest: nothing was left unanswered on loopback.
    assert_eq!(doc["retried"], 0);
}
