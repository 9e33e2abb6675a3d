//! Unix-socket access control (`--allow-uid/--allow-gid/--allow-user`, checked against
//! `SO_PEERCRED`/`SO_PEERGROUPS` with clients run as another user by `setpriv`) and socket
//! activation both ways: `listen --activate` handing sockets to a Python program that reads
//! `LISTEN_FDS`, and `systemd-socket-activate` (or sockbox itself) starting `listen --inherit`
//! and `relay --inherit`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use nix::sys::signal::Signal;

use crate::util::*;

/// An unprivileged uid/gid the clients run as (`nobody` on Debian).
const NOBODY: &str = "65534";
/// A group nobody is in unless a test gives it.
const SPARE_GROUP: &str = "4242";

/// The system Python, which another user can run (a pyenv one under /root cannot be).
fn system_python() -> &'static str {
    let p = "/usr/bin/python3";
    assert!(
        Path::new(p).exists(),
        "{p} is needed to run a client as another user: install python3"
    );
    p
}

/// A Python client run as `nobody` (with `groups`, comma-separated, or none): connects to the
/// Unix socket `path`, sends `data`, shuts down writing and prints what came back as
/// `got N <text>` or `error <reason>`.
fn client_as_nobody(path: &Path, groups: Option<&str>, data: &str) -> String {
    require_tool("setpriv");
    let script = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
    s.sendall(sys.argv[2].encode())
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        got += c
    print("got", len(got), got.decode())
except OSError as e:
    print("error", type(e).__name__)
"#;
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", NOBODY, "--regid", NOBODY]);
    match groups {
        Some(g) => cmd.args(["--groups", g]),
        None => cmd.arg("--clear-groups"),
    };
    cmd.args([system_python(), "-c", script])
        .arg(path)
        .arg(data);
    let mut p = Proc::spawn("python client as nobody", cmd);
    p.close_stdin();
    p.wait_success();
    String::from_utf8(p.stdout()).unwrap().trim().to_string()
}

/// Connect to the Unix socket `path`, send `data`, shut down writing, and return all that comes
/// back before the server closes.
fn exchange_unix(path: &Path, data: &[u8], what: &str) -> Vec<u8> {
    let mut c = unix_client(path);
    std::io::Write::write_all(&mut c, data).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    read_to_end(&c, what)
}

