//! `sockbox http` against real servers: nginx on a Unix socket in a temporary directory
//! (started with its own configuration there, killed and reaped at the end), and Python's
//! http.server on Unix, abstract and TCP sockets (`tests/peers/http_peer.py`) for chunked
//! bodies, uploads and broken peers. Bodies are compared byte for byte with what
//! `curl --unix-socket` prints for the same request, and checked with sha256.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::util::*;
use crate::{assert_no_panic, one_line};

// ---------------------------------------------------------------------------------------------
// Peers: nginx, the Python HTTP peer, curl.
// ---------------------------------------------------------------------------------------------

/// The nginx binary (Debian puts it in /usr/sbin, which a user's PATH may lack).
fn nginx_bin() -> String {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("nginx").is_file()))
        .map(|d| d.join("nginx"));
    let bin = on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    assert!(
        bin.is_file(),
        "nginx is not installed, and the http tests need it as a real peer: \
         apt-get install -y nginx (scripts/test.sh does)"
    );
    bin.to_str().unwrap().to_string()
}

/// The body of the JSON document nginx serves as /doc.json.
const NGINX_JSON: &[u8] = br#"{"containers":[{"Id":"4f2a","Names":["/web"],"Ports":[]}],"n":2}"#;

/// nginx serving a static tree from a temporary directory on a Unix socket there. Single
/// process (`master_process off`), so dropping the guard kills and reaps all of it; the pid
/// file, logs and every temp path live in the directory.
struct Nginx {
    proc: Proc,
    sock: String,
    www: PathBuf,
    // Dropped last: after nginx is gone.
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start() -> Nginx {
        let dir = tempdir();
        let p = dir.path().to_str().unwrap().to_string();
        let www = dir.path().join("www");
        std::fs::create_dir(&www).unwrap();
        write_file(&www, "index.html", b"<h1>sockbox</h1>\n");
        write_file(&www, "big.bin", &random_bytes(8 << 20));
        write_file(&www, "doc.json", NGINX_JSON);
        write_file(&www, "empty.txt", b"");
        let sock = format!("{p}/nginx.sock");
        let conf = format!(
            r#"master_process off;
pid {p}/nginx.pid;
error_log {p}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {p}/access.log;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    types {{ text/html html; application/json json; text/plain txt; }}
    default_type application/octet-stream;
    server {{
        listen unix:{sock};
        root {p}/www;
        location = /missing {{ return 404; }}
        location = /echo {{ return 200 "$request_method $http_x_test $http_host\n"; }}
    }}
}}
"#
        );
        let conf_path = write_file(dir.path(), "nginx.conf", conf.as_bytes());
        let mut cmd = Command::new(nginx_bin());
        cmd.arg("-e")
            .arg(format!("{p}/error.log"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(&p)
            .args(["-g", "daemon off;"]);
        let mut proc = Proc::spawn("nginx", cmd);
        let sock_path = PathBuf::from(&sock);
        wait_for("nginx to accept on its socket", WAIT, || {
            if let Some(status) = proc.try_status() {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                panic!("nginx exited {status:?}: {}{log}", proc.stderr());
            }
            std::os::unix::net::UnixStream::connect(&sock_path)
                .ok()
                .map(drop)
        });
        Nginx {
            proc,
            sock,
            www,
            _dir: dir,
        }
    }

    fn addr(&self) -> String {
        format!("unix:{}", self.sock)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Proc's own drop kills and reaps; say so explicitly, before the directory goes.
        if self.proc.running() {
            self.proc.signal(nix::sys::signal::Signal::SIGKILL);
            self.proc.wait_exit(WAIT);
        }
    }
}

/// `tests/peers/http_peer.py MODE ADDR`, killed and reaped when dropped.
struct HttpPeer {
    proc: Proc,
    port: u16,
}

