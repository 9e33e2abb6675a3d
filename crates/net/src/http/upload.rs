//! The request body: `-d` bytes, or a file or stdin streamed in 64 KiB frames.
//!
//! A file or stdin is opened (and `fstat(2)`ed) before the connection is made, so a missing
//! file fails before anything is sent. Its length is known when it is a regular file: the
//! request then carries `Content-Length`; anything else (a pipe, a FIFO, a terminal) goes out
//! with `Transfer-Encoding: chunked`. A task reads the source into a bounded channel
//! (http-body-util's `Channel` body), so memory stays at a few frames whatever the size, and
//! reading waits while the server is slow to take the bytes.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Channel, Empty, Full};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::request::Upload;
use crate::error::{io_err, Result};

/// The body type the client sends: every error is an I/O error reading the source.
pub(crate) type Body = UnsyncBoxBody<Bytes, io::Error>;

/// Bytes read per frame.
const FRAME: usize = 64 * 1024;
/// Frames read ahead of the socket.
const AHEAD: usize = 4;

/// An upload opened and ready to stream.
pub(crate) struct Opened {
    /// `Content-Length`, when known; `None` means chunked (or no body at all, see `present`).
    pub length: Option<u64>,
    /// False when the request has no body.
    pub present: bool,
    source: Source,
}

enum Source {
    Empty,
    Data(Bytes),
    Reader {
        reader: Box<dyn AsyncRead + Send + Unpin>,
        /// How to name the source in messages (`file /tmp/x`, `stdin`).
        label: String,
    },
}

/// Open the body's source: the file or stdin, with its length when it is a regular file.
pub(crate) async fn open(upload: &Upload) -> Result<Opened> {
    match upload {
        Upload::None => Ok(Opened {
            length: None,
            present: false,
            source: Source::Empty,
        }),
        Upload::Data(b) => Ok(Opened {
            length: Some(b.len() as u64),
            present: true,
            source: Source::Data(b.clone()),
        }),
        Upload::File(path) => open_file(path).await,
        Upload::Stdin => {
            let length =
                regular_file_rest(io::stdin().as_fd()).map_err(io_err("fstat", "stdin"))?;
            Ok(Opened {
                length,
                present: true,
                source: Source::Reader {
                    reader: Box::new(tokio::io::stdin()),
                    label: "stdin".into(),
                },
            })
        }
    }
}

async fn open_file(path: &Path) -> Result<Opened> {
    let label = format!("data file {}", path.display());
    let file = tokio::fs::File::open(path)
        .await
        .map_err(io_err("open", &label))?;
    let meta = file.metadata().await.map_err(io_err("fstat", &label))?;
    if meta.is_dir() {
        return Err(io_err("read", &label)(io::Error::from_raw_os_error(
            libc::EISDIR,
        )));
    }
    Ok(Opened {
        length: meta.is_file().then_some(meta.len()),
        present: true,
        source: Source::Reader {
            reader: Box::new(file),
            label,
        },
    })
}

/// For a regular file: the bytes from the current offset to its end (`fstat(2)`, `lseek(2)`).
fn regular_file_rest(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<Option<u64>> {
    let st = nix::sys::stat::fstat(fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    let at = nix::unistd::lseek(fd, 0, nix::unistd::Whence::SeekCur).unwrap_or(0);
    Ok(Some(u64::try_from(st.st_size - at).unwrap_or(0)))
}

impl Opened {
    /// The body for hyper. A streamed source gets a reader task feeding a bounded channel;
    /// it ends when the source does, or when the request goes away.
    pub(crate) fn into_body(self) -> Body {
        match self.source {
            Source::Empty => Empty::new().map_err(|never| match never {}).boxed_unsync(),
            Source::Data(b) => Full::new(b).map_err(|never| match never {}).boxed_unsync(),
            Source::Reader { reader, label } => {
                let (tx, body) = Channel::<Bytes, io::Error>::new(AHEAD);
                tokio::spawn(feed(reader, self.length, tx, label));
                body.boxed_unsync()
            }
        }
    }
}

/// Read `reader` into the channel, at most `length` bytes when it is known; a source that
/// ends early or fails aborts the body, so the request fails instead of hanging.
async fn feed(
    reader: Box<dyn AsyncRead + Send + Unpin>,
    length: Option<u64>,
    mut tx: http_body_util::channel::Sender<Bytes, io::Error>,
    label: String,
) {
    let mut reader = reader.take(length.unwrap_or(u64::MAX));
    let mut buf = BytesMut::new();
    let mut sent = 0u64;
    loop {
        buf.reserve(FRAME);
        match reader.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                sent += n as u64;
                if tx.send_data(buf.split().freeze()).await.is_err() {
                    return; // the request is gone: the server answered or the connection broke
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let text = crate::error::os_error_text(&e);
                tx.abort(io::Error::new(e.kind(), format!("reading {label}: {text}")));
                return;
            }
        }
    }
    if let Some(len) = length.filter(|&l| sent < l) {
        tx.abort(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{label} ended after {sent} of its {len} bytes (it shrank while being sent)"),
        ));
    }
}
