//! TLS (`tls:HOST:PORT`, the `tls` option) against real peers: `openssl s_server` and
//! `s_client`, curl, ncat --ssl, socat's OPENSSL addresses. Every certificate is made by the
//! test in a temporary directory with `openssl req` / `openssl x509`: a CA, a server
//! certificate for localhost and 127.0.0.1, a client certificate, an expired one, one for
//! another host, and one from a CA nobody trusts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `name`.pem and `name`.key signed by `ca` (or self-signed CA when `ca` is None), valid
/// `days` days (-1: expired), with `san` as subjectAltName.
fn issue(dir: &Path, name: &str, cn: &str, ca: Option<&str>, days: &str, san: Option<&str>) {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    match ca {
        None => openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                days,
                "-subj",
                &format!("/CN={cn}"),
            ],
        ),
        Some(ca) => {
            let csr = format!("{name}.csr");
            openssl(
                dir,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &key,
                    "-out",
                    &csr,
                    "-subj",
                    &format!("/CN={cn}"),
                ],
            );
            let ext = format!("{name}.ext");
            let mut text = String::from("basicConstraints=CA:FALSE\n");
            if let Some(san) = san {
                text.push_str(&format!("subjectAltName={san}\n"));
            }
            std::fs::write(dir.join(&ext), text).unwrap();
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    days,
                    "-extfile",
                    &ext,
                ],
            );
        }
    }
}

fn pki() -> Pki {
    require_tool("openssl");
    let dir = tempdir();
    let d = dir.path();
    issue(d, "ca", "sockbox test CA", None, "2", None);
    issue(d, "other-ca", "nobody's CA", None, "2", None);
    let local = Some("DNS:localhost,IP:127.0.0.1");
    issue(d, "server", "localhost", Some("ca"), "2", local);
    issue(d, "client", "sockbox test client", Some("ca"), "2", None);
    issue(d, "expired", "localhost", Some("ca"), "-1", local);
    issue(
        d,
        "wronghost",
        "elsewhere.example",
        Some("ca"),
        "2",
        Some("DNS:elsewhere.example"),
    );
    issue(d, "untrusted", "localhost", Some("other-ca"), "2", local);
    Pki { dir }
}

/// `openssl s_server` on 127.0.0.1 with `cert`, reversing each line it reads (`-rev`).
fn s_server(pki: &Pki, cert: &str, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = Command::new("openssl");
    cmd.args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
        .args(["-cert", &pki.p(&format!("{cert}.pem"))])
        .args(["-key", &pki.p(&format!("{cert}.key"))])
        .args(["-rev", "-naccept", "1"])
        .args(extra);
    let p = Proc::spawn("openssl s_server", cmd);
    p.wait_stdout_where_accept();
    (p, port)
}

trait Accepting {
    fn wait_stdout_where_accept(&self);
}

impl Accepting for Proc {
    /// s_server prints ACCEPT when it listens.
    fn wait_stdout_where_accept(&self) {
        wait_for("openssl s_server to listen", WAIT, || {
            String::from_utf8_lossy(&self.stdout())
                .contains("ACCEPT")
                .then_some(())
        });
    }
}

