//! `sockbox ls` and `sockbox who` against the kernel: a Python zoo (`peers/socket_zoo.py`)
//! opens known sockets of every kind, in two processes, and sockbox must find each with the
//! right inode, state, names, peer and processes; its counts must equal `ss`'s for the same
//! sockets. Every assertion is about the zoo's own sockets, so the rest of the suite running
//! at the same time cannot disturb it.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// The zoo: its process (killed on drop, which ends its child too) and what it opened.
struct Zoo {
    info: Value,
    _proc: Proc,
    dir: tempfile::TempDir,
}

impl Zoo {
    fn start() -> Zoo {
        let dir = tempdir();
        let name = abstract_name("zoo");
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("socket_zoo.py"))
            .arg(dir.path())
            .arg(name.trim_start_matches('@'));
        let proc = Proc::spawn("socket zoo", cmd);
        let line = wait_for("the socket zoo's description", WAIT, || {
            complete_lines(&proc.stdout()).into_iter().next()
        });
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("zoo said {line:?}: {e}; stderr: {}", proc.stderr()));
        Zoo {
            info,
            _proc: proc,
            dir,
        }
    }

    fn n(&self, key: &str) -> u64 {
        self.info[key]
            .as_u64()
            .unwrap_or_else(|| panic!("zoo has no {key}: {}", self.info))
    }

    fn s(&self, key: &str) -> String {
        self.info[key].as_str().unwrap().to_string()
    }

    fn pair(&self, key: &str) -> (u64, u64) {
        let p = &self.info[key];
        (p[0].as_u64().unwrap(), p[1].as_u64().unwrap())
    }

    fn pid(&self) -> u64 {
        self.n("pid")
    }

    fn child(&self) -> u64 {
        self.n("child")
    }

    /// `--pid PARENT,CHILD`.
    fn pids(&self) -> String {
        format!("{},{}", self.pid(), self.child())
    }
}

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "sockbox panicked:\n{stderr}"
    );
}