/// A directory others can reach (tempdir() makes 0700 ones).
fn shared_dir() -> tempfile::TempDir {
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn allow_lets_in_only_the_listed_users_and_groups() {
    let dir = shared_dir();
    let sock = dir.path().join("gate.sock");
    let addr = format!("unix:{},mode=0666", sock.display());
    let mut server = spawn_sockbox(&[
        "listen",
        &addr,
        "--keep",
        "--echo",
        "--allow-user",
        "root",
        "--allow-gid",
        SPARE_GROUP,
    ]);
    wait_listening(&server);
    let fds_before = open_fds(server.pid());

    // root is allowed by name.
    assert_eq!(exchange_unix(&sock, b"as root", "root's echo"), b"as root");

    // nobody, in no allowed group: closed before a byte is read, nothing echoed.
    let refused = client_as_nobody(&sock, None, "as nobody");
    assert!(
        refused == "got 0" || refused.starts_with("error"),
        "nobody got through: {refused}"
    );
    let line = server.wait_stderr("refused");
    assert!(
        line.contains("uid 65534 gid 65534") && line.contains("python3"),
        "the refusal names the peer: {line}"
    );

    // nobody with the allowed group as a supplementary group (SO_PEERGROUPS) gets in.
    assert_eq!(
        client_as_nobody(&sock, Some(SPARE_GROUP), "by group"),
        "got 8 by group"
    );

    // Every connection, refused or served, was closed: no descriptor left behind.
    wait_for("the server to close every connection", WAIT, || {
        (open_fds(server.pid()) == fds_before).then_some(())
    });
    server.signal(Signal::SIGTERM);
    assert_eq!(server.wait_code(WAIT), 0);
    let err = server.stderr();
    assert_eq!(err.matches("refused").count(), 1, "{err}");
    // Only the two allowed clients were connections; the refused one moved no byte.
    assert_eq!(err.matches("connection from").count(), 2, "{err}");
    assert!(
        !err.contains("9 bytes in"),
        "the refused client's bytes were read:\n{err}"
    );
}

#[test]
fn relay_refuses_before_connecting_upstream() {
    let dir = shared_dir();
    let upstream = dir.path().join("up.sock");
    let echo = EchoServer::start("unix", upstream.to_str().unwrap());
    let front = dir.path().join("front.sock");
    let mut relay = spawn_sockbox(&[
        "relay",
        &format!("unix:{},mode=0666", front.display()),
        &format!("unix:{}", upstream.display()),
        "--allow-uid",
        "0",
        "--stats",
        "--json",
    ]);
    announced_addr(&relay);
    let refused = client_as_nobody(&front, None, "blocked");
    assert!(
        refused == "got 0" || refused.starts_with("error"),
        "{refused}"
    );
    relay.wait_stderr("refused");
    assert_eq!(
        exchange_unix(&front, b"through", "echo through the relay"),
        b"through"
    );
    // Stop once the relay has served that connection to its end.
    relay.wait_stderr("closed: 7 bytes in");
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0);
    let stats: serde_json::Value = serde_json::from_slice(&relay.stdout()).unwrap();
    assert_eq!(
        stats["connections"], 1,
        "the refused client is not a connection"
    );
    assert_eq!(stats["bytes_in"], 7);
    drop(echo);
}

#[test]
fn allow_needs_a_unix_listener_and_known_names() {
    let cases: [&[&str]; 4] = [
        &["listen", "tcp:127.0.0.1:0", "--allow-uid", "0"],
        &["listen", "unix-dgram:@sbx-allow-dgram", "--allow-uid", "0"],
        &[
            "listen",
            "unix:@sbx-allow-nouser",
            "--allow-user",
            "no-such-user-sbx",
        ],
        &[
            "relay",
            "connect:tcp:127.0.0.1:9",
            "connect:tcp:127.0.0.1:9",
            "--allow-uid",
            "0",
        ],
    ];
    for args in cases {
        let out = run_sockbox(args, b"");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr_lines().len(), 1, "{args:?}: {}", out.stderr);
    }
}

/// The JSON line `peers/activated.py` prints about what it was given.
fn activated_report(p: &Proc) -> serde_json::Value {
    let line = wait_for("the activated program's report", WAIT, || {
        complete_lines(&p.stdout()).first().cloned()
    });
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn activate_hands_sockets_to_a_program() {
    let dir = tempdir();
    let sock = dir.path().join("ctl.sock");
    let port = free_port();
    let tcp = format!("tcp:127.0.0.1:{port}");
    let mut p = spawn_sockbox(&[
        "listen",
        &format!("unix:{},mode=0600", sock.display()),
        &tcp,
        "--activate",
        "--fdname",
        "ctl",
        "--fdname",
        "web",
        "--",
        python(),
        peer_script("activated.py").to_str().unwrap(),
    ]);
    let report = activated_report(&p);
    assert_eq!(report["count"], 2, "{report}");
    // exec keeps the pid: LISTEN_PID is the process sockbox became.
    assert_eq!(report["pid_is_mine"], true, "{report}");
    assert_eq!(report["names"], serde_json::json!(["ctl", "web"]));
    let socks = report["sockets"].as_array().unwrap();
    assert_eq!(socks[0]["family"], "AF_UNIX");
    assert_eq!(socks[0]["addr"], sock.to_str().unwrap());
    assert_eq!(socks[1]["family"], "AF_INET");
    assert_eq!(socks[1]["addr"], format!("127.0.0.1:{port}"));
    // Nothing of sockbox's own (runtime, signal pipe, sockets) survived the exec.
    for (fd, what) in report["other_fds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].clone(), v[1].as_str().unwrap().to_string()))
    {
        assert!(
            !what.starts_with("socket:") && !what.starts_with("anon_inode:"),
            "descriptor {fd} ({what}) leaked into the activated program"
        );
    }
    // The mode= option was applied by sockbox before handing the socket over.
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    assert_eq!(
        exchange_unix(&sock, b"hello", "the unix socket's answer"),
        b"ctl HELLO"
    );
    let mut t = tcp_client(port);
    std::io::Write::write_all(&mut t, b"web").unwrap();
    t.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&t, "the tcp socket's answer"), b"web WEB");
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
}

