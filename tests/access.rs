//! Access control of IP listeners (`--allow-ip`, `--deny-ip`, their `-file` forms) and the cap
//! on clients served at once (`--max-conns`, `--max-conns-refuse`), with real clients on
//! 127.0.0.1 and ::1. A dual-stack `tcp:0`/`udp:0` listener sees its IPv4 clients as
//! `::ffff:127.0.0.1`, which the rules match as IPv4.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};

use nix::sys::signal::Signal;

use crate::util::*;

/// A TCP client to `ip`:`port` (`ip` is 127.0.0.1 or ::1), with timeouts as failure bounds.
fn client(ip: &str, port: u16) -> TcpStream {
    let ip: std::net::IpAddr = ip.parse().unwrap();
    let s = TcpStream::connect((ip, port)).unwrap_or_else(|e| panic!("connect {ip}:{port}: {e}"));
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// `data` comes back from an echo server.
fn echoes(s: &mut TcpStream, data: &[u8]) {
    s.write_all(data).unwrap();
    let mut back = vec![0u8; data.len()];
    s.read_exact(&mut back)
        .unwrap_or_else(|e| panic!("echo of {data:?}: {e}"));
    assert_eq!(back, data);
}

/// The server closes `s` without answering: whatever it sends, it reads end of stream or a
/// reset, never an echo, and not the read timeout.
fn shut_out(s: &mut TcpStream, data: &[u8]) {
    // The write may already meet the reset: that is a refusal too.
    let _ = s.write_all(data);
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => assert!(got.is_empty(), "a refused client got {got:?} back"),
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "a refused client should be closed at once: {e}"
        ),
    }
}

/// How the server names a client's address: IPv4 clients of a dual-stack socket are mapped.
fn dual_stack_name(s: &TcpStream) -> String {
    match s.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => format!("[::ffff:{}]:{}", a.ip(), a.port()),
        a => a.to_string(),
    }
}

/// Stop `server` with SIGTERM (exit 0) and return its stderr.
fn stop(mut server: Proc) -> String {
    server.signal(Signal::SIGTERM);
    assert_eq!(server.wait_code(WAIT), 0, "{}", server.stderr());
    server.stderr()
}

#[test]
fn allow_ip_matches_ipv4_clients_of_a_dual_stack_listener() {
    let server = spawn_sockbox(&[
        "listen",
        "tcp:0",
        "--keep",
        "--echo",
        "--allow-ip",
        "127.0.0.0/8",
    ]);
    let port = announced_port(&server);

    let mut v6 = client("::1", port);
    let v6_name = dual_stack_name(&v6);
    shut_out(&mut v6, b"from ::1");
    let line = server.wait_stderr(&format!("refused {v6_name}"));
    assert!(
        line.ends_with(&format!("refused {v6_name}: not in --allow-ip 127.0.0.0/8")),
        "{line}"
    );

    let mut v4 = client("127.0.0.1", port);
    echoes(&mut v4, b"from 127.0.0.1");
    drop(v4);
    server.wait_stderr("closed: 14 bytes in");

    let err = stop(server);
    assert_eq!(err.matches("refused").count(), 1, "{err}");
    // The refused client was no connection and none of its bytes was read.
    assert_eq!(err.matches("connection from").count(), 1, "{err}");
    assert!(
        !err.contains(&format!("connection from {v6_name}")),
        "{err}"
    );
}

#[test]
fn deny_ip_wins_over_allow_ip() {
    let server = spawn_sockbox(&[
        "listen",
        "tcp:0",
        "--keep",
        "--echo",
        "--allow-ip",
        "127.0.0.0/8",
        "--allow-ip",
        "::1",
        "--deny-ip",
        "127.0.0.1",
    ]);
    let port = announced_port(&server);

    let mut v4 = client("127.0.0.1", port);
    let v4_name = dual_stack_name(&v4);
    shut_out(&mut v4, b"denied");
    let line = server.wait_stderr(&format!("refused {v4_name}"));
    assert!(line.ends_with("in --deny-ip 127.0.0.1/32"), "{line}");

    let mut v6 = client("::1", port);
    echoes(&mut v6, b"allowed");
    drop(v6);
    server.wait_stderr("closed: 7 bytes in");
    let err = stop(server);
    assert_eq!(err.matches("connection from").count(), 1, "{err}");
}

