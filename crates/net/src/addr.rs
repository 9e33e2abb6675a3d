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

pub use parse::completion_words;
pub(crate) use parse::escape_value;
pub use parse::{parse_duration, parse_retry, parse_size, AddrError, BAUD_RATES, HELP};

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

/// The protocol a proxy client speaks to its proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyProtocol {
    /// SOCKS 5 (RFC 1928), the target's name resolved by the proxy; `auth=` is RFC 1929
    /// user/password authentication.
    Socks5,
    /// SOCKS 4a: SOCKS 4 with the target's name resolved by the proxy.
    Socks4a,
    /// SOCKS 4: the target resolved here, to an IPv4 address.
    Socks4,
    /// HTTP `CONNECT` (RFC 9110), with basic authentication when `auth=` is given.
    HttpConnect,
}

impl ProxyProtocol {
    /// The port a proxy of this kind listens on when none is given (socat's and ncat's
    /// defaults: 1080 for SOCKS, 8080 for HTTP as socat's `PROXY:` has it).
    pub fn default_port(self) -> u16 {
        match self {
            ProxyProtocol::HttpConnect => 8080,
            _ => 1080,
        }
    }
}

/// Target of a proxied connection: `PROXYHOST[:PROXYPORT]/HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProxyTarget {
    pub protocol: ProxyProtocol,
    /// The proxy's host, IPv6 without brackets.
    pub proxy_host: String,
    /// The proxy's port; `None` until given, [`ProxyProtocol::default_port`] then.
    pub proxy_port: Option<u16>,
    /// Where the proxy is asked to connect: a name or an IP literal (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl ProxyTarget {
    /// The proxy's port, given or default.
    pub fn proxy_port(&self) -> u16 {
        self.proxy_port
            .unwrap_or_else(|| self.protocol.default_port())
    }
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
    /// `socks5:`, `socks4a:`, `socks4:`, `http-connect:` `PROXY[:PORT]/HOST:PORT`: a TCP
    /// connection to HOST:PORT made by a proxy.
    Proxy(ProxyTarget),
    /// `pty`: a new pseudo-terminal; its slave is for someone else to open (`link=`).
    Pty,
    /// `tty:PATH`: a serial line or any terminal device, with termios settings.
    Tty(PathBuf),
    /// `readline`: the user's terminal with line editing and history (stdio elsewhere).
    Readline,
    /// `R!!W`: read from one address, write to another (socat's dual address).
    Dual(Dual),
}

/// The two halves of a dual address `R!!W`: what is read comes from `read`, what is written
/// goes to `write`. Both are opened as clients (connect role); built only through
/// [`Dual::new`], which refuses halves that cannot be combined.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dual {
    read: Box<Address>,
    write: Box<Address>,
}

impl Dual {
    /// Combines `read` and `write`, or says in one line why they cannot be: a half that
    /// listens (or serves datagrams), a half that is itself dual, a read half that only
    /// writes (`file:X,append`, or a program, whose command line would run on to the end of
    /// the address), a write half that only reads (`file:X,follow`), or halves that disagree
    /// on byte stream or messages. Their roles are dropped: both halves connect.
    pub fn new(mut read: Address, mut write: Address) -> Result<Dual, String> {
        for (half, a) in [("read", &read), ("write", &write)] {
            if a.role == Some(Role::Listen) {
                return Err(format!(
                    "its {half} half {a} listens; both halves of R!!W are opened as clients \
                     (put a listening address on the other side of the relay)"
                ));
            }
            match &a.endpoint {
                Endpoint::Dual(_) => {
                    return Err(format!(
                        "its {half} half {a} is dual itself; an address has one '!!'"
                    ))
                }
                Endpoint::Tcp(t) | Endpoint::Udp(t) if t.host.is_none() => {
                    return Err(format!(
                        "its {half} half {a} names no host; each half is connected to \
                         (HOST:PORT)"
                    ))
                }
                Endpoint::Icmp { .. } => {
                    return Err(format!(
                        "its {half} half {a} is for `sockbox ping`, not for connecting"
                    ))
                }
                _ => {}
            }
        }
        if let Endpoint::Exec(_) | Endpoint::Sh(_) = read.endpoint {
            return Err(format!(
                "its read half {read} is a program, whose command line runs to the end of the \
                 address; a program can be the write half (R!!exec:PROG)"
            ));
        }
        if read.options.write.is_some() && !read.options.follow {
            let w = read.options.write.map_or("", |w| w.option_name());
            return Err(format!(
                "its read half {read} only writes ({w}); add follow to read it as it grows"
            ));
        }
        if write.options.follow {
            return Err(format!(
                "its write half {write} only reads (follow); give creat, trunc or append"
            ));
        }
        if read.carries_messages() != write.carries_messages()
            || read.options.frame != write.options.frame
        {
            return Err(format!(
                "its halves {read} and {write} differ: one is a byte stream and the other \
                 carries messages (or their frame= differs); relay them apart instead"
            ));
        }
        read.role = None;
        write.role = None;
        Ok(Dual {
            read: Box::new(read),
            write: Box::new(write),
        })
    }