impl HttpPeer {
    fn start(mode: &str, addr: &str) -> HttpPeer {
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("http_peer.py")).args([mode, addr]);
        let proc = Proc::spawn(&format!("http_peer {mode} {addr}"), cmd);
        let ready = stdout_line(&proc, "ready ");
        let port = ready["ready ".len()..].trim().parse().unwrap();
        HttpPeer { proc, port }
    }

    /// The line the peer printed for a request whose log line starts with `prefix`.
    fn logged(&self, prefix: &str) -> String {
        stdout_line(&self.proc, prefix)
    }
}

/// The first complete stdout line of `p` starting with `prefix` (bounded wait).
fn stdout_line(p: &Proc, prefix: &str) -> String {
    wait_for(&format!("a line {prefix:?} from {}", p.name), WAIT, || {
        complete_lines(&p.stdout())
            .into_iter()
            .find(|l| l.starts_with(prefix))
    })
}

/// `curl -s --unix-socket SOCK http://localhost{path}`: its stdout.
fn curl_unix(sock: &str, path: &str) -> Vec<u8> {
    require_tool("curl");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--unix-socket", sock])
        .arg(format!("http://localhost{path}"));
    let mut p = Proc::spawn(&format!("curl {path}"), cmd);
    p.close_stdin();
    p.wait_success();
    p.stdout()
}

/// sockbox http with `args`, no stdin.
fn http(args: &[&str]) -> Outcome {
    let mut all = vec!["http"];
    all.extend_from_slice(args);
    let out = run_sockbox(&all, b"");
    assert_no_panic(&out.stderr);
    out
}

/// sockbox http that must succeed; returns stdout.
fn http_ok(args: &[&str]) -> Vec<u8> {
    let out = http(args);
    assert_eq!(out.code, 0, "sockbox http {args:?}: {}", out.stderr);
    out.stdout
}

/// A failure: the exit code, nothing on stdout, one stderr line (returned).
fn http_fails(args: &[&str], code: i32) -> String {
    let out = http(args);
    assert_eq!(out.code, code, "sockbox http {args:?}: {out:?}");
    one_line(&out).to_string()
}

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

#[test]
fn nginx_bodies_are_the_bytes_curl_gets() {
    let ng = Nginx::start();
    let big = std::fs::read(ng.www.join("big.bin")).unwrap();
    for path in [
        "/index.html",
        "/",
        "/big.bin",
        "/doc.json",
        "/empty.txt",
        "/missing",
        "/echo",
    ] {
        let ours = http_ok(&[&ng.addr(), path]);
        let curls = curl_unix(&ng.sock, path);
        assert!(
            ours == curls,
            "{path}: sockbox gave {} bytes (sha {}), curl {} bytes (sha {})",
            ours.len(),
            sha256(&ours),
            curls.len(),
            sha256(&curls)
        );
        if path == "/big.bin" {
            assert_eq!(sha256(&ours), sha256(&big), "8 MiB file");
        }
    }
    // Piped stdout: JSON comes out raw, exactly as served.
    assert_eq!(http_ok(&[&ng.addr(), "/doc.json"]), NGINX_JSON);
}

#[test]
fn nginx_sees_the_method_and_headers() {
    let ng = Nginx::start();
    let a = ng.addr();
    assert_eq!(http_ok(&[&a, "/echo"]), b"GET  localhost\n");
    assert_eq!(
        http_ok(&[&a, "DELETE", "/echo", "-H", "X-Test: yes"]),
        b"DELETE yes localhost\n"
    );
    assert_eq!(
        http_ok(&[&a, "/echo", "-H", "Host: api.example", "-H", "x-test:a b"]),
        b"GET a b api.example\n"
    );
    assert_eq!(
        http_ok(&[&a, "http://docker.local/echo"]),
        b"GET  docker.local\n"
    );
    // A body makes it a POST, as with curl; nginx's `return` ignores the body.
    assert_eq!(http_ok(&[&a, "/echo", "-d", "k=v"]), b"POST  localhost\n");

    // HEAD: the head, and no body even though Content-Length says 8 MiB.
    let head = http_ok(&[&a, "HEAD", "/big.bin", "-i"]);
    let text = String::from_utf8(head).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\ncontent-length: 8388608\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "a body followed the head: {text:?}"
    );
}

