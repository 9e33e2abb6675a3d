//! Shared helpers of the CLI tests: spawn sockbox and peers as guarded processes, read their
//! output with deadlines, drive the Python socket puppet, hash and generate bytes.
//!
//! Every wait here is bounded ([`WAIT`] unless told otherwise) and panics with what the
//! process said so far; every process is killed and reaped when its guard drops.

#![allow(dead_code)] // each test uses its own subset

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The failure bound of any single wait.
pub const WAIT: Duration = Duration::from_secs(20);

/// The sockbox binary cargo built for these tests.
pub fn sockbox_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sockbox")
}

/// A peer script in `tests/peers/`.
pub fn peer_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// The real python3 interpreter (resolved once, so pyenv-style shims are not run each time).
pub fn python() -> &'static str {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed by the CLI tests: install python3");
        assert!(out.status.success(), "python3 does not run: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// Fail (never skip) when a reference tool the tests drive is missing.
pub fn require_tool(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed, and the CLI tests need it as a real peer. Install the test \
         tools as the README's test command says (apt-get install -y socat netcat-openbsd \
         python3) and run the tests again."
    );
}

/// sha256 of `data`, in hex.
pub fn sha256(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    h.hex()
}

/// An incremental sha256. (ring's, whose assembly is fast even in a debug build: the tests
/// hash gigabytes, which a pure-Rust sha256 at opt-level 0 does at ~45 MB/s.)
pub struct Sha256(ring::digest::Context);

impl Sha256 {
    pub fn new() -> Self {
        Sha256(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn hex(self) -> String {
        hex(self.0.finish().as_ref())
    }
}

pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex string {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A fresh seed per call: different tests (and clients) get different bytes.
pub fn seed() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    t ^ (u64::from(std::process::id()) << 32)
        ^ N.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
}

/// Pseudo-random bytes (xorshift64*): incompressible and different per seed, cheap enough for
/// gigabytes in a debug build.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    Rng::new(seed()).fill(&mut v);
    v
}

/// A name for the abstract namespace no other test (or test run) uses.
pub fn abstract_name(what: &str) -> String {
    format!("@sockbox-test-{what}-{:016x}", seed())
}

/// A temporary directory, removed on drop, with short paths (Unix socket paths are limited to
/// 107 bytes).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sbx")
        .tempdir_in("/tmp")
        .unwrap()
}

/// Poll `f` until it returns `Some`, or panic with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port on 127.0.0.1 nobody listens on right now (bound to port 0, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The newline-terminated lines of `b` (a partial last line is not one yet).
pub fn complete_lines(b: &[u8]) -> Vec<String> {
    let end = b.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
    String::from_utf8_lossy(&b[..end])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Output of a stream a reader thread collects, with a condition to wait on.
#[derive(Default)]
struct Collected {
    state: Mutex<(Vec<u8>, bool)>,
    cv: Condvar,
}

impl Collected {
    fn spawn(mut from: impl Read + Send + 'static) -> (Arc<Collected>, JoinHandle<()>) {
        let c = Arc::new(Collected::default());
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        c2.state.lock().unwrap().0.extend_from_slice(&buf[..n]);
                        c2.cv.notify_all();
                    }
                }
            }
            c2.state.lock().unwrap().1 = true;
            c2.cv.notify_all();
        });
        (c, t)
    }

    fn snapshot(&self) -> Vec<u8> {
        self.state.lock().unwrap().0.clone()
    }

    /// Wait until `f(bytes, eof)` gives `Some`; `None` when the deadline passes first.
    fn wait<T>(&self, timeout: Duration, mut f: impl FnMut(&[u8], bool) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap();
        loop {
            if let Some(v) = f(&st.0, st.1) {
                return Some(v);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            st = self.cv.wait_timeout(st, deadline - now).unwrap().0;
        }
    }
}

