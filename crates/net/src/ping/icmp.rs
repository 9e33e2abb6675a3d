//! ICMP and ICMPv6 echo packets (RFC 792, RFC 4443): building requests and reading what
//! comes back, as pure functions on byte slices.
//!
//! What a socket hands back depends on its kind: a raw IPv4 socket gives the whole IP
//! datagram (so the TTL is in the header), the unprivileged datagram socket and every ICMPv6
//! socket give the ICMP message alone (the TTL or hop limit then comes from an
//! `IP_RECVTTL` / `IPV6_RECVHOPLIMIT` control message). [`parse`] takes both, and answers
//! an error, never a panic, for a short, truncated or foreign packet. Error messages
//! (destination unreachable, time exceeded) quote the start of the packet that caused them,
//! from which the identifier and sequence number of our request are recovered.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// Length of the ICMP echo header: type, code, checksum, identifier, sequence number.
pub const HEADER_LEN: usize = 8;
/// IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HEADER_LEN: usize = 40;

/// The largest payload one echo request can carry (a 65535-byte IP datagram).
pub fn max_payload(v6: bool) -> usize {
    if v6 {
        // The IPv6 payload length counts everything after the fixed header.
        65535 - HEADER_LEN
    } else {
        65535 - IPV4_HEADER_LEN - HEADER_LEN
    }
}

const ECHO_REPLY_V4: u8 = 0;
const UNREACHABLE_V4: u8 = 3;
const REDIRECT_V4: u8 = 5;
const ECHO_REQUEST_V4: u8 = 8;
const TIME_EXCEEDED_V4: u8 = 11;
const PARAMETER_PROBLEM_V4: u8 = 12;

const UNREACHABLE_V6: u8 = 1;
const TOO_BIG_V6: u8 = 2;
const TIME_EXCEEDED_V6: u8 = 3;
const PARAMETER_PROBLEM_V6: u8 = 4;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;

/// The byte at offset `i` of every payload sockbox sends, so a reply's payload can be
/// checked without remembering it.
pub fn payload_byte(i: usize) -> u8 {
    (i as u8).wrapping_add(0x10)
}

/// RFC 1071 Internet checksum: the ones' complement of the ones' complement sum of 16-bit
/// big-endian words (an odd last byte is padded with zero).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request with `size` payload bytes. The IPv4 checksum is filled in; the ICMPv6
/// one covers a pseudo-header with addresses only the kernel knows, and the kernel fills it
/// (RFC 3542 makes that mandatory for ICMPv6 sockets). The datagram socket also rewrites the
/// identifier (it becomes the socket's "port") and the checksum.
pub fn echo_request(v6: bool, id: u16, seq: u16, size: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(HEADER_LEN + size);
    p.push(if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 });
    p.push(0);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend((0..size).map(payload_byte));
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Why a received packet could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{what} is {got} bytes, shorter than {need}")]
    TooShort {
        what: &'static str,
        need: usize,
        got: usize,
    },
    #[error("IP version {0} where 4 was expected")]
    NotIpv4(u8),
    #[error("IPv4 header length {0} is invalid")]
    BadHeaderLength(usize),
    #[error("IP protocol {0} is not ICMP")]
    NotIcmp(u8),
}

/// What an ICMP error says went wrong on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// Destination unreachable, with its code.
    Unreachable(u8),
    /// TTL or hop limit ran out (code 0), or reassembly timed out (code 1).
    TimeExceeded(u8),
    /// ICMPv6 packet too big (with the MTU), or IPv4 "fragmentation needed" is
    /// `Unreachable(4)`.
    TooBig(u32),
    ParameterProblem(u8),
    /// ICMPv4 redirect: the reply comes from a router telling us a better route.
    Redirect(u8),
}

