//! `--pcap FILE|-`: the traffic as a pcapng capture that stock Wireshark and tshark read, written
//! as the bytes move.
//!
//! Unix sockets have no packets, so the capture is synthetic: each byte-stream connection is a
//! TCP connection (three-way handshake at open, a PSH segment per chunk with exact sequence and
//! acknowledgement numbers and valid IPv4 and TCP checksums, FIN at half-close, RST at reset),
//! and each message connection (datagram, seqpacket, `frame=`) a UDP flow with one datagram per
//! message, so Wireshark follows streams, reassembles them and dissects what is in them (HTTP
//! to a Unix socket included: the server port is 80 unless told otherwise). Side A (the client)
//! is `127.1.H.L:PORT` with H.L and PORT from the connection number, side B `127.0.0.1:80`.
//!
//! Per packet: `epb_flags` gives the direction (inbound: A to B, outbound: B to A); a comment
//! names the sending process where the kernel told (`SO_PEERCRED`) and describes descriptors
//! passed with the bytes. The interface's name is the real address (`unix:/run/docker.sock`).
//! A chunk larger than one segment is split (IPv4's 64 KiB limit); a message too large for one
//! UDP datagram is truncated, with a comment giving its real length: never dropped silently.
//!
//! The blocks are written here (section header, interface description, enhanced packet: about a
//! hundred lines): the maintained pcap writers either are release candidates or would still
//! need every packet built here, and the header and checksums go straight into the output
//! buffer next to the payload, which is never copied.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Dir, Event, SideId, View, What};

/// The server port of the synthetic flows: Wireshark dissects port 80 as HTTP.
pub const DEFAULT_PORT: u16 = 80;

/// Most payload in one TCP segment: an IPv4 packet is at most 65535 bytes, 40 of them headers.
pub const MAX_SEGMENT: usize = 65535 - 40;

/// Most payload in one UDP datagram (65535 - 20 - 8).
pub const MAX_DATAGRAM: usize = 65535 - 28;

/// `LINKTYPE_RAW`: packets start with the IP header.
const LINKTYPE_RAW: u16 = 101;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// The pcapng writer.
pub struct PcapView {
    out: Box<dyn Write + Send>,
    name: String,
    port: u16,
    conns: HashMap<u64, Flow>,
}

/// One synthetic connection.
struct Flow {
    messages: bool,
    /// Address and port of A and of B.
    addr: [([u8; 4], u16); 2],
    /// Next sequence number each side sends.
    seq: [u32; 2],
    /// Each side has sent its FIN.
    fin: [bool; 2],
    /// Who sent the last FIN: the other side acknowledges it at close.
    last_fin: SideId,
    reset: bool,
    /// "from pid N (comm)" per side, when known.
    sender: [Option<String>; 2],
}

impl PcapView {
    /// A capture on `out`, whose one interface is named `iface` (the real address) and described
    /// by `description`. Writes the section header and interface blocks at once: a file that
    /// cannot take them fails here, before anything is opened.
    pub fn new(
        out: Box<dyn Write + Send>,
        name: String,
        iface: &str,
        description: &str,
        port: u16,
    ) -> io::Result<PcapView> {
        let mut v = PcapView {
            // Smaller than a segment: BufWriter writes a full segment's payload straight
            // through rather than copying it into its buffer first.
            out: Box::new(io::BufWriter::with_capacity(32 * 1024, out)),
            name,
            port,
            conns: HashMap::new(),
        };
        v.section_header()?;
        v.interface(iface, description)?;
        v.out.flush()?;
        Ok(v)
    }

