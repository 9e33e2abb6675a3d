//! The HTTP side of `sockbox exporter`: `GET /metrics` answers with a fresh scrape of
//! [`Metrics`] (OpenMetrics text when the scraper accepts it, else the classic text format); `/` says where the metrics are; anything else is 404.
//!
//! The server takes a bound [`Listener`] (any stream kind of the address grammar: `tcp:`,
//! `unix:`) and a shutdown future, and serves HTTP/1.1 with hyper. Scrapes run one at a
//! time on a blocking thread (a dump and a `/proc` walk); between scrapes a ticker reads the
//! destroy broadcasts every second so the kernel's buffer does not overflow.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::metrics::{Format, Metrics};
use crate::endpoint::{Listener, Medium};
use crate::Result;

/// What a scraper gets: OpenMetrics when its Accept header asks for it (Prometheus does),
/// the classic text format otherwise (curl, promtool).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often destroy events are read between scrapes.
const DRAIN_EVERY: Duration = Duration::from_secs(1);

/// Serve `metrics` on `listener` until `shutdown` completes.
pub async fn serve(
    mut listener: Listener,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let metrics = Arc::new(Mutex::new(metrics));
    let drainer = {
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(DRAIN_EVERY);
            loop {
                tick.tick().await;
                let m = metrics.clone();
                let r = tokio::task::spawn_blocking(move || lock(&m).drain_events()).await;
                if let Ok(Err(e)) = r {
                    tracing::warn!("reading destroy events: {e}");
                }
            }
        })
    };
    tokio::pin!(shutdown);
    let outcome = loop {
        let conn = tokio::select! {
            _ = &mut shutdown => break Ok(()),
            c = listener.accept() => c,
        };
        let conn = match conn {
            Ok(Some(c)) => c,
            Ok(None) => break Ok(()),
            Err(e) => {
                tracing::warn!("accepting a scraper: {e}");
                continue;
            }
        };
        let Some((fd, medium)) = conn.into_socket() else {
            continue;
        };
        let m = metrics.clone();
        match medium {
            Medium::Tcp => {
                let s = std::net::TcpStream::from(fd);
                if let Ok(s) = tokio::net::TcpStream::from_std(s) {
                    tokio::spawn(serve_connection(s, m));
                }
            }
            Medium::UnixStream => {
                let s = std::os::unix::net::UnixStream::from(fd);
                if let Ok(s) = tokio::net::UnixStream::from_std(s) {
                    tokio::spawn(serve_connection(s, m));
                }
            }
            _ => {}
        }
    };
    drainer.abort();
    outcome
}

fn lock(m: &Mutex<Metrics>) -> std::sync::MutexGuard<'_, Metrics> {
    // A scrape that panicked leaves counters that are still monotonic: go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn serve_connection<S>(stream: S, metrics: Arc<Mutex<Metrics>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| answer(req, metrics.clone()));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    if let Err(e) = conn.await {
        tracing::debug!("scraper connection: {e}");
    }
}

async fn answer(
    req: Request<Incoming>,
    metrics: Arc<Mutex<Metrics>>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, ctype: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        if let Ok(v) = ctype.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        Ok(r)
    };
    let text = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, text, "GET only\n".into());
    }
    match req.uri().path() {
        "/metrics" => {
            let openmetrics = req
                .headers()
                .get_all(hyper::header::ACCEPT)
                .iter()
                .any(|v| {
                    v.to_str()
                        .is_ok_and(|v| v.contains("application/openmetrics-text"))
                });
            let (format, ctype) = match openmetrics {
                true => (Format::OpenMetrics, OPENMETRICS),
                false => (Format::Text, CLASSIC),
            };
            let scraped = tokio::task::spawn_blocking(move || lock(&metrics).scrape(format)).await;
            match scraped {
                Ok(Ok(body)) => reply(StatusCode::OK, ctype, body),
                Ok(Err(e)) => reply(StatusCode::INTERNAL_SERVER_ERROR, text, format!("{e}\n")),
                Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, text, format!("{e}\n")),
            }
        }
        "/" => reply(
            StatusCode::OK,
            text,
            "sockbox exporter: the metrics are at /metrics\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            text,
            "not found; try /metrics\n".into(),
        ),
    }
}