#[test]
fn range_files_allow_and_deny_and_a_bad_line_is_a_usage_error() {
    let dir = tempdir();
    let allow = write_file(
        dir.path(),
        "allow.txt",
        b"# who may connect\n\n::1        # this host, IPv6\n127.0.0.0/8\n",
    );
    let deny = write_file(dir.path(), "deny.txt", b"  127.0.0.1/32  \n# that's all\n");
    let server = spawn_sockbox(&[
        "listen",
        "tcp:0",
        "--keep",
        "--echo",
        "--allow-ip-file",
        allow.to_str().unwrap(),
        "--deny-ip-file",
        deny.to_str().unwrap(),
    ]);
    let port = announced_port(&server);
    let mut v4 = client("127.0.0.1", port);
    shut_out(&mut v4, b"denied by file");
    server.wait_stderr("in --deny-ip 127.0.0.1/32");
    let mut v6 = client("::1", port);
    echoes(&mut v6, b"allowed by file");
    drop(v6);
    server.wait_stderr("closed: 15 bytes in");
    let err = stop(server);
    assert_eq!(err.matches("connection from").count(), 1, "{err}");

    let bad = write_file(
        dir.path(),
        "bad.txt",
        b"10.0.0.0/8\n# fine so far\n10.0.0.0/40\n",
    );
    let out = run_sockbox(
        &[
            "relay",
            "tcp:127.0.0.1:0",
            "tcp:127.0.0.1:9",
            "--deny-ip-file",
            bad.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(&format!("--deny-ip-file {}:3:", bad.display()))
            && lines[0].contains("10.0.0.0/40"),
        "{}",
        lines[0]
    );
}

#[test]
fn relay_refuses_by_address_before_connecting_upstream() {
    let upstream = EchoServer::start("tcp4", "127.0.0.1:0");
    let mut relay = spawn_sockbox(&[
        "relay",
        "tcp:0",
        &format!("tcp:127.0.0.1:{}", upstream.port),
        "--deny-ip",
        "::1/128",
        "--stats",
        "--json",
    ]);
    let port = announced_port(&relay);
    let mut refused = client("::1", port);
    shut_out(&mut refused, b"never relayed");
    relay.wait_stderr("in --deny-ip ::1/128");
    let mut through = client("127.0.0.1", port);
    echoes(&mut through, b"relayed");
    drop(through);
    relay.wait_stderr("closed: 7 bytes in");
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0, "{}", relay.stderr());
    let stats: serde_json::Value = serde_json::from_slice(&relay.stdout()).unwrap();
    assert_eq!(
        stats["connections"], 1,
        "the refused client is not a connection"
    );
    assert_eq!(stats["bytes_in"], 7);
}