/// One error line on stderr (not a warning: it ends the run) naming `reason`, exit 1.
fn fails_with(out: &Outcome, reason: &str) {
    assert_eq!(out.code, 1, "stderr: {}", out.stderr);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "one line expected: {lines:?}");
    assert!(lines[0].starts_with("sockbox: "), "{lines:?}");
    assert!(!lines[0].starts_with("sockbox: warning:"), "{lines:?}");
    // Plain words: no Rust debug value (`DnsName("...")`) in a message.
    assert!(!lines[0].contains("(\""), "{lines:?}");
    assert!(
        lines[0].contains(reason),
        "{:?} should name {reason:?}",
        lines[0]
    );
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn connect_talks_to_openssl_s_server() {
    let pki = pki();
    let (_server, port) = s_server(&pki, "server", &[]);
    let out = run_sockbox(
        &[
            "-v",
            "connect",
            &format!("tls:localhost:{port},cafile={}", pki.p("ca.pem")),
        ],
        b"sockbox over tls\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, b"slt revo xobkcos\n");
    // -v narrates the handshake as s_client would show it.
    for needle in [
        "tls: TLSv1.3, cipher suite TLS13_",
        "ALPN none",
        "server certificate chain (1 sent)",
        "subject CN=localhost; issuer CN=sockbox test CA; valid from",
        "OCSP: none stapled",
        "checked against cafile=",
    ] {
        assert!(out.stderr.contains(needle), "{needle:?} in\n{}", out.stderr);
    }
}

#[test]
fn tls12_and_alpn_with_s_server() {
    let pki = pki();
    let (_server, port) = s_server(&pki, "server", &["-tls1_2", "-alpn", "h2"]);
    let out = run_sockbox(
        &[
            "-v",
            "connect",
            &format!(
                "tls:127.0.0.1:{port},cafile={},alpn=h2:http/1.1",
                pki.p("ca.pem")
            ),
        ],
        b"ab\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, b"ba\n");
    assert!(out.stderr.contains("tls: TLSv1.2"), "{}", out.stderr);
    assert!(out.stderr.contains("ALPN h2"), "{}", out.stderr);
}

#[test]
fn verification_failures_are_one_line_exit_1() {
    let pki = pki();
    let cases = [
        (
            "wronghost",
            "certificate is not valid for localhost (wrong host name; it is for \
             elsewhere.example)",
        ),
        ("expired", "certificate has expired (not valid after "),
        ("untrusted", "unknown CA"),
    ];
    for (cert, reason) in cases {
        let (_server, port) = s_server(&pki, cert, &[]);
        let addr = format!("tls:localhost:{port},cafile={}", pki.p("ca.pem"));
        let out = run_sockbox(&["connect", &addr], b"x\n");
        fails_with(&out, reason);
    }
}

#[test]
fn verify_0_connects_anyway_and_says_so() {
    let pki = pki();
    let (_server, port) = s_server(&pki, "untrusted", &[]);
    let out = run_sockbox(
        &["connect", &format!("tls:localhost:{port},verify=0")],
        b"ok\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, b"ko\n");
    assert!(out.stderr.contains("NOT checked"), "{}", out.stderr);
}

#[test]
fn client_certificate_to_s_server_and_refused_without() {
    let pki = pki();
    let verify = ["-Verify", "1", "-CAfile"];
    let ca = pki.p("ca.pem");
    let mut extra: Vec<&str> = verify.to_vec();
    extra.push(&ca);
    let (_server, port) = s_server(&pki, "server", &extra);
    let addr = format!(
        "tls:localhost:{port},cafile={ca},cert={},key={}",
        pki.p("client.pem"),
        pki.p("client.key")
    );
    let out = run_sockbox(&["connect", &addr], b"mtls\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, b"sltm\n");

    let (_server, port) = s_server(&pki, "server", &extra);
    let out = run_sockbox(
        &["connect", &format!("tls:localhost:{port},cafile={ca}")],
        b"no cert\n",
    );
    fails_with(
        &out,
        "the peer requires a client certificate (give cert= and key=)",
    );
}

/// A relay terminating TLS in front of Python's HTTP server: curl fetches a file through it,
/// with and without a client certificate when cafile= asks for one.
#[test]
fn relay_terminates_tls_for_curl_and_mtls() {
    require_tool("curl");
    let pki = pki();
    let www = tempdir();
    let body = random_bytes(300_000);
    std::fs::write(www.path().join("blob"), &body).unwrap();
    let http_port = free_port();
    let mut py = Command::new(python());
    py.args([
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        &http_port.to_string(),
    ])
    .current_dir(www.path());
    let _http = Proc::spawn("python http.server", py);
    wait_for("http.server", WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", http_port)).ok()
    });

    let port = free_port();
    let listen = format!(
        "tls:127.0.0.1:{port},cert={},key={}",
        pki.p("server.pem"),
        pki.p("server.key")
    );
    let relay = spawn_sockbox(&["relay", &listen, &format!("tcp:127.0.0.1:{http_port}")]);
    announced_addr(&relay);
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", &pki.p("ca.pem")])
            .args(extra)
            .arg(format!("https://localhost:{port}/blob"))
            .output()
            .unwrap()
    };
    let got = curl(&[]);
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert_eq!(sha256(&got.stdout), sha256(&body));

    // mTLS: the same relay with cafile= wants a client certificate.
    let port2 = free_port();
    let listen = format!(
        "tls:127.0.0.1:{port2},cert={},key={},cafile={}",
        pki.p("server.pem"),
        pki.p("server.key"),
        pki.p("ca.pem")
    );
    let relay2 = spawn_sockbox(&["relay", &listen, &format!("tcp:127.0.0.1:{http_port}")]);
    announced_addr(&relay2);
    let url = format!("https://localhost:{port2}/blob");
    let with_cert = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", &pki.p("ca.pem")])
        .args([
            "--cert",
            &pki.p("client.pem"),
            "--key",
            &pki.p("client.key"),
        ])
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        with_cert.status.success(),
        "{}",
        String::from_utf8_lossy(&with_cert.stderr)
    );
    assert_eq!(sha256(&with_cert.stdout), sha256(&body));
    // The client is reported by its certificate's subject.
    relay2.wait_stderr("tls client CN=sockbox test client");
    let without = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", &pki.p("ca.pem")])
        .arg(&url)
        .output()
        .unwrap();
    assert!(!without.status.success());
    relay2.wait_stderr("the client sent no certificate");
}

/// `listen --echo` with tls: openssl s_client and ncat --ssl as clients get the same bytes.
#[test]
fn listen_echo_for_s_client_and_ncat() {
    require_tool("ncat");
    let pki = pki();
    let port = free_port();
    let listen = format!(
        "tls:127.0.0.1:{port},cert={},key={}",
        pki.p("server.pem"),
        pki.p("server.key")
    );
    let server = spawn_sockbox(&["listen", &listen, "--echo", "--keep"]);
    announced_addr(&server);
    // ncat writes to a TLS socket blocking, without reading meanwhile: against an echo, a
    // payload larger than what the socket buffers hold on the way can deadlock ncat itself
    // (seen under load), so its payload stays well below that; s_client gets a larger one.
    let small = hex(&random_bytes(16_000)) + "\n";
    let hexed = hex(&random_bytes(100_000)) + "\n";

    let mut ncat = Command::new("ncat");
    ncat.args(["--ssl", "--ssl-verify", "--ssl-trustfile", &pki.p("ca.pem")])
        .args(["localhost", &port.to_string()]);
    let mut n = Proc::spawn("ncat --ssl", ncat);
    n.write(small.as_bytes());
    // ncat's stdin is closed before reading back: ncat (7.93) can leave the rest of a TLS
    // record larger than its 8 KiB buffer in OpenSSL's buffer, unwritten, until the socket
    // is readable again (nmap/nmap#2788; seen here: 24,576 of 32,001 bytes, while ss showed
    // nothing queued anywhere and s_client got every byte 20 times out of 20). The end of
    // stdin makes the echo end, and its close_notify wakes ncat.
    n.close_stdin();
    let got = n.wait_stdout_len(small.len());
    assert_eq!(sha256(&got), sha256(small.as_bytes()));

    let mut s = Command::new("openssl");
    s.args([
        "s_client",
        "-quiet",
        "-verify_return_error",
        "-CAfile",
        &pki.p("ca.pem"),
    ])
    .args(["-connect", &format!("localhost:{port}")]);
    let mut c = Proc::spawn("openssl s_client", s);
    c.write(hexed.as_bytes());
    let got = c.wait_stdout_len(hexed.len());
    assert_eq!(sha256(&got), sha256(hexed.as_bytes()));
}

/// `--allow-subject` on a listener with cafile=: openssl s_client with an allowed certificate
/// gets its echo; one with another subject (same CA, so the handshake itself succeeds) is
/// closed before a byte of the service and logged; without cafile= the flag is refused.
#[test]
fn allow_subject_lets_in_only_the_named_certificates() {
    let pki = pki();
    issue(
        pki.dir.path(),
        "bob",
        "bob/O=Example Org",
        Some("ca"),
        "2",
        None,
    );
    let port = free_port();
    let listen = format!(
        "tls:127.0.0.1:{port},cert={},key={},cafile={}",
        pki.p("server.pem"),
        pki.p("server.key"),
        pki.p("ca.pem")
    );
    let server = spawn_sockbox(&[
        "listen",
        &listen,
        "--echo",
        "--keep",
        "--allow-subject",
        "CN=sockbox test client",
        "--allow-subject",
        "O=Other Org",
    ]);
    announced_addr(&server);
    let s_client = |who: &str| {
        let mut s = Command::new("openssl");
        s.args(["s_client", "-quiet", "-verify_return_error"])
            .args(["-CAfile", &pki.p("ca.pem")])
            .args(["-cert", &pki.p(&format!("{who}.pem"))])
            .args(["-key", &pki.p(&format!("{who}.key"))])
            .args(["-connect", &format!("localhost:{port}")]);
        Proc::spawn(&format!("openssl s_client as {who}"), s)
    };
    let mut allowed = s_client("client");
    allowed.write(b"let me in\n");
    assert_eq!(allowed.wait_stdout_len(10), b"let me in\n");
    allowed.close_stdin();

    let mut bob = s_client("bob");
    bob.write(b"me too\n");
    // The server ends bob's session with a close_notify: s_client ends cleanly (exit 0),
    // having printed nothing.
    let code = bob.wait_code(WAIT);
    assert!(bob.stdout().is_empty(), "bob got {:?}", bob.stdout());
    assert_eq!(code, 0, "{}", bob.stderr());
    let line = server.wait_stderr("not in --allow-subject");
    assert!(line.contains("CN=bob"), "{line}");

    let out = run_sockbox(
        &[
            "listen",
            &format!(
                "tls:127.0.0.1:{},cert={},key={}",
                free_port(),
                pki.p("server.pem"),
                pki.p("server.key")
            ),
            "--echo",
            "--allow-subject",
            "alice",
        ],
        b"",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--allow-subject needs a tls listener with cafile="),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    let out = run_sockbox(
        &["listen", &listen, "--echo", "--allow-subject", "XX=1"],
        b"",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown subject attribute 'XX'"),
        "{}",
        out.stderr
    );
}

/// No cert=: a self-signed certificate, its fingerprint on stderr, which is the one served.
#[test]
fn self_signed_fingerprint_is_the_one_served() {
    let pki = pki();
    let port = free_port();
    let server = spawn_sockbox(&["listen", &format!("tls:127.0.0.1:{port}"), "--echo"]);
    let line = server.wait_stderr("SHA-256 fingerprint");
    let printed = line.rsplit(' ').next().unwrap().trim().to_string();
    announced_addr(&server);
    let mut s = Command::new("openssl");
    s.args(["s_client", "-connect", &format!("127.0.0.1:{port}")]);
    let mut c = Proc::spawn("openssl s_client", s);
    c.close_stdin();
    c.wait_exit(WAIT);
    let pem = String::from_utf8_lossy(&c.stdout()).to_string();
    let start = pem
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    std::fs::write(pki.path("served.pem"), &pem[start..end]).unwrap();
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pki.path("served.pem"))
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout);
    assert!(fp.trim().ends_with(&printed), "{fp} vs {printed}");
}

