//! How a relay opens and ends its connections: retrying a connect (`retry=`, `--retry`),
//! ending the other direction after a quiet time (`--linger`), copying one way only
//! (`relay --oneway`, `--send-only`, `--recv-only`), one client only (`relay --once`, and a
//! listening side that yields one connection), and the peer environment of a relayed program.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::*;

/// The non-empty stderr lines of a finished run that are not peer reports (`-q` drops those).
fn lines(out: &Outcome) -> Vec<&str> {
    out.stderr_lines()
}

/// `n` bytes read by `peer`, chunk by chunk. (Not `readall`: a peer whose own bytes were never
/// read sees the connection reset, not ended, when sockbox closes it: the kernel's answer to
/// closing a socket with unread bytes.)
fn recv_exactly(peer: &mut Puppet, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let chunk = peer.recv();
        assert!(
            !chunk.is_empty(),
            "end of stream after {} of {n} bytes",
            got.len()
        );
        got.extend_from_slice(&chunk);
    }
    got
}

/// A relay started before its backend, with `--retry forever`: a client's bytes, sent at once,
/// wait in the relay until the backend starts 2 s later, then go through and come back.
#[test]
fn relay_retry_forever_waits_for_its_backend() {
    let dir = tempdir();
    let up = dir.path().join("up.sock");
    let up_s = up.to_str().unwrap();
    let relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("unix:{up_s}"),
        "--retry",
        "forever",
        "--retry-interval",
        "200ms",
    ]);
    let port = announced_port(&relay);
    let data = random_bytes(200_000);
    let mut c = Client::Tcp(tcp_client(port));
    let sender = c.send_in_thread(data.clone(), true);
    std::thread::sleep(Duration::from_secs(2));
    let _echo = EchoServer::start("unix", up_s);
    let back = read_to_end(&mut c, "echo through the relay");
    sender.join().unwrap();
    assert_eq!(back.len(), data.len(), "{}", relay.stderr());
    assert_eq!(sha256(&back), sha256(&data));
}

/// `retry=3` against nothing: four attempts (the first and three retries, as socat counts),
/// then exit 1 with one line that says what failed and how often.
#[test]
fn retry_gives_up_with_one_line_and_exit_1() {
    let port = free_port();
    let addr = format!("tcp:127.0.0.1:{port},retry=3,interval=50ms");
    let out = run_sockbox(&["connect", &addr], b"");
    assert_eq!(out.code, 1, "{out:?}");
    let l = lines(&out);
    assert_eq!(l.len(), 1, "{}", out.stderr);
    assert!(l[0].contains(&format!("127.0.0.1:{port}")), "{}", l[0]);
    assert!(l[0].contains("refused"), "{}", l[0]);
    assert!(l[0].contains("gave up after 4 attempts"), "{}", l[0]);

    // -v narrates each attempt.
    let out = run_sockbox(&["-v", "connect", &addr], b"");
    assert_eq!(out.code, 1, "{out:?}");
    let attempts: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("(attempt "))
        .collect();
    assert_eq!(attempts.len(), 4, "{}", out.stderr);
    assert!(
        attempts[0].contains("(attempt 1 of 4, next in"),
        "{attempts:?}"
    );
    assert!(attempts[3].contains("(attempt 4 of 4)"), "{attempts:?}");

    // The relay's flag, on a relay whose one connection fails: the same.
    let to = format!("tcp:127.0.0.1:{port}");
    let args = [
        "-q",
        "relay",
        "-",
        &to,
        "--retry",
        "2",
        "--retry-interval",
        "50ms",
    ];
    let out = run_sockbox(&args, b"lost");
    assert_eq!(out.code, 1, "{out:?}");
    let l = lines(&out);
    assert_eq!(l.len(), 1, "{}", out.stderr);
    assert!(l[0].contains("gave up after 3 attempts"), "{}", l[0]);
}

/// Permission denied is not retried: even `--retry forever` fails at once, exit 1.
#[test]
fn permission_denied_fails_at_once_despite_retry_forever() {
    require_tool("setpriv");
    // A directory only root may enter, holding a live socket: `nobody` gets EACCES.
    let dir = tempdir();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let sock = dir.path().join("s.sock");
    let server = spawn_sockbox(&["listen", &format!("unix:{}", sock.display()), "--keep"]);
    wait_listening(&server);
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(sockbox_bin())
        .args(["-v", "connect", "--retry", "forever"])
        .arg(format!("unix:{}", sock.display()));
    let mut p = Proc::spawn("sockbox connect as nobody", cmd);
    p.close_stdin();
    let code = p.wait_code(WAIT);
    let err = p.stderr();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(!err.contains("(attempt"), "retried: {err}");
}

