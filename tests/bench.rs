//! `sockbox bench` end to end, with short durations and small sizes: these tests check
//! correctness and shape, never speed. The table ranks, `--json` has exactly the fields
//! docs/json.md documents with their types, `--svg` is a well-formed chart, `--pin both` runs
//! both placements, bad arguments are usage errors, SIGINT keeps what was measured, and
//! `--serve`/`--to` work on loopback and across two network namespaces joined by a veth pair.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::*;

/// Run `sockbox bench ARGS` to its end.
fn bench(args: &[&str]) -> Outcome {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    run_sockbox(&all, b"")
}

/// The JSON document a successful run printed.
fn bench_json(args: &[&str]) -> Value {
    let out = bench(args);
    assert_eq!(
        out.code, 0,
        "sockbox bench {args:?} failed:\n{}",
        out.stderr
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Checking JSON against the field tables of docs/json.md

/// The `| `path` | type | meaning |` rows of the docs/json.md section titled `heading`.
fn documented_fields(heading: &str) -> BTreeMap<String, String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md"))
        .expect("docs/json.md");
    let start = doc
        .find(&format!("## {heading}\n"))
        .unwrap_or_else(|| panic!("docs/json.md has no section `## {heading}`"));
    let section = &doc[start + 3..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut fields = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        fields.insert(cells[1].trim_matches('`').to_string(), cells[2].to_string());
    }
    assert!(!fields.is_empty(), "no field table under `## {heading}`");
    fields
}

/// Does `v` have the documented type (`integer`, `number`, `string`, `boolean`, `object`,
/// `array`, `array of Xs`, `X or null`)?
fn has_type(v: &Value, ty: &str) -> bool {
    if let Some(inner) = ty.strip_suffix(" or null") {
        return v.is_null() || has_type(v, inner);
    }
    if let Some(elem) = ty.strip_prefix("array of ") {
        let elem = elem.trim_end_matches('s');
        return v
            .as_array()
            .is_some_and(|a| a.iter().all(|e| has_type(e, elem)));
    }
    match ty {
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        other => panic!("docs/json.md uses a type this test does not know: {other:?}"),
    }
}

/// Every field path in `v` (arrays as `[]`), with each value found there.
fn walk<'a>(v: &'a Value, path: &str, found: &mut BTreeMap<String, Vec<&'a Value>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                found.entry(p.clone()).or_default().push(x);
                walk(x, &p, found);
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, &format!("{path}[]"), found);
            }
        }
        _ => {}
    }
}

/// `doc` has every field the section documents, with its type, in every object where it
/// belongs, and no field the section does not document.
fn assert_matches_docs(doc: &Value, heading: &str) {
    let fields = documented_fields(heading);
    let mut found = BTreeMap::new();
    walk(doc, "", &mut found);
    for path in found.keys() {
        assert!(
            fields.contains_key(path),
            "`{path}` is in the JSON but not documented under `## {heading}` in docs/json.md"
        );
    }
    for (path, ty) in &fields {
        let Some(values) = found.get(path) else {
            // Only where there is nothing to hold it: its parents are all null or empty.
            assert!(
                nothing_holds(&found, path),
                "docs/json.md documents `{path}`, which the JSON does not have"
            );
            continue;
        };
        for v in values {
            assert!(has_type(v, ty), "`{path}` should be {ty}, got {v}");
        }
    }
    // A field is in every object of its parent, not only in some.
    for path in fields.keys() {
        let Some((parent, _)) = path.rsplit_once('.') else {
            continue;
        };
        let objects: usize = found.get(parent.trim_end_matches("[]")).map_or(0, |vs| {
            vs.iter()
                .map(|v| match v {
                    Value::Array(a) => a.iter().filter(|x| x.is_object()).count(),
                    Value::Object(_) => 1,
                    _ => 0,
                })
                .sum()
        });
        assert_eq!(
            found.get(path).map_or(0, |v| v.len()),
            objects,
            "`{path}` is missing from some of the objects it belongs to"
        );
    }
}

