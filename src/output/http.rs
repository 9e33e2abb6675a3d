//! `sockbox http` on stdout: the response head (`-i`), then the body as it arrives, either
//! byte for byte or, for JSON, re-indented.
//!
//! Re-indenting is jsonxf's streaming formatter: it keeps a few bytes of state (depth, inside
//! a string or not) between chunks, so a JSON document of any size, or an endless stream of
//! them such as Docker's `/events`, prints as it arrives, one document after another, without
//! being held whole. It re-indents; it does not validate, so a server that labels something
//! else as JSON gets it back re-spaced, never an error. Numbers and key order stay as sent.

use std::io::{self, Write};

use sockbox_net::http::Response;

/// The status line and headers as `curl -i` prints them: `HTTP/1.1 200 OK`, one
/// `name: value` per line (names in lower case, as hyper keeps them), CRLF line ends, a blank
/// line after.
pub fn head(out: &mut impl Write, r: &Response) -> io::Result<()> {
    write!(out, "{}\r\n", r.status_line())?;
    for (name, value) in &r.headers {
        out.write_all(name.as_str().as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(value.as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(b"\r\n")
}

/// Writes a body chunk by chunk.
pub struct BodyPrinter {
    json: Option<jsonxf::Formatter>,
    /// The last byte written, to end pretty output with a newline.
    last: Option<u8>,
}

impl BodyPrinter {
    /// `pretty_json`: re-indent (the caller decided the body is JSON and the user wants it
    /// pretty); otherwise bytes go out unchanged.
    pub fn new(pretty_json: bool) -> Self {
        let json = pretty_json.then(|| {
            let mut f = jsonxf::Formatter::pretty_printer();
            // A newline as soon as each top-level document ends, not when the next begins:
            // a stream of events shows each one when it arrives.
            f.eager_record_separators = true;
            f
        });
        BodyPrinter { json, last: None }
    }

    pub fn write(&mut self, out: &mut impl Write, chunk: &[u8]) -> io::Result<()> {
        let mut tail = Tail {
            inner: out,
            last: &mut self.last,
        };
        match &mut self.json {
            Some(f) => f.format_buf(chunk, &mut tail),
            None => tail.write_all(chunk),
        }
    }

    /// At the end of the body: pretty output ends with a newline; raw output as it came.
    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.json.is_some() && self.last.is_some_and(|b| b != b'\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

/// A writer that remembers the last byte that went through.
struct Tail<'a, W: Write> {
    inner: &'a mut W,
    last: &'a mut Option<u8>,
}

impl<W: Write> Write for Tail<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            *self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(pretty: bool, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        let mut p = BodyPrinter::new(pretty);
        for c in chunks {
            p.write(&mut out, c).unwrap();
        }
        p.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn raw_bodies_pass_unchanged() {
        assert_eq!(print(false, &[b"{\"a\":", b"1}"]), "{\"a\":1}");
        assert_eq!(print(false, &[]), "");
    }

    #[test]
    fn json_is_indented_whatever_the_chunking() {
        let doc = br#"{"b":[1,2,{}],"a":"x,y:{\"z\"}","n":1.50e3,"e":[]}"#;
        let want = "{\n  \"b\": [\n    1,\n    2,\n    {}\n  ],\n  \"a\": \"x,y:{\\\"z\\\"}\",\n  \
                    \"n\": 1.50e3,\n  \"e\": []\n}\n";
        assert_eq!(print(true, &[doc]), want);
        let bytes: Vec<&[u8]> = doc.chunks(1).collect();
        assert_eq!(print(true, &bytes), want);
    }

    #[test]
    fn a_stream_of_documents_prints_one_after_another() {
        assert_eq!(
            print(true, &[b"{\"a\":1}\n{\"a\":", b"2}\n"]),
            "{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n"
        );
        assert_eq!(print(true, &[b"42"]), "42\n");
    }
}
