//! The only code that writes results to stdout (and the stats report to stderr).

pub mod bench;
pub mod color;
pub mod doctor;
pub mod fd;
pub mod http;
pub mod inspect;
pub mod live;
pub mod observe;
pub mod ping;
pub mod scan;
pub mod table;

use std::io::{self, Write};

use base64::Engine;
use serde::Serialize;
use sockbox_net::message::Message;
use sockbox_net::server::Totals;

/// One message as text: its bytes, then a newline unless it ends with one.
pub fn message_text(out: &mut impl Write, m: &Message) -> io::Result<()> {
    out.write_all(&m.data)?;
    if !m.data.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct MessageJson<'a> {
    peer: &'a str,
    length: usize,
    /// "utf-8" when `data` is the message as text, "base64" otherwise.
    encoding: &'static str,
    data: String,
}

/// A message's bytes for JSON: `("utf-8", text)` when they are UTF-8, else `("base64", ...)`.
pub fn json_payload(data: &[u8]) -> (&'static str, String) {
    match std::str::from_utf8(data) {
        Ok(s) => ("utf-8", s.to_string()),
        Err(_) => (
            "base64",
            base64::engine::general_purpose::STANDARD.encode(data),
        ),
    }
}

/// One message as one JSON object on one line (docs/json.md).
pub fn message_json(out: &mut impl Write, m: &Message) -> io::Result<()> {
    let (encoding, data) = json_payload(&m.data);
    let j = MessageJson {
        peer: &m.peer,
        length: m.data.len(),
        encoding,
        data,
    };
    serde_json::to_writer(&mut *out, &j)?;
    out.write_all(b"\n")
}

/// A relay's totals: JSON on stdout, or one line of text on stderr.
pub fn totals(t: &Totals, json: bool) -> io::Result<()> {
    if json {
        let mut out = io::stdout().lock();
        serde_json::to_writer(&mut out, t)?;
        out.write_all(b"\n")
    } else {
        writeln!(
            io::stderr().lock(),
            "sockbox: {} connections ({} failed, {} refused), {} bytes in, {} bytes out, {} messages in, {} messages out",
            t.connections, t.failed, t.refused, t.bytes_in, t.bytes_out, t.messages_in, t.messages_out
        )
    }
}
