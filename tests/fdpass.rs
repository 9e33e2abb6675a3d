//! Descriptor passing (SCM_RIGHTS): `sockbox fd send`, `sockbox fd recv` and
//! `relay --pass-fds`, against Python's `socket.send_fds` / `socket.recv_fds`
//! (`tests/peers/fd_peer.py`) on the other end, both ways.
//!
//! "No descriptor leaked" is checked two ways: by counting `/proc/PID/fd` of a sockbox that
//! keeps running (a relay, `fd recv --count N`) before and after many passes, error cases
//! included; and with pipes: the peer passes a pipe's write end and keeps its read end, which
//! reads end of file only once every copy of the write end, sockbox's included, is closed.

use std::path::Path;
use std::process::Command;

use crate::util::*;

/// `tests/peers/fd_peer.py`: one Unix socket driven by commands, answering one line each.
struct FdPeer {
    proc: Proc,
    lines: usize,
    pid: u32,
}

impl FdPeer {
    fn start(role: &str, kind: &str, addr: &str) -> FdPeer {
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("fd_peer.py")).args([role, kind, addr]);
        let mut p = FdPeer {
            proc: Proc::spawn(&format!("fd_peer {role} {kind} {addr}"), cmd),
            lines: 0,
            pid: 0,
        };
        let ready = p.line();
        p.pid = ready
            .strip_prefix("ready ")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("fd_peer said {ready:?}"));
        p
    }

    fn listen(kind: &str, addr: &str) -> FdPeer {
        FdPeer::start("listen", kind, addr)
    }

    fn connect(kind: &str, addr: &str) -> FdPeer {
        FdPeer::start("connect", kind, addr)
    }

    fn line(&mut self) -> String {
        match self.proc.stdout_line(self.lines, WAIT) {
            Some(l) => {
                self.lines += 1;
                l
            }
            None => panic!(
                "{} gave no answer; stderr:\n{}",
                self.proc.name,
                self.proc.stderr()
            ),
        }
    }

    /// Send a command; its answer must start with `expect`.
    fn cmd(&mut self, cmd: &str, expect: &str) -> String {
        self.proc.write(format!("{cmd}\n").as_bytes());
        let l = self.line();
        assert!(
            l.starts_with(expect),
            "{}: `{}`: expected {expect:?}, got {l:?}; stderr:\n{}",
            self.proc.name,
            cmd.chars().take(100).collect::<String>(),
            self.proc.stderr()
        );
        l
    }

    /// `recv`: the payload and the number of descriptors of the next message.
    fn recv(&mut self) -> (Vec<u8>, usize) {
        let l = self.cmd("recv", "msg ");
        let w: Vec<&str> = l.split(' ').collect();
        assert_eq!(w[3], "-", "flags of {l:?}");
        (unhex(w[1]), w[2].parse().unwrap())
    }

    /// `read I`: length and sha256 of kept descriptor I, read to its end.
    fn read(&mut self, i: usize) -> (usize, String) {
        let l = self.cmd(&format!("read {i}"), "all ");
        let w: Vec<&str> = l.split_whitespace().collect();
        (w[1].parse().unwrap(), w[2].to_string())
    }
}

/// A sockbox that receives (`fd recv ADDR ARGS`), once it says it is receiving.
fn receiver(addr: &str, args: &[&str]) -> Proc {
    let mut all = vec!["fd", "recv", addr];
    all.extend_from_slice(args);
    let p = spawn_sockbox(&all);
    p.wait_stderr("receiving on");
    p
}

/// The one JSON object `fd recv --json` printed for its first message.
fn first_json(p: &Proc) -> serde_json::Value {
    let line = p
        .stdout_line(0, WAIT)
        .unwrap_or_else(|| panic!("no JSON line; stderr:\n{}", p.stderr()));
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn only_stderr_line(p: &Proc) -> String {
    let err = p.stderr();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            // The announcements of a receiver at work are not errors.
            let announced = ["receiving on ", "connection from ", "listening on "]
                .iter()
                .any(|m| l.starts_with(&format!("sockbox: {m}")));
            // `sockbox: PEER closed` (a peer leaving) has no colon after the prefix.
            let left = l
                .strip_prefix("sockbox: ")
                .is_some_and(|r| !r.contains(':') && r.ends_with(" closed"));
            !announced && !left
        })
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

