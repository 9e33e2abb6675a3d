//! Fault injection (`relay --latency`, `--rate`, `--reset-after` ...): Python peers
//! (`tests/peers/fault_peer.py`) on both sides measure what they observe.

use std::process::Command;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::*;
use crate::{assert_no_panic, one_line};

/// Start `fault_peer.py ARGS` (a server) and wait for its `ready` line.
fn server(args: &[&str]) -> Proc {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("fault_peer.py")).args(args);
    let p = Proc::spawn(&format!("fault_peer {}", args.join(" ")), cmd);
    wait_for("fault_peer ready", WAIT, || {
        complete_lines(&p.stdout())
            .into_iter()
            .find(|l| l.starts_with("ready"))
    });
    p
}

/// The JSON line a peer printed last, once it has exited.
fn result(mut p: Proc) -> Value {
    let code = p.wait_code(WAIT);
    assert_eq!(code, 0, "fault_peer failed: {}", p.stderr());
    let line = complete_lines(&p.stdout()).pop().expect("a result line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Run `fault_peer.py ARGS` (a client) to its end.
fn client(args: &[&str]) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("fault_peer.py")).args(args);
    let mut p = Proc::spawn(&format!("fault_peer {}", args.join(" ")), cmd);
    p.close_stdin();
    result(p)
}

/// A relay from a fresh port to `to` with `flags`; its port.
fn relay(to: &str, flags: &[&str]) -> (Proc, u16) {
    let mut args = vec!["relay", "tcp:127.0.0.1:0", to];
    args.extend_from_slice(flags);
    let p = spawn_sockbox(&args);
    let port = announced_port(&p);
    (p, port)
}

/// Stop a relay with SIGTERM: exit 0; its stdout (the --stats --json document).
fn stop(mut p: Proc) -> String {
    p.signal(Signal::SIGTERM);
    let code = p.wait_code(WAIT);
    let err = p.stderr();
    assert_no_panic(&err);
    assert_eq!(code, 0, "{err}");
    String::from_utf8_lossy(&p.stdout()).into_owned()
}

