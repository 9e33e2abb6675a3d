//! sockbox's command line, driven end to end: real sockets on 127.0.0.1, ::1, Unix paths in
//! temporary directories and abstract names with unique suffixes; real peers (Python's socket
//! module in `tests/peers/`, socat, nc, the kernel's FIFOs). Bytes are checked with sha256.
//! Every wait is bounded and every process is reaped (see `util.rs`).

mod access;
mod bench;
mod compat;
mod diag;
mod doctor;
mod faults;
mod fdpass;
mod help_topics;
mod http;
mod inspect;
mod install;
mod observe;
mod proxy;
mod pty;
mod relay_options;
mod tls;
mod traffic;
mod unixpower;
mod util;

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use nix::sys::signal::Signal;

use util::*;

/// No panic and no backtrace reached stderr.
fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "sockbox panicked:\n{stderr}"
    );
}

/// The relay ends a connection: end of stream or a reset, not the read timeout. Returns what
/// arrived before the end.
fn assert_connection_ends(c: &mut Client, what: &str) -> Vec<u8> {
    let mut rest = Vec::new();
    if let Err(e) = c.read_to_end(&mut rest) {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{what}: the connection was not ended within {WAIT:?}"
        );
    }
    rest
}

/// Exactly one non-empty line on stderr.
fn one_line(out: &Outcome) -> &str {
    let lines = out.stderr_lines();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got:\n{}",
        out.stderr
    );
    lines[0]
}

// ---------------------------------------------------------------------------------------------
// A. Every kind connects to and accepts from a real peer.
// ---------------------------------------------------------------------------------------------

/// `sockbox connect ADDR` against a Python server: stdin reaches the server, the server's bytes
/// reach stdout, both checked by hash, and sockbox exits 0 once both directions ended.
fn stream_connects(puppet_kind: &str, puppet_addr: &str, sockbox_addr: impl Fn(u16) -> String) {
    let dir = tempdir();
    let to_peer = random_bytes((1 << 20) + 7);
    let from_peer = random_bytes((1 << 20) + 13);
    let file = write_file(dir.path(), "from_peer", &from_peer);
    let mut peer = Puppet::listen(puppet_kind, puppet_addr);
    peer.ask("accept");
    let addr = sockbox_addr(peer.port);
    let mut sb = spawn_sockbox(&["connect", &addr]);
    sb.feed(to_peer.clone());
    peer.expect("accepted");
    peer.ask(&format!("exchange {}", file.display()));
    assert_eq!(
        peer.all(),
        (to_peer.len(), sha256(&to_peer)),
        "what the server got"
    );
    sb.wait_success();
    assert_eq!(
        sha256(&sb.stdout()),
        sha256(&from_peer),
        "what sockbox printed"
    );
}

/// `sockbox listen ADDR` with a Python client: sockbox's stdin reaches the client, the
/// client's bytes reach stdout.
fn stream_accepts(sockbox_addr: &str, puppet_kind: &str, puppet_addr: impl Fn(u16) -> String) {
    let dir = tempdir();
    let to_peer = random_bytes((1 << 20) + 3);
    let from_peer = random_bytes((1 << 20) + 5);
    let file = write_file(dir.path(), "from_peer", &from_peer);
    let mut sb = spawn_sockbox(&["listen", sockbox_addr]);
    sb.feed(to_peer.clone());
    let port = announced_port(&sb);
    let mut peer = Puppet::connect(puppet_kind, &puppet_addr(port));
    peer.ask(&format!("exchange {}", file.display()));
    assert_eq!(
        peer.all(),
        (to_peer.len(), sha256(&to_peer)),
        "what the client got"
    );
    sb.wait_success();
    assert_eq!(
        sha256(&sb.stdout()),
        sha256(&from_peer),
        "what sockbox printed"
    );
}

#[test]
fn tcp4_connects() {
    stream_connects("tcp4", "127.0.0.1:0", |p| format!("tcp4:127.0.0.1:{p}"));
}

#[test]
fn tcp4_accepts() {
    stream_accepts("tcp4:127.0.0.1:0", "tcp4", |p| format!("127.0.0.1:{p}"));
}

#[test]
fn tcp6_connects() {
    stream_connects("tcp6", "[::1]:0", |p| format!("tcp6:[::1]:{p}"));
}

#[test]
fn tcp6_accepts() {
    stream_accepts("tcp6:[::1]:0", "tcp6", |p| format!("[::1]:{p}"));
}

#[test]
fn unix_path_connects() {
    let dir = tempdir();
    let path = path_in(&dir, "s.sock");
    stream_connects("unix", &path, |_| format!("unix:{path}"));
}

#[test]
fn unix_path_accepts() {
    let dir = tempdir();
    let path = path_in(&dir, "s.sock");
    stream_accepts(&format!("unix:{path}"), "unix", |_| path.clone());
}

#[test]
fn unix_abstract_connects() {
    let name = abstract_name("ua-c");
    stream_connects("unix", &name, |_| format!("unix:{name}"));
}

#[test]
fn unix_abstract_accepts() {
    let name = abstract_name("ua-a");
    stream_accepts(&format!("unix:{name}"), "unix", |_| name.clone());
}

/// Messages of sizes that each fit one pipe write (so one stdin write is one read).
fn messages() -> Vec<Vec<u8>> {
    [1, 700, 3000].iter().map(|&n| random_bytes(n)).collect()
}

/// `sockbox connect ADDR` to a Python peer of a message kind: each stdin write arrives as one
/// whole message, the peer's messages reach stdout.
fn message_connects(puppet_kind: &str, puppet_addr: &str, sockbox_addr: impl Fn(u16) -> String) {
    let mut peer = Puppet::listen(puppet_kind, puppet_addr);
    let seqpacket = puppet_kind == "seqpacket";
    if seqpacket {
        peer.ask("accept");
    }
    let addr = sockbox_addr(peer.port);
    let mut sb = spawn_sockbox(&["connect", &addr]);
    if seqpacket {
        peer.expect("accepted");
    }
    for m in messages() {
        sb.write(&m);
        assert_eq!(
            hex(&peer.recv()),
            hex(&m),
            "a message from sockbox arrived split or merged"
        );
    }
    let replies = messages();
    for r in &replies {
        peer.send(r);
    }
    let all: Vec<u8> = replies.concat();
    let got = sb.wait_stdout_len(all.len());
    assert_eq!(sha256(&got), sha256(&all), "what sockbox printed");
    sb.close_stdin();
    if seqpacket {
        assert_eq!(
            peer.recv(),
            b"",
            "seqpacket: end of stdin should end the stream"
        );
        peer.cmd("close", "closed");
    }
    sb.wait_success();
    assert_eq!(sha256(&sb.stdout()), sha256(&all));
}

/// `sockbox listen ADDR` with a Python peer of a message kind.
fn message_accepts(sockbox_addr: &str, puppet_kind: &str, puppet_addr: impl Fn(u16) -> String) {
    let seqpacket = puppet_kind == "seqpacket";
    let mut sb = spawn_sockbox(&["listen", sockbox_addr]);
    let port = announced_port(&sb);
    let mut peer = Puppet::connect(puppet_kind, &puppet_addr(port));
    let sent = messages();
    for m in &sent {
        peer.send(m);
    }
    let all = sent.concat();
    let got = sb.wait_stdout_len(all.len());
    assert_eq!(sha256(&got), sha256(&all), "what sockbox printed");
    for m in messages() {
        sb.write(&m);
        assert_eq!(
            hex(&peer.recv()),
            hex(&m),
            "a message from sockbox arrived split or merged"
        );
    }
    sb.close_stdin();
    if seqpacket {
        assert_eq!(
            peer.recv(),
            b"",
            "seqpacket: end of stdin should end the stream"
        );
        peer.cmd("close", "closed");
    }
    sb.wait_success();
}

#[test]
fn udp4_connects() {
    message_connects("udp4", "127.0.0.1:0", |p| format!("udp4:127.0.0.1:{p}"));
}

#[test]
fn udp4_accepts() {
    message_accepts("udp4:127.0.0.1:0", "udp4", |p| format!("127.0.0.1:{p}"));
}

#[test]
fn udp6_connects() {
    message_connects("udp6", "[::1]:0", |p| format!("udp6:[::1]:{p}"));
}

#[test]
fn udp6_accepts() {
    message_accepts("udp6:[::1]:0", "udp6", |p| format!("[::1]:{p}"));
}

#[test]
fn unix_dgram_path_connects() {
    let dir = tempdir();
    let path = path_in(&dir, "d.sock");
    message_connects("unix-dgram", &path, |_| format!("unix-dgram:{path}"));
}

