//! Seeing and recording the traffic: `--dump` (text, hex, json), `--pcap` read back by the
//! real tshark, `--record`. Peers are Python's http.client and http.server over Unix sockets,
//! seqpacket and descriptor-passing clients (`tests/peers/traffic_peer.py`), and sockbox's own
//! echo and exec servers.

use std::io::Read;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;

use crate::util::*;
use crate::{assert_no_panic, one_line};

/// Run `traffic_peer.py ARGS` to its end; its stdout lines.
fn peer(args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("traffic_peer.py")).args(args);
    let mut p = Proc::spawn(&format!("traffic_peer {}", args.join(" ")), cmd);
    p.close_stdin();
    let code = p.wait_code(WAIT);
    assert_eq!(code, 0, "traffic_peer failed: {}", p.stderr());
    complete_lines(&p.stdout())
}

/// `tshark -r FILE [-Y FILTER] -T fields -e F...`: one line per packet, fields tab-separated.
fn tshark(file: &str, filter: Option<&str>, fields: &[&str]) -> Vec<String> {
    require_tool("tshark");
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", file]);
    for check in ["ip", "tcp", "udp"] {
        cmd.args(["-o", &format!("{check}.check_checksum:TRUE")]);
    }
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    cmd.args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let mut p = Proc::spawn(&format!("tshark {file}"), cmd);
    p.close_stdin();
    let code = p.wait_code(WAIT);
    assert_eq!(code, 0, "tshark failed: {}", p.stderr());
    complete_lines(&p.stdout())
}

/// Stop a server (SIGTERM: it exits 0 after writing what its views hold); its stderr.
fn stop(mut p: Proc) -> String {
    p.signal(Signal::SIGTERM);
    let code = p.wait_code(WAIT);
    let err = p.stderr();
    assert_no_panic(&err);
    assert_eq!(code, 0, "{err}");
    err
}

/// The Python HTTP server of `tests/peers/http_peer.py` on the Unix socket `path`.
fn http_server(path: &str) -> Proc {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("http_peer.py")).args(["http", path]);
    let p = Proc::spawn("http_peer", cmd);
    wait_for("http_peer ready", WAIT, || {
        complete_lines(&p.stdout())
            .into_iter()
            .find(|l| l.starts_with("ready"))
    });
    p
}

#[test]
fn pcap_of_http_over_a_unix_socket_is_dissected_by_tshark() {
    let dir = tempdir();
    let (srv, front, pcap) = (
        path_in(&dir, "srv.sock"),
        path_in(&dir, "front.sock"),
        path_in(&dir, "cap.pcapng"),
    );
    let _server = http_server(&srv);
    let relay = spawn_sockbox(&[
        "relay",
        &format!("unix:{front}"),
        &format!("unix:{srv}"),
        "--pcap",
        &pcap,
    ]);
    relay.wait_stderr("relaying");
    let got = peer(&["http", &front, "/_ping", "/status/404", "/status/201"]);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].starts_with("status 404"), "{got:?}");
    assert!(got[2].starts_with("status 201"), "{got:?}");
    stop(relay);

    let uris = tshark(&pcap, Some("http.request"), &["http.request.uri"]);
    assert_eq!(uris, ["/_ping", "/status/404", "/status/201"]);
    let codes = tshark(&pcap, Some("http.response"), &["http.response.code"]);
    assert_eq!(codes, ["404", "404", "201"]);
    let mut streams = tshark(&pcap, None, &["tcp.stream"]);
    streams.sort();
    streams.dedup();
    assert_eq!(
        streams.len(),
        3,
        "one TCP stream per connection: {streams:?}"
    );
    // The interface is the real address; TCP found no checksum or sequence problem.
    let ifaces = tshark(&pcap, None, &["frame.interface_name"]);
    assert!(
        ifaces.iter().all(|i| *i == format!("unix:{srv}")),
        "{ifaces:?}"
    );
    let bad = tshark(
        &pcap,
        Some("tcp.analysis.flags || tcp.checksum.status == 0 || ip.checksum.status == 0"),
        &["frame.number"],
    );
    assert!(bad.is_empty(), "tshark flagged packets {bad:?}");
    // Direction flags: requests inbound (1), responses outbound (2).
    let dirs = tshark(&pcap, Some("http"), &["frame.packet_flags_direction"]);
    assert_eq!(dirs.len(), 6, "{dirs:?}");
    assert_eq!(
        dirs.iter().filter(|d| d.ends_with('1')).count(),
        3,
        "{dirs:?}"
    );
}