/// A child process that is killed and reaped when dropped, its stdout and stderr collected by
/// threads so it never blocks on them.
pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    feeder: Option<JoinHandle<()>>,
    out: Arc<Collected>,
    err: Arc<Collected>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Start `cmd` with piped stdin, stdout and stderr.
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (out, _) = Collected::spawn(child.stdout.take().unwrap());
        let (err, _) = Collected::spawn(child.stderr.take().unwrap());
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            feeder: None,
            out,
            err,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Write to stdin (small writes: the child must be reading or the pipe must hold it).
    pub fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(data)
            .unwrap_or_else(|e| panic!("writing to {}: {e}", self.name));
        stdin.flush().unwrap();
    }

    /// Write all of `data` to stdin from a thread, then close stdin.
    pub fn feed(&mut self, data: Vec<u8>) {
        let mut stdin = self.stdin.take().expect("stdin already closed");
        self.feeder = Some(std::thread::spawn(move || {
            // The child may exit without reading everything; that is its business.
            let _ = stdin.write_all(&data);
        }));
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn stdout(&self) -> Vec<u8> {
        self.out.snapshot()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.snapshot()).into_owned()
    }

    fn context(&self) -> String {
        let out = self.stdout();
        let shown = if out.len() > 2000 {
            format!("<{} bytes>", out.len())
        } else {
            String::from_utf8_lossy(&out).into_owned()
        };
        format!("{}: stdout: {shown}\nstderr:\n{}", self.name, self.stderr())
    }

    /// Wait for a stderr line containing `needle`; returns that line.
    pub fn wait_stderr(&self, needle: &str) -> String {
        self.wait_stderr_where(&format!("{needle:?}"), |l| l.contains(needle))
    }

    /// Wait for a stderr line `pred` accepts (`what` says which, for the failure message).
    pub fn wait_stderr_where(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.err
            .wait(WAIT, |b, eof| {
                match complete_lines(b).into_iter().find(|l| pred(l)) {
                    Some(l) => Some(Some(l)),
                    None if eof => Some(None),
                    None => None,
                }
            })
            .flatten()
            .unwrap_or_else(|| panic!("no stderr line with {what} from {}", self.context()))
    }

    /// Wait for a complete stdout line `pred` accepts (`what` says which); returns it.
    pub fn wait_stdout_where(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.out
            .wait(WAIT, |b, eof| {
                match complete_lines(b).into_iter().find(|l| pred(l)) {
                    Some(l) => Some(Some(l)),
                    None if eof => Some(None),
                    None => None,
                }
            })
            .flatten()
            .unwrap_or_else(|| panic!("no stdout line with {what} from {}", self.context()))
    }

    /// Wait until stdout holds at least `n` bytes; returns them all.
    pub fn wait_stdout_len(&self, n: usize) -> Vec<u8> {
        self.out
            .wait(WAIT, |b, eof| (b.len() >= n || eof).then(|| b.to_vec()))
            .filter(|b| b.len() >= n)
            .unwrap_or_else(|| panic!("waited for {n} bytes on stdout of {}", self.context()))
    }

    /// Wait until stdout ends (the child closed it or exited); returns all of it.
    pub fn wait_stdout_eof(&self, timeout: Duration) -> Vec<u8> {
        self.out
            .wait(timeout, |b, eof| eof.then(|| b.to_vec()))
            .unwrap_or_else(|| panic!("stdout did not end in {timeout:?}: {}", self.context()))
    }

    /// The exit status, if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// Wait for the process to exit (and its output to end); panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.try_status() {
                break s;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not exit within {timeout:?}; {}",
                    self.name,
                    self.context()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Output ends with the process, unless a grandchild holds it open: bounded anyway.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(2));
        self.out.wait(left, |_, eof| eof.then_some(()));
        self.err.wait(left, |_, eof| eof.then_some(()));
        if let Some(f) = self.feeder.take() {
            let _ = f.join();
        }
        status
    }

    /// Wait for the exit and return the exit code (panics if killed by a signal).
    pub fn wait_code(&mut self, timeout: Duration) -> i32 {
        let s = self.wait_exit(timeout);
        s.code()
            .unwrap_or_else(|| panic!("{} was killed: {s:?}; {}", self.name, self.context()))
    }

    /// Wait for the exit and panic unless it was 0.
    pub fn wait_success(&mut self) {
        let code = self.wait_code(WAIT);
        assert_eq!(code, 0, "{} exited {code}; {}", self.name, self.context());
    }

    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid() as i32), sig).unwrap();
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        self.try_status().is_none()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.stdin = None;
    }
}

/// A `sockbox ARGS...` command.
pub fn sockbox_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(sockbox_bin());
    c.args(args);
    c
}

/// Start sockbox with `args`.
pub fn spawn_sockbox(args: &[&str]) -> Proc {
    Proc::spawn(&format!("sockbox {}", args.join(" ")), sockbox_cmd(args))
}

/// What a finished command did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Outcome {
    /// stderr lines, without empty ones.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

/// Run sockbox to its end with `stdin` as input, bounded by [`WAIT`].
pub fn run_sockbox(args: &[&str], stdin: &[u8]) -> Outcome {
    let mut p = spawn_sockbox(args);
    p.feed(stdin.to_vec());
    let code = p.wait_code(WAIT);
    Outcome {
        code,
        stdout: p.stdout(),
        stderr: p.stderr(),
    }
}