#[test]
fn unix_dgram_path_accepts() {
    let dir = tempdir();
    let path = path_in(&dir, "d.sock");
    message_accepts(&format!("unix-dgram:{path}"), "unix-dgram", |_| {
        path.clone()
    });
}

#[test]
fn unix_dgram_abstract_connects() {
    let name = abstract_name("ud-c");
    message_connects("unix-dgram", &name, |_| format!("unix-dgram:{name}"));
}

#[test]
fn unix_dgram_abstract_accepts() {
    let name = abstract_name("ud-a");
    message_accepts(&format!("unix-dgram:{name}"), "unix-dgram", |_| {
        name.clone()
    });
}

#[test]
fn seqpacket_path_connects() {
    let dir = tempdir();
    let path = path_in(&dir, "q.sock");
    message_connects("seqpacket", &path, |_| format!("seqpacket:{path}"));
}

#[test]
fn seqpacket_path_accepts() {
    let dir = tempdir();
    let path = path_in(&dir, "q.sock");
    message_accepts(&format!("seqpacket:{path}"), "seqpacket", |_| path.clone());
}

#[test]
fn seqpacket_abstract_connects() {
    let name = abstract_name("sq-c");
    message_connects("seqpacket", &name, |_| format!("seqpacket:{name}"));
}

#[test]
fn seqpacket_abstract_accepts() {
    let name = abstract_name("sq-a");
    message_accepts(&format!("seqpacket:{name}"), "seqpacket", |_| name.clone());
}

/// `sockbox send ADDR --lines` sends one whole message per line; `sockbox send ADDR DATA` one.
fn message_send(puppet_kind: &str, puppet_addr: &str, sockbox_addr: impl Fn(u16) -> String) {
    let mut peer = Puppet::listen(puppet_kind, puppet_addr);
    let addr = sockbox_addr(peer.port);
    let seqpacket = puppet_kind == "seqpacket";
    if seqpacket {
        peer.ask("accept");
    }
    let lines = ["first message", "second, a little longer message", "3"];
    let out = run_sockbox(
        &["send", &addr, "--lines"],
        format!("{}\n", lines.join("\n")).as_bytes(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    if seqpacket {
        peer.expect("accepted");
    }
    for l in lines {
        assert_eq!(String::from_utf8(peer.recv()).unwrap(), l);
    }
    if seqpacket {
        assert_eq!(peer.recv(), b"", "send should end the seqpacket stream");
        peer.ask("accept");
    }
    let out = run_sockbox(&["send", &addr, "one datagram, whole"], b"");
    assert_eq!(out.code, 0, "{out:?}");
    if seqpacket {
        peer.expect("accepted");
    }
    assert_eq!(peer.recv(), b"one datagram, whole");
}

/// `sockbox recv ADDR --count 3` prints each message a Python peer sends, whole.
fn message_recv(sockbox_addr: &str, puppet_kind: &str, puppet_addr: impl Fn(u16) -> String) {
    let mut sb = spawn_sockbox(&["recv", sockbox_addr, "--count", "3", "--json"]);
    let port = announced_port(&sb);
    let mut peer = Puppet::connect(puppet_kind, &puppet_addr(port));
    let sent = messages();
    for m in &sent {
        peer.send(m);
    }
    sb.wait_success();
    let got = decode_json_messages(&sb.stdout());
    let got: Vec<String> = got.iter().map(|(_, d)| hex(d)).collect();
    let want: Vec<String> = sent.iter().map(|d| hex(d)).collect();
    assert_eq!(got, want);
}

/// `recv --json` output: (peer, data) per line, after checking `length` and `encoding`.
fn decode_json_messages(out: &[u8]) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    let text = String::from_utf8(out.to_vec()).expect("recv --json prints UTF-8");
    text.lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"));
            let peer = v["peer"]
                .as_str()
                .unwrap_or_else(|| panic!("no peer in {l}"))
                .to_string();
            let data = v["data"]
                .as_str()
                .unwrap_or_else(|| panic!("no data in {l}"));
            let bytes = match v["encoding"].as_str() {
                Some("base64") => base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap_or_else(|e| panic!("bad base64 in {l}: {e}")),
                Some("utf-8") => data.as_bytes().to_vec(),
                other => panic!("unknown encoding {other:?} in {l}"),
            };
            assert_eq!(
                v["length"].as_u64(),
                Some(bytes.len() as u64),
                "length of {l}"
            );
            (peer, bytes)
        })
        .collect()
}

#[test]
fn udp4_send_and_recv() {
    message_send("udp4", "127.0.0.1:0", |p| format!("udp4:127.0.0.1:{p}"));
    message_recv("udp4:127.0.0.1:0", "udp4", |p| format!("127.0.0.1:{p}"));
}

#[test]
fn udp6_send_and_recv() {
    message_send("udp6", "[::1]:0", |p| format!("udp6:[::1]:{p}"));
    message_recv("udp6:[::1]:0", "udp6", |p| format!("[::1]:{p}"));
}

#[test]
fn unix_dgram_send_and_recv() {
    let dir = tempdir();
    let a = path_in(&dir, "a.sock");
    let b = path_in(&dir, "b.sock");
    message_send("unix-dgram", &a, |_| format!("unix-dgram:{a}"));
    message_recv(&format!("unix-dgram:{b}"), "unix-dgram", |_| b.clone());
    let (n1, n2) = (abstract_name("uds"), abstract_name("udr"));
    message_send("unix-dgram", &n1, |_| format!("unix-dgram:{n1}"));
    message_recv(&format!("unix-dgram:{n2}"), "unix-dgram", |_| n2.clone());
}

#[test]
fn seqpacket_send_and_recv() {
    let dir = tempdir();
    let a = path_in(&dir, "a.sock");
    let b = path_in(&dir, "b.sock");
    message_send("seqpacket", &a, |_| format!("seqpacket:{a}"));
    message_recv(&format!("seqpacket:{b}"), "seqpacket", |_| b.clone());
    let (n1, n2) = (abstract_name("sqs"), abstract_name("sqr"));
    message_send("seqpacket", &n1, |_| format!("seqpacket:{n1}"));
    message_recv(&format!("seqpacket:{n2}"), "seqpacket", |_| n2.clone());
}

/// `listen fifo:PATH` creates the FIFO (mkfifo), prints what a writer (`cat`) puts in it and
/// removes it at exit; `connect fifo:PATH` writes stdin into a kernel FIFO a Python reader
/// reads.
#[test]
fn fifo_listens_and_connects() {
    let dir = tempdir();
    let data = random_bytes(300_000);
    let file = write_file(dir.path(), "data", &data);

    let fifo = dir.path().join("listened.fifo");
    let mut sb = spawn_sockbox(&["listen", &format!("fifo:{}", fifo.display())]);
    wait_path(&fifo);
    assert!(
        std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "listen fifo: made no FIFO"
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "cat \"$0\" > \"$1\""])
        .arg(&file)
        .arg(&fifo);
    let mut writer = Proc::spawn("cat into the FIFO", cmd);
    writer.wait_success();
    sb.wait_success();
    assert_eq!(
        sha256(&sb.stdout()),
        sha256(&data),
        "what came through the FIFO"
    );
    assert!(!fifo.exists(), "listen fifo: left its FIFO behind");

    let fifo = dir.path().join("made.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut cmd = Command::new(python());
    cmd.args([
        "-c",
        "import hashlib,sys; d=open(sys.argv[1],'rb').read(); print(len(d), hashlib.sha256(d).hexdigest())",
    ])
    .arg(&fifo);
    let mut reader = Proc::spawn("python reading the FIFO", cmd);
    let out = run_sockbox(&["connect", &format!("fifo:{}", fifo.display())], &data);
    assert_eq!(out.code, 0, "{out:?}");
    reader.wait_success();
    assert_eq!(
        String::from_utf8(reader.stdout()).unwrap().trim(),
        format!("{} {}", data.len(), sha256(&data))
    );
}