#[test]
fn pcap_of_a_seqpacket_relay_has_one_udp_datagram_per_message() {
    let dir = tempdir();
    let (back, front, pcap) = (
        path_in(&dir, "back.sock"),
        path_in(&dir, "front.sock"),
        path_in(&dir, "cap.pcapng"),
    );
    let echo = spawn_sockbox(&["listen", &format!("seqpacket:{back}"), "--keep", "--echo"]);
    wait_listening(&echo);
    let relay = spawn_sockbox(&[
        "relay",
        &format!("seqpacket:{front}"),
        &format!("seqpacket:{back}"),
        "--pcap",
        &pcap,
        "--pcap-port",
        "9999",
    ]);
    relay.wait_stderr("relaying");
    // (An empty seqpacket message reads as end of stream: none is sent.)
    let lens = ["1", "100", "5000", "60000"];
    let mut args = vec!["seqpacket", front.as_str()];
    args.extend(lens);
    let got = peer(&args);
    assert_eq!(got, ["echo 1", "echo 100", "echo 5000", "echo 60000"]);
    stop(relay);
    let rows = tshark(
        &pcap,
        Some("udp"),
        &["udp.length", "udp.srcport", "udp.dstport"],
    );
    assert_eq!(rows.len(), 2 * lens.len(), "{rows:?}");
    for (i, row) in rows.iter().enumerate() {
        // Each message, then its echo, with its exact length.
        let len = lens[i / 2].parse::<usize>().unwrap() + 8;
        let w: Vec<&str> = row.split('\t').collect();
        assert_eq!(w[0], len.to_string(), "datagram {i}: {row}");
        let port = if i % 2 == 0 { w[2] } else { w[1] };
        assert_eq!(port, "9999", "B is the pcap port: {row}");
    }
    drop(echo);
}

#[test]
fn passed_descriptors_show_in_the_dump_and_the_pcap_comments() {
    let dir = tempdir();
    let (back, front, pcap, log) = (
        path_in(&dir, "back.sock"),
        path_in(&dir, "front.sock"),
        path_in(&dir, "cap.pcapng"),
        path_in(&dir, "dump.txt"),
    );
    let f1 = write_file(dir.path(), "first.txt", b"one");
    let f2 = write_file(dir.path(), "second.txt", b"two!");
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("traffic_peer.py"))
        .args(["fd-server", &back]);
    let mut server = Proc::spawn("fd-server", cmd);
    wait_for("fd-server ready", WAIT, || {
        complete_lines(&server.stdout()).into_iter().next()
    });
    let relay = spawn_sockbox(&[
        "relay",
        "--pass-fds",
        &format!("unix:{front}"),
        &format!("unix:{back}"),
        "--dump",
        "--dump-to",
        &log,
        "--pcap",
        &pcap,
    ]);
    relay.wait_stderr("relaying");
    let (p1, p2) = (f1.to_str().unwrap(), f2.to_str().unwrap());
    assert_eq!(peer(&["fds", &front, p1, p2]), ["sent 2"]);
    assert_eq!(server.wait_code(WAIT), 0);
    assert_eq!(complete_lines(&server.stdout())[1], "got 3 2");
    stop(relay);

    let dump = std::fs::read_to_string(&log).unwrap();
    assert!(dump.contains("[1 > fds] 2 descriptors"), "{dump}");
    let fd0 = format!("[1 > fd] [0] file  {p1}  read-only");
    let fd1 = format!("[1 > fd] [1] file  {p2}  read-only");
    assert!(dump.contains(&fd0) && dump.contains(&fd1), "{dump}");
    assert!(dump.contains("[1 >] fds"), "{dump}");
    let comments = tshark(&pcap, Some("tcp.len > 0"), &["frame.comment"]);
    let c = comments.join("\n");
    assert!(
        c.contains("2 descriptors passed (SCM_RIGHTS)") && c.contains(p1) && c.contains(p2),
        "{c}"
    );
}

