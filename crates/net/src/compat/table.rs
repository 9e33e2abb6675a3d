//! The one table of other tools' spellings: every socat address type, every socat address
//! option (as Debian's socat 1.7.4 documents them), every socat command-line option, and every
//! nc / ncat flag sockbox knows, each with what sockbox does with it.
//!
//! Three readers, so they cannot drift: the native address parser (`addr/parse.rs`) takes
//! socat's address words and option synonyms from here; the front ends (`socat.rs`, `nc.rs`)
//! translate with it; and `docs/compat.md` is rendered from it (`doc.rs`), with a test that
//! fails when the file and the table disagree.

pub use crate::addr::FileWrite;
use crate::addr::Role;

/// What sockbox does with one spelling of another tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The same thing in sockbox's grammar, under this native spelling.
    Native(&'static str),
    /// The front end turns it into this (a native flag, option or verb).
    Mapped(&'static str),
    /// Accepted and ignored: sockbox needs nothing for it, because ...
    NoOp(&'static str),
    /// Refused with exit 2: why, and the nearest thing sockbox does.
    Refused(&'static str),
}

/// How a socat address word's target is read by the native parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The kind's own grammar.
    Plain,
    /// socat's inet `*-LISTEN`, `*-RECV*`: a port only; a plain `bind=HOST` becomes the host.
    PortOnly,
    /// socat's `ABSTRACT-*`: an abstract name written without the `@`.
    AbstractName,
}

/// Which way data may flow through a socat address of its own accord (`STDIN` only reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Both,
    ReadOnly,
    WriteOnly,
}

/// What a socat address word opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opens {
    /// A native kind (its canonical name), with the role the word implies.
    Kind {
        kind: &'static str,
        role: Option<Role>,
        form: Form,
        flow: Flow,
        /// socat's `*-RECV`: every sender's datagrams merged into one connection, opened at
        /// once (the native `merge` option), not one conversation per sender.
        merge: bool,
    },
    /// `GOPEN:` and a bare path: a socket file connects, a FIFO or a file opens.
    Generic,
    /// `OPEN:` / `FILE:` / `CREATE:`: a file (a Unix socket there is an error, as in socat).
    File { create: bool },
    /// `ECHO` (and `PIPE` with no name): what is written to it is read back. Not an
    /// endpoint of its own in sockbox: the other side's verb gets `--echo` (`listen`,
    /// `connect`), and stdio against it is cat.
    Echo,
    /// Not done by sockbox: why, and the nearest thing it does.
    Refused(&'static str),
}

/// A socat address type: its spellings (the first is socat's own) and what it opens.
pub struct SocatAddress {
    pub names: &'static [&'static str],
    pub opens: Opens,
}

const L: Option<Role> = Some(Role::Listen);
const C: Option<Role> = Some(Role::Connect);

const fn kind(
    names: &'static [&'static str],
    kind: &'static str,
    role: Option<Role>,
    form: Form,
) -> SocatAddress {
    SocatAddress {
        names,
        opens: Opens::Kind {
            kind,
            role,
            form,
            flow: Flow::Both,
            merge: false,
        },
    }
}

/// socat's `*-RECV`: a datagram socket listened on, every sender merged (`merge`).
const fn merged(names: &'static [&'static str], kind: &'static str, form: Form) -> SocatAddress {
    SocatAddress {
        names,
        opens: Opens::Kind {
            kind,
            role: L,
            form,
            flow: Flow::Both,
            merge: true,
        },
    }
}

const fn refused(names: &'static [&'static str], why: &'static str) -> SocatAddress {
    SocatAddress {
        names,
        opens: Opens::Refused(why),
    }
}

const SCTP: &str = "sockbox has no SCTP endpoints; nearest: tcp: (a byte stream) or seqpacket: \
                    (messages, local only)";
const RAW_IP: &str = "sockbox does not relay raw IP datagrams; nearest: udp: for datagrams, \
                      `sockbox ping` for ICMP";
const GENERIC_SOCKET: &str = "sockbox names sockets by kind, not by domain/type/protocol \
                              numbers; nearest: the tcp:, udp:, unix:, unix-dgram: and \
                              seqpacket: kinds";