/// `file:PATH`: an existing file is read and sent, a new path receives what arrives; both as
/// the connecting side of `connect` and of `relay` with a Python client.
#[test]
fn file_reads_and_writes() {
    let dir = tempdir();
    let data = random_bytes(700_001);
    let input = write_file(dir.path(), "in", &data);
    let out = run_sockbox(&["connect", &format!("file:{}", input.display())], b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sha256(&out.stdout), sha256(&data), "file: read");

    let created = dir.path().join("created");
    let out = run_sockbox(&["connect", &format!("file:{}", created.display())], &data);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        sha256(&std::fs::read(&created).unwrap()),
        sha256(&data),
        "file: written"
    );

    // Through relay: a Python client reads an existing file, another writes a new one.
    let mut relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("file:{}", input.display()),
    ]);
    let port = announced_port(&relay);
    let empty = write_file(dir.path(), "empty", b"");
    let mut peer = Puppet::connect("tcp4", &format!("127.0.0.1:{port}"));
    peer.ask(&format!("exchange {}", empty.display()));
    assert_eq!(
        peer.all(),
        (data.len(), sha256(&data)),
        "relay to file: read"
    );
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0, "relay on SIGTERM");

    let out_path = dir.path().join("out");
    let mut relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("file:{}", out_path.display()),
    ]);
    let port = announced_port(&relay);
    let mut peer = Puppet::connect("tcp4", &format!("127.0.0.1:{port}"));
    peer.ask(&format!("exchange {}", input.display()));
    assert_eq!(peer.all(), (0, sha256(b"")), "a new file sends nothing");
    let n = data.len() as u64;
    wait_for("the file to be written", WAIT, || {
        (std::fs::metadata(&out_path).ok()?.len() >= n).then_some(())
    });
    assert_eq!(
        sha256(&std::fs::read(&out_path).unwrap()),
        sha256(&data),
        "relay to file: written"
    );
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0);
    assert_no_panic(&relay.stderr());
}

/// A pseudo-terminal made by Python: prints the slave's path, then the length and sha256 of
/// what reached the master (waiting for `argv[1]` bytes, at most 10 s), writes `pong` to the
/// master and keeps it open until its stdin closes. The slave is raw: bytes pass unchanged.
const PTY_PEER: &str = "import hashlib,os,select,sys,time,tty
m,s=os.openpty(); tty.setraw(s); print(os.ttyname(s),flush=True)
n=int(sys.argv[1]); h=hashlib.sha256(); got=0; end=time.time()+10
while got<n and time.time()<end:
    if select.select([m],[],[],0.2)[0]:
        d=os.read(m,65536); got+=len(d); h.update(d)
print(got,h.hexdigest(),flush=True)
os.write(m,b'pong'); sys.stdin.readline()";

/// `file:` on a terminal is two-way: what is sent to it reaches the pty master (it used to be
/// opened read-only and never written), and what the master writes is read.
#[test]
fn file_on_a_terminal_reads_and_writes() {
    let data = random_bytes(100_000);
    let mut cmd = Command::new(python());
    cmd.args(["-c", PTY_PEER, &data.len().to_string()]);
    let mut pty = Proc::spawn("python pty", cmd);
    let slave = pty.stdout_line(0, WAIT).expect("the pty's path");
    let mut sb = spawn_sockbox(&["connect", &format!("file:{slave}")]);
    sb.feed(data.clone());
    let got = pty
        .stdout_line(1, WAIT)
        .expect("what reached the pty master");
    assert_eq!(
        got,
        format!("{} {}", data.len(), sha256(&data)),
        "bytes written to file:{slave} at the master; sockbox said: {}",
        sb.stderr()
    );
    assert_eq!(sb.wait_stdout_len(4), b"pong", "read from file:{slave}");
    // The master closes: the terminal's end of input, and sockbox ends.
    pty.close_stdin();
    pty.wait_success();
    assert_eq!(sb.wait_code(WAIT), 0, "{}", sb.stderr());
    assert_no_panic(&sb.stderr());
}

/// `exec:` runs a program (argv split like a shell, but no shell), `sh:` a shell line; each is
/// connected to with stdin and, through relay, serves a Python client.
#[test]
fn exec_and_sh() {
    let data = random_bytes(500_000);
    let out = run_sockbox(&["connect", "exec:cat"], &data);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sha256(&out.stdout), sha256(&data), "exec:cat");

    // Quotes group words; $VAR and | are plain characters without a shell.
    let out = run_sockbox(&["connect", "exec:echo '$HOME a|b' \"two words\""], b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "$HOME a|b two words\n"
    );

    // Half-close reaches the program: sha256sum answers only at end of input.
    let out = run_sockbox(&["connect", "sh:sha256sum | cut -c1-64"], &data);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", sha256(&data))
    );

    let dir = tempdir();
    let file = write_file(dir.path(), "data", &data);
    for target in ["exec:cat", "sh:cat | cat"] {
        let mut relay = spawn_sockbox(&["relay", "tcp:127.0.0.1:0", target]);
        let port = announced_port(&relay);
        let mut peer = Puppet::connect("tcp4", &format!("127.0.0.1:{port}"));
        peer.ask(&format!("exchange {}", file.display()));
        assert_eq!(
            peer.all(),
            (data.len(), sha256(&data)),
            "echo through {target}"
        );
        relay.signal(Signal::SIGTERM);
        assert_eq!(relay.wait_code(WAIT), 0);
        assert_no_panic(&relay.stderr());
    }
}

/// `-` / `stdio` as either side of relay: serving a Python client, and connecting (once) to
/// a Python server.
#[test]
fn stdio_both_roles() {
    let dir = tempdir();
    let to_peer = random_bytes(400_000);
    let from_peer = random_bytes(300_000);
    let file = write_file(dir.path(), "from_peer", &from_peer);

    // stdio is what each client of the TCP side is connected to.
    let mut relay = spawn_sockbox(&["relay", "tcp:127.0.0.1:0", "stdio"]);
    relay.feed(to_peer.clone());
    let port = announced_port(&relay);
    let mut peer = Puppet::connect("tcp4", &format!("127.0.0.1:{port}"));
    peer.ask(&format!("exchange {}", file.display()));
    assert_eq!(peer.all(), (to_peer.len(), sha256(&to_peer)));
    let got = relay.wait_stdout_len(from_peer.len());
    assert_eq!(sha256(&got), sha256(&from_peer));
    relay.signal(Signal::SIGTERM);
    relay.wait_exit(WAIT);

    // stdio is the (one) client, the Python server the side connected to.
    let mut peer = Puppet::listen("tcp4", "127.0.0.1:0");
    peer.ask("accept");
    let mut relay = spawn_sockbox(&["relay", "-", &format!("tcp:127.0.0.1:{}", peer.port)]);
    relay.feed(to_peer.clone());
    peer.expect("accepted");
    peer.ask(&format!("exchange {}", file.display()));
    assert_eq!(peer.all(), (to_peer.len(), sha256(&to_peer)));
    relay.wait_success();
    assert_eq!(sha256(&relay.stdout()), sha256(&from_peer));
}

/// stdin and stdout that cannot be polled (regular files, /dev/null) go through bridge
/// threads: nothing may be lost at exit.
#[test]
fn stdio_regular_files() {
    let dir = tempdir();
    let data = random_bytes(3_000_001);
    let input = write_file(dir.path(), "in", &data);
    let output = dir.path().join("out");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$0\" connect exec:cat < \"$1\" > \"$2\""])
        .arg(sockbox_bin())
        .arg(&input)
        .arg(&output);
    Proc::spawn("sockbox connect exec:cat < file > file", cmd).wait_success();
    assert_eq!(sha256(&std::fs::read(&output).unwrap()), sha256(&data));

    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec \"$0\" connect exec:cat < /dev/null"])
        .arg(sockbox_bin());
    let mut p = Proc::spawn("sockbox connect exec:cat < /dev/null", cmd);
    p.wait_success();
    assert_eq!(p.stdout(), b"");
}