#[test]
fn two_interleaved_connections_each_line_with_its_number() {
    let dir = tempdir();
    let (back, front) = (path_in(&dir, "back.sock"), path_in(&dir, "front.sock"));
    let echo = spawn_sockbox(&["listen", &format!("unix:{back}"), "--keep", "--echo"]);
    wait_listening(&echo);
    let relay = spawn_sockbox(&[
        "-q",
        "relay",
        &format!("unix:{front}"),
        &format!("unix:{back}"),
        "--dump",
    ]);
    wait_path(std::path::Path::new(&front));
    let mut c1 = unix_client(std::path::Path::new(&front));
    relay.wait_stderr("[1 open]");
    let mut c2 = unix_client(std::path::Path::new(&front));
    relay.wait_stderr("[2 open]");
    let talk = |c: &mut std::os::unix::net::UnixStream, what: &[u8]| {
        std::io::Write::write_all(c, what).unwrap();
        let mut got = vec![0u8; what.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, what);
    };
    talk(&mut c1, b"first one\n");
    talk(&mut c2, b"second one\r\n\x00\n");
    talk(&mut c1, b"first two\n");
    drop(c1);
    drop(c2);
    relay.wait_stderr("[2 close]");
    relay.wait_stderr("[1 close]");
    let err = stop(relay);
    let dump: Vec<&str> = err.lines().filter(|l| !l.starts_with("sockbox:")).collect();
    // Every dump line names its connection; the connections alternate.
    let ids: Vec<&str> = dump
        .iter()
        .map(|l| {
            let start = l.find('[').unwrap_or_else(|| panic!("no [N in {l:?}"));
            l[start + 1..].split([' ', ']']).next().unwrap()
        })
        .collect();
    assert!(ids.iter().all(|i| *i == "1" || *i == "2"), "{err}");
    let order: Vec<&str> = dump
        .iter()
        .filter(|l| l.starts_with('[') && l.contains("] ") && !l.contains(" fd]"))
        .filter(|l| l.contains(" >] "))
        .copied()
        .collect();
    assert_eq!(
        order,
        [
            "[1 >] first one",
            "[2 >] second one\\r",
            "[2 >] \\x00",
            "[1 >] first two"
        ],
        "{err}"
    );
    assert!(err.contains("[1 <] first one"), "{err}");
    drop(echo);
}

#[test]
fn json_dump_has_one_object_per_event() {
    let dir = tempdir();
    let back = path_in(&dir, "back.sock");
    let log = path_in(&dir, "events.json");
    let echo = spawn_sockbox(&["listen", &format!("unix:{back}"), "--keep", "--echo"]);
    wait_listening(&echo);
    let data = b"hello \xff\x00 world";
    let out = run_sockbox(
        &[
            "connect",
            &format!("unix:{back}"),
            "--dump=json",
            "--dump-to",
            &log,
        ],
        data,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, data);
    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"open"), "{text}");
    assert_eq!(kinds.last(), Some(&"close"), "{text}");
    assert!(kinds.contains(&"shutdown"), "{text}");
    let mut sent = Vec::new();
    let mut back_bytes = Vec::new();
    for e in &events {
        assert_eq!(e["conn"], 1);
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
        if e["event"] == "data" {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD
                .decode(e["base64"].as_str().unwrap())
                .unwrap();
            assert_eq!(e["length"], b.len());
            // A text field exactly when the chunk is UTF-8.
            assert_eq!(
                e.get("text").is_some(),
                std::str::from_utf8(&b).is_ok(),
                "{e}"
            );
            match e["dir"].as_str().unwrap() {
                "a2b" => sent.extend(b),
                "b2a" => back_bytes.extend(b),
                d => panic!("direction {d}"),
            }
        }
    }
    assert_eq!(sent, data);
    assert_eq!(back_bytes, data);
    let close = events.last().unwrap();
    assert_eq!(close["a2b"]["bytes"], data.len());
    assert_eq!(close["b2a"]["bytes"], data.len());
    drop(echo);
}