#[test]
fn nginx_include_and_fail() {
    let ng = Nginx::start();
    let a = ng.addr();
    // -i: status line, headers, blank line, body; CRLF as on the wire (and as curl -i).
    let out = http_ok(&[&a, "-i", "/index.html"]);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a blank line after the head");
    let head = String::from_utf8(out[..split].to_vec()).unwrap();
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "HTTP/1.1 200 OK");
    assert!(lines.contains(&"content-type: text/html"), "{lines:?}");
    assert!(lines.contains(&"content-length: 17"), "{lines:?}");
    assert!(lines[1..].iter().all(|l| l.contains(": ")), "{lines:?}");
    assert_eq!(&out[split + 4..], b"<h1>sockbox</h1>\n");

    // Without --fail a 404 is a response like any other: its body, exit 0.
    let body = http_ok(&[&a, "/missing"]);
    assert!(String::from_utf8_lossy(&body).contains("404 Not Found"));
    // With --fail: exit 1, nothing on stdout, one line naming the status.
    let line = http_fails(&[&a, "/missing", "--fail"], 1);
    assert!(
        line.contains(&format!("http {a} GET /missing: 404 Not Found")),
        "{line}"
    );
    let out = http(&[&a, "/missing", "-f", "-i"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty(), "--fail printed {:?}", out.stdout);
}

/// A 100 MiB body passes through a bounded amount of memory: sockbox's peak RSS (VmHWM, which
/// only grows) after 60 MiB have come out of it stays far below 60 MiB.
#[test]
fn a_large_body_is_streamed_not_held() {
    let ng = Nginx::start();
    const SIZE: u64 = 100 << 20;
    // Sparse: no disk or page cache cost; nginx sends it with sendfile(2).
    let f = std::fs::File::create(ng.www.join("huge.bin")).unwrap();
    f.set_len(SIZE).unwrap();
    drop(f);

    struct Reaped(Child);
    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Reaped(
        sockbox_cmd(["http", &ng.addr(), "/huge.bin"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let mut stdout = child.0.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0u64;
    let mut zeros = true;
    // Read 60 MiB, then look at the high-water mark of sockbox's memory.
    while got < 60 << 20 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "sockbox stopped after {got} bytes");
        zeros &= buf[..n].iter().all(|&b| b == 0);
        got += n as u64;
    }
    let hwm_kib: u64 = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    eprintln!("sockbox http: peak RSS {hwm_kib} KiB after {got} bytes of body");
    assert!(
        hwm_kib < 48 << 10,
        "sockbox's peak RSS is {hwm_kib} KiB after sending {got} bytes of a body"
    );
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        zeros &= buf[..n].iter().all(|&b| b == 0);
        got += n as u64;
    }
    assert_eq!(got, SIZE);
    assert!(zeros, "the sparse file reads as zeros");
    assert!(child.0.wait().unwrap().success());
}

// ---------------------------------------------------------------------------------------------
// Python's http.server: chunked bodies, uploads, JSON, statuses
// ---------------------------------------------------------------------------------------------

/// `/chunked` from the peer at `addr` comes out de-chunked: the bytes the peer hashed.
fn check_chunked(peer: &HttpPeer, addr: &str) -> Vec<u8> {
    let seed = seed() % 1_000_000;
    let path = format!("/chunked?chunks=400&max=9000&seed={seed}");
    let body = http_ok(&[addr, &path]);
    let line = peer.logged("chunked ");
    let mut w = line.split_whitespace().skip(1);
    let len: usize = w.next().unwrap().parse().unwrap();
    assert_eq!(body.len(), len, "{addr}{path}");
    assert_eq!(sha256(&body), w.next().unwrap(), "{addr}{path}");
    body
}