/// `listen` reports each peer: its address for inet, its pid and uid (SO_PEERCRED) for Unix;
/// an abstract name is said, once, to have no permissions.
#[test]
fn listen_reports_each_peer() {
    let mut sb = spawn_sockbox(&["listen", "tcp:127.0.0.1:0", "--keep", "--echo"]);
    let port = announced_port(&sb);
    let mut peer = Puppet::connect("tcp4", &format!("127.0.0.1:{port}"));
    sb.wait_stderr(&format!("127.0.0.1:{}", peer.port));
    peer.cmd("close", "closed");
    sb.signal(Signal::SIGTERM);
    sb.wait_exit(WAIT);

    let dir = tempdir();
    let path = path_in(&dir, "who.sock");
    let mut sb = spawn_sockbox(&["listen", &format!("unix:{path}"), "--keep", "--echo"]);
    wait_listening(&sb);
    let mut peer = Puppet::connect("unix", &path);
    let line = sb.wait_stderr(&format!("pid {}", peer.pid));
    let uid = nix::unistd::getuid().as_raw();
    assert!(
        line.contains(&format!("uid {uid}")),
        "no uid {uid} in {line:?}"
    );
    peer.cmd("close", "closed");
    sb.signal(Signal::SIGTERM);
    sb.wait_exit(WAIT);

    let name = abstract_name("perm");
    let mut sb = spawn_sockbox(&["listen", &format!("unix:{name}"), "--keep", "--echo"]);
    wait_listening(&sb);
    for _ in 0..2 {
        let mut peer = Puppet::connect("unix", &name);
        peer.send(b"x");
        assert_eq!(peer.recv(), b"x");
        peer.cmd("close", "closed");
    }
    sb.signal(Signal::SIGTERM);
    sb.wait_exit(WAIT);
    let err = sb.stderr();
    let said: Vec<&str> = err.lines().filter(|l| l.contains("permission")).collect();
    assert_eq!(
        said.len(),
        1,
        "should say once that {name} has no permissions:\n{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// B. relay carries 200 concurrent clients.
// ---------------------------------------------------------------------------------------------

#[test]
fn relay_carries_200_concurrent_clients() {
    const CLIENTS: usize = 200;
    const SIZE: usize = 4 << 20;
    let dir = tempdir();
    let sock = path_in(&dir, "echo.sock");
    let _echo = EchoServer::start("unix", &sock);
    let relay = spawn_sockbox(&["relay", "tcp:127.0.0.1:0", &format!("unix:{sock}")]);
    let port = announced_port(&relay);

    // Everyone is connected before anyone sends, and all start together: 200 at once.
    let conns: Vec<_> = (0..CLIENTS).map(|_| tcp_client(port)).collect();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            let barrier = barrier.clone();
            let mut w = s.try_clone().unwrap();
            std::thread::Builder::new()
                .name(format!("client {i}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    barrier.wait();
                    let seed = seed();
                    let writer = std::thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            let mut rng = Rng::new(seed);
                            let mut h = Sha256::new();
                            let mut buf = vec![0u8; 64 * 1024];
                            let mut left = SIZE;
                            while left > 0 {
                                let n = left.min(buf.len());
                                rng.fill(&mut buf[..n]);
                                h.update(&buf[..n]);
                                w.write_all(&buf[..n])
                                    .unwrap_or_else(|e| panic!("client {i}: write: {e}"));
                                left -= n;
                            }
                            w.shutdown(std::net::Shutdown::Write).unwrap();
                            h.hex()
                        })
                        .unwrap();
                    let mut h = Sha256::new();
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut total = 0usize;
                    loop {
                        let n = s.read(&mut buf).unwrap_or_else(|e| {
                            panic!("client {i}: read after {total} bytes: {e}")
                        });
                        if n == 0 {
                            break;
                        }
                        h.update(&buf[..n]);
                        total += n;
                    }
                    let sent = writer.join().expect("writer thread");
                    (sent, h.hex(), total)
                })
                .unwrap()
        })
        .collect();
    let mut bad = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        let (sent, got, total) = c.join().unwrap_or_else(|_| panic!("client {i} failed"));
        if sent != got || total != SIZE {
            bad.push(format!(
                "client {i}: {total} bytes back, sha256 {got} (sent {sent})"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {CLIENTS} clients got a wrong echo:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert_no_panic(&relay.stderr());
}

// ---------------------------------------------------------------------------------------------
// C. Half-close.
// ---------------------------------------------------------------------------------------------

/// A server that answers only after reading end of stream gets its answer printed.
fn half_close(puppet_kind: &str, puppet_addr: &str, sockbox_addr: impl Fn(u16) -> String) {
    let data = random_bytes(2_000_000);
    let mut peer = Puppet::listen(puppet_kind, puppet_addr);
    peer.ask("accept");
    let mut sb = spawn_sockbox(&["connect", &sockbox_addr(peer.port)]);
    sb.feed(data.clone());
    peer.expect("accepted");
    peer.ask("answer");
    let answered = peer.expect("answered");
    assert_eq!(
        answered,
        format!("answered {} {}", data.len(), sha256(&data))
    );
    sb.wait_success();
    assert_eq!(String::from_utf8_lossy(&sb.stdout()), sha256(&data));
}

#[test]
fn half_close_tcp() {
    half_close("tcp4", "127.0.0.1:0", |p| format!("tcp:127.0.0.1:{p}"));
}

#[test]
fn half_close_unix() {
    let dir = tempdir();
    let path = path_in(&dir, "answer.sock");
    half_close("unix", &path, |_| format!("unix:{path}"));
}

// ---------------------------------------------------------------------------------------------
// D, E. Unix socket files.
// ---------------------------------------------------------------------------------------------

#[test]
fn listen_refuses_a_regular_file_and_leaves_it_alone() {
    let dir = tempdir();
    let data = random_bytes(10_000);
    let path = write_file(dir.path(), "precious.txt", &data);
    let out = run_sockbox(&["listen", &format!("unix:{}", path.display())], b"");
    assert_eq!(out.code, 1, "{out:?}");
    let line = one_line(&out);
    assert!(
        line.contains(&path.display().to_string()),
        "does not name the path: {line}"
    );
    assert!(
        line.contains("not a socket"),
        "does not say it is not a socket: {line}"
    );
    assert_eq!(
        sha256(&std::fs::read(&path).unwrap()),
        sha256(&data),
        "the file was changed"
    );
}

/// A socket file left by a process that exited (bound, never unlinked).
fn make_stale_socket(path: &str) {
    let mut cmd = Command::new(python());
    cmd.args([
        "-c",
        "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)",
    ])
    .arg(path);
    let mut p = Proc::spawn("python leaving a stale socket", cmd);
    p.wait_success();
    assert!(std::fs::metadata(path).unwrap().file_type().is_socket());
}

/// Echo `data` through a Unix stream server at `path` and check it comes back.
fn check_unix_echo(path: &Path, data: &[u8]) {
    let c = Client::Unix(unix_client(path));
    let t = c.send_in_thread(data.to_vec(), true);
    let back = read_to_end(c, "unix echo");
    t.join().unwrap();
    assert_eq!(
        sha256(&back),
        sha256(data),
        "echo through {}",
        path.display()
    );
}

#[test]
fn stale_socket_file_is_replaced_and_said_so() {
    let dir = tempdir();
    let path = path_in(&dir, "stale.sock");
    make_stale_socket(&path);
    let mut sb = spawn_sockbox(&["listen", &format!("unix:{path}"), "--keep", "--echo"]);
    wait_listening(&sb);
    let err = sb.stderr();
    let said = err
        .lines()
        .find(|l| l.contains("stale"))
        .unwrap_or_else(|| panic!("no line about the stale file:\n{err}"));
    assert!(
        said.contains(&path),
        "the stale-file line does not name the path: {said}"
    );
    check_unix_echo(Path::new(&path), &random_bytes(100_000));
    sb.signal(Signal::SIGTERM);
    assert_eq!(sb.wait_code(WAIT), 0);
    assert!(!Path::new(&path).exists(), "socket file left behind");
}

#[test]
fn live_socket_file_is_refused_naming_the_owner() {
    let dir = tempdir();
    let path = path_in(&dir, "live.sock");
    let mut peer = Puppet::listen("unix", &path);
    let out = run_sockbox(&["listen", &format!("unix:{path}")], b"");
    assert_eq!(out.code, 1, "{out:?}");
    let line = one_line(&out);
    assert!(line.contains(&path), "does not name the path: {line}");
    assert!(
        line.contains(&format!("pid {}", peer.pid)),
        "does not name pid {}: {line}",
        peer.pid
    );
    // The live server is untouched: still there, still accepting.
    assert!(std::fs::metadata(&path).unwrap().file_type().is_socket());
    peer.ask("accept");
    let c = unix_client(Path::new(&path));
    peer.expect("accepted");
    drop(c);
}

#[test]
fn socket_file_is_removed_on_exit_and_on_signals() {
    let dir = tempdir();
    // Normal exit: one client, stdin at its end.
    let path = path_in(&dir, "normal.sock");
    let mut sb = spawn_sockbox(&["listen", &format!("unix:{path}")]);
    wait_listening(&sb);
    let c = Client::Unix(unix_client(Path::new(&path)));
    let t = c.send_in_thread(b"bye".to_vec(), true);
    sb.close_stdin();
    assert_eq!(read_to_end(c, "client"), b"");
    t.join().unwrap();
    sb.wait_success();
    assert_eq!(sb.stdout(), b"bye");
    assert!(!Path::new(&path).exists(), "normal exit left {path}");

    // Signals: a --keep server exits 0, a one-client listen 128+N (see `sockbox --help`).
    for (keep, sig, code) in [
        (true, Signal::SIGINT, 0),
        (true, Signal::SIGTERM, 0),
        (false, Signal::SIGINT, 130),
        (false, Signal::SIGTERM, 143),
    ] {
        let path = path_in(&dir, &format!("{sig}-{keep}.sock"));
        let addr = format!("unix:{path}");
        let mut args = vec!["listen", &addr];
        if keep {
            args.extend(["--keep", "--echo"]);
        }
        let mut sb = spawn_sockbox(&args);
        wait_listening(&sb);
        assert!(Path::new(&path).exists());
        sb.signal(sig);
        assert_eq!(
            sb.wait_code(WAIT),
            code,
            "exit code on {sig} (keep: {keep}); {}",
            sb.stderr()
        );
        assert!(
            !Path::new(&path).exists(),
            "{sig} (keep: {keep}) left {path}"
        );
        assert_no_panic(&sb.stderr());
    }
}

/// Run sockbox under a umask of 000, so only `mode=` can narrow the file's permissions.
fn spawn_with_open_umask(args: &[&str]) -> Proc {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 000 && exec \"$0\" \"$@\"", sockbox_bin()])
        .args(args);
    Proc::spawn(&format!("sockbox {} (umask 000)", args.join(" ")), cmd)
}

