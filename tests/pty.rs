//! The terminal kinds with real peers: Python's os, pty and termios open the slaves sockbox
//! makes and read their settings back; `tty:` is tried on the slave of a pty the test makes
//! (a stand-in for a serial line: Linux's pty keeps cs8 and no parity, so those two are unit
//! tested on the settings asked for); `exec:PROG,pty` runs real programs (tty, Python) on a
//! terminal; the readline editor is driven through a Python pty with real keys; socat's own
//! PTY runs side by side with `sockbox socat` on the same line.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;

use nix::sys::signal::Signal;

use crate::util::*;

fn pty_peer(args: &[&str]) -> Outcome {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("pty_peer.py")).args(args);
    let mut p = Proc::spawn(&format!("pty_peer.py {}", args.join(" ")), cmd);
    p.close_stdin();
    let code = p.wait_code(WAIT);
    Outcome {
        code,
        stdout: p.stdout(),
        stderr: p.stderr(),
    }
}

/// The termios settings Python reads from the terminal at `path`, as JSON.
fn settings(path: &Path) -> serde_json::Value {
    let out = pty_peer(&["settings", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Wait until `p`'s stdout holds `needle`.
fn wait_stdout(p: &Proc, needle: &str) {
    wait_for(
        &format!("{needle:?} on the stdout of {}", p.name),
        WAIT,
        || {
            String::from_utf8_lossy(&p.stdout())
                .contains(needle)
                .then_some(())
        },
    );
}

fn wait_for_link(path: &Path) {
    wait_for(&format!("{} to appear", path.display()), WAIT, || {
        std::fs::read_link(path).ok()
    });
}

#[test]
fn pty_settings_are_what_was_asked() {
    let dir = tempdir();
    let link = dir.path().join("ttyA");
    let addr = format!(
        "pty,link={},raw,echo=0,b115200,cstopb=1,clocal=1,mode=600",
        link.display()
    );
    let mut p = spawn_sockbox(&["connect", &addr]);
    wait_for_link(&link);
    let target = std::fs::read_link(&link).unwrap();
    assert!(target.starts_with("/dev/pts/"), "{target:?}");
    p.wait_stderr(&format!("pty {}", target.display()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600, "mode= on the slave");
    let s = settings(&link);
    assert_eq!(s["echo"], false, "{s}");
    assert_eq!(s["icanon"], false, "{s}");
    assert_eq!(s["isig"], false, "{s}");
    assert_eq!(s["opost"], false, "{s}");
    assert_eq!(s["ospeed"], 115200, "{s}");
    assert_eq!(s["ispeed"], 115200, "{s}");
    assert_eq!(s["csize"], 8, "{s}");
    assert_eq!(s["cstopb"], true, "{s}");
    assert_eq!(s["clocal"], true, "{s}");
    p.signal(Signal::SIGTERM);
    p.wait_exit(WAIT);
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "link left behind"
    );
}

#[test]
fn pty_without_options_keeps_the_default_cooked_terminal() {
    let dir = tempdir();
    let link = dir.path().join("tty");
    let mut p = spawn_sockbox(&["connect", &format!("pty,link={}", link.display())]);
    wait_for_link(&link);
    let s = settings(&link);
    assert_eq!(
        (s["echo"].clone(), s["icanon"].clone()),
        (true.into(), true.into()),
        "{s}"
    );
    p.signal(Signal::SIGTERM);
    p.wait_exit(WAIT);
}

#[test]
fn virtual_null_modem_carries_bytes_both_ways() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("ttyA"), dir.path().join("ttyB"));
    let mut relay = spawn_sockbox(&[
        "relay",
        &format!("pty,link={},raw,echo=0", a.display()),
        &format!("pty,link={},raw,echo=0", b.display()),
    ]);
    wait_for_link(&a);
    wait_for_link(&b);
    let out = pty_peer(&[
        "nullmodem",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "300000",
    ]);
    assert_eq!(out.code, 0, "{out:?}\nrelay: {}", relay.stderr());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok "));
    // The cable outlives one session on it.
    let again = pty_peer(&[
        "nullmodem",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "1000",
    ]);
    assert_eq!(again.code, 0, "{again:?}");
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0, "{}", relay.stderr());
    assert!(std::fs::symlink_metadata(&a).is_err() && std::fs::symlink_metadata(&b).is_err());
}