/// Run sockbox, expect exit 0, return stdout as text.
fn sockbox_ok(args: &[&str]) -> String {
    let out = run_sockbox(args, b"");
    assert_no_panic(&out.stderr);
    assert_eq!(
        out.code, 0,
        "sockbox {args:?} exited {}: {}",
        out.code, out.stderr
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `sockbox ARGS` whose stdout is one JSON document.
fn sockbox_json(args: &[&str]) -> Value {
    let text = sockbox_ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sockbox {args:?}: {e}\n{text}"))
}

/// The socket with `inode` in an `ls --json` document.
fn socket(doc: &Value, inode: u64) -> &Value {
    doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["inode"] == inode)
        .unwrap_or_else(|| panic!("inode {inode} is not listed"))
}

/// The pids holding a socket (its `processes`).
fn pids(s: &Value) -> Vec<u64> {
    s["processes"]
        .as_array()
        .unwrap_or_else(|| panic!("no processes in {s}"))
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect()
}

fn peer_pids(s: &Value) -> Vec<u64> {
    pids(&s["peer"])
}

#[test]
fn ls_json_finds_every_socket_of_the_zoo_with_state_names_peers_and_processes() {
    let zoo = Zoo::start();
    let doc = sockbox_json(&["ls", "--json", "-p", "--peers"]);
    let (me, child) = (zoo.pid(), zoo.child());
    let s = |k: &str| socket(&doc, zoo.n(k));

    // TCP: listener with one pending connection, accepted end, client, pending client.
    let l = s("tcp_listener");
    assert_eq!(
        (l["kind"].as_str(), l["state"].as_str()),
        (Some("tcp"), Some("listen"))
    );
    assert_eq!(l["local"]["port"], zoo.n("tcp_port"));
    assert_eq!(l["local"]["address"], "127.0.0.1");
    assert_eq!(
        (l["recv_q"].as_u64(), l["send_q"].as_u64()),
        (Some(1), Some(8))
    );
    assert_eq!(pids(l), vec![me]);
    let a = s("tcp_accepted");
    assert_eq!(a["state"], "established");
    assert_eq!(a["peer"]["inode"], zoo.n("tcp_client"));
    assert_eq!(a["remote"]["port"], zoo.n("tcp_client_port"));
    assert_eq!((pids(a), peer_pids(a)), (vec![me], vec![child]));
    let c = s("tcp_client");
    assert_eq!(c["peer"]["inode"], zoo.n("tcp_accepted"));
    assert_eq!((pids(c), peer_pids(c)), (vec![child], vec![me]));
    let p = s("tcp_pending");
    assert_eq!(p["peer"]["pending"], true, "{p}");
    assert_eq!(p["peer"]["inode"], Value::Null);
    assert_eq!(
        peer_pids(p),
        vec![me],
        "the listener's owner will accept it"
    );
    let c6 = s("tcp6_client");
    assert_eq!(c6["family"], "inet6");
    assert_eq!(c6["remote"]["address"], "::1");
    assert_eq!(c6["peer"]["inode"], zoo.n("tcp6_accepted"));

    // UDP: bound, and connected to it.
    let b = s("udp_bound");
    assert_eq!(
        (b["kind"].as_str(), b["state"].as_str()),
        (Some("udp"), Some("unconnected"))
    );
    let u = s("udp_connected");
    assert_eq!(u["state"], "established");
    assert_eq!(u["remote"]["port"], zoo.n("udp_port"));
    assert_eq!(u["peer"]["inode"], zoo.n("udp_bound"));

    // Unix stream: listener with its pending client, accepted end, client.
    let path = zoo.s("stream_path");
    let l = s("unix_listener");
    assert_eq!(
        (l["kind"].as_str(), l["state"].as_str()),
        (Some("unix"), Some("listen"))
    );
    assert_eq!(l["local"]["path"], path);
    assert_eq!(l["pending"], serde_json::json!([zoo.n("unix_pending")]));
    assert_eq!(
        (l["recv_q"].as_u64(), l["send_q"].as_u64()),
        (Some(1), Some(8))
    );
    let a = s("unix_accepted");
    assert_eq!(
        a["local"]["path"], path,
        "accepted sockets carry the listener's name"
    );
    assert_eq!(a["peer"]["inode"], zoo.n("unix_client"));
    assert_eq!((pids(a), peer_pids(a)), (vec![me], vec![child]));
    let c = s("unix_client");
    assert_eq!(c["local"], Value::Null, "the client is unnamed");
    assert_eq!(c["remote"]["path"], path, "its peer's name");
    assert_eq!(c["peer"]["inode"], zoo.n("unix_accepted"));
    let p = s("unix_pending");
    assert_eq!(p["peer"]["pending"], true);
    assert_eq!(p["remote"]["path"], path);
    assert_eq!(peer_pids(p), vec![me]);

    // Unix datagram: bound, and a client connected to it.
    let d = s("dgram_bound");
    assert_eq!(d["kind"], "unix-dgram");
    assert_eq!(d["local"]["path"], zoo.s("dgram_path"));
    let dc = s("dgram_client");
    assert_eq!(dc["peer"]["inode"], zoo.n("dgram_bound"));
    assert_eq!(pids(dc), vec![child]);

    // Seqpacket on an abstract name.
    let l = s("seq_listener");
    assert_eq!(
        (l["kind"].as_str(), l["state"].as_str()),
        (Some("seqpacket"), Some("listen"))
    );
    assert_eq!(l["local"]["abstract"], zoo.s("seq_name"));
    assert_eq!(l["local"]["text"], format!("@{}", zoo.s("seq_name")));
    assert_eq!(s("seq_client")["peer"]["inode"], zoo.n("seq_accepted"));

    // Socketpairs of each type: each end's peer is the other, both held by the zoo.
    for (key, kind) in [
        ("pair_stream", "unix"),
        ("pair_dgram", "unix-dgram"),
        ("pair_seq", "seqpacket"),
    ] {
        let (x, y) = zoo.pair(key);
        let sx = socket(&doc, x);
        assert_eq!(sx["kind"], kind, "{key}");
        assert_eq!(sx["state"], "established", "{key}");
        assert_eq!(sx["peer"]["inode"], y, "{key}");
        assert_eq!(socket(&doc, y)["peer"]["inode"], x, "{key}");
        assert_eq!((pids(sx), peer_pids(sx)), (vec![me], vec![me]), "{key}");
    }
    assert_eq!(
        socket(&doc, zoo.n("unix_listener"))["uid"],
        nix::unistd::getuid().as_raw()
    );
}

#[test]
fn peers_in_the_table_read_as_process_to_process() {
    let zoo = Zoo::start();
    let text = sockbox_ok(&["ls", "--unix", "--peers", "-n", "--pid", &zoo.pids()]);
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", zoo.pid())).unwrap();
    let (me, child) = (
        format!("{} ({})", comm.trim(), zoo.pid()),
        format!("{} ({})", comm.trim(), zoo.child()),
    );
    let path = zoo.s("stream_path");
    let accepted = text
        .lines()
        .find(|l| {
            l.contains("established")
                && l.contains(&path)
                && l.contains(&format!("{me} <-> {child}"))
        })
        .unwrap_or_else(|| panic!("no accepted connection as `{me} <-> {child}`:\n{text}"));
    assert!(accepted.starts_with("unix "), "{accepted}");
    assert!(
        text.lines()
            .any(|l| l.contains(&format!("{child} <-> {me} [not accepted yet]"))),
        "the pending client:\n{text}"
    );
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("Kind") && header.contains("Process"),
        "{header}"
    );

    let tcp = sockbox_ok(&["ls", "--tcp", "-n", "-p", "--pid", &zoo.pid().to_string()]);
    assert!(
        tcp.contains(&format!("127.0.0.1:{}", zoo.n("tcp_port"))),
        "-n shows the port as a number:\n{tcp}"
    );
}