/// Bad retry and linger values are one line and exit 2.
#[test]
fn bad_retry_and_linger_are_usage_errors() {
    for args in [
        &["connect", "tcp:127.0.0.1:1,retry=abc"][..],
        &["connect", "tcp:127.0.0.1:1", "--retry", "-1"],
        &[
            "relay",
            "tcp:127.0.0.1:0",
            "tcp:127.0.0.1:1",
            "--linger",
            "-1",
        ],
        &["listen", "tcp:127.0.0.1:0", "--linger", "soon"],
        &["connect", "udp:127.0.0.1:1", "--retry", "3"],
    ] {
        let out = run_sockbox(args, b"");
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(lines(&out).len(), 1, "{args:?}: {}", out.stderr);
    }
}

/// `sockbox relay - TCP:127.0.0.1:PORT` with nothing listening: its only connection failed, so
/// the relay did too (exit 1, one line), as `connect` does. So for exec: and file: sides.
#[test]
fn relay_with_one_connection_exits_1_when_it_fails() {
    let dir = tempdir();
    let data = write_file(dir.path(), "data", b"some bytes");
    let to = format!("TCP:127.0.0.1:{}", free_port());
    for a in [
        "-".to_string(),
        "exec:cat".to_string(),
        format!("file:{}", data.display()),
    ] {
        let out = run_sockbox(&["-q", "relay", &a, &to], b"x");
        assert_eq!(out.code, 1, "{a}: {out:?}");
        let l = lines(&out);
        assert_eq!(l.len(), 1, "{a}: {}", out.stderr);
        assert!(l[0].contains("refused"), "{a}: {}", l[0]);
    }
}

/// `relay --once`: one client relayed, then exit 0; with B refused, exit 1.
#[test]
fn relay_once_serves_one_client() {
    let dir = tempdir();
    let up = dir.path().join("up.sock");
    let _echo = EchoServer::start("unix", up.to_str().unwrap());
    let mut relay = spawn_sockbox(&[
        "relay",
        "--once",
        "tcp:127.0.0.1:0",
        &format!("unix:{}", up.display()),
    ]);
    let port = announced_port(&relay);
    let mut c = Client::Tcp(tcp_client(port));
    c.write_all(b"once").unwrap();
    c.shut();
    assert_eq!(read_to_end(&mut c, "the one client"), b"once");
    assert_eq!(relay.wait_code(WAIT), 0, "{}", relay.stderr());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "a second client was accepted"
    );

    let mut relay = spawn_sockbox(&[
        "relay",
        "--once",
        "tcp:127.0.0.1:0",
        &format!("tcp:127.0.0.1:{}", free_port()),
    ]);
    let port = announced_port(&relay);
    let mut c = Client::Tcp(tcp_client(port));
    assert!(read_to_end(&mut c, "refused upstream").is_empty());
    assert_eq!(relay.wait_code(WAIT), 1, "{}", relay.stderr());
    let err = relay.stderr();
    let peers = ["relaying ", "connection from "];
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| !peers.iter().any(|p| l.contains(p)))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("refused"), "{err}");
}

/// `--linger` ends the other direction once one has ended and the other went quiet: here the
/// server never closes, so without it `connect` would wait for ever.
#[test]
fn linger_ends_a_connection_the_peer_keeps_open() {
    let dir = tempdir();
    let path = dir.path().join("hold.sock");
    let mut peer = Puppet::listen("unix", path.to_str().unwrap());
    let mut sb = spawn_sockbox(&[
        "connect",
        &format!("unix:{}", path.display()),
        "--linger",
        "300ms",
    ]);
    peer.cmd("accept", "accepted");
    peer.send(b"hello");
    sb.write(b"hi");
    sb.close_stdin();
    assert_eq!(
        peer.cmd("readall", "all").trim(),
        format!("all 2 {}", sha256(b"hi"))
    );
    // The peer is still open and silent: the linger ends it.
    assert_eq!(sb.wait_code(WAIT), 0, "{}", sb.stderr());
    assert_eq!(sb.stdout(), b"hello");
}

