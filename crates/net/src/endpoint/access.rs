//! Who may connect to a listener: Unix clients by their credentials (`--allow-uid`,
//! `--allow-gid`, `--allow-user`), IP clients by their address (`--allow-ip`, `--deny-ip` and
//! the `-file` forms of both), TLS clients by the subject of their verified certificate
//! (`--allow-subject`, on a `tls` listener with `cafile=`).
//!
//! A stream client is judged in one place, [`Listener::accept`](super::Listener::accept),
//! right after `accept(2)` and before a byte is read or written:
//!
//! - a Unix client by the credentials the kernel recorded when it called `connect(2)`
//!   (`SO_PEERCRED`: pid, uid, primary gid; `SO_PEERGROUPS`: supplementary groups), which it
//!   cannot forge;
//! - an IP client by its source address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a
//!   dual-stack `[::]` socket sees an IPv4 client) is matched as the IPv4 address it is.
//!
//! A refused client's connection is closed at once (it reads end-of-stream, or a reset when
//! it had sent bytes nobody will read) and the refusal is logged. A datagram listener has no
//! connection to refuse: its demultiplexer (`demux.rs`) judges each new source address by the
//! same rules and drops what a refused one sends. A TLS client's certificate is known only
//! after its handshake, so `--allow-subject` is judged there (`tls.rs`), by [`SubjectRule`]. The verdict is data ([`Refusal`]); the line
//! a person reads is made where it is logged.

use std::fmt;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::IpNet;

use super::{Conn, Cred, Peer, Reader, Source};
use crate::addr::{Address, Endpoint, UnixType};
use crate::error::{io_err, Error, Result};

/// The clients let in. Unix rules (`uids`, `gids`) and IP rules (`allow_ip`, `deny_ip`) apply
/// to listeners of their own family; a listener refuses rules it cannot check
/// ([`AllowPeers::check_address`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowPeers {
    /// A Unix client running as one of these uids is let in ...
    pub uids: Vec<u32>,
    /// ... and so is one whose primary or any supplementary group is one of these.
    pub gids: Vec<u32>,
    /// When not empty, an IP client must be in one of these ranges to be let in.
    pub allow_ip: Vec<IpNet>,
    /// An IP client in one of these ranges is refused, whatever `allow_ip` says.
    pub deny_ip: Vec<IpNet>,
    /// When not empty, a TLS client's verified certificate must match one of these.
    pub subjects: Vec<SubjectRule>,
}

/// One `--allow-subject`: attribute values a certificate's subject must all hold, e.g.
/// `CN=alice` or `O=Example,OU=ops`; a value without `=` is a common name (`alice`).
/// Attributes are matched one by one rather than the subject as a string, so the order and
/// spacing different tools print a distinguished name with do not matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectRule(Vec<(&'static str, String)>);

/// The subject attributes `--allow-subject` names, as openssl prints their short names.
pub const SUBJECT_ATTRIBUTES: [&str; 7] = ["CN", "O", "OU", "C", "ST", "L", "emailAddress"];

impl SubjectRule {
    /// `CN=alice`, `O=Example,OU=ops`, `alice` (a common name). A `,` inside a value is
    /// written `\,`.
    pub fn parse(s: &str) -> std::result::Result<SubjectRule, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("an empty subject".into());
        }
        if !s.contains('=') {
            return Ok(SubjectRule(vec![("CN", s.to_owned())]));
        }
        let mut pairs = Vec::new();
        for part in split_unescaped(s) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!("'{part}' in '{s}' is not ATTRIBUTE=VALUE (CN=alice,O=Example)")
            })?;
            let key = key.trim();
            let name = SUBJECT_ATTRIBUTES
                .iter()
                .find(|a| a.eq_ignore_ascii_case(key))
                .ok_or_else(|| {
                    format!(
                        "unknown subject attribute '{key}' in '{s}' (known: {})",
                        SUBJECT_ATTRIBUTES.join(", ")
                    )
                })?;
            let value = value.trim();
            if value.is_empty() {
                return Err(format!("{name}= has no value in '{s}'"));
            }
            pairs.push((*name, value.to_owned()));
        }
        Ok(SubjectRule(pairs))
    }

    /// True when every attribute of the rule is among the subject's `(name, value)` pairs
    /// (names as in `SUBJECT_ATTRIBUTES`; values compared exactly).
    pub fn matches(&self, subject: &[(&str, String)]) -> bool {
        self.0
            .iter()
            .all(|(k, v)| subject.iter().any(|(sk, sv)| sk == k && sv == v))
    }
}

