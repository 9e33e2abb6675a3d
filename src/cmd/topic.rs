//! The texts of `sockbox help TOPIC` (and man pages `sockbox-TOPIC(7)`): what sockets, pipes
//! and ports are, each claim followed by a sockbox command that shows it on this host.
//!
//! Lines starting with `  $ ` are commands; the CLI test `help_topics::` runs every one of
//! them (in a temporary directory inside a network namespace of its own), so no topic drifts
//! from the tool. A command that would wait (a server) ends by itself: `listen` without
//! `--keep` serves one client, and the client retries until the server is there.

/// A help topic beyond the address grammar.
pub struct HelpTopic {
    pub name: &'static str,
    pub about: &'static str,
    pub text: &'static str,
}

/// The topics, in the order `sockbox help` lists them.
pub const TOPICS: &[HelpTopic] = &[
    HelpTopic {
        name: "sockets",
        about: "what a socket is, and how to watch one",
        text: SOCKETS,
    },
    HelpTopic {
        name: "unix",
        about: "Unix domain sockets: files, abstract names, credentials",
        text: UNIX,
    },
    HelpTopic {
        name: "tcp",
        about: "TCP: connections, handshakes, half-close, TIME-WAIT",
        text: TCP,
    },
    HelpTopic {
        name: "udp",
        about: "UDP: datagrams, boundaries, no connection",
        text: UDP,
    },
    HelpTopic {
        name: "seqpacket",
        about: "SOCK_SEQPACKET: a connection that keeps message boundaries",
        text: SEQPACKET,
    },
    HelpTopic {
        name: "pipes",
        about: "pipes and FIFOs: one-way byte streams",
        text: PIPES,
    },
    HelpTopic {
        name: "ports",
        about: "ports: who listens, ephemeral ranges, privileged ports",
        text: PORTS,
    },
    HelpTopic {
        name: "fd-passing",
        about: "passing open file descriptors over a Unix socket (SCM_RIGHTS)",
        text: FD_PASSING,
    },
];

const SOCKETS: &str = r#"SOCKETS

A socket is a kernel object a program reads and writes through a file
descriptor, like a file, but with a peer at the other end. socket(2) makes one
of a family (AF_INET, AF_INET6, AF_UNIX ...) and a type (SOCK_STREAM for
bytes, SOCK_DGRAM and SOCK_SEQPACKET for messages). A server bind(2)s it to an
address, listen(2)s, and accept(2)s a new socket for each client; a client
connect(2)s. -v narrates each of those calls:

  $ sockbox -v listen unix:./s.sock --echo & echo hi | sockbox -v connect unix:./s.sock --retry 50 --retry-interval 100ms; wait

Every socket of this host's network namespace, counted by kind and state (ss
and netstat read the same kernel tables, through sock_diag netlink):

  $ sockbox ls --summary

The same program can speak over any kind: only the address changes. The
relay copies between any two (here, TCP in front of a Unix socket):

  $ sockbox listen unix:./app.sock --echo & sockbox relay tcp:127.0.0.1:7011 unix:./app.sock --once --retry 50 --retry-interval 100ms & echo via-tcp | sockbox connect tcp:127.0.0.1:7011 --retry 50 --retry-interval 100ms; wait

Which kind is fastest on this machine, and by how much (throughput and
round-trip latency, each end a thread):

  $ sockbox bench unix tcp4 pipe --sizes 64k --duration 100ms --measure throughput,latency

Limits of this host that bite socket programs (IPv6, ports, fd limits,
buffer sizes):

  $ sockbox doctor --brief

More: sockbox help unix, tcp, udp, seqpacket, pipes, ports, fd-passing; the
address grammar is sockbox help addresses.
"#;

const UNIX: &str = r#"UNIX SOCKETS

A Unix domain socket (AF_UNIX) connects processes on one host. It has no
ports: a server binds a path in the file system, which creates a socket file
(type s in ls -l), and clients connect to that path. File permissions decide
who may connect:

  $ sockbox listen unix:./u.sock,mode=0600 --echo & echo hi | sockbox connect unix:./u.sock --retry 50 --retry-interval 100ms; wait

The file stays after its server dies (a stale socket: connect gets
ECONNREFUSED). sockbox finds socket files and says which are live or stale:

  $ sockbox ls --files .

Linux also has an abstract namespace: a name starting with @ has no file,
no permissions, and vanishes with its last socket:

  $ sockbox listen unix:@sockbox-help-demo --echo & echo hi | sockbox connect unix:@sockbox-help-demo --retry 50 --retry-interval 100ms; wait