#[test]
fn mode_and_group_of_the_socket_file() {
    let dir = tempdir();
    let path = path_in(&dir, "private.sock");
    let mut sb = spawn_with_open_umask(&[
        "listen",
        &format!("unix:{path},mode=0600"),
        "--keep",
        "--echo",
    ]);
    wait_listening(&sb);
    let m = std::fs::symlink_metadata(&path).unwrap();
    assert!(m.file_type().is_socket());
    assert_eq!(
        m.mode() & 0o7777,
        0o600,
        "mode=0600 gave {:o}",
        m.mode() & 0o7777
    );
    check_unix_echo(Path::new(&path), b"still a working socket");
    sb.signal(Signal::SIGTERM);
    sb.wait_exit(WAIT);

    let group = nix::unistd::Group::from_name("daemon")
        .unwrap()
        .expect("a 'daemon' group");
    let path = path_in(&dir, "shared.sock");
    let mut sb = spawn_with_open_umask(&[
        "listen",
        &format!("unix:{path},mode=0660,group=daemon"),
        "--keep",
        "--echo",
    ]);
    wait_listening(&sb);
    let m = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(
        m.mode() & 0o7777,
        0o660,
        "mode=0660 gave {:o}",
        m.mode() & 0o7777
    );
    assert_eq!(m.gid(), group.gid.as_raw(), "group=daemon");
    sb.signal(Signal::SIGTERM);
    sb.wait_exit(WAIT);

    // A numeric gid works the same.
    let path = path_in(&dir, "numeric.sock");
    let spec = format!("unix:{path},mode=0660,group={}", group.gid.as_raw());
    let mut sb = spawn_with_open_umask(&["listen", &spec, "--keep", "--echo"]);
    wait_listening(&sb);
    assert_eq!(
        std::fs::symlink_metadata(&path).unwrap().gid(),
        group.gid.as_raw()
    );
    sb.signal(Signal::SIGTERM);
    sb.wait_exit(WAIT);
}

// ---------------------------------------------------------------------------------------------
// F. Bad input and faults.
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_addresses_are_usage_errors() {
    let out = run_sockbox(&["connect", "uinx:/tmp/sockbox-test-x"], b"");
    assert_eq!(out.code, 2, "{out:?}");
    let line = one_line(&out);
    assert!(
        line.contains("did you mean 'unix'"),
        "no suggestion: {line}"
    );

    for bad_port in [
        "tcp:127.0.0.1:99999",
        "tcp:127.0.0.1:12ab",
        "udp:127.0.0.1:",
    ] {
        let out = run_sockbox(&["connect", bad_port], b"");
        assert_eq!(out.code, 2, "{bad_port}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.to_lowercase().contains("port"),
            "{bad_port}: does not say the port is bad: {line}"
        );
    }

    for no_kind in ["/tmp/sockbox-test-x", "127.0.0.1"] {
        let out = run_sockbox(&["connect", no_kind], b"");
        assert_eq!(out.code, 2, "{no_kind}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.to_lowercase().contains("kind"),
            "{no_kind}: does not say a kind is expected: {line}"
        );
    }
    let out = run_sockbox(&["listen", "tcp4:127.0.0.1:0,nosuchoption"], b"");
    assert_eq!(out.code, 2, "{out:?}");
    one_line(&out);
}

/// A service name as a port (socat takes them) is a usage error that says names are not looked
/// up and which number /etc/services gives the name.
#[test]
fn service_names_as_ports_say_the_number() {
    let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
    assert!(
        services
            .lines()
            .any(|l| l.starts_with("http") && l.contains("80/tcp")),
        "this test reads /etc/services (package netbase), which should name port 80/tcp http"
    );
    for (addr, verb, fixed) in [
        ("tcp:localhost:www", "connect", "write tcp:localhost:80"),
        (
            "TCP-LISTEN:http,reuseaddr",
            "listen",
            "write TCP-LISTEN:80,reuseaddr",
        ),
    ] {
        let out = run_sockbox(&[verb, addr], b"");
        assert_eq!(out.code, 2, "{addr}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.contains("bad port") && line.contains("not looked up"),
            "{addr}: does not say names are not looked up: {line}"
        );
        assert!(
            line.contains("80/tcp") && line.contains(fixed),
            "{addr}: does not give the number: {line}"
        );
    }
    let out = run_sockbox(&["connect", "tcp:localhost:nosuchservice"], b"");
    assert_eq!(out.code, 2, "{out:?}");
    let line = one_line(&out);
    assert!(
        line.contains("not looked up") && !line.contains("/tcp"),
        "{line}"
    );
}

#[test]
fn connection_failures_exit_1_naming_the_address() {
    let port = free_port();
    let addr = format!("tcp:127.0.0.1:{port}");
    let out = run_sockbox(&["connect", &addr], b"");
    assert_eq!(out.code, 1, "{out:?}");
    let line = one_line(&out);
    assert!(
        line.contains(&format!("127.0.0.1:{port}")),
        "does not name the address: {line}"
    );
    assert!(line.contains("refused"), "does not say refused: {line}");

    let dir = tempdir();
    let missing = path_in(&dir, "missing.sock");
    let out = run_sockbox(&["connect", &format!("unix:{missing}")], b"");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        one_line(&out).contains(&missing),
        "does not name the path: {}",
        out.stderr
    );

    // The port is held by a Python listener.
    let peer = Puppet::listen("tcp4", "127.0.0.1:0");
    let out = run_sockbox(&["listen", &format!("tcp:127.0.0.1:{}", peer.port)], b"");
    assert_eq!(out.code, 1, "{out:?}");
    let line = one_line(&out);
    assert!(
        line.contains(&peer.port.to_string()),
        "does not name the port: {line}"
    );
    assert!(line.contains("in use"), "does not say in use: {line}");
}

/// A client that resets mid-transfer ends only its own connection.
#[test]
fn reset_ends_one_connection_only() {
    let dir = tempdir();
    let data = random_bytes(300_000);
    let file = write_file(dir.path(), "data", &data);
    let burst = write_file(dir.path(), "burst", &random_bytes(64 * 1024));
    let sock = path_in(&dir, "echo.sock");
    let _echo = EchoServer::start("unix", &sock);

    let mut echo_server = spawn_sockbox(&["listen", "tcp:127.0.0.1:0", "--keep", "--echo"]);
    let echo_port = announced_port(&echo_server);
    let mut relay = spawn_sockbox(&["relay", "tcp:127.0.0.1:0", &format!("unix:{sock}")]);
    let relay_port = announced_port(&relay);

    for (name, port) in [("listen --keep --echo", echo_port), ("relay", relay_port)] {
        let mut rude = Puppet::connect("tcp4", &format!("127.0.0.1:{port}"));
        rude.cmd(&format!("sendfile {}", burst.display()), "sent");
        rude.recv(); // some echo is on its way back: the transfer is under way
        rude.cmd("rst", "reset");
        let mut polite = Puppet::connect("tcp4", &format!("127.0.0.1:{port}"));
        polite.ask(&format!("exchange {}", file.display()));
        assert_eq!(
            polite.all(),
            (data.len(), sha256(&data)),
            "{name}: echo after a reset"
        );
    }
    assert!(
        echo_server.running(),
        "listen --keep exited: {}",
        echo_server.stderr()
    );
    assert!(relay.running(), "relay exited: {}", relay.stderr());

    // The server side resets: the relay's client sees its connection end, the next is served.
    let mut upstream = Puppet::listen("tcp4", "127.0.0.1:0");
    let mut relay2 = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("tcp:127.0.0.1:{}", upstream.port),
    ]);
    let port = announced_port(&relay2);
    upstream.ask("accept");
    let mut c = Client::Tcp(tcp_client(port));
    upstream.expect("accepted");
    c.write_all(&random_bytes(64 * 1024)).unwrap();
    upstream.recv();
    upstream.cmd("rst", "reset");
    assert_connection_ends(&mut c, "after the server's reset");
    upstream.ask("accept");
    let c = Client::Tcp(tcp_client(port));
    upstream.expect("accepted");
    let t = c.send_in_thread(data.clone(), true);
    upstream.ask(&format!("exchange {}", file.display()));
    assert_eq!(upstream.all(), (data.len(), sha256(&data)));
    assert_eq!(sha256(&read_to_end(c, "second client")), sha256(&data));
    t.join().unwrap();
    assert!(
        relay2.running(),
        "relay exited after an upstream reset: {}",
        relay2.stderr()
    );

    for p in [&mut echo_server, &mut relay, &mut relay2] {
        p.signal(Signal::SIGTERM);
        assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
        assert_no_panic(&p.stderr());
    }
}