impl fmt::Display for SubjectRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            write!(f, "{sep}{k}={}", v.replace(',', "\\,"))?;
        }
        Ok(())
    }
}

/// `s` split at each `,` not preceded by `\`, with `\,` read as `,`.
fn split_unescaped(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                part.push(',');
            }
            ',' => parts.push(std::mem::take(&mut part)),
            c => part.push(c),
        }
    }
    parts.push(part);
    parts
}

/// Why a client was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal<'a> {
    /// A Unix client the kernel gave no credentials for.
    NoCredentials,
    /// A client the rules cannot judge (a peer of another family than the rules'): refused,
    /// so that access control fails closed.
    Unchecked,
    /// A Unix client whose uid and groups are none of those allowed.
    NotAllowedUser { uids: &'a [u32], gids: &'a [u32] },
    /// An IP client in this denied range.
    Denied(IpNet),
    /// An IP client in none of these allowed ranges.
    NotAllowedIp(&'a [IpNet]),
}

/// What a listener can learn about its clients, which decides the rules it can apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Knows {
    /// Unix stream and seqpacket: the kernel's credentials of the connecting process.
    Credentials,
    /// TCP and UDP: the source address.
    Address,
    /// Nothing checkable: a Unix datagram socket (`unix` true), a FIFO, stdio, a program.
    Nothing { unix: bool },
}

impl Knows {
    /// What a listener on `addr` will know.
    pub(crate) fn of(addr: &Address) -> Knows {
        match addr.endpoint {
            Endpoint::Unix(UnixType::Stream | UnixType::Seqpacket, _) => Knows::Credentials,
            Endpoint::Unix(UnixType::Dgram, _) => Knows::Nothing { unix: true },
            Endpoint::Tcp(_) | Endpoint::Udp(_) => Knows::Address,
            _ => Knows::Nothing { unix: false },
        }
    }
}

/// True when a listener on `addr` verifies its clients' certificates: TLS with `cafile=`
/// (and not `verify=0`).
pub(crate) fn verifies_clients(addr: &Address) -> bool {
    let o = &addr.options;
    o.tls && o.cafile.is_some() && !o.no_verify
}

impl AllowPeers {
    /// True when nothing is restricted.
    pub fn is_empty(&self) -> bool {
        !self.by_credentials() && !self.by_address() && !self.by_subject()
    }

    /// True when TLS clients are restricted by their certificate (`--allow-subject`).
    pub fn by_subject(&self) -> bool {
        !self.subjects.is_empty()
    }

    /// True when Unix clients are restricted (`--allow-uid/--allow-gid/--allow-user`).
    pub fn by_credentials(&self) -> bool {
        !self.uids.is_empty() || !self.gids.is_empty()
    }

    /// True when IP clients are restricted (`--allow-ip`, `--deny-ip`).
    pub fn by_address(&self) -> bool {
        !self.allow_ip.is_empty() || !self.deny_ip.is_empty()
    }

    /// Whether a listener on `addr` can apply these rules, so that a rule that could never be
    /// checked is a usage error before anything is bound.
    pub fn check_address(&self, addr: &Address) -> Result<()> {
        self.check_listener(&addr.to_string(), Knows::of(addr))?;
        self.check_subjects(&addr.to_string(), verifies_clients(addr))
    }

    /// `--allow-subject` needs a listener that verifies client certificates.
    pub(crate) fn check_subjects(&self, what: &str, verifies: bool) -> Result<()> {
        if self.by_subject() && !verifies {
            return Err(Error::Usage(format!(
                "{what}: --allow-subject needs a tls listener with cafile= (only a client \
                 certificate verified against it says who the client is), e.g. \
                 tcp:8443,tls,cert=srv.pem,key=srv.key,cafile=clients.pem"
            )));
        }
        Ok(())
    }