fn median(v: &Value) -> f64 {
    let mut xs: Vec<f64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[test]
fn latency_delays_only_the_direction_asked() {
    let port = free_port();
    let srv = server(&["oneway-server", &format!("tcp:{port}")]);
    let to = format!("tcp:127.0.0.1:{port}");
    let (r, front) = relay(&to, &["--latency", "up:150ms", "--seed", "1"]);
    let got = client(&["oneway-client", &format!("tcp:{front}"), "5"]);
    let (up, down) = (median(&got["up"]), median(&got["down"]));
    // Generous upper bounds: two other engineers compile on this machine's two cores.
    assert!((0.145..0.6).contains(&up), "up {up}: {got}");
    assert!(down < 0.1, "down {down}: {got}");
    drop(srv);
    stop(r);
}

#[test]
fn rate_paces_a_tcp_transfer_within_ten_percent() {
    let port = free_port();
    let sink = server(&["sink", &format!("tcp:{port}")]);
    let to = format!("tcp:127.0.0.1:{port}");
    let (r, front) = relay(&to, &["--rate", "up:2MiB/s", "--seed", "1"]);
    let sent = client(&["send", &format!("tcp:{front}"), "6000000", "20"]);
    assert_eq!(sent["sent"], 6000000, "{sent}");
    let got = result(sink);
    assert_eq!(got["bytes"], 6000000, "{got}");
    // The first read holds the burst; the rest came at the rate.
    let first_read = got["reads"][0].as_f64().unwrap();
    let secs = got["last"].as_f64().unwrap() - got["first"].as_f64().unwrap();
    let rate = (6000000.0 - first_read) / secs;
    let want = 2.0 * 1024.0 * 1024.0;
    assert!((rate - want).abs() / want < 0.10, "rate {rate} B/s: {got}");
    stop(r);
}

#[test]
fn reset_after_lands_at_the_byte_asked_and_python_sees_econnreset() {
    let port = free_port();
    let sink = server(&["sink", &format!("tcp:{port}")]);
    let to = format!("tcp:127.0.0.1:{port}");
    let flags = [
        "--reset-after",
        "up:5000",
        "--seed",
        "3",
        "--stats",
        "--json",
    ];
    let (r, front) = relay(&to, &flags);
    let sent = client(&["send", &format!("tcp:{front}"), "1000000", "10"]);
    let got = result(sink);
    assert_eq!(got["bytes"], 5000, "{got}");
    assert_eq!(got["end"], "ECONNRESET", "{got}");
    // The client sees the reset on a write or on the read after it.
    assert!(
        sent["error"] == "ECONNRESET" || sent["end"] == "ECONNRESET" || sent["error"] == "EPIPE",
        "{sent}"
    );
    let stats: Value = serde_json::from_str(stop(r).trim()).unwrap();
    assert_eq!(stats["seed"], 3);
    let f = &stats["faults"][0];
    assert_eq!(
        (&f["fault"], &f["dir"], &f["offset"], &f["conn"]),
        (&"reset".into(), &"a2b".into(), &5000.into(), &1.into()),
        "{stats}"
    );
}

#[test]
fn close_after_passes_end_of_stream_at_the_byte_asked_on_unix() {
    let dir = tempdir();
    let path = dir.path().join("srv.sock");
    let path = path.to_str().unwrap();
    let sink = server(&["sink", &format!("unix:{path}")]);
    let (r, front) = relay(
        &format!("unix:{path}"),
        &["--close-after", "up:1000", "--seed", "1"],
    );
    let sent = client(&["send", &format!("tcp:{front}"), "300000", "10"]);
    let got = result(sink);
    assert_eq!(
        (&got["bytes"], &got["end"]),
        (&1000.into(), &"eof".into()),
        "{got}"
    );
    // What the client sent after the offset was read and dropped: no reset for it.
    assert_eq!(sent["error"], Value::Null, "{sent}");
    stop(r);
}

#[test]
fn stall_after_keeps_the_connection_open_and_moves_nothing() {
    let port = free_port();
    let sink = server(&["sink", &format!("tcp:{port}"), "1.5"]);
    let to = format!("tcp:127.0.0.1:{port}");
    let (r, front) = relay(&to, &["--stall-after", "up:2000", "--seed", "1"]);
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("fault_peer.py"))
        .args(["send", &format!("tcp:{front}"), "10000", "3"]);
    let c = Proc::spawn("fault_peer send", cmd);
    let got = result(sink);
    assert_eq!(
        (&got["bytes"], &got["end"]),
        (&2000.into(), &"timeout".into()),
        "{got}"
    );
    drop(c);
    stop(r);
}

#[test]
fn half_close_swallow_delay_and_full() {
    for (mode, want) in [
        ("", "eof after"),
        ("up:swallow", "no eof"),
        ("up:delay=600ms", "eof after"),
        ("up:full", ""),
    ] {
        let port = free_port();
        let srv = server(&["eof-server", &format!("tcp:{port}"), "1.5"]);
        let to = format!("tcp:127.0.0.1:{port}");
        let mut flags = vec!["--seed", "1"];
        if !mode.is_empty() {
            flags.extend(["--half-close", mode]);
        }
        let (r, front) = relay(&to, &flags);
        let got = client(&["ask", &format!("tcp:{front}")]);
        let answer = got["answer"].as_str().unwrap();
        if want.is_empty() {
            // Closed at the first end of stream: the answer never comes.
            assert_eq!(answer, "", "{mode}: {got}");
        } else {
            assert!(answer.starts_with(want), "{mode}: {got}");
        }
        if mode.contains("delay") {
            let secs: f64 = answer.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(secs >= 0.59, "{mode}: {got}");
        }
        drop(srv);
        stop(r);
    }
}