impl Trouble {
    /// As iputils words it (`Destination Host Unreachable`).
    pub fn describe(self, v6: bool) -> String {
        match (self, v6) {
            (Trouble::Unreachable(code), false) => match code {
                0 => "Destination Net Unreachable".into(),
                1 => "Destination Host Unreachable".into(),
                2 => "Destination Protocol Unreachable".into(),
                3 => "Destination Port Unreachable".into(),
                4 => "Frag needed and DF set".into(),
                9 | 10 | 13 => "Packet filtered".into(),
                c => format!("Destination Unreachable, code {c}"),
            },
            (Trouble::Unreachable(code), true) => match code {
                0 => "Destination unreachable: No route".into(),
                1 => "Destination unreachable: Administratively prohibited".into(),
                3 => "Destination unreachable: Address unreachable".into(),
                4 => "Destination unreachable: Port unreachable".into(),
                c => format!("Destination unreachable, code {c}"),
            },
            (Trouble::TimeExceeded(0), _) => "Time to live exceeded".into(),
            (Trouble::TimeExceeded(_), _) => "Frag reassembly time exceeded".into(),
            (Trouble::TooBig(mtu), _) => format!("Packet too big: mtu={mtu}"),
            (Trouble::ParameterProblem(c), _) => format!("Parameter problem, code {c}"),
            (Trouble::Redirect(c), _) => format!("Redirect, code {c}"),
        }
    }
}

/// The ICMP message of a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    EchoReply {
        id: u16,
        seq: u16,
        payload: &'a [u8],
    },
    /// A request: ours, seen again by a raw socket on loopback, or someone else's.
    EchoRequest { id: u16, seq: u16 },
    /// An error about a packet we sent; `request` is the identifier and sequence number of
    /// the echo request it quotes, when it quotes one.
    Error {
        trouble: Trouble,
        request: Option<(u16, u16)>,
    },
    /// Anything else (router advertisements, neighbour discovery, ...).
    Other { icmp_type: u8, code: u8 },
}

/// A received packet, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// TTL from the IPv4 header, when the packet came with one.
    pub ttl: Option<u8>,
    /// Sender from the IPv4 header, when the packet came with one.
    pub source: Option<IpAddr>,
    /// Length of the ICMP message (header and payload).
    pub icmp_len: usize,
    /// The ICMPv4 checksum verifies (always true for ICMPv6, which the kernel checks).
    pub checksum_ok: bool,
    pub message: Message<'a>,
}

/// Read a received packet. `with_ip_header`: the bytes start with an IPv4 header (raw IPv4
/// sockets); otherwise they start with the ICMP message.
pub fn parse(v6: bool, bytes: &[u8], with_ip_header: bool) -> Result<Packet<'_>, ParseError> {
    let (ttl, source, icmp) = if with_ip_header {
        let (h, rest) = ipv4_header(bytes, "IPv4 packet")?;
        if h.protocol != PROTO_ICMP {
            return Err(ParseError::NotIcmp(h.protocol));
        }
        (Some(h.ttl), Some(IpAddr::V4(h.source)), rest)
    } else {
        (None, None, bytes)
    };
    let icmp = need(icmp, HEADER_LEN, "ICMP message")?;
    let (icmp_type, code) = (icmp[0], icmp[1]);
    let checksum_ok = v6 || checksum(icmp) == 0;
    let id = u16::from_be_bytes([icmp[4], icmp[5]]);
    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    let rest = &icmp[HEADER_LEN..];
    let message = match (v6, icmp_type) {
        (false, ECHO_REPLY_V4) | (true, ECHO_REPLY_V6) => Message::EchoReply {
            id,
            seq,
            payload: rest,
        },
        (false, ECHO_REQUEST_V4) | (true, ECHO_REQUEST_V6) => Message::EchoRequest { id, seq },
        (false, UNREACHABLE_V4) => error_v4(Trouble::Unreachable(code), rest),
        (false, TIME_EXCEEDED_V4) => error_v4(Trouble::TimeExceeded(code), rest),
        (false, PARAMETER_PROBLEM_V4) => error_v4(Trouble::ParameterProblem(code), rest),
        (false, REDIRECT_V4) => error_v4(Trouble::Redirect(code), rest),
        (true, UNREACHABLE_V6) => error_v6(Trouble::Unreachable(code), rest),
        (true, TOO_BIG_V6) => {
            let mtu = u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]);
            error_v6(Trouble::TooBig(mtu), rest)
        }
        (true, TIME_EXCEEDED_V6) => error_v6(Trouble::TimeExceeded(code), rest),
        (true, PARAMETER_PROBLEM_V6) => error_v6(Trouble::ParameterProblem(code), rest),
        _ => Message::Other { icmp_type, code },
    };
    Ok(Packet {
        ttl,
        source,
        icmp_len: icmp.len(),
        checksum_ok,
        message,
    })
}

fn need<'a>(b: &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
    if b.len() < n {
        Err(ParseError::TooShort {
            what,
            need: n,
            got: b.len(),
        })
    } else {
        Ok(b)
    }
}