/// Every socat address type, by socat 1.7.4's names and aliases.
pub const SOCAT_ADDRESSES: &[SocatAddress] = &[
    SocatAddress {
        names: &["stdio", "-"],
        opens: Opens::Kind {
            kind: "stdio",
            role: None,
            form: Form::Plain,
            flow: Flow::Both,
            merge: false,
        },
    },
    SocatAddress {
        names: &["stdin"],
        opens: Opens::Kind {
            kind: "stdio",
            role: None,
            form: Form::Plain,
            flow: Flow::ReadOnly,
            merge: false,
        },
    },
    SocatAddress {
        names: &["stdout"],
        opens: Opens::Kind {
            kind: "stdio",
            role: None,
            form: Form::Plain,
            flow: Flow::WriteOnly,
            merge: false,
        },
    },
    refused(
        &["stderr"],
        "sockbox writes a relay's output to stdout only; nearest: STDOUT with 1>&2",
    ),
    kind(&["tcp", "tcp-connect", "inet"], "tcp", C, Form::Plain),
    kind(&["tcp4", "tcp4-connect", "inet4"], "tcp4", C, Form::Plain),
    kind(&["tcp6", "tcp6-connect", "inet6"], "tcp6", C, Form::Plain),
    kind(
        &["tcp-listen", "tcp-l", "inet-listen", "inet-l"],
        "tcp",
        L,
        Form::PortOnly,
    ),
    kind(
        &["tcp4-listen", "tcp4-l", "inet4-listen", "inet4-l"],
        "tcp4",
        L,
        Form::PortOnly,
    ),
    kind(
        &["tcp6-listen", "tcp6-l", "inet6-listen", "inet6-l"],
        "tcp6",
        L,
        Form::PortOnly,
    ),
    kind(&["udp", "udp-connect"], "udp", C, Form::Plain),
    kind(&["udp4", "udp4-connect"], "udp4", C, Form::Plain),
    kind(&["udp6", "udp6-connect"], "udp6", C, Form::Plain),
    kind(&["udp-sendto", "udp-send"], "udp", C, Form::Plain),
    kind(&["udp4-sendto", "udp4-send"], "udp4", C, Form::Plain),
    kind(&["udp6-sendto", "udp6-send"], "udp6", C, Form::Plain),
    kind(&["udp-datagram", "udp-dgram"], "udp", C, Form::Plain),
    kind(&["udp4-datagram", "udp4-dgram"], "udp4", C, Form::Plain),
    kind(&["udp6-datagram", "udp6-dgram"], "udp6", C, Form::Plain),
    kind(&["udp-listen", "udp-l"], "udp", L, Form::PortOnly),
    kind(&["udp4-listen", "udp4-l"], "udp4", L, Form::PortOnly),
    kind(&["udp6-listen", "udp6-l"], "udp6", L, Form::PortOnly),
    kind(&["udp-recvfrom"], "udp", L, Form::PortOnly),
    kind(&["udp4-recvfrom"], "udp4", L, Form::PortOnly),
    kind(&["udp6-recvfrom"], "udp6", L, Form::PortOnly),
    merged(&["udp-recv"], "udp", Form::PortOnly),
    merged(&["udp4-recv"], "udp4", Form::PortOnly),
    merged(&["udp6-recv"], "udp6", Form::PortOnly),
    kind(&["unix-connect"], "unix", C, Form::Plain),
    kind(&["unix-client", "unix", "local"], "unix", C, Form::Plain),
    kind(&["unix-listen", "unix-l"], "unix", L, Form::Plain),
    kind(&["unix-sendto", "unix-send"], "unix-dgram", C, Form::Plain),
    kind(&["unix-recvfrom"], "unix-dgram", L, Form::Plain),
    merged(&["unix-recv"], "unix-dgram", Form::Plain),
    kind(
        &["abstract-connect", "abstract-client", "abstract"],
        "unix",
        C,
        Form::AbstractName,
    ),
    kind(&["abstract-listen"], "unix", L, Form::AbstractName),
    kind(&["abstract-sendto"], "unix-dgram", C, Form::AbstractName),
    kind(&["abstract-recvfrom"], "unix-dgram", L, Form::AbstractName),
    merged(&["abstract-recv"], "unix-dgram", Form::AbstractName),
    kind(&["exec"], "exec", None, Form::Plain),
    kind(&["system"], "sh", None, Form::Plain),
    kind(&["pipe", "fifo"], "fifo", None, Form::Plain),
    SocatAddress {
        names: &["open", "file"],
        opens: Opens::File { create: false },
    },
    SocatAddress {
        names: &["create", "creat"],
        opens: Opens::File { create: true },
    },
    SocatAddress {
        names: &["gopen"],
        opens: Opens::Generic,
    },
    refused(
        &["fd"],
        "sockbox opens its endpoints itself; nearest: `listen --inherit` for a listening socket \
         handed over, stdio (-) for descriptors 0 and 1",
    ),
    kind(&["pty"], "pty", None, Form::Plain),
    kind(&["readline"], "readline", None, Form::Plain),
    kind(
        &["openssl", "openssl-connect", "openssl-client", "ssl"],
        "tls",
        C,
        Form::Plain,
    ),
    kind(
        &["openssl-listen", "openssl-server", "ssl-l", "ssl-s"],
        "tls",
        L,
        Form::PortOnly,
    ),
    refused(
        &["openssl-dtls-client", "openssl-dtls-server"],
        "sockbox has no DTLS; nearest: udp: without encryption",
    ),
    kind(&["proxy", "proxy-connect"], "http-connect", C, Form::Plain),
    kind(
        &["socks4", "socks4-client", "socks", "socks-client"],
        "socks4",
        C,
        Form::Plain,
    ),
    kind(&["socks4a", "socks4a-client"], "socks4a", C, Form::Plain),
    kind(
        &["socks5", "socks5-client", "socks5-connect"],
        "socks5",
        C,
        Form::Plain,
    ),
    refused(
        &[
            "sctp-connect",
            "sctp",
            "sctp4-connect",
            "sctp4",
            "sctp6-connect",
            "sctp6",
            "sctp-listen",
            "sctp-l",
            "sctp4-listen",
            "sctp4-l",
            "sctp6-listen",
            "sctp6-l",
        ],
        SCTP,
    ),
    refused(
        &[
            "ip-sendto",
            "ip",
            "ip-send",
            "ip4-sendto",
            "ip4",
            "ip4-send",
            "ip6-sendto",
            "ip6",
            "ip6-send",
            "ip-datagram",
            "ip-dgram",
            "ip4-datagram",
            "ip4-dgram",
            "ip6-datagram",
            "ip6-dgram",
            "ip-recvfrom",
            "ip4-recvfrom",
            "ip6-recvfrom",
            "ip-recv",
            "ip4-recv",
            "ip6-recv",
        ],
        RAW_IP,
    ),
    refused(
        &["interface", "if"],
        "sockbox does not open packet sockets on an interface; nearest: `sockbox ls --packet` \
         to see them, tshark to capture",
    ),
    refused(
        &[
            "socket-connect",
            "socket-listen",
            "socket-sendto",
            "socket-recvfrom",
            "socket-recv",
            "socket-datagram",
            "sendto",
            "datagram",
            "dgram",
        ],
        GENERIC_SOCKET,
    ),
    refused(
        &["tun"],
        "sockbox does not create TUN devices; nearest: ip tuntap, then relay its traffic with \
         udp: endpoints",
    ),
    refused(
        &["vsock-connect", "vsock-listen"],
        "sockbox has no AF_VSOCK endpoints yet; nearest: socat for VM sockets",
    ),
    SocatAddress {
        names: &["echo"],
        opens: Opens::Echo,
    },
    refused(
        &["nop", "test", "testrev", "testuni"],
        "a socat-internal address; nearest: `sockbox listen ADDR --echo` for an echo server",
    ),
];