/// TLS over a Unix socket: a relay from unix:...,tls to an echo, sockbox connecting with
/// sni= to check the name.
#[test]
fn tls_over_unix_socket() {
    let pki = pki();
    let dir = tempdir();
    let sock = dir.path().join("tls.sock");
    let listen = format!(
        "unix:{},tls,cert={},key={}",
        sock.display(),
        pki.p("server.pem"),
        pki.p("server.key")
    );
    let server = spawn_sockbox(&["listen", &listen, "--echo"]);
    announced_addr(&server);
    let out = run_sockbox(
        &[
            "connect",
            &format!(
                "unix:{},tls,sni=localhost,cafile={}",
                sock.display(),
                pki.p("ca.pem")
            ),
        ],
        b"over unix\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, b"over unix\n");
    // Without sni= a Unix socket has no name to check: a usage error.
    let out = run_sockbox(&["connect", &format!("unix:{},tls", sock.display())], b"");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("sni="), "{}", out.stderr);
}

/// The address `listen` prints on its "listening on" line, once it is listening; the run is
/// then stopped. An address refused (a usage error) fails the test with sockbox's words.
fn printed_listening_address(addr: &str) -> String {
    let mut p = spawn_sockbox(&["listen", addr, "--echo", "--keep"]);
    wait_for(&format!("listen {addr} to listen or exit"), WAIT, || {
        if p.stderr().contains("listening on ") {
            return Some(());
        }
        p.try_status().map(|st| {
            panic!(
                "listen {addr} exited ({st}) before listening: {}",
                p.stderr()
            )
        })
    });
    let printed = announced_addr(&p);
    p.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(p.wait_code(WAIT), 0, "listen {addr}: {}", p.stderr());
    printed
}