#[test]
fn wait_slave_reads_after_the_open_and_ends_at_the_last_close() {
    let dir = tempdir();
    let link = dir.path().join("tty");
    let addr = format!("pty,link={},raw,echo=0,wait-slave", link.display());
    let mut p = spawn_sockbox(&["-v", "connect", &addr]);
    wait_for_link(&link);
    p.wait_stderr("waiting for");
    let out = pty_peer(&["hold", link.to_str().unwrap(), "0"]);
    assert_eq!(out.code, 0, "{out:?}");
    // The slave's close is the end of the stream (EIO on the master), not an error.
    wait_stdout(&p, "hi\n");
    p.close_stdin();
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
    assert_eq!(p.stdout(), b"hi\n");
    assert!(!p.stderr().contains("rror"), "{}", p.stderr());
}

#[test]
fn link_onto_a_regular_file_is_refused_and_the_file_kept() {
    let dir = tempdir();
    let file = dir.path().join("precious");
    std::fs::write(&file, b"keep me").unwrap();
    let out = run_sockbox(&["connect", &format!("pty,link={}", file.display())], b"");
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr_lines().len(), 1, "{out:?}");
    assert!(out.stderr.starts_with("sockbox: ") && out.stderr.contains("not a symbolic link"));
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    assert!(!std::fs::symlink_metadata(&file)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_stale_link_is_replaced() {
    let dir = tempdir();
    let link = dir.path().join("tty");
    std::os::unix::fs::symlink("/dev/pts/does-not-exist", &link).unwrap();
    let mut p = spawn_sockbox(&["connect", &format!("pty,link={}", link.display())]);
    p.wait_stderr("replaced the symbolic link");
    let to = std::fs::read_link(&link).unwrap();
    assert!(to.starts_with("/dev/pts/") && to.exists(), "{to:?}");
    p.signal(Signal::SIGTERM);
    p.wait_exit(WAIT);
    assert!(std::fs::symlink_metadata(&link).is_err());
}

#[test]
fn exec_on_a_pty_has_a_terminal() {
    let out = run_sockbox(&["connect", "exec:tty,pty"], b"");
    assert_eq!(out.code, 0, "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("/dev/pts/") && text.ends_with("\r\n"),
        "{text:?}"
    );
    let plain = run_sockbox(&["connect", "exec:tty"], b"");
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "not a tty\n");
}