/// What a socat address option becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocatOption {
    pub names: &'static [&'static str],
    pub verdict: Verdict,
    /// What the front end does with it, beyond [`Verdict`] (only for `Mapped`).
    pub effect: Effect,
}

/// The front end's action for a mapped option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// `fork`: serve client after client (without it, one client and exit).
    Fork,
    /// `range=CIDR`: `--allow-ip CIDR`.
    Range,
    /// `max-children=N`: `--max-conns N`.
    MaxChildren,
    /// `creat`, `trunc`, `append` on OPEN/GOPEN: a file opened for writing.
    FileWrite(FileWrite),
    /// `pf=ip4|ip6`: the IP version of a tcp/udp/tls address.
    Family,
}

const fn opt(names: &'static [&'static str], verdict: Verdict) -> SocatOption {
    SocatOption {
        names,
        verdict,
        effect: Effect::None,
    }
}

const fn mapped(names: &'static [&'static str], to: &'static str, effect: Effect) -> SocatOption {
    SocatOption {
        names,
        verdict: Verdict::Mapped(to),
        effect,
    }
}

const PRIVILEGE: Verdict = Verdict::Refused(
    "sockbox does not change user, group or root directory itself; run it as that user \
     (setpriv, runuser, systemd's User=)",
);
const LOCKING: Verdict =
    Verdict::Refused("sockbox takes no file locks; nearest: flock(1) around the command");
const FILE_FLAG: Verdict =
    Verdict::Refused("sockbox opens files plainly; nearest: file: with append, trunc or creat");
const FS_ATTR: Verdict =
    Verdict::Refused("sockbox sets no file-system attributes; nearest: chattr(1) afterwards");
const IOCTL: Verdict = Verdict::Refused("sockbox issues no arbitrary ioctls");
const TERMINAL: Verdict = Verdict::Refused(
    "sockbox sets only raw, echo, the speed (bNNN), csN, parenb, cstopb, crtscts and clocal of \
     a terminal; nearest: stty -F DEVICE before, then tty:DEVICE",
);
const READLINE_OPT: Verdict = Verdict::Refused(
    "sockbox's readline echoes every line; nearest: a prompt=, and no secrets typed into it",
);
const TLS_OPT: Verdict = Verdict::Refused(
    "sockbox's TLS (rustls) takes cert, key, cafile, verify, commonname/snihost (sni=) and alpn=; \
     it picks protocol versions (1.2, 1.3) and cipher suites itself",
);
const TUN_OPT: Verdict = Verdict::Refused("sockbox does not create TUN devices");
const IP_OPT: Verdict = Verdict::Refused(
    "sockbox does not set this IP-level socket option; nearest: sysctl net.ipv4.* / net.ipv6.*",
);
const TCP_OPT: Verdict = Verdict::Refused(
    "sockbox sets only nodelay and keepalive of the TCP options; nearest: sysctl net.ipv4.tcp_*",
);
const SOCKET_OPT: Verdict = Verdict::Refused(
    "sockbox sets only reuseaddr, reuseport, rcvbuf, sndbuf, dev and v6only of the socket \
     options",
);
const RESOLVER: Verdict =
    Verdict::Refused("sockbox uses the system resolver as configured; nearest: /etc/resolv.conf");
const EXEC_OPT: Verdict = Verdict::Refused(
    "sockbox runs exec: and sh: programs plainly, on a socket pair or (with pty) a terminal; \
     nearest: wrap the program (env, a shell line in sh:)",
);