    fn section_header(&mut self) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        option(
            &mut body,
            4,
            format!("sockbox {}", env!("CARGO_PKG_VERSION")).as_bytes(),
        );
        end_options(&mut body);
        self.block(0x0A0D_0D0A, &body)
    }

    fn interface(&mut self, iface: &str, description: &str) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes()); // snaplen: no limit
        option(&mut body, 2, iface.as_bytes()); // if_name
        option(&mut body, 3, description.as_bytes()); // if_description
        end_options(&mut body);
        self.block(1, &body)
    }

    fn block(&mut self, kind: u32, body: &[u8]) -> io::Result<()> {
        let total = (12 + body.len()) as u32;
        self.out.write_all(&kind.to_le_bytes())?;
        self.out.write_all(&total.to_le_bytes())?;
        self.out.write_all(body)?;
        self.out.write_all(&total.to_le_bytes())
    }

    /// One enhanced packet block: `headers` then `payload` as the packet.
    fn packet(
        &mut self,
        time: SystemTime,
        dir: Dir,
        headers: &[u8],
        payload: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let mut parts = Vec::new();
        let around = frame(&mut parts, time, dir, headers, payload.len(), comment);
        self.out.write_all(&parts[..around])?;
        self.out.write_all(payload)?;
        self.out.write_all(&parts[around..])
    }

    /// A TCP segment from `from` to the other side.
    fn segment(
        &mut self,
        conn: u64,
        time: SystemTime,
        from: SideId,
        flags: u8,
        payload: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let h = self.segment_headers(conn, from, flags, payload);
        let dir = match from {
            SideId::A => Dir::AtoB,
            SideId::B => Dir::BtoA,
        };
        self.packet(time, dir, &h, payload, comment)
    }

    /// The IPv4 and TCP headers of a segment of `payload`
    /// from `from`, sequence numbers advanced.
    fn segment_headers(&mut self, conn: u64, from: SideId, flags: u8, payload: &[u8]) -> [u8; 40] {
        let f = self.conns.get_mut(&conn).expect("flow opened");
        let (s, r) = match from {
            SideId::A => (0, 1),
            SideId::B => (1, 0),
        };
        let (seq, ack) = (f.seq[s], f.seq[r]);
        let ack_flag = if flags & TCP_SYN != 0 && s == 0 {
            0
        } else {
            TCP_ACK
        };
        let ack = if ack_flag == 0 { 0 } else { ack };
        let mut h = [0u8; 40];
        ipv4(
            &mut h[..20],
            f.addr[s].0,
            f.addr[r].0,
            6,
            20 + payload.len(),
        );
        let t = &mut h[20..];
        t[0..2].copy_from_slice(&f.addr[s].1.to_be_bytes());
        t[2..4].copy_from_slice(&f.addr[r].1.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = flags | ack_flag;
        t[14..16].copy_from_slice(&65535u16.to_be_bytes());
        let sum = checksum(
            pseudo(f.addr[s].0, f.addr[r].0, 6, 20 + payload.len()) + sum32(t) + sum32(payload),
        );
        t[16..18].copy_from_slice(&sum.to_be_bytes());
        // SYN and FIN take one sequence number each.
        let used = payload.len() as u32 + u32::from(flags & (TCP_SYN | TCP_FIN) != 0);
        f.seq[s] = seq.wrapping_add(used);
        h
    }

    /// A UDP datagram from the sender of `dir`.
    fn datagram(
        &mut self,
        conn: u64,
        time: SystemTime,
        dir: Dir,
        payload: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let f = &self.conns[&conn];
        let (s, r) = (dir.index(), 1 - dir.index());
        let mut h = [0u8; 28];
        ipv4(
            &mut h[..20],
            f.addr[s].0,
            f.addr[r].0,
            17,
            8 + payload.len(),
        );
        let u = &mut h[20..];
        u[0..2].copy_from_slice(&f.addr[s].1.to_be_bytes());
        u[2..4].copy_from_slice(&f.addr[r].1.to_be_bytes());
        u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        let sum = checksum(
            pseudo(f.addr[s].0, f.addr[r].0, 17, 8 + payload.len()) + sum32(u) + sum32(payload),
        );
        // A computed 0 is sent as all ones (RFC 768).
        let sum = if sum == 0 { 0xffff } else { sum };
        u[6..8].copy_from_slice(&sum.to_be_bytes());
        self.packet(time, dir, &h, payload, comment)
    }

    fn data(
        &mut self,
        ev: &Event,
        dir: Dir,
        data: &[u8],
        fds: &[crate::fdpass::FdInfo],
    ) -> io::Result<()> {
        let f = &self.conns[&ev.conn];
        let mut notes: Vec<String> = Vec::new();
        if let Some(s) = &f.sender[dir.index()] {
            notes.push(s.clone());
        }
        if !fds.is_empty() {
            let list: Vec<String> = fds
                .iter()
                .enumerate()
                .map(|(i, d)| format!("[{i}] {d}"))
                .collect();
            notes.push(format!(
                "{} descriptor{} passed (SCM_RIGHTS): {}",
                fds.len(),
                if fds.len() == 1 { "" } else { "s" },
                list.join("; ")
            ));
        }
        if f.messages {
            let shown = &data[..data.len().min(MAX_DATAGRAM)];
            if shown.len() < data.len() {
                notes.push(format!(
                    "message of {} bytes truncated to {} in this capture",
                    data.len(),
                    shown.len()
                ));
            }
            let c = (!notes.is_empty()).then(|| notes.join("; "));
            return self.datagram(ev.conn, ev.time, dir, shown, c.as_deref());
        }
        let mut first = true;
        let pieces = data.len().div_ceil(MAX_SEGMENT);
        if pieces > 1 {
            notes.push(format!(
                "chunk of {} bytes split into {pieces} segments",
                data.len()
            ));
        }
        let comment = (!notes.is_empty()).then(|| notes.join("; "));
        // Every segment of the chunk in one gathered write: the blocks' heads and tails go into
        // `parts`, the payload is written from the chunk itself (one system call per chunk, not
        // two per segment).
        let mut parts = Vec::with_capacity(pieces * 128);
        let mut cuts = Vec::with_capacity(pieces);
        for piece in data.chunks(MAX_SEGMENT) {
            let c = if first { comment.as_deref() } else { None };
            first = false;
            let h = self.segment_headers(ev.conn, dir.sender(), TCP_PSH, piece);
            let start = parts.len();
            let around = frame(&mut parts, ev.time, dir, &h, piece.len(), c);
            cuts.push((start, around, parts.len()));
        }
        let mut slices = Vec::with_capacity(pieces * 3);
        for ((start, around, end), piece) in cuts.into_iter().zip(data.chunks(MAX_SEGMENT)) {
            slices.push(io::IoSlice::new(&parts[start..around]));
            slices.push(io::IoSlice::new(piece));
            slices.push(io::IoSlice::new(&parts[around..end]));
        }
        write_all_vectored(&mut self.out, &mut slices)
    }
}