/// Every value at the parent of `path` is null or an empty array (or the parent is itself
/// absent for that reason).
fn nothing_holds(found: &BTreeMap<String, Vec<&Value>>, path: &str) -> bool {
    let Some((parent, _)) = path.rsplit_once('.') else {
        return false;
    };
    let parent = parent.trim_end_matches("[]");
    match found.get(parent) {
        Some(values) => values
            .iter()
            .all(|v| v.is_null() || v.as_array().is_some_and(|a| a.is_empty())),
        None => nothing_holds(found, parent),
    }
}

fn transports(run: &Value) -> BTreeMap<String, &Value> {
    run["transports"]
        .as_array()
        .expect("transports")
        .iter()
        .map(|t| (t["transport"].as_str().unwrap().to_string(), t))
        .collect()
}

/// The send buffer of a new Unix socket of `ty`, less 32: the kernel's datagram limit.
fn unix_limit(ty: nix::sys::socket::SockType) -> u64 {
    use nix::sys::socket::{getsockopt, socketpair, sockopt, AddressFamily, SockFlag};
    let (a, _b) = socketpair(AddressFamily::Unix, ty, None, SockFlag::empty()).unwrap();
    getsockopt(&a, sockopt::SndBuf).unwrap() as u64 - 32
}

fn assert_percentiles_ordered(l: &Value, what: &str) {
    let f = |k: &str| l[k].as_f64().unwrap();
    assert!(
        l["samples"].as_u64().unwrap() > 0,
        "{what}: no round trips: {l}"
    );
    let chain = [
        f("min_us"),
        f("p50_us"),
        f("p90_us"),
        f("p99_us"),
        f("p999_us"),
    ];
    assert!(chain[0] > 0.0, "{what}: {l}");
    assert!(
        chain.windows(2).all(|w| w[0] <= w[1]) && f("p999_us") <= f("max_us") * 1.001,
        "{what}: percentiles out of order: {l}"
    );
}

// ---------------------------------------------------------------------------------------------
// Local runs

/// Every transport, two sizes (one above the UDP limit), every measurement: the document has
/// exactly the documented fields, and the figures are consistent with each other.
#[test]
fn bench_json_has_every_documented_field_for_every_transport() {
    let doc = bench_json(&["--sizes", "4k,1m", "--duration", "20ms", "--json"]);
    assert_matches_docs(&doc, "`sockbox bench --json`");
    assert_eq!(doc["sizes"], serde_json::json!([4096, 1048576]));
    assert_eq!(doc["interrupted"], false);
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["placement"], "unpinned");
    assert!(runs[0]["cpus"].is_null());
    let all = transports(&runs[0]);
    let names: Vec<&str> = runs[0]["transports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transport"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "tcp4",
            "tcp6",
            "udp4",
            "unix",
            "unix-dgram",
            "seqpacket",
            "socketpair",
            "pipe",
            "fifo"
        ]
    );
    let dgram_limit = unix_limit(nix::sys::socket::SockType::Datagram);
    let seqpacket_limit = unix_limit(nix::sys::socket::SockType::SeqPacket);
    for (name, t) in &all {
        assert_eq!(t["errors"], serde_json::json!([]), "{name}");
        let (max, sizes): (Option<u64>, [(u64, bool); 2]) = match name.as_str() {
            "udp4" => (Some(65507), [(4096, false), (65507, true)]),
            "unix-dgram" => (Some(dgram_limit), [(4096, false), (dgram_limit, true)]),
            "seqpacket" => (
                Some(seqpacket_limit),
                [(4096, false), (seqpacket_limit, true)],
            ),
            _ => (None, [(4096, false), (1 << 20, false)]),
        };
        assert_eq!(t["max_message"].as_u64(), max, "{name} max_message");
        let tp = t["throughput"].as_array().unwrap();
        let got: Vec<(u64, bool)> = tp
            .iter()
            .map(|x| (x["size"].as_u64().unwrap(), x["limited"].as_bool().unwrap()))
            .collect();
        assert_eq!(got, sizes, "{name}: sizes measured");
        let boundaries = max.is_some();
        for x in tp {
            let (bytes, messages, size) = (
                x["bytes"].as_u64().unwrap(),
                x["messages"].as_u64().unwrap(),
                x["size"].as_u64().unwrap(),
            );
            assert!(
                bytes > 0 && x["seconds"].as_f64().unwrap() > 0.0,
                "{name}: {x}"
            );
            if boundaries {
                assert_eq!(bytes, messages * size, "{name}: whole messages: {x}");
            } else {
                assert_eq!(messages, bytes / size, "{name}: {x}");
            }
            assert_eq!(
                x["lost_messages"].is_null(),
                name != "udp4",
                "{name}: only UDP loses messages: {x}"
            );
        }
        assert_percentiles_ordered(&t["latency"], name);
        assert_eq!(t["latency"]["size"], 64);
        let connects = matches!(name.as_str(), "tcp4" | "tcp6" | "unix" | "seqpacket");
        assert_eq!(!t["connect"].is_null(), connects, "{name}: connect");
        if connects {
            assert!(t["connect"]["connections"].as_u64().unwrap() > 0, "{name}");
        }
    }
}