/// Every socat address option of socat 1.7.4's manual, and the aliases people use.
pub const SOCAT_OPTIONS: &[SocatOption] = &[
    // Same meaning as a native option.
    opt(&["reuseaddr", "so-reuseaddr"], Verdict::Native("reuseaddr")),
    opt(&["reuseport", "so-reuseport"], Verdict::Native("reuseport")),
    opt(&["nodelay", "tcp-nodelay"], Verdict::Native("nodelay")),
    opt(&["keepalive", "so-keepalive"], Verdict::Native("keepalive")),
    opt(&["ipv6only", "ipv6-v6only"], Verdict::Native("v6only")),
    opt(&["bind"], Verdict::Native("bind")),
    opt(
        &["so-bindtodevice", "interface", "if"],
        Verdict::Native("dev"),
    ),
    opt(
        &["rcvbuf", "so-rcvbuf", "rcvbuf-late"],
        Verdict::Native("rcvbuf"),
    ),
    opt(
        &["sndbuf", "so-sndbuf", "sndbuf-late"],
        Verdict::Native("sndbuf"),
    ),
    opt(&["backlog"], Verdict::Native("backlog")),
    opt(&["connect-timeout"], Verdict::Native("timeout")),
    opt(
        &["mode", "perm", "perm-early", "perm-late"],
        Verdict::Native("mode"),
    ),
    opt(
        &["user", "owner", "user-early", "user-late"],
        Verdict::Native("owner"),
    ),
    opt(
        &["group", "group-early", "group-late"],
        Verdict::Native("group"),
    ),
    // Handled by the front end.
    mapped(
        &["fork"],
        "serve client after client, concurrently (relay's default; without fork `sockbox socat` \
         serves one client and exits, as socat does)",
        Effect::Fork,
    ),
    mapped(
        &["range"],
        "--allow-ip CIDR on the listening side",
        Effect::Range,
    ),
    mapped(
        &["pf", "protocol-family"],
        "the kind's IP version: ip4 is tcp4:/udp4: (a listener binds 0.0.0.0, a name resolves \
         to IPv4 only), ip6 is tcp6:/udp6: ([::], IPv6 only)",
        Effect::Family,
    ),
    mapped(
        &["max-children"],
        "--max-conns N (clients over the cap wait in the backlog)",
        Effect::MaxChildren,
    ),
    SocatOption {
        names: &["creat", "create"],
        verdict: Verdict::Native("creat"),
        effect: Effect::FileWrite(FileWrite::Create),
    },
    SocatOption {
        names: &["trunc"],
        verdict: Verdict::Native("trunc"),
        effect: Effect::FileWrite(FileWrite::Truncate),
    },
    SocatOption {
        names: &["append"],
        verdict: Verdict::Native("append"),
        effect: Effect::FileWrite(FileWrite::Append),
    },
    // Accepted: sockbox already behaves so, or they change nothing here.
    opt(
        &["nofork"],
        Verdict::NoOp(
            "sockbox runs the program as a child on a socket pair; the bytes are the same",
        ),
    ),
    opt(
        &["shut-down"],
        Verdict::NoOp("sockbox half-closes with shutdown(SHUT_WR) at end of stream already"),
    ),
    opt(
        &["unlink-close"],
        Verdict::NoOp("sockbox removes the socket file or FIFO it made when it exits"),
    ),
    opt(
        &["unlink-early"],
        Verdict::NoOp(
            "sockbox removes a stale socket file before bind(2) itself; unlike socat it never \
             removes a live socket or a file that is not a socket",
        ),
    ),
    opt(
        &["cloexec"],
        Verdict::NoOp("every descriptor sockbox opens is close-on-exec"),
    ),
    opt(
        &["nonblock"],
        Verdict::NoOp("sockbox drives every descriptor non-blocking itself"),
    ),
    opt(
        &["binary", "text"],
        Verdict::NoOp("a Cygwin setting; Linux has no text mode"),
    ),
    opt(&["noinherit"], Verdict::NoOp("a Cygwin setting")),
    opt(
        &["largefile"],
        Verdict::NoOp("files are opened with 64-bit offsets always"),
    ),
    opt(
        &["end-close"],
        Verdict::NoOp("sockbox closes each connection at its end"),
    ),
    opt(
        &["pipes"],
        Verdict::NoOp(
            "sockbox gives a program one socket pair, on which half-close works as with pipes",
        ),
    ),
    // Refused, with the nearest thing.
    opt(
        &[
            "su",
            "su-d",
            "substuser",
            "substuser-delayed",
            "setuid",
            "setuid-early",
            "setgid",
            "setgid-early",
            "chroot",
            "chroot-early",
        ],
        PRIVILEGE,
    ),
    opt(
        &[
            "setlk",
            "setlkw",
            "setlk-rd",
            "setlkw-rd",
            "setlk-wr",
            "setlkw-wr",
            "flock-ex",
            "flock-ex-nb",
            "flock-sh",
            "flock-sh-nb",
            "lock",
            "lockfile",
            "waitlock",
        ],
        LOCKING,
    ),
    opt(
        &[
            "dsync",
            "excl",
            "noatime",
            "noctty",
            "nofollow",
            "nshare",
            "rshare",
            "rsync",
            "sync",
            "rdonly",
            "wronly",
            "rdwr",
            "seek",
            "seek-cur",
            "seek-end",
            "ftruncate",
            "unlink",
            "unlink-late",
            "umask",
            "o-direct",
            "direct",
        ],
        FILE_FLAG,
    ),
    opt(
        &[
            "secrm",
            "unrm",
            "compr",
            "fs-sync",
            "immutable",
            "fs-append",
            "nodump",
            "fs-noatime",
            "journal-data",
            "notail",
            "dirsync",
        ],
        FS_ATTR,
    ),
    opt(
        &[
            "ioctl-void",
            "ioctl-int",
            "ioctl-intp",
            "ioctl-bin",
            "ioctl-string",
        ],
        IOCTL,
    ),
    opt(
        &[
            "b0",
            "icanon",
            "ignbrk",
            "brkint",
            "bs0",
            "bs1",
            "bsdly",
            "crdly",
            "cread",
            "csize",
            "dsusp",
            "echoctl",
            "echoe",
            "echok",
            "echoke",
            "echonl",
            "echoprt",
            "eof",
            "eol",
            "eol2",
            "erase",
            "discard",
            "ff0",
            "ff1",
            "ffdly",
            "flusho",
            "hupcl",
            "icrnl",
            "iexten",
            "igncr",
            "ignpar",
            "imaxbel",
            "inlcr",
            "inpck",
            "intr",
            "isig",
            "ispeed",
            "istrip",
            "iuclc",
            "ixany",
            "ixoff",
            "ixon",
            "kill",
            "lnext",
            "min",
            "nl0",
            "nl1",
            "nldly",
            "noflsh",
            "ocrnl",
            "ofdel",
            "ofill",
            "olcuc",
            "onlcr",
            "onlret",
            "onocr",
            "opost",
            "ospeed",
            "parmrk",
            "parodd",
            "pendin",
            "quit",
            "reprint",
            "sane",
            "start",
            "stop",
            "susp",
            "swtc",
            "tab0",
            "tab1",
            "tab2",
            "tab3",
            "tabdly",
            "time",
            "tostop",
            "vt0",
            "vt1",
            "vtdly",
            "werase",
            "xcase",
            "xtabs",
            "i-pop-all",
            "i-push",
            "sighup",
            "sigquit",
        ],
        TERMINAL,
    ),
    // Terminals: pty, tty (socat's bare /dev/tty* paths) and EXEC with pty.
    opt(&["raw", "rawer", "cfmakeraw"], Verdict::Native("raw")),
    opt(&["echo"], Verdict::Native("echo")),
    opt(
        &[
            "b50", "b75", "b110", "b134", "b150", "b200", "b300", "b600", "b1200", "b1800",
            "b2400", "b4800", "b9600", "b19200", "b38400", "b57600", "b115200", "b230400",
            "b460800", "b500000", "b576000", "b921600", "b1000000", "b1152000", "b1500000",
            "b2000000", "b2500000", "b3000000", "b3500000", "b4000000",
        ],
        Verdict::Mapped("the same bNNN: the line speed (also baud=NNN)"),
    ),
    opt(
        &["cs5", "cs6", "cs7", "cs8"],
        Verdict::Mapped("the same csN: bits per character (also charsize=N)"),
    ),
    opt(&["parenb"], Verdict::Native("parenb")),
    opt(&["cstopb"], Verdict::Native("cstopb")),
    opt(&["crtscts"], Verdict::Native("crtscts")),
    opt(&["clocal"], Verdict::Native("clocal")),
    opt(&["link"], Verdict::Native("link")),
    opt(&["wait-slave"], Verdict::Native("wait-slave")),
    opt(
        &["pty-interval"],
        Verdict::NoOp("sockbox looks for the slave being opened every 50 ms"),
    ),
    opt(
        &["openpty", "ptmx"],
        Verdict::NoOp("sockbox always opens a pty with posix_openpt(3), /dev/ptmx"),
    ),
    opt(&["pty"], Verdict::Native("pty")),
    opt(&["stderr"], Verdict::Native("stderr")),
    opt(&["setsid"], Verdict::Native("setsid")),
    opt(&["ctty"], Verdict::Native("ctty")),
    opt(
        &["sigint"],
        Verdict::Mapped(
            "sigint on EXEC with pty: byte 0x03 from the peer reaches the program as SIGINT \
             (socat passes on the SIGINT it gets itself; sockbox's own Ctrl-C stops sockbox)",
        ),
    ),
    opt(&["history", "history-file"], Verdict::Native("history")),
    opt(&["prompt"], Verdict::Native("prompt")),
    opt(
        &["noprompt"],
        Verdict::NoOp("sockbox never guesses a prompt from the peer's output"),
    ),
    opt(&["noecho"], READLINE_OPT),
    opt(
        &[
            "cipher",
            "ciphers",
            "method",
            "min-proto-version",
            "max-proto-version",
            "openssl-min-proto-version",
            "openssl-max-proto-version",
            "dhparams",
            "dhparam",
            "capath",
            "egd",
            "pseudo",
            "compress",
            "no-sni",
            "fips",
        ],
        TLS_OPT,
    ),
    // TLS (OPENSSL:, OPENSSL-LISTEN:). socat checks the server's certificate by default, as
    // sockbox does; on a listener socat's default verify=1 asks every client for a
    // certificate, sockbox's only with cafile= (verify=0 there is accepted and changes nothing).
    opt(&["verify"], Verdict::Native("verify")),
    opt(&["cert"], Verdict::Native("cert")),
    opt(&["key"], Verdict::Native("key")),
    opt(&["cafile"], Verdict::Native("cafile")),
    // socat checks commonname= and sends snihost=; rustls uses one name for both.
    opt(&["commonname", "cn", "snihost"], Verdict::Native("sni")),
    opt(
        &[
            "tun-device",
            "tun-name",
            "tun-type",
            "iff-no-pi",
            "iff-up",
            "iff-broadcast",
            "iff-debug",
            "iff-loopback",
            "iff-pointopoint",
            "iff-notrailers",
            "iff-running",
            "iff-noarp",
            "iff-promisc",
            "iff-allmulti",
            "iff-master",
            "iff-slave",
            "iff-multicast",
            "iff-portsel",
            "iff-automedia",
            "iff-dynamic",
        ],
        TUN_OPT,
    ),
    opt(
        &[
            "tos",
            "ip-tos",
            "ttl",
            "ip-ttl",
            "ip-options",
            "mtudiscover",
            "ip-mtu-discover",
            "ip-pktinfo",
            "ip-recverr",
            "ip-recvopts",
            "ip-recvtos",
            "ip-recvttl",
            "ip-recvdstaddr",
            "ip-recvif",
            "ipv6-recvdstopts",
            "ipv6-recvhoplimit",
            "ipv6-recvhopopts",
            "ipv6-recvpktinfo",
            "ipv6-unicast-hops",
            "ipv6-recvrthdr",
            "ipv6-tclass",
            "ipv6-recvtclass",
        ],
        IP_OPT,
    ),
    opt(
        &[
            "cork",
            "keepcnt",
            "keepidle",
            "keepintvl",
            "linger2",
            "mss",
            "mss-late",
            "rfc1323",
            "stdurg",
            "syncnt",
            "md5sig",
            "noopt",
            "nopush",
            "sack-disable",
            "signature-enable",
            "abort-threshold",
            "conn-abort-threshold",
            "keepinit",
            "paws",
            "sackena",
            "tsoptena",
            "sctp-nodelay",
            "sctp-maxseg",
        ],
        TCP_OPT,
    ),
    opt(
        &[
            "debug",
            "dontroute",
            "linger",
            "so-linger",
            "oobinline",
            "priority",
            "rcvlowat",
            "sndlowat",
            "socktype",
            "protocol",
            "so-timestamp",
            "setsockopt",
            "setsockopt-int",
            "setsockopt-bin",
            "setsockopt-listen",
            "setsockopt-string",
            "unix-tightsocklen",
            "so-type",
            "so-protocol",
        ],
        SOCKET_OPT,
    ),
    opt(
        &[
            "res-debug",
            "res-aaonly",
            "res-usevc",
            "res-primary",
            "res-igntc",
            "res-recurse",
            "res-defnames",
            "res-stayopen",
            "res-dnsrch",
        ],
        RESOLVER,
    ),
    opt(&["proxyport", "socksport"], Verdict::Native("proxyport")),
    opt(
        &[
            "proxyauth",
            "proxy-authorization",
            "proxy-auth",
            "socksuser",
        ],
        Verdict::Native("auth"),
    ),
    opt(
        &["ignorecr"],
        Verdict::NoOp("sockbox reads the proxy's answer by HTTP's rules already"),
    ),
    opt(
        &["proxy-authorization-file"],
        Verdict::Refused("sockbox takes proxy credentials in auth=USER:PASS only"),
    ),
    opt(
        &["resolve"],
        Verdict::Refused(
            "sockbox lets the proxy resolve the target's name; nearest: give the target as an \
             IP address",
        ),
    ),
    opt(&["broadcast", "so-broadcast"], Verdict::Native("broadcast")),
    opt(
        &[
            "ip-add-membership",
            "ipv6-join-group",
            "ipv6-add-membership",
        ],
        Verdict::Native("join"),
    ),
    opt(&["ip-multicast-ttl"], Verdict::Native("multicast-ttl")),
    opt(
        &["ip-multicast-loop", "ipv6-multicast-loop"],
        Verdict::Native("multicast-loop"),
    ),
    opt(&["ip-multicast-if"], Verdict::Native("multicast-if")),
    opt(&["path", "login", "setpgid", "fdin", "fdout"], EXEC_OPT),
    opt(
        &[
            "tcpwrap",
            "tcpwrapper",
            "allow-table",
            "deny-table",
            "tcpwrap-etc",
            "tcpwrap-dir",
        ],
        Verdict::Refused(
            "sockbox does not read hosts.allow/hosts.deny; nearest: --allow-ip and --deny-ip",
        ),
    ),
    opt(
        &["sourceport", "sp"],
        Verdict::Refused(
            "nearest: bind=0.0.0.0:PORT (or bind=[::]:PORT) on the connecting address",
        ),
    ),
    opt(
        &["lowport"],
        Verdict::Refused(
            "nearest: bind=0.0.0.0:PORT with a port below 1024 on the connecting address",
        ),
    ),
    opt(
        &["accept-timeout"],
        Verdict::Refused(
            "sockbox waits for a client as long as it runs; nearest: timeout(1) around the command",
        ),
    ),
    opt(
        &["udp-ignore-peerport"],
        Verdict::Refused("sockbox keeps one conversation per peer address and port"),
    ),
    opt(
        &["shut-none", "shut-close", "shut-null", "null-eof"],
        Verdict::Refused(
            "sockbox always half-closes with shutdown(SHUT_WR) at end of stream, and an empty \
         datagram is a message, not an end",
        ),
    ),
    opt(&["crlf", "crnl"], Verdict::Native("crlf")),
    opt(
        &["cr"],
        Verdict::Refused(
            "sockbox converts LF to CR LF (crlf), not to a bare CR; nearest: an exec: side \
             such as exec:'tr \\n \\r'",
        ),
    ),
    opt(&["ignoreeof"], Verdict::Native("follow")),
    opt(
        &["readbytes"],
        Verdict::Refused("nearest: exec:'head -c N FILE' as the side"),
    ),
    opt(
        &["cool-write", "escape"],
        Verdict::Refused("sockbox reports a write error on every side; it has no escape character"),
    ),
    opt(&["retry", "forever"], Verdict::Native("retry")),
    opt(&["interval"], Verdict::Native("interval")),
];