/// A UDP socket on `ip`, connected to the listener, with a read timeout as failure bound.
fn udp_peer(ip: &str, port: u16) -> UdpSocket {
    let ip: std::net::IpAddr = ip.parse().unwrap();
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.connect((ip, port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

fn udp_echoes(s: &UdpSocket, data: &[u8]) {
    s.send(data).unwrap();
    let mut buf = [0u8; 2048];
    let n = s
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("echo of {data:?}: {e}"));
    assert_eq!(&buf[..n], data);
}

/// Nothing is waiting to be read on `s` (checked without waiting).
fn udp_nothing_arrived(s: &UdpSocket) {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    match s.recv(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a refused UDP peer got an answer: {other:?}"),
    }
}

#[test]
fn udp_datagrams_from_a_refused_source_are_dropped_and_logged_once() {
    let server = spawn_sockbox(&["listen", "udp:0", "--keep", "--echo", "--allow-ip", "::1"]);
    let port = announced_port(&server);
    let v4 = udp_peer("127.0.0.1", port);
    let v4_name = format!("[::ffff:127.0.0.1]:{}", v4.local_addr().unwrap().port());
    for i in 0..3 {
        v4.send(format!("refused {i}").as_bytes()).unwrap();
    }
    // Sent after those three, so the listener has judged them by the time this is answered.
    let v6 = udp_peer("::1", port);
    udp_echoes(&v6, b"let in");
    server.wait_stderr(&format!("refused {v4_name}: not in --allow-ip ::1/128"));
    server.wait_stderr("connection from [::1]");
    udp_nothing_arrived(&v4);
    let err = stop(server);
    assert_eq!(err.matches("refused").count(), 1, "once per source:\n{err}");
    assert!(
        !err.contains(&format!("connection from {v4_name}")),
        "{err}"
    );
}

#[test]
fn max_conns_leaves_the_next_client_waiting_until_a_slot_frees() {
    let server = spawn_sockbox(&[
        "listen",
        "tcp:127.0.0.1:0",
        "--keep",
        "--echo",
        "--max-conns",
        "2",
    ]);
    let port = announced_port(&server);
    let mut one = client("127.0.0.1", port);
    echoes(&mut one, b"one");
    let mut two = client("127.0.0.1", port);
    echoes(&mut two, b"two");

    // The third connects (the kernel completes the handshake) and sends, but is not accepted.
    let mut three = client("127.0.0.1", port);
    three.write_all(b"three").unwrap();
    wait_for("the third client in the accept queue", WAIT, || {
        (accept_queue(port) == Some(1)).then_some(())
    });
    // The server goes on serving the first two meanwhile, and still has not taken the third.
    echoes(&mut one, b"still one");
    echoes(&mut two, b"still two");
    assert_eq!(accept_queue(port), Some(1), "{}", server.stderr());
    assert_eq!(server.stderr().matches("connection from").count(), 2);

    // One of the first two leaves: the third is served, its early bytes included.
    drop(one);
    let mut back = [0u8; 5];
    three.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"three");
    echoes(&mut three, b"more");
    echoes(&mut two, b"two again");
    drop((two, three));
    let err = stop(server);
    assert!(!err.contains("refused"), "{err}");
    assert_eq!(err.matches("connection from").count(), 3, "{err}");
}

#[test]
fn max_conns_refuse_closes_the_client_over_the_limit_at_once() {
    let server = spawn_sockbox(&[
        "listen",
        "tcp:127.0.0.1:0",
        "--keep",
        "--echo",
        "--max-conns",
        "2",
        "--max-conns-refuse",
    ]);
    let port = announced_port(&server);
    let mut one = client("127.0.0.1", port);
    echoes(&mut one, b"one");
    let mut two = client("127.0.0.1", port);
    echoes(&mut two, b"two");

    let mut three = client("127.0.0.1", port);
    let three_port = three.local_addr().unwrap().port();
    shut_out(&mut three, b"three");
    let line = server.wait_stderr(&format!("refused 127.0.0.1:{three_port}"));
    assert!(line.ends_with("--max-conns 2 reached"), "{line}");

    // The first two are untouched; once one leaves, a new client gets its slot.
    echoes(&mut two, b"two again");
    drop(one);
    server.wait_stderr("closed: 3 bytes in");
    let mut four = client("127.0.0.1", port);
    echoes(&mut four, b"four");
    drop((two, four));
    let err = stop(server);
    assert_eq!(err.matches("refused").count(), 1, "{err}");
    assert_eq!(err.matches("connection from").count(), 3, "{err}");
}

#[test]
fn relay_max_conns_refuse_closes_the_client_over_the_limit() {
    let upstream = EchoServer::start("tcp4", "127.0.0.1:0");
    let relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("tcp:127.0.0.1:{}", upstream.port),
        "--max-conns",
        "1",
        "--max-conns-refuse",
        "--stats",
    ]);
    let port = announced_port(&relay);
    let mut one = client("127.0.0.1", port);
    echoes(&mut one, b"relayed");
    let mut two = client("127.0.0.1", port);
    shut_out(&mut two, b"over the limit");
    relay.wait_stderr("--max-conns 1 reached");
    echoes(&mut one, b"still relayed");
    drop(one);
    let err = stop(relay);
    assert_eq!(err.matches("connection from").count(), 1, "{err}");
    // The totals count the client turned away, apart from the one served.
    assert!(err.contains("1 connections (0 failed, 1 refused)"), "{err}");
}