struct Ipv4Header {
    ttl: u8,
    protocol: u8,
    source: Ipv4Addr,
}

/// An IPv4 header and what follows it (cut to the header's total length when that is
/// shorter than the buffer).
fn ipv4_header<'a>(b: &'a [u8], what: &'static str) -> Result<(Ipv4Header, &'a [u8]), ParseError> {
    let b = need(b, IPV4_HEADER_LEN, what)?;
    let version = b[0] >> 4;
    if version != 4 {
        return Err(ParseError::NotIpv4(version));
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    if ihl < IPV4_HEADER_LEN {
        return Err(ParseError::BadHeaderLength(ihl));
    }
    let b = need(b, ihl, what)?;
    let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let end = if (ihl..b.len()).contains(&total) {
        total
    } else {
        b.len()
    };
    Ok((
        Ipv4Header {
            ttl: b[8],
            protocol: b[9],
            source: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
        },
        &b[ihl..end],
    ))
}

/// The echo request quoted by an ICMPv4 error: the original IP header, then (at least) the
/// first 8 bytes of its ICMP message.
fn error_v4(trouble: Trouble, quoted: &[u8]) -> Message<'static> {
    let request = ipv4_header(quoted, "quoted packet")
        .ok()
        .filter(|(h, _)| h.protocol == PROTO_ICMP)
        .and_then(|(_, icmp)| quoted_request(false, icmp));
    Message::Error { trouble, request }
}

/// The echo request quoted by an ICMPv6 error: the original fixed IPv6 header (next header
/// ICMPv6; extension headers are not followed), then its ICMPv6 header.
fn error_v6(trouble: Trouble, quoted: &[u8]) -> Message<'static> {
    let request = (quoted.len() >= IPV6_HEADER_LEN && quoted[0] >> 4 == 6)
        .then_some(quoted)
        .filter(|q| q[6] == PROTO_ICMPV6)
        .and_then(|q| quoted_request(true, &q[IPV6_HEADER_LEN..]));
    Message::Error { trouble, request }
}