/// An enhanced packet block around a payload of `len` bytes, appended to `out`: its head and
/// the packet's `headers`, then (from the returned offset on) the padding, options and trailing
/// length that follow the payload.
fn frame(
    out: &mut Vec<u8>,
    time: SystemTime,
    dir: Dir,
    headers: &[u8],
    payload: usize,
    comment: Option<&str>,
) -> usize {
    let len = headers.len() + payload;
    let pad = (4 - len % 4) % 4;
    let mut opts = Vec::new();
    if let Some(c) = comment {
        option(&mut opts, 1, c.as_bytes());
    }
    let flags: u32 = match dir {
        Dir::AtoB => 1,
        Dir::BtoA => 2,
    };
    option(&mut opts, 2, &flags.to_le_bytes());
    end_options(&mut opts);
    let total = (12 + 20 + len + pad + opts.len()) as u32;
    let us = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    out.extend_from_slice(&6u32.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&((us >> 32) as u32).to_le_bytes());
    out.extend_from_slice(&(us as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(headers);
    let around = out.len();
    out.extend_from_slice(&[0u8; 3][..pad]);
    out.extend_from_slice(&opts);
    out.extend_from_slice(&total.to_le_bytes());
    around
}

/// `write_all` for a gathered write (`Write::write_all_vectored` is not stable yet): writes
/// until every slice is out, through short writes and interruptions.
fn write_all_vectored(out: &mut dyn Write, mut slices: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    io::IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn other(s: SideId) -> SideId {
    match s {
        SideId::A => SideId::B,
        SideId::B => SideId::A,
    }
}

impl View for PcapView {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match &ev.what {
            What::Open { a, b, messages } => {
                let n = ev.conn;
                let client = [127, 1, (n >> 8) as u8, n as u8];
                let client_port = 10_000 + (n % 50_000) as u16;
                let sender = |s: &super::Side| {
                    s.pid().map(|(pid, comm)| match comm {
                        Some(c) => format!("from pid {pid} ({c})"),
                        None => format!("from pid {pid}"),
                    })
                };
                self.conns.insert(
                    n,
                    Flow {
                        messages: *messages,
                        addr: [(client, client_port), ([127, 0, 0, 1], self.port)],
                        seq: [1_000, 5_000],
                        fin: [false; 2],
                        last_fin: SideId::B,
                        reset: false,
                        sender: [sender(a), sender(b)],
                    },
                );
                if !messages {
                    let note = format!("sockbox connection {n}: A {a}, B {b}");
                    self.segment(n, ev.time, SideId::A, TCP_SYN, &[], Some(&note))?;
                    self.segment(n, ev.time, SideId::B, TCP_SYN, &[], None)?;
                    self.segment(n, ev.time, SideId::A, 0, &[], None)?;
                }
                Ok(())
            }
            What::Data { dir, data, fds, .. } => {
                if !self.conns.contains_key(&ev.conn) {
                    return Ok(());
                }
                self.data(ev, *dir, data, fds)
            }
            What::Shutdown { dir } => match self.conns.get_mut(&ev.conn) {
                Some(f) if !f.messages && !f.fin[dir.index()] && !f.reset => {
                    f.fin[dir.index()] = true;
                    f.last_fin = dir.sender();
                    self.segment(ev.conn, ev.time, dir.sender(), TCP_FIN, &[], None)
                }
                _ => Ok(()),
            },
            What::Reset { by, error } => match self.conns.get_mut(&ev.conn) {
                Some(f) if !f.messages && !f.reset => {
                    f.reset = true;
                    let note = format!("reset: {error}");
                    self.segment(ev.conn, ev.time, *by, TCP_RST, &[], Some(&note))
                }
                _ => Ok(()),
            },
            What::Close { .. } => {
                let Some(f) = self.conns.get(&ev.conn) else {
                    return Ok(());
                };
                if !f.messages && !f.reset {
                    // Ended without a half-close (idle timeout, a reader gone): both sockets
                    // were closed, each side got a FIN. Then the last ACK.
                    let (fin, mut last) = (f.fin, f.last_fin);
                    for (i, side) in [SideId::A, SideId::B].into_iter().enumerate() {
                        if !fin[i] {
                            self.segment(ev.conn, ev.time, side, TCP_FIN, &[], None)?;
                            last = side;
                        }
                    }
                    self.segment(ev.conn, ev.time, other(last), 0, &[], None)?;
                }
                self.conns.remove(&ev.conn);
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An option: code, length, value padded to 32 bits.
fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    // Option lengths are 16 bits: cut an over-long comment rather than corrupt the block.
    let value = &value[..value.len().min(60_000)];
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.extend_from_slice(&[0u8; 3][..(4 - value.len() % 4) % 4]);
}

fn end_options(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0u8; 4]);
}

/// An IPv4 header (no options, don't fragment, TTL 64) with its checksum.
fn ipv4(h: &mut [u8], src: [u8; 4], dst: [u8; 4], proto: u8, payload: usize) {
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + payload) as u16).to_be_bytes());
    h[6] = 0x40;
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let sum = checksum(sum32(&h[..20]));
    h[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// The TCP/UDP pseudo-header's part of the checksum.
fn pseudo(src: [u8; 4], dst: [u8; 4], proto: u8, len: usize) -> u64 {
    sum32(&src) + sum32(&dst) + u64::from(proto) + len as u64
}

/// The one's-complement sum of `data` as big-endian 16-bit words, not yet folded (RFC 1071).
/// The bulk is summed as little-endian 64-bit words, which the compiler vectorises: the sum is
/// byte-order independent (the sum of byte-swapped words is the byte-swapped sum), and 2^16 is
/// 1 modulo 2^16 - 1, so folding the wide words gives the same 16-bit result. A 64 KiB
/// segment's checksum is then a small fraction of the cost of writing it.
fn sum32(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(8);
    let (mut lo, mut hi) = (0u64, 0u64);
    for w in &mut words {
        let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        lo += v & 0xffff_ffff;
        hi += v >> 32;
    }
    // Back to big-endian order: fold the little-endian sum to 16 bits and swap its bytes.
    let le = fold(lo + hi);
    let mut acc = u64::from((le as u16).swap_bytes());
    let rest = words.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        acc += u64::from(u16::from_be_bytes([rest[i], rest[i + 1]]));
        i += 2;
    }
    if i < rest.len() {
        acc += u64::from(rest[i]) << 8;
    }
    acc
}

/// Fold a wide one's-complement sum to 16 bits (end-around carry).
fn fold(mut acc: u64) -> u64 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Fold and complement.
fn checksum(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tap::{Side, What};
    use pcap_parser::traits::PcapReaderIterator;
    use pcap_parser::{Block, PcapBlockOwned, PcapNGReader};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn ev(conn: u64, what: What) -> Event {
        Event {
            conn,
            time: SystemTime::now(),
            what,
        }
    }

    /// A packet read back: its bytes, its flags option and its comment.
    type Packet = (Vec<u8>, u32, Option<String>);

    /// The interfaces' names and each packet of a capture.
    fn packets(file: &[u8]) -> (Vec<String>, Vec<Packet>) {
        let mut r = PcapNGReader::new(1 << 20, file).unwrap();
        let (mut ifaces, mut pkts) = (Vec::new(), Vec::new());
        loop {
            match r.next() {
                Ok((off, block)) => {
                    match block {
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            assert_eq!(idb.linktype.0, i32::from(LINKTYPE_RAW));
                            for o in &idb.options {
                                if o.code.0 == 2 {
                                    ifaces.push(String::from_utf8(o.value.to_vec()).unwrap());
                                }
                            }
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let mut flags = 0;
                            let mut comment = None;
                            for o in &epb.options {
                                match o.code.0 {
                                    1 => {
                                        comment = Some(String::from_utf8(o.value.to_vec()).unwrap())
                                    }
                                    2 => {
                                        flags = u32::from_le_bytes(o.value[..4].try_into().unwrap())
                                    }
                                    _ => {}
                                }
                            }
                            assert_eq!(epb.caplen, epb.origlen);
                            pkts.push((epb.data[..epb.caplen as usize].to_vec(), flags, comment));
                        }
                        _ => {}
                    }
                    r.consume(off);
                }
                Err(pcap_parser::PcapError::Eof) => break,
                Err(pcap_parser::PcapError::Incomplete(_)) => {
                    r.refill().unwrap();
                }
                Err(e) => panic!("bad pcapng: {e:?}"),
            }
        }
        (ifaces, pkts)
    }

    /// RFC 1071 the slow way: 16-bit big-endian words, one at a time.
    fn reference_sum(data: &[u8]) -> u64 {
        data.chunks(2)
            .map(|w| u64::from(w[0]) << 8 | u64::from(*w.get(1).unwrap_or(&0)))
            .sum()
    }

    #[test]
    fn checksum_sum_matches_the_plain_definition() {
        let mut x = 0x1234_5678u32;
        let data: Vec<u8> = (0..70_001)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for len in [0, 1, 2, 7, 8, 9, 15, 16, 17, 1499, 65_495, 70_001] {
            let d = &data[..len];
            assert_eq!(
                checksum(sum32(d)),
                checksum(reference_sum(d)),
                "length {len}"
            );
        }
        assert_eq!(
            checksum(sum32(&[0xff; 64])),
            checksum(reference_sum(&[0xff; 64]))
        );
    }

    fn verify_checksums(p: &[u8]) {
        assert_eq!(checksum(reference_sum(&p[..20])), 0, "IPv4 header checksum");
        let len = usize::from(u16::from_be_bytes([p[2], p[3]]));
        assert_eq!(len, p.len());
        let src: [u8; 4] = p[12..16].try_into().unwrap();
        let dst: [u8; 4] = p[16..20].try_into().unwrap();
        let l4 = &p[20..];
        assert_eq!(
            checksum(pseudo(src, dst, p[9], l4.len()) + reference_sum(l4)),
            0,
            "TCP/UDP checksum"
        );
    }

    #[test]
    fn tcp_flow_with_split_chunk() {
        let out = Shared::default();
        let mut v = PcapView::new(
            Box::new(out.clone()),
            "t".into(),
            "unix:/tmp/x.sock",
            "test",
            80,
        )
        .unwrap();
        let open = What::Open {
            a: Side::named("a"),
            b: Side::named("unix:/tmp/x.sock"),
            messages: false,
        };
        v.event(&ev(1, open)).unwrap();
        let big = vec![7u8; MAX_SEGMENT + 10];
        for (dir, data) in [
            (Dir::AtoB, b"GET / HTTP/1.0\r\n\r\n".to_vec()),
            (Dir::BtoA, big),
        ] {
            v.event(&ev(
                1,
                What::Data {
                    dir,
                    data,
                    message: false,
                    fds: vec![],
                },
            ))
            .unwrap();
        }
        v.event(&ev(1, What::Shutdown { dir: Dir::AtoB })).unwrap();
        v.event(&ev(
            1,
            What::Reset {
                by: SideId::B,
                error: "reset".into(),
            },
        ))
        .unwrap();
        v.flush().unwrap();
        let file = out.0.lock().unwrap().clone();
        let (ifaces, pkts) = packets(&file);
        assert_eq!(ifaces, ["unix:/tmp/x.sock"]);
        // SYN, SYN-ACK, ACK, request, 2 segments, FIN, RST
        assert_eq!(pkts.len(), 8);
        let flags: Vec<u8> = pkts.iter().map(|p| p.0[33]).collect();
        assert_eq!(
            flags,
            [
                TCP_SYN,
                TCP_SYN | TCP_ACK,
                TCP_ACK,
                TCP_PSH | TCP_ACK,
                TCP_PSH | TCP_ACK,
                TCP_PSH | TCP_ACK,
                TCP_FIN | TCP_ACK,
                TCP_RST | TCP_ACK
            ]
        );
        for p in &pkts {
            verify_checksums(&p.0);
        }
        let seq = |p: &[u8]| u32::from_be_bytes(p[24..28].try_into().unwrap());
        let ack = |p: &[u8]| u32::from_be_bytes(p[28..32].try_into().unwrap());
        // The request starts right after the SYN; the reply acknowledges all of it.
        assert_eq!(seq(&pkts[3].0), 1_001);
        assert_eq!(ack(&pkts[4].0), 1_001 + 18);
        assert_eq!(seq(&pkts[5].0), 5_001 + MAX_SEGMENT as u32);
        assert_eq!(pkts[5].0.len(), 40 + 10);
        assert_eq!(pkts[3].1, 1, "A to B is inbound");
        assert_eq!(pkts[4].1, 2, "B to A is outbound");
        assert!(pkts[4]
            .2
            .as_deref()
            .unwrap()
            .contains("split into 2 segments"));
    }

    #[test]
    fn messages_are_datagrams_truncated_with_a_comment() {
        let out = Shared::default();
        let mut v =
            PcapView::new(Box::new(out.clone()), "t".into(), "seqpacket:@x", "", 9).unwrap();
        let open = What::Open {
            a: Side::named("a"),
            b: Side::named("b"),
            messages: true,
        };
        v.event(&ev(2, open)).unwrap();
        for len in [0usize, 5, MAX_DATAGRAM + 100] {
            v.event(&ev(
                2,
                What::Data {
                    dir: Dir::BtoA,
                    data: vec![1; len],
                    message: true,
                    fds: vec![],
                },
            ))
            .unwrap();
        }
        v.flush().unwrap();
        let file = out.0.lock().unwrap().clone();
        let (_, pkts) = packets(&file);
        assert_eq!(pkts.len(), 3);
        let lens: Vec<usize> = pkts.iter().map(|p| p.0.len() - 28).collect();
        assert_eq!(lens, [0, 5, MAX_DATAGRAM]);
        for p in &pkts {
            assert_eq!(p.0[9], 17);
            verify_checksums(&p.0);
            assert_eq!(u16::from_be_bytes([p.0[20], p.0[21]]), 9, "B's port");
        }
        assert!(pkts[2].2.as_deref().unwrap().contains("truncated"));
    }
}