/// Out of file descriptors on accept (EMFILE): the relay backs off and keeps serving.
#[test]
fn relay_survives_emfile() {
    require_tool("prlimit");
    let dir = tempdir();
    let sock = path_in(&dir, "echo.sock");
    let _echo = EchoServer::start("unix", &sock);
    let mut cmd = Command::new("prlimit");
    cmd.args([
        "--nofile=40:40",
        sockbox_bin(),
        "relay",
        "tcp:127.0.0.1:0",
        &format!("unix:{sock}"),
    ]);
    let mut relay = Proc::spawn("sockbox relay under prlimit --nofile=40", cmd);
    let port = announced_port(&relay);
    let idle_fds = open_fds(relay.pid());

    // Far more clients than descriptors: the relay runs out of them accepting (or connecting
    // to the server), and the rest wait in the backlog.
    let held: Vec<_> = (0..80).map(|_| tcp_client(port)).collect();
    relay.wait_stderr_where("about EMFILE", |l| {
        l.to_lowercase().contains("too many open files")
    });
    assert!(
        relay.running(),
        "relay exited on EMFILE: {}",
        relay.stderr()
    );
    drop(held);
    // Once the relay has let go of all of them (backlog empty, descriptors back to where they
    // were), a new client must be served as if nothing happened.
    wait_for(
        "the relay to drain its backlog and close the clients' descriptors",
        WAIT,
        || (accept_queue(port) == Some(0) && open_fds(relay.pid()) <= idle_fds).then_some(()),
    );

    let data = random_bytes(200_000);
    let c = Client::Tcp(tcp_client(port));
    let t = c.send_in_thread(data.clone(), true);
    assert_eq!(
        sha256(&read_to_end(c, "client after EMFILE")),
        sha256(&data)
    );
    t.join().unwrap();
    assert!(relay.running());
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0);
    assert_no_panic(&relay.stderr());
}

/// Bytes of one len32 frame.
fn len32(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

/// Read one len32 frame.
fn read_len32(r: &mut impl Read) -> Vec<u8> {
    let mut h = [0u8; 4];
    r.read_exact(&mut h).expect("frame header");
    let mut p = vec![0u8; u32::from_be_bytes(h) as usize];
    r.read_exact(&mut p).expect("frame payload");
    p
}

#[test]
fn oversized_frame_ends_that_connection_only() {
    let udp = EchoServer::start("udp4", "127.0.0.1:0");
    let mut relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0,frame=len32",
        &format!("udp:127.0.0.1:{}", udp.port),
    ]);
    let port = announced_port(&relay);

    let mut bad = Client::Tcp(tcp_client(port));
    bad.write_all(b"\xff\xff\xff\xffnot really four gigabytes")
        .unwrap();
    let rest = assert_connection_ends(&mut bad, "after a 4 GiB frame header");
    assert!(
        rest.is_empty(),
        "got {} bytes back for a bad frame",
        rest.len()
    );
    relay.wait_stderr("4294967295");
    assert!(
        relay.running(),
        "relay exited on a bad frame: {}",
        relay.stderr()
    );

    let mut good = Client::Tcp(tcp_client(port));
    good.write_all(&len32(b"still serving")).unwrap();
    assert_eq!(read_len32(&mut good), b"still serving");
    relay.signal(Signal::SIGTERM);
    relay.wait_exit(WAIT);
    assert_no_panic(&relay.stderr());
}

// ---------------------------------------------------------------------------------------------
// G. No byte lost or reordered by relay, whatever the sizes and whichever side closes first.
// ---------------------------------------------------------------------------------------------

fn relay_keeps_every_byte(front: &str, copy: &str, connect_client: impl Fn(u16) -> Client) {
    let dir = tempdir();
    let mut server = Puppet::listen("tcp4", "127.0.0.1:0");
    let back = format!("tcp:127.0.0.1:{}", server.port);
    let mut relay = spawn_sockbox(&["relay", front, &back, "--copy", copy]);
    let port = announced_port(&relay);

    // (1) The client sends and closes first: fully (the server reads all, then closes), or
    // half (the server reads all, then answers with as much again and closes).
    for (i, size) in [0usize, 1, 65_537, (4 << 20) + 3, 3 << 20]
        .into_iter()
        .enumerate()
    {
        let data = random_bytes(size);
        let answer = random_bytes(size);
        let answer_file = write_file(dir.path(), "answer", &answer);
        server.ask("accept");
        let c = connect_client(port);
        server.expect("accepted");
        server.ask("readall");
        let half = i % 2 == 0;
        c.send_in_thread(data.clone(), half).join().unwrap();
        if !half {
            drop(c);
            let what = format!("{size} bytes, client closed first");
            assert_eq!(server.all(), (size, sha256(&data)), "{what}");
            server.cmd("close", "closed");
        } else {
            let what = format!("{size} bytes, client half-closed first");
            assert_eq!(server.all(), (size, sha256(&data)), "{what}");
            // The client reads while the server sends: no buffer has to hold it all.
            let reader = std::thread::spawn(move || read_to_end(c, "client"));
            server.cmd(&format!("sendfile {}", answer_file.display()), "sent");
            server.cmd("close", "closed");
            let got = reader.join().unwrap();
            assert_eq!(sha256(&got), sha256(&answer), "{what}: the answer");
        }
    }

    // (2) The server sends a blob and closes without reading; the client reads it all.
    for size in [1usize, 100_000, (4 << 20) + 1] {
        let data = random_bytes(size);
        let blob = write_file(dir.path(), "blob", &data);
        server.ask("accept");
        let c = connect_client(port);
        server.expect("accepted");
        let reader = std::thread::spawn(move || read_to_end(c, "client"));
        server.cmd(&format!("sendfile {}", blob.display()), "sent");
        server.cmd("close", "closed");
        assert_eq!(
            sha256(&reader.join().unwrap()),
            sha256(&data),
            "{size} bytes, server closed first"
        );
    }
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0);
    assert_no_panic(&relay.stderr());
}

/// Every copy path of the engine: auto (splice into Unix, a buffer into TCP), splice(2)
/// everywhere, a buffer everywhere.
#[test]
fn relay_tcp_to_tcp_keeps_every_byte() {
    for copy in ["auto", "splice", "buffered"] {
        relay_keeps_every_byte("tcp:127.0.0.1:0", copy, |port| {
            Client::Tcp(tcp_client(port))
        });
    }
}

#[test]
fn relay_unix_to_tcp_keeps_every_byte() {
    let dir = tempdir();
    for copy in ["auto", "splice", "buffered"] {
        let path = path_in(&dir, &format!("front-{copy}.sock"));
        relay_keeps_every_byte(&format!("unix:{path}"), copy, |_| {
            Client::Unix(unix_client(Path::new(&path)))
        });
        assert!(!Path::new(&path).exists(), "relay left {path} behind");
    }
}

// ---------------------------------------------------------------------------------------------
// H. Real socat and nc peers; socat spellings.
// ---------------------------------------------------------------------------------------------

#[test]
fn socat_client_to_sockbox_echo() {
    require_tool("socat");
    let mut sb = spawn_sockbox(&["listen", "tcp:127.0.0.1:0", "--keep", "--echo"]);
    let port = announced_port(&sb);
    let data = random_bytes(1 << 20);
    let mut cmd = Command::new("socat");
    cmd.args(["-t", "30", "-", &format!("TCP:127.0.0.1:{port}")]);
    let mut socat = Proc::spawn("socat - TCP", cmd);
    socat.feed(data.clone());
    socat.wait_success();
    assert_eq!(sha256(&socat.stdout()), sha256(&data));
    sb.signal(Signal::SIGINT);
    assert_eq!(sb.wait_code(WAIT), 0);
}

#[test]
fn sockbox_connects_to_socat() {
    require_tool("socat");
    let port = free_port();
    let mut cmd = Command::new("socat");
    cmd.args([
        "-d",
        "-d",
        "-t",
        "30",
        &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
        "EXEC:cat",
    ]);
    let socat = Proc::spawn("socat TCP-LISTEN EXEC:cat", cmd);
    socat.wait_stderr("listening on");
    let data = random_bytes(1 << 20);
    let out = run_sockbox(&["connect", &format!("tcp:127.0.0.1:{port}")], &data);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sha256(&out.stdout), sha256(&data));
}