/// On a terminal 72 columns wide the table fits: no line is wider, only the long columns
/// (addresses, processes) wrap, and the zoo's sockets are still there with whole state words.
/// Into a pipe nothing is wrapped (the line of a long path is one line).
#[test]
fn tables_fit_the_terminal_and_only_long_columns_wrap() {
    let zoo = Zoo::start();
    let pids = zoo.pids();
    let argv = [sockbox_bin(), "ls", "--unix", "-p", "--pid", &pids];
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("pty_peer.py"))
        .args(["columns", "72"])
        .args(argv);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.ends_with("exit 0\n"), "{text}");
    let table: Vec<&str> = text.lines().filter(|l| !l.starts_with("exit ")).collect();
    assert!(table.len() > 2, "{text}");
    for line in &table {
        assert!(
            line.chars().count() <= 72,
            "wider than the terminal: {line:?}\n{text}"
        );
    }
    let states = table.iter().filter(|l| l.starts_with("unix ")).count();
    let whole = table
        .iter()
        .filter(|l| {
            l.starts_with("unix ") && (l.contains(" listen ") || l.contains(" established "))
        })
        .count();
    assert!(states >= 2 && whole == states, "state words cut:\n{text}");

    // top --once draws its views with the same tables.
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("pty_peer.py")).args([
        "columns",
        "72",
        sockbox_bin(),
        "top",
        "--once",
        "--pid",
        &pids,
    ]);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.ends_with("exit 0\n"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("UNIX PAIRS"), "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 72,
            "top wider than the terminal: {line:?}\n{text}"
        );
    }

    let piped = sockbox_ok(&["ls", "--unix", "-p", "--pid", &pids]);
    let path = zoo.s("stream_path");
    assert!(
        piped
            .lines()
            .any(|l| l.contains(&path) && l.starts_with("unix ")),
        "into a pipe, a path stays on its socket's line:\n{piped}"
    );
}

