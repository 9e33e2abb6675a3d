//! `sockbox help TOPIC`: every command a topic shows is run, as written, so no topic drifts
//! from the tool. Each topic runs in a temporary directory inside a network namespace of its
//! own (the topics use fixed loopback ports), with this build of sockbox first in PATH.

use std::path::Path;
use std::time::Duration;

use crate::util::*;

const TOPICS: [&str; 8] = [
    "sockets",
    "unix",
    "tcp",
    "udp",
    "seqpacket",
    "pipes",
    "ports",
    "fd-passing",
];

/// The `  $ ` lines of a topic.
fn commands(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("  $ "))
        .map(String::from)
        .collect()
}

fn run_topic(topic: &str) -> Vec<String> {
    let help = run_sockbox(&["help", topic], b"");
    assert_eq!(help.code, 0, "help {topic}: {}", help.stderr);
    let text = String::from_utf8(help.stdout).unwrap();
    let cmds = commands(&text);
    assert!(cmds.len() >= 2, "{topic} shows {} commands", cmds.len());
    let ns = Netns::new(&format!("h{}", &topic[..3]));
    let dir = tempdir();
    let bin_dir = Path::new(sockbox_bin())
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let mut failures = Vec::new();
    for cmd in cmds {
        // Separate lines: `a && b & c` would put the cd and PATH in the background job only.
        // -e and pipefail: any command in the foreground that fails fails the line.
        let script = format!(
            "set -eo pipefail\ncd {} || exit 1\nexport PATH={bin_dir}:$PATH\n{cmd}",
            dir.path().display()
        );
        // A line that fails is tried once more: the servers in the background are given a
        // second (sleep 1) to start, which a loaded machine may exceed; a drifted command
        // fails both times.
        let mut last = None;
        for _ in 0..2 {
            let mut p = Proc::spawn(
                &format!("[{topic}] {cmd}"),
                ns.cmd("timeout", &["30", "bash", "-c", &script]),
            );
            p.close_stdin();
            let code = p.wait_code(Duration::from_secs(45));
            let stderr = p.stderr();
            let drifted = stderr.contains("error:") || stderr.contains("Usage:");
            if code == 0 && !drifted {
                last = None;
                break;
            }
            last = Some(format!(
                "[{topic}] `{cmd}` exited {code}\nstdout: {}\nstderr: {stderr}",
                String::from_utf8_lossy(&p.stdout())
            ));
        }
        failures.extend(last);
    }
    failures
}

#[test]
fn every_command_in_every_topic_runs() {
    let failures: Vec<String> = TOPICS.iter().flat_map(|t| run_topic(t)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn topics_are_man_pages_too_and_unknown_ones_are_usage_errors() {
    for topic in TOPICS {
        let help = String::from_utf8(run_sockbox(&["help", topic], b"").stdout).unwrap();
        let page = run_sockbox(&["man", topic], b"");
        assert_eq!(page.code, 0, "{}", page.stderr);
        let page = String::from_utf8(page.stdout).unwrap();
        assert!(
            page.starts_with(&format!(".TH SOCKBOX-{} 7", topic.to_uppercase())),
            "{page}"
        );
        let unescaped = page.replace("\\-", "-").replace("\\e", "\\");
        for cmd in commands(&help) {
            assert!(unescaped.contains(&cmd), "man {topic} lacks {cmd}");
        }
    }
    let bad = run_sockbox(&["help", "sockts"], b"");
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("a topic (sockets, unix, tcp"),
        "{}",
        bad.stderr
    );
}
