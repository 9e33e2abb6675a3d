//! The typed request: method, target, header arguments and body source, parsed and checked
//! from the command line's strings before any socket is opened.
//!
//! The spellings follow curl, so commands port over: `-H 'Name: value'` adds a header (and
//! replaces a header sockbox would add by itself, such as `Host` or `User-Agent`),
//! `-H 'Name:'` removes one, `-H 'Name;'` sends it with an empty value; `-d @FILE` reads the
//! body from a file and `-d @-` from stdin. A PATH may also be a whole `http://HOST/PATH` URL,
//! whose host becomes the `Host` header. Parsing is pure (no I/O), so a proptest covers it.

use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Uri};

use crate::error::{Error, Result};

/// What to send: everything `sockbox http` was asked for, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The request target in origin form (`/path?query`), or `*` (for `OPTIONS *`).
    pub path: String,
    /// The authority of an `http://HOST/PATH` target: the `Host` header unless `-H` says
    /// otherwise.
    pub host: Option<String>,
    /// `-H` arguments, in order.
    pub headers: Vec<HeaderArg>,
    pub body: Upload,
}

/// One `-H` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderArg {
    /// `Name: value` (or `Name;` for an empty value): sent, replacing the header of that
    /// name sockbox would add by itself.
    Set(HeaderName, HeaderValue),
    /// `Name:` with nothing after the colon: do not send that header at all.
    Remove(HeaderName),
}

/// Where the request body comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upload {
    /// No body.
    None,
    /// The bytes of `-d DATA`.
    Data(Bytes),
    /// A file, streamed (`-d @FILE`, `--data-file FILE`): `Content-Length` when it is a
    /// regular file, chunked otherwise (a FIFO, a device).
    File(PathBuf),
    /// Standard input, streamed (`-d @-`, `--data-file -`): `Content-Length` when stdin is a
    /// regular file, chunked otherwise.
    Stdin,
}

impl Upload {
    /// `-d DATA`: the data itself, or with curl's convention `@FILE` / `@-` a file or stdin.
    /// (Unlike curl's `-d @FILE`, which strips newlines, the bytes are sent unchanged, as
    /// curl's `--data-binary` does.)
    pub fn from_data_arg(arg: &str) -> Upload {
        match arg.strip_prefix('@') {
            Some("-") => Upload::Stdin,
            Some(path) => Upload::File(PathBuf::from(path)),
            None => Upload::Data(Bytes::copy_from_slice(arg.as_bytes())),
        }
    }

    /// `--data-file FILE`, `-` for stdin.
    pub fn from_file_arg(arg: &str) -> Upload {
        if arg == "-" {
            Upload::Stdin
        } else {
            Upload::File(PathBuf::from(arg))
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Upload::None)
    }
}

impl Request {
    /// Build a request from the command line's words. `method` defaults to GET, or POST when
    /// there is a body (as curl does). Every fault is a usage error naming the argument.
    pub fn parse(
        method: Option<&str>,
        target: &str,
        headers: &[String],
        body: Upload,
    ) -> Result<Request> {
        let method = match method {
            Some(m) => parse_method(m)?,
            None if body.is_none() => Method::GET,
            None => Method::POST,
        };
        let (host, path) = parse_target(target)?;
        let headers = headers
            .iter()
            .map(|h| HeaderArg::parse(h))
            .collect::<Result<Vec<_>>>()?;
        Ok(Request {
            method,
            path,
            host,
            headers,
            body,
        })
    }
}

/// A method is an HTTP token (RFC 9110 section 9): `GET`, `DELETE`, `PROPFIND`... Methods are
/// case-sensitive, so `get` is sent as written.
pub fn parse_method(m: &str) -> Result<Method> {
    if m.starts_with('/') {
        return Err(Error::Usage(format!(
            "'{m}' is a path, not a method: the arguments are ADDR [METHOD] PATH"
        )));
    }
    Method::from_bytes(m.as_bytes()).map_err(|_| {
        Error::Usage(format!(
            "bad method '{}': a method is one word of letters, digits and !#$%&'*+-.^_`|~, \
             such as GET, POST, PUT, DELETE",
            m.escape_debug()
        ))
    })
}