/// Finds a socat address word (any case).
pub fn socat_address(word: &str) -> Option<&'static SocatAddress> {
    SOCAT_ADDRESSES
        .iter()
        .find(|a| a.names.iter().any(|n| n.eq_ignore_ascii_case(word)))
}

/// Finds a socat address option (any case).
pub fn socat_option(name: &str) -> Option<&'static SocatOption> {
    SOCAT_OPTIONS
        .iter()
        .find(|o| o.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// One command-line option or flag of another tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag {
    /// The spellings, as typed (`-d`, `--keep-open`).
    pub names: &'static [&'static str],
    /// The value's placeholder, empty for a switch.
    pub value: &'static str,
    pub verdict: Verdict,
}

const fn flag(names: &'static [&'static str], value: &'static str, verdict: Verdict) -> Flag {
    Flag {
        names,
        value,
        verdict,
    }
}

/// socat's own command-line options.
pub const SOCAT_FLAGS: &[Flag] = &[
    flag(&["-h", "-?"], "", Verdict::Mapped("this front end's help")),
    flag(&["-hh", "-hhh"], "", Verdict::Mapped("this front end's help")),
    flag(&["-V"], "", Verdict::Mapped("sockbox's version")),
    flag(
        &["-d"],
        "",
        Verdict::Mapped("-v (narrate socket calls) from -d -d on; one -d shows warnings, as sockbox always does"),
    ),
    flag(&["-D"], "", Verdict::NoOp("sockbox reports its peers on stderr already")),
    flag(
        &["-v", "-x"],
        "",
        Verdict::Mapped("--dump=socat (-v) or --dump=socat-hex (-x): socat's header lines (> DATE TIME  length=N from=X to=Y) and data; connections are not numbered (sockbox's own --dump numbers them)"),
    ),
    flag(&["-ly"], "", Verdict::Refused("sockbox does not log to syslog; nearest: run it under systemd, whose journal takes stderr")),
    flag(&["-lf"], "FILE", Verdict::Mapped("--log-file FILE (appended; a dump to stderr goes there too)")),
    flag(&["-ls"], "", Verdict::NoOp("sockbox logs to stderr already")),
    flag(&["-lm"], "", Verdict::NoOp("sockbox logs to stderr already")),
    flag(&["-lp"], "NAME", Verdict::NoOp("sockbox's lines start with 'sockbox:'")),
    flag(&["-lu", "-lh"], "", Verdict::NoOp("sockbox's log lines carry no timestamp or host name")),
    flag(&["-b"], "SIZE", Verdict::Mapped("--buffer SIZE (at least 4 KiB)")),
    flag(&["-s"], "", Verdict::NoOp("sockbox's servers go on after a client's error already; a bad option is still refused")),
    flag(&["-t"], "SECONDS", Verdict::Mapped("--linger SECONDS (after one direction ends, close when the other is quiet that long)")),
    flag(&["-T"], "SECONDS", Verdict::Mapped("--idle-timeout SECONDS")),
    flag(&["-u"], "", Verdict::Mapped("relay --oneway (first address to second only)")),
    flag(&["-U"], "", Verdict::Mapped("relay --oneway with the addresses swapped (second to first only)")),
    flag(&["-g"], "", Verdict::NoOp("sockbox checks every option against the address kind and refuses one that does not apply")),
    flag(&["-L", "-W"], "LOCKFILE", Verdict::Refused("sockbox takes no lock files; nearest: flock(1) around the command")),
    flag(&["-4"], "", Verdict::Mapped("tcp4:, udp4: for addresses that do not name a version")),
    flag(&["-6"], "", Verdict::Mapped("tcp6:, udp6: for addresses that do not name a version")),
    flag(&["--explain"], "", Verdict::Mapped("sockbox's own: print the native command and exit")),
];