#[test]
fn python_sends_a_file_and_a_pipe_and_cat_copies_both() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let data = random_bytes(300_000);
    let file = write_file(dir.path(), "data.bin", &data);
    let mut rx = receiver(&format!("unix:{sock}"), &["--count", "1", "--cat"]);
    let mut py = FdPeer::connect("unix", &sock);
    py.cmd(
        &format!(
            "send {} file:{} pipe-r:{}",
            hex(b"two"),
            file.display(),
            hex(b"through the pipe")
        ),
        "sent 3 2",
    );
    rx.wait_success();
    let mut expected = data.clone();
    expected.extend_from_slice(b"through the pipe");
    let out = rx.stdout();
    assert_eq!(out.len(), expected.len());
    assert_eq!(sha256(&out), sha256(&expected));
    // The descriptions went to stderr, out of the content's way.
    let err = rx.stderr();
    assert!(
        err.contains(&format!(
            "message 1 from pid {} (python3) uid 0 gid 0: 3 bytes \"two\", 2 descriptors",
            py.pid
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "[0] file  {}  read-only  size 300000  offset 0",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("[1] pipe  pipe:["), "{err}");
}

#[test]
fn descriptors_are_described_kind_path_access_and_socket_addresses_as_json() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let file = write_file(dir.path(), "f.txt", b"hello world\n");
    let name = abstract_name("fd-described");
    let rx = receiver(&format!("unix:{sock}"), &["--count", "1", "--json"]);
    let mut py = FdPeer::connect("unix", &sock);
    let sent = py.cmd(
        &format!(
            "send {} file:{} file:{} pipe-w:w dup:1 tcp-listen unix-listen:{name} self",
            hex(b"hello"),
            file.display(),
            dir.path().display()
        ),
        "sent 5 7",
    );
    let port: u16 = sent
        .split("port=")
        .nth(1)
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {sent:?}"));
    let j = first_json(&rx);
    assert_eq!(j["length"], 5);
    assert_eq!(j["encoding"], "utf-8");
    assert_eq!(j["data"], "hello");
    assert!(
        j["peer"]
            .as_str()
            .unwrap()
            .starts_with(&format!("pid {} (python3)", py.pid)),
        "{j}"
    );
    let fds = j["fds"].as_array().unwrap();
    assert_eq!(fds.len(), 7, "{j}");
    let f = &fds[0];
    assert_eq!(f["kind"], "file");
    assert_eq!(f["path"], file.display().to_string());
    assert_eq!(f["access"], "read");
    assert_eq!(
        (f["size"].as_u64(), f["offset"].as_u64()),
        (Some(12), Some(0))
    );
    assert_eq!(fds[1]["kind"], "directory");
    assert_eq!(fds[1]["path"], dir.path().display().to_string());
    assert_eq!(fds[2]["kind"], "pipe");
    assert_eq!(fds[2]["access"], "write");
    assert!(fds[2]["path"].as_str().unwrap().starts_with("pipe:["));
    assert_eq!(fds[3]["kind"], "char_device");
    assert_eq!(fds[3]["path"], "/dev/null");
    assert_eq!(fds[3]["device"], "1:3");
    let tcp = &fds[4]["socket"];
    assert_eq!(fds[4]["kind"], "socket");
    assert_eq!(
        (&tcp["family"], &tcp["type"], &tcp["listening"]),
        (&"inet".into(), &"stream".into(), &true.into())
    );
    assert_eq!(tcp["local"], format!("127.0.0.1:{port}"));
    assert!(tcp["peer"].is_null());
    let unix = &fds[5]["socket"];
    assert_eq!(
        (&unix["family"], &unix["listening"]),
        (&"unix".into(), &true.into())
    );
    assert_eq!(unix["local"], name);
    // Python's own connection to sockbox: its peer is sockbox's socket file and process.
    let own = &fds[6]["socket"];
    assert_eq!(
        (&own["family"], &own["type"]),
        (&"unix".into(), &"stream".into())
    );
    assert!(own["local"].is_null(), "{own}");
    assert_eq!(own["peer"], sock);
    assert_eq!(own["peer_cred"]["pid"], rx.pid());
    assert_eq!(own["peer_cred"]["process"], "sockbox");
}