#[test]
fn chunked_responses_come_out_dechunked() {
    let dir = tempdir();
    let sock = dir.path().join("http.sock");
    let sock = sock.to_str().unwrap();
    let peer = HttpPeer::start("http", sock);
    let ours = check_chunked(&peer, &format!("unix:{sock}"));
    // curl decodes the same chunked body to the same bytes.
    let line = peer.logged("request GET /chunked");
    let path = line.split_whitespace().nth(2).unwrap();
    assert_eq!(curl_unix(sock, path), ours);
}

#[test]
fn abstract_and_tcp_sockets_carry_http_too() {
    let name = abstract_name("http");
    let peer = HttpPeer::start("http", &name);
    check_chunked(&peer, &format!("unix:{name}"));
    let headers = String::from_utf8(http_ok(&[&format!("unix:{name}"), "/headers"])).unwrap();
    assert!(headers.contains("Host: localhost\n"), "{headers}");

    let peer = HttpPeer::start("http", "tcp:0");
    let addr = format!("tcp:127.0.0.1:{}", peer.port);
    check_chunked(&peer, &addr);
    let headers = String::from_utf8(http_ok(&[&addr, "/headers", "-H", "User-Agent:"])).unwrap();
    assert!(
        headers.contains(&format!("Host: 127.0.0.1:{}\n", peer.port)),
        "{headers}"
    );
    assert!(headers.contains("Accept: */*\n"), "{headers}");
    assert!(
        !headers.contains("User-Agent"),
        "-H 'User-Agent:' removes it: {headers}"
    );
}

#[test]
fn request_bodies_arrive_whole() {
    let dir = tempdir();
    let sock = dir.path().join("http.sock");
    let addr = format!("unix:{}", sock.display());
    let peer = HttpPeer::start("http", sock.to_str().unwrap());

    // -d DATA: Content-Length, POST.
    assert_eq!(
        http_ok(&[&addr, "/echo?d", "-d", "name=sockbox&x=1"]),
        b"name=sockbox&x=1"
    );
    let line = peer.logged("request POST /echo?d ");
    assert!(line.contains("te=length len=16 "), "{line}");

    // --data-file FILE and -d @FILE: a regular file goes with Content-Length.
    let data = random_bytes(3 << 20 | 12345);
    let file = write_file(dir.path(), "up.bin", &data);
    let file = file.to_str().unwrap();
    let echoed = http_ok(&[&addr, "PUT", "/echo?file", "--data-file", file]);
    assert_eq!(sha256(&echoed), sha256(&data));
    let line = peer.logged("request PUT /echo?file ");
    assert!(
        line.contains(&format!(
            "te=length len={} sha={}",
            data.len(),
            sha256(&data)
        )),
        "{line}"
    );
    let echoed = http_ok(&[&addr, "/echo?at", "-d", &format!("@{file}")]);
    assert_eq!(sha256(&echoed), sha256(&data));

    // --data-file - from a pipe: chunked transfer encoding, streamed.
    let piped = random_bytes(5 << 20 | 777);
    let out = run_sockbox(&["http", &addr, "/echo?stdin", "--data-file", "-"], &piped);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sha256(&out.stdout), sha256(&piped));
    let line = peer.logged("request POST /echo?stdin ");
    assert!(
        line.contains(&format!(
            "te=chunked len={} sha={}",
            piped.len(),
            sha256(&piped)
        )),
        "{line}"
    );
    // -d @- likewise.
    let out = run_sockbox(
        &["http", &addr, "PATCH", "/echo?at-", "-d", "@-"],
        b"from stdin",
    );
    assert_eq!(out.stdout, b"from stdin");
    assert!(peer
        .logged("request PATCH /echo?at- ")
        .contains("te=chunked len=10 "));

    // Stdin redirected from a regular file: its length is known, Content-Length again.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "exec \"$0\" http \"$1\" /echo?redirect --data-file - < \"$2\"",
    ])
    .args([sockbox_bin(), &addr, file]);
    let mut p = Proc::spawn("sockbox http < file", cmd);
    p.wait_success();
    assert_eq!(sha256(&p.stdout()), sha256(&data));
    let line = peer.logged("request POST /echo?redirect ");
    assert!(
        line.contains(&format!("te=length len={} ", data.len())),
        "{line}"
    );

    // An empty body is still a body: POST with Content-Length: 0.
    assert_eq!(http_ok(&[&addr, "/echo?empty", "-d", ""]), b"");
    assert!(peer
        .logged("request POST /echo?empty ")
        .contains("te=length len=0 "));
}