    /// The same check for a listener `what` that knows `knows` of its clients.
    pub(crate) fn check_listener(&self, what: &str, knows: Knows) -> Result<()> {
        if self.by_credentials() && knows != Knows::Credentials {
            return Err(Error::Usage(format!(
                "{what}: --allow-uid/--allow-gid/--allow-user need a unix: or seqpacket: \
                 listener (only a Unix connection says who is at the other end)"
            )));
        }
        if self.by_address() && knows != Knows::Address {
            let instead = match knows {
                Knows::Credentials | Knows::Nothing { unix: true } => {
                    "; a Unix client has no IP address: on unix: and seqpacket: listeners use \
                     --allow-uid/--allow-user/--allow-gid"
                }
                _ => "",
            };
            return Err(Error::Usage(format!(
                "{what}: --allow-ip/--deny-ip (and their -file forms) need a tcp: or udp: \
                 listener{instead}"
            )));
        }
        Ok(())
    }

    /// Decide on an IP client: refused when in a denied range, else let in when no range is
    /// allowed or one of them holds it.
    pub fn check_ip(&self, ip: IpAddr) -> std::result::Result<(), Refusal<'_>> {
        let ip = ip.to_canonical();
        if let Some(net) = self.deny_ip.iter().find(|n| n.contains(&ip)) {
            return Err(Refusal::Denied(*net));
        }
        if self.allow_ip.is_empty() || self.allow_ip.iter().any(|n| n.contains(&ip)) {
            Ok(())
        } else {
            Err(Refusal::NotAllowedIp(&self.allow_ip))
        }
    }

    /// Decide on a Unix client from its credentials, asking the connected socket `fd` for its
    /// supplementary groups (`SO_PEERGROUPS`) when a group is allowed.
    pub(crate) fn check_cred(
        &self,
        fd: impl AsFd,
        cred: Option<&Cred>,
    ) -> std::result::Result<(), Refusal<'_>> {
        let Some(cred) = cred else {
            return Err(Refusal::NoCredentials);
        };
        if self.uids.contains(&cred.uid) || self.gids.contains(&cred.gid) {
            return Ok(());
        }
        if !self.gids.is_empty() {
            if let Ok(groups) = sockbox_sys::peer_groups(fd) {
                if groups.iter().any(|g| self.gids.contains(g)) {
                    return Ok(());
                }
            }
        }
        Err(Refusal::NotAllowedUser {
            uids: &self.uids,
            gids: &self.gids,
        })
    }

    /// Decide on an accepted connection by its peer. A client the rules cannot judge is
    /// refused (fail closed): an IP client under Unix rules or the other way round (which
    /// [`AllowPeers::check_listener`] rules out), or an accepted socket that does not read
    /// from its own fd.
    pub(crate) fn check_conn(&self, conn: &Conn) -> std::result::Result<(), Refusal<'_>> {
        match &conn.peer {
            Some(Peer::Inet { addr }) if !self.by_credentials() => self.check_ip(addr.ip()),
            Some(Peer::Unix { cred, .. }) if !self.by_address() => match &conn.reader {
                Some(Reader {
                    src: Source::Fd(fd),
                    ..
                }) => self.check_cred(fd.get_ref(), cred.as_ref()),
                _ => Err(Refusal::Unchecked),
            },
            _ => Err(Refusal::Unchecked),
        }
    }
}

impl fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoCredentials => f.write_str("the kernel gave no credentials for it"),
            Refusal::Unchecked => f.write_str("it cannot be checked against the access rules"),
            Refusal::NotAllowedUser { uids, gids } => {
                f.write_str("not allowed (allowed:")?;
                if !uids.is_empty() {
                    write!(f, " uid {}", List(uids))?;
                }
                if !gids.is_empty() {
                    let sep = if uids.is_empty() { "" } else { "," };
                    write!(f, "{sep} gid {}", List(gids))?;
                }
                f.write_str(")")
            }
            Refusal::Denied(net) => write!(f, "in --deny-ip {net}"),
            Refusal::NotAllowedIp(nets) => write!(f, "not in --allow-ip {}", List(nets)),
        }
    }
}

/// A list for a log line: the first few items, then how many more.
struct List<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 4;
        for (i, x) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{x}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, " and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// An IP range as `--allow-ip`/`--deny-ip` take it: CIDR (`10.0.0.0/8`, `fd00::/8`) or one