The kernel tells a server who the client is (SO_PEERCRED: pid, uid, gid),
which a TCP server cannot know; listen reports it for each client:

  $ sockbox listen unix:./who.sock --echo & echo hi | sockbox connect unix:./who.sock --retry 50 --retry-interval 100ms; wait

Unix sockets come in three types: unix: (SOCK_STREAM, bytes), unix-dgram:
(SOCK_DGRAM, messages, reliable on one host) and seqpacket: (connected
messages; sockbox help seqpacket). They skip the whole network stack, so they
move more bytes than TCP over loopback:

  $ sockbox bench unix tcp4 --sizes 64k --duration 100ms --measure throughput

Every Unix socket on this host, with both ends of each connection:

  $ sockbox ls --unix --peers
"#;

const TCP: &str = r#"TCP

TCP (SOCK_STREAM over IP) is a reliable, ordered byte stream between two
HOST:PORT ends. connect(2) sends a SYN and returns once the three-way
handshake is done; the time that takes is what tcping measures:

  $ sockbox listen tcp:127.0.0.1:7021 --echo & sleep 1; sockbox ping tcp:127.0.0.1:7021 -c 1; wait

A stream has no message boundaries: two writes may arrive as one read, one
write as several. Where messages matter, frame them (frame=line, len32):

  $ sockbox listen tcp:127.0.0.1:7022,frame=line --echo & printf 'one\ntwo\n' | sockbox connect tcp:127.0.0.1:7022,frame=line --retry 50 --retry-interval 100ms; wait

Each direction ends separately (half-close, shutdown(2) SHUT_WR): at the end
of its input a client stops sending and still reads the answer. Here the
server's program sees end of file, then answers:

  $ sockbox listen tcp:127.0.0.1:7023 --exec 'wc -c' & printf 'twelve bytes' | sockbox connect tcp:127.0.0.1:7023 --retry 50 --retry-interval 100ms; wait

A refused connect (nobody listens) is answered at once with a reset:

  $ sockbox connect tcp:127.0.0.1:7024 < /dev/null || echo "exit code $?"

The side that closes first keeps the connection in TIME-WAIT for 60 s,
holding its port; the extended listing shows TCP's own view (rtt, cwnd,
bytes) of each connection:

  $ sockbox ls --tcp -e

Limits: somaxconn caps every listen backlog; the ephemeral port range
bounds outgoing connections (sockbox help ports; sockbox doctor).
"#;

const UDP: &str = r#"UDP

UDP (SOCK_DGRAM over IP) sends datagrams: each send(2) is one message and
each recv(2) returns exactly one, whole, or nothing. There is no connection
and no handshake; a datagram to a port nobody has bound is simply lost (an
ICMP port-unreachable comes back, which a connected socket sees as
ECONNREFUSED on its next call). Two sends are two messages:

  $ sockbox recv udp:127.0.0.1:7031 --count 2 --timeout 10s & sleep 1; sockbox send udp:127.0.0.1:7031 one; sockbox send udp:127.0.0.1:7031 two; wait

As JSON, with the sender's address and each message's length:

  $ sockbox recv udp:127.0.0.1:7032 --count 1 --json --timeout 10s & sleep 1; sockbox send udp:127.0.0.1:7032 'hello there'; wait

