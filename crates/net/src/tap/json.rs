//! `--dump=json`: one JSON object per line per event, for scripts. Field names are stable and
//! documented in docs/json.md ("Traffic events").
//!
//! ```text
//! {"event":"open","conn":1,"time":"2026-12-04T16:20:34.048008Z","a":{...},"b":{...},"messages":false}
//! {"event":"data","conn":1,"time":"...","dir":"a2b","offset":0,"length":5,"message":false,"base64":"aGVsbG8=","text":"hello"}
//! {"event":"fds","conn":1,"time":"...","dir":"a2b","fds":[{"kind":"file","path":"/etc/hostname",...}]}
//! {"event":"shutdown","conn":1,"time":"...","dir":"a2b"}
//! {"event":"reset","conn":1,"time":"...","by":"b","error":"Connection reset by peer (os error 104)"}
//! {"event":"close","conn":1,"time":"...","a2b":{"bytes":5,"messages":0},"b2a":{"bytes":0,"messages":0}}
//! ```

use std::collections::HashMap;
use std::io::{self, Write};

use base64::Engine;
use serde::Serialize;

use super::time::rfc3339;
use super::{Dir, Event, Side, SideId, View, What};
use crate::fdpass::FdInfo;
use crate::relay::Flow;

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Line<'a> {
    Open {
        conn: u64,
        time: String,
        a: &'a Side,
        b: &'a Side,
        messages: bool,
    },
    Data {
        conn: u64,
        time: String,
        dir: Dir,
        offset: u64,
        length: usize,
        message: bool,
        base64: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<&'a str>,
    },
    Fds {
        conn: u64,
        time: String,
        dir: Dir,
        fds: &'a [FdInfo],
    },
    Shutdown {
        conn: u64,
        time: String,
        dir: Dir,
    },
    Reset {
        conn: u64,
        time: String,
        by: SideId,
        error: &'a str,
    },
    Close {
        conn: u64,
        time: String,
        a2b: Flow,
        b2a: Flow,
    },
}

/// The JSON-lines dump.
pub struct JsonView {
    out: Box<dyn Write + Send>,
    name: String,
    /// Bytes so far per connection and direction: each data object's `offset`.
    offsets: HashMap<u64, [u64; 2]>,
}

impl JsonView {
    pub fn new(out: Box<dyn Write + Send>, name: String) -> JsonView {
        JsonView {
            out: Box::new(io::BufWriter::with_capacity(256 * 1024, out)),
            name,
            offsets: HashMap::new(),
        }
    }

    fn line(&mut self, l: &Line<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, l)?;
        self.out.write_all(b"\n")
    }
}

impl View for JsonView {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        let (conn, time) = (ev.conn, rfc3339(ev.time));
        match &ev.what {
            What::Open { a, b, messages } => self.line(&Line::Open {
                conn,
                time,
                a,
                b,
                messages: *messages,
            }),
            What::Data {
                dir,
                data,
                message,
                fds,
            } => {
                if !fds.is_empty() {
                    self.line(&Line::Fds {
                        conn,
                        time: time.clone(),
                        dir: *dir,
                        fds,
                    })?;
                }
                let off = &mut self.offsets.entry(conn).or_default()[dir.index()];
                let offset = *off;
                *off += data.len() as u64;
                self.line(&Line::Data {
                    conn,
                    time,
                    dir: *dir,
                    offset,
                    length: data.len(),
                    message: *message,
                    base64: base64::engine::general_purpose::STANDARD.encode(data),
                    text: std::str::from_utf8(data).ok(),
                })
            }
            What::Shutdown { dir } => self.line(&Line::Shutdown {
                conn,
                time,
                dir: *dir,
            }),
            What::Reset { by, error } => self.line(&Line::Reset {
                conn,
                time,
                by: *by,
                error,
            }),
            What::Close { a2b, b2a } => {
                self.offsets.remove(&conn);
                self.line(&Line::Close {
                    conn,
                    time,
                    a2b: *a2b,
                    b2a: *b2a,
                })
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