#[test]
fn nc_against_sockbox() {
    require_tool("nc");
    let dir = tempdir();
    let path = path_in(&dir, "nc.sock");
    let mut sb = spawn_sockbox(&["listen", &format!("unix:{path}"), "--keep", "--echo"]);
    wait_listening(&sb);
    let data = random_bytes(1 << 20);
    let mut cmd = Command::new("nc");
    cmd.args(["-N", "-U", &path]);
    let mut nc = Proc::spawn("nc -N -U", cmd);
    nc.feed(data.clone());
    nc.wait_success();
    assert_eq!(
        sha256(&nc.stdout()),
        sha256(&data),
        "nc -U through sockbox's echo"
    );
    sb.signal(Signal::SIGTERM);
    assert_eq!(sb.wait_code(WAIT), 0);

    // nc over TCP against a one-client listen: both directions.
    let to_nc = random_bytes(300_000);
    let from_nc = random_bytes(200_000);
    let mut sb = spawn_sockbox(&["listen", "tcp:127.0.0.1:0"]);
    sb.feed(to_nc.clone());
    let port = announced_port(&sb);
    let mut cmd = Command::new("nc");
    cmd.args(["-N", "127.0.0.1", &port.to_string()]);
    let mut nc = Proc::spawn("nc -N tcp", cmd);
    nc.feed(from_nc.clone());
    nc.wait_success();
    sb.wait_success();
    assert_eq!(sha256(&nc.stdout()), sha256(&to_nc));
    assert_eq!(sha256(&sb.stdout()), sha256(&from_nc));
}

#[test]
fn socat_spellings_are_accepted() {
    let dir = tempdir();
    let data = random_bytes(100_000);

    // TCP:host:port
    let mut peer = Puppet::listen("tcp4", "127.0.0.1:0");
    peer.ask("accept");
    let mut sb = spawn_sockbox(&["connect", &format!("TCP:127.0.0.1:{}", peer.port)]);
    sb.feed(data.clone());
    peer.expect("accepted");
    peer.ask("answer");
    peer.expect("answered");
    sb.wait_success();
    assert_eq!(String::from_utf8_lossy(&sb.stdout()), sha256(&data), "TCP:");

    // UNIX-CONNECT:/path
    let path = path_in(&dir, "p.sock");
    let mut peer = Puppet::listen("unix", &path);
    peer.ask("accept");
    let mut sb = spawn_sockbox(&["connect", &format!("UNIX-CONNECT:{path}")]);
    sb.feed(data.clone());
    peer.expect("accepted");
    peer.ask("answer");
    peer.expect("answered");
    sb.wait_success();
    assert_eq!(
        String::from_utf8_lossy(&sb.stdout()),
        sha256(&data),
        "UNIX-CONNECT:"
    );

    // ABSTRACT-CONNECT:name
    let name = abstract_name("socat");
    let mut peer = Puppet::listen("unix", &name);
    peer.ask("accept");
    let mut sb = spawn_sockbox(&["connect", &format!("ABSTRACT-CONNECT:{}", &name[1..])]);
    sb.feed(data.clone());
    peer.expect("accepted");
    peer.ask("answer");
    peer.expect("answered");
    sb.wait_success();
    assert_eq!(
        String::from_utf8_lossy(&sb.stdout()),
        sha256(&data),
        "ABSTRACT-CONNECT:"
    );

    // UNIX-LISTEN:/path, reported in the canonical spelling.
    let path = path_in(&dir, "l.sock");
    let mut sb = spawn_sockbox(&["listen", &format!("UNIX-LISTEN:{path}"), "--keep", "--echo"]);
    let line = wait_listening(&sb);
    assert!(
        line.contains(&format!("unix:{path}")),
        "not the canonical form: {line}"
    );
    check_unix_echo(Path::new(&path), &data);
    sb.signal(Signal::SIGTERM);
    assert_eq!(sb.wait_code(WAIT), 0);

    // STDIO and EXEC:
    let out = run_sockbox(&["relay", "STDIO", "EXEC:cat"], &data);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sha256(&out.stdout), sha256(&data), "STDIO <-> EXEC:cat");
}

// ---------------------------------------------------------------------------------------------
// I. Framing: streams and messages meet.
// ---------------------------------------------------------------------------------------------

#[test]
fn len32_stream_to_udp_keeps_boundaries() {
    let udp = EchoServer::start("udp4", "127.0.0.1:0");
    let mut relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0,frame=len32",
        &format!("udp:127.0.0.1:{}", udp.port),
    ]);
    let port = announced_port(&relay);
    let msgs: Vec<Vec<u8>> = [5, 1000, 60_000].iter().map(|&n| random_bytes(n)).collect();
    let mut c = Client::Tcp(tcp_client(port));
    // All three frames in one write: the relay must cut them apart itself.
    c.write_all(&msgs.iter().flat_map(|m| len32(m)).collect::<Vec<u8>>())
        .unwrap();
    for m in &msgs {
        assert_eq!(
            sha256(&read_len32(&mut c)),
            sha256(m),
            "a {}-byte frame",
            m.len()
        );
    }
    c.shut();
    assert_eq!(read_to_end(c, "after the frames"), b"");
    relay.signal(Signal::SIGTERM);
    relay.wait_exit(WAIT);
    assert_no_panic(&relay.stderr());
}

#[test]
fn seqpacket_and_line_framed_unix_stream() {
    let dir = tempdir();
    // seqpacket clients, relayed to a line-framed Unix stream echo server.
    let back = path_in(&dir, "back.sock");
    let _echo = EchoServer::start("unix", &back);
    let front = path_in(&dir, "front.sock");
    let mut relay = spawn_sockbox(&[
        "relay",
        &format!("seqpacket:{front}"),
        &format!("unix:{back},frame=line"),
    ]);
    announced_addr(&relay);
    let mut peer = Puppet::connect("seqpacket", &front);
    let msgs = ["alpha", "bravo charlie", &"x".repeat(3000)];
    for m in msgs {
        peer.send(m.as_bytes());
    }
    for m in msgs {
        assert_eq!(
            String::from_utf8(peer.recv()).unwrap(),
            m,
            "each line back as one message"
        );
    }
    peer.cmd("shut", "shut");
    assert_eq!(peer.recv(), b"", "end of stream comes back");
    relay.signal(Signal::SIGTERM);
    relay.wait_exit(WAIT);
    assert_no_panic(&relay.stderr());

    // A line-framed Unix stream client, relayed to a seqpacket server.
    let back = path_in(&dir, "back2.sock");
    let mut server = Puppet::listen("seqpacket", &back);
    let front = path_in(&dir, "front2.sock");
    let mut relay = spawn_sockbox(&[
        "relay",
        &format!("unix:{front},frame=line"),
        &format!("seqpacket:{back}"),
    ]);
    announced_addr(&relay);
    server.ask("accept");
    let mut c = Client::Unix(unix_client(Path::new(&front)));
    server.expect("accepted");
    c.write_all(b"one\ntwo two\nthree\n").unwrap();
    for m in ["one", "two two", "three"] {
        assert_eq!(
            String::from_utf8(server.recv()).unwrap(),
            m,
            "each line is one message"
        );
    }
    server.send(b"four");
    server.send(b"five");
    let mut got = vec![0u8; "four\nfive\n".len()];
    c.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), "four\nfive\n");
    c.shut();
    assert_eq!(
        server.recv(),
        b"",
        "end of stream reaches the seqpacket server"
    );
    server.cmd("close", "closed");
    assert_eq!(read_to_end(c, "client"), b"");
    relay.signal(Signal::SIGTERM);
    relay.wait_exit(WAIT);
    assert_no_panic(&relay.stderr());
}

#[test]
fn stream_to_datagram_without_frame_is_a_usage_error() {
    let out = run_sockbox(&["relay", "tcp:127.0.0.1:0", "udp:127.0.0.1:9"], b"");
    assert_eq!(out.code, 2, "{out:?}");
    let line = one_line(&out);
    assert!(line.contains("frame="), "does not point at frame=: {line}");
    assert!(
        !line.contains("  "),
        "a run of spaces in the message: {line:?}"
    );
}