/// `--linger 0` in a relay: when the client has finished sending, its connection ends at once
/// even though the server neither answers nor closes.
#[test]
fn linger_0_ends_at_once() {
    let dir = tempdir();
    let path = dir.path().join("mute.sock");
    let mut peer = Puppet::listen("unix", path.to_str().unwrap());
    let relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("unix:{}", path.display()),
        "--linger",
        "0",
    ]);
    let mut c = Client::Tcp(tcp_client(announced_port(&relay)));
    peer.cmd("accept", "accepted");
    c.write_all(b"request").unwrap();
    c.shut();
    assert_eq!(
        peer.cmd("readall", "all").trim(),
        format!("all 7 {}", sha256(b"request"))
    );
    let rest = read_to_end(&mut c, "a connection with --linger 0");
    assert!(rest.is_empty());
}

/// `relay --oneway`: A to B only. What B sends is never read, and the connection ends when A's
/// side ends. With the roles swapped (A connect:, B listen:), A is still the source.
#[test]
fn relay_oneway_copies_a_to_b_only() {
    let dir = tempdir();
    let path = dir.path().join("b.sock");
    let mut peer = Puppet::listen("unix", path.to_str().unwrap());
    let relay = spawn_sockbox(&[
        "relay",
        "--oneway",
        "tcp:127.0.0.1:0",
        &format!("unix:{}", path.display()),
    ]);
    let mut c = Client::Tcp(tcp_client(announced_port(&relay)));
    peer.cmd("accept", "accepted");
    peer.send(b"must not arrive");
    let data = random_bytes(20_000);
    let sender = c.send_in_thread(data.clone(), true);
    let got = recv_exactly(&mut peer, data.len());
    sender.join().unwrap();
    assert_eq!(sha256(&got), sha256(&data));
    assert!(read_to_end(&mut c, "the client of a one-way relay").is_empty());
    drop(relay);

    // Swapped: A is connected to for each client of B; A's bytes go to B's client. (B is a
    // Unix socket: closing TCP with unread bytes would reset the client.)
    let path = dir.path().join("a.sock");
    let front = dir.path().join("front.sock");
    let mut peer = Puppet::listen("unix", path.to_str().unwrap());
    let relay = spawn_sockbox(&[
        "relay",
        "--oneway",
        &format!("connect:unix:{}", path.display()),
        &format!("listen:unix:{}", front.display()),
    ]);
    relay.wait_stderr("relaying");
    let mut c = Client::Unix(unix_client(&front));
    peer.cmd("accept", "accepted");
    c.write_all(b"ignored").unwrap();
    peer.send(b"from a");
    peer.cmd("shut", "shut");
    // What B's client sent was never read, so its end may see a reset after the bytes rather
    // than an end of stream: read just the bytes.
    let mut got = [0u8; 6];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from a");
    peer.ask("readall");
    assert_eq!(peer.all().0, 0, "the relay read B's client");
}

/// `connect --send-only` sends stdin and never reads the peer; `--recv-only` prints the peer
/// and never reads stdin; `listen --recv-only` likewise for its client.
#[test]
fn send_only_and_recv_only() {
    let dir = tempdir();
    let path = dir.path().join("p.sock");
    let addr = format!("unix:{}", path.display());
    let path2 = dir.path().join("p2.sock");
    let addr2 = format!("unix:{}", path2.display());

    let mut peer = Puppet::listen("unix", path.to_str().unwrap());
    let mut sb = spawn_sockbox(&["connect", &addr, "--send-only"]);
    peer.cmd("accept", "accepted");
    peer.send(b"not read");
    let data = random_bytes(20_000);
    sb.feed(data.clone());
    assert_eq!(sha256(&recv_exactly(&mut peer, data.len())), sha256(&data));
    assert_eq!(sb.wait_code(WAIT), 0, "{}", sb.stderr());
    assert!(sb.stdout().is_empty(), "the peer was read");
    drop(peer);

    let mut peer = Puppet::listen("unix", path2.to_str().unwrap());
    let mut sb = spawn_sockbox(&["connect", &addr2, "--recv-only"]);
    peer.cmd("accept", "accepted");
    // Stdin stays open and has bytes: they must not be sent, nor keep sockbox waiting.
    sb.write(b"not sent");
    peer.send(b"news");
    peer.cmd("shut", "shut");
    assert_eq!(sb.wait_code(WAIT), 0, "{}", sb.stderr());
    assert_eq!(sb.stdout(), b"news");
    peer.ask("readall");
    assert_eq!(peer.all().0, 0, "stdin was sent");

    let mut sb = spawn_sockbox(&["listen", "tcp:127.0.0.1:0", "--recv-only"]);
    sb.write(b"not sent");
    let mut c = Client::Tcp(tcp_client(announced_port(&sb)));
    c.write_all(b"upload").unwrap();
    c.shut();
    assert!(read_to_end(&mut c, "listen --recv-only's client").is_empty());
    assert_eq!(sb.wait_code(WAIT), 0, "{}", sb.stderr());
    assert_eq!(sb.stdout(), b"upload");
}