#[test]
fn max_conns_on_udp_counts_peers_and_drops_the_others() {
    let server = spawn_sockbox(&[
        "listen",
        "udp:127.0.0.1:0",
        "--keep",
        "--echo",
        "--max-conns",
        "1",
        "--idle-timeout",
        "1s",
    ]);
    let port = announced_port(&server);
    let first = udp_peer("127.0.0.1", port);
    udp_echoes(&first, b"first");
    let second = udp_peer("127.0.0.1", port);
    let second_name = format!("127.0.0.1:{}", second.local_addr().unwrap().port());
    second.send(b"over the cap").unwrap();
    second.send(b"over the cap again").unwrap();
    // Answered after the second's datagrams were judged (one socket, one queue).
    udp_echoes(&first, b"first again");
    server.wait_stderr(&format!("dropping datagrams from {second_name}"));
    udp_nothing_arrived(&second);

    // The first peer's conversation ends when idle; the second then gets the slot.
    server.wait_stderr("closed: 16 bytes in");
    second.set_nonblocking(false).unwrap();
    udp_echoes(&second, b"my turn");
    let err = stop(server);
    assert_eq!(err.matches("dropping datagrams").count(), 1, "{err}");
    assert_eq!(err.matches("connection from").count(), 2, "{err}");
}

#[test]
fn access_flags_misused_are_usage_errors_on_one_line() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["listen", "unix:@sbx-access-ip", "--allow-ip", "127.0.0.1"],
            "--allow-uid/--allow-user/--allow-gid",
        ),
        (
            &["listen", "seqpacket:@sbx-access-ip", "--deny-ip", "::1"],
            "--allow-uid/--allow-user/--allow-gid",
        ),
        (
            &["listen", "tcp:127.0.0.1:0", "--allow-ip", "127.0.0.300"],
            "127.0.0.300",
        ),
        (&["listen", "tcp:127.0.0.1:0", "--max-conns", "2"], "--keep"),
        (
            &[
                "listen",
                "tcp:127.0.0.1:0",
                "--keep",
                "--echo",
                "--max-conns",
                "0",
            ],
            "--max-conns 0",
        ),
        (
            &[
                "relay",
                "tcp:127.0.0.1:0",
                "tcp:127.0.0.1:9",
                "--max-conns-refuse",
            ],
            "--max-conns",
        ),
        (
            &[
                "relay",
                "connect:tcp:127.0.0.1:9",
                "connect:tcp:127.0.0.1:9",
                "--deny-ip",
                "127.0.0.1",
            ],
            "listened on",
        ),
    ];
    for (args, says) in cases {
        let out = run_sockbox(args, b"");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {}", out.stderr);
        assert!(lines[0].contains(says), "{args:?}: {}", lines[0]);
    }
}

/// `listen --keep --max-conns 1` without --echo or --exec: every client's bytes go to stdout,
/// one client at a time; the next waits connected, and its bytes arrive once the first leaves.
#[test]
fn max_conns_on_keep_to_stdout_serves_one_client_at_a_time() {
    let server = spawn_sockbox(&["listen", "tcp:127.0.0.1:0", "--keep", "--max-conns", "1"]);
    let port = announced_port(&server);
    let mut first = client("127.0.0.1", port);
    first.write_all(b"a\n").unwrap();
    server.wait_stdout_len(2);
    let mut second = client("127.0.0.1", port);
    second.write_all(b"b\n").unwrap();
    // Sent after b, printed before it: the second client is not read while the first is served.
    first.write_all(b"c\n").unwrap();
    assert_eq!(server.wait_stdout_len(4), b"a\nc\n");
    drop(first);
    assert_eq!(server.wait_stdout_len(6), b"a\nc\nb\n");
    drop(second);
    stop(server);
}