/// The address in sockbox's `listening on ADDR` (or `relaying ADDR -> ...`, `receiving on
/// ADDR`) line on stderr.
pub fn announced_addr(p: &Proc) -> String {
    const MARKS: [&str; 3] = ["listening on ", "relaying ", "receiving on "];
    let line = p.wait_stderr_where("an address announced", |l| {
        MARKS.iter().any(|m| l.contains(m))
    });
    MARKS
        .iter()
        .find_map(|k| line.split_once(k).map(|(_, rest)| rest))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string()
}

/// The port of the address sockbox announced; 0 for Unix kinds, which have none.
pub fn announced_port(p: &Proc) -> u16 {
    let addr = announced_addr(p);
    if addr.starts_with("unix") || addr.starts_with("seqpacket") || addr.starts_with("fifo") {
        return 0;
    }
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr:?}"))
}

/// Wait until sockbox says it listens (any kind).
pub fn wait_listening(p: &Proc) -> String {
    p.wait_stderr("listening on")
}

/// The Python socket puppet (`tests/peers/puppet.py`): one socket, driven by commands.
pub struct Puppet {
    pub proc: Proc,
    /// Lines of its stdout already consumed.
    lines: usize,
    pub port: u16,
    pub pid: u32,
}

impl Puppet {
    /// `role` is `listen` or `connect`; `kind` and `addr` as puppet.py takes them.
    pub fn start(role: &str, kind: &str, addr: &str) -> Puppet {
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("puppet.py")).args([role, kind, addr]);
        let mut p = Puppet {
            proc: Proc::spawn(&format!("puppet {role} {kind} {addr}"), cmd),
            lines: 0,
            port: 0,
            pid: 0,
        };
        let ready = p.line();
        let words: Vec<&str> = ready.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"ready"), "puppet said {ready:?}");
        p.port = words[1].parse().unwrap();
        p.pid = words[2].parse().unwrap();
        p
    }

    pub fn listen(kind: &str, addr: &str) -> Puppet {
        Puppet::start("listen", kind, addr)
    }

    pub fn connect(kind: &str, addr: &str) -> Puppet {
        Puppet::start("connect", kind, addr)
    }

    /// The next line it prints (bounded by `timeout`).
    pub fn line_within(&mut self, timeout: Duration) -> String {
        let k = self.lines;
        let line = self
            .proc
            .out
            .wait(timeout, |b, eof| match complete_lines(b).get(k) {
                Some(l) => Some(Some(l.clone())),
                None if eof => Some(None),
                None => None,
            })
            .flatten();
        match line {
            Some(l) => {
                self.lines += 1;
                l
            }
            None => panic!(
                "{} gave no answer in {timeout:?}; {}",
                self.proc.name,
                self.proc.context()
            ),
        }
    }

    pub fn line(&mut self) -> String {
        self.line_within(WAIT)
    }

    /// Send a command without waiting for its answer.
    pub fn ask(&mut self, cmd: &str) {
        self.proc.write(format!("{cmd}\n").as_bytes());
    }

    /// Send a command and return its answer, which must start with `expect`.
    pub fn cmd(&mut self, cmd: &str, expect: &str) -> String {
        self.ask(cmd);
        self.expect(expect)
    }

    /// The next answer, which must start with `expect`.
    pub fn expect(&mut self, expect: &str) -> String {
        let l = self.line();
        assert!(
            l.starts_with(expect),
            "{}: expected {expect:?}, got {l:?}; {}",
            self.proc.name,
            self.proc.context()
        );
        l
    }

    /// `recv`: the next message (or stream chunk) as bytes.
    pub fn recv(&mut self) -> Vec<u8> {
        let l = self.cmd("recv", "msg");
        unhex(l.trim_start_matches("msg").trim())
    }

    pub fn send(&mut self, data: &[u8]) {
        self.cmd(&format!("send {}", hex(data)), "sent");
    }

    /// An `all LEN SHA` answer, parsed.
    pub fn all(&mut self) -> (usize, String) {
        let l = self.expect("all ");
        let w: Vec<&str> = l.split_whitespace().collect();
        (w[1].parse().unwrap(), w[2].to_string())
    }
}

/// The Python echo server (`tests/peers/echo_server.py`); `port` is 0 for Unix kinds.
pub struct EchoServer {
    pub proc: Proc,
    pub port: u16,
}