Delivery and order are not guaranteed (on loopback they hold until the
receiver's buffer, rmem, is full: then datagrams are dropped). A server
answers each source address separately; listen --keep --echo keeps one
conversation per peer. With no connection to close, a UDP conversation ends
when it has been quiet for a while (--idle-timeout, --linger):

  $ sockbox listen udp:127.0.0.1:7033 --echo --idle-timeout 1s & sleep 1; echo ping | sockbox connect udp:127.0.0.1:7033 --linger 1s; wait

Bound UDP sockets on this host (no states: UDP has none but "connected"):

  $ sockbox ls --udp

Unix datagram sockets (unix-dgram:) keep boundaries the same way, on one
host, and are reliable: a full receiver blocks the sender instead of losing.
"#;

const SEQPACKET: &str = r#"SEQPACKET

SOCK_SEQPACKET is a connection (listen, accept, connect, like a stream) that
keeps message boundaries (like datagrams), reliable and in order. On Linux
it exists for Unix sockets (seqpacket:) and SCTP. Each read returns one whole
message, so a protocol needs no framing:

  $ sockbox recv seqpacket:./q.sock --count 2 --timeout 10s & sleep 1; printf 'one\ntwo\n' | sockbox send seqpacket:./q.sock --lines; wait

An echo server over seqpacket, one client. A message socket has no end of
stream to wait for, so the client stops after a second of quiet (--linger):

  $ sockbox listen seqpacket:./e.sock --echo & echo hi | sockbox connect seqpacket:./e.sock --retry 50 --retry-interval 100ms --linger 1s; wait

A stream relayed to seqpacket needs a frame= on the stream side to say where
messages end:

  $ sockbox listen seqpacket:./f.sock --echo & sockbox relay tcp:127.0.0.1:7041,frame=line seqpacket:./f.sock --once --linger 1s --retry 50 --retry-interval 100ms & echo framed | sockbox connect tcp:127.0.0.1:7041 --retry 50 --retry-interval 100ms; wait

Seqpacket sockets show as their own type in listings:

  $ sockbox ls --unix
"#;

const PIPES: &str = r#"PIPES

A pipe (pipe(2)) is a one-way byte stream inside the kernel: what one end
writes, the other reads, in order, with a buffer in between (64 KiB by
default, up to fs.pipe-max-size). The shell's | is one:

  $ echo through-a-pipe | sockbox connect exec:cat

A FIFO (named pipe, mkfifo) is a pipe with a name in the file system: any
process may open it, one to write, one to read. listen creates it and reads,
connect writes:

  $ sockbox listen fifo:./p.fifo & sleep 1; echo via-fifo | sockbox connect fifo:./p.fifo; wait

Unlike a socket, a pipe has no peer to answer: a connection over pipes needs
two. A socketpair (socketpair(2)) is the two-way version, which exec: uses to
talk to a program:

  $ echo hello | sockbox connect exec:'tr a-z A-Z'

splice(2) moves bytes between a pipe and a socket without copying them to
user space; sockbox's relay uses a pipe this way between two stream sockets.
How pipes compare with sockets here:

  $ sockbox bench pipe socketpair unix --sizes 64k --duration 100ms --measure throughput

The pipe size limit the relay's splice pipes meet:

  $ sockbox doctor --brief
"#;

const PORTS: &str = r#"PORTS

A TCP or UDP socket is named by address and port (1-65535); TCP and UDP
ports are separate spaces. A server binds a chosen port; a client's socket
gets an ephemeral port from net.ipv4.ip_local_port_range when it connects.
Who listens on a port, and which process:

  $ sockbox listen tcp:127.0.0.1:7051 --echo & sleep 1; sockbox who :7051; echo done | sockbox connect tcp:127.0.0.1:7051; wait

Every listening socket (what ss -l shows), with backlogs (Send-Q) and
waiting connections (Recv-Q):

  $ sockbox ls -l

Which ports answer, by trying to connect to each (the listener takes the
scan's connection as its one client, and ends with it):

  $ sockbox listen tcp:127.0.0.1:7052 --echo & sleep 1; sockbox scan 127.0.0.1 -p 7050-7055; wait

Two sockets cannot bind the same address and port unless both set
SO_REUSEPORT (reuseport), which shares incoming connections between them. A
port still held by connections in TIME-WAIT can be bound again with
SO_REUSEADDR (reuseaddr, set by sockbox's listeners).

Ports below net.ipv4.ip_unprivileged_port_start (1024) need root or
CAP_NET_BIND_SERVICE; the ephemeral range and TIME-WAIT decide how many
connections a client can open to one server. This host's values:

  $ sockbox doctor --json
"#;

const FD_PASSING: &str = r#"FD PASSING

A Unix socket can carry open file descriptors from one process to another
(sendmsg(2) with an SCM_RIGHTS control message). The receiver gets a new
descriptor for the same open file: same offset, same flags, even if it could
not have opened the path itself. Privilege-separated daemons, systemd's
socket activation, Wayland and tmux rely on it. Send this directory and a
file; the receiver describes what arrived:

  $ sockbox fd recv unix:./fds.sock --count 1 --timeout 10s & sleep 1; sockbox fd send unix:./fds.sock . /etc/hostname; wait

The receiver can read what arrives (the file's content, not its name):

  $ echo secret > ./f.txt; sockbox fd recv unix:./cat.sock --count 1 --cat --timeout 10s & sleep 1; sockbox fd send unix:./cat.sock ./f.txt; wait

A socket is a descriptor too: passing a listening socket hands over the
service (a server restarting without dropping a connection). Descriptors
cross only Unix sockets, never TCP; relay --pass-fds carries them between two
Unix sockets.
"#;