/// The table: one row per transport in each section, ranked, the best first; the placement
/// warning; the Unix-vs-TCP comparison.
#[test]
fn bench_prints_tables_that_rank_the_transports() {
    let out = bench(&[
        "unix",
        "tcp4",
        "pipe",
        "--sizes",
        "4k",
        "--duration",
        "20ms",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("5-10x"), "no placement warning:\n{text}");
    assert!(text.contains("unix vs tcp4:"), "no comparison:\n{text}");
    let section = |title: &str| -> Vec<Vec<String>> {
        let start = text
            .find(title)
            .unwrap_or_else(|| panic!("no {title:?}:\n{text}"));
        text[start..]
            .lines()
            .skip(2)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .filter(|w| w.first().is_some_and(|f| f.parse::<u32>().is_ok()))
            .collect()
    };
    let throughput = section("Throughput");
    let ranks: Vec<&str> = throughput.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ranks, ["1", "2", "3"], "\n{text}");
    let mut names: Vec<&str> = throughput.iter().map(|r| r[1].as_str()).collect();
    // The last column is the best MiB/s: ranked from the highest.
    let best: Vec<f64> = throughput
        .iter()
        .map(|r| r[r.len() - 2].parse().unwrap())
        .collect();
    assert!(
        best.windows(2).all(|w| w[0] >= w[1]),
        "not ranked: {best:?}\n{text}"
    );
    names.sort_unstable();
    assert_eq!(names, ["pipe", "tcp4", "unix"]);
    let latency = section("Round trip");
    let p50: Vec<f64> = latency.iter().map(|r| r[2].parse().unwrap()).collect();
    assert_eq!(p50.len(), 3, "\n{text}");
    assert!(
        p50.windows(2).all(|w| w[0] <= w[1]),
        "not ranked: {p50:?}\n{text}"
    );
    let connections = section("Connections");
    let names: Vec<&str> = connections.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names.len(),
        2,
        "tcp4 and unix connect, a pipe does not:\n{text}"
    );
    assert!(!names.contains(&"pipe"));
}