#[test]
fn record_files_hash_to_what_each_peer_sent_and_replay_one_side() {
    let dir = tempdir();
    let rec = dir.path().join("rec");
    let back = path_in(&dir, "back.sock");
    let front = path_in(&dir, "front.sock");
    let server = spawn_sockbox(&[
        "listen",
        &format!("unix:{back}"),
        "--keep",
        "--exec",
        "sha256sum",
    ]);
    wait_listening(&server);
    let relay = spawn_sockbox(&[
        "relay",
        &format!("unix:{front}"),
        &format!("unix:{back}"),
        "--record",
        rec.to_str().unwrap(),
    ]);
    relay.wait_stderr("relaying");
    let data = random_bytes(3 << 20);
    let out = run_sockbox(&["connect", &format!("unix:{front}")], &data);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let answer = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(answer.starts_with(&sha256(&data)), "{answer}");
    relay.wait_stderr("closed");
    // Replay the client's side from its recording.
    let recorded = std::fs::read(rec.join("1-a2b.bin")).unwrap();
    let mut replay = sockbox_cmd(["connect", &format!("unix:{front}")]);
    replay.stdin(std::fs::File::open(rec.join("1-a2b.bin")).unwrap());
    replay.stdout(Stdio::piped()).stderr(Stdio::piped());
    let replayed = replay.output().unwrap();
    assert!(replayed.status.success());
    assert_eq!(replayed.stdout, out.stdout);
    stop(relay);
    assert_eq!(sha256(&recorded), sha256(&data));
    assert_eq!(std::fs::read(rec.join("1-b2a.bin")).unwrap(), out.stdout);
    assert_eq!(std::fs::read(rec.join("2-a2b.bin")).unwrap(), data);
    assert_eq!(std::fs::read(rec.join("2-b2a.bin")).unwrap(), out.stdout);
    drop(server);
}

