//! Connecting through a proxy: `socks5:`, `socks4a:`, `socks4:` and `http-connect:`
//! (`PROXY[:PORT]/HOST:PORT`).
//!
//! The TCP connection to the proxy is opened as `tcp:` opens any (its options, `timeout=`,
//! `retry=` apply to it), the proxy is asked for HOST:PORT, and what comes back is an
//! ordinary TCP connection to the target: the relay copies it like any other, and nothing of
//! the proxy's answer is left unread in it or read past.
//!
//! SOCKS is spoken by `tokio-socks`. HTTP CONNECT is written here: it is one request and one
//! response head, and no maintained crate reads that head without reading past it (bytes the
//! target sends first, as an SSH or SMTP server does, must stay in the socket for the relay).

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream as StdTcpStream};
use std::os::fd::OwnedFd;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_socks::tcp::{Socks4Stream, Socks5Stream};

use super::{fdio, inet, Conn, Medium};
use crate::addr::{Address, Endpoint, InetTarget, IpVersion, Options, ProxyProtocol, ProxyTarget};
use crate::error::{io_err, Error, Result};

/// How long a proxy may take to answer when the address sets no `timeout=`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest HTTP response head a proxy may send before the tunnel starts.
const MAX_HEAD: usize = 16 * 1024;

/// Connect to `t`'s target through its proxy.
pub(crate) async fn connect(
    addr: &Address,
    t: &ProxyTarget,
    timeout: Option<Duration>,
) -> Result<Conn> {
    let proxy = to_proxy(addr, t);
    let proxy_target = match &proxy.endpoint {
        Endpoint::Tcp(target) => target.clone(),
        _ => unreachable!("to_proxy builds a tcp address"),
    };
    let conn = inet::connect_tcp(&proxy, None, &proxy_target, timeout)
        .await
        .map_err(|e| match e {
            // Name the proxy as a proxy: the address the user wrote has no tcp: in it.
            Error::Io { op, err, .. } => Error::Io {
                op,
                target: format!(
                    "{} proxy {} (for {addr})",
                    t.protocol.name(),
                    proxy_label(t)
                ),
                err,
            },
            other => other,
        })?;
    let peer = conn.peer.clone();
    let Some((fd, _)) = conn.into_socket() else {
        unreachable!("a tcp connection is one socket");
    };
    let std = StdTcpStream::from(fd);
    let stream = TcpStream::from_std(std).map_err(io_err("register", &proxy))?;
    let wait = timeout.unwrap_or(HANDSHAKE_TIMEOUT);
    let fail = |why: String| Error::Proxy {
        proxy: format!("{} proxy {}", t.protocol.name(), proxy_label(t)),
        why,
    };
    let stream = match tokio::time::timeout(wait, handshake(stream, t, &addr.options)).await {
        Ok(Ok(s)) => s,
        Ok(Err(why)) => return Err(fail(why)),
        Err(_) => return Err(fail(format!("no answer within {}s", wait.as_secs_f64()))),
    };
    crate::narrate!(
        "{} proxy {}: tunnel to {} open",
        t.protocol.name(),
        proxy_label(t),
        target_label(t)
    );
    let std = stream.into_std().map_err(io_err("deregister", &proxy))?;
    let fd = fdio::register(OwnedFd::from(std)).map_err(io_err("register", &proxy))?;
    let mut conn = Conn::socket(
        addr.to_string(),
        fd,
        Medium::Tcp,
        crate::addr::Transfer::Stream,
        addr.options.frame,
    );
    // The peer is the proxy, as the kernel knows it; the label names the target.
    conn.peer = peer;
    Ok(conn)
}

impl ProxyProtocol {
    /// The protocol's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            ProxyProtocol::Socks5 => "SOCKS5",
            ProxyProtocol::Socks4a => "SOCKS4a",
            ProxyProtocol::Socks4 => "SOCKS4",
            ProxyProtocol::HttpConnect => "HTTP",
        }
    }
}