/// address (a /32 or /128). An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) becomes the IPv4
/// range it maps, since clients are matched as IPv4 too.
pub fn parse_ip_range(s: &str) -> std::result::Result<IpNet, String> {
    let s = s.trim();
    let net = match s.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err(format!(
                    "'{s}' is not an IP address or CIDR range (like 10.0.0.0/8, 192.0.2.7, \
                     fd00::/8)"
                ))
            }
        },
    };
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.addr().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            if let Ok(n) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96) {
                return Ok(IpNet::V4(n));
            }
        }
    }
    Ok(net)
}

/// The ranges in the text of an `--allow-ip-file`: one range per line (as
/// [`parse_ip_range`]), `#` to the end of a line a comment, blank lines skipped. A bad line is
/// `Err((line number, why))`.
pub fn parse_ip_ranges(text: &str) -> std::result::Result<Vec<IpNet>, (usize, String)> {
    let mut nets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if !entry.is_empty() {
            nets.push(parse_ip_range(entry).map_err(|why| (i + 1, why))?);
        }
    }
    Ok(nets)
}

/// Read the ranges listed in `path`, given with `flag` (named in errors): a file that cannot
/// be read is an I/O error, a bad line a usage error naming the file and line.
pub fn read_ip_ranges(path: &Path, flag: &str) -> Result<Vec<IpNet>> {
    let what = format!("{flag} {}", path.display());
    let text = std::fs::read_to_string(path).map_err(io_err("read", &what))?;
    parse_ip_ranges(&text)
        .map_err(|(line, why)| Error::Usage(format!("{flag} {}:{line}: {why}", path.display())))
}

/// A user name (or number) to its uid, from the user database (`getpwnam(3)`).
pub fn user_id(name: &str) -> Result<u32> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(Error::Usage(format!("no such user: {name}"))),
        Err(e) => Err(Error::Usage(format!("looking up user {name}: {e}"))),
    }
}