    /// The address read from.
    pub fn read(&self) -> &Address {
        &self.read
    }

    /// The address written to.
    pub fn write(&self) -> &Address {
        &self.write
    }
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
    /// `crlf` (byte streams): lines end in CR LF on this side: LF written as CR LF, CR LF read
    /// as LF (socat's `crlf`); `crlf=send` converts only what is written (nc's `-C`).
    pub crlf: Option<Crlf>,
    /// `follow` (file): read on past the end, as `tail -f` does (socat's `ignoreeof`).
    pub follow: bool,
    /// `proxyport=PORT`: the proxy's port, for socat's `SOCKS4A:PROXY:HOST:PORT,socksport=N`.
    /// Parsing moves it into the target ([`ProxyTarget::proxy_port`]); it is `None` after.
    pub proxyport: Option<u16>,
    /// `auth=USER[:PASS]`: credentials for a proxy (SOCKS 5 user/password, the SOCKS 4 user
    /// id, HTTP basic authentication).
    pub auth: Option<String>,
    /// SO_BROADCAST (udp): may send to a broadcast address.
    pub broadcast: bool,
    /// `join=GROUP[%IFACE]` (udp): join a multicast group (IPv4 or IPv6), on one interface.
    pub join: Option<MulticastGroup>,
    /// IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS (udp): how far multicast sent from here goes.
    pub multicast_ttl: Option<u32>,
    /// IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP (udp): whether this host's own receivers get
    /// what it sends to a group.
    pub multicast_loop: Option<bool>,
    /// IP_MULTICAST_IF / IPV6_MULTICAST_IF (udp): the interface multicast is sent on.
    pub multicast_if: Option<String>,
    /// `merge` (a udp or unix-dgram socket listened on): one connection for every sender,
    /// opened at once, instead of one per sender opened on its first datagram; what is sent
    /// back to it is dropped, there being no one peer to answer (socat's `UDP-RECV`).
    pub merge: bool,
    /// Terminal settings and the options of the terminal kinds (pty, tty, exec with a pty,
    /// readline).
    pub terminal: TermOptions,
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

/// A multicast group to join, with the interface to join it on (the default route's when
/// none is given).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MulticastGroup {
    pub group: std::net::IpAddr,
    /// An interface name (`lo`, `eth0`).
    pub iface: Option<String>,
}

impl fmt::Display for MulticastGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.group)?;
        if let Some(i) = &self.iface {
            write!(f, "%{i}")?;
        }
        Ok(())
    }
}