fn quoted_request(v6: bool, icmp: &[u8]) -> Option<(u16, u16)> {
    let want = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    (icmp.len() >= HEADER_LEN && icmp[0] == want).then(|| {
        (
            u16::from_be_bytes([icmp[4], icmp[5]]),
            u16::from_be_bytes([icmp[6], icmp[7]]),
        )
    })
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::EchoReply { id, seq, payload } => {
                write!(f, "echo reply id={id} seq={seq} ({} bytes)", payload.len())
            }
            Message::EchoRequest { id, seq } => write!(f, "echo request id={id} seq={seq}"),
            Message::Error { trouble, .. } => write!(f, "{trouble:?}"),
            Message::Other { icmp_type, code } => write!(f, "type {icmp_type} code {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An IPv4 header around `icmp`, as a raw socket hands it over.
    fn ipv4(ttl: u8, proto: u8, src: [u8; 4], icmp: &[u8]) -> Vec<u8> {
        let total = (IPV4_HEADER_LEN + icmp.len()) as u16;
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0x40, 0, ttl, proto, 0, 0]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&[127, 0, 0, 1]);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(icmp);
        h
    }

    /// `request` turned into the reply a host sends: type 0, checksum recomputed.
    fn reply_v4(request: &[u8]) -> Vec<u8> {
        let mut r = request.to_vec();
        r[0] = ECHO_REPLY_V4;
        r[2..4].copy_from_slice(&[0, 0]);
        let c = checksum(&r);
        r[2..4].copy_from_slice(&c.to_be_bytes());
        r
    }

    #[test]
    fn checksum_matches_rfc_1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2, so the checksum is !0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        // A message with its checksum in place sums to zero.
        let req = echo_request(false, 0x1234, 7, 56);
        assert_eq!(checksum(&req), 0);
        // Odd lengths pad with a zero byte.
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn requests_carry_id_sequence_and_pattern() {
        let r = echo_request(false, 0xbeef, 0x0102, 4);
        assert_eq!(&r[..2], &[8, 0]);
        assert_eq!(&r[4..8], &[0xbe, 0xef, 0x01, 0x02]);
        assert_eq!(&r[8..], &[0x10, 0x11, 0x12, 0x13]);
        let r6 = echo_request(true, 1, 2, 0);
        assert_eq!(r6, vec![128, 0, 0, 0, 0, 1, 0, 2]);
    }

    #[test]
    fn a_raw_ipv4_reply_gives_ttl_source_id_and_sequence() {
        let request = echo_request(false, 77, 3, 16);
        let packet = ipv4(61, PROTO_ICMP, [10, 1, 2, 3], &reply_v4(&request));
        let p = parse(false, &packet, true).unwrap();
        assert_eq!(p.ttl, Some(61));
        assert_eq!(p.source, Some("10.1.2.3".parse().unwrap()));
        assert!(p.checksum_ok);
        assert_eq!(p.icmp_len, 24);
        match p.message {
            Message::EchoReply { id, seq, payload } => {
                assert_eq!((id, seq), (77, 3));
                assert_eq!(payload, &request[8..]);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn a_corrupted_reply_fails_its_checksum() {
        let mut r = reply_v4(&echo_request(false, 1, 1, 8));
        r[10] ^= 0xff;
        assert!(!parse(false, &r, false).unwrap().checksum_ok);
    }

    #[test]
    fn errors_quote_the_request_they_are_about() {
        let request = echo_request(false, 0x4242, 9, 56);
        let quoted = ipv4(1, PROTO_ICMP, [127, 0, 0, 1], &request[..8]);
        let mut err = vec![TIME_EXCEEDED_V4, 0, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&quoted);
        let packet = ipv4(250, PROTO_ICMP, [192, 0, 2, 1], &err);
        let p = parse(false, &packet, true).unwrap();
        assert_eq!(
            p.message,
            Message::Error {
                trouble: Trouble::TimeExceeded(0),
                request: Some((0x4242, 9))
            }
        );

        let mut v6 = vec![UNREACHABLE_V6, 3, 0, 0, 0, 0, 0, 0];
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 16, PROTO_ICMPV6, 64];
        ip6.extend_from_slice(&[0; 32]);
        v6.extend_from_slice(&ip6);
        v6.extend_from_slice(&echo_request(true, 5, 6, 8));
        let p = parse(true, &v6, false).unwrap();
        assert_eq!(
            p.message,
            Message::Error {
                trouble: Trouble::Unreachable(3),
                request: Some((5, 6))
            }
        );
        assert_eq!(
            Trouble::Unreachable(1).describe(false),
            "Destination Host Unreachable"
        );
    }

    #[test]
    fn short_and_foreign_packets_are_errors() {
        assert!(matches!(
            parse(false, &[0, 0, 0], false),
            Err(ParseError::TooShort { .. })
        ));
        assert_eq!(parse(false, &[0x65; 40], true), Err(ParseError::NotIpv4(6)));
        assert_eq!(
            parse(false, &[0x44; 40], true),
            Err(ParseError::BadHeaderLength(16))
        );
        let udp = ipv4(64, 17, [127, 0, 0, 1], &[0; 8]);
        assert_eq!(parse(false, &udp, true), Err(ParseError::NotIcmp(17)));
        // An error whose quote is cut short still parses, without a request.
        let p = parse(false, &[UNREACHABLE_V4, 1, 0, 0, 0, 0, 0, 0, 0x45], false).unwrap();
        assert_eq!(
            p.message,
            Message::Error {
                trouble: Trouble::Unreachable(1),
                request: None
            }
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn parse_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            v6 in any::<bool>(),
            with_ip in any::<bool>(),
        ) {
            let _ = parse(v6, &bytes, with_ip);
        }

        #[test]
        fn parse_never_panics_on_plausible_headers(
            ihl in 0u8..16,
            total in any::<u16>(),
            icmp_type in prop::sample::select(vec![0u8, 3, 5, 8, 11, 12, 1, 2, 4, 128, 129]),
            tail in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut b = vec![0x40 | ihl, 0];
            b.extend_from_slice(&total.to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 0, 64, PROTO_ICMP, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
            b.push(icmp_type);
            b.extend_from_slice(&tail);
            let _ = parse(false, &b, true);
            let _ = parse(true, &b[20..], false);
        }

        #[test]
        fn every_request_checksums_to_zero_and_reads_back(
            id in any::<u16>(), seq in any::<u16>(), size in 0usize..600,
        ) {
            let req = echo_request(false, id, seq, size);
            prop_assert_eq!(checksum(&req), 0);
            let reply = reply_v4(&req);
            let p = parse(false, &reply, false).unwrap();
            prop_assert!(p.checksum_ok);
            prop_assert_eq!(p.message, Message::EchoReply { id, seq, payload: &req[8..] });
        }
    }
}