/// nc's (OpenBSD netcat, Debian's `nc`) and ncat's flags.
pub const NC_FLAGS: &[Flag] = &[
    flag(&["-l", "--listen"], "", Verdict::Mapped("listen (or relay, with -e/-c); port 31337 when none is given, as ncat")),
    flag(&["-p", "--source-port"], "PORT", Verdict::Mapped("the port to listen on with -l; else bind=:PORT on the connecting side")),
    flag(&["-s", "--source"], "ADDR", Verdict::Mapped("the address to listen on with -l; else bind=ADDR")),
    flag(&["-k", "--keep-open"], "", Verdict::Mapped("listen --keep (clients are served concurrently; each one's bytes go to stdout)")),
    flag(&["-u", "--udp"], "", Verdict::Mapped("udp: (unix-dgram: with -U)")),
    flag(&["-U", "--unixsock"], "", Verdict::Mapped("unix:PATH")),
    flag(&["-z"], "", Verdict::Mapped("sockbox scan HOST -p PORTS (exit 0 when a port is open)")),
    flag(&["-v", "--verbose"], "", Verdict::Mapped("peer reports on stderr (sockbox's default); -vv: -v")),
    flag(&["-w", "--wait"], "SECONDS", Verdict::Mapped("--timeout and --idle-timeout SECONDS")),
    flag(&["-q"], "SECONDS", Verdict::Mapped("--linger SECONDS (after end of stdin)")),
    flag(&["-N"], "", Verdict::NoOp("sockbox shuts the socket's write side down at end of stdin always (ncat's --no-shutdown, the opposite, is refused)")),
    flag(&["-n", "--nodns"], "", Verdict::Mapped("HOST must be a numeric address")),
    flag(&["-4"], "", Verdict::Mapped("tcp4:, udp4:")),
    flag(&["-6"], "", Verdict::Mapped("tcp6:, udp6:")),
    flag(&["-e", "--exec"], "PROG", Verdict::Mapped("exec:PROG as the other side (listen --exec with -l)")),
    flag(&["-c", "--sh-exec"], "LINE", Verdict::Mapped("sh:LINE as the other side")),
    flag(&["--send-only"], "", Verdict::Mapped("--send-only")),
    flag(&["--recv-only"], "", Verdict::Mapped("--recv-only")),
    flag(&["--max-conns"], "N", Verdict::Mapped("--max-conns N --max-conns-refuse (as ncat, a client over the cap is closed at once)")),
    flag(&["--allow"], "HOST", Verdict::Mapped("--allow-ip HOST")),
    flag(&["--deny"], "HOST", Verdict::Mapped("--deny-ip HOST")),
    flag(&["--allowfile"], "FILE", Verdict::Mapped("--allow-ip-file FILE")),
    flag(&["--denyfile"], "FILE", Verdict::Mapped("--deny-ip-file FILE")),
    flag(&["--idle-timeout"], "SECONDS", Verdict::Mapped("--idle-timeout SECONDS (ncat's; its short -i is OpenBSD nc's line delay)")),
    flag(&["-i", "--delay"], "SECONDS", Verdict::Mapped("--slice 64k,gap=SECONDS: each write (a line typed or piped) SECONDS after the one before, both ways; not with -u or -k. With -z it is ignored, as Debian's nc ignores it there (sockbox scan --interval paces a scan)")),
    flag(&["-m"], "MINTTL", Verdict::Refused("OpenBSD nc's minimum TTL (ncat's -m is --max-conns): sockbox does not filter by TTL")),
    flag(&["--broker"], "", Verdict::Mapped("listen --broker (each client's bytes to every other client)")),
    flag(&["--chat"], "", Verdict::Mapped("listen --chat (ncat's chat: <userN> prefixes, joins and leaves announced)")),
    flag(&["-C", "--crlf"], "", Verdict::Mapped("crlf=send on the network address (LF sent as CR LF)")),
    flag(&["-d"], "", Verdict::Refused("OpenBSD nc's detach from stdin; nearest: </dev/null")),
    flag(&["-b"], "", Verdict::Mapped("broadcast on the udp: address")),
    flag(&["-D"], "", Verdict::Refused("sockbox does not set SO_DEBUG")),
    flag(&["-F"], "", Verdict::Refused("sockbox passes no descriptor to stdout; nearest: sockbox fd send")),
    flag(&["-I", "-O"], "LENGTH", Verdict::Refused("nearest: rcvbuf=LENGTH / sndbuf=LENGTH on the address")),
    flag(&["-M", "-T"], "TTL", Verdict::Refused("sockbox does not set the IP TTL or TOS")),
    flag(&["-x", "--proxy"], "HOST[:PORT]", Verdict::Mapped("a socks5:, socks4: or http-connect: address PROXY:PORT/HOST:PORT (default port 1080, 3128 for HTTP)")),
    flag(&["-X", "--proxy-type"], "TYPE", Verdict::Mapped("4 or socks4: socks4:, socks4a: socks4a:, 5 or socks5: socks5:, connect or http: http-connect: (-x defaults to SOCKS 5, --proxy to HTTP)")),
    flag(&["-P", "--proxy-auth"], "USER[:PASS]", Verdict::Mapped("auth=USER[:PASS] on the proxy address")),
    flag(&["-r"], "", Verdict::Refused("sockbox scans ports in its own order; nearest: sockbox scan")),
    flag(&["-S"], "", Verdict::Refused("sockbox does not set TCP MD5 signatures")),
    flag(&["-t", "--telnet"], "", Verdict::Refused("sockbox does not answer telnet negotiation")),
    flag(&["-V"], "RTABLE", Verdict::Refused("Linux has no routing tables per socket by number; nearest: ip vrf exec")),
    flag(&["-W"], "COUNT", Verdict::Refused("sockbox does not stop after N packets; nearest: sockbox recv ADDR --count N")),
    flag(&["-Z"], "", Verdict::Refused("sockbox has no DCCP endpoints")),
    flag(&["--ssl"], "", Verdict::Mapped("tls:HOST:PORT (,tls on unix:); as in ncat, a client does not check the server's certificate without --ssl-verify: verify=0, with a warning")),
    flag(&["--ssl-cert"], "FILE", Verdict::Mapped("cert=FILE (implies --ssl)")),
    flag(&["--ssl-key"], "FILE", Verdict::Mapped("key=FILE (implies --ssl)")),
    flag(&["--ssl-verify"], "", Verdict::Mapped("the server's certificate checked against the system CA store or --ssl-trustfile (implies --ssl)")),
    flag(&["--ssl-trustfile"], "FILE", Verdict::Mapped("cafile=FILE (implies --ssl-verify)")),
    flag(&["--ssl-alpn"], "LIST", Verdict::Mapped("alpn=LIST, with ':' between the protocols (implies --ssl)")),
    flag(&["--sctp"], "", Verdict::Refused(SCTP)),
    flag(&["-o", "--output", "--hex-dump"], "FILE", Verdict::Refused("the traffic dump is not in sockbox yet; nearest: tee")),
    flag(&["--lua-exec"], "FILE", Verdict::Refused("sockbox runs no Lua; nearest: -e with a Lua interpreter")),
    flag(&["-g", "-G"], "HOPS", Verdict::Refused("sockbox does not set source routes")),
    flag(&["--no-shutdown"], "", Verdict::Refused("sockbox always half-closes at end of stdin; nearest: keep stdin open (e.g. sleep | ...)")),
    flag(&["-h", "--help"], "", Verdict::Mapped("this front end's help")),
    flag(&["--version"], "", Verdict::Mapped("sockbox's version")),
    flag(&["--explain"], "", Verdict::Mapped("sockbox's own: print the native command and exit")),
];

/// Finds a flag by one of its spellings.
pub fn find_flag(table: &'static [Flag], name: &str) -> Option<&'static Flag> {
    table.iter().find(|f| f.names.contains(&name))
}