/// The PATH argument: `/path?query`, `*`, or `http://HOST[:PORT]/path?query` (the host then
/// names the `Host` header). Returns the host, if any, and the origin-form target.
pub fn parse_target(target: &str) -> Result<(Option<String>, String)> {
    let bad = |why: &str| Error::Usage(format!("bad PATH '{}': {why}", target.escape_debug()));
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(bad(
            "sockbox http speaks plain HTTP; for TLS use curl, or relay the socket",
        ));
    }
    if target == "*" {
        return Ok((None, target.to_string()));
    }
    if lower.starts_with("http://") {
        let uri: Uri = target
            .parse()
            .map_err(|e| bad(&format!("not a URL ({e})")))?;
        let host = uri
            .authority()
            .map(|a| a.as_str().rsplit('@').next().unwrap_or("").to_string())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("the URL has no host"))?;
        return Ok((Some(host), origin_form(&uri)));
    }
    if !target.starts_with('/') {
        return Err(bad(
            "a path starts with '/' (or give a whole http://HOST/PATH URL)",
        ));
    }
    // What http::Uri accepts in origin form is what can go on the request line: no spaces,
    // no control characters. A #fragment is the client's business and is not sent (as curl
    // does); http::Uri drops it, whatever it holds.
    let uri = target.parse::<Uri>().map_err(|_| {
        bad("spaces, quotes and control characters must be percent-encoded (%20, %22, ...)")
    })?;
    Ok((None, origin_form(&uri)))
}

/// The request-line form of a URI: its path (`/` when it has none) and `?query`, without the
/// scheme, host or fragment.
fn origin_form(uri: &Uri) -> String {
    let path = match uri.path() {
        "" => "/",
        p => p,
    };
    match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

impl HeaderArg {
    /// `Name: value`, `Name:` (remove) or `Name;` (empty value), as curl's `-H` takes them.
    pub fn parse(arg: &str) -> Result<HeaderArg> {
        let bad = |why: String| Error::Usage(format!("bad header '{}': {why}", arg.escape_debug()));
        let name_of = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| {
                bad(if n.is_empty() {
                    "the name is empty".to_string()
                } else {
                    format!(
                        "'{}' is not a header name (one word of letters, digits and \
                         !#$%&'*+-.^_`|~)",
                        n.escape_debug()
                    )
                })
            })
        };
        match arg.split_once(':') {
            Some((name, value)) => {
                let name = name_of(name)?;
                let value = value.trim_matches([' ', '\t']);
                if value.is_empty() {
                    return Ok(HeaderArg::Remove(name));
                }
                let value = HeaderValue::from_str(value).map_err(|_| {
                    bad("the value holds a control character or a line break".to_string())
                })?;
                Ok(HeaderArg::Set(name, value))
            }
            None => match arg.strip_suffix(';') {
                Some(name) => Ok(HeaderArg::Set(name_of(name)?, HeaderValue::from_static(""))),
                None => Err(bad("no ':' (expected 'Name: value')".to_string())),
            },
        }
    }

    pub fn name(&self) -> &HeaderName {
        match self {
            HeaderArg::Set(n, _) | HeaderArg::Remove(n) => n,
        }
    }
}

/// A header name as HTTP/1.1 peers usually write it (`content-type` -> `Content-Type`), which
/// is how hyper sends them (`title_case_headers`).
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