#[test]
fn extended_shows_tcp_info_and_unix_pending_connections() {
    let zoo = Zoo::start();
    let doc = sockbox_json(&["ls", "--json", "--tcp", "-e", "--pid", &zoo.pids()]);
    let c = socket(&doc, zoo.n("tcp_client"));
    let info = &c["tcp_info"];
    assert!(info["cwnd"].as_u64().unwrap() > 0, "{c}");
    assert!(
        info["bytes_acked"].as_u64().unwrap() >= 1000,
        "the client sent 1000 bytes: {c}"
    );
    let a = socket(&doc, zoo.n("tcp_accepted"));
    assert_eq!(a["tcp_info"]["bytes_received"], 1000);

    let text = sockbox_ok(&["ls", "--unix", "-e", "-p", "--pid", &zoo.pid().to_string()]);
    let path = zoo.s("stream_path");
    let listener = text
        .lines()
        .find(|l| l.contains("listen") && l.contains(&path))
        .unwrap_or_else(|| panic!("no listener on {path}:\n{text}"));
    assert!(
        listener.contains("pending 1/8: ") && listener.contains(&format!("({})", zoo.child())),
        "the listener's pending client and its process: {listener}"
    );
}

/// (kind, state) -> count of `ss -a -H -p -t -u -x` lines held by `pids`.
fn ss_counts(pids: &[u64]) -> BTreeMap<(String, String), usize> {
    require_tool("ss");
    let out = Command::new("ss")
        .args(["-a", "-H", "-p", "-t", "-u", "-x"])
        .output()
        .expect("running ss");
    assert!(out.status.success(), "ss failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        if !pids.iter().any(|p| line.contains(&format!("pid={p},"))) {
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(netid), Some(state)) = (f.next(), f.next()) else {
            continue;
        };
        let kind = match netid {
            "u_str" => "unix",
            "u_dgr" => "unix-dgram",
            "u_seq" => "seqpacket",
            k => k,
        };
        let state = match state {
            "ESTAB" => "established".to_string(),
            "UNCONN" => "unconnected".to_string(),
            s => s.to_ascii_lowercase(),
        };
        *counts.entry((kind.to_string(), state)).or_default() += 1;
    }
    counts
}

