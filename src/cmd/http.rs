//! `sockbox http ADDR [METHOD] PATH`: one HTTP/1.1 request over a stream socket (Unix, abstract
//! or TCP), the response body to stdout as it arrives (curl `--unix-socket`'s job).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Args;
use sockbox_net::http::{self, Request, Response, Upload};

use crate::output::http::{self as out, BodyPrinter};

#[derive(Args, Debug)]
#[command(allow_missing_positional = true)]
pub struct HttpArgs {
    /// The server: unix:/path, unix:@name (abstract), tcp:HOST:PORT (`sockbox help addresses`)
    #[arg(value_parser = crate::cli::Addr, allow_hyphen_values = true)]
    pub addr: String,
    /// Request method, as written (default: GET, or POST when a body is given)
    pub method: Option<String>,
    /// Path and query (`/v1.43/containers/json?all=1`), or a whole http://HOST/PATH URL
    pub path: String,
    /// Add a header; `Name:` removes one sockbox adds (Host, User-Agent, Accept,
    /// Content-Type), `Name;` sends it empty. Repeatable
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body; @FILE reads a file (sent unchanged, like curl's --data-binary), @- stdin
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Option<String>,
    /// Request body streamed from FILE (`-` for stdin): Content-Length for a regular file,
    /// chunked transfer encoding otherwise (a pipe)
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub data_file: Option<String>,
    /// Print the status line and the response headers before the body
    #[arg(short = 'i', long)]
    pub include: bool,
    /// Exit 1 on a 4xx or 5xx status, with one line on stderr and nothing on stdout
    #[arg(short = 'f', long)]
    pub fail: bool,
    /// Give up when connecting, or waiting for the response or for more of its body, takes
    /// longer than this (default: wait as long as the server takes)
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
    /// Indent a JSON response even when stdout is not a terminal
    #[arg(long, conflicts_with = "raw")]
    pub pretty: bool,
    /// Print the body exactly as received, even JSON on a terminal
    #[arg(long)]
    pub raw: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    sockbox_net::addr::parse_duration(s).map_err(|e| e.to_string())
}

pub async fn run(args: HttpArgs) -> Result<ExitCode> {
    // On a worker thread, the one that also polls the socket's readiness: run in main()'s
    // block_on, each readiness event of a 1 GiB body cost a wake-up of the main thread.
    match tokio::spawn(exchange(args)).await {
        Ok(r) => r,
        Err(e) => Err(anyhow!("http: the request task failed: {e}")),
    }
}

async fn exchange(args: HttpArgs) -> Result<ExitCode> {
    let addr = super::parse_addr(&args.addr)?;
    http::check_address(&addr)?;
    let body = match (&args.data, &args.data_file) {
        (Some(d), _) => Upload::from_data_arg(d),
        (None, Some(f)) => Upload::from_file_arg(f),
        (None, None) => Upload::None,
    };
    let req = Request::parse(args.method.as_deref(), &args.path, &args.headers, body)?;

    let mut response = http::request(&addr, &req, args.timeout).await?;
    if args.fail && (response.status.is_client_error() || response.status.is_server_error()) {
        let excerpt = excerpt(&mut response).await;
        return Err(anyhow!(
            "http {addr} {} {}: {} {}{excerpt}",
            req.method,
            req.path,
            response.status.as_u16(),
            response.reason
        ));
    }

    let pretty = match (args.pretty, args.raw) {
        (true, _) => true,
        (_, true) => false,
        _ => std::io::stdout().is_terminal(),
    } && response.is_json();
    if args.include {
        let mut stdout = std::io::stdout().lock();
        out::head(&mut stdout, &response)?;
        stdout.flush()?;
    }
    let mut printer = BodyPrinter::new(pretty);
    while let Some(chunk) = response.chunk().await? {
        let mut stdout = std::io::stdout().lock();
        printer.write(&mut stdout, &chunk)?;
        stdout.flush()?;
    }
    printer.finish(&mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// The start of an error response's body, on one line, to follow the status on stderr:
/// `404 Not Found: {"message":"No such container: web"}`. Empty when the body is empty or not
/// text, or does not come within a second.
async fn excerpt(response: &mut Response) -> String {
    const MAX_BYTES: usize = 1024;
    const MAX_CHARS: usize = 200;
    let mut body = Vec::new();
    let reading = async {
        while body.len() < MAX_BYTES {
            match response.chunk().await {
                Ok(Some(c)) => body.extend_from_slice(&c),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), reading).await;
    let cut = &body[..body.len().min(MAX_BYTES)];
    let text = match std::str::from_utf8(cut) {
        Ok(s) => s,
        // Cut in the middle of a character: keep what precedes it.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&cut[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return String::new(),
    };
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return String::new();
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut line = words.join(" ");
    if line.is_empty() {
        return line;
    }
    if line.chars().count() > MAX_CHARS {
        line = line.chars().take(MAX_CHARS).collect::<String>() + "...";
    }
    format!(": {line}")
}