/// A relay's `sh:` side knows its client: `SOCKBOX_PEER`, and for a Unix client its pid, uid
/// and gid, as `listen --exec` gives them.
#[test]
fn relay_program_side_gets_the_peer_environment() {
    let relay = spawn_sockbox(&["relay", "tcp:127.0.0.1:0", "sh:echo \"$SOCKBOX_PEER\""]);
    let mut c = tcp_client(announced_port(&relay));
    let local = c.local_addr().unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(got.trim(), local.to_string());

    let dir = tempdir();
    let path = dir.path().join("env.sock");
    let relay = spawn_sockbox(&[
        "relay",
        &format!("unix:{}", path.display()),
        "sh:echo $SOCKBOX_PEER_PID $SOCKBOX_PEER_UID $SOCKBOX_PEER_GID",
    ]);
    relay.wait_stderr("relaying");
    let got = read_to_end(unix_client(Path::new(&path)), "the program's answer");
    let me = format!(
        "{} {} {}",
        std::process::id(),
        nix::unistd::getuid(),
        nix::unistd::getgid()
    );
    assert_eq!(
        String::from_utf8_lossy(&got).trim(),
        me,
        "{}",
        relay.stderr()
    );
}

/// A bulk copy into a Unix socket raises that socket's send buffer to the splice pipe's size
/// (fewer `EAGAIN` turns per pipeful), unless its address set `sndbuf=`, which is kept. Every
/// byte arrives either way. (The value the kernel keeps is checked in
/// `relay::splice::tests`; here, what the relay asks for, narrated by `-v`.) The bytes go one
/// way, client to backend, so only the backend's socket is a bulk sink.
#[test]
fn bulk_into_a_unix_socket_raises_its_send_buffer_unless_sndbuf_is_given() {
    for (b_opts, raised) in [("", true), (",sndbuf=65536", false)] {
        let dir = tempdir();
        let (front, back) = (dir.path().join("front.sock"), dir.path().join("back.sock"));
        let back_s = back.to_str().unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&back).unwrap();
        let sink = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            read_to_end(s, "the backend's bytes")
        });
        let relay = spawn_sockbox(&[
            "-v",
            "relay",
            &format!("unix:{}", front.to_str().unwrap()),
            &format!("unix:{back_s}{b_opts}"),
        ]);
        relay.wait_stderr("relaying");
        let data = random_bytes(4 << 20);
        let mut c = Client::Unix(unix_client(&front));
        c.send_in_thread(data.clone(), true).join().unwrap();
        assert!(read_to_end(&mut c, "the relay's end").is_empty());
        let got = sink.join().unwrap();
        assert_eq!(sha256(&got), sha256(&data), "{b_opts}: {}", relay.stderr());
        let err = relay.stderr();
        assert!(err.contains("splice(2)"), "{b_opts}: no bulk copy: {err}");
        assert_eq!(
            err.contains("setsockopt(SO_SNDBUF, 1048576) on the sink"),
            raised,
            "{b_opts}: {err}"
        );
    }
}

/// A Unix peer that answers, then shuts its reading side while staying connected: the 4 MiB
/// still to be sent cannot be delivered (`EPIPE`), and the way back, quiet, ends at the
/// `--linger`. The lost bytes are still the outcome: the answer is printed, one line says
/// what was lost, exit 1 (not a quiet exit 0 because the linger ran out).
#[test]
fn bytes_lost_to_a_peer_that_stopped_reading_stay_an_error_after_a_linger() {
    let dir = tempdir();
    let path = dir.path().join("deaf.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"hello\n").unwrap();
        s.shutdown(std::net::Shutdown::Read).unwrap();
        // Connected, silent, for longer than the linger (bounded: then closed).
        std::thread::sleep(Duration::from_secs(3));
    });
    let addr = format!("unix:{}", path.display());
    let mut p = spawn_sockbox(&["connect", "--linger", "200ms", &addr]);
    p.feed(vec![b'x'; 4 << 20]);
    let code = p.wait_code(Duration::from_secs(10));
    let (out, err) = (p.stdout(), p.stderr());
    assert_eq!(
        (code, out.as_slice()),
        (1, &b"hello\n"[..]),
        "stderr: {err}"
    );
    let err_lines: Vec<&str> = err.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(err_lines.len(), 1, "{err}");
    assert!(err_lines[0].starts_with("sockbox: write to "), "{err}");
    peer.join().unwrap();
}