fn sockbox_counts(doc: &Value) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for s in doc["sockets"].as_array().unwrap() {
        let key = (
            s["kind"].as_str().unwrap().to_string(),
            s["state"].as_str().unwrap().to_string(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[test]
fn counts_per_kind_and_state_equal_ss_for_the_same_sockets() {
    let zoo = Zoo::start();
    let pids = [zoo.pid(), zoo.child()];
    let ss = ss_counts(&pids);
    let doc = sockbox_json(&["ls", "--json", "-t", "-u", "-x", "--pid", &zoo.pids()]);
    let ours = sockbox_counts(&doc);
    assert_eq!(ours, ss, "sockbox (left) and ss (right) disagree");
    // The zoo's processes hold 7 TCP, 2 UDP and 15 Unix sockets (the server end of the
    // connection not accepted yet has no process): the comparison compared something.
    assert_eq!(ours.values().sum::<usize>(), 24, "{ours:?}");

    let summary = sockbox_json(&[
        "ls",
        "--summary",
        "--json",
        "-t",
        "-u",
        "-x",
        "--pid",
        &zoo.pids(),
    ]);
    let mut from_summary = BTreeMap::new();
    for row in summary["summary"].as_array().unwrap() {
        from_summary.insert(
            (
                row["kind"].as_str().unwrap().to_string(),
                row["state"].as_str().unwrap().to_string(),
            ),
            row["count"].as_u64().unwrap() as usize,
        );
    }
    assert_eq!(from_summary, ours, "--summary counts what ls lists");
    assert_eq!(summary["total"], ours.values().sum::<usize>());
}

#[test]
fn filters_select_what_they_say() {
    let zoo = Zoo::start();
    let inodes = |doc: &Value| -> Vec<u64> {
        doc["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["inode"].as_u64().unwrap())
            .collect()
    };
    let child = zoo.child();

    let doc = sockbox_json(&["ls", "--json", "--pid", &child.to_string()]);
    let found = inodes(&doc);
    for key in [
        "tcp_client",
        "tcp_pending",
        "unix_client",
        "seq_client",
        "dgram_client",
    ] {
        assert!(found.contains(&zoo.n(key)), "--pid {child} lists {key}");
    }
    assert!(!found.contains(&zoo.n("tcp_listener")));
    assert!(doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| pids(s).contains(&child)));

    let port = zoo.n("tcp_port").to_string();
    let doc = sockbox_json(&["ls", "--json", "--port", &port]);
    let found = inodes(&doc);
    for key in ["tcp_listener", "tcp_accepted", "tcp_client", "tcp_pending"] {
        assert!(found.contains(&zoo.n(key)), "--port {port} lists {key}");
    }
    for s in doc["sockets"].as_array().unwrap() {
        let ports = [&s["local"]["port"], &s["remote"]["port"]];
        assert!(
            ports.iter().any(|p| p.as_u64() == Some(zoo.n("tcp_port"))),
            "{s}"
        );
    }

    let pattern = format!("{}/*", zoo.dir.path().display());
    let doc = sockbox_json(&["ls", "--json", "--path", &pattern]);
    let found = inodes(&doc);
    for key in [
        "unix_listener",
        "unix_accepted",
        "unix_client",
        "unix_pending",
        "dgram_bound",
        "dgram_client",
    ] {
        assert!(found.contains(&zoo.n(key)), "--path {pattern} lists {key}");
    }
    assert!(!found.contains(&zoo.n("seq_listener")));

    let doc = sockbox_json(&["ls", "--json", "-l", "--pid", &zoo.pids()]);
    let mut found = inodes(&doc);
    found.sort();
    let mut want: Vec<u64> = [
        "tcp_listener",
        "tcp6_listener",
        "udp_bound",
        "unix_listener",
        "dgram_bound",
        "seq_listener",
    ]
    .iter()
    .map(|k| zoo.n(k))
    .collect();
    want.sort();
    assert_eq!(
        found, want,
        "--listening: listeners and bound datagram sockets"
    );

    let doc = sockbox_json(&["ls", "--json", "--state", "listen,time-wait", "--tcp", "-x"]);
    assert!(doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "listen" || s["state"] == "time-wait"));
    assert!(inodes(&doc).contains(&zoo.n("tcp_listener")));
    assert!(inodes(&doc).iter().all(|i| *i != zoo.n("tcp_accepted")));

    let comm = std::fs::read_to_string(format!("/proc/{}/comm", zoo.pid())).unwrap();
    let uid = nix::unistd::getuid().as_raw().to_string();
    let doc = sockbox_json(&[
        "ls",
        "--json",
        "--process",
        comm.trim(),
        "--uid",
        &uid,
        "--unix",
    ]);
    assert!(inodes(&doc).contains(&zoo.n("unix_listener")));
    assert!(doc["sockets"].as_array().unwrap().iter().all(|s| s["kind"]
        .as_str()
        .is_some_and(|k| ["unix", "unix-dgram", "seqpacket"].contains(&k))));
}

#[test]
fn raw_packet_and_netlink_sockets_are_listed_and_a_missing_diag_module_said_once_with_v() {
    let zoo = Zoo::start();
    let out = run_sockbox(
        &[
            "ls",
            "--json",
            "--raw",
            "--packet",
            "--netlink",
            "-p",
            "--pid",
            &zoo.pid().to_string(),
        ],
        b"",
    );
    assert_no_panic(&out.stderr);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nl = socket(&doc, zoo.n("netlink"));
    assert_eq!(nl["kind"], "netlink");
    assert_eq!(nl["local"]["portid"], zoo.n("netlink_portid"));
    if zoo.info["raw"].is_u64() {
        let raw = socket(&doc, zoo.n("raw"));
        assert_eq!(
            (raw["kind"].as_str(), raw["protocol"].as_u64()),
            (Some("raw"), Some(1))
        );
        assert_eq!(raw["local"]["text"], "127.0.0.1:icmp");
        let pk = socket(&doc, zoo.n("packet"));
        assert_eq!(pk["kind"], "packet");
        assert_eq!(pk["local"]["interface"], "lo");
        assert_eq!(pk["protocol"], 0x0800);
        let raw_notes = out
            .stderr
            .lines()
            .filter(|l| l.contains("raw sockets"))
            .count();
        // The sockets are all there (read from /proc/net), so only -v says how they were read.
        assert_eq!(raw_notes, 0, "without -v nothing is said:\n{}", out.stderr);
        if raw["source"] == "proc_net" {
            assert_eq!(doc["fallbacks"][0]["kind"], "raw");
            assert_eq!(doc["fallbacks"][0]["listed"], true);
            let verbose = run_sockbox(
                &[
                    "-v",
                    "ls",
                    "--json",
                    "--raw",
                    "--pid",
                    &zoo.pid().to_string(),
                ],
                b"",
            );
            let said = verbose
                .stderr
                .lines()
                .filter(|l| l.contains("raw sockets read from /proc/net"))
                .count();
            assert_eq!(said, 1, "-v says it once:\n{}", verbose.stderr);
        }
    }
}

#[test]
fn who_names_the_owner_and_everything_connected() {
    let zoo = Zoo::start();
    let (me, child) = (zoo.pid(), zoo.child());
    let port = format!(":{}", zoo.n("tcp_port"));
    let doc = sockbox_json(&["who", &port, "--json"]);
    assert_eq!(doc["target"], port);
    let bound: Vec<u64> = doc["bound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["inode"].as_u64().unwrap())
        .collect();
    assert_eq!(bound, vec![zoo.n("tcp_listener")]);
    let conns = doc["connections"].as_array().unwrap();
    let accepted = conns
        .iter()
        .find(|s| s["inode"] == zoo.n("tcp_accepted"))
        .unwrap_or_else(|| panic!("the accepted connection: {doc}"));
    assert_eq!(peer_pids(accepted), vec![child]);
    assert!(
        conns.iter().any(|s| s["inode"] == zoo.n("tcp_pending")),
        "the client not accepted yet: {doc}"
    );
    let owner = doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == me)
        .unwrap();
    let cmdline: Vec<&str> = owner["cmdline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        cmdline.iter().any(|a| a.ends_with("socket_zoo.py")),
        "{owner}"
    );
    assert_eq!(owner["uid"], nix::unistd::getuid().as_raw());

    let doc = sockbox_json(&["who", &zoo.s("stream_path"), "--json"]);
    assert_eq!(doc["bound"][0]["inode"], zoo.n("unix_listener"));
    let conns: Vec<u64> = doc["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["inode"].as_u64().unwrap())
        .collect();
    assert!(conns.contains(&zoo.n("unix_accepted")), "{doc}");
    assert!(conns.contains(&zoo.n("unix_pending")), "{doc}");

    let seq = format!("@{}", zoo.s("seq_name"));
    let doc = sockbox_json(&["who", &seq, "--json"]);
    assert_eq!(doc["bound"][0]["inode"], zoo.n("seq_listener"));
    assert_eq!(doc["connections"][0]["peer"]["inode"], zoo.n("seq_client"));

    let (a, b) = zoo.pair("pair_stream");
    let doc = sockbox_json(&["who", &a.to_string(), "--json"]);
    assert_eq!(doc["bound"][0]["inode"], a);
    assert_eq!(doc["connections"][0]["peer"]["inode"], b);

    let text = sockbox_ok(&["who", &format!("tcp:127.0.0.1:{}", zoo.n("tcp_port"))]);
    assert!(
        text.contains(&format!("({me})")) && text.contains("socket_zoo.py"),
        "{text}"
    );
    assert!(text.contains(&format!("({child})")), "{text}");
}

#[test]
fn who_without_an_answer_exits_1_and_a_bad_target_2() {
    let port = free_port();
    let out = run_sockbox(&["who", &format!(":{port}")], b"");
    assert_no_panic(&out.stderr);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("nothing"), "{}", out.stderr);
    for bad in ["fifo:/tmp/x", "", ":http", "nonsense"] {
        let out = run_sockbox(&["who", bad], b"");
        assert_no_panic(&out.stderr);
        assert_eq!(out.code, 2, "who {bad:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    }
}

#[test]
fn files_are_marked_live_or_stale() {
    let zoo = Zoo::start();
    let dir = zoo.dir.path().to_str().unwrap().to_string();
    std::fs::write(zoo.dir.path().join("plain.txt"), b"not a socket").unwrap();
    let doc = sockbox_json(&["ls", "--files", &dir, "--json", "-p"]);
    let status = |path: &str| -> (String, Value) {
        let f = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} not found: {doc}"));
        (
            f["status"].as_str().unwrap().to_string(),
            f["holder"].clone(),
        )
    };
    let (st, holder) = status(&zoo.s("stream_path"));
    assert_eq!(st, "live");
    assert_eq!(holder["inode"], zoo.n("unix_listener"));
    assert_eq!(pids(&holder), vec![zoo.pid()]);
    assert_eq!(status(&zoo.s("dgram_path")).0, "live");
    let (st, holder) = status(&zoo.s("stale_path"));
    assert_eq!((st.as_str(), holder), ("stale", Value::Null));
    assert_eq!(
        doc["files"].as_array().unwrap().len(),
        3,
        "only socket files: {doc}"
    );

    let text = sockbox_ok(&["ls", "--files", &dir]);
    let stale = text
        .lines()
        .find(|l| l.contains("stale.sock"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(stale.starts_with("stale"), "{stale}");
}

/// A minimal check of dot syntax: a `graph NAME {` block of node, edge and attribute
/// statements, quotes balanced; returns the node ids and the edges.
fn parse_dot(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("graph sockets {"), "{text}");
    assert_eq!(text.lines().last(), Some("}"), "{text}");
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let body: Vec<&str> = text.lines().skip(1).collect();
    for line in &body[..body.len() - 1] {
        let line = line.trim();
        assert!(line.ends_with("];"), "statement: {line}");
        let unescaped = line.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(unescaped.matches('"').count() % 2, 0, "quotes: {line}");
        if line.starts_with("graph [") || line.starts_with("node [") {
            continue;
        }
        let ids: Vec<&str> = unescaped.split('"').collect();
        if unescaped.contains(" -- ") {
            edges.push((ids[1].to_string(), ids[3].to_string()));
        } else {
            nodes.push(ids[1].to_string());
        }
    }
    (nodes, edges)
}

#[test]
fn graph_dot_has_the_zoo_processes_as_nodes_joined_by_their_connections() {
    let zoo = Zoo::start();
    let text = sockbox_ok(&["ls", "--graph", "dot"]);
    let (nodes, edges) = parse_dot(&text);
    let (me, child) = (format!("p{}", zoo.pid()), format!("p{}", zoo.child()));
    assert!(nodes.contains(&me) && nodes.contains(&child), "{text}");
    assert!(
        edges
            .iter()
            .any(|(a, b)| (a == &me && b == &child) || (a == &child && b == &me)),
        "an edge between the zoo's two processes: {text}"
    );
    for (a, b) in &edges {
        assert!(
            nodes.contains(a) && (nodes.contains(b) || b.starts_with('r')),
            "edge {a} -- {b} between declared nodes"
        );
    }
    let stream = zoo.s("stream_path");
    assert!(
        text.contains(&format!("listens unix {stream}")),
        "the listener in its node's label: {text}"
    );
}

#[test]
fn bad_ls_arguments_are_usage_errors() {
    for bad in [
        &["ls", "--state", "bogus"][..],
        &["ls", "--path", "[x"],
        &["ls", "--graph", "svg"],
        &["ls", "--files", "/tmp", "--tcp"],
        &["ls", "--uid", "no-such-user-sockbox"],
        &["ls", "--port", "http"],
    ] {
        let out = run_sockbox(bad, b"");
        assert_no_panic(&out.stderr);
        assert_eq!(out.code, 2, "{bad:?}: {}", out.stderr);
    }
}
