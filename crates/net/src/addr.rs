//! The address grammar: one string names any endpoint sockbox can open.
//!
//! ```text
//! ADDRESS := [ROLE ":"] KIND ":" TARGET ("," OPTION)*      OPTION := NAME ["=" VALUE]
//! ```
//!
//! [`Address`] is the parsed form: a [`Role`] (only when the user wrote `listen:` or
//! `connect:`), an [`Endpoint`] (what to open) and the [`Options`] that apply to it.
//! `FromStr` and `Display` round-trip: `Display` prints the canonical spelling, so socat
//! spellings such as `TCP-LISTEN:8080` come back as `listen:tcp:8080`.
//! Parsing also validates: an option that does not apply to the kind is an error naming the
//! kinds it applies to, and a misspelt kind or option gets a did-you-mean.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

mod parse;

pub use parse::{parse_duration, parse_retry, parse_size, AddrError, HELP};

/// Which IP versions an inet endpoint may use (`tcp` / `tcp4` / `tcp6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// `tcp`, `udp`: resolve and try every address.
    Any,
    /// `tcp4`, `udp4`.
    V4,
    /// `tcp6`, `udp6`.
    V6,
}

/// Target of a TCP or UDP endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InetTarget {
    pub version: IpVersion,
    /// Host name or IP literal, IPv6 without brackets. `None` when only a port was given
    /// (`tcp:8080`), which means "every address" to listen and is an error to connect.
    pub host: Option<String>,
    pub port: u16,
}

/// Where a Unix-domain socket lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixName {
    /// A filesystem path, absolute or relative, as written.
    Path(PathBuf),
    /// Linux abstract namespace, written `@name`; the stored name excludes the `@`.
    Abstract(String),
}

/// The socket type of a Unix-domain endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnixType {
    /// `unix`: SOCK_STREAM.
    Stream,
    /// `unix-dgram`: SOCK_DGRAM.
    Dgram,
    /// `seqpacket`: SOCK_SEQPACKET.
    Seqpacket,
}

/// What to open. One variant per kind of the grammar; a new family is a new variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `tcp`, `tcp4`, `tcp6`.
    Tcp(InetTarget),
    /// `udp`, `udp4`, `udp6`.
    Udp(InetTarget),
    /// `unix`, `unix-dgram`, `seqpacket`.
    Unix(UnixType, UnixName),
    /// `fifo:PATH`: a named pipe; listening creates it (mkfifo).
    Fifo(PathBuf),
    /// `file:PATH`: read from / write to a regular file.
    File(PathBuf),
    /// `exec:PROG ARGS`: a child process, argv split like a shell would, but no shell runs.
    Exec(Vec<String>),
    /// `sh:LINE`: a child `/bin/sh -c LINE`.
    Sh(String),
    /// `-` or `stdio`.
    Stdio,
    /// `icmp:HOST` / `icmp6:HOST` (used by ping).
    Icmp { v6: bool, host: String },
}

/// Whether an address is listened on or connected to, when the user said so explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Listen,
    Connect,
}

/// How a byte stream is cut into messages (`frame=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// 4-byte big-endian length, then that many bytes.
    Len32,
    /// 2-byte big-endian length, then that many bytes.
    Len16,
    /// Newline-terminated lines; the newline is not part of the message.
    Line,
}

/// Per-address options. Every field is "not given" by default; parsing rejects an option
/// the endpoint's kind does not support.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// SO_REUSEADDR (tcp, udp). Listening TCP sockets set it anyway, as every server does.
    pub reuseaddr: bool,
    /// SO_REUSEPORT (tcp, udp).
    pub reuseport: bool,
    /// TCP_NODELAY (tcp).
    pub nodelay: bool,
    /// SO_KEEPALIVE (tcp).
    pub keepalive: bool,
    /// IPV6_V6ONLY (tcp, udp).
    pub v6only: bool,
    /// Local address to bind before connecting: `HOST[:PORT]` for inet (`[v6]:port`),
    /// a path or `@name` for unix kinds. Kept as written; checked when opened.
    pub bind: Option<String>,
    /// SO_BINDTODEVICE (tcp, udp).
    pub dev: Option<String>,
    /// SO_RCVBUF in bytes (sockets).
    pub rcvbuf: Option<usize>,
    /// SO_SNDBUF in bytes (sockets).
    pub sndbuf: Option<usize>,
    /// listen(2) backlog (tcp, unix, seqpacket).
    pub backlog: Option<u32>,
    /// Connect timeout (tcp, unix, seqpacket).
    pub timeout: Option<Duration>,
    /// Permission bits of a socket file or FIFO (`mode=0660`).
    pub mode: Option<u32>,
    /// Owner of a socket file or FIFO, user name or numeric uid.
    pub owner: Option<String>,
    /// Group of a socket file or FIFO, group name or numeric gid.
    pub group: Option<String>,
    /// How this byte stream is framed into messages (stream kinds).
    pub frame: Option<Framing>,
    /// `file:` opened for writing whether or not it exists (`creat`, `trunc`, `append`),
    /// instead of "an existing file is read, a new one written".
    pub write: Option<FileWrite>,
    /// Try connecting again when the connect fails for a reason that may pass (connecting
    /// kinds: tcp, unix, unix-dgram, seqpacket).
    pub retry: Option<Retry>,
    /// The wait before the first retry (1 s by default); later waits grow (see
    /// [`crate::endpoint::connect`]).
    pub interval: Option<Duration>,
    /// TLS over this byte stream (`tls`; the kind `tls:HOST:PORT` is `tcp:HOST:PORT,tls`),
    /// client or server side by the role (see [`crate::endpoint::tls`]).
    pub tls: bool,
    /// `cert=`: PEM certificate chain to present (server, or client certificate).
    pub cert: Option<PathBuf>,
    /// `key=`: PEM private key of `cert=`.
    pub key: Option<PathBuf>,
    /// `cafile=`: PEM CA certificates: the only ones a client trusts; a server with it
    /// requires client certificates signed by them (mTLS).
    pub cafile: Option<PathBuf>,
    /// `verify=0`: the client does not check the server's certificate.
    pub no_verify: bool,
    /// `sni=`: the server name sent and checked, instead of the host of the address.
    pub sni: Option<String>,
    /// `alpn=`: protocols offered (client) or accepted (server), in order of preference;
    /// written with ':' between them (`alpn=h2:http/1.1`), as ',' separates options.
    pub alpn: Option<Vec<String>>,
}