#[test]
fn exec_hands_the_descriptors_to_a_program_as_fds_3_on_and_exits_with_its_status() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let data = random_bytes(100_000);
    let file = write_file(dir.path(), "data.bin", &data);
    let reader = write_file(
        dir.path(),
        "reader.py",
        br#"import hashlib, os, sys
# Descriptors beyond those handed over: what sockbox's own parent passed down is fine, but
# none of sockbox's sockets, epoll or eventfds may be among them.
extra = [os.readlink("/proc/self/fd/%d" % n) for n in range(6, 1024)
         if os.path.exists("/proc/self/fd/%d" % n)]
extra = [l for l in extra if l.startswith(("socket:", "anon_inode:"))]
def read_all(fd):
    b = b""
    while True:
        c = os.read(fd, 65536)
        if not c:
            return b
        b += c
print("fds", os.environ["SOCKBOX_FDS"], "extra", extra, flush=True)
print("file", hashlib.sha256(read_all(3)).hexdigest(), flush=True)
print("pipe", read_all(4).decode(), flush=True)
os.write(5, b"written through")
sys.exit(7)
"#,
    );
    let exec = format!("{} {}", python(), reader.display());
    let mut rx = receiver(&format!("unix:{sock}"), &["--exec", &exec]);
    let mut py = FdPeer::connect("unix", &sock);
    py.cmd(
        &format!(
            "send 00 file:{} pipe-r:{} pipe-w:out",
            file.display(),
            hex(b"piped")
        ),
        "sent 1 3",
    );
    // The write end the program got is written through: Python reads what it wrote.
    let (len, sha) = {
        let l = py.cmd("pipe_read out", "all ");
        let w: Vec<&str> = l.split_whitespace().collect();
        (w[1].parse::<usize>().unwrap(), w[2].to_string())
    };
    assert_eq!((len, sha), (15, sha256(b"written through")));
    assert_eq!(rx.wait_code(WAIT), 7, "{}", rx.stderr());
    let out = String::from_utf8(rx.stdout()).unwrap();
    assert_eq!(
        out,
        format!("fds 3 extra []\nfile {}\npipe piped\n", sha256(&data))
    );
    // The descriptions went to stderr, the socket file is gone.
    assert!(rx.stderr().contains("3 descriptors"), "{}", rx.stderr());
    assert!(!Path::new(&sock).exists());
}

#[test]
fn python_passes_253_descriptors_in_one_message() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let mut rx = receiver(&format!("seqpacket:{sock}"), &["--count", "1", "--json"]);
    let mut py = FdPeer::connect("seqpacket", &sock);
    py.cmd("send 00 dup:253", "sent 1 253");
    let j = first_json(&rx);
    let fds = j["fds"].as_array().unwrap();
    assert_eq!(fds.len(), 253);
    assert!(fds.iter().all(|f| f["path"] == "/dev/null"));
    rx.wait_success();
}

#[test]
fn sockbox_sends_300_descriptors_as_253_then_47() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let data = random_bytes(10_000);
    let file = write_file(dir.path(), "data.bin", &data);
    let mut py = FdPeer::listen("unix", &sock);
    let f = file.to_str().unwrap().to_string();
    let addr = format!("unix:{sock}");
    let mut args = vec!["fd", "send", addr.as_str(), "-d", "x"];
    args.extend(std::iter::repeat_n(f.as_str(), 300));
    let mut tx = spawn_sockbox(&args);
    py.cmd("accept", "accepted");
    assert_eq!(py.recv(), (b"x".to_vec(), 253));
    assert_eq!(py.recv(), (b"x".to_vec(), 47));
    tx.wait_success();
    assert!(
        tx.stderr().contains("sent 300 descriptors in 2 messages"),
        "{}",
        tx.stderr()
    );
    // End of stream after the two.
    assert_eq!(py.cmd("recv", "msg ").trim_end(), "msg  0 -");
    // All 300 are the file, each opened on its own (offset 0).
    assert_eq!(py.read(0), (10_000, sha256(&data)));
    assert_eq!(py.read(299), (10_000, sha256(&data)));
    let info = py.cmd("info 150", "info ");
    assert_eq!(info, format!("info file rdonly path={f}"));
}