fn proxy_label(t: &ProxyTarget) -> String {
    host_port(&t.proxy_host, t.proxy_port())
}

fn target_label(t: &ProxyTarget) -> String {
    host_port(&t.host, t.port)
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The `tcp:` address of the proxy, with the options that apply to that connection.
fn to_proxy(addr: &Address, t: &ProxyTarget) -> Address {
    let o = &addr.options;
    let mut proxy = Address::new(Endpoint::Tcp(InetTarget {
        version: IpVersion::Any,
        host: Some(t.proxy_host.clone()),
        port: t.proxy_port(),
    }));
    proxy.options = Options {
        nodelay: o.nodelay,
        keepalive: o.keepalive,
        bind: o.bind.clone(),
        rcvbuf: o.rcvbuf,
        sndbuf: o.sndbuf,
        timeout: o.timeout,
        ..Options::default()
    };
    proxy
}

/// `auth=USER[:PASS]` split.
fn credentials(o: &Options) -> Option<(&str, &str)> {
    o.auth
        .as_deref()
        .map(|a| a.split_once(':').unwrap_or((a, "")))
}

/// Ask the proxy for the target; `Err` is why it would not (one line).
async fn handshake(
    stream: TcpStream,
    t: &ProxyTarget,
    o: &Options,
) -> std::result::Result<TcpStream, String> {
    let target = (t.host.as_str(), t.port);
    let socks = |e: tokio_socks::Error| socks_error(&e, t);
    match t.protocol {
        ProxyProtocol::Socks5 => match credentials(o) {
            Some((user, pass)) => {
                Socks5Stream::connect_with_password_and_socket(stream, target, user, pass)
                    .await
                    .map(Socks5Stream::into_inner)
                    .map_err(socks)
            }
            None => Socks5Stream::connect_with_socket(stream, target)
                .await
                .map(Socks5Stream::into_inner)
                .map_err(socks),
        },
        ProxyProtocol::Socks4a => socks4(stream, target, o).await.map_err(socks),
        ProxyProtocol::Socks4 => {
            // SOCKS 4 carries an IPv4 address: the name is resolved here.
            let ip = resolve_v4(&t.host, t.port).await?;
            socks4(stream, SocketAddr::new(IpAddr::V4(ip), t.port), o)
                .await
                .map_err(socks)
        }
        ProxyProtocol::HttpConnect => http_connect(stream, t, o).await,
    }
}

async fn socks4<'t>(
    stream: TcpStream,
    target: impl tokio_socks::IntoTargetAddr<'t>,
    o: &Options,
) -> std::result::Result<TcpStream, tokio_socks::Error> {
    match credentials(o) {
        Some((user, _)) => Socks4Stream::connect_with_userid_and_socket(stream, target, user)
            .await
            .map(Socks4Stream::into_inner),
        None => Socks4Stream::connect_with_socket(stream, target)
            .await
            .map(Socks4Stream::into_inner),
    }
}

async fn resolve_v4(host: &str, port: u16) -> std::result::Result<std::net::Ipv4Addr, String> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    let found = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {}", crate::error::os_error_text(&e)))?;
    found
        .filter_map(|a| match a.ip() {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| format!("{host} has no IPv4 address (SOCKS 4 carries IPv4 only; socks4a: lets the proxy resolve it)"))
}