/// An address starting with `-` (`-,frame=line`) is an address, not an unknown flag, in every
/// ADDR position; flags after it still parse, and a real unknown flag is still clap's error.
#[test]
fn dash_comma_addresses_are_not_flags() {
    let out = run_sockbox(
        &["connect", "-,frame=line", "--timeout", "5s", "-q"],
        b"one\ntwo\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let got = String::from_utf8_lossy(&out.stdout).replace('\n', "");
    assert_eq!(got, "onetwo", "{out:?}");

    // relay -,frame=line udp:...: each line of stdin is one datagram to a real UDP socket.
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let mut relay = spawn_sockbox(&[
        "relay",
        "-,frame=line",
        &format!("udp:127.0.0.1:{port}"),
        "-v",
    ]);
    relay.write(b"hello\nworld\n");
    let mut buf = [0u8; 64];
    for want in ["hello", "world"] {
        let n = peer.recv(&mut buf).expect("a datagram from the relay");
        assert_eq!(String::from_utf8_lossy(&buf[..n]), want);
    }
    relay.wait_stderr("connect(");
    drop(relay);

    for (args, flag) in [
        (&["connect", "-x"][..], "-x"),
        (
            &["connect", "--timout", "2s", "tcp:127.0.0.1:1"],
            "--timout",
        ),
        (&["listen", "tcp:127.0.0.1:0", "--bogus"], "--bogus"),
        (&["relay", "-,frame=line", "-z"], "-z"),
        (&["send", "-y", "udp:127.0.0.1:1", "-,frame=line"], "-y"),
    ] {
        let out = run_sockbox(args, b"");
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("unexpected argument '{flag}' found")),
            "{args:?}: not clap's error naming {flag}: {}",
            out.stderr
        );
    }
}

/// A Unix socket named as a file (`file:`, socat's `open:` and `gopen:`) is a usage error saying
/// to write `unix:PATH`, not a FIFO's errno; one that appears only once the relay runs is
/// refused with the same line. A path given with no kind is named for what it is.
#[test]
fn socket_files_named_as_files_or_without_a_kind() {
    let dir = tempdir();
    let sock = path_in(&dir, "app.sock");
    let _server = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for addr in [
        format!("file:{sock}"),
        format!("open:{sock}"),
        format!("GOPEN:{sock}"),
    ] {
        let out = run_sockbox(&["connect", &addr], b"");
        assert_eq!(out.code, 2, "{addr}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.contains("is a Unix socket") && line.contains(&format!("write unix:{sock}")),
            "{addr}: does not say to write unix:PATH: {line}"
        );
        assert!(!line.contains("FIFO"), "{addr}: {line}");
    }

    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo = fifo.to_str().unwrap().to_string();
    let file = write_file(dir.path(), "data", b"x");
    let file = file.to_str().unwrap().to_string();
    for (path, what, kind) in [
        (&sock, "a Unix socket", "unix"),
        (&fifo, "a FIFO", "fifo"),
        (&file, "a regular file", "file"),
    ] {
        let out = run_sockbox(&["connect", path], b"");
        assert_eq!(out.code, 2, "{path}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.contains("kind")
                && line.contains(what)
                && line.contains(&format!("{kind}:{path}")),
            "{path}: does not say what it is and to write {kind}:PATH: {line}"
        );
    }
    let mut cmd = sockbox_cmd(["connect", "./app.sock"]);
    cmd.current_dir(dir.path());
    let mut p = Proc::spawn("sockbox connect ./app.sock", cmd);
    assert_eq!(p.wait_code(WAIT), 2);
    assert!(
        p.stderr().contains("write unix:./app.sock"),
        "relative path: {}",
        p.stderr()
    );

    // The path was free when the relay started (file: would create it) and is a socket by the
    // time a client comes: that client is refused with the same line, the relay goes on.
    let late = path_in(&dir, "late.sock");
    let mut relay = spawn_sockbox(&["relay", "tcp:127.0.0.1:0", &format!("file:{late}")]);
    let port = announced_port(&relay);
    let _late_server = std::os::unix::net::UnixListener::bind(&late).unwrap();
    let mut client = Client::Tcp(tcp_client(port));
    assert_connection_ends(&mut client, "client of a relay to a socket");
    let line = relay.wait_stderr("is a Unix socket");
    assert!(line.contains(&format!("write unix:{late}")), "{line}");
    assert!(relay.running(), "the relay ended: {}", relay.stderr());
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0);
}

// ---------------------------------------------------------------------------------------------
// J. -v narrates the socket calls.
// ---------------------------------------------------------------------------------------------

#[test]
fn verbose_narrates_the_socket_calls_in_order() {
    let dir = tempdir();
    let path = path_in(&dir, "v.sock");
    let mut sb = spawn_sockbox(&["-v", "listen", &format!("unix:{path}"), "--echo"]);
    wait_listening(&sb);
    let c = Client::Unix(unix_client(Path::new(&path)));
    let t = c.send_in_thread(b"narrate me".to_vec(), true);
    assert_eq!(read_to_end(c, "client"), b"narrate me");
    t.join().unwrap();
    sb.wait_success();
    let err = sb.stderr();
    let lines: Vec<&str> = err.lines().collect();
    let mut from = 0;
    for needle in [
        "socket(AF_UNIX, SOCK_STREAM)",
        "bind(",
        "listen(",
        "accept(",
        "shutdown(",
        &format!("unlink({path}"),
    ] {
        match lines[from..].iter().position(|l| l.contains(needle)) {
            Some(i) => from += i + 1,
            None => panic!("no {needle:?} after line {from} of the narration:\n{err}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// K. send / recv.
// ---------------------------------------------------------------------------------------------

#[test]
fn recv_json_gives_peer_length_and_data() {
    let mut sb = spawn_sockbox(&["recv", "udp4:127.0.0.1:0", "--count", "3", "--json"]);
    let port = announced_port(&sb);
    let mut peer = Puppet::connect("udp4", &format!("127.0.0.1:{port}"));
    let binary: Vec<u8> = vec![0, 0xff, 0xfe, 0x80, b'\n', 0xc3];
    let sent: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        binary.clone(),
        "h\u{e9}llo w\u{f6}rld\n".as_bytes().to_vec(),
    ];
    for m in &sent {
        peer.send(m);
    }
    sb.wait_success();
    let out = String::from_utf8(sb.stdout()).unwrap();
    assert_eq!(out.lines().count(), 3, "one JSON object per line:\n{out}");
    let binary_line: serde_json::Value = serde_json::from_str(out.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        binary_line["encoding"], "base64",
        "binary data comes as base64: {binary_line}"
    );
    let got = decode_json_messages(out.as_bytes());
    for ((peer_name, data), want) in got.iter().zip(&sent) {
        assert_eq!(peer_name, &format!("127.0.0.1:{}", peer.port));
        assert_eq!(data, want);
    }
}

#[test]
fn recv_timeout_without_messages_exits_1() {
    let out = run_sockbox(
        &[
            "recv",
            "udp4:127.0.0.1:0",
            "--timeout",
            "1s",
            "--count",
            "5",
        ],
        b"",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty());
    assert_no_panic(&out.stderr);
}

#[test]
fn relay_stats_count_connections_open_at_the_signal() {
    let dir = tempdir();
    let up = path_in(&dir, "up.sock");
    let echo = EchoServer::start("unix", &up);
    let mut relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("unix:{up}"),
        "--stats",
        "--json",
    ]);
    let mut c = tcp_client(announced_port(&relay));
    c.write_all(b"still open").unwrap();
    let mut back = [0u8; 10];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still open");
    // The connection is still open when the relay is stopped: its bytes count all the same.
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0, "{}", relay.stderr());
    let stats: serde_json::Value = serde_json::from_slice(&relay.stdout()).unwrap();
    assert_eq!(stats["connections"], 1, "{stats}");
    assert_eq!(stats["bytes_in"], 10, "{stats}");
    assert_eq!(stats["bytes_out"], 10, "{stats}");
    drop(echo);
}

#[test]
fn relay_of_two_connect_sides_stops_on_a_signal() {
    let dir = tempdir();
    let (a, b) = (path_in(&dir, "a.sock"), path_in(&dir, "b.sock"));
    let servers: Vec<Proc> = [&a, &b]
        .iter()
        .map(|p| {
            let s = spawn_sockbox(&["listen", &format!("unix:{p}"), "--keep", "--echo"]);
            wait_listening(&s);
            s
        })
        .collect();
    let mut relay = spawn_sockbox(&[
        "relay",
        &format!("connect:unix:{a}"),
        &format!("connect:unix:{b}"),
        "--stats",
        "--json",
    ]);
    // Both sides connected, and idle: only the signal can end the relay.
    for s in &servers {
        s.wait_stderr("connection from");
    }
    relay.signal(Signal::SIGTERM);
    assert_eq!(relay.wait_code(WAIT), 0, "{}", relay.stderr());
    let stats: serde_json::Value = serde_json::from_slice(&relay.stdout()).unwrap();
    assert_eq!(stats["connections"], 1, "{stats}");
}