#[test]
fn fd_send_passes_files_directories_and_inherited_descriptors_to_python() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let data = random_bytes(50_000);
    let file = write_file(dir.path(), "data.bin", &data);
    let log = dir.path().join("out.log");
    let mut py = FdPeer::listen("seqpacket", &sock);
    let addr = format!("seqpacket:{sock}");

    // A file and a directory, read-only.
    let mut tx = spawn_sockbox(&[
        "fd",
        "send",
        &addr,
        file.to_str().unwrap(),
        dir.path().to_str().unwrap(),
        "-d",
        "files",
    ]);
    py.cmd("accept", "accepted");
    assert_eq!(py.recv(), (b"files".to_vec(), 2));
    tx.wait_success();
    assert_eq!(py.read(0), (50_000, sha256(&data)));
    assert_eq!(
        py.cmd("info 1", "info "),
        format!("info dir rdonly path={}", dir.path().display())
    );

    // A log opened for appending: Python writes through it.
    let mut tx = spawn_sockbox(&["fd", "send", &addr, log.to_str().unwrap(), "--append"]);
    py.cmd("accept", "accepted");
    assert_eq!(py.recv(), (vec![0], 1));
    tx.wait_success();
    assert_eq!(
        py.cmd("info 2", "info "),
        format!("info file wronly append path={}", log.display())
    );
    py.cmd(&format!("write 2 {}", hex(b"appended\n")), "wrote 9");
    assert_eq!(std::fs::read(&log).unwrap(), b"appended\n");

    // A descriptor sockbox inherited (3<FILE in the shell).
    let mut sh = Command::new("sh");
    sh.args([
        "-c",
        r#"exec "$0" fd send "$1" --fd 3 -d inherited 3<"$2""#,
        sockbox_bin(),
        &addr,
        file.to_str().unwrap(),
    ]);
    let mut tx = Proc::spawn("sockbox fd send --fd 3", sh);
    py.cmd("accept", "accepted");
    assert_eq!(py.recv(), (b"inherited".to_vec(), 1));
    tx.wait_success();
    assert_eq!(py.read(3), (50_000, sha256(&data)));
}

#[test]
fn fd_send_to_a_listen_address_gives_the_files_to_the_first_client() {
    let dir = tempdir();
    let sock = path_in(&dir, "give.sock");
    let data = random_bytes(20_000);
    let file = write_file(dir.path(), "data.bin", &data);
    let mut tx = spawn_sockbox(&[
        "fd",
        "send",
        &format!("listen:unix:{sock}"),
        file.to_str().unwrap(),
    ]);
    wait_listening(&tx);
    let mut py = FdPeer::connect("unix", &sock);
    assert_eq!(py.recv(), (vec![0], 1));
    tx.wait_success();
    assert_eq!(py.read(0), (20_000, sha256(&data)));
    assert!(
        !Path::new(&sock).exists(),
        "the socket file was left behind"
    );
}

#[test]
fn descriptors_travel_over_unix_datagrams_both_ways() {
    let dir = tempdir();
    let data = random_bytes(5_000);
    let file = write_file(dir.path(), "data.bin", &data);

    // sockbox -> Python.
    let to_py = path_in(&dir, "py.sock");
    let mut py = FdPeer::listen("unix-dgram", &to_py);
    let mut tx = spawn_sockbox(&[
        "fd",
        "send",
        &format!("unix-dgram:{to_py}"),
        file.to_str().unwrap(),
        "-d",
        "dgram",
    ]);
    tx.wait_success();
    assert_eq!(py.recv(), (b"dgram".to_vec(), 1));
    assert_eq!(py.read(0), (5_000, sha256(&data)));
    // A datagram may carry descriptors with no data at all.
    let mut tx = spawn_sockbox(&[
        "fd",
        "send",
        &format!("unix-dgram:{to_py}"),
        file.to_str().unwrap(),
        "-d",
        "",
    ]);
    tx.wait_success();
    assert_eq!(py.recv(), (vec![], 1));

    // Python -> sockbox.
    let to_sb = path_in(&dir, "sb.sock");
    let mut rx = receiver(&format!("unix-dgram:{to_sb}"), &["--count", "1", "--cat"]);
    let mut py = FdPeer::connect("unix-dgram", &to_sb);
    py.cmd(&format!("send 00 file:{}", file.display()), "sent 1 1");
    rx.wait_success();
    assert_eq!(sha256(&rx.stdout()), sha256(&data));
    assert!(
        rx.stderr().contains("message 1 from unnamed"),
        "{}",
        rx.stderr()
    );
    assert!(!Path::new(&to_sb).exists());
}

