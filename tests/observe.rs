//! `sockbox ls --events` against the kernel and `ss -E`: a Python client and server in one
//! process open a TCP connection, move a known number of bytes, and close it while both
//! watch. Every assertion is about that connection's own ports.

use std::process::Command;

use serde_json::Value;

use crate::util::*;

#[test]
fn events_carry_owner_ports_and_final_bytes_like_ss_e() {
    require_tool("ss");
    require_tool("stdbuf");
    const N: u64 = 123_457;
    let events = spawn_sockbox(&["ls", "--events", "--json", "--tcp"]);
    let mut ss = Command::new("stdbuf");
    ss.args(["-oL", "ss", "-E", "-t", "-i", "-n", "-H"]);
    let ss = Proc::spawn("ss -E", ss);
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("pair_peer.py")).arg(N.to_string());
    let mut pair = Proc::spawn("pair peer", cmd);
    let line = wait_for("the pair's ports", WAIT, || {
        complete_lines(&pair.stdout()).into_iter().next()
    });
    let v: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
    let (pid, cport, sport) = (v[0], v[1], v[2]);
    // Let the watcher's owner refresh (every second) see the connection before it closes.
    let client = format!("127.0.0.1:{cport}");
    let server = format!("127.0.0.1:{sport}");
    events.wait_stdout_where("the open event", |l| {
        l.contains("\"open\"") && l.contains(&format!("\"local\":\"{client}\""))
    });
    pair.write(b"close\n");
    let close = events.wait_stdout_where("the client's close event", |l| {
        l.contains("\"close\"") && l.contains(&format!("\"local\":\"{client}\""))
    });
    let e: Value = serde_json::from_str(&close).unwrap();
    assert_eq!(e["remote"], server.as_str(), "{close}");
    assert_eq!(e["pid"], pid, "{close}");
    assert_eq!(e["comm"].as_str().unwrap(), "python3", "{close}");
    assert_eq!(e["tx_bytes"], N, "{close}");
    assert_eq!(e["kind"], "tcp");
    let close = events.wait_stdout_where("the server's close event", |l| {
        l.contains("\"close\"") && l.contains(&format!("\"local\":\"{server}\""))
    });
    let e: Value = serde_json::from_str(&close).unwrap();
    // bytes_received counts the peer's FIN as one byte, as ss shows it.
    assert_eq!(e["rx_bytes"], N + 1, "{close}");
    assert_eq!(e["tx_bytes"], 100, "{close}");
    assert_eq!(e["pid"], pid, "{close}");

    // ss -E saw the same connection close with the same counters (and no owner).
    let ss_line = ss.wait_stdout_where("ss -E's client close", |l| {
        l.contains(&format!("bytes_sent:{N} "))
    });
    assert!(ss_line.contains("bytes_received:101"), "{ss_line}");
    let seen = String::from_utf8_lossy(&ss.stdout()).into_owned();
    assert!(seen.contains(&format!("{client} {server}")), "{seen}");
}

#[test]
fn events_refuse_kinds_without_destroy_events() {
    let out = run_sockbox(&["ls", "--events", "--unix"], b"");
    assert_eq!(out.code, 2, "{}", out.stderr);
}

/// `top --once --json` while a Python sender moves 1 MB/s: its process's send rate within
/// 10%, a connection opened and closed between the samples counted with its bytes, and a Unix
/// pair whose reader never reads shown as stalled.
#[test]
fn top_once_shows_a_paced_sender_a_short_connection_and_a_stalled_unix_pair() {
    const RATE: f64 = 1_000_000.0;
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("top_peer.py"))
        .arg((RATE as u64).to_string());
    let mut peer = Proc::spawn("top peer", cmd);
    let line = wait_for("the peer's description", WAIT, || {
        complete_lines(&peer.stdout()).into_iter().next()
    });
    let info: Value = serde_json::from_str(&line).unwrap();
    let mut top = spawn_sockbox(&["-v", "top", "--once", "--json", "-d", "2"]);
    top.wait_stderr("first sample");
    peer.write(b"short\n");
    let short = peer.wait_stdout_where("the short connection", |l| l.starts_with("short "));
    let short_port: u16 = short[6..].trim().parse().unwrap();
    assert_eq!(top.wait_exit(WAIT).code(), Some(0), "{}", top.stderr());
    let out = top.stdout();
    let r: Value = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));

    let row = r["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == info["pid"])
        .unwrap_or_else(|| panic!("no row for the peer: {r:#}"));
    let tx = row["tx_rate"].as_f64().unwrap();
    assert!(
        (tx - RATE).abs() <= RATE * 0.10,
        "sender's rate {tx} is not within 10% of {RATE}: {row:#}"
    );
    assert_eq!(row["comm"], "python3");

    let closed = r["closed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["local"] == format!("127.0.0.1:{short_port}").as_str())
        .unwrap_or_else(|| panic!("the short connection is not among the closed: {r:#}"));
    assert_eq!(closed["opened_in_interval"], true, "{closed:#}");
    assert_eq!(closed["tx_bytes"], 777, "{closed:#}");
    assert!(r["totals"]["opened_and_closed"].as_u64().unwrap() >= 1);
    assert_ne!(closed["owner"].as_str().unwrap().to_lowercase(), "unknown");

    let pair = r["unix_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            let ends = [&p["a"]["inode"], &p["b"]["inode"]];
            ends.contains(&&info["unix_writer"]) && ends.contains(&&info["unix_reader"])
        })
        .unwrap_or_else(|| panic!("the Unix pair is missing: {r:#}"));
    let reader = if pair["a"]["inode"] == info["unix_reader"] {
        &pair["a"]
    } else {
        &pair["b"]
    };
    assert_eq!(pair["stalled"], true, "{pair:#}");
    assert_eq!(reader["stalled"], true, "{pair:#}");
    assert_eq!(reader["queued"], info["unix_queued"], "{pair:#}");
}