#[test]
fn hex_dump_round_trips_through_the_text_parser_offsets_per_direction() {
    let dir = tempdir();
    let back = path_in(&dir, "back.sock");
    let echo = spawn_sockbox(&["listen", &format!("unix:{back}"), "--keep", "--echo"]);
    wait_listening(&echo);
    let data = random_bytes(40_000);
    let out = run_sockbox(
        &[
            "-q",
            "connect",
            &format!("unix:{back}"),
            "--dump=hex",
            "--time",
            "rel",
        ],
        &data,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let chunks = sockbox_net::tap::text::parse(&out.stderr).unwrap();
    let a2b: Vec<u8> = chunks
        .iter()
        .filter(|c| c.dir == sockbox_net::tap::Dir::AtoB)
        .flat_map(|c| c.data.clone())
        .collect();
    assert_eq!(a2b, data);
    // The last hex line of A to B is at the end of 40000 bytes, across chunks.
    let last = out
        .stderr
        .lines()
        .rfind(|l| l.starts_with("[1 >] "))
        .unwrap();
    assert!(last.starts_with("[1 >] 00009c3"), "{last}");
    assert!(out
        .stderr
        .lines()
        .next()
        .unwrap()
        .starts_with("+0.000000 [1 open]"));
    drop(echo);
}

#[test]
fn pcap_path_that_cannot_be_written_fails_before_anything_is_bound() {
    let dir = tempdir();
    let sock = path_in(&dir, "front.sock");
    let out = run_sockbox(
        &[
            "relay",
            &format!("unix:{sock}"),
            "unix:/nonexistent.sock",
            "--pcap",
            "/nonexistent/dir/cap.pcapng",
        ],
        b"",
    );
    assert_eq!(out.code, 1);
    let line = one_line(&out);
    assert!(
        line.starts_with("sockbox: --pcap /nonexistent/dir/cap.pcapng"),
        "{line}"
    );
    assert!(
        !std::path::Path::new(&sock).exists(),
        "bound before failing"
    );
    let out = run_sockbox(&["connect", "unix:/x.sock", "--pcap", "-"], b"");
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn a_pcap_reader_that_goes_away_ends_the_capture_not_the_relay() {
    let dir = tempdir();
    let back = path_in(&dir, "back.sock");
    let front = path_in(&dir, "front.sock");
    let echo = spawn_sockbox(&["listen", &format!("unix:{back}"), "--keep", "--echo"]);
    wait_listening(&echo);
    let mut cmd = sockbox_cmd([
        "relay",
        &format!("unix:{front}"),
        &format!("unix:{back}"),
        "--pcap",
        "-",
    ]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // Read the capture's first blocks, then go away.
    let mut pcap = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let child = Kill(child);
    let err = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let collect = {
        let err = err.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let stderr_text = || String::from_utf8_lossy(&err.lock().unwrap()).into_owned();
    // The header blocks are written before the relay listens.
    wait_for("the relay to listen", WAIT, || {
        stderr_text().contains("relaying").then_some(())
    });
    let mut head = [0u8; 4];
    pcap.read_exact(&mut head).unwrap();
    assert_eq!(head, [0x0a, 0x0d, 0x0d, 0x0a], "a pcapng section header");
    drop(pcap);
    for round in 0..3 {
        let data = random_bytes(2 << 20);
        let out = run_sockbox(&["connect", &format!("unix:{front}")], &data);
        assert_eq!(out.code, 0, "round {round}: {}", out.stderr);
        assert_eq!(sha256(&out.stdout), sha256(&data), "round {round}");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        Signal::SIGTERM,
    )
    .unwrap();
    collect.join().unwrap();
    let err = stderr_text();
    assert_no_panic(&err);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("--pcap on stdout"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("the relay goes on"), "{err}");
    drop(child);
    drop(echo);
}

/// socat's dump with the timestamps replaced by `TIME` (socat 1.7.4 prints 9 fraction digits,
/// sockbox 6, as socat does since 1.8.1.1); panics on a header whose time is not a timestamp.
fn socat_dump_normalized(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("  length=") {
        // The header: "> YYYY/MM/DD HH:MM:SS.FFFFFF[FFF]" just before.
        let head = &rest[..i];
        let start = head
            .rfind("> ")
            .into_iter()
            .chain(head.rfind("< "))
            .max()
            .unwrap_or_else(|| panic!("no direction before {:?}", &rest[..i + 20]));
        let stamp = &head[start + 2..];
        let (date, time) = stamp.split_once(' ').unwrap();
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        let d: Vec<&str> = date.split('/').collect();
        assert!(
            d.len() == 3 && d.iter().all(|x| digits(x)),
            "date {stamp:?}"
        );
        let (hms, frac) = time.split_once('.').unwrap();
        assert!(hms.split(':').all(digits) && digits(frac), "time {stamp:?}");
        assert!(frac.len() == 6 || frac.len() == 9, "fraction {stamp:?}");
        out.push_str(&head[..start + 2]);
        out.push_str("TIME");
        rest = &rest[i..];
        out.push_str("  length=");
        rest = &rest["  length=".len()..];
    }
    out.push_str(rest);
    out
}

/// Run `[sockbox] socat FLAG STDIO EXEC:cat`, writing `chunks` one at a time (each echoed back
/// before the next); its stderr without sockbox's own report lines.
fn socat_run(sockbox: bool, flag: &str, chunks: &[&[u8]]) -> String {
    let args = [flag, "STDIO", "EXEC:cat"];
    let mut p = if sockbox {
        spawn_sockbox(&[&["-q", "socat"][..], &args].concat())
    } else {
        require_tool("socat");
        let mut c = Command::new("socat");
        c.args(args);
        Proc::spawn("socat", c)
    };
    let mut total = 0;
    for c in chunks {
        p.write(c);
        total += c.len();
        p.wait_stdout_len(total);
    }
    p.close_stdin();
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
    p.stderr()
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("sockbox:") && !l.contains("Running as user"))
        .collect()
}

#[test]
fn sockbox_socat_v_and_x_print_socats_headers_for_the_same_chunks() {
    let chunks: [&[u8]; 4] = [
        b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        b"ab\x01\x02\tc\\d\xff\n",
        b"no newline",
        b"\x00\x00binary\x7f",
    ];
    for flag in ["-v", "-x"] {
        let theirs = socat_dump_normalized(&socat_run(false, flag, &chunks));
        let ours = socat_dump_normalized(&socat_run(true, flag, &chunks));
        let headers = |s: &str| s.matches("  length=").count();
        assert_eq!(headers(&theirs), 8, "socat {flag}:\n{theirs}");
        assert_eq!(
            ours, theirs,
            "sockbox socat {flag} differs from socat {flag}"
        );
    }
}

#[test]
fn a_reset_is_an_event_in_the_dump_and_an_rst_in_the_pcap() {
    let dir = tempdir();
    let (back, pcap) = (path_in(&dir, "back.sock"), path_in(&dir, "cap.pcapng"));
    let echo = spawn_sockbox(&["listen", &format!("unix:{back}"), "--keep", "--echo"]);
    wait_listening(&echo);
    let port = free_port();
    let relay = spawn_sockbox(&[
        "relay",
        &format!("tcp:127.0.0.1:{port}"),
        &format!("unix:{back}"),
        "--dump",
        "--pcap",
        &pcap,
    ]);
    relay.wait_stderr("relaying");
    // A client that sends, reads the echo, then closes with SO_LINGER 0: a TCP reset.
    let script = format!(
        "import socket, struct\n\
         s = socket.create_connection(('127.0.0.1', {port}), timeout=20)\n\
         s.sendall(b'ping\\n')\n\
         assert s.recv(16) == b'ping\\n'\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
         s.close()\n"
    );
    let mut c = Command::new(python());
    c.args(["-c", &script]);
    let mut client = Proc::spawn("resetting client", c);
    client.close_stdin();
    assert_eq!(client.wait_code(WAIT), 0, "{}", client.stderr());
    let line = relay.wait_stderr("[1 reset]");
    assert!(line.contains("by A") && line.contains("reset"), "{line}");
    relay.wait_stderr("[1 close]");
    stop(relay);
    let rst = tshark(
        &pcap,
        Some("tcp.flags.reset == 1"),
        &["tcp.srcport", "frame.comment"],
    );
    assert_eq!(rst.len(), 1, "{rst:?}");
    assert!(!rst[0].starts_with("80\t"), "the RST comes from A: {rst:?}");
    drop(echo);
}

#[test]
fn a_dump_reader_that_reads_nothing_ends_the_dump_not_the_relay() {
    let dir = tempdir();
    let (back, front) = (path_in(&dir, "back.sock"), path_in(&dir, "front.sock"));
    let fifo = dir.path().join("dump.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // A reader that opens the FIFO and never reads: the pipe fills, the dump's writes block.
    let mut c = Command::new(python());
    c.args([
        "-c",
        "import sys, time\nf = open(sys.argv[1], 'rb')\nprint('open', flush=True)\ntime.sleep(60)\n",
    ])
    .arg(&fifo);
    let reader = Proc::spawn("stuck reader", c);
    let echo = spawn_sockbox(&["listen", &format!("unix:{back}"), "--keep", "--echo"]);
    wait_listening(&echo);
    let relay = spawn_sockbox(&[
        "relay",
        &format!("unix:{front}"),
        &format!("unix:{back}"),
        "--dump=hex",
        "--dump-to",
        fifo.to_str().unwrap(),
    ]);
    relay.wait_stderr("relaying");
    wait_for("the reader to open the FIFO", WAIT, || {
        complete_lines(&reader.stdout()).into_iter().next()
    });
    // Far more dump than the pipe and the queue hold.
    for round in 0..2 {
        let data = random_bytes(8 << 20);
        let out = run_sockbox(&["connect", &format!("unix:{front}")], &data);
        assert_eq!(out.code, 0, "round {round}: {}", out.stderr);
        assert_eq!(sha256(&out.stdout), sha256(&data), "round {round}");
    }
    let warning = relay.wait_stderr("took nothing for 2s");
    assert!(warning.contains("the relay goes on"), "{warning}");
    let err = stop(relay);
    assert_eq!(err.matches("took nothing").count(), 1, "{err}");
    drop(reader);
    drop(echo);
}

/// The process name the kernel gives `pid` (`/proc/PID/comm`), as sockbox shows it.
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/comm: {e}"))
        .trim_end()
        .to_string()
}

/// `pid N (NAME) uid U gid G`: a Unix peer (this test's user) as the dump and the capture
/// name it.
fn named(pid: u32, name: &str) -> String {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    format!("pid {pid} ({name}) uid {uid} gid {gid}")
}

#[test]
fn relay_names_both_unix_peers_in_the_json_dump_and_the_pcap_even_when_quiet() {
    require_tool("curl");
    let dir = tempdir();
    let (srv, front, pcap, log) = (
        path_in(&dir, "srv.sock"),
        path_in(&dir, "front.sock"),
        path_in(&dir, "cap.pcapng"),
        path_in(&dir, "events.json"),
    );
    let server = http_server(&srv);
    let server_pid = server.pid();
    let server_is = named(server_pid, &comm(server_pid));
    // -q: no peer lines on stderr, but the tap still names both processes.
    let relay = spawn_sockbox(&[
        "-q",
        "relay",
        &format!("unix:{front}"),
        &format!("unix:{srv}"),
        "--dump=json",
        "--dump-to",
        &log,
        "--pcap",
        &pcap,
    ]);
    wait_path(std::path::Path::new(&front));
    let mut c = Command::new("curl");
    c.args(["-s", "--max-time", "20", "--unix-socket", &front])
        .arg("http://docker/status/201");
    let mut curl = Proc::spawn("curl", c);
    let curl_pid = curl.pid();
    curl.close_stdin();
    assert_eq!(curl.wait_code(WAIT), 0, "{}", curl.stderr());
    stop(relay);

    let text = std::fs::read_to_string(&log).unwrap();
    let open: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(open["event"], "open", "{text}");
    let b = &open["b"]["peer"];
    assert_eq!(b["kind"], "unix", "{open}");
    assert_eq!(b["name"], srv.as_str(), "{open}");
    assert_eq!(b["cred"]["pid"], server_pid, "B is the server: {open}");
    assert_eq!(b["cred"]["process"], comm(server_pid).as_str(), "{open}");
    assert_eq!(b["cred"]["uid"], nix::unistd::getuid().as_raw(), "{open}");
    let a = &open["a"]["peer"]["cred"];
    assert_eq!(a["pid"], curl_pid, "A is curl: {open}");
    assert_eq!(a["process"], "curl", "{open}");

    // The capture's connection comment names both; B's packets name their sender.
    let first = tshark(&pcap, Some("frame.number == 1"), &["frame.comment"]);
    let want = format!("B unix:{srv} ({srv} {server_is})");
    assert!(first[0].contains(&want), "{first:?} lacks {want}");
    assert!(
        first[0].contains(&format!("A pid {curl_pid} (curl)")),
        "{first:?}"
    );
    let from_b = tshark(
        &pcap,
        Some("tcp.len > 0 && tcp.srcport == 80"),
        &["frame.comment"],
    );
    assert!(!from_b.is_empty(), "no data from B in the capture");
    assert!(
        from_b
            .iter()
            .all(|c| c.contains(&format!("pid {server_pid} ("))),
        "B's packets name the server: {from_b:?}"
    );
}

#[test]
fn relay_names_the_seqpacket_daemon_behind_it_as_docs_traffic_md_shows() {
    let dir = tempdir();
    let (back, front) = (path_in(&dir, "ctl.sock"), path_in(&dir, "ctl-spy.sock"));
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("traffic_peer.py"))
        .args(["seqpacket-server", &back]);
    let mut daemon = Proc::spawn("seqpacket-server", cmd);
    wait_for("seqpacket-server ready", WAIT, || {
        complete_lines(&daemon.stdout()).into_iter().next()
    });
    let python_name = comm(daemon.pid());
    let daemon_is = named(daemon.pid(), &python_name);
    let relay = spawn_sockbox(&[
        "relay",
        &format!("seqpacket:{front}"),
        &format!("seqpacket:{back}"),
        "--dump=auto",
        "--time",
        "delta",
    ]);
    relay.wait_stderr("relaying");
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("traffic_peer.py"))
        .args(["seqpacket", &front, "3", "20"]);
    let mut client = Proc::spawn("seqpacket client", cmd);
    // The same interpreter as the daemon (its name read now could be the test's: not yet
    // exec'd).
    let client_is = named(client.pid(), &python_name);
    client.close_stdin();
    assert_eq!(client.wait_code(WAIT), 0, "{}", client.stderr());
    assert_eq!(complete_lines(&client.stdout()), ["echo 3", "echo 20"]);
    assert_eq!(daemon.wait_code(WAIT), 0, "{}", daemon.stderr());
    relay.wait_stderr("[1 close]");
    let err = stop(relay);
    // docs/traffic.md's "A seqpacket daemon" open line, with this run's processes.
    let open = format!(
        "+0.000000 [1 open] {client_is} <-> seqpacket:{back} ({back} {daemon_is}), messages"
    );
    assert!(err.lines().any(|l| l == open), "no line {open:?} in\n{err}");
    assert!(err.contains("[1 close] > 23 bytes in 2 messages"), "{err}");
}

#[test]
fn listen_echo_dump_and_pcap_show_the_echo_coming_back() {
    let dir = tempdir();
    let pcap = path_in(&dir, "echo.pcapng");
    let listen = spawn_sockbox(&[
        "listen",
        "tcp:127.0.0.1:0",
        "--echo",
        "--dump",
        "--pcap",
        &pcap,
    ]);
    let port = announced_port(&listen);
    let mut c = tcp_client(port);
    for what in [&b"one\n"[..], b"two\n"] {
        std::io::Write::write_all(&mut c, what).unwrap();
        let mut got = vec![0u8; what.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, what);
    }
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&c, "the echo's end"), b"");
    let mut listen = listen;
    assert_eq!(listen.wait_code(WAIT), 0, "{}", listen.stderr());
    let err = listen.stderr();
    assert_no_panic(&err);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("[1 ") || l.contains("shutdown]"))
        .map(|l| {
            l.split_once(' ')
                .filter(|_| !l.starts_with('['))
                .map_or(l, |x| x.1)
        })
        .collect();
    assert_eq!(
        lines,
        [
            "[1 >] one",
            "[1 <] one",
            "[1 >] two",
            "[1 <] two",
            "[1 > shutdown] A ended its side (half-close)",
            "[1 < shutdown] B ended its side (half-close)",
        ],
        "{err}"
    );
    assert!(err.contains("[1 close] > 8 bytes, < 8 bytes"), "{err}");
    // The capture has both ways too: the bytes sent, then the same bytes back, and a FIN each.
    let rows = tshark(
        &pcap,
        Some("tcp.len > 0 || tcp.flags.fin == 1"),
        &["tcp.srcport", "tcp.payload", "tcp.flags.fin"],
    );
    let from_b: Vec<&String> = rows.iter().filter(|r| r.starts_with("80\t")).collect();
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert_eq!(from_b.len(), 3, "{rows:?}");
    assert!(from_b[0].replace(':', "").contains("6f6e650a"), "{rows:?}");
}