/// `--svg` writes a well-formed SVG document (parsed by Python's XML parser) with a line per
/// transport and every transport named.
#[test]
fn bench_svg_is_a_well_formed_chart() {
    let dir = tempdir();
    let path = dir.path().join("chart.svg");
    let path_s = path.to_str().unwrap();
    let out = bench(&[
        "unix",
        "tcp4",
        "pipe",
        "--sizes",
        "64,4k",
        "--duration",
        "20ms",
        "--svg",
        path_s,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let parsed = Command::new(python())
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E\n\
             root = E.parse(sys.argv[1]).getroot()\n\
             ns = '{http://www.w3.org/2000/svg}'\n\
             print(root.tag == ns + 'svg', root.get('width'), root.get('height'))\n\
             print(len(root.findall('.//' + ns + 'polyline')))\n\
             print('|'.join(t.text.strip() for t in root.iter(ns + 'text') if t.text))",
            path_s,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "not well-formed XML: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "True 1200 900", "an SVG document of one block");
    let polylines: usize = lines[1].parse().unwrap();
    assert!(
        polylines >= 3,
        "a throughput line per transport: {polylines}"
    );
    let texts: Vec<&str> = lines[2].split('|').collect();
    for name in ["unix", "tcp4", "pipe", "Connections per second"] {
        assert!(
            texts.iter().any(|t| t.contains(name)),
            "{name} not in {texts:?}"
        );
    }
}

/// `--pin` (both): a run on one CPU, then one on two, and a table comparing them.
#[test]
fn bench_pin_runs_both_placements() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let args = [
        "pipe",
        "--measure",
        "latency",
        "--duration",
        "20ms",
        "--pin",
        "--json",
    ];
    if cpus < 2 {
        let out = bench(&args);
        assert_eq!(out.code, 2, "cross-cpu needs two CPUs: {}", out.stderr);
        return;
    }
    let doc = bench_json(&args);
    assert_matches_docs(&doc, "`sockbox bench --json`");
    let runs = doc["runs"].as_array().unwrap();
    let placements: Vec<&str> = runs
        .iter()
        .map(|r| r["placement"].as_str().unwrap())
        .collect();
    assert_eq!(placements, ["same-cpu", "cross-cpu"]);
    let pins = |r: &Value| -> (u64, u64) {
        let c = r["cpus"].as_array().unwrap();
        (c[0].as_u64().unwrap(), c[1].as_u64().unwrap())
    };
    let (a, b) = pins(&runs[0]);
    assert_eq!(a, b, "same-cpu pins both ends to one CPU");
    let (a, b) = pins(&runs[1]);
    assert_ne!(a, b, "cross-cpu pins them to two");
    for r in runs {
        assert_percentiles_ordered(&transports(r)["pipe"]["latency"], "pipe");
    }
    assert_eq!(doc["sizes"], serde_json::json!([]));
    let out = bench(&[
        "pipe",
        "--measure",
        "latency",
        "--duration",
        "20ms",
        "--pin",
        "both",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("same-cpu vs cross-cpu") && text.contains("pinned to CPU"),
        "{text}"
    );
}

#[test]
fn bench_refuses_bad_arguments_with_usage_errors() {
    let cases: [(&[&str], &str); 7] = [
        (&["uinx"], "did you mean 'unix'?"),
        (&["--sizes", "0"], "out of range"),
        (&["--sizes", "4k,lots"], "lots"),
        (&["--duration", "1ms"], "between 10ms and 1h"),
        (&["--measure", "speed"], "unknown measurement 'speed'"),
        (&["--serve", "udp:5201"], "tcp: address"),
        (&["--to", "tcp:5201"], "which host?"),
    ];
    for (args, says) in cases {
        let out = bench(args);
        assert_eq!(out.code, 2, "sockbox bench {args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    let out = bench(&["--to", "tcp:127.0.0.1:1", "sctp"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

/// SIGINT during a run: the measurements so far are printed, marked interrupted, exit 130.
#[test]
fn bench_interrupted_prints_what_it_measured() {
    let mut p = spawn_sockbox(&[
        "-v",
        "bench",
        "tcp4",
        "pipe",
        "--measure",
        "latency",
        "--duration",
        "5s",
        "--json",
    ]);
    // The first transport is open: the signal handler is installed by then.
    p.wait_stderr("bench tcp4: connected");
    p.signal(Signal::SIGINT);
    assert_eq!(p.wait_code(WAIT), 130, "{}", p.stderr());
    let doc: Value = serde_json::from_slice(&p.stdout()).expect("a JSON document");
    assert_eq!(doc["interrupted"], true);
    let tr = transports(&doc["runs"][0]);
    assert!(tr.contains_key("tcp4") && !tr.contains_key("pipe"), "{doc}");
}

// ---------------------------------------------------------------------------------------------
// Two hosts

/// `--serve` on 127.0.0.1 and `--to` it: a table of TCP and UDP results; SIGINT stops the
/// server with exit 0.
#[test]
fn bench_to_a_server_on_loopback() {
    let mut server = spawn_sockbox(&["bench", "--serve", "tcp:127.0.0.1:0"]);
    let port = announced_port(&server);
    let to = format!("tcp:127.0.0.1:{port}");
    let out = bench(&["--to", &to, "--sizes", "4k", "--duration", "20ms"]);
    assert_eq!(out.code, 0, "{}\nserver: {}", out.stderr, server.stderr());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Throughput to the server",
        "Round trip",
        "tcp",
        "udp",
        "4 KiB",
        "p99.9",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
    server.wait_stderr("left");
    server.signal(Signal::SIGINT);
    assert_eq!(server.wait_code(WAIT), 0, "{}", server.stderr());
}

/// Two network namespaces joined by a veth pair, removed on drop (with them the veth pair).
struct NetnsPair {
    names: [String; 2],
}

/// The two namespaces' addresses: 10.x only inside namespaces this test made.
const SERVER_IP: &str = "10.201.0.1";
const CLIENT_IP: &str = "10.201.0.2";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetnsPair {
    fn new(tag: &str) -> NetnsPair {
        require_tool("ip");
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = format!("sbx-{tag}-{}-{n}", std::process::id());
        let pair = NetnsPair {
            names: [format!("{base}-s"), format!("{base}-c")],
        };
        let [s, c] = &pair.names;
        for ns in [s, c] {
            // Registered for removal before it exists: a failure below still cleans up.
            ip(&["netns", "add", ns]);
        }
        ip(&[
            "link", "add", "veth-s", "netns", s, "type", "veth", "peer", "name", "veth-c", "netns",
            c,
        ]);
        for (ns, dev, addr) in [(s, "veth-s", SERVER_IP), (c, "veth-c", CLIENT_IP)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    /// `sockbox ARGS` inside namespace `i` (0: server, 1: client).
    fn sockbox(&self, i: usize, args: &[&str]) -> Proc {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.names[i], sockbox_bin()])
            .args(args);
        Proc::spawn(
            &format!("[{}] sockbox {}", self.names[i], args.join(" ")),
            cmd,
        )
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// iperf3's job across a veth pair: the server in one namespace, the client in the other;
/// the JSON has the documented fields, UDP sizes above 65507 are measured at it, and the
/// server saw the client's address from the other namespace.
#[test]
fn bench_between_two_network_namespaces() {
    let net = NetnsPair::new("bench");
    let server_at = format!("tcp:{SERVER_IP}:5201");
    let mut server = net.sockbox(0, &["bench", "--serve", &server_at]);
    assert_eq!(announced_addr(&server), server_at, "{}", server.stderr());
    let mut client = net.sockbox(
        1,
        &[
            "bench",
            "--to",
            &server_at,
            "--sizes",
            "4k,64k",
            "--duration",
            "50ms",
            "--json",
        ],
    );
    client.close_stdin();
    assert_eq!(client.wait_code(WAIT), 0, "{}", client.stderr());
    let doc: Value = serde_json::from_slice(&client.stdout()).expect("a JSON document");
    assert_matches_docs(&doc, "`sockbox bench --to ADDR --json`");
    assert_eq!(doc["server"], server_at.as_str());
    let measured: Vec<(String, u64, bool)> = doc["throughput"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert!(t["bytes"].as_u64().unwrap() > 0, "{t}");
            (
                t["protocol"].as_str().unwrap().to_string(),
                t["size"].as_u64().unwrap(),
                t["limited"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        measured,
        [
            ("tcp".to_string(), 4096, false),
            ("tcp".to_string(), 65536, false),
            ("udp".to_string(), 4096, false),
            ("udp".to_string(), 65507, true),
        ]
    );
    let latency = doc["latency"].as_array().unwrap();
    assert_eq!(latency.len(), 2);
    for l in latency {
        assert_percentiles_ordered(l, l["protocol"].as_str().unwrap());
    }
    server.wait_stderr(&format!("benchmark client {CLIENT_IP}:"));
    server.signal(Signal::SIGINT);
    assert_eq!(server.wait_code(WAIT), 0, "{}", server.stderr());
}