#[test]
fn activate_refuses_a_missing_program_before_binding() {
    let dir = tempdir();
    let sock = dir.path().join("never.sock");
    let out = run_sockbox(
        &[
            "listen",
            &format!("unix:{}", sock.display()),
            "--activate",
            "--",
            "no-such-program-sbx",
        ],
        b"",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(one_line_of(&out).contains("no-such-program-sbx"));
    assert!(!sock.exists(), "a socket file was left behind");
    let out = run_sockbox(&["listen", "tcp:127.0.0.1:0", "--activate"], b"");
    assert_eq!(out.code, 2, "no program: {}", out.stderr);
    let out = run_sockbox(
        &[
            "listen",
            "tcp:127.0.0.1:0",
            "--activate",
            "--fdname",
            "a:b",
            "--",
            "true",
        ],
        b"",
    );
    assert_eq!(out.code, 2, "bad name: {}", out.stderr);
}

fn one_line_of(out: &Outcome) -> &str {
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one line:\n{}", out.stderr);
    lines[0]
}

#[test]
fn systemd_socket_activate_starts_listen_inherit() {
    require_tool("systemd-socket-activate");
    let dir = tempdir();
    let sock = dir.path().join("ssa.sock");
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.arg("-l")
        .arg(&sock)
        .args([sockbox_bin(), "listen", "--inherit", "--keep", "--echo"]);
    let mut p = Proc::spawn("systemd-socket-activate sockbox listen --inherit", cmd);
    wait_path(&sock);
    // systemd-socket-activate execs sockbox at the first connection.
    for msg in [&b"first"[..], b"second"] {
        assert_eq!(exchange_unix(&sock, msg, "echo"), msg);
    }
    let err = p.wait_stderr("serving inherited descriptor 3");
    assert!(err.contains(sock.to_str().unwrap()), "{err}");
    p.signal(Signal::SIGTERM);
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
    assert!(
        sock.exists(),
        "an inherited socket's file belongs to whoever created it: sockbox must leave it"
    );
}

#[test]
fn relay_inherit_serves_a_socket_activated_port() {
    require_tool("systemd-socket-activate");
    let dir = tempdir();
    let upstream = dir.path().join("up.sock");
    let echo = EchoServer::start("unix", upstream.to_str().unwrap());
    let port = free_port();
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &format!("127.0.0.1:{port}")]).args([
        sockbox_bin(),
        "relay",
        "--inherit",
        &format!("unix:{}", upstream.display()),
    ]);
    let mut p = Proc::spawn("systemd-socket-activate sockbox relay --inherit", cmd);
    let data = random_bytes(1 << 20);
    let c = wait_for("the activated port", WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    c.set_read_timeout(Some(WAIT)).unwrap();
    let writer = {
        let mut w = c.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            std::io::Write::write_all(&mut w, &data).unwrap();
            w.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let back = read_to_end(&c, "the relayed echo");
    writer.join().unwrap();
    assert_eq!(sha256(&back), sha256(&data));
    p.signal(Signal::SIGTERM);
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
    drop(echo);
}

#[test]
fn activate_into_inherit_chooses_by_name_or_address() {
    let dir = tempdir();
    let a = dir.path().join("a.sock");
    let b = dir.path().join("b.sock");
    let (ua, ub) = (
        format!("unix:{}", a.display()),
        format!("unix:{}", b.display()),
    );
    // By name.
    let mut p = spawn_sockbox(&[
        "listen",
        &ua,
        &ub,
        "--activate",
        "--fdname",
        "one",
        "--fdname",
        "two",
        "--",
        sockbox_bin(),
        "listen",
        "--inherit",
        "--fdname",
        "two",
        "--keep",
        "--exec",
        "tr a-z A-Z",
    ]);
    p.wait_stderr("serving inherited descriptor 4");
    assert_eq!(exchange_unix(&b, b"shout", "upper-cased"), b"SHOUT");
    p.signal(Signal::SIGTERM);
    assert_eq!(p.wait_code(WAIT), 0);
    drop(p);

    // By address; and with two sockets and no choice, one line listing them, exit 2.
    // `sockbox listen A B --activate -- sockbox listen --inherit CHOICE...`, socket files of a
    // previous run removed first (the activated program leaves them).
    let activate_both = |choice: &[&str]| {
        for f in [&a, &b] {
            let _ = std::fs::remove_file(f);
        }
        let mut args = vec![
            "listen",
            &ua,
            &ub,
            "--activate",
            "--",
            sockbox_bin(),
            "listen",
        ];
        args.push("--inherit");
        args.extend_from_slice(choice);
        spawn_sockbox(&args)
    };
    let p = activate_both(&[&ub]);
    p.wait_stderr("serving inherited descriptor 4");
    p.signal(Signal::SIGTERM);
    drop(p);
    let mut p = activate_both(&[]);
    assert_eq!(p.wait_code(WAIT), 2);
    let err = p.stderr();
    let line = err
        .lines()
        .find(|l| l.contains("2 sockets were inherited"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("a.sock") && line.contains("b.sock"), "{line}");
}

#[test]
fn inherit_without_sockets_is_one_clear_line() {
    let out = run_sockbox(&["listen", "--inherit"], b"");
    assert_eq!(out.code, 2);
    assert!(one_line_of(&out).contains("LISTEN_FDS is not set"));

    let mut cmd = sockbox_cmd(["listen", "--inherit"]);
    cmd.env("LISTEN_FDS", "1").env("LISTEN_PID", "1");
    let mut p = Proc::spawn("sockbox listen --inherit for pid 1", cmd);
    assert_eq!(p.wait_code(WAIT), 2);
    assert!(
        p.stderr().contains("meant for another process"),
        "{}",
        p.stderr()
    );

    // Descriptor 3 is a file, not a socket: the shell opens it, then becomes sockbox.
    let mut cmd = Command::new("/bin/sh");
    cmd.args([
        "-c",
        "exec 3</etc/hostname; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" listen --inherit",
        sockbox_bin(),
    ]);
    let mut p = Proc::spawn("sockbox listen --inherit with a file as fd 3", cmd);
    assert_eq!(p.wait_code(WAIT), 2);
    let err = p.stderr();
    assert!(err.contains("descriptor 3 is not a socket"), "{err}");
    assert_no_panic_in(&err);
}

fn assert_no_panic_in(stderr: &str) {
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn connect_names_the_process_behind_a_unix_socket() {
    let dir = tempdir();
    let path = dir.path().join("e.sock");
    let echo = EchoServer::start("unix", path.to_str().unwrap());
    let out = run_sockbox(
        &["-v", "connect", &format!("unix:{}", path.display())],
        b"hi",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, b"hi");
    let uid = nix::unistd::getuid();
    let want = format!("SO_PEERCRED) = pid {} (python", echo.proc.pid());
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains(&want))
        .unwrap_or_else(|| panic!("no {want:?} in:\n{}", out.stderr));
    assert!(line.contains(&format!("uid {uid}")), "{line}");
}