/// A printed address parses back: each "listening on" address, given to `listen` again, is
/// taken and printed the same; `tls` appears once (it was printed twice on a Unix socket).
#[test]
fn printed_listening_addresses_parse_back() {
    let pki = pki();
    let dir = tempdir();
    let keys = format!("cert={},key={}", pki.p("server.pem"), pki.p("server.key"));
    let path = |name: &str| dir.path().join(name).display().to_string();
    let abstract_name = format!("sockbox-test-tls-{}", std::process::id());
    let cases = [
        format!("tls:127.0.0.1:0,{keys}"),
        format!("tcp:127.0.0.1:0,tls,{keys}"),
        format!("tcp4:127.0.0.1:0,tls,{keys}"),
        format!("tcp6:[::1]:0,tls,{keys}"),
        format!("unix:{},tls,{keys}", path("t.sock")),
        format!("unix:{},{keys},tls", path("t2.sock")),
        format!("unix:@{abstract_name},tls,{keys}"),
        format!("unix:{}", path("plain.sock")),
        "tcp:127.0.0.1:0".to_string(),
    ];
    for addr in cases {
        let printed = printed_listening_address(&addr);
        let tls = printed.split(',').filter(|o| *o == "tls").count()
            + usize::from(printed.starts_with("tls:"));
        assert_eq!(
            tls,
            usize::from(addr.contains("tls")),
            "listen {addr} printed {printed}"
        );
        let again = printed_listening_address(&printed);
        assert_eq!(again, printed, "listen {addr} printed {printed}");
    }
}

