//! Proxy kinds (`socks5:`, `socks4a:`, `socks4:`, `http-connect:`) against real proxies
//! (microsocks for SOCKS 5, tinyproxy for HTTP CONNECT, a Python SOCKS 4/4a proxy), with
//! ncat, OpenBSD nc and socat as second clients on the same proxy; and UDP multicast and
//! broadcast in network namespaces the tests create.
//!
//! The server behind each proxy speaks first (seeded bytes, then an echo), so a proxy client
//! that reads past the proxy's answer, or loses the first bytes of the tunnel, is caught.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// Bytes the server sends first.
const SIZE: usize = 100_000;
const PING: &[u8] = b"ping through the proxy\n";

/// A tests/peers/proxy_peer.py process and the port it listens on. Killed when dropped.
struct PyPeer {
    proc: Proc,
    port: u16,
}

impl PyPeer {
    fn start(args: &[&str]) -> PyPeer {
        let mut cmd = Command::new(python());
        cmd.arg(peer_script("proxy_peer.py")).args(args);
        let proc = Proc::spawn(&format!("proxy_peer.py {}", args.join(" ")), cmd);
        let port = wait_for("proxy_peer.py's port", WAIT, || {
            let out = String::from_utf8_lossy(&proc.stdout()).into_owned();
            out.lines().next().and_then(|l| l.trim().parse().ok())
        });
        PyPeer { proc, port }
    }

