//! Which ports to scan: the `-p` grammar (`22,80,8000-8100`, `-` for all) and the default
//! list of the most common ports.
//!
//! The grammar is pure: a string in, a sorted, deduplicated list of ports out, or an error
//! that names the bad item. The default list is read from the files that say which ports are
//! common: nmap's frequency table when it is installed, else `/etc/services`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::services;
use super::Protocol;

/// Why a `-p` value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad port list {input:?}: {problem} (expected e.g. 22,80,8000-8100, or - for all)")]
pub struct PortSpecError {
    pub input: String,
    pub problem: String,
}

/// Parse a port list: comma-separated `PORT`, `FIRST-LAST`, `FIRST-` (to 65535), `-LAST`
/// (from 1) or `-` (all of 1-65535). Returns the ports in ascending order, each once.
/// Port 0 is refused: no service can be reached on it.
pub fn parse_port_spec(input: &str) -> Result<Vec<u16>, PortSpecError> {
    let fail = |problem: String| PortSpecError {
        input: input.to_string(),
        problem,
    };
    if input.trim().is_empty() {
        return Err(fail("it is empty".into()));
    }
    // One bit per port: a list covering all 65535 ports costs 8 KiB, never 65535 entries
    // before deduplication.
    let mut wanted = vec![0u64; 1024];
    for item in input.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(fail("an empty item between commas".into()));
        }
        let (first, last) = match item.split_once('-') {
            None => {
                let p = port_number(item).map_err(&fail)?;
                (p, p)
            }
            Some((a, b)) => {
                let first = if a.trim().is_empty() {
                    1
                } else {
                    port_number(a.trim()).map_err(&fail)?
                };
                let last = if b.trim().is_empty() {
                    u16::MAX
                } else {
                    port_number(b.trim()).map_err(&fail)?
                };
                if first > last {
                    return Err(fail(format!("the range {item} runs backwards")));
                }
                (first, last)
            }
        };
        for p in first..=last {
            wanted[usize::from(p) / 64] |= 1 << (p % 64);
        }
    }
    Ok((1..=u16::MAX)
        .filter(|&p| wanted[usize::from(p) / 64] & (1 << (p % 64)) != 0)
        .collect())
}

fn port_number(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("port 0 cannot be scanned (nothing can listen on it)".into()),
        Ok(n) if n <= u32::from(u16::MAX) => Ok(n as u16),
        Ok(n) => Err(format!("{n} is above 65535")),
        Err(_) => Err(format!("{s:?} is not a port number")),
    }
}

/// Where the default port list came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSource {
    /// nmap's table of how often each port was found open (`nmap-services`, package
    /// nmap-common): the same "top ports" nmap scans by default.
    NmapFrequency(PathBuf),
    /// The ports `/etc/services` names for the protocol, in file order (`named` of them),
    /// then the lowest other ports up to the count.
    EtcServices { path: PathBuf, named: usize },
    /// Neither file was readable: the lowest ports.
    Lowest,
}

impl fmt::Display for PortSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSource::NmapFrequency(p) => {
                write!(f, "the most frequently open ports in {}", p.display())
            }
            PortSource::EtcServices { path, named } => write!(
                f,
                "the {named} ports {} names, then the lowest others",
                path.display()
            ),
            PortSource::Lowest => f.write_str("the lowest port numbers"),
        }
    }
}

/// nmap's port frequency table, where Debian's nmap-common installs it.
pub const NMAP_SERVICES: &str = "/usr/share/nmap/nmap-services";

/// The `count` most common ports for `proto`, ascending, and where the list came from:
/// nmap's frequency table if installed, else `/etc/services` order, else the lowest ports.
pub fn default_ports(proto: Protocol, count: usize) -> (Vec<u16>, PortSource) {
    default_ports_from(
        Path::new(NMAP_SERVICES),
        Path::new(services::ETC_SERVICES),
        proto,
        count,
    )
}