#[test]
fn accept_stall_makes_a_tcp_connect_time_out() {
    let port = free_port();
    let p = spawn_sockbox(&[
        "relay",
        &format!("tcp:127.0.0.1:{port}"),
        "tcp:127.0.0.1:9",
        "--accept",
        "stall",
        "--seed",
        "1",
    ]);
    p.wait_stderr("accepts nothing");
    let got = client(&["connect", &format!("tcp:{port}"), "1"]);
    assert_eq!(got["result"], "timeout", "{got}");
    stop(p);
}

#[test]
fn the_same_seed_drops_the_same_messages() {
    let run = || {
        let port = free_port();
        let sink = server(&["msg-sink", &format!("udp:{port}"), "1"]);
        let front = free_port();
        let r = spawn_sockbox(&[
            "relay",
            &format!("udp:127.0.0.1:{front}"),
            &format!("udp:127.0.0.1:{port}"),
            "--drop",
            "0.3",
            "--dup",
            "0.1",
            "--seed",
            "77",
            "--stats",
            "--json",
        ]);
        announced_port(&r);
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("fault_peer.py"))
            .args(["msg-send", &format!("udp:{front}"), "40"]);
        let mut c = Proc::spawn("msg-send", cmd);
        c.wait_code(WAIT);
        let got = result(sink);
        let stats: Value = serde_json::from_str(stop(r).trim()).unwrap();
        let log: Vec<(String, u64)> = stats["faults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["fault"].as_str().unwrap().to_string(),
                    f["message"].as_u64().unwrap(),
                )
            })
            .collect();
        (got["messages"].clone(), log)
    };
    let (first, log1) = run();
    let (second, log2) = run();
    assert!(log1.iter().any(|(f, _)| f == "drop"), "{log1:?}");
    assert_eq!(log1, log2);
    assert_eq!(first, second);
}

#[test]
fn bad_fault_values_exit_2_with_one_line_naming_the_flag() {
    for (args, needle) in [
        (vec!["--rate", "0/s"], "--rate 0/s: expected"),
        (vec!["--latency", "5xs"], "--latency 5xs: expected"),
        (vec!["--drop", "0.1"], "--drop:"),
    ] {
        let mut all = vec!["relay", "tcp:127.0.0.1:1", "tcp:127.0.0.1:2"];
        all.extend(args);
        let out = run_sockbox(&all, b"");
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(one_line(&out).contains(needle), "{}", out.stderr);
    }
    let out = run_sockbox(
        &[
            "relay",
            "udp:127.0.0.1:1",
            "udp:127.0.0.1:2",
            "--reset-after",
            "1k",
        ],
        b"",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        one_line(&out).contains("--reset-after: udp"),
        "{}",
        out.stderr
    );
}

#[test]
fn curl_through_latency_and_rate_takes_the_time_asked_and_gets_the_body_intact() {
    require_tool("curl");
    let dir = tempdir();
    let body = random_bytes(512 * 1024);
    std::fs::write(dir.path().join("blob"), &body).unwrap();
    let port = free_port();
    let mut cmd = Command::new(python());
    cmd.args([
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        &port.to_string(),
    ])
    .current_dir(dir.path());
    let _srv = Proc::spawn("http.server", cmd);
    wait_for("http.server listening", WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let to = format!("tcp:127.0.0.1:{port}");
    let (r, front) = relay(
        &to,
        &["--latency", "100ms", "--rate", "down:256k/s", "--seed", "1"],
    );
    let out = dir.path().join("got");
    let start = std::time::Instant::now();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "-o", out.to_str().unwrap()])
        .arg(format!("http://127.0.0.1:{front}/blob"));
    let mut c = Proc::spawn("curl", cmd);
    assert_eq!(c.wait_code(WAIT), 0, "{}", c.stderr());
    let secs = start.elapsed().as_secs_f64();
    // 512 KiB at 256 KiB/s after a 12.8 KiB burst, plus two 100 ms delays: about 2.15 s.
    assert!((1.9..8.0).contains(&secs), "took {secs}s");
    assert_eq!(sha256(&std::fs::read(&out).unwrap()), sha256(&body));
    stop(r);
}

