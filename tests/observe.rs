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
    // A namespace of its own: destroy events are per namespace, so the rest of the suite's
    // connections (thousands a second at times) cannot overflow the watcher's socket.
    let ns = Netns::new("obsev");
    let events = Proc::spawn(
        "sockbox ls --events",
        ns.cmd(sockbox_bin(), &["ls", "--events", "--json", "--tcp"]),
    );
    let ss = Proc::spawn(
        "ss -E",
        ns.cmd("stdbuf", &["-oL", "ss", "-E", "-t", "-i", "-n", "-H"]),
    );
    let script = peer_script("pair_peer.py");
    let mut pair = Proc::spawn(
        "pair peer",
        ns.cmd(
            python(),
            &[script.as_os_str(), std::ffi::OsStr::new(&N.to_string())],
        ),
    );
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
    // In a namespace of its own, like the events test: no other test's connections.
    let ns = Netns::new("obstop");
    let script = peer_script("top_peer.py");
    let mut peer = Proc::spawn(
        "top peer",
        ns.cmd(
            python(),
            &[
                script.as_os_str(),
                std::ffi::OsStr::new(&(RATE as u64).to_string()),
            ],
        ),
    );
    let line = wait_for("the peer's description", WAIT, || {
        complete_lines(&peer.stdout()).into_iter().next()
    });
    let info: Value = serde_json::from_str(&line).unwrap();
    let mut top = Proc::spawn(
        "sockbox top --once",
        ns.cmd(sockbox_bin(), &["-v", "top", "--once", "--json", "-d", "2"]),
    );
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

/// A real Prometheus server scrapes `sockbox exporter` every 3 seconds; a Python process named
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
            "global:\n  scrape_interval: 3s\n  scrape_timeout: 3s\n\
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

