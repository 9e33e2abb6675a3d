//! `sockbox doctor` in network namespaces the tests create, with the sysctls it reads set
//! both ways: IPv6 on and off, ICMP datagram sockets allowed and not, a small ephemeral port
//! range, a listener whose backlog somaxconn cuts.

use serde_json::Value;

use crate::util::*;

fn doctor_json(ns: &Netns) -> Value {
    let out = ns.sockbox(&["doctor", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {doc}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ipv6_on_and_off_and_strict_exits_1_only_when_a_check_warns() {
    let on = Netns::new("d6on");
    let off = Netns::new("d6off");
    off.sysctl("net.ipv6.conf.all.disable_ipv6=1");
    off.sysctl("net.ipv6.conf.default.disable_ipv6=1");

    let doc = doctor_json(&on);
    let v6 = check(&doc, "ipv6");
    assert_eq!(v6["status"], "ok", "{v6}");
    assert!(
        strings(&v6["facts"]["enabled_on"]).contains(&"lo".to_string()),
        "{v6}"
    );
    assert!(
        strings(&v6["facts"]["addresses"]).contains(&"::1/128 on lo".to_string()),
        "{v6}"
    );
    let ns = check(&doc, "netns");
    assert_eq!(ns["facts"]["name"], on.name.as_str(), "{ns}");
    assert_eq!(ns["facts"]["is_init"], false);

    let doc = doctor_json(&off);
    let v6 = check(&doc, "ipv6");
    assert_eq!(v6["status"], "warn", "{v6}");
    assert!(
        strings(&v6["facts"]["disabled_on"]).contains(&"lo".to_string()),
        "{v6}"
    );
    assert!(strings(&v6["facts"]["addresses"]).is_empty(), "{v6}");
    assert_eq!(v6["facts"]["net.ipv6.conf.all.disable_ipv6"], "1");

    // --strict: 1 exactly when some check warns (IPv6 off always does).
    for (ns, warns) in [(&on, None), (&off, Some(true))] {
        let doc = doctor_json(ns);
        let n = doc["warnings"].as_u64().unwrap();
        if let Some(w) = warns {
            assert_eq!(n > 0, w);
        }
        let strict = ns.sockbox(&["doctor", "--strict", "--brief"]);
        assert_eq!(strict.code, if n > 0 { 1 } else { 0 }, "{n} warnings");
        let plain = ns.sockbox(&["doctor"]);
        assert_eq!(plain.code, 0);
    }

    // The text names the finding, what it means and the command that changes it.
    let text = String::from_utf8(off.sockbox(&["doctor"]).stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with("[WARN] ipv6")).unwrap();
    assert!(
        line.contains("IPv6 is disabled on every interface (lo)"),
        "{line}"
    );
    assert!(
        text.contains("change: sysctl -w net.ipv6.conf.all.disable_ipv6=0"),
        "{text}"
    );
}

#[test]
fn ping_group_range_both_ways() {
    let ns = Netns::new("dping");
    ns.sysctl("net.ipv4.ping_group_range=1 0");
    let doc = doctor_json(&ns);
    let ping = check(&doc, "ping");
    assert_eq!(ping["facts"]["allowed"], false, "{ping}");
    assert_eq!(
        ping["facts"]["net.ipv4.ping_group_range"],
        serde_json::json!([1, 0])
    );
    // The tests run as root: a raw socket is the way out, which is worth knowing, not a warning.
    assert_eq!(ping["status"], "info", "{ping}");
    assert!(ping["fix"].as_str().unwrap().contains("ping_group_range"));

    ns.sysctl("net.ipv4.ping_group_range=0 2147483647");
    let doc = doctor_json(&ns);
    let ping = check(&doc, "ping");
    assert_eq!(ping["facts"]["allowed"], true, "{ping}");
    assert_eq!(ping["status"], "ok");
    assert!(ping["fix"].is_null());
}

#[test]
fn small_port_range_warns_and_somaxconn_cuts_a_listeners_backlog() {
    let ns = Netns::new("dport");
    let doc = doctor_json(&ns);
    let ports = check(&doc, "ports");
    assert_eq!(ports["status"], "ok", "{ports}");
    assert_eq!(ports["facts"]["time_wait"], 0);

    ns.sysctl("net.ipv4.ip_local_port_range=40000 40100");
    ns.sysctl("net.core.somaxconn=64");
    let mut listener = Proc::spawn(
        "listen in namespace",
        ns.cmd(
            sockbox_bin(),
            &[
                "listen",
                "tcp:127.0.0.1:7000,backlog=1000",
                "--keep",
                "--echo",
            ],
        ),
    );
    listener.wait_stderr("listening on");
    let doc = doctor_json(&ns);
    let ports = check(&doc, "ports");
    assert_eq!(ports["status"], "warn", "{ports}");
    assert_eq!(ports["facts"]["size"], 101);
    let somax = check(&doc, "somaxconn");
    assert_eq!(somax["facts"]["net.core.somaxconn"], 64, "{somax}");
    assert_eq!(somax["facts"]["listeners"], 1, "{somax}");
    assert_eq!(somax["facts"]["largest_backlog"], 64, "{somax}");
    assert_eq!(
        strings(&somax["facts"]["at_cap"]),
        vec!["127.0.0.1:7000".to_string()]
    );
    assert!(somax["fix"]
        .as_str()
        .unwrap()
        .contains("net.core.somaxconn"));
    listener.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(listener.wait_code(WAIT), 0);
}

#[test]
fn every_check_has_meaning_and_the_documented_fields() {
    let ns = Netns::new("dall");
    let doc = doctor_json(&ns);
    let ids: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "netns",
            "ipv6",
            "ping",
            "somaxconn",
            "ports",
            "fds",
            "unprivileged_port_start",
            "buffers",
            "pipe_max_size",
            "tcp",
            "sock_diag",
            "owners"
        ]
    );
    let json_md =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md")).unwrap();
    for c in doc["checks"].as_array().unwrap() {
        for field in ["summary", "meaning"] {
            assert!(!c[field].as_str().unwrap().is_empty(), "{c}");
        }
        assert!(["ok", "info", "warn"].contains(&c["status"].as_str().unwrap()));
        assert!(c["facts"].is_object());
        let id = c["id"].as_str().unwrap();
        assert!(
            json_md.contains(&format!("`{id}`")),
            "docs/json.md lacks check {id}"
        );
    }
    // The kernel answers at least TCP and Unix sock_diag in a fresh namespace.
    let diag = check(&doc, "sock_diag");
    let answer = strings(&diag["facts"]["answer"]);
    assert!(
        answer.contains(&"tcp".into()) && answer.contains(&"unix".into()),
        "{diag}"
    );
    let bad = ns.sockbox(&["doctor", "--jsn"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let ns = Netns::new("dcol");
    ns.sysctl("net.ipv6.conf.all.disable_ipv6=1");
    // Into a pipe: no escape sequences by default, nor with NO_COLOR.
    let plain = ns.sockbox(&["doctor", "--brief"]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\x1b'));
    let always = ns.sockbox(&["doctor", "--brief", "--color", "always"]);
    let text = String::from_utf8(always.stdout).unwrap();
    assert!(text.contains("\x1b[1;33m[WARN]\x1b[0m ipv6"), "{text:?}");
    // The flag wins over NO_COLOR; never means never.
    let mut c = ns.cmd(sockbox_bin(), &["doctor", "--brief", "--color", "always"]);
    c.env("NO_COLOR", "1");
    assert!(String::from_utf8_lossy(&c.output().unwrap().stdout).contains('\x1b'));
    let never = ns.sockbox(&["doctor", "--brief", "--color", "never"]);
    assert!(!String::from_utf8_lossy(&never.stdout).contains('\x1b'));
    let bad = ns.sockbox(&["doctor", "--color", "sometimes"]);
    assert_eq!(bad.code, 2);
}