#[test]
fn exec_pty_stderr_goes_to_the_terminal_too() {
    let out = run_sockbox(
        &["connect", "exec:sh -c 'echo out; echo err >&2',pty,stderr"],
        b"",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\r\nerr\r\n");
    assert!(!out.stderr.contains("err"), "{out:?}");
}

/// A Python program that prints `ready`, then `SIGINT` if it gets one.
const SIGINT_PROG: &str = "import signal,sys,time\n\
    signal.signal(signal.SIGINT, lambda *a: (print('SIGINT', flush=True), sys.exit(0)))\n\
    print('ready', flush=True)\n\
    time.sleep(20)\n\
    print('no signal', flush=True)\n";

fn ctrl_c_reaches(options: &str) -> String {
    let dir = tempdir();
    let prog = dir.path().join("sig.py");
    std::fs::write(&prog, SIGINT_PROG).unwrap();
    let addr = format!("exec:{} {},{options}", python(), prog.display());
    let mut p = spawn_sockbox(&["connect", &addr]);
    wait_stdout(&p, "ready");
    p.write(b"\x03");
    // The program exits on SIGINT; sockbox then reads EIO (the end) from the pty.
    wait_stdout(&p, "SIGINT");
    p.close_stdin();
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
    String::from_utf8_lossy(&p.stdout()).into_owned()
}

#[test]
fn ctrl_c_is_sigint_with_ctty_and_setsid() {
    let out = ctrl_c_reaches("pty,ctty,setsid");
    assert!(
        out.contains("SIGINT") && !out.contains("no signal"),
        "{out:?}"
    );
    let raw = ctrl_c_reaches("pty,raw,sigint");
    assert!(raw.contains("SIGINT"), "{raw:?}");
}

#[test]
fn tty_applies_settings_and_restores_them() {
    let pair = nix::pty::openpty(None, None).unwrap();
    let slave = nix::unistd::ttyname(pair.slave.as_fd()).unwrap();
    let before = settings(&slave);
    let addr = format!(
        "tty:{},b57600,raw,echo=0,cstopb=1,clocal=1,crtscts=0",
        slave.display()
    );
    let mut p = spawn_sockbox(&["connect", &addr]);
    let s = wait_for("the tty's settings", WAIT, || {
        let s = settings(&slave);
        (s["ospeed"] == 57600).then_some(s)
    });
    assert_eq!(s["echo"], false, "{s}");
    assert_eq!(s["icanon"], false, "{s}");
    assert_eq!(s["cstopb"], true, "{s}");
    assert_eq!(s["clocal"], true, "{s}");
    // Bytes both ways: the master is the far end of the line.
    p.write(b"to the device\n");
    let mut got = Vec::new();
    wait_for("bytes on the master", WAIT, || {
        let mut buf = [0u8; 256];
        if let Ok(n) = nix::unistd::read(&pair.master, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        (got.len() >= 14).then_some(())
    });
    assert_eq!(got, b"to the device\n");
    nix::unistd::write(&pair.master, b"from the device\n").unwrap();
    wait_stdout(&p, "from the device\n");
    p.close_stdin();
    p.signal(Signal::SIGTERM);
    p.wait_exit(WAIT);
    assert_eq!(settings(&slave), before, "settings not restored");
}

#[test]
fn tty_bad_input() {
    let not_tty = run_sockbox(&["connect", "tty:/dev/null,b9600"], b"");
    assert_eq!(not_tty.code, 1, "{not_tty:?}");
    assert_eq!(not_tty.stderr_lines().len(), 1, "{not_tty:?}");
    assert!(not_tty.stderr.contains("not a terminal"), "{not_tty:?}");
    for (addr, needle) in [
        ("tty:/dev/null,b115201", "a standard rate"),
        ("tty:/dev/null,cs9", "unknown option"),
        ("exec:cat,raw", "add the option pty"),
        ("pty:/dev/x", "pty takes no target"),
        ("unix:/x,link=/y", "applies to pty"),
    ] {
        let out = run_sockbox(&["connect", addr], b"");
        assert_eq!(out.code, 2, "{addr}: {out:?}");
        assert_eq!(out.stderr_lines().len(), 1, "{addr}: {out:?}");
        assert!(out.stderr.contains(needle), "{addr}: {out:?}");
    }
    let missing = run_sockbox(&["connect", "tty:/dev/ttyNOPE9"], b"");
    assert_eq!(missing.code, 1, "{missing:?}");
    assert_eq!(missing.stderr_lines().len(), 1, "{missing:?}");
}

#[test]
fn readline_edits_lines_and_keeps_history() {
    let dir = tempdir();
    let out = pty_peer(&["readline", sockbox_bin(), dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("server received b'abXc\\n'"), "{text}");
    // Ctrl-D: the server reads end of stream; sockbox exits 0 when the server closes.
    assert!(text.contains("server then read b''"), "{text}");
    assert!(
        text.contains("status 0") && text.contains("prompt shown True"),
        "{text}"
    );
    let history = std::fs::read_to_string(dir.path().join("state/sockbox/history")).unwrap();
    assert!(history.lines().any(|l| l == "abXc"), "{history:?}");
}

#[test]
fn readline_ends_when_the_server_closes_and_restores_the_terminal() {
    let dir = tempdir();
    let out = pty_peer(&[
        "readline_closed",
        sockbox_bin(),
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("editing echo=0 icanon=0"), "{text}");
    assert!(text.contains("screen has bye True"), "{text}");
    assert!(
        text.contains("after echo=1 icanon=1 before echo=1 icanon=1"),
        "{text}"
    );
    assert!(text.contains("status 0"), "{text}");
}

#[test]
fn readline_without_a_terminal_is_stdio() {
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let server = spawn_sockbox(&["listen", &format!("unix:{}", sock.display()), "--echo"]);
    server.wait_stderr("listening on");
    let out = run_sockbox(
        &["connect", &format!("unix:{}", sock.display()), "--readline"],
        b"plain\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, b"plain\n");
}

/// socat's PTY and `sockbox socat` on the same line give the slave the same settings and
/// carry the same bytes.
#[test]
fn socat_pty_side_by_side() {
    require_tool("socat");
    let mut seen = Vec::new();
    for tool in ["socat", "sockbox"] {
        let dir = tempdir();
        let link = dir.path().join("tty");
        let line = format!("PTY,link={},raw,echo=0", link.display());
        let mut cmd = if tool == "socat" {
            Command::new("socat")
        } else {
            sockbox_cmd(["socat"])
        };
        cmd.args([line.as_str(), "-"]);
        let mut p = Proc::spawn(tool, cmd);
        wait_for_link(&link);
        let s = settings(&link);
        let fd = nix::fcntl::open(
            &link,
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        nix::unistd::write(&fd, b"through the pty\n").unwrap();
        wait_stdout(&p, "through the pty\n");
        drop(fd);
        p.signal(Signal::SIGTERM);
        p.wait_exit(WAIT);
        seen.push(s);
    }
    assert_eq!(seen[0], seen[1], "socat's slave vs sockbox's");
}

/// picocom, a real serial terminal program, on one end of a virtual null-modem cable; the
/// other end is opened here.
#[test]
fn picocom_on_a_virtual_cable() {
    require_tool("picocom");
    let dir = tempdir();
    let (a, b) = (dir.path().join("ttyA"), dir.path().join("ttyB"));
    let mut relay = spawn_sockbox(&[
        "relay",
        &format!("pty,link={},raw,echo=0", a.display()),
        &format!("pty,link={},raw,echo=0", b.display()),
    ]);
    wait_for_link(&a);
    wait_for_link(&b);
    let far = nix::fcntl::open(
        &b,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    // picocom exits by itself once the line has been quiet for 2 s.
    let mut cmd = Command::new("picocom");
    cmd.args(["-q", "-b", "115200", "--nolock", "--exit-after", "2000"])
        .arg(&a);
    let mut pico = Proc::spawn("picocom", cmd);
    pico.feed(b"hello from picocom\n".to_vec());
    let mut got = Vec::new();
    wait_for("picocom's bytes on the far end", WAIT, || {
        let mut buf = [0u8; 256];
        if let Ok(n) = nix::unistd::read(&far, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.ends_with(b"hello from picocom\n").then_some(())
    });
    nix::unistd::write(&far, b"hello to picocom\n").unwrap();
    wait_stdout(&pico, "hello to picocom");
    assert_eq!(
        settings(&a)["ospeed"],
        115200,
        "picocom sets the line speed"
    );
    pico.wait_exit(WAIT);
    drop(far);
    relay.signal(Signal::SIGTERM);
    relay.wait_exit(WAIT);
}

/// socat's `-,raw,echo=0` (the user's terminal raw for a remote shell) through `sockbox socat`,
/// on a terminal Python made: raw while it runs, as it was after.
#[test]
fn stdio_raw_on_a_terminal_is_set_and_restored() {
    let dir = tempdir();
    let sock = dir.path().join("srv.sock");
    let out = pty_peer(&[
        "rawstdio",
        dir.path().to_str().unwrap(),
        sockbox_bin(),
        "socat",
        "-,raw,echo=0",
        &format!("UNIX-CONNECT:{}", sock.display()),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("before echo=1 icanon=1"), "{text}");
    assert!(text.contains("during echo=0 icanon=0"), "{text}");
    assert!(text.contains("peer got b'k'"), "{text}");
    assert!(text.contains("after echo=1 icanon=1"), "{text}");
    assert!(text.contains("status 0"), "{text}");
}

/// End of input to a program on a cooked pty is the end-of-file character, as typed: `cat`
/// ends, with or without a last newline; the stream ends when it exits.
#[test]
fn end_of_input_reaches_a_program_on_a_pty() {
    let line = run_sockbox(&["connect", "exec:cat,pty"], b"hello\n");
    assert_eq!(line.code, 0, "{line:?}");
    // The terminal echoes the line, then cat writes it back.
    assert_eq!(String::from_utf8_lossy(&line.stdout), "hello\r\nhello\r\n");
    let partial = run_sockbox(&["connect", "exec:cat,pty,echo=0"], b"no newline");
    assert_eq!(partial.code, 0, "{partial:?}");
    assert_eq!(String::from_utf8_lossy(&partial.stdout), "no newline");
}

/// socat's bare device path with termios options and `sockbox socat` (which opens it as
/// `tty:`) on the same line: the device gets the same settings, and bytes pass both ways.
#[test]
fn socat_tty_side_by_side() {
    require_tool("socat");
    let mut seen = Vec::new();
    for tool in ["socat", "sockbox"] {
        let pair = nix::pty::openpty(None, None).unwrap();
        let slave = nix::unistd::ttyname(pair.slave.as_fd()).unwrap();
        let before = settings(&slave);
        let line = format!("{},raw,echo=0,b57600,clocal=1", slave.display());
        let mut cmd = if tool == "socat" {
            Command::new("socat")
        } else {
            sockbox_cmd(["socat"])
        };
        cmd.args([line.as_str(), "-"]);
        let mut p = Proc::spawn(tool, cmd);
        // All that was asked, not a step on the way (socat may set options one by one).
        let s = wait_for(&format!("{tool} to set the line"), WAIT, || {
            let s = settings(&slave);
            let done = s["ospeed"] == 57600
                && s["echo"] == false
                && s["icanon"] == false
                && s["clocal"] == true;
            done.then_some(s)
        });
        assert_ne!(s, before);
        nix::unistd::write(&pair.master, b"from the device\n").unwrap();
        wait_stdout(&p, "from the device\n");
        p.signal(Signal::SIGTERM);
        p.wait_exit(WAIT);
        seen.push(s);
    }
    assert_eq!(seen[0], seen[1], "socat's settings vs sockbox's");
}

/// One client of a serial-over-TCP relay: sends `AT` and a CR, half-closes, and returns what
/// it read before the relay ended the connection (a connection left open fails the read's
/// time bound).
fn modem_client(port: u16, k: usize) -> Vec<u8> {
    use std::io::Write;
    let mut c = tcp_client(port);
    c.write_all(b"AT\r").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    read_to_end(c, &format!("client {k} of the serial line"))
}

/// Serial over TCP (`relay tcp:P tty:DEV`), the device a pty slave whose master a fake modem
/// (Python) holds. A tty never reads end of file, so a connection whose client has gone used
/// to stay, reading the device and taking the next client's answer. Now it ends a linger after
/// the client's end: the device is closed (its settings put back), and each client in turn
/// gets its own `OK`.
#[test]
fn serial_over_tcp_serves_one_client_after_another() {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("pty_peer.py")).arg("modem");
    let mut modem = Proc::spawn("fake modem", cmd);
    let slave = std::path::PathBuf::from(modem.stdout_line(0, WAIT).expect("the modem's tty"));
    let before = settings(&slave);
    let port = free_port();
    let relay = spawn_sockbox(&[
        "relay",
        &format!("tcp:127.0.0.1:{port}"),
        &format!("tty:{},b115200,raw,echo=0", slave.display()),
    ]);
    relay.wait_stderr("relaying");
    for k in 1..=3 {
        let got = modem_client(port, k);
        assert_eq!(
            String::from_utf8_lossy(&got),
            "OK\r\n",
            "client {k}; the relay said:\n{}\nthe modem:\n{}",
            relay.stderr(),
            String::from_utf8_lossy(&modem.stdout())
        );
        // The connection's end closed the device, which has its own settings back.
        wait_for(
            &format!("the tty's settings back after client {k}"),
            WAIT,
            || (settings(&slave) == before).then_some(()),
        );
    }
    modem.close_stdin();
    assert_eq!(modem.wait_code(WAIT), 0, "{}", modem.stderr());
    // Each client's command, and nothing else (no echo of an answer back to the modem).
    let said = String::from_utf8_lossy(&modem.stdout()).into_owned();
    let got: Vec<&str> = said.lines().skip(1).collect();
    assert_eq!(got, ["modem got b'AT'"; 3], "{said}");
}

/// `relay tcp:P pty,link=L`: a pty per client. sockbox holds the slave open, so its master
/// never reads end of file either: once the client has gone the connection ends a linger
/// later, with its pty and link, instead of living on.
#[test]
fn a_pty_per_client_ends_with_its_client() {
    use std::io::Write;
    let dir = tempdir();
    let link = dir.path().join("ttyV");
    let port = free_port();
    let relay = spawn_sockbox(&[
        "relay",
        &format!("tcp:127.0.0.1:{port}"),
        &format!("pty,link={},raw,echo=0", link.display()),
    ]);
    relay.wait_stderr("relaying");
    let mut c = tcp_client(port);
    c.write_all(b"to the pty\n").unwrap();
    wait_for_link(&link);
    let slave = nix::fcntl::open(
        &link,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let mut got = Vec::new();
    wait_for("the client's bytes on the slave", WAIT, || {
        let mut buf = [0u8; 256];
        if let Ok(n) = nix::unistd::read(&slave, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.ends_with(b"to the pty\n").then_some(())
    });
    nix::unistd::write(&slave, b"reply\n").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let back = read_to_end(c, "the client of the pty");
    assert_eq!(back, b"reply\n", "{}", relay.stderr());
    wait_for("the pty's link to go", WAIT, || {
        std::fs::symlink_metadata(&link).is_err().then_some(())
    });
}