fn socks_error(e: &tokio_socks::Error, t: &ProxyTarget) -> String {
    use tokio_socks::Error as E;
    let to = target_label(t);
    match e {
        E::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "closed the connection during the handshake (is it a SOCKS proxy?)".into()
        }
        E::Io(io) => crate::error::os_error_text(io),
        E::InvalidResponseVersion | E::UnknownAddressType | E::InvalidReservedByte => {
            format!("answered something that is not SOCKS ({e})")
        }
        E::NoAcceptableAuthMethods => {
            "wants authentication sockbox was not given or does not speak (give auth=USER:PASS)"
                .into()
        }
        E::PasswordAuthFailure(_) => "refused the user name or password (auth=)".into(),
        E::GeneralSocksServerFailure => {
            format!("could not connect to {to} (request rejected or failed)")
        }
        E::ConnectionRefused => format!("could not connect to {to}: connection refused"),
        E::HostUnreachable => format!("could not connect to {to}: host unreachable"),
        E::NetworkUnreachable => format!("could not connect to {to}: network unreachable"),
        E::ConnectionNotAllowedByRuleset => format!("does not allow a connection to {to}"),
        E::TtlExpired => format!("could not connect to {to}: TTL expired"),
        E::IdentdAuthFailure | E::InvalidUserIdAuthFailure => {
            format!("refused the user id (identd check failed) for {to}")
        }
        other => format!("refused: {}", other.to_string().to_lowercase()),
    }
}

/// HTTP `CONNECT host:port`, then the response head read to its end and no further.
async fn http_connect(
    mut stream: TcpStream,
    t: &ProxyTarget,
    o: &Options,
) -> std::result::Result<TcpStream, String> {
    let authority = target_label(t);
    let mut request =
        format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: sockbox\r\n");
    if let Some((user, pass)) = credentials(o) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let text = |e: io::Error| crate::error::os_error_text(&e);
    stream.write_all(request.as_bytes()).await.map_err(text)?;
    let head = read_head(&mut stream).await?;
    let status = parse_status(&head)?;
    if !(200..300).contains(&status.0) {
        let hint = match status.0 {
            407 => " (give auth=USER:PASS)",
            _ => "",
        };
        return Err(format!(
            "refused CONNECT {authority}: {} {}{hint}",
            status.0, status.1
        ));
    }
    Ok(stream)
}

/// Reads up to and including the blank line that ends an HTTP head. Peeks first and then
/// reads only what belongs to the head, so a tunnel's first bytes stay in the socket.
async fn read_head(stream: &mut TcpStream) -> std::result::Result<Vec<u8>, String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let n = stream
            .peek(&mut buf)
            .await
            .map_err(|e| crate::error::os_error_text(&e))?;
        if n == 0 {
            return Err(
                "closed the connection before answering CONNECT (is it an HTTP proxy?)".into(),
            );
        }
        // The end may straddle what was read before and what is peeked now.
        let from = head.len().saturating_sub(3);
        let mut joined = head[from..].to_vec();
        joined.extend_from_slice(&buf[..n]);
        let take = match find_end(&joined) {
            Some(end) => end - (head.len() - from),
            // No end yet: everything here is head; take it all.
            None => n,
        };
        let mut part = vec![0u8; take];
        stream
            .read_exact(&mut part)
            .await
            .map_err(|e| crate::error::os_error_text(&e))?;
        head.extend_from_slice(&part);
        if head.ends_with(b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(format!(
                "answered with a head over {} KiB (is it an HTTP proxy?)",
                MAX_HEAD / 1024
            ));
        }
    }
}

/// The index just past the first `\r\n\r\n` in `b`.
fn find_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The status code and reason of an HTTP response head.
pub(crate) fn parse_status(head: &[u8]) -> std::result::Result<(u16, String), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => Ok((
            response.code.unwrap_or(0),
            response.reason.unwrap_or("").to_owned(),
        )),
        Ok(httparse::Status::Partial) => Err("sent an incomplete HTTP answer".into()),
        Err(e) => Err(format!("answered something that is not HTTP ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap(),
            (200, "Connection established".into())
        );
        assert_eq!(
            parse_status(
                b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"
            )
            .unwrap()
            .0,
            407
        );
        assert!(parse_status(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn end_of_head() {
        assert_eq!(find_end(b"HTTP/1.1 200 OK\r\n\r\nSSH-2.0"), Some(19));
        assert_eq!(find_end(b"HTTP/1.1 200 OK\r\n\r"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Whatever a proxy answers, reading its status is an answer or an error, never a
        /// panic.
        #[test]
        fn any_answer_is_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_status(&bytes);
            let _ = find_end(&bytes);
        }
    }
}