/// A group name (or number) to its gid (`getgrnam(3)`).
pub fn group_id(name: &str) -> Result<u32> {
    if let Ok(n) = name.parse() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(Error::Usage(format!("no such group: {name}"))),
        Err(e) => Err(Error::Usage(format!("looking up group {name}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn subject_rules_match_attribute_by_attribute() {
        let alice = subject(&[("C", "FR"), ("O", "Example, Inc"), ("CN", "alice")]);
        let rule = |s: &str| SubjectRule::parse(s).unwrap();
        assert!(rule("alice").matches(&alice));
        assert!(rule("CN=alice").matches(&alice));
        assert!(
            rule("cn=alice").matches(&alice),
            "attribute names in any case"
        );
        assert!(rule(r"O=Example\, Inc,CN=alice").matches(&alice));
        assert!(rule(" CN = alice , C=FR").matches(&alice));
        assert!(
            !rule("CN=alic").matches(&alice),
            "values whole, not prefixes"
        );
        assert!(
            !rule("CN=alice,OU=ops").matches(&alice),
            "every attribute must hold"
        );
        assert!(!rule("bob").matches(&alice));
        assert_eq!(
            rule(r"O=Example\, Inc,cn=alice").to_string(),
            r"O=Example\, Inc,CN=alice"
        );
        for bad in ["", "CN=", "XX=1", "CN=a,oops"] {
            let e = SubjectRule::parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(SubjectRule::parse("XX=1")
            .unwrap_err()
            .contains("known: CN, O"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any input parses or is refused with a reason, never a panic; what parses prints
        /// back as a rule that parses to itself.
        #[test]
        fn subject_rules_round_trip(s in "[A-Za-z=, \\\\.@-]{0,40}") {
            if let Ok(r) = SubjectRule::parse(&s) {
                proptest::prop_assert_eq!(SubjectRule::parse(&r.to_string()).unwrap(), r);
            }
        }
    }

    fn cred(uid: u32, gid: u32) -> Cred {
        Cred {
            pid: 1,
            uid,
            gid,
            process: None,
        }
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| parse_ip_range(s).unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn uid_or_group_lets_a_peer_in() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let allow = AllowPeers {
            uids: vec![1000],
            gids: vec![50],
            ..AllowPeers::default()
        };
        assert!(allow.check_cred(&a, Some(&cred(1000, 1))).is_ok());
        assert!(allow.check_cred(&a, Some(&cred(7, 50))).is_ok());
        let refused = allow.check_cred(&a, Some(&cred(7, 8))).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "not allowed (allowed: uid 1000, gid 50)"
        );
        assert_eq!(
            allow.check_cred(&a, None).unwrap_err(),
            Refusal::NoCredentials
        );
    }

    #[test]
    fn deny_wins_and_an_empty_allow_list_lets_the_rest_in() {
        let allow = AllowPeers {
            allow_ip: nets(&["10.0.0.0/8", "2001:db8::/32"]),
            deny_ip: nets(&["10.1.2.3"]),
            ..AllowPeers::default()
        };
        assert!(allow.check_ip(ip("10.200.0.1")).is_ok());
        assert!(allow.check_ip(ip("2001:db8::7")).is_ok());
        let denied = allow.check_ip(ip("10.1.2.3")).unwrap_err();
        assert_eq!(denied.to_string(), "in --deny-ip 10.1.2.3/32");
        let outside = allow.check_ip(ip("192.0.2.1")).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "not in --allow-ip 10.0.0.0/8,2001:db8::/32"
        );

        let deny_only = AllowPeers {
            deny_ip: nets(&["192.0.2.0/24"]),
            ..AllowPeers::default()
        };
        assert!(deny_only.check_ip(ip("198.51.100.1")).is_ok());
        assert!(deny_only.check_ip(ip("::1")).is_ok());
        assert!(deny_only.check_ip(ip("192.0.2.200")).is_err());
    }

    #[test]
    fn ipv4_mapped_clients_and_ranges_are_ipv4() {
        let allow = AllowPeers {
            allow_ip: nets(&["127.0.0.0/8"]),
            ..AllowPeers::default()
        };
        assert!(allow.check_ip(ip("::ffff:127.0.0.1")).is_ok());
        assert!(allow.check_ip(ip("::1")).is_err());
        assert_eq!(
            parse_ip_range("::ffff:10.0.0.0/104").unwrap(),
            parse_ip_range("10.0.0.0/8").unwrap()
        );
        assert_eq!(
            parse_ip_range("[::1]").unwrap(),
            parse_ip_range("::1/128").unwrap()
        );
    }

    #[test]
    fn range_files_skip_comments_and_name_the_bad_line() {
        let text = "# office\n10.0.0.0/8   # lan\n\n  192.0.2.7\nfd00::/8\n";
        assert_eq!(
            parse_ip_ranges(text).unwrap(),
            nets(&["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"])
        );
        let (line, why) = parse_ip_ranges("10.0.0.0/8\n\n10.0.0.0/33\n").unwrap_err();
        assert_eq!(line, 3);
        assert!(why.contains("10.0.0.0/33"), "{why}");
        assert!(parse_ip_range("example.org").is_err());
    }

    #[test]
    fn rules_only_on_listeners_that_can_check_them() {
        let by_ip = AllowPeers {
            allow_ip: nets(&["127.0.0.1"]),
            ..AllowPeers::default()
        };
        let by_uid = AllowPeers {
            uids: vec![0],
            ..AllowPeers::default()
        };
        let addr = |s: &str| s.parse::<Address>().unwrap();
        assert!(by_ip.check_address(&addr("tcp:8080")).is_ok());
        assert!(by_ip.check_address(&addr("udp:8080")).is_ok());
        let e = by_ip.check_address(&addr("unix:/tmp/x.sock")).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("--allow-uid"), "{e}");
        assert!(by_uid.check_address(&addr("unix:/tmp/x.sock")).is_ok());
        assert!(by_uid.check_address(&addr("tcp:8080")).is_err());
        assert!(by_ip.check_address(&addr("fifo:/tmp/f")).is_err());
    }

    #[test]
    fn long_lists_are_cut_in_messages() {
        let allow = AllowPeers {
            allow_ip: nets(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]),
            ..AllowPeers::default()
        };
        assert_eq!(
            allow.check_ip(ip("10.0.0.9")).unwrap_err().to_string(),
            "not in --allow-ip 10.0.0.1/32,10.0.0.2/32,10.0.0.3/32,10.0.0.4/32 and 1 more"
        );
    }

    #[test]
    fn names_and_numbers_resolve() {
        assert_eq!(user_id("root").unwrap(), 0);
        assert_eq!(user_id("1234").unwrap(), 1234);
        assert_eq!(group_id("root").unwrap(), 0);
        assert!(user_id("no-such-user-sockbox").unwrap_err().is_usage());
        assert!(group_id("no-such-group-sockbox").unwrap_err().is_usage());
    }
}