#[test]
fn connect_echo_json_dump_has_the_echoed_bytes_as_b_to_a() {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    // The peer says hello, reads its echo, ends its side and waits for the echo's end.
    let peer = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        std::io::Write::write_all(&mut s, b"hello\n").unwrap();
        let mut got = [0u8; 6];
        s.read_exact(&mut got).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        (got, read_to_end(&s, "connect --echo's end"))
    });
    let out = run_sockbox(
        &[
            "connect",
            &format!("tcp:127.0.0.1:{port}"),
            "--echo",
            "--dump=json",
        ],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (got, rest) = peer.join().unwrap();
    assert_eq!((&got, rest.as_slice()), (b"hello\n", &b""[..]));
    let events: Vec<serde_json::Value> = out
        .stderr_lines()
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<String> = events
        .iter()
        .map(|e| match e["event"].as_str().unwrap() {
            "data" => format!("data {} {}", e["dir"], e["text"]),
            "shutdown" => format!("shutdown {}", e["dir"]),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        seen,
        [
            "open",
            r#"data "a2b" "hello\n""#,
            r#"data "b2a" "hello\n""#,
            r#"shutdown "a2b""#,
            r#"shutdown "b2a""#,
            "close"
        ],
        "{}",
        out.stderr
    );
    assert_eq!(events[5]["b2a"]["bytes"], 6);
}