#[test]
fn json_is_indented_on_request_and_raw_otherwise() {
    let dir = tempdir();
    let sock = dir.path().join("http.sock");
    let addr = format!("unix:{}", sock.display());
    let _peer = HttpPeer::start("http", sock.to_str().unwrap());
    let raw = http_ok(&[&addr, "/json"]);
    assert!(
        raw.starts_with(b"{\"name\":\"sockbox\",\"list\":[1,2.50"),
        "{raw:?}"
    );
    assert_eq!(http_ok(&[&addr, "/json", "--raw"]), raw);
    let pretty = String::from_utf8(http_ok(&[&addr, "/json", "--pretty"])).unwrap();
    let want = r#"{
  "name": "sockbox",
  "list": [
    1,
    2.50,
    {
      "nested": true,
      "empty": {}
    }
  ],
  "text": "a \"quoted\", {braced} [text]: yes",
  "none": null,
  "arr": []
}
"#;
    assert_eq!(pretty, want);
    // Any +json type is JSON too.
    assert_eq!(
        String::from_utf8(http_ok(&[&addr, "/vnd", "--pretty"])).unwrap(),
        want
    );
    // Not JSON: --pretty leaves it alone.
    let text = http_ok(&[&addr, "/status/200", "--pretty"]);
    assert_eq!(text, b"status 200:\n  something went wrong\n");
    let out = http(&[&addr, "/json", "--pretty", "--raw"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

#[test]
fn error_statuses_and_fail() {
    let dir = tempdir();
    let sock = dir.path().join("http.sock");
    let addr = format!("unix:{}", sock.display());
    let _peer = HttpPeer::start("http", sock.to_str().unwrap());
    // Without --fail: the body, exit 0.
    assert_eq!(
        http_ok(&[&addr, "/status/500"]),
        b"status 500:\n  something went wrong\n"
    );
    // --fail: exit 1, the status and the start of the body on one stderr line.
    let line = http_fails(&[&addr, "/status/500", "--fail"], 1);
    assert!(
        line.ends_with(&format!(
            "http {addr} GET /status/500: 500 Internal Server Error: status 500: something went wrong"
        )),
        "{line}"
    );
    let line = http_fails(&[&addr, "DELETE", "/status/403", "-f"], 1);
    assert!(line.contains("403 Forbidden"), "{line}");
    // 2xx and 3xx are not failures.
    assert_eq!(http(&[&addr, "/status/302", "--fail"]).code, 0);
    // -i with a 404, no --fail: the head and the body.
    let out = String::from_utf8(http_ok(&[&addr, "-i", "/status/404"])).unwrap();
    assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out}");
    assert!(
        out.ends_with("\r\n\r\nstatus 404:\n  something went wrong\n"),
        "{out}"
    );
}

#[test]
fn verbose_narrates_both_heads() {
    let dir = tempdir();
    let sock = dir.path().join("http.sock");
    let addr = format!("unix:{}", sock.display());
    let _peer = HttpPeer::start("http", sock.to_str().unwrap());
    let out = run_sockbox(&["-v", "http", &addr, "/json", "-H", "X-Test: 1"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines = out.stderr_lines();
    for want in [
        "sockbox: > GET /json HTTP/1.1",
        "sockbox: > Host: localhost",
        "sockbox: > X-Test: 1",
        "sockbox: < HTTP/1.1 200 OK",
        "sockbox: < content-type: application/json; charset=utf-8",
    ] {
        assert!(lines.contains(&want), "no {want:?} in:\n{}", out.stderr);
    }
    assert!(
        lines.iter().any(|l| l.contains("connect(")),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// What goes wrong: one line, the right exit code, no hang
// ---------------------------------------------------------------------------------------------

#[test]
fn broken_peers_are_one_line_errors() {
    let dir = tempdir();
    let sock = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let _garbage = HttpPeer::start("garbage", &sock("garbage.sock"));
    let _hangup = HttpPeer::start("hangup", &sock("hangup.sock"));
    let _silent = HttpPeer::start("silent", &sock("silent.sock"));
    let _http = HttpPeer::start("http", &sock("http.sock"));

    let line = http_fails(&[&format!("unix:{}", sock("garbage.sock")), "/"], 1);
    assert!(line.contains("did not answer with HTTP/1.x"), "{line}");
    let line = http_fails(&[&format!("unix:{}", sock("hangup.sock")), "/"], 1);
    assert!(
        line.contains("closed the connection before sending a complete response head"),
        "{line}"
    );
    let line = http_fails(
        &[
            &format!("unix:{}", sock("silent.sock")),
            "/",
            "--timeout",
            "300ms",
        ],
        1,
    );
    assert!(line.contains("no response within 300ms"), "{line}");

    // Closed in the middle of the body: what arrived is printed, then the error.
    let a = format!("unix:{}", sock("http.sock"));
    let out = http(&[&a, "/truncated"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout.len(), 10000);
    let line = one_line(&out);
    assert!(
        line.contains("closed the connection in the middle of the body (after 10000 of the 100000 bytes announced)"),
        "{line}"
    );
    let out = http(&[&a, "/truncated-chunked"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.starts_with(&[b'y'; 3000]),
        "{:?}",
        out.stdout.len()
    );
    assert!(
        one_line(&out).contains("closed the connection in the middle of the body"),
        "{}",
        out.stderr
    );
}

#[test]
fn connection_failures_are_one_line_errors() {
    let dir = tempdir();
    let line = http_fails(&[&format!("tcp:127.0.0.1:{}", free_port()), "/"], 1);
    assert!(line.contains("connection refused"), "{line}");

    let missing = dir.path().join("missing.sock");
    let line = http_fails(&[&format!("unix:{}", missing.display()), "/"], 1);
    assert!(line.contains("no such file"), "{line}");

    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let line = http_fails(&[&format!("unix:{}", stale.display()), "/"], 1);
    assert!(line.contains("stale socket file"), "{line}");

    let file = write_file(dir.path(), "plain.txt", b"not a socket");
    let line = http_fails(&[&format!("unix:{}", file.display()), "/"], 1);
    assert!(line.contains("regular file, not a socket"), "{line}");

    // A data file that is not there fails before connecting (nobody listens at the address).
    let line = http_fails(
        &[
            &format!("unix:{}", missing.display()),
            "/",
            "--data-file",
            "/nonexistent/x",
        ],
        1,
    );
    assert!(line.contains("open data file /nonexistent/x"), "{line}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let a = "unix:/nonexistent/http.sock";
    for (args, words) in [
        (vec![a, "/", "-H", "NoColon"], "bad header 'NoColon'"),
        (vec![a, "/", "-H", "Two Words: x"], "not a header name"),
        (vec![a, "G T", "/"], "bad method"),
        (vec![a, "v1/info"], "starts with '/'"),
        (vec![a, "/a b"], "percent-encoded"),
        (vec![a, "https://localhost/"], "TLS"),
        (vec!["udp:127.0.0.1:53", "/"], "stream socket"),
        (vec!["seqpacket:@x", "/"], "stream socket"),
        (vec!["listen:unix:/tmp/x", "/"], "client"),
        (vec!["uinx:/x", "/"], "did you mean"),
    ] {
        let line = http_fails(&args, 2);
        assert!(line.contains(words), "{args:?}: {line}");
    }
}

/// A path that is just a word is read as a path, never as a method with the path missing.
#[test]
fn method_is_optional_before_the_path() {
    let out = http(&["unix:/nonexistent/x.sock", "GET"]);
    assert_eq!(out.code, 2);
    assert!(one_line(&out).contains("bad PATH 'GET'"), "{}", out.stderr);
}
