//! HTTP/1.1 client over any stream endpoint: `sockbox http unix:/var/run/docker.sock /info`.
//!
//! Daemons put their HTTP APIs on Unix sockets (Docker, podman, many daemons' admin sockets);
//! this is curl's `--unix-socket` with sockbox's address grammar. The socket is
//! opened by [`endpoint::connect`] (so the connect is narrated, bounded by the timeout and
//! explained when it fails like every other verb's), taken out with
//! [`Conn::into_socket`](crate::endpoint::Conn::into_socket), and handed to hyper's HTTP/1
//! client connection (`hyper::client::conn::http1`). One request per connection. The
//! connection future is polled by whoever waits for the response and its body, in the same
//! task, rather than spawned: every body piece then passes from hyper's reader to the caller
//! without waking another thread (spawned, it cost one cross-thread wake-up per piece; see
//! docs/benchmarks.md).
//!
//! [`request`] returns the response head as soon as it arrives, with a [`Response`] the caller
//! pulls body chunks from (de-chunked, in the sizes they arrive): a body of any size passes
//! through a few hundred KiB of buffers. Nothing here prints; `-v` narration (the request and
//! response heads) goes through [`narrate!`](crate::narrate).
//!
//! Errors say what happened in the words of the protocol: a peer that answers with something
//! else than HTTP, a server that closes before answering or in the middle of the body (with the
//! byte counts), no answer within the timeout.

mod request;
mod upload;

use std::error::Error as _;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{StatusCode, Version};
use hyper_util::rt::TokioIo;

use crate::addr::{Address, Endpoint, Role, UnixType};
use crate::endpoint::{self, Medium};
use crate::error::{Error, Result};
use crate::narrate;
pub use request::{parse_method, parse_target, title_case, HeaderArg, Request, Upload};

/// `User-Agent` sent unless `-H` replaces it.
const USER_AGENT: &str = concat!("sockbox/", env!("CARGO_PKG_VERSION"));

/// A response whose head has arrived; the body is read with [`Response::chunk`].
pub struct Response {
    pub version: Version,
    pub status: StatusCode,
    /// The reason phrase the server sent (`OK`, `Not Found`), or the standard one.
    pub reason: String,
    pub headers: HeaderMap,
    body: Incoming,
    /// Body bytes handed out so far.
    received: u64,
    timeout: Option<Duration>,
    /// `http ADDR METHOD PATH`, to start error messages with.
    label: String,
    /// hyper's connection future (reads the socket, feeds `body`), until it has ended.
    connection: Option<Connection>,
}

/// hyper's HTTP/1 connection: reads and writes the socket; polled alongside the request.
type Connection = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// Check that `addr` is something HTTP can run over: a stream socket we connect to.
pub fn check_address(addr: &Address) -> Result<()> {
    if addr.role == Some(Role::Listen) {
        return Err(Error::Usage(format!(
            "{addr}: sockbox http is a client; it connects, it does not listen"
        )));
    }
    match &addr.endpoint {
        Endpoint::Tcp(_) | Endpoint::Unix(UnixType::Stream, _) => {}
        other => {
            return Err(Error::Usage(format!(
                "{addr}: HTTP runs over a stream socket (unix:/path, unix:@name, \
                 tcp:HOST:PORT), not a {} address",
                other.kind()
            )))
        }
    }
    if addr.options.frame.is_some() {
        return Err(Error::Usage(format!(
            "{addr}: frame= cuts a stream into messages; HTTP has its own framing"
        )));
    }
    Ok(())
}

/// `Host` when neither `-H Host:` nor an `http://HOST/` target says: `localhost` over a Unix
/// socket (as curl does), `HOST[:PORT]` over TCP (the port left out when it is 80).
pub fn default_host(addr: &Address) -> String {
    match &addr.endpoint {
        Endpoint::Tcp(t) => {
            let host = t.host.as_deref().unwrap_or("localhost");
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_string()
            };
            if t.port == 80 {
                host
            } else {
                format!("{host}:{}", t.port)
            }
        }
        _ => "localhost".to_string(),
    }
}

