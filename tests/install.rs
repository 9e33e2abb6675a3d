//! Installing sockbox: the Debian package built from this tree (scripts/deb.sh) installs with
//! `dpkg -i`, its man pages and bash completion work, and `dpkg -r` leaves no file behind;
//! scripts/install.sh puts the same files under a prefix. Man pages and completions as the
//! binary prints them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary to package: target/release/sockbox when it is at least as new as the binary the
/// tests built (reusing it costs nothing), else that debug binary (deb.sh strips it). Never a
/// release build from inside the tests: with LTO it takes minutes.
fn binary_to_package() -> PathBuf {
    let debug = PathBuf::from(sockbox_bin());
    let release = repo().join("target/release/sockbox");
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (mtime(&release), mtime(&debug)) {
        (Some(r), Some(d)) if r >= d => release,
        _ => debug,
    }
}

fn sh(script: &str) -> Outcome {
    let mut p = Proc::spawn(&format!("bash -c {script}"), {
        let mut c = Command::new("bash");
        c.args(["-c", script]);
        c
    });
    p.close_stdin();
    let code = p.wait_code(Duration::from_secs(120));
    Outcome {
        code,
        stdout: p.stdout(),
        stderr: p.stderr(),
    }
}

/// Removes the package if a step failed before `dpkg -r` did.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let installed = Command::new("dpkg")
            .args(["-s", "sockbox"])
            .output()
            .is_ok_and(|o| o.status.success());
        if installed {
            let _ = Command::new("dpkg").args(["-r", "sockbox"]).output();
        }
    }
}

