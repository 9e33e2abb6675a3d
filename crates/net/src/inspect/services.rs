//! Port numbers as service names, from `/etc/services` (`sockbox ls` without `-n`).

use std::collections::HashMap;

use super::Kind;

/// The service names of `/etc/services`, by protocol and port.
#[derive(Clone, Debug, Default)]
pub struct Services {
    tcp: HashMap<u16, String>,
    udp: HashMap<u16, String>,
}

impl Services {
    /// Read `/etc/services`; an unreadable file gives no names (ports stay numbers).
    pub fn load() -> Services {
        std::fs::read("/etc/services")
            .map(|b| Services::parse(&String::from_utf8_lossy(&b)))
            .unwrap_or_default()
    }

    /// Parse `name port/proto [aliases] [# comment]` lines; the first name for a port wins.
    pub fn parse(text: &str) -> Services {
        let mut s = Services::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            let table = match proto {
                "tcp" => &mut s.tcp,
                "udp" => &mut s.udp,
                _ => continue,
            };
            table.entry(port).or_insert_with(|| name.to_string());
        }
        s
    }

    /// The name of `port` for `kind` (TCP and UDP only).
    pub fn name(&self, kind: Kind, port: u16) -> Option<&str> {
        match kind {
            Kind::Tcp => self.tcp.get(&port),
            Kind::Udp => self.udp.get(&port),
            _ => None,
        }
        .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_names_ports_and_protocols() {
        let s = Services::parse(
            "# comment\nssh\t\t22/tcp\t\t\t# SSH\nhttp 80/tcp www\ndomain 53/udp\ndomain 53/tcp\nbad x/tcp\nalt 22/tcp\n",
        );
        assert_eq!(s.name(Kind::Tcp, 22), Some("ssh"));
        assert_eq!(s.name(Kind::Tcp, 80), Some("http"));
        assert_eq!(s.name(Kind::Udp, 53), Some("domain"));
        assert_eq!(s.name(Kind::Udp, 80), None);
        assert_eq!(s.name(Kind::Unix, 22), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_text_parses(text in "\\PC{0,200}") {
            let _ = Services::parse(&text);
        }

        #[test]
        fn a_line_round_trips(name in "[a-z][a-z0-9-]{0,12}", port in any::<u16>()) {
            let s = Services::parse(&format!("{name} {port}/udp\n"));
            prop_assert_eq!(s.name(Kind::Udp, port), Some(name.as_str()));
        }
    }
}
