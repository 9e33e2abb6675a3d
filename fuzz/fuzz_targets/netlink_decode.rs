//! Netlink sock_diag decoding (and the /proc/net table parsers that replace it) must never
//! panic, whatever the kernel (or a corrupted buffer) hands over. The first byte picks the
//! dump kind and the /proc/net table; the rest is the input.
//!
//! Good seeds are the dumps captured from a real kernel, behind their selector byte:
//! `cd fuzz && mkdir -p corpus/netlink_decode && for f in tcp4:0 tcp6:1 udp4:2 raw4:3 unix:4
//! packet:6 netlink:7; do (printf "\\x0${f#*:}"; cat ../crates/net/src/inspect/fixtures/${f%:*}.bin)
//! > corpus/netlink_decode/${f%:*}; done`
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockbox_net::inspect::netlink::{
    decode_entry, decode_messages, decode_tcp_info, decode_unix_name, Decoded, DumpKind,
};
use sockbox_net::inspect::proc_net::{self, Table};

const TABLES: [Table; 9] = [
    Table::Tcp,
    Table::Tcp6,
    Table::Udp,
    Table::Udp6,
    Table::Raw,
    Table::Raw6,
    Table::Unix,
    Table::Packet,
    Table::Netlink,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let kind = match selector % 8 {
        0 => DumpKind::Inet { v6: false, protocol: 6 },
        1 => DumpKind::Inet { v6: true, protocol: 6 },
        2 => DumpKind::Inet { v6: false, protocol: 17 },
        3 => DumpKind::Inet { v6: true, protocol: 255 },
        4 | 5 => DumpKind::Unix,
        6 => DumpKind::Packet,
        _ => DumpKind::Netlink,
    };
    let mut out = Decoded::default();
    decode_messages(kind, input, &mut out);
    // A second read of the same dump continues into the same list.
    decode_messages(kind, input, &mut out);
    let _ = decode_entry(kind, input);
    let _ = decode_tcp_info(input);
    let _ = decode_unix_name(input);
    let table = TABLES[usize::from(selector) % TABLES.len()];
    let _ = proc_net::parse(table, &String::from_utf8_lossy(input));
});