/// Options of the terminal kinds: termios settings (pty, tty, and exec with `pty`), the pty's
/// link and wait, how exec runs its program, and readline's prompt and history. A setting
/// not given (`None`, `false`) leaves the terminal as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TermOptions {
    /// `raw`: cfmakeraw(3): no line editing, no echo, no signals from keys, 8 bits.
    pub raw: bool,
    /// `echo=0|1`: ECHO.
    pub echo: Option<bool>,
    /// `b115200` or `baud=115200`: input and output speed, one of termios' standard rates.
    pub baud: Option<u32>,
    /// `cs5` ... `cs8`: bits per character (CSIZE).
    pub charsize: Option<u8>,
    /// `parenb=0|1`: parity bit (PARENB).
    pub parenb: Option<bool>,
    /// `cstopb=0|1`: two stop bits (CSTOPB).
    pub cstopb: Option<bool>,
    /// `crtscts=0|1`: RTS/CTS hardware flow control.
    pub crtscts: Option<bool>,
    /// `clocal=0|1`: ignore modem control lines (CLOCAL).
    pub clocal: Option<bool>,
    /// `link=PATH` (pty): a symbolic link to the slave, removed on exit.
    pub link: Option<PathBuf>,
    /// `wait-slave` (pty): read nothing until someone opens the slave; its last close ends
    /// the stream.
    pub wait_slave: bool,
    /// `pty` (exec): the program runs on a new pseudo-terminal instead of a socket pair.
    pub pty: bool,
    /// `stderr` (exec): the program's stderr goes where its stdout goes.
    pub stderr: bool,
    /// `setsid` (exec): the program starts a new session.
    pub setsid: bool,
    /// `ctty` (exec with pty): the pty becomes the program's controlling terminal (implies
    /// setsid).
    pub ctty: bool,
    /// `sigint` (exec with pty): Ctrl-C (byte 0x03) from the peer reaches the program as
    /// SIGINT: the line discipline's signals on, with ctty and setsid.
    pub sigint: bool,
    /// `prompt=TEXT` (readline).
    pub prompt: Option<String>,
    /// `history=PATH` (readline): the history file, instead of the one in the state directory.
    pub history: Option<PathBuf>,
}

impl TermOptions {
    /// True when any termios setting is given.
    pub fn sets_termios(&self) -> bool {
        self.raw
            || self.echo.is_some()
            || self.baud.is_some()
            || self.charsize.is_some()
            || self.parenb.is_some()
            || self.cstopb.is_some()
            || self.crtscts.is_some()
            || self.clocal.is_some()
            || self.sigint
    }
}

/// Which ways `crlf` converts line ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Crlf {
    /// LF written as CR LF, CR LF read as LF.
    Both,
    /// LF written as CR LF; what is read is left alone.
    Send,
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
            Endpoint::Proxy(p) => match p.protocol {
                ProxyProtocol::Socks5 => "socks5",
                ProxyProtocol::Socks4a => "socks4a",
                ProxyProtocol::Socks4 => "socks4",
                ProxyProtocol::HttpConnect => "http-connect",
            },
            Endpoint::Pty => "pty",
            Endpoint::Tty(_) => "tty",
            Endpoint::Readline => "readline",
            Endpoint::Dual(_) => "dual",
        }
    }

    /// Byte stream or messages, before any `frame=` is applied.
    pub fn transfer(&self) -> Transfer {
        match self {
            Endpoint::Udp(_)
            | Endpoint::Unix(UnixType::Dgram | UnixType::Seqpacket, _)
            | Endpoint::Icmp { .. } => Transfer::Message,
            Endpoint::Tcp(_)
            | Endpoint::Proxy(_)
            | Endpoint::Unix(UnixType::Stream, _)
            | Endpoint::Fifo(_)
            | Endpoint::File(_)
            | Endpoint::Exec(_)
            | Endpoint::Sh(_)
            | Endpoint::Stdio
            | Endpoint::Pty
            | Endpoint::Tty(_)
            | Endpoint::Readline => Transfer::Stream,
            Endpoint::Dual(d) => d.read.endpoint.transfer(),
        }
    }

    /// True for the kinds whose connect may be retried (`retry=`, `interval=`): tcp*, unix,
    /// unix-dgram, seqpacket.
    pub fn retries(&self) -> bool {
        matches!(
            self,
            Endpoint::Tcp(_) | Endpoint::Unix(..) | Endpoint::Proxy(_)
        )
    }

    /// True for kinds that are sockets (as opposed to pipes, files, processes, stdio).
    pub fn is_socket(&self) -> bool {
        matches!(
            self,
            Endpoint::Tcp(_)
                | Endpoint::Udp(_)
                | Endpoint::Unix(..)
                | Endpoint::Icmp { .. }
                | Endpoint::Proxy(_)
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
        if let Endpoint::Dual(d) = &self.endpoint {
            return d.read.carries_messages();
        }
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