#[test]
fn debian_package_installs_man_pages_and_completions_and_removes_cleanly() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: installing a Debian package needs root (CI runs the tests as root)");
        return;
    }
    require_tool("dpkg-deb");
    require_tool("man");
    let already = Command::new("dpkg")
        .args(["-s", "sockbox"])
        .output()
        .is_ok_and(|o| o.status.success());
    if already || Path::new("/usr/bin/sockbox").exists() {
        eprintln!(
            "skipped: a sockbox is already installed in /usr/bin; this test would replace it"
        );
        return;
    }
    let dir = tempdir();
    let build = Command::new(repo().join("scripts/deb.sh"))
        .arg(dir.path())
        .env("SOCKBOX", binary_to_package())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "scripts/deb.sh failed: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let deb = String::from_utf8(build.stdout).unwrap().trim().to_string();
    assert!(deb.ends_with(".deb") && Path::new(&deb).is_file(), "{deb}");

    let guard = Installed;
    let install = sh(&format!("dpkg -i {deb}"));
    assert_eq!(install.code, 0, "dpkg -i: {}", install.stderr);
    let files = sh("dpkg -L sockbox");
    let files: Vec<String> = String::from_utf8(files.stdout)
        .unwrap()
        .lines()
        .filter(|l| Path::new(l).is_file())
        .map(String::from)
        .collect();
    for want in [
        "/usr/bin/sockbox",
        "/usr/share/man/man1/sockbox.1.gz",
        "/usr/share/man/man1/sockbox-relay.1.gz",
        "/usr/share/man/man7/sockbox-addresses.7.gz",
        "/usr/share/bash-completion/completions/sockbox",
        "/usr/share/zsh/vendor-completions/_sockbox",
        "/usr/share/fish/vendor_completions.d/sockbox.fish",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} not in {files:?}");
    }

    let man = sh("man -w sockbox && man -w sockbox-relay && man -w 7 sockbox-addresses");
    assert_eq!(man.code, 0, "man -w: {}", man.stderr);
    let paths = String::from_utf8(man.stdout).unwrap();
    assert!(
        paths.contains("/usr/share/man/man1/sockbox.1.gz"),
        "{paths}"
    );
    assert!(
        paths.contains("/usr/share/man/man7/sockbox-addresses.7.gz"),
        "{paths}"
    );
    let rendered = sh("MANWIDTH=80 man -P cat sockbox-relay 2>/dev/null");
    let rendered = String::from_utf8_lossy(&rendered.stdout).into_owned();
    assert!(rendered.contains("sockbox-relay"), "{rendered}");
    assert!(rendered.contains("--max-conns"), "{rendered}");

    let version = sh("/usr/bin/sockbox --version");
    assert_eq!(version.code, 0);
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("sockbox {}", env!("CARGO_PKG_VERSION"))
    );

    // bash-completion's loader finds the script by the command's name, as an interactive
    // shell does on the first TAB; without bash-completion the file is sourced directly.
    let completion = sh(r#"
        if [ -f /usr/share/bash-completion/bash_completion ]; then
            . /usr/share/bash-completion/bash_completion
            if declare -F _comp_load >/dev/null; then _comp_load sockbox; else __load_completion sockbox; fi
        else
            . /usr/share/bash-completion/completions/sockbox
        fi
        complete -p sockbox || exit 3
        fn=$(complete -p sockbox | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
        COMP_WORDS=(sockbox rel); COMP_CWORD=1; COMP_LINE='sockbox rel'; COMP_POINT=${#COMP_LINE}
        COMPREPLY=(); "$fn" sockbox rel sockbox
        echo "verb: ${COMPREPLY[*]}"
        COMP_WORDS=(sockbox relay un); COMP_CWORD=2; COMP_LINE='sockbox relay un'; COMP_POINT=${#COMP_LINE}
        COMPREPLY=(); "$fn" sockbox un relay
        echo "kind: ${COMPREPLY[*]}"
    "#);
    let text = String::from_utf8(completion.stdout).unwrap();
    assert_eq!(completion.code, 0, "{text}{}", completion.stderr);
    assert!(text.contains("-F _sockbox_addresses sockbox"), "{text}");
    assert!(text.contains("verb: relay\n"), "{text}");
    // relay's A and B both list the kinds: each word once.
    assert!(text.contains("kind: unix: unix-dgram:\n"), "{text}");

    let remove = sh("dpkg -r sockbox");
    assert_eq!(remove.code, 0, "dpkg -r: {}", remove.stderr);
    drop(guard);
    let left: Vec<&String> = files.iter().filter(|f| Path::new(f).exists()).collect();
    assert!(left.is_empty(), "left after dpkg -r: {left:?}");
    let man = sh("man -w sockbox");
    assert_ne!(
        man.code, 0,
        "man -w sockbox after removal: {:?}",
        man.stdout
    );
}

#[test]
fn install_script_puts_everything_under_the_prefix_and_uninstall_removes_it() {
    let dir = tempdir();
    let prefix = dir.path().join("prefix");
    let prefix = prefix.to_str().unwrap();
    let script = repo().join("scripts/install.sh");
    let run = |args: &[&str]| {
        let out = Command::new(&script)
            .args(args)
            .env("SOCKBOX", sockbox_bin())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "install.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let said = run(&[prefix]);
    for rel in [
        "bin/sockbox",
        "share/man/man1/sockbox.1",
        "share/man/man1/sockbox-relay.1",
        "share/man/man1/sockbox-fd-send.1",
        "share/man/man7/sockbox-addresses.7",
        "share/bash-completion/completions/sockbox",
        "share/zsh/site-functions/_sockbox",
        "share/fish/vendor_completions.d/sockbox.fish",
    ] {
        let p = Path::new(prefix).join(rel);
        assert!(
            p.is_file(),
            "{} missing; install.sh said:\n{said}",
            p.display()
        );
    }
    let v = Command::new(Path::new(prefix).join("bin/sockbox"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("sockbox "));
    // man finds the page under the prefix.
    let man = Command::new("man")
        .args(["-M", &format!("{prefix}/share/man"), "-w", "sockbox-relay"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&man.stdout).contains("man1/sockbox-relay.1"),
        "{man:?}"
    );
    run(&["--uninstall", prefix]);
    let left: Vec<_> = walk(Path::new(prefix));
    assert!(left.is_empty(), "left after --uninstall: {left:?}");
}

/// Every file under `dir` (bounded: the tree is small).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .into_iter()
            .flatten()
            .flatten()
            .take(10_000)
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

#[test]
fn man_prints_each_verb_page_and_the_address_grammar() {
    let main = run_sockbox(&["man"], b"");
    assert_eq!(main.code, 0, "{}", main.stderr);
    let text = String::from_utf8(main.stdout).unwrap();
    assert!(
        text.starts_with(".ie \\n(.g .ds Aq") || text.contains(".TH sockbox 1"),
        "{text}"
    );
    assert!(
        text.contains("sockbox\\-relay(1)") || text.contains("relay"),
        "{text}"
    );

    let relay = run_sockbox(&["man", "relay"], b"");
    let text = String::from_utf8(relay.stdout).unwrap();
    assert!(text.contains(".TH sockbox-relay 1"), "{text}");
    assert!(text.contains("\\-\\-max\\-conns"), "{text}");
    assert!(text.contains("sockbox\\-addresses\\fR(7)"), "{text}");
    // The examples keep their layout: each command line is set as written.
    assert!(text.contains(".SH EXAMPLES\n"), "{text}");
    assert!(
        text.contains(".nf\n  sockbox relay tcp:8080 unix:/run/app.sock      expose a Unix socket on TCP\n.fi\n"),
        "{text}"
    );

    let nested = run_sockbox(&["man", "fd-send"], b"");
    assert_eq!(nested.code, 0, "{}", nested.stderr);
    assert!(String::from_utf8(nested.stdout)
        .unwrap()
        .contains(".TH sockbox-fd-send 1"));

    // The grammar page carries the text of `sockbox help addresses`, line by line.
    let page = String::from_utf8(run_sockbox(&["man", "addresses"], b"").stdout).unwrap();
    assert!(page.starts_with(".TH SOCKBOX-ADDRESSES 7"), "{page}");
    let help = String::from_utf8(run_sockbox(&["help", "addresses"], b"").stdout).unwrap();
    let unescaped = page.replace("\\-", "-").replace("\\e", "\\");
    for line in help
        .lines()
        .filter(|l| l.starts_with("  ") && !l.trim().is_empty())
    {
        assert!(unescaped.contains(line), "{line:?} not in the page");
    }

    let bad = run_sockbox(&["man", "relya"], b"");
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .starts_with("sockbox: no man page 'sockbox-relya'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn completions_offer_verbs_flags_and_address_kinds_in_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run_sockbox(&["completions", shell], b"");
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        let text = String::from_utf8(out.stdout).unwrap();
        // zsh escapes the colon in a value.
        let colon = if shell == "zsh" { "\\:" } else { ":" };
        for word in [
            "relay".to_string(),
            "--max-conns".to_string(),
            format!("unix-dgram{colon}"),
            format!("seqpacket{colon}"),
        ] {
            assert!(text.contains(&word), "{shell} script lacks {word}");
        }
    }
    // fish: the address kinds are offered after verbs with an address positional.
    let fish = String::from_utf8(run_sockbox(&["completions", "fish"], b"").stdout).unwrap();
    assert!(fish
        .lines()
        .any(|l| l.contains("__fish_seen_subcommand_from relay") && l.contains("tcp:")));
    // bash, run: after `connect`, `se` completes to seqpacket:.
    let script = String::from_utf8(run_sockbox(&["completions", "bash"], b"").stdout).unwrap();
    let dir = tempdir();
    let file = dir.path().join("sockbox.bash");
    std::fs::write(&file, script).unwrap();
    let out = sh(&format!(
        ". {}; COMP_WORDS=(sockbox connect se); COMP_CWORD=2; COMP_LINE='sockbox connect se'; \
         COMP_POINT=${{#COMP_LINE}}; _sockbox_addresses sockbox se connect; \
         echo \"${{COMPREPLY[*]}}\"",
        file.display()
    ));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "seqpacket:",
        "{}",
        out.stderr
    );

    let bad = run_sockbox(&["completions", "tcsh"], b"");
    assert_eq!(bad.code, 2);
    let dir = tempdir();
    let out = run_sockbox(&["completions", "--out", dir.path().to_str().unwrap()], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir
        .path()
        .join("bash-completion/completions/sockbox")
        .is_file());
}