impl EchoServer {
    pub fn start(kind: &str, addr: &str) -> EchoServer {
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("echo_server.py")).args([kind, addr]);
        let proc = Proc::spawn(&format!("echo_server {kind} {addr}"), cmd);
        let ready = proc
            .out
            .wait(WAIT, |b, eof| match complete_lines(b).first() {
                Some(l) => Some(Some(l.clone())),
                None if eof => Some(None),
                None => None,
            })
            .flatten()
            .unwrap_or_else(|| panic!("echo server did not start; {}", proc.context()));
        let port = ready
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("echo server said {ready:?}"));
        EchoServer { proc, port }
    }
}

/// A path in `dir` (a Unix socket's, say), as a string.
pub fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_string()
}

/// Write `data` to a new file in `dir`; returns its path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// A TCP client to 127.0.0.1:`port` with read and write timeouts as failure bounds.
pub fn tcp_client(port: u16) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// A Unix stream client to `path`, with timeouts as failure bounds.
pub fn unix_client(path: &Path) -> std::os::unix::net::UnixStream {
    let s = std::os::unix::net::UnixStream::connect(path)
        .unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// Read until end of stream; a timeout or error panics with `what`.
pub fn read_to_end(mut r: impl Read, what: &str) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)
        .unwrap_or_else(|e| panic!("{what}: reading: {e}"));
    v
}

/// Wait until `path` exists (sockbox created its socket file or FIFO).
pub fn wait_path(path: &Path) {
    wait_for(&format!("{} to appear", path.display()), WAIT, || {
        std::fs::symlink_metadata(path).ok().map(drop)
    })
}

/// A stream client of either family, so a test can run the same steps over TCP and Unix.
pub enum Client {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Client {
    pub fn try_clone(&self) -> Client {
        match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone().unwrap()),
            Client::Unix(s) => Client::Unix(s.try_clone().unwrap()),
        }
    }

    /// shutdown(SHUT_WR): the peer reads end of stream.
    pub fn shut(&self) {
        let r = match self {
            Client::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Client::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
        r.unwrap();
    }

    /// Send all of `data` from a thread, then shut down writing (when `shut`) or close this
    /// handle; the caller goes on reading on its own handle.
    pub fn send_in_thread(&self, data: Vec<u8>, shut: bool) -> JoinHandle<()> {
        let mut w = self.try_clone();
        std::thread::spawn(move || {
            w.write_all(&data).expect("client write");
            if shut {
                w.shut();
            }
        })
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How many descriptors process `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
}

/// Clients waiting in the accept queue of the TCP listener on 127.0.0.1:`port` (the rx_queue
/// of a LISTEN socket in /proc/net/tcp), if there is such a listener.
pub fn accept_queue(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.get(1) != Some(&local.as_str()) || f.get(3) != Some(&"0A") {
            return None;
        }
        let rx = f.get(4)?.split(':').nth(1)?;
        u64::from_str_radix(rx, 16).ok()
    })
}

impl Proc {
    /// Line `k` (counting from 0) of stdout, waiting up to `timeout` for it; `None` when stdout
    /// ended or the time ran out first.
    pub fn stdout_line(&self, k: usize, timeout: Duration) -> Option<String> {
        self.out
            .wait(timeout, |b, eof| match complete_lines(b).get(k) {
                Some(l) => Some(Some(l.clone())),
                None if eof => Some(None),
                None => None,
            })
            .flatten()
    }
}

// ---------------------------------------------------------------------------------------------
// Network namespaces

/// Run a setup command; panic with its output when it fails.
pub fn must(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with its loopback up, deleted (with its interfaces) when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        require_tool("ip");
        let name = format!("sbx-{tag}-{:08x}", seed() as u32);
        must(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        must(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    /// `ip netns exec NAME PROGRAM ARGS...`
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, program: &str, args: &[S]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]).args(args);
        c
    }

    pub fn sysctl(&self, setting: &str) {
        must(&mut self.cmd("sysctl", &["-qw", setting]));
    }

    /// sockbox inside the namespace, run to its end.
    pub fn sockbox(&self, args: &[&str]) -> Outcome {
        self.run(sockbox_bin(), args)
    }

    /// Any program inside the namespace, run to its end (bounded by WAIT).
    pub fn run(&self, program: &str, args: &[&str]) -> Outcome {
        let name = format!("[{}] {program} {}", self.name, args.join(" "));
        let mut p = Proc::spawn(&name, self.cmd(program, args));
        p.close_stdin();
        let code = p.wait_code(WAIT);
        Outcome {
            code,
            stdout: p.stdout(),
            stderr: p.stderr(),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