/// How `file:` opens a file for writing; each creates a missing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileWrite {
    /// `creat`: written from the start, existing bytes past the end of what is written kept
    /// (socat's `creat`, `O_CREAT` alone).
    Create,
    /// `trunc`: emptied first (`O_TRUNC`).
    Truncate,
    /// `append`: written at the end (`O_APPEND`).
    Append,
}

impl FileWrite {
    /// The option that says it.
    pub fn option_name(self) -> &'static str {
        match self {
            FileWrite::Create => "creat",
            FileWrite::Truncate => "trunc",
            FileWrite::Append => "append",
        }
    }
}

/// How often a failed connect is tried again (`retry=N`, `retry=forever`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Retry {
    /// At most this many retries after the first attempt (socat's `retry=N`).
    Times(u32),
    /// Until it succeeds (socat's `forever`).
    Forever,
}

/// A parsed address: `[ROLE:]KIND:TARGET[,OPTION...]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    pub role: Option<Role>,
    pub endpoint: Endpoint,
    pub options: Options,
}

/// Whether the kind moves a byte stream or keeps message boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Stream,
    Message,
}

impl Endpoint {
    /// The canonical kind name, as `Display` prints it (`tcp6`, `unix-dgram`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Endpoint::Tcp(t) => match t.version {
                IpVersion::Any => "tcp",
                IpVersion::V4 => "tcp4",
                IpVersion::V6 => "tcp6",
            },
            Endpoint::Udp(t) => match t.version {
                IpVersion::Any => "udp",
                IpVersion::V4 => "udp4",
                IpVersion::V6 => "udp6",
            },
            Endpoint::Unix(UnixType::Stream, _) => "unix",
            Endpoint::Unix(UnixType::Dgram, _) => "unix-dgram",
            Endpoint::Unix(UnixType::Seqpacket, _) => "seqpacket",
            Endpoint::Fifo(_) => "fifo",
            Endpoint::File(_) => "file",
            Endpoint::Exec(_) => "exec",
            Endpoint::Sh(_) => "sh",
            Endpoint::Stdio => "stdio",
            Endpoint::Icmp { v6: false, .. } => "icmp",
            Endpoint::Icmp { v6: true, .. } => "icmp6",
        }
    }

    /// Byte stream or messages, before any `frame=` is applied.
    pub fn transfer(&self) -> Transfer {
        match self {
            Endpoint::Udp(_)
            | Endpoint::Unix(UnixType::Dgram | UnixType::Seqpacket, _)
            | Endpoint::Icmp { .. } => Transfer::Message,
            Endpoint::Tcp(_)
            | Endpoint::Unix(UnixType::Stream, _)
            | Endpoint::Fifo(_)
            | Endpoint::File(_)
            | Endpoint::Exec(_)
            | Endpoint::Sh(_)
            | Endpoint::Stdio => Transfer::Stream,
        }
    }

    /// True for the kinds whose connect may be retried (`retry=`, `interval=`): tcp*, unix,
    /// unix-dgram, seqpacket.
    pub fn retries(&self) -> bool {
        matches!(self, Endpoint::Tcp(_) | Endpoint::Unix(..))
    }

    /// True for kinds that are sockets (as opposed to pipes, files, processes, stdio).
    pub fn is_socket(&self) -> bool {
        matches!(
            self,
            Endpoint::Tcp(_) | Endpoint::Udp(_) | Endpoint::Unix(..) | Endpoint::Icmp { .. }
        )
    }
}

impl Address {
    /// The address with no role and no options.
    pub fn new(endpoint: Endpoint) -> Self {
        Address {
            role: None,
            endpoint,
            options: Options::default(),
        }
    }

    /// Messages as seen by the relay: a message kind, or a stream kind with `frame=`.
    pub fn carries_messages(&self) -> bool {
        self.endpoint.transfer() == Transfer::Message || self.options.frame.is_some()
    }

    /// Take `retry` and `interval` as defaults (a verb's `--retry`, `--retry-interval`): each
    /// is set when the address has none of its own and its kind can retry.
    pub fn default_retry(&mut self, retry: Option<Retry>, interval: Option<Duration>) {
        if self.endpoint.retries() {
            self.options.retry = self.options.retry.or(retry);
            self.options.interval = self.options.interval.or(interval);
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Listen => "listen",
            Role::Connect => "connect",
        })
    }
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retry::Times(n) => write!(f, "{n}"),
            Retry::Forever => f.write_str("forever"),
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::Len32 => "len32",
            Framing::Len16 => "len16",
            Framing::Line => "line",
        })
    }
}

impl fmt::Display for UnixName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixName::Path(p) => write!(f, "{}", p.display()),
            UnixName::Abstract(n) => write!(f, "@{n}"),
        }
    }
}