/// Start `fault_peer.py ARGS` (a client) without waiting for it.
fn client_proc(args: &[&str]) -> Proc {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("fault_peer.py")).args(args);
    let mut p = Proc::spawn(&format!("fault_peer {}", args.join(" ")), cmd);
    p.close_stdin();
    p
}

/// The `faults` array of a relay's `--stats --json` document, as (fault, dir, conn, offset).
fn fault_log(stats: &str) -> Vec<(String, String, u64, u64)> {
    let v: Value = serde_json::from_str(stats.trim()).unwrap_or_else(|e| panic!("{e}: {stats}"));
    v["faults"]
        .as_array()
        .unwrap_or_else(|| panic!("no faults array: {v}"))
        .iter()
        .map(|f| {
            (
                f["fault"].as_str().unwrap().to_string(),
                f["dir"].as_str().unwrap_or("").to_string(),
                f["conn"].as_u64().unwrap(),
                f["offset"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The bytes each client of a `sinks` peer delivered, in accept order.
fn bytes_per_client(got: &Value) -> Vec<u64> {
    got["clients"]
        .as_array()
        .unwrap_or_else(|| panic!("{got}"))
        .iter()
        .map(|c| c["bytes"].as_u64().unwrap())
        .collect()
}

#[test]
fn slow_close_passes_end_of_stream_late_then_closes_the_whole_connection() {
    let port = free_port();
    let srv = server(&["eof-server", &format!("tcp:{port}"), "5"]);
    let to = format!("tcp:127.0.0.1:{port}");
    let flags = [
        "--slow-close",
        "up:700ms",
        "--seed",
        "1",
        "--stats",
        "--json",
    ];
    let (r, front) = relay(&to, &flags);
    let got = client(&["ask", &format!("tcp:{front}")]);
    let seen = result(srv);
    // The server got the client's end of stream no earlier than asked ...
    let eof = seen["eof"].as_f64().unwrap_or_else(|| panic!("{seen}"));
    assert!(eof >= 0.69, "server saw eof after {eof}s: {seen}");
    // ... and the connection ended there, whole: its answer (sent after that eof) was cut,
    // where --half-close delay= would have passed it on.
    assert_eq!(got["answer"], "", "{got}");
    assert!(got["secs"].as_f64().unwrap() >= 0.69, "{got}");
    assert_eq!(
        fault_log(&stop(r)),
        [("slow-close".into(), "a2b".into(), 1, 3)]
    );
}

#[test]
fn rate_total_is_one_budget_shared_by_every_connection() {
    let port = free_port();
    let sinks = server(&["sinks", &format!("tcp:{port}"), "2"]);
    let to = format!("tcp:127.0.0.1:{port}");
    let (r, front) = relay(&to, &["--rate-total", "up:1MiB/s", "--seed", "1"]);
    let addr = format!("tcp:{front}");
    let senders: Vec<Proc> = (0..2)
        .map(|_| client_proc(&["send", &addr, "1500000", "20"]))
        .collect();
    let got = result(sinks);
    assert_eq!(bytes_per_client(&got), [1500000, 1500000], "{got}");
    for s in senders {
        assert_eq!(result(s)["sent"], 1500000);
    }
    let clients = got["clients"].as_array().unwrap();
    let first = clients.iter().map(|c| c["first"].as_f64().unwrap());
    let last = clients.iter().map(|c| c["last"].as_f64().unwrap());
    let span = last.fold(f64::MIN, f64::max) - first.fold(f64::MAX, f64::min);
    // Both together at most the one rate (beyond the 50 ms burst): two connections paced
    // each on its own would have moved twice as fast. A lower bound on time only.
    let rate = (3_000_000.0 - 52_429.0) / span;
    let want = 1024.0 * 1024.0;
    assert!(rate < want * 1.1, "{rate} B/s in all: {got}");
    stop(r);
}

#[test]
fn faulty_conns_gives_faults_to_the_connections_named_only() {
    let port = free_port();
    let sinks = server(&["sinks", &format!("tcp:{port}"), "3"]);
    let to = format!("tcp:127.0.0.1:{port}");
    let flags = [
        "--close-after",
        "up:1000",
        "--faulty-conns",
        "2",
        "--seed",
        "1",
        "--stats",
        "--json",
    ];
    let (r, front) = relay(&to, &flags);
    for _ in 0..3 {
        client(&["send", &format!("tcp:{front}"), "5000", "10"]);
    }
    let got = result(sinks);
    assert_eq!(bytes_per_client(&got), [5000, 1000, 5000], "{got}");
    assert_eq!(
        fault_log(&stop(r)),
        [("close".into(), "a2b".into(), 2, 1000)]
    );
}

#[test]
fn faulty_p_picks_connections_from_the_seed_and_replays() {
    let run = || {
        let port = free_port();
        let sinks = server(&["sinks", &format!("tcp:{port}"), "8"]);
        let to = format!("tcp:127.0.0.1:{port}");
        let flags = [
            "--close-after",
            "up:1000",
            "--faulty",
            "0.5",
            "--seed",
            "5",
            "--stats",
            "--json",
        ];
        let (r, front) = relay(&to, &flags);
        for _ in 0..8 {
            client(&["send", &format!("tcp:{front}"), "5000", "10"]);
        }
        let cut: Vec<u64> = bytes_per_client(&result(sinks))
            .iter()
            .zip(1..)
            .filter(|(b, _)| **b == 1000)
            .map(|(_, n)| n)
            .collect();
        let logged: Vec<u64> = fault_log(&stop(r)).iter().map(|f| f.2).collect();
        // What the sinks saw is what the log says fired.
        assert_eq!(cut, logged);
        cut
    };
    let first = run();
    assert!(!first.is_empty() && first.len() < 8, "{first:?}");
    assert_eq!(first, run(), "the same seed chose other connections");
}

#[test]
fn faults_after_and_faults_for_bound_when_faults_act() {
    let port = free_port();
    let sinks = server(&["sinks", &format!("tcp:{port}"), "3"]);
    let to = format!("tcp:127.0.0.1:{port}");
    let start = std::time::Instant::now();
    let flags = [
        "--close-after",
        "up:1000",
        "--faults-after",
        "2s",
        "--faults-for",
        "3s",
        "--seed",
        "1",
        "--stats",
        "--json",
    ];
    let (r, front) = relay(&to, &flags);
    let send = || client(&["send", &format!("tcp:{front}"), "5000", "10"]);
    // Before the window (at once), inside it (2-5 s after the relay started, which was
    // after `start`), after it (more than 5 s; 1.5 s allowed for the relay's start).
    send();
    std::thread::sleep(std::time::Duration::from_secs(3).saturating_sub(start.elapsed()));
    send();
    std::thread::sleep(std::time::Duration::from_millis(6500).saturating_sub(start.elapsed()));
    send();
    let got = result(sinks);
    assert_eq!(bytes_per_client(&got), [5000, 1000, 5000], "{got}");
    assert_eq!(
        fault_log(&stop(r)),
        [("close".into(), "a2b".into(), 2, 1000)]
    );
}

#[test]
fn sigusr1_switches_faults_off_and_on_again() {
    let port = free_port();
    let sinks = server(&["sinks", &format!("tcp:{port}"), "3"]);
    let to = format!("tcp:127.0.0.1:{port}");
    let flags = [
        "--close-after",
        "up:1000",
        "--seed",
        "1",
        "--stats",
        "--json",
    ];
    let (r, front) = relay(&to, &flags);
    let send = || client(&["send", &format!("tcp:{front}"), "5000", "10"]);
    send();
    r.signal(Signal::SIGUSR1);
    r.wait_stderr("SIGUSR1: faults off");
    send();
    r.signal(Signal::SIGUSR1);
    r.wait_stderr("SIGUSR1: faults on");
    send();
    let got = result(sinks);
    assert_eq!(bytes_per_client(&got), [1000, 5000, 1000], "{got}");
    let log = fault_log(&stop(r));
    assert_eq!(
        log,
        [
            ("close".into(), "a2b".into(), 1, 1000),
            ("close".into(), "a2b".into(), 3, 1000)
        ]
    );
}

#[test]
fn accept_refuse_leaves_nothing_listening_on_tcp_and_unix() {
    let port = free_port();
    let p = spawn_sockbox(&[
        "relay",
        &format!("tcp:127.0.0.1:{port}"),
        "tcp:127.0.0.1:9",
        "--accept",
        "refuse",
    ]);
    p.wait_stderr("nothing listens");
    let got = client(&["knock", &format!("tcp:{port}")]);
    assert_eq!(got["result"], "ECONNREFUSED", "{got}");
    stop(p);

    let dir = tempdir();
    let path = dir.path().join("front.sock");
    let path = path.to_str().unwrap();
    let p = spawn_sockbox(&[
        "relay",
        &format!("unix:{path}"),
        "tcp:127.0.0.1:9",
        "--accept",
        "refuse",
    ]);
    p.wait_stderr("nothing listens");
    let got = client(&["knock", &format!("unix:{path}")]);
    assert_eq!(got["result"], "ENOENT", "{got}");
    stop(p);
}

#[test]
fn accept_reject_closes_each_client_and_never_connects_upstream() {
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    upstream.set_nonblocking(true).unwrap();
    let to = format!("tcp:{}", upstream.local_addr().unwrap());
    let (r, front) = relay(
        &to,
        &["--accept", "reject", "--seed", "1", "--stats", "--json"],
    );
    for _ in 0..2 {
        let got = client(&["knock", &format!("tcp:{front}")]);
        // Connected (accepted), then end of stream with nothing in it.
        assert_eq!(
            (&got["result"], &got["got"], &got["end"]),
            (&"ok".into(), &0.into(), &"eof".into()),
            "{got}"
        );
    }
    let log = fault_log(&stop(r));
    assert_eq!(
        log,
        [
            ("reject".into(), "".into(), 1, 0),
            ("reject".into(), "".into(), 2, 0)
        ]
    );
    let e = upstream.accept().expect_err("the relay connected upstream");
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn reset_after_on_unix_stream_gives_the_sender_epipe_then_econnreset() {
    let dir = tempdir();
    let back = dir.path().join("back.sock");
    let back = back.to_str().unwrap();
    let front = dir.path().join("front.sock");
    let front = front.to_str().unwrap();
    let sink = server(&["sink", &format!("unix:{back}")]);
    let r = spawn_sockbox(&[
        "relay",
        &format!("unix:{front}"),
        &format!("unix:{back}"),
        "--reset-after",
        "up:5000",
        "--seed",
        "1",
        "--stats",
        "--json",
    ]);
    wait_path(std::path::Path::new(front));
    // More than the relay's queue (--buffer, 1 MiB) and both sockets' buffers hold: the
    // sender is still sending when the reset comes.
    let sent = client(&["send", &format!("unix:{front}"), "8000000", "10"]);
    let got = result(sink);
    // The receiver had sent nothing, so it had nothing unread at the relay: Linux gives it
    // end of stream (the relay warns so), after exactly the bytes before the reset.
    assert_eq!(
        (&got["bytes"], &got["end"]),
        (&5000.into(), &"eof".into()),
        "{got}"
    );
    // The sender: closing marks its socket shut down both ways, so its next send(2) fails
    // with EPIPE; its bytes were unread at the relay, so unix_release_sock also set
    // ECONNRESET on it, which its next recv(2) returns.
    assert_eq!(
        (&sent["error"], &sent["end"]),
        (&"EPIPE".into(), &"ECONNRESET".into()),
        "{sent}"
    );
    r.wait_stderr("gets end of stream, not ECONNRESET");
    assert_eq!(
        fault_log(&stop(r)),
        [("reset".into(), "a2b".into(), 1, 5000)]
    );
}

#[test]
fn drop_fds_loses_descriptors_and_keeps_their_bytes() {
    let dir = tempdir();
    let back = dir.path().join("back.sock");
    let back = back.to_str().unwrap();
    let front = dir.path().join("front.sock");
    let front = front.to_str().unwrap();
    let sink = server(&["fds-sink", &format!("seqpacket:{back}"), "2"]);
    let r = spawn_sockbox(&[
        "relay",
        &format!("seqpacket:{front}"),
        &format!("seqpacket:{back}"),
        "--pass-fds",
        "--drop-fds",
        "up:0.5",
        "--seed",
        "9",
        "--stats",
        "--json",
    ]);
    wait_path(std::path::Path::new(front));
    let mut c = client_proc(&["fds-send", &format!("seqpacket:{front}"), "20"]);
    assert_eq!(c.wait_code(WAIT), 0, "{}", c.stderr());
    let got = result(sink);
    let want: Vec<String> = (0..20).map(|i| format!("fd-{i}")).collect();
    assert_eq!(got["messages"], serde_json::json!(want), "{got}");
    let lost: Vec<u64> = got["fds"]
        .as_array()
        .unwrap()
        .iter()
        .zip(0..)
        .filter(|(n, _)| n.as_u64() == Some(0))
        .map(|(_, i)| i)
        .collect();
    let stats: Value = serde_json::from_str(stop(r).trim()).unwrap();
    let logged: Vec<u64> = stats["faults"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|f| assert_eq!(f["fault"], "drop-fds", "{stats}"))
        .map(|f| f["message"].as_u64().unwrap())
        .collect();
    // The messages that arrived without their descriptor are the ones the log names.
    assert_eq!(lost, logged, "{got} {stats}");
    assert!(!lost.is_empty() && lost.len() < 20, "{lost:?}");
}

#[test]
fn drop_fds_needs_pass_fds_and_pass_fds_takes_no_byte_faults() {
    for (args, needle) in [
        (
            vec![
                "unix:/tmp/x-a.sock",
                "unix:/tmp/x-b.sock",
                "--drop-fds",
                "0.1",
            ],
            "--drop-fds: loses descriptors",
        ),
        (
            vec![
                "unix:/tmp/x-a.sock",
                "unix:/tmp/x-b.sock",
                "--pass-fds",
                "--latency",
                "10ms",
            ],
            "--pass-fds: of the faults on bytes only --drop-fds",
        ),
        (
            vec![
                "unix:/tmp/x-a.sock",
                "unix:/tmp/x-b.sock",
                "--pass-fds",
                "--drop-fds",
                "2",
            ],
            "--drop-fds 2: expected",
        ),
    ] {
        let mut all = vec!["relay"];
        all.extend(args);
        let out = run_sockbox(&all, b"");
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(one_line(&out).contains(needle), "{}", out.stderr);
    }
}

#[test]
fn connect_takes_the_faults_too_reset_at_the_byte_asked() {
    let port = free_port();
    let sink = server(&["sink", &format!("tcp:{port}")]);
    let out = run_sockbox(
        &[
            "connect",
            &format!("tcp:127.0.0.1:{port}"),
            "--reset-after",
            "up:5000",
            "--seed",
            "4",
        ],
        &random_bytes(1 << 20),
    );
    assert_no_panic(&out.stderr);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got = result(sink);
    assert_eq!(
        (&got["bytes"], &got["end"]),
        (&5000.into(), &"ECONNRESET".into()),
        "{got}"
    );
}

#[test]
fn listen_takes_the_faults_too_close_after_on_a_client() {
    let mut l = spawn_sockbox(&[
        "listen",
        "tcp:127.0.0.1:0",
        "--close-after",
        "up:1000",
        "--seed",
        "4",
    ]);
    // Nothing to send back: the client reads end of stream at once.
    l.close_stdin();
    let port = announced_port(&l);
    let sent = client(&["send", &format!("tcp:{port}"), "5000", "10"]);
    assert_eq!(sent["sent"], 5000, "{sent}");
    assert_eq!(l.wait_code(WAIT), 0, "{}", l.stderr());
    let got = l.stdout();
    assert_eq!(got.len(), 1000, "{}", l.stderr());
    assert_eq!(got, (0..1000).map(|i| (i % 251) as u8).collect::<Vec<_>>());
}

#[test]
fn slice_cuts_a_stream_into_short_writes_and_keeps_every_byte() {
    let port = free_port();
    let sink = server(&["sink", &format!("tcp:{port}"), "10"]);
    let to = format!("tcp:127.0.0.1:{port}");
    let (r, front) = relay(&to, &["--slice", "up:1..16,gap=50ms", "--seed", "1"]);
    client(&["send", &format!("tcp:{front}"), "120", "10"]);
    let got = result(sink);
    assert_eq!(got["bytes"], 120, "{got}");
    // At least 8 slices, 50 ms apart: even a reader slow enough to merge some sees several
    // short reads, where without --slice it sees one.
    let reads = got["reads"].as_array().unwrap();
    assert!(reads.len() >= 4, "{got}");
    stop(r);
}

#[test]
fn reorder_and_corrupt_change_only_the_messages_the_log_names() {
    let dir = tempdir();
    let back = dir.path().join("back.sock");
    let back = back.to_str().unwrap();
    let front = dir.path().join("front.sock");
    let front = front.to_str().unwrap();
    let sink = server(&["msg-sink", &format!("seqpacket:{back}"), "2"]);
    let r = spawn_sockbox(&[
        "relay",
        &format!("seqpacket:{front}"),
        &format!("seqpacket:{back}"),
        "--reorder",
        "0.3",
        "--corrupt",
        "0.3",
        "--seed",
        "11",
        "--stats",
        "--json",
    ]);
    wait_path(std::path::Path::new(front));
    let mut c = client_proc(&["msg-send", &format!("seqpacket:{front}"), "30"]);
    assert_eq!(c.wait_code(WAIT), 0, "{}", c.stderr());
    let got = result(sink);
    let msgs: Vec<Vec<u8>> = got["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| unhex(m.as_str().unwrap()))
        .collect();
    let stats: Value = serde_json::from_str(stop(r).trim()).unwrap();
    let named = |fault: &str| -> Vec<usize> {
        stats["faults"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["fault"] == fault)
            .map(|f| f["message"].as_u64().unwrap() as usize)
            .collect()
    };
    let (reordered, corrupted) = (named("reorder"), named("corrupt"));
    assert!(!reordered.is_empty() && !corrupted.is_empty(), "{stats}");
    assert_eq!(msgs.len(), 30, "{got}");
    // Which message each one received is: the one it equals, or differs from by one bit.
    let sent: Vec<Vec<u8>> = (0..30).map(|i| format!("msg-{i}").into_bytes()).collect();
    let mut order = Vec::new();
    for m in &msgs {
        let bits = |s: &Vec<u8>| -> Option<u32> {
            (s.len() == m.len()).then(|| s.iter().zip(m).map(|(a, b)| (a ^ b).count_ones()).sum())
        };
        let (i, diff) = sent
            .iter()
            .enumerate()
            .filter_map(|(i, s)| bits(s).filter(|d| *d <= 1).map(|d| (i, d)))
            .min_by_key(|(_, d)| *d)
            .unwrap_or_else(|| panic!("{m:?} is no message sent, even with one bit flipped"));
        assert_eq!(
            diff == 1,
            corrupted.contains(&i),
            "message {i}: {got} {stats}"
        );
        order.push(i);
    }
    // Every message once; each held back one arrives right after its successor.
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, (0..30).collect::<Vec<_>>(), "{order:?}");
    for i in 0..30 {
        let at = order.iter().position(|&x| x == i).unwrap();
        if reordered.contains(&i) && i + 1 < 30 {
            assert_eq!(order.get(at.wrapping_sub(1)), Some(&(i + 1)), "{order:?}");
        }
    }
    for (at, &i) in order.iter().enumerate() {
        if !reordered.contains(&i) && at > 0 && order[at - 1] > i {
            panic!("message {i} came late without a reorder fault: {order:?}");
        }
    }
}
