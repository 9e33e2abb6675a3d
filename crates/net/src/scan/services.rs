//! Service names for ports: `/etc/services` (services(5)) and nmap's frequency table
//! (`nmap-services`, which adds how often each port was found open).
//!
//! Both parsers are pure (text in, entries out), skip lines they do not understand, and never
//! panic: these files are edited by hand and by packages.

use std::collections::HashMap;

use super::Protocol;

/// The system's service name table.
pub const ETC_SERVICES: &str = "/etc/services";

/// One `name port/proto` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
    /// How often nmap found the port open (nmap-services only; 0 for /etc/services).
    pub frequency: f64,
}

/// `name port/proto [aliases...] [# comment]` lines, in file order.
pub fn parse_services(text: &str) -> Vec<Service> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let (port, protocol) = port_proto(words.next()?)?;
            Some(Service {
                name: name.to_string(),
                port,
                protocol,
                frequency: 0.0,
            })
        })
        .collect()
}

/// nmap-services lines: `name<TAB>port/proto<TAB>frequency[<TAB># comment]`, in file order.
pub fn parse_nmap_services(text: &str) -> Vec<Service> {
    text.lines()
        .filter_map(|line| {
            if line.starts_with('#') {
                return None;
            }
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let (port, protocol) = port_proto(fields.next()?)?;
            let frequency: f64 = fields.next()?.parse().ok()?;
            if !frequency.is_finite() {
                return None;
            }
            Some(Service {
                name: name.to_string(),
                port,
                protocol,
                frequency,
            })
        })
        .collect()
}

fn port_proto(s: &str) -> Option<(u16, Protocol)> {
    let (port, proto) = s.split_once('/')?;
    let port: u16 = port.parse().ok()?;
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => return None,
    };
    (port != 0).then_some((port, protocol))
}

/// The `count` ports of `proto` with the highest frequency (ties in file order).
pub fn top_ports(entries: &[Service], proto: Protocol, count: usize) -> Vec<u16> {
    let mut of_proto: Vec<&Service> = entries.iter().filter(|s| s.protocol == proto).collect();
    // Stable sort: equal frequencies keep file order.
    of_proto.sort_by(|a, b| b.frequency.total_cmp(&a.frequency));
    let mut ports = Vec::with_capacity(count);
    for s in of_proto {
        if ports.len() == count {
            break;
        }
        if !ports.contains(&s.port) {
            ports.push(s.port);
        }
    }
    ports
}

/// The port a services(5) table gives `name` (its first name or an alias, in any case) for
/// `proto`: the reverse of [`ServiceNames`], to tell a user which number a name stands for.
pub fn port_of(text: &str, name: &str, proto: Protocol) -> Option<u16> {
    text.lines().find_map(|line| {
        let mut words = line.split('#').next().unwrap_or("").split_whitespace();
        let first = words.next()?;
        let (port, p) = port_proto(words.next()?)?;
        let named = std::iter::once(first)
            .chain(words)
            .any(|w| w.eq_ignore_ascii_case(name));
        (p == proto && named).then_some(port)
    })
}

/// [`port_of`] in the system's table (`/etc/services`); `None` when it cannot be read.
pub fn system_port(name: &str, proto: Protocol) -> Option<u16> {
    let text = std::fs::read_to_string(ETC_SERVICES).ok()?;
    port_of(&text, name, proto)
}

/// Port -> name lookups; the first name a file gives a port wins, as getservbyport(3) does.
#[derive(Clone, Debug, Default)]
pub struct ServiceNames(HashMap<(u16, Protocol), String>);

impl ServiceNames {
    /// The system's table (`/etc/services`); empty when it cannot be read.
    pub fn system() -> Self {
        std::fs::read_to_string(ETC_SERVICES)
            .map(|t| Self::from_entries(parse_services(&t)))
            .unwrap_or_default()
    }

    pub fn from_entries(entries: impl IntoIterator<Item = Service>) -> Self {
        let mut map = HashMap::new();
        for s in entries {
            map.entry((s.port, s.protocol)).or_insert(s.name);
        }
        ServiceNames(map)
    }

    pub fn name(&self, port: u16, proto: Protocol) -> Option<&str> {
        self.0.get(&(port, proto)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ETC: &str = "# Network services\n\
        tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n\
        ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\n\
        http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n\
        domain\t\t53/udp\n\
        bogus\t\tx/tcp\n\
        ddp\t\t37/ddp\n\
        \n\
        www-alt\t\t80/tcp\n";

    #[test]
    fn etc_services_lines_in_order_and_first_name_wins() {
        let s = parse_services(ETC);
        let got: Vec<(&str, u16)> = s.iter().map(|s| (s.name.as_str(), s.port)).collect();
        assert_eq!(
            got,
            vec![
                ("tcpmux", 1),
                ("ssh", 22),
                ("http", 80),
                ("domain", 53),
                ("www-alt", 80)
            ]
        );
        let names = ServiceNames::from_entries(s);
        assert_eq!(names.name(80, Protocol::Tcp), Some("http"));
        assert_eq!(names.name(53, Protocol::Udp), Some("domain"));
        assert_eq!(names.name(53, Protocol::Tcp), None);
    }

    #[test]
    fn names_and_aliases_give_their_port() {
        assert_eq!(port_of(ETC, "http", Protocol::Tcp), Some(80));
        assert_eq!(port_of(ETC, "WWW", Protocol::Tcp), Some(80));
        assert_eq!(port_of(ETC, "domain", Protocol::Udp), Some(53));
        assert_eq!(port_of(ETC, "domain", Protocol::Tcp), None);
        assert_eq!(port_of(ETC, "bogus", Protocol::Tcp), None);
        assert_eq!(port_of(ETC, "nosuch", Protocol::Tcp), None);
    }

    #[test]
    fn nmap_table_ranks_by_frequency() {
        let text = "# comment\nhttp\t80/tcp\t0.484143\t# World Wide Web HTTP\n\
            telnet\t23/tcp\t0.221265\n\
            ssh\t22/tcp\t0.182286\t# Secure Shell Login\n\
            domain\t53/udp\t0.213496\n\
            broken\t9/tcp\tnan\n\
            odd\t8/tcp\n";
        let e = parse_nmap_services(text);
        assert_eq!(e.len(), 4);
        assert_eq!(top_ports(&e, Protocol::Tcp, 2), vec![80, 23]);
        assert_eq!(top_ports(&e, Protocol::Udp, 5), vec![53]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn parsers_never_panic(text in "[a-z0-9/#\t \n.-]{0,200}") {
            let _ = parse_services(&text);
            let _ = port_of(&text, "http", Protocol::Tcp);
            let e = parse_nmap_services(&text);
            let _ = top_ports(&e, Protocol::Tcp, 10);
        }
    }
}