/// Files that are missing, do not parse, or do not belong together: exit 2 before anything
/// opens, one line.
#[test]
fn bad_certificate_files_are_usage_errors() {
    let pki = pki();
    std::fs::write(pki.path("garbage.pem"), "not a certificate\n").unwrap();
    std::fs::write(
        pki.path("broken.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let port = free_port();
    let cases = [
        (
            format!("listen:tls:127.0.0.1:{port},cert={}", pki.p("missing.pem")),
            "no such file",
        ),
        (
            format!("listen:tls:127.0.0.1:{port},cert={}", pki.p("garbage.pem")),
            "no certificate in it",
        ),
        (
            format!("listen:tls:127.0.0.1:{port},cert={}", pki.p("broken.pem")),
            "does not parse",
        ),
        (
            format!(
                "listen:tls:127.0.0.1:{port},cert={},key={}",
                pki.p("server.pem"),
                pki.p("client.key")
            ),
            "does not match",
        ),
        (
            format!("tls:127.0.0.1:{port},cafile={}", pki.p("missing.pem")),
            "no such file",
        ),
    ];
    for (addr, reason) in cases {
        let verb = if addr.starts_with("listen:") {
            "listen"
        } else {
            "connect"
        };
        let out = run_sockbox(&[verb, &addr], b"");
        assert_eq!(out.code, 2, "{addr}: {}", out.stderr);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(reason), "{addr}: {lines:?}");
        // Nothing was opened: the port is still free.
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
    // A relay's connecting side is read before the listening side opens.
    let out = run_sockbox(
        &[
            "relay",
            &format!("tcp:127.0.0.1:{port}"),
            &format!("tls:127.0.0.1:1,cafile={}", pki.p("garbage.pem")),
        ],
        b"",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no certificate in it"),
        "{}",
        out.stderr
    );
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    // A TLS setting without TLS.
    let out = run_sockbox(&["connect", "tcp:127.0.0.1:1,cafile=/x"], b"");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs TLS"), "{}", out.stderr);
}

/// The real tool and sockbox's front end for it, with the same arguments.
fn tools(real: &'static str) -> [(String, Command); 2] {
    require_tool(real);
    let front = if real == "ncat" { "nc" } else { real };
    let mut ours = Command::new(sockbox_bin());
    ours.arg(front);
    [
        (real.to_string(), Command::new(real)),
        (format!("sockbox {front}"), ours),
    ]
}

/// socat's OPENSSL: and ncat's --ssl-verify --ssl-trustfile, against s_server: the real tool
/// and sockbox's front end print the same bytes.
#[test]
fn socat_and_ncat_client_spellings_side_by_side() {
    let pki = pki();
    let ca = pki.p("ca.pem");
    let mut outputs = Vec::new();
    for (name, mut cmd) in tools("socat") {
        let (_server, port) = s_server(&pki, "server", &[]);
        cmd.args([
            "-t",
            "2",
            "STDIO",
            &format!("OPENSSL:localhost:{port},cafile={ca}"),
        ]);
        let mut p = Proc::spawn(&name, cmd);
        p.write(b"socat spelling\n");
        let got = p.wait_stdout_len(15);
        p.close_stdin();
        outputs.push((name, got));
    }
    for (name, mut cmd) in tools("ncat") {
        let (_server, port) = s_server(&pki, "server", &[]);
        cmd.args(["--ssl-verify", "--ssl-trustfile", &ca, "localhost"])
            .arg(port.to_string());
        let mut p = Proc::spawn(&name, cmd);
        p.write(b"socat spelling\n");
        let got = p.wait_stdout_len(15);
        p.close_stdin();
        outputs.push((name, got));
    }
    for (name, got) in &outputs {
        assert_eq!(got, b"gnilleps tacos\n", "{name}");
    }
    // Both refuse a server whose certificate is for another host.
    for (name, mut cmd) in tools("socat") {
        let (_server, port) = s_server(&pki, "wronghost", &[]);
        cmd.args(["STDIO", &format!("OPENSSL:localhost:{port},cafile={ca}")]);
        let mut p = Proc::spawn(&name, cmd);
        p.close_stdin();
        let code = p.wait_code(WAIT);
        assert_ne!(code, 0, "{name}: {}", p.stderr());
        assert!(p.stdout().is_empty(), "{name}");
    }
}

/// socat's OPENSSL-LISTEN and ncat's -l --ssl-cert/--ssl-key as TLS echo servers (EXEC:cat,
/// -e cat): s_client gets the same bytes back from the real tool and from sockbox.
#[test]
fn socat_and_ncat_server_spellings_side_by_side() {
    let pki = pki();
    let (cert, key) = (pki.p("server.pem"), pki.p("server.key"));
    let data = hex(&random_bytes(20_000)) + "\n";
    std::fs::write(pki.path("data.txt"), &data).unwrap();
    // One client per server (no fork, no -k): s_client tries until the server listens,
    // bounded by WAIT, and a try that finds no server yet is not the server's client.
    for (name, mut cmd) in tools("socat").into_iter().chain(tools("ncat")) {
        let port = free_port();
        if name.ends_with("socat") {
            cmd.args([
                &format!("OPENSSL-LISTEN:{port},reuseaddr,cert={cert},key={key},verify=0"),
                "EXEC:cat",
            ]);
        } else {
            cmd.args([
                "-l",
                &port.to_string(),
                "--ssl-cert",
                &cert,
                "--ssl-key",
                &key,
            ])
            .args(["-e", "/bin/cat"]);
        }
        let _server = Proc::spawn(&name, cmd);
        let got = wait_for("an echo through the TLS server", WAIT, || {
            // stdin from a pipe that stays open a while: a try that finds no server yet
            // must not fail on writing to an s_client that already exited.
            let mut s = Command::new("sh");
            s.args([
                "-c",
                "{ cat \"$1\"; sleep 5; } | openssl s_client -quiet -verify_return_error \
                 -CAfile \"$2\" -connect \"$3\"",
                "sh",
            ])
            .arg(pki.path("data.txt"))
            .arg(pki.path("ca.pem"))
            .arg(format!("localhost:{port}"));
            let mut c = Proc::spawn("openssl s_client", s);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while std::time::Instant::now() < deadline && c.stdout().len() < data.len() {
                if !c.running() {
                    return None;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let out = c.stdout();
            (out.len() >= data.len()).then_some(out)
        });
        assert_eq!(sha256(&got), sha256(data.as_bytes()), "{name}");
    }
}

/// TLS through a SOCKS 5 proxy (microsocks): the certificate is checked against the target's
/// name, not the proxy's; openssl s_server answers through the tunnel.
#[test]
fn tls_through_a_socks5_proxy() {
    require_tool("microsocks");
    let pki = pki();
    let (_server, port) = s_server(&pki, "server", &[]);
    let proxy_port = free_port();
    let mut cmd = Command::new("microsocks");
    cmd.args(["-i", "127.0.0.1", "-p", &proxy_port.to_string()]);
    let _proxy = Proc::spawn("microsocks", cmd);
    wait_for("microsocks to listen", WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", proxy_port)).ok()
    });
    let addr = format!(
        "socks5:127.0.0.1:{proxy_port}/localhost:{port},tls,cafile={}",
        pki.p("ca.pem")
    );
    // stdin stays open until the answer is in: microsocks ends both ways at the first end.
    let mut client = spawn_sockbox(&["connect", &addr]);
    client.write(b"via socks\n");
    assert_eq!(client.wait_stdout_len(10), b"skcos aiv\n");
}