/// A tmux server of the test's own (its socket in a temp dir), killed when dropped.
struct Tmux {
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// A detached session `top` of `w`x`h` running `line` under `sh -c`.
    fn start(w: u16, h: u16, line: &str) -> Tmux {
        require_tool("tmux");
        let dir = tempdir();
        let t = Tmux {
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        };
        t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
            "sh",
            "-c",
            line,
        ]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What a person sees in the pane now.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"])
    }

    /// Keys as tmux names them (`q`, `Enter`, `C-u`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Literal text typed.
    fn text(&self, text: &str) {
        self.run(&["send-keys", "-t", "top", "-l", "--", text]);
    }

    /// Wait until the screen satisfies `pred`; the screen then.
    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The pid of the shell the session runs.
    fn pane_pid(&self) -> u32 {
        self.run(&["display-message", "-p", "-t", "top", "#{pane_pid}"])
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// The row of the screen containing `needle`, split on spaces.
fn screen_row(screen: &str, needle: &str) -> Option<Vec<String>> {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .map(|l| l.split_whitespace().map(String::from).collect())
}

/// The shell line a tmux pane runs: top, then how it ended and the terminal's modes after.
fn top_shell_line(args: &str) -> String {
    format!(
        "{} top {args}; echo top-exit=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 120",
        sockbox_bin()
    )
}

/// `sockbox top` as a person sees it, in tmux: a Python process sending 500 KB/s to itself on
/// loopback shows in the processes view and, after `2`, as a connection with non-zero rates;
/// `>` moves the sort column; `/` with a filter nobody matches empties the view and clearing
/// it brings the flow back; Enter drills into the process; `q` quits with the terminal back in
/// canonical mode with echo on.
#[test]
fn top_live_view_under_tmux_shows_a_flow_sorts_filters_and_quits() {
    const RATE: u64 = 500_000;
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("top_peer.py")).arg(RATE.to_string());
    let mut peer = Proc::spawn("top peer", cmd);
    let line = wait_for("the peer's description", WAIT, || {
        complete_lines(&peer.stdout()).into_iter().next()
    });
    let info: Value = serde_json::from_str(&line).unwrap();
    let pid = info["pid"].as_u64().unwrap();
    let (sport, lport) = (
        info["sender_port"].as_u64().unwrap(),
        info["listen_port"].as_u64().unwrap(),
    );
    let tmux = Tmux::start(120, 40, &top_shell_line(&format!("--tcp --port {lport}")));
    let owner = format!("python3 ({pid})");
    let shot = tmux.wait_screen("the sender's process with non-zero rates", |s| {
        screen_row(s, &owner).is_some_and(|r| r.len() >= 7 && r[5] != "0" && r[6] != "0")
    });
    assert!(shot.contains("1 Processes"), "{shot}");
    assert!(
        shot.contains(&format!("filter: --tcp --port {lport}")),
        "{shot}"
    );
    eprintln!("processes view:\n{shot}");

    tmux.keys(&["2"]);
    let flow = format!("127.0.0.1:{sport}");
    let shot = tmux.wait_screen("the flow with a non-zero send rate", |s| {
        s.contains("LOCAL") && screen_row(s, &flow).is_some_and(|r| r[0] == flow && r[5] != "0")
    });
    let row = screen_row(&shot, &flow).unwrap();
    assert_eq!(row[1], format!("127.0.0.1:{lport}"), "{shot}");
    assert_eq!(row[2], "python3", "{shot}");
    // The receiving end of the same flow: a non-zero receive rate.
    let back = format!("127.0.0.1:{lport}");
    assert!(
        shot.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .any(|r| r.len() > 4 && r[0] == back && r[1] == flow && r[4] != "0"),
        "{shot}"
    );
    eprintln!("connections view:\n{shot}");

    tmux.keys(&[">"]);
    tmux.wait_screen("the sort on RTT", |s| s.contains("sort (RTT)"));
    tmux.keys(&["<"]);
    tmux.wait_screen("the sort back on TX/s", |s| s.contains("sort (TX/s)"));

    // A filter nobody matches empties the view; an empty one shows every TCP socket again.
    tmux.keys(&["/", "C-u"]);
    tmux.text("--tcp --port 1");
    tmux.keys(&["Enter"]);
    tmux.wait_screen("the filter applied", |s| {
        s.lines()
            .any(|l| l.trim_end().ends_with("filter: --tcp --port 1"))
    });
    let shot = tmux.wait_screen("the flow gone", |s| !s.contains(&flow));
    assert!(shot.contains("LOCAL"), "{shot}");
    tmux.keys(&["/", "C-u"]);
    tmux.text("--port bogus");
    tmux.keys(&["Enter"]);
    tmux.wait_screen("a bad filter refused on the status line", |s| {
        s.contains("filter refused:")
    });
    tmux.keys(&["/", "C-u", "Enter"]);
    tmux.wait_screen("the flow back without a filter", |s| {
        screen_row(s, &flow).is_some_and(|r| r[0] == flow && r[5] != "0")
    });

    // Drill into the sender's process from the processes view.
    tmux.keys(&["1", "/", "C-u"]);
    tmux.text(&format!("--pid {pid}"));
    tmux.keys(&["Enter"]);
    let only = format!("filter: --pid {pid}");
    tmux.wait_screen("only the sender's process", |s| {
        s.contains(&only) && screen_row(s, &owner).is_some() && !s.contains("sampling...")
    });
    tmux.keys(&["Enter"]);
    let shot = tmux.wait_screen("the drilled connections", |s| {
        s.contains(&format!("only {owner}")) && s.contains(&flow)
    });
    assert!(shot.contains("2 Connections"), "{shot}");

    tmux.keys(&["q"]);
    let shot = tmux.wait_screen("top to exit and stty to run", |s| {
        s.contains("top-exit=") && s.contains("icanon")
    });
    assert!(shot.contains("top-exit=0"), "{shot}");
    let modes = screen_row(&shot, "icanon").unwrap_or_default();
    assert!(
        modes.contains(&"icanon".to_string()) && modes.contains(&"echo".to_string()),
        "terminal not restored: {shot}"
    );
    peer.close_stdin();
}

/// A terminal too small gets a message, not a broken screen; resized, the view draws; SIGTERM
/// ends top with 143 and the terminal restored.
#[test]
fn top_live_view_small_terminal_and_sigterm_restore_the_terminal() {
    let tmux = Tmux::start(60, 10, &top_shell_line(""));
    let shot = tmux.wait_screen("the too-small message", |s| {
        s.contains("terminal too small: 60x10")
    });
    eprintln!("{shot}");
    tmux.run(&["resize-window", "-t", "top", "-x", "120", "-y", "40"]);
    tmux.wait_screen("the view at 120x40", |s| s.contains("1 Processes"));
    // The shell's child is top.
    let sh = tmux.pane_pid();
    let top: u32 = wait_for("top's pid", WAIT, || {
        std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(top as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let shot = tmux.wait_screen("top to exit and stty to run", |s| {
        s.contains("top-exit=") && s.contains("icanon")
    });
    assert!(shot.contains("top-exit=143"), "{shot}");
    let modes = screen_row(&shot, "icanon").unwrap_or_default();
    assert!(
        modes.contains(&"icanon".to_string()) && modes.contains(&"echo".to_string()),
        "terminal not restored: {shot}"
    );
    assert!(
        !shot.contains("1 Processes"),
        "still the alternate screen: {shot}"
    );
}

/// Without a terminal on stdout and without --once/-n/--json: exit 2, one line.
#[test]
fn top_without_a_terminal_says_so_in_one_line() {
    let out = run_sockbox(&["top"], b"");
    assert_eq!(out.code, 2, "{}", out.stderr);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains("not a terminal"), "{}", out.stderr);
}