/// The request headers in the order they are sent: sockbox's own (`Host`, `User-Agent`,
/// `Accept`, and for a body `Content-Type` and its length or chunked encoding), each replaced
/// or removed by a `-H` of the same name, then the other `-H` headers.
fn request_headers(
    addr: &Address,
    req: &Request,
    body_length: Option<u64>,
    body_present: bool,
) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let host = req.host.clone().unwrap_or_else(|| default_host(addr));
    let host = HeaderValue::from_str(&host)
        .map_err(|_| Error::Usage(format!("'{host}' cannot be a Host header")))?;
    let mut headers = vec![
        (header::HOST, host),
        (header::USER_AGENT, HeaderValue::from_static(USER_AGENT)),
        (header::ACCEPT, HeaderValue::from_static("*/*")),
    ];
    if body_present {
        // curl's default for -d; a JSON API wants -H 'Content-Type: application/json'.
        headers.push((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ));
        headers.push(match body_length {
            Some(n) => (header::CONTENT_LENGTH, HeaderValue::from(n)),
            None => (
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            ),
        });
    }
    let own: Vec<HeaderName> = headers.iter().map(|(n, _)| n.clone()).collect();
    let mut replaced: Vec<&HeaderName> = Vec::new();
    for arg in &req.headers {
        let name = arg.name();
        if own.contains(name) && !replaced.contains(&name) {
            headers.retain(|(n, _)| n != name);
            replaced.push(name);
        }
        match arg {
            HeaderArg::Set(n, v) => headers.push((n.clone(), v.clone())),
            HeaderArg::Remove(n) => headers.retain(|(h, _)| h != n),
        }
    }
    Ok(headers)
}

/// Send `req` to `addr` and wait for the response head. `timeout` bounds the connect, the
/// wait for the head, and later each wait for body bytes (`None`: wait as long as the server
/// takes, which long-polling APIs such as Docker's `/events` need).
pub async fn request(addr: &Address, req: &Request, timeout: Option<Duration>) -> Result<Response> {
    check_address(addr)?;
    let label = format!("http {addr} {} {}", req.method, req.path);
    // The body's source first: a missing data file fails before anything is sent.
    let upload = upload::open(&req.body).await?;
    let headers = request_headers(addr, req, upload.length, upload.present)?;

    let conn = endpoint::connect(addr, timeout).await?;
    let Some((fd, medium)) = conn.into_socket() else {
        return Err(Error::Usage(format!(
            "{addr}: not a stream socket, HTTP cannot run over it"
        )));
    };
    let (mut sender, connection) = match medium {
        Medium::UnixStream => {
            let s = tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(fd))
                .map_err(crate::error::io_err("register", addr))?;
            handshake(TokioIo::new(s)).await
        }
        Medium::Tcp => {
            let s = tokio::net::TcpStream::from_std(std::net::TcpStream::from(fd))
                .map_err(crate::error::io_err("register", addr))?;
            handshake(TokioIo::new(s)).await
        }
        _ => {
            return Err(Error::Usage(format!(
                "{addr}: not a stream socket, HTTP cannot run over it"
            )))
        }
    }
    .map_err(|e| Error::Http(format!("{label}: {}", describe(&e))))?;

    narrate!("> {} {} HTTP/1.1", req.method, req.path);
    let mut builder = hyper::Request::builder()
        .method(req.method.clone())
        .uri(req.path.as_str());
    for (name, value) in &headers {
        narrate!(
            "> {}: {}",
            title_case(name.as_str()),
            String::from_utf8_lossy(value.as_bytes())
        );
        builder = builder.header(name, value);
    }
    let request = builder
        .body(upload.into_body())
        .map_err(|e| Error::Usage(format!("{label}: {e}")))?;

    let mut connection = Some(connection);
    let exchange = async {
        let sent = sender.send_request(request);
        tokio::pin!(sent);
        loop {
            let Some(conn) = connection.as_mut() else {
                return sent.await;
            };
            tokio::select! {
                biased;
                r = &mut sent => return r,
                // The connection ended: the request has its answer now, or the reason there
                // is none (hyper hands the connection's error to the waiting request).
                _ = conn => connection = None,
            }
        }
    };
    let response = match timeout {
        Some(t) => tokio::time::timeout(t, exchange).await.map_err(|_| {
            Error::Http(format!(
                "{label}: no response within {t:?} (the server accepted the connection \
                 but did not answer)"
            ))
        })?,
        None => exchange.await,
    }
    .map_err(|e| Error::Http(format!("{label}: {}", describe(&e))))?;
    drop(sender); // one request per connection: the connection ends after this response

    let (parts, body) = response.into_parts();
    let reason = match parts.extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None => parts.status.canonical_reason().unwrap_or("").to_string(),
    };
    let response = Response {
        version: parts.version,
        status: parts.status,
        reason,
        headers: parts.headers,
        body,
        received: 0,
        timeout,
        label,
        connection,
    };
    narrate!("< {}", response.status_line());
    for (name, value) in &response.headers {
        narrate!("< {name}: {}", String::from_utf8_lossy(value.as_bytes()));
    }
    Ok(response)
}