/// Python sends one message (`send`, answered by `sent`) that `fd recv ARGS` on a `kind`
/// socket must refuse: sockbox exits 1 with one line on stderr (returned), and the pipe end
/// Python passed along (`a`) is closed, so no descriptor of that message was kept.
fn refused_message(kind: &str, args: &[&str], send: &str, sent: &str) -> String {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let mut rx = receiver(&format!("{kind}:{sock}"), args);
    let mut py = FdPeer::connect(kind, &sock);
    py.cmd(send, sent);
    assert_eq!(rx.wait_code(WAIT), 1);
    let line = only_stderr_line(&rx);
    assert_eq!(py.cmd("pipe_closed a", "c"), "closed", "after: {line}");
    line
}

#[test]
fn more_descriptors_than_max_fds_is_one_line_and_exit_1_and_all_are_closed() {
    let line = refused_message(
        "unix",
        &["--max-fds", "2"],
        "send 00 pipe-w:a dup:2",
        "sent 1 3",
    );
    assert!(
        line.contains("more than the 2 allowed"),
        "unexpected message: {line}"
    );
}

#[test]
fn control_data_truncated_is_an_error_not_silence() {
    // Far more than a control buffer made for 2 can hold: the kernel truncates (MSG_CTRUNC).
    let line = refused_message(
        "unix",
        &["--max-fds", "2"],
        "send 00 pipe-w:a dup:20",
        "sent 1 21",
    );
    assert!(line.contains("(MSG_CTRUNC)"), "unexpected message: {line}");
    assert!(line.starts_with("sockbox: recvmsg from "), "{line}");
}

#[test]
fn a_seqpacket_message_too_long_is_an_error() {
    let send = format!("send {} pipe-w:a", hex(&vec![b'z'; 70_000]));
    let line = refused_message("seqpacket", &[], &send, "sent 70000 1");
    assert!(
        line.contains("a 70000-byte message did not fit the 65536-byte buffer (MSG_TRUNC)"),
        "unexpected message: {line}"
    );
}

#[test]
fn a_peer_closing_mid_message_ends_fd_send_with_one_line() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let file = write_file(dir.path(), "f", b"x");
    let mut py = FdPeer::listen("unix", &sock);
    // 100 KB of payload through a 4 KiB send buffer: sockbox is still sending when the
    // peer goes away without reading.
    let payload = "p".repeat(100_000);
    let mut tx = spawn_sockbox(&[
        "fd",
        "send",
        &format!("unix:{sock},sndbuf=4096"),
        file.to_str().unwrap(),
        "-d",
        &payload,
    ]);
    py.cmd("accept", "accepted");
    py.cmd("close", "closed");
    assert_eq!(tx.wait_code(WAIT), 1, "{}", tx.stderr());
    let line = only_stderr_line(&tx);
    assert!(line.starts_with("sockbox: sendmsg to unix:"), "{line}");
}