pub(crate) fn default_ports_from(
    nmap: &Path,
    etc: &Path,
    proto: Protocol,
    count: usize,
) -> (Vec<u16>, PortSource) {
    let count = count.min(usize::from(u16::MAX));
    if let Ok(text) = std::fs::read_to_string(nmap) {
        let top = services::top_ports(&services::parse_nmap_services(&text), proto, count);
        if top.len() == count {
            return (sorted(top), PortSource::NmapFrequency(nmap.to_path_buf()));
        }
    }
    let (mut ports, source) = match std::fs::read_to_string(etc) {
        Ok(text) => {
            let mut named: Vec<u16> = Vec::new();
            for s in services::parse_services(&text) {
                if s.protocol == proto && !named.contains(&s.port) {
                    named.push(s.port);
                }
            }
            named.truncate(count);
            let n = named.len();
            (
                named,
                PortSource::EtcServices {
                    path: etc.to_path_buf(),
                    named: n,
                },
            )
        }
        Err(_) => (Vec::new(), PortSource::Lowest),
    };
    let mut next = 1u16;
    while ports.len() < count {
        if !ports.contains(&next) {
            ports.push(next);
        }
        next += 1;
    }
    (sorted(ports), source)
}

fn sorted(mut v: Vec<u16>) -> Vec<u16> {
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lists_ranges_and_open_ends() {
        assert_eq!(parse_port_spec("80").unwrap(), vec![80]);
        assert_eq!(
            parse_port_spec("80,22, 8000-8002").unwrap(),
            vec![22, 80, 8000, 8001, 8002]
        );
        assert_eq!(
            parse_port_spec("65533-").unwrap(),
            vec![65533, 65534, 65535]
        );
        assert_eq!(parse_port_spec("-3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_port_spec("-").unwrap().len(), 65535);
        assert_eq!(parse_port_spec("5,5,4-6").unwrap(), vec![4, 5, 6]);
    }

    #[test]
    fn bad_lists_say_what_is_wrong() {
        let e = |s: &str| parse_port_spec(s).unwrap_err().problem;
        assert!(e("0").contains("port 0"));
        assert!(e("70000").contains("above 65535"));
        assert!(e("http").contains("not a port number"));
        assert!(e("90-80").contains("backwards"));
        assert!(e("22,,80").contains("empty item"));
        assert!(e("").contains("empty"));
        assert!(parse_port_spec("1-2-3").is_err());
    }

    #[test]
    fn defaults_prefer_nmap_frequencies_then_etc_services() {
        let dir = tempfile::tempdir().unwrap();
        let nmap = dir.path().join("nmap-services");
        let etc = dir.path().join("services");
        std::fs::write(
            &nmap,
            "a\t7/tcp\t0.1\nb\t9/tcp\t0.9\nc\t9/udp\t0.95\nd\t3/tcp\t0.5\n",
        )
        .unwrap();
        std::fs::write(&etc, "x 10/tcp\ny 5/udp\nz 2/tcp\n").unwrap();
        let (p, s) = default_ports_from(&nmap, &etc, Protocol::Tcp, 2);
        assert_eq!(p, vec![3, 9]);
        assert_eq!(s, PortSource::NmapFrequency(nmap.clone()));
        // Too few entries in nmap's table for the count: /etc/services, then low ports.
        let (p, s) = default_ports_from(&nmap, &etc, Protocol::Tcp, 5);
        assert_eq!(p, vec![1, 2, 3, 4, 10]);
        assert_eq!(
            s,
            PortSource::EtcServices {
                path: etc.clone(),
                named: 2
            }
        );
        let missing = dir.path().join("missing");
        let (p, s) = default_ports_from(&missing, &missing, Protocol::Udp, 3);
        assert_eq!((p, s), (vec![1, 2, 3], PortSource::Lowest));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn never_panics(s in "[-0-9, a-z]{0,40}") {
            let _ = parse_port_spec(&s);
        }

        #[test]
        fn a_written_list_parses_back_to_its_ports(
            ranges in proptest::collection::vec((1u16..=65535, 0u16..50), 1..8)
        ) {
            let mut expected = Vec::new();
            let mut items = Vec::new();
            for (first, len) in ranges {
                let last = first.saturating_add(len);
                expected.extend(first..=last);
                items.push(if len == 0 { first.to_string() } else { format!("{first}-{last}") });
            }
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(parse_port_spec(&items.join(",")).unwrap(), expected);
        }
    }
}