/// Start hyper's HTTP/1 client on `io`: the request sender and the connection future.
async fn handshake<T>(io: T) -> hyper::Result<(http1::SendRequest<upload::Body>, Connection)>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        // Header names as most HTTP/1.1 peers write them; some servers still care.
        .title_case_headers(true)
        .handshake(io)
        .await?;
    Ok((sender, Box::pin(connection)))
}

impl Response {
    /// `HTTP/1.1 200 OK`.
    pub fn status_line(&self) -> String {
        let version = match self.version {
            Version::HTTP_09 => "HTTP/0.9",
            Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        };
        let mut line = format!("{version} {}", self.status.as_u16());
        if !self.reason.is_empty() {
            line.push(' ');
            line.push_str(&self.reason);
        }
        line
    }

    /// The `Content-Type` is JSON: `application/json` or any `+json` type.
    pub fn is_json(&self) -> bool {
        let Some(ct) = self.headers.get(header::CONTENT_TYPE) else {
            return false;
        };
        let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence == "application/json" || essence.ends_with("+json")
    }

    /// `Content-Length`, when the server announced one.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Body bytes read so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next piece of the body, de-chunked; `None` at its end. Trailers are skipped.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        use http_body_util::BodyExt;
        loop {
            let body = &mut self.body;
            let connection = &mut self.connection;
            let next = async {
                loop {
                    let Some(conn) = connection.as_mut() else {
                        return body.frame().await;
                    };
                    tokio::select! {
                        biased;
                        frame = body.frame() => return frame,
                        // The connection ended (all of the body is read, or it failed): what
                        // it read is in the body's queue, then its end or its error.
                        _ = conn => *connection = None,
                    }
                }
            };
            let frame = match self.timeout {
                Some(t) => tokio::time::timeout(t, next).await.map_err(|_| {
                    Error::Http(format!(
                        "{}: the server sent nothing for {t:?} in the middle of the body \
                         ({} bytes received)",
                        self.label, self.received
                    ))
                })?,
                None => next.await,
            };
            match frame {
                None => {
                    narrate!("body: {} bytes", self.received);
                    return Ok(None);
                }
                Some(Err(e)) => return Err(self.body_error(&e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if data.is_empty() {
                            continue;
                        }
                        self.received += data.len() as u64;
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    fn body_error(&self, e: &hyper::Error) -> Error {
        let of = match self.content_length() {
            Some(n) => format!("{} of the {n} bytes announced", self.received),
            None => format!("{} bytes", self.received),
        };
        let eof = e.is_incomplete_message()
            || io_source(e).is_some_and(|io| io.kind() == io::ErrorKind::UnexpectedEof);
        if eof {
            Error::Http(format!(
                "{}: the server closed the connection in the middle of the body \
                 (after {of})",
                self.label
            ))
        } else {
            Error::Http(format!(
                "{}: reading the body (after {of}): {}",
                self.label,
                describe(e)
            ))
        }
    }
}

/// The first `io::Error` among the causes of `e`.
fn io_source(e: &hyper::Error) -> Option<&io::Error> {
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cause = c.source();
    }
    None
}

/// A hyper error in the words of what the peer did.
fn describe(e: &hyper::Error) -> String {
    if e.is_parse() || e.is_parse_status() {
        return format!("the peer did not answer with HTTP/1.x ({e})");
    }
    if e.is_incomplete_message() {
        return "the server closed the connection before sending a complete response head"
            .to_string();
    }
    if let Some(io) = io_source(e) {
        let text = match io.raw_os_error() {
            Some(libc::ECONNRESET) => "connection reset by peer".to_string(),
            Some(libc::EPIPE) => "the server closed the connection".to_string(),
            Some(_) => crate::error::os_error_text(io),
            // An error of ours, such as the upload's source failing: already in words.
            None => io.to_string(),
        };
        return if e.is_user() {
            format!("sending the body: {text}")
        } else {
            text
        };
    }
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn host_is_localhost_over_unix_and_host_port_over_tcp() {
        assert_eq!(default_host(&addr("unix:/run/docker.sock")), "localhost");
        assert_eq!(default_host(&addr("unix:@admin")), "localhost");
        assert_eq!(default_host(&addr("tcp:example.org:80")), "example.org");
        assert_eq!(default_host(&addr("tcp:127.0.0.1:8080")), "127.0.0.1:8080");
        assert_eq!(default_host(&addr("tcp:[::1]:8080")), "[::1]:8080");
    }

    #[test]
    fn only_stream_sockets_carry_http() {
        for ok in ["unix:/x", "unix:@x", "tcp:localhost:80", "tcp6:[::1]:1"] {
            check_address(&addr(ok)).unwrap();
        }
        for bad in [
            "udp:127.0.0.1:53",
            "seqpacket:@x",
            "unix-dgram:/x",
            "fifo:/x",
            "-",
            "listen:unix:/x",
            "tcp:localhost:80,frame=line",
        ] {
            let e = check_address(&addr(bad)).unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
        }
    }

    #[test]
    fn dash_h_replaces_and_removes_sockboxs_own_headers() {
        let req = Request::parse(
            None,
            "/x",
            &[
                "host: example".into(),
                "Accept:".into(),
                "X-A: 1".into(),
                "X-A: 2".into(),
            ],
            Upload::from_data_arg("k=v"),
        )
        .unwrap();
        let got: Vec<String> = request_headers(&addr("unix:/s"), &req, Some(3), true)
            .unwrap()
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                format!("user-agent: {USER_AGENT}"),
                "content-type: application/x-www-form-urlencoded".into(),
                "content-length: 3".into(),
                "host: example".into(),
                "x-a: 1".into(),
                "x-a: 2".into(),
            ]
        );
        let streamed = request_headers(&addr("tcp:h:8080"), &req, None, true).unwrap();
        assert!(streamed
            .iter()
            .any(|(n, v)| n == header::TRANSFER_ENCODING && v == "chunked"));
    }

    #[test]
    fn a_url_target_names_the_host() {
        let req = Request::parse(None, "http://api.local/v1", &[], Upload::None).unwrap();
        let h = request_headers(&addr("unix:/s"), &req, None, false).unwrap();
        assert_eq!(h[0], (header::HOST, HeaderValue::from_static("api.local")));
        assert_eq!(h.len(), 3, "no body headers without a body: {h:?}");
    }
}