impl fmt::Display for HeaderArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderArg::Set(n, v) => write!(
                f,
                "{}: {}",
                title_case(n.as_str()),
                String::from_utf8_lossy(v.as_bytes())
            ),
            HeaderArg::Remove(n) => write!(f, "{}:", title_case(n.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usage(r: Result<impl fmt::Debug>) -> String {
        match r {
            Err(e @ Error::Usage(_)) => e.to_string(),
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn headers_follow_curls_spellings() {
        assert_eq!(
            HeaderArg::parse("X-Test:  hello world \t").unwrap(),
            HeaderArg::Set(
                HeaderName::from_static("x-test"),
                HeaderValue::from_static("hello world")
            )
        );
        assert_eq!(
            HeaderArg::parse("Accept:").unwrap(),
            HeaderArg::Remove(HeaderName::from_static("accept"))
        );
        assert_eq!(
            HeaderArg::parse("X-Empty;").unwrap(),
            HeaderArg::Set(
                HeaderName::from_static("x-empty"),
                HeaderValue::from_static("")
            )
        );
        // Only the first colon splits: values may hold colons.
        assert_eq!(
            HeaderArg::parse("Host: [::1]:80").unwrap(),
            HeaderArg::Set(
                HeaderName::from_static("host"),
                HeaderValue::from_static("[::1]:80")
            )
        );
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        assert!(usage(HeaderArg::parse("NoColon")).contains("no ':'"));
        assert!(usage(HeaderArg::parse(": value")).contains("name is empty"));
        assert!(usage(HeaderArg::parse("Bad Name: v")).contains("not a header name"));
        assert!(usage(HeaderArg::parse("X: a\nb")).contains("line break"));
    }

    #[test]
    fn method_defaults_to_get_or_post_with_a_body() {
        let get = Request::parse(None, "/x", &[], Upload::None).unwrap();
        assert_eq!(get.method, Method::GET);
        let post = Request::parse(None, "/x", &[], Upload::from_data_arg("a=1")).unwrap();
        assert_eq!(post.method, Method::POST);
        assert_eq!(post.body, Upload::Data(Bytes::from_static(b"a=1")));
        let put = Request::parse(Some("PUT"), "/x", &[], Upload::Stdin).unwrap();
        assert_eq!(put.method, Method::PUT);
    }

    #[test]
    fn bad_methods_and_paths_are_usage_errors() {
        assert!(usage(parse_method("GE T")).contains("bad method"));
        assert!(usage(parse_method("/v1/x")).contains("is a path"));
        assert!(usage(parse_target("v1/x")).contains("starts with '/'"));
        assert!(usage(parse_target("/a b")).contains("percent-encoded"));
        assert!(usage(parse_target("https://localhost/")).contains("TLS"));
    }

    #[test]
    fn a_url_gives_its_host() {
        assert_eq!(
            parse_target("http://docker:2375/v1.43/info?x=1").unwrap(),
            (Some("docker:2375".into()), "/v1.43/info?x=1".into())
        );
        assert_eq!(
            parse_target("HTTP://localhost").unwrap(),
            (Some("localhost".into()), "/".into())
        );
        assert_eq!(parse_target("*").unwrap(), (None, "*".into()));
    }

    #[test]
    fn a_fragment_is_not_sent() {
        // Found by the http_args fuzz target: a control character after '#' passed the check
        // (http::Uri ignores the fragment) and went to -v and the request builder as written.
        assert_eq!(
            parse_target("/a?b=1#frag\u{16}").unwrap(),
            (None, "/a?b=1".into())
        );
        assert_eq!(
            parse_target("http://h/x#y").unwrap(),
            (Some("h".into()), "/x".into())
        );
        // Also found by the fuzzer: a URL with a query and no path needs the '/' too.
        assert_eq!(
            parse_target("http://h?q=1").unwrap(),
            (Some("h".into()), "/?q=1".into())
        );
    }

    #[test]
    fn data_arguments_follow_curl() {
        assert_eq!(Upload::from_data_arg("@-"), Upload::Stdin);
        assert_eq!(
            Upload::from_data_arg("@/tmp/f"),
            Upload::File("/tmp/f".into())
        );
        assert_eq!(Upload::from_file_arg("-"), Upload::Stdin);
        assert_eq!(Upload::from_file_arg("f"), Upload::File("f".into()));
    }

    #[test]
    fn title_case_is_what_goes_on_the_wire() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-a-b"), "X-A-B");
        assert_eq!(title_case("te"), "Te");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any string: a header, a method or a path parses or is a usage error; never a panic.
        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}|[ -~]{0,40}") {
            for r in [
                HeaderArg::parse(&s).map(drop),
                parse_method(&s).map(drop),
                parse_target(&s).map(drop),
            ] {
                if let Err(e) = r {
                    prop_assert!(e.is_usage(), "{e}");
                }
            }
        }

        /// A token name and a printable value come back as written (name in lower case, value
        /// without the surrounding blanks).
        #[test]
        fn set_headers_round_trip(
            name in "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}",
            value in "[!-~]([ -~]{0,30}[!-~])?",
            pad in "[ \t]{0,3}",
        ) {
            let parsed = HeaderArg::parse(&format!("{name}:{pad}{value}{pad}")).unwrap();
            match parsed {
                HeaderArg::Set(n, v) => {
                    prop_assert_eq!(n.as_str(), name.to_ascii_lowercase());
                    prop_assert_eq!(v.as_bytes(), value.as_bytes());
                }
                other => prop_assert!(false, "parsed as {other:?}"),
            }
        }
    }
}