    /// The JSON lines printed after the port.
    fn requests(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.proc.stdout())
            .lines()
            .skip(1)
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// The server behind the proxies.
fn server() -> PyPeer {
    PyPeer::start(&["serve", &SIZE.to_string(), &seed().to_string()])
}

/// Start `cmd` (a proxy; killed when the returned `Proc` is dropped) and wait until
/// 127.0.0.1:`port` accepts connections.
fn daemon(name: &str, cmd: Command, port: u16) -> Proc {
    require_tool(name);
    let mut p = Proc::spawn(name, cmd);
    wait_for(&format!("{name} listening on {port}"), WAIT, || {
        assert!(p.running(), "{name} exited: {}", p.stderr());
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    p
}

fn microsocks(auth: Option<(&str, &str)>) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = Command::new("microsocks");
    cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((u, p)) = auth {
        cmd.args(["-u", u, "-P", p]);
    }
    (daemon("microsocks", cmd, port), port)
}

/// tinyproxy with its own configuration in `dir`; `auth` adds BasicAuth.
fn tinyproxy(dir: &std::path::Path, auth: Option<(&str, &str)>) -> (Proc, u16) {
    let port = free_port();
    let mut conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 50\nLogLevel Info\n"
    );
    if let Some((u, p)) = auth {
        conf.push_str(&format!("BasicAuth {u} {p}\n"));
    }
    let path = dir.join(format!("tinyproxy-{port}.conf"));
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new("tinyproxy");
    cmd.arg("-d").arg("-c").arg(&path);
    (daemon("tinyproxy", cmd, port), port)
}

/// What a client run by `cmd` receives: the server's first bytes and the echo of PING. Its
/// stdin stays open until everything arrived (some proxies end both directions at the first
/// end of stream); then it is stopped (OpenBSD nc does not end at the end of stdin).
fn fetch(name: &str, cmd: Command) -> Vec<u8> {
    let mut p = Proc::spawn(name, cmd);
    p.write(PING);
    p.wait_stdout_len(SIZE + PING.len())
}

/// What a client connecting straight to the server receives: the reference.
fn direct(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(PING).unwrap();
    let mut got = vec![0u8; SIZE + PING.len()];
    s.read_exact(&mut got).unwrap();
    got
}

fn sockbox_connect(addr: &str) -> Command {
    sockbox_cmd(["-q", "connect", addr])
}

fn run_fail(args: &[&str]) -> Outcome {
    let out = run_sockbox(args, b"");
    assert_ne!(out.code, 0, "{args:?} succeeded");
    assert_eq!(
        out.stderr_lines().len(),
        1,
        "{args:?}: one line expected: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

#[test]
fn socks5_through_microsocks_gives_the_bytes_ncat_and_nc_get() {
    let srv = server();
    let (_proxy, pport) = microsocks(None);
    let want = sha256(&direct(srv.port));
    let (t, p) = (srv.port.to_string(), pport.to_string());
    let proxy = format!("127.0.0.1:{p}");

    let native = fetch(
        "sockbox socks5",
        sockbox_connect(&format!("socks5:{proxy}/127.0.0.1:{t}")),
    );
    assert_eq!(sha256(&native), want);
    // The proxy resolves the name.
    let named = fetch(
        "sockbox socks5 by name",
        sockbox_connect(&format!("socks5:{proxy}/localhost:{t},nodelay")),
    );
    assert_eq!(sha256(&named), want);

    require_tool("ncat");
    let mut ncat = Command::new("ncat");
    ncat.args(["--proxy", &proxy, "--proxy-type", "socks5", "127.0.0.1", &t]);
    assert_eq!(sha256(&fetch("ncat --proxy", ncat)), want);
    let ours = sockbox_cmd([
        "nc",
        "--proxy",
        &proxy,
        "--proxy-type",
        "socks5",
        "127.0.0.1",
        &t,
    ]);
    assert_eq!(sha256(&fetch("sockbox nc --proxy", ours)), want);

    require_tool("nc");
    let mut nc = Command::new("nc");
    nc.args(["-X", "5", "-x", &proxy, "127.0.0.1", &t]);
    assert_eq!(sha256(&fetch("nc -x", nc)), want);
    let ours = sockbox_cmd(["nc", "-X", "5", "-x", &proxy, "127.0.0.1", &t]);
    assert_eq!(sha256(&fetch("sockbox nc -x", ours)), want);
}

#[test]
fn a_relay_reaches_its_backend_through_a_socks5_proxy() {
    let srv = server();
    let (_proxy, pport) = microsocks(None);
    let want = sha256(&direct(srv.port));
    let relay = spawn_sockbox(&[
        "relay",
        "tcp:127.0.0.1:0",
        &format!("socks5:127.0.0.1:{pport}/localhost:{}", srv.port),
    ]);
    let port = announced_port(&relay);
    for _ in 0..3 {
        assert_eq!(sha256(&direct(port)), want);
    }
}

#[test]
fn socks5_user_and_password() {
    let srv = server();
    let (_proxy, pport) = microsocks(Some(("bob", "s3cret")));
    let want = sha256(&direct(srv.port));
    let target = format!("socks5:127.0.0.1:{pport}/127.0.0.1:{}", srv.port);

    let good = fetch(
        "auth ok",
        sockbox_connect(&format!("{target},auth=bob:s3cret")),
    );
    assert_eq!(sha256(&good), want);

    let bad = run_fail(&["connect", &format!("{target},auth=bob:wrong")]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("user name or password"),
        "{}",
        bad.stderr
    );

    let none = run_fail(&["connect", &target]);
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("authentication"), "{}", none.stderr);
}

#[test]
fn http_connect_through_tinyproxy_keeps_the_servers_first_bytes() {
    let dir = tempdir();
    let srv = server();
    let (_proxy, pport) = tinyproxy(dir.path(), None);
    let want = sha256(&direct(srv.port));
    let (t, p) = (srv.port.to_string(), pport.to_string());

    let native = fetch(
        "sockbox http-connect",
        sockbox_connect(&format!("http-connect:127.0.0.1:{p}/127.0.0.1:{t}")),
    );
    assert_eq!(sha256(&native), want);

    require_tool("ncat");
    let mut ncat = Command::new("ncat");
    ncat.args(["--proxy", &format!("127.0.0.1:{p}"), "127.0.0.1", &t]);
    assert_eq!(sha256(&fetch("ncat --proxy (http)", ncat)), want);

    // socat's PROXY: with proxyport=, the real one and ours on the same line.
    require_tool("socat");
    let line = format!("PROXY:127.0.0.1:127.0.0.1:{t},proxyport={p}");
    let mut socat = Command::new("socat");
    socat.args(["-", &line]);
    assert_eq!(sha256(&fetch("socat PROXY:", socat)), want);
    let ours = sockbox_cmd(["socat", "-", &line]);
    assert_eq!(sha256(&fetch("sockbox socat PROXY:", ours)), want);
}

#[test]
fn http_connect_basic_auth() {
    let dir = tempdir();
    let srv = server();
    let (_proxy, pport) = tinyproxy(dir.path(), Some(("bob", "s3cret")));
    let want = sha256(&direct(srv.port));
    let target = format!("http-connect:127.0.0.1:{pport}/127.0.0.1:{}", srv.port);

    let refused = run_fail(&["connect", &target]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("407"), "{}", refused.stderr);
    assert!(refused.stderr.contains("auth="), "{}", refused.stderr);

    let good = fetch(
        "basic auth",
        sockbox_connect(&format!("{target},auth=bob:s3cret")),
    );
    assert_eq!(sha256(&good), want);

    require_tool("ncat");
    let mut ncat = Command::new("ncat");
    ncat.args([
        "--proxy",
        &format!("127.0.0.1:{pport}"),
        "--proxy-auth",
        "bob:s3cret",
        "127.0.0.1",
        &srv.port.to_string(),
    ]);
    assert_eq!(sha256(&fetch("ncat --proxy-auth", ncat)), want);
}

#[test]
fn socks4a_sends_the_name_and_socks4_the_address() {
    let srv = server();
    let proxy = PyPeer::start(&["socks4"]);
    let want = sha256(&direct(srv.port));
    let (t, p) = (srv.port.to_string(), proxy.port.to_string());

    let got = fetch(
        "sockbox socks4a",
        sockbox_connect(&format!("socks4a:127.0.0.1:{p}/localhost:{t},auth=alice")),
    );
    assert_eq!(sha256(&got), want);
    let got = fetch(
        "sockbox socks4",
        sockbox_connect(&format!("socks4:127.0.0.1:{p}/localhost:{t}")),
    );
    assert_eq!(sha256(&got), want);

    // socat's SOCKS4A: with socksport= and socksuser=, the real one and ours.
    require_tool("socat");
    let line = format!("SOCKS4A:127.0.0.1:localhost:{t},socksport={p},socksuser=carol");
    let mut socat = Command::new("socat");
    socat.args(["-", &line]);
    assert_eq!(sha256(&fetch("socat SOCKS4A:", socat)), want);
    let ours = sockbox_cmd(["socat", "-", &line]);
    assert_eq!(sha256(&fetch("sockbox socat SOCKS4A:", ours)), want);

    let requests = wait_for("four requests logged", WAIT, || {
        let r = proxy.requests();
        (r.len() >= 4).then_some(r)
    });
    let port = srv.port as u64;
    // 4a: the proxy gets the name and resolves it; 4: the address, resolved here.
    assert_eq!(requests[0]["host"], "localhost");
    assert_eq!(requests[0]["userid"], "alice");
    assert_eq!(requests[0]["port"], port);
    assert_eq!(requests[1]["host"], Value::Null);
    assert_eq!(requests[1]["ip"], "127.0.0.1");
    // socat and sockbox socat asked the same.
    assert_eq!(requests[2], requests[3]);
    assert_eq!(requests[2]["userid"], "carol");
    assert_eq!(requests[2]["host"], "localhost");
}

#[test]
fn proxy_failures_are_one_line() {
    let garbage = PyPeer::start(&["garbage"]);
    let g = garbage.port;
    let out = run_fail(&["connect", &format!("socks5:127.0.0.1:{g}/127.0.0.1:80")]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("not SOCKS"), "{}", out.stderr);
    let out = run_fail(&[
        "connect",
        &format!("http-connect:127.0.0.1:{g}/127.0.0.1:80"),
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("not HTTP"), "{}", out.stderr);

    // The proxy cannot reach the target.
    let (_proxy, pport) = microsocks(None);
    let closed = free_port();
    let out = run_fail(&[
        "connect",
        &format!("socks5:127.0.0.1:{pport}/127.0.0.1:{closed}"),
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("connection refused"), "{}", out.stderr);

    // A proxy that says nothing: bounded by timeout=.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = silent.local_addr().unwrap().port();
    let out = run_fail(&[
        "connect",
        &format!("socks5:127.0.0.1:{s}/127.0.0.1:80,timeout=300ms"),
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no answer"), "{}", out.stderr);

    // Known before anything opens: exit 2.
    let out = run_fail(&["listen", "socks5:127.0.0.1:1080/h:80"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot listen"), "{}", out.stderr);
    let out = run_fail(&["connect", "socks5:127.0.0.1:1080"]);
    assert_eq!(out.code, 2);
    let out = run_fail(&["connect", "socks4:127.0.0.1/[::1]:80"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("IPv4 only"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// Multicast and broadcast, in namespaces of their own.
// ---------------------------------------------------------------------------------------------

/// A namespace whose loopback carries IPv4 multicast (lo has no MULTICAST flag by default).
fn multicast_ns(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    must(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "multicast", "on"]));
    must(Command::new("ip").args(["-n", &ns.name, "route", "add", "239.0.0.0/8", "dev", "lo"]));
    ns
}

/// `sockbox recv ADDR --count 1` inside `ns`, started and receiving.
fn receiver(ns: &Netns, addr: &str) -> Proc {
    let args = ["recv", addr, "--count", "1", "--timeout", "20s"];
    let p = Proc::spawn(&format!("recv {addr}"), ns.cmd(sockbox_bin(), &args));
    p.wait_stderr("receiving on");
    p
}

fn received(mut p: Proc) -> String {
    let out = p.wait_stdout_eof(WAIT);
    assert_eq!(p.wait_code(WAIT), 0, "{}", p.stderr());
    String::from_utf8_lossy(&out).trim_end().to_owned()
}

#[test]
fn two_receivers_joined_to_an_ipv4_group_both_get_what_is_sent_to_it() {
    let ns = multicast_ns("mc4");
    let a = receiver(&ns, "udp:0.0.0.0:5000,join=239.1.2.3");
    let b = receiver(&ns, "udp4:5000,join=239.1.2.3%lo");
    let send = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                s.sendto(b'to the group', ('239.1.2.3', 5000))";
    let out = ns.run(python(), &["-c", send]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(received(a), "to the group");
    assert_eq!(received(b), "to the group");

    // sockbox as the sender, on the interface it names.
    let c = receiver(&ns, "udp:5000,join=239.1.2.3");
    let out = ns.sockbox(&[
        "send",
        "udp:239.1.2.3:5000,multicast-ttl=1,multicast-if=lo,multicast-loop=1",
        "from sockbox",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(received(c), "from sockbox");
}

#[test]
fn two_receivers_joined_to_an_ipv6_group_both_get_what_is_sent_to_it() {
    // IPv6 multicast does not loop on lo: a veth pair carries it, inside the namespace.
    let ns = Netns::new("mc6");
    ns.sysctl("net.ipv6.conf.all.accept_dad=0");
    ns.sysctl("net.ipv6.conf.default.accept_dad=0");
    let ip = |args: &[&str]| {
        let mut all = vec!["-n", ns.name.as_str()];
        all.extend_from_slice(args);
        must(Command::new("ip").args(&all));
    };
    ip(&["link", "add", "m0", "type", "veth", "peer", "name", "m1"]);
    ip(&["link", "set", "m0", "up"]);
    ip(&["link", "set", "m1", "up"]);
    let a = receiver(&ns, "udp6:5001,join=ff12::1234%m0");
    let b = receiver(&ns, "udp6:[::]:5001,join=[ff12::1234]:m0");
    let out = ns.sockbox(&["send", "udp6:[ff12::1234]:5001,multicast-if=m0", "v6 group"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(received(a), "v6 group");
    assert_eq!(received(b), "v6 group");
}

#[test]
fn broadcast_needs_the_option_as_the_kernel_says() {
    let ns = Netns::new("bc");
    let out = ns.sockbox(&["send", "udp:127.255.255.255:5002", "x"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("broadcast option"), "{}", out.stderr);

    let r = receiver(&ns, "udp:0.0.0.0:5002");
    let out = ns.sockbox(&["send", "udp:127.255.255.255:5002,broadcast", "to everyone"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(received(r), "to everyone");

    // nc -u -b, the real one and ours, each send one datagram.
    require_tool("nc");
    for nc in [vec!["nc"], vec![sockbox_bin(), "nc"]] {
        let r = receiver(&ns, "udp:0.0.0.0:5002");
        let mut args: Vec<&str> = nc[1..].to_vec();
        args.extend(["-u", "-b", "-q", "0", "127.255.255.255", "5002"]);
        let mut p = Proc::spawn(&format!("{nc:?} -u -b"), ns.cmd(nc[0], &args));
        p.write(b"nc broadcast\n");
        p.close_stdin();
        assert_eq!(received(r), "nc broadcast");
        let _ = p.wait_exit(WAIT);
    }

    let out = run_fail(&["recv", "udp:5000,join=10.1.2.3"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("multicast group"), "{}", out.stderr);
}