#[test]
fn bad_descriptor_arguments_are_usage_errors() {
    let out = run_sockbox(&["fd", "send", "unix:/nonexistent/s", "--fd", "999"], b"");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "sockbox: --fd 999: descriptor 999 is not open (pass it to sockbox from the shell, e.g. 999<FILE)"
    );
    let out = run_sockbox(&["fd", "send", "tcp:127.0.0.1:1", "/etc/hostname"], b"");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "sockbox: tcp:127.0.0.1:1: descriptors travel only over Unix sockets (unix:, seqpacket:, unix-dgram:)"
    );
    let out = run_sockbox(
        &["fd", "send", "unix:/nonexistent/s", "/nonexistent/file"],
        b"",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "sockbox: open /nonexistent/file: no such file or directory"
    );
    let out = run_sockbox(
        &[
            "fd",
            "send",
            "unix:/nonexistent/s",
            "-d",
            "",
            "/etc/hostname",
        ],
        b"",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("a stream socket carries descriptors only with at least one byte of data"),
        "{}",
        out.stderr
    );
    let out = run_sockbox(&["fd", "recv", "unix:/tmp/x.sock", "--max-fds", "254"], b"");
    assert_eq!(out.code, 2, "{}", out.stderr);
    for (a, b) in [
        ("tcp:127.0.0.1:1", "unix:/tmp/x"),
        ("unix:/tmp/a", "seqpacket:/tmp/b"),
    ] {
        let out = run_sockbox(&["relay", "--pass-fds", a, b], b"");
        assert_eq!(out.code, 2, "{a} {b}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn fd_recv_gives_up_at_its_timeout() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let out = run_sockbox(
        &[
            "fd",
            "recv",
            &format!("unix:{sock}"),
            "--count",
            "1",
            "--timeout",
            "100ms",
        ],
        b"",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "unix:{sock}: timed out with 0 of 1 messages received"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn fd_recv_leaks_no_descriptor_over_many_messages() {
    let dir = tempdir();
    let sock = path_in(&dir, "fds.sock");
    let mut rx = receiver(&format!("unix:{sock}"), &["--count", "32"]);
    let mut py = FdPeer::connect("unix", &sock);
    let messages = |p: &Proc| {
        String::from_utf8_lossy(&p.stdout())
            .lines()
            .filter(|l| l.starts_with("message "))
            .count()
    };
    py.cmd("send 00 dup:1", "sent 1 1");
    wait_for("message 1", WAIT, || (messages(&rx) == 1).then_some(()));
    let before = open_fds(rx.pid());
    for i in 0..30 {
        py.cmd(&format!("send 00 pipe-w:{i} dup:7"), "sent 1 8");
    }
    wait_for("31 messages", WAIT, || (messages(&rx) == 31).then_some(()));
    let after = wait_for_count(rx.pid(), before);
    assert_eq!(
        after, before,
        "open descriptors before and after 240 received"
    );
    for i in 0..30 {
        assert_eq!(py.cmd(&format!("pipe_closed {i}"), "c"), "closed");
    }
    py.cmd("send 00 dup:1", "sent 1 1");
    rx.wait_success();
    eprintln!("fd recv: {before} descriptors open before 240 passed, {after} after");
}

/// The descriptor count of `pid` once it is back to `expected` (or what it is after the
/// bound, for the assertion to show).
fn wait_for_count(pid: u32, expected: usize) -> usize {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let n = open_fds(pid);
        if n == expected || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A `relay --pass-fds` between a Python client on A and a Python server on B.
struct PassRelay {
    relay: Proc,
    server: FdPeer,
    a: String,
    kind: &'static str,
    _dir: tempfile::TempDir,
}

impl PassRelay {
    fn start(kind: &'static str, extra: &[&str]) -> PassRelay {
        let dir = tempdir();
        let (a, b) = (path_in(&dir, "a.sock"), path_in(&dir, "b.sock"));
        let server = FdPeer::listen(kind, &b);
        let (sa, sb) = (format!("{kind}:{a}"), format!("{kind}:{b}"));
        let mut args = vec!["relay", "--pass-fds", sa.as_str(), sb.as_str()];
        args.extend_from_slice(extra);
        let relay = spawn_sockbox(&args);
        relay.wait_stderr("relaying");
        PassRelay {
            relay,
            server,
            a,
            kind,
            _dir: dir,
        }
    }

    /// A new client, accepted by the server through the relay.
    fn client(&mut self) -> FdPeer {
        let c = FdPeer::connect(self.kind, &self.a);
        self.server.cmd("accept", "accepted");
        c
    }
}

#[test]
fn relay_pass_fds_carries_bytes_and_descriptors_both_ways_in_order() {
    let mut r = PassRelay::start("unix", &[]);
    let mut client = r.client();
    // One at a time, then a burst: each message keeps its own descriptor.
    for round in 0..2 {
        let payloads: Vec<Vec<u8>> = (0..5)
            .map(|i| format!("round {round} message {i}").into_bytes())
            .collect();
        let contents: Vec<Vec<u8>> = (0..5).map(|_| random_bytes(1000)).collect();
        for i in 0..5 {
            client.cmd(
                &format!("send {} pipe-r:{}", hex(&payloads[i]), hex(&contents[i])),
                "sent",
            );
            if round == 0 {
                assert_eq!(r.server.recv(), (payloads[i].clone(), 1));
            }
        }
        if round == 1 {
            for p in &payloads {
                assert_eq!(&r.server.recv(), &(p.clone(), 1));
            }
        }
        for (i, c) in contents.iter().enumerate() {
            assert_eq!(r.server.read(round * 5 + i), (1000, sha256(c)));
        }
    }
    // The other way.
    let back = random_bytes(2000);
    r.server.cmd(
        &format!("send {} pipe-r:{}", hex(b"back"), hex(&back)),
        "sent 4 1",
    );
    assert_eq!(client.recv(), (b"back".to_vec(), 1));
    assert_eq!(client.read(0), (2000, sha256(&back)));
    // Bytes beyond one read, with descriptors on the first, then half-close both ways.
    let big = random_bytes(200_000);
    client.cmd(
        &format!("send {} pipe-r:{}", hex(&big), hex(b"with big")),
        "sent 200000 1",
    );
    client.cmd("shut", "shut");
    let all = r.server.cmd("recvall", "all ");
    assert_eq!(all, format!("all 200000 {} 1", sha256(&big)));
    r.server.cmd("shut", "shut");
    assert_eq!(
        client.cmd("recvall", "all "),
        format!("all 0 {} 0", sha256(b""))
    );
    r.relay.wait_stderr(" closed: ");
}

#[test]
fn relay_pass_fds_over_seqpacket_keeps_messages_and_counts_them() {
    let mut r = PassRelay::start("seqpacket", &["--stats", "--json"]);
    let mut client = r.client();
    let mut bytes = 0;
    for i in 0..4 {
        let payload = random_bytes(10_000 * (i + 1));
        bytes += payload.len();
        client.cmd(&format!("send {} dup:{}", hex(&payload), i + 1), "sent");
        assert_eq!(r.server.recv(), (payload, i + 1));
    }
    r.server.cmd("send 00", "sent 1 0");
    assert_eq!(client.recv(), (vec![0], 0));
    client.cmd("close", "closed");
    r.server.cmd("recv", "msg  0 -");
    r.server.cmd("close", "closed");
    r.relay.wait_stderr(" closed: ");
    r.relay.signal(nix::sys::signal::Signal::SIGINT);
    r.relay.wait_success();
    let totals: serde_json::Value = serde_json::from_slice(&r.relay.stdout()).unwrap();
    assert_eq!(totals["connections"], 1);
    assert_eq!(totals["bytes_in"], bytes);
    assert_eq!(totals["messages_in"], 4);
    assert_eq!(totals["messages_out"], 1);
}

#[test]
fn relay_pass_fds_leaks_no_descriptor_even_when_connections_fail() {
    let mut r = PassRelay::start("unix", &[]);
    let pid = r.relay.pid();
    let before = open_fds(pid);
    let mut tag = 0;
    for round in 0..6 {
        // A connection that works: descriptors through, both sides close.
        let mut c = r.client();
        tag += 1;
        c.cmd(&format!("send 00 pipe-w:{tag} dup:5"), "sent 1 6");
        assert_eq!(r.server.recv(), (vec![0], 6));
        r.server.cmd("drop", "dropped 6");
        assert_eq!(c.cmd(&format!("pipe_closed {tag}"), "c"), "closed");
        c.cmd("close", "closed");
        r.server.cmd("close", "closed");

        // A connection the server resets: it closes with the relayed message unread, so the
        // relay's next read from it fails (ECONNRESET) and the relay ends that connection.
        let mut c = r.client();
        tag += 1;
        c.cmd(&format!("send 00 pipe-w:{tag} dup:5"), "sent 1 6");
        if round % 2 == 0 {
            // Make sure the message reached the server before it goes away.
            r.server.cmd("recv", "msg 00 6");
            r.server.cmd("drop", "dropped 6");
            r.server
                .cmd(&format!("send {}", hex(b"never read")), "sent");
        }
        r.server.cmd("close", "closed");
        assert_eq!(c.cmd(&format!("pipe_closed {tag}"), "c"), "closed");
        c.cmd("close", "closed");
    }
    let after = wait_for_count(pid, before);
    assert_eq!(
        after,
        before,
        "relay descriptors before and after 12 connections; stderr:\n{}",
        r.relay.stderr()
    );
    assert!(r.relay.running());
    eprintln!("relay --pass-fds: {before} descriptors open before 12 connections, {after} after");
}

#[test]
fn fd_recv_ends_on_sigterm_with_exit_0_and_removes_its_socket() {
    let dir = tempdir();
    let sock = dir.path().join("stop.sock");
    let mut p = receiver(&format!("unix:{}", sock.display()), &[]);
    p.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
    assert!(!sock.exists(), "the socket file was left behind");
}
