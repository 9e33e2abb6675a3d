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

/// A GET over plain TCP: (status line, body), bounded by [`WAIT`].
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

/// `s` percent-encoded for a query string.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query to Prometheus's HTTP API: the first sample's value, if any.
fn prom_query(port: u16, q: &str) -> Option<f64> {
    let (status, body) = http_get(port, &format!("/api/v1/query?query={}", url_encode(q)));
    if !status.contains(" 200 ") {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// A real Prometheus server scrapes `sockbox exporter` every 2 seconds; a Python process named
/// `sbxprom` moves 4 MB over TCP to itself and closes the connection. Prometheus then holds
/// that group's sent and received bytes within 5%, and its counters never reset (the closed
/// connection's last bytes come from its destroy event). `promtool check metrics` passes on
/// the exposition text.
#[test]
fn prometheus_scrapes_the_exporter_and_sees_a_senders_bytes_by_comm() {
    require_tool("prometheus");
    require_tool("promtool");
    const TOTAL: u64 = 4_000_000;
    const FIRST: u64 = 1_000_000;
    const COMM: &str = "sbxprom";
    let exporter = spawn_sockbox(&["exporter", "--listen", "tcp:127.0.0.1:0", "--top-k", "50"]);
    let port = announced_port(&exporter);

    // Prometheus with its own config and data directory, on loopback.
    let dir = tempdir();
    let prom_port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n\
             scrape_configs:\n  - job_name: sockbox\n    static_configs:\n      \
             - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .arg("--log.level=warn");
    let prom = Proc::spawn("prometheus", cmd);
    wait_for("Prometheus to be ready", WAIT * 3, || {
        std::net::TcpStream::connect(("127.0.0.1", prom_port))
            .ok()
            .and_then(|_| {
                let (status, _) = http_get(prom_port, "/-/ready");
                status.contains(" 200 ").then_some(())
            })
    });

    let mut cmd = Command::new(python());
    cmd.arg(peer_script("prom_sender.py"))
        .arg(COMM)
        .arg(TOTAL.to_string())
        .arg(FIRST.to_string());
    let mut sender = Proc::spawn("sender", cmd);
    let line = wait_for("the sender's description", WAIT, || {
        complete_lines(&sender.stdout()).into_iter().next()
    });
    let info: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(info["comm"], COMM, "{line}");
    // Prometheus sees the open connection under the sender's name before it closes.
    let sent = format!("sockbox_tcp_sent_bytes_total{{group=\"{COMM}\"}}");
    wait_for("Prometheus to scrape the first bytes", WAIT * 2, || {
        prom_query(prom_port, &sent).filter(|&v| v >= FIRST as f64)
    });
    sender.write(b"go\n");
    sender.wait_stdout_where("the sender to finish", |l| l.starts_with("done "));

    let within = |v: f64| (v - TOTAL as f64).abs() <= TOTAL as f64 * 0.05;
    let tx = wait_for("Prometheus to hold the sent bytes", WAIT * 2, || {
        prom_query(prom_port, &sent).filter(|&v| within(v))
    });
    let received = format!("sockbox_tcp_received_bytes_total{{group=\"{COMM}\"}}");
    let rx = wait_for("Prometheus to hold the received bytes", WAIT, || {
        prom_query(prom_port, &received).filter(|&v| within(v))
    });
    let closed = format!("sockbox_tcp_connections_closed_total{{group=\"{COMM}\"}}");
    wait_for("the closes counted", WAIT, || {
        prom_query(prom_port, &closed).filter(|&v| v >= 2.0)
    });
    let resets = prom_query(prom_port, &format!("resets({sent}[10m])"));
    assert_eq!(resets, Some(0.0), "the sent-bytes counter went backwards");
    eprintln!("prometheus: {sent} = {tx}, {received} = {rx}");

    // The exposition text passes promtool's checks.
    let (status, text) = http_get(port, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    assert!(text.contains(&sent), "{text}");
    let mut check = Command::new("promtool");
    check.args(["check", "metrics"]);
    let mut check = Proc::spawn("promtool", check);
    check.write(text.as_bytes());
    check.close_stdin();
    let code = check.wait_exit(WAIT).code();
    assert_eq!(
        code,
        Some(0),
        "promtool: {}{}",
        String::from_utf8_lossy(&check.stdout()),
        check.stderr()
    );
    drop(prom);
}

/// The exporter's port in use: exit 1, one line on stderr naming the address.
#[test]
fn exporter_on_a_port_in_use_exits_1_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = run_sockbox(&["exporter", "--listen", &format!("127.0.0.1:{port}")], b"");
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(&format!("127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    assert!(lines[0].contains("in use"), "{}", out.stderr);
}

/// `top --once --prometheus` prints the classic text format, which promtool accepts.
#[test]
fn top_once_prometheus_is_textfile_collector_text() {
    require_tool("promtool");
    let out = run_sockbox(&["top", "--once", "--prometheus", "-d", "0.2"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("# TYPE sockbox_tcp_sent_bytes_total counter"),
        "{text}"
    );
    assert!(!text.contains("# EOF"), "{text}");
    let mut check = Command::new("promtool");
    check.args(["check", "metrics"]);
    let mut check = Proc::spawn("promtool", check);
    check.write(text.as_bytes());
    check.close_stdin();
    assert_eq!(check.wait_exit(WAIT).code(), Some(0), "{}", check.stderr());
}
