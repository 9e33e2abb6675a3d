//! Command-line arguments as clap sees them: raw strings and flags. Each verb's file in
//! `cmd/` turns these into a typed, validated configuration before anything is opened.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sockbox_net::addr::Retry;

#[derive(Parser, Debug)]
#[command(
    name = "sockbox",
    version,
    about = "Every socket on Linux, one address grammar, one set of verbs",
    long_about = "Every socket on Linux, one address grammar, one set of verbs.\n\n\
        An ADDRESS is KIND:TARGET[,OPTION...], e.g. tcp:localhost:80, unix:/run/app.sock, \
        udp:[::1]:53, seqpacket:@name, fifo:/tmp/p, exec:'cat -n', - (stdio). \
        See `sockbox help addresses`.",
    after_help = "Examples:\n  \
        sockbox connect tcp:example.org:80\n  \
        sockbox listen unix:/tmp/app.sock,mode=0660 --keep --echo\n  \
        sockbox relay tcp:8080 unix:/run/app.sock\n  \
        sockbox help addresses\n\n\
        Exit codes: 0 success, 1 the operation failed (refused, timed out, not found), \
        2 usage error, 130/143 interrupted by SIGINT/SIGTERM (servers exit 0).",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Narrate each socket call on stderr (socket, bind, listen, accept, connect, shutdown...)
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Do not report peers connecting and leaving
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Append what sockbox writes to stderr (errors, warnings, peers, -v, a dump to stderr) to
    /// FILE instead, e.g. `sockbox --log-file /var/log/relay.log relay tcp:8080 unix:/s`
    /// (socat's -lf)
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<std::path::PathBuf>,
    /// Colour: auto (only on a terminal and when NO_COLOR is unset), always, never; also for
    /// the traffic dump (--dump), which goes to stderr or --dump-to
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Connect to ADDR: stdin to the socket, the socket to stdout
    #[command(after_help = "Examples:\n  \
        printf 'GET / HTTP/1.0\\r\\n\\r\\n' | sockbox connect tcp:localhost:80\n  \
        sockbox connect unix:/run/app.sock\n  \
        sockbox connect seqpacket:@ctl --timeout 2s\n  \
        sockbox connect unix:/run/app.sock --retry 5 --retry-interval 200ms   server starting\n  \
        printf 'stats\\r\\n' | sockbox connect tcp:localhost:11211 --linger 1s   nc -q 1\n  \
        sockbox connect tcp:backup:9000 --send-only < dump.tar\n  \
        sockbox connect socks5:127.0.0.1:1080/example.com:80    through a SOCKS 5 proxy\n  \
        sockbox connect http-connect:proxy:3128/git.example:22,auth=me:pw   HTTP CONNECT\n  \
        sockbox connect unix:/run/haproxy/admin.sock --readline   line editing, history\n  \
        sockbox connect exec:tty,pty   prints /dev/pts/N: the program runs on a terminal\n  \
        sockbox connect tty:/dev/ttyUSB0,b115200,raw,echo=0   a serial console\n  \
        sockbox connect unix:/run/app.sock --dump=hex --dump-to /tmp/app.dump   what moves, in hex\n  \
        sockbox connect unix:/run/app.sock --record /tmp/rec < /tmp/old/1-a2b.bin   replay, record\n  \
        sockbox connect tcp:127.0.0.1:9000 --echo   a client that answers back what it gets\n  \
        sockbox connect 'file:/tmp/log,follow!!file:/tmp/log,append'   R!!W: read one, write the other\n  \
        sockbox -v connect tls:example.org:443 < /dev/null   the TLS handshake, as s_client shows it\n  \
        sockbox connect tls:localhost:8443,cafile=ca.pem,cert=me.pem,key=me.key   mTLS\n\n\
        At end of stdin the socket's write side is shut down (half-close) and what the peer \
        still sends is printed until it closes (--linger bounds that wait). --retry tries a \
        refused or timed-out connect, or a missing socket file, again; -v shows each attempt. \
        --readline edits each line before it is sent (emacs keys, history in \
        $XDG_STATE_HOME/sockbox/history); Ctrl-D ends the input; once either side has ended, \
        the session ends after 0.5 s without traffic (--linger changes it). Without a terminal \
        on stdin it is plain stdio.")]
    Connect(Box<ConnectArgs>),
    /// Listen on ADDR: one client to stdio, or many with --keep
    #[command(after_help = "Examples:\n  \
        sockbox listen tcp:8080                      one client, to stdin/stdout\n  \
        sockbox listen unix:/tmp/s.sock --keep --echo  echo server for many clients\n  \
        sockbox listen tcp:127.0.0.1:7000 --keep --exec 'tr a-z A-Z'\n  \
        sockbox listen udp:5353                       first peer's datagrams to stdout\n  \
        sockbox listen unix:/tmp/s.sock --keep --echo --allow-user alice --allow-gid wheel\n  \
        sockbox listen tcp:8080 --keep --echo --allow-ip 10.0.0.0/8 --deny-ip 10.0.0.7\n  \
        sockbox listen udp:5353 --keep --echo --allow-ip 127.0.0.1 --allow-ip ::1\n  \
        sockbox listen tcp:8080 --keep --exec ./cgi --allow-ip-file lan.txt --deny-ip-file ban.txt\n  \
        sockbox listen tcp:8080 --keep --echo --max-conns 100   the 101st waits its turn\n  \
        sockbox listen tcp:8080 --keep --echo --max-conns 100 --max-conns-refuse  or is closed\n  \
        sockbox listen unix:/run/app.sock tcp:8080 --activate -- /usr/bin/app --flag\n  \
        systemd-socket-activate -l /tmp/s.sock sockbox listen --inherit --keep --echo\n  \
        sockbox listen tcp:9000 --recv-only > upload.bin   never reads stdin\n  \
        sockbox listen tcp:9000 --send-only --linger 0 < banner.txt\n  \
        sockbox listen tcp:9000 --broker            clients talk to each other (ncat --broker)\n  \
        sockbox listen tcp:9000 --chat              ncat's chat: <user4> hello\n  \
        sockbox listen tcp:8080 --keep --echo --dump --time rel   every client's bytes, numbered\n  \
        sockbox listen unix:/tmp/s.sock --keep --exec ./handler --pcap /tmp/s.pcapng\n  \
        sockbox listen tls:8443 --keep --echo   TLS, a self-signed certificate made at start\n  \
        sockbox listen tls:8443,cert=srv.pem,key=srv.key,cafile=ca.pem --keep --echo   mTLS\n\n\
        Each peer is reported on stderr: its address, or pid/uid/gid and process name for Unix \
        peers. A socket file is removed on exit, a stale one is replaced, a live one or a \
        file that is not a socket is refused. --allow-* checks the kernel's credentials of a \
        Unix client (SO_PEERCRED, SO_PEERGROUPS) before reading a byte; a client allowed by \
        none of them is closed and logged. --allow-ip/--deny-ip do the same by the client's IP \
        address on TCP (a refused UDP source's datagrams are dropped, one warning per source): \
        a client is let in when no --deny-ip range holds it and, if any --allow-ip is given, \
        one of those does. --max-conns N stops accepting while N clients are served: the next \
        ones wait in the kernel's accept queue (backlog=, 1024 by default), connected and not \
        refused, until a slot frees, so nothing is lost while the server catches up (haproxy's \
        maxconn); --max-conns-refuse accepts and closes them at once instead (ncat's). On UDP, \
        N is peers in conversation: datagrams from more are dropped, one warning per peer. \
        --activate binds, then replaces sockbox with PROG: the socket files stay for PROG to \
        serve.")]
    Listen(Box<ListenArgs>),
    /// Accept on A, connect each client to B, copy both ways (socat's job)
    #[command(after_help = "Examples:\n  \
        sockbox relay tcp:8080 unix:/run/app.sock      expose a Unix socket on TCP\n  \
        sockbox relay unix:/tmp/proxy.sock tcp:db:5432\n  \
        sockbox relay tcp:9000,frame=len32 udp:127.0.0.1:9001   messages over a stream\n  \
        sockbox relay connect:tcp:h:1 listen:unix:/tmp/s  roles said explicitly\n  \
        sockbox relay unix:/tmp/db.sock tcp:db:5432 --allow-user app   only uid of app\n  \
        sockbox relay tcp:5432 tcp:db:5432 --allow-ip 10.1.0.0/16 --deny-ip-file ban.txt\n  \
        sockbox relay tcp:8443 tcp:app:443 --allow-ip-file office.txt --deny-ip 10.1.9.0/24\n  \
        sockbox relay tcp:8080 unix:/run/app.sock --max-conns 50        the 51st waits\n  \
        sockbox relay tcp:8080 unix:/run/app.sock --max-conns 50 --max-conns-refuse  or is closed\n  \
        systemd-socket-activate -l 8080 sockbox relay --inherit unix:/run/app.sock\n  \
        sockbox relay tcp:8080 unix:/run/app.sock --retry forever   start before the backend\n  \
        sockbox relay tcp:8080 tcp:backend:80 --linger 2s   socat -t 2\n  \
        sockbox relay unix:/tmp/log.sock file:/tmp/log.bin --oneway   socat -u\n  \
        sockbox relay --once tcp:8080 tcp:backend:80   one client, then exit\n  \
        sockbox relay tcp:127.0.0.1:5432 socks5:bastion:1080/db.internal:5432   via a proxy\n  \
        sockbox relay pty,link=/tmp/ttyA,raw,echo=0 pty,link=/tmp/ttyB,raw,echo=0   null modem\n  \
        sockbox relay tcp:5555 tty:/dev/ttyUSB0,b115200,raw,echo=0   serial over TCP\n  \
        sockbox relay tcp:2323 exec:bash,pty,stderr,setsid,ctty,sigint   a shell per client\n  \
        sockbox relay unix:/tmp/d.sock unix:/var/run/docker.sock --dump   what the docker CLI says\n  \
        sockbox relay unix:/tmp/d.sock unix:/var/run/docker.sock --pcap - | wireshark -k -i -\n  \
        sockbox relay seqpacket:/tmp/spy.sock seqpacket:/run/ctl.sock --dump=auto --time delta\n  \
        sockbox relay tcp:8080 tcp:backend:80 --dump=json --dump-to events.jsonl --record /tmp/rec\n  \
        sockbox relay tls:443,cert=site.pem,key=site.key tcp:127.0.0.1:8080   terminate TLS\n  \
        sockbox relay tcp:5000 tls:db.internal:5433,cafile=ca.pem   add TLS on the way out\n  \
        sockbox relay tcp:9000 'fifo:/tmp/in!!file:/tmp/out,append'   read a FIFO, write a file\n\n\
        A is listened on and B connected to for each client; prefix a side with listen: or \
        connect: to say otherwise (two connect: sides are joined once). A side may be a dual \
        address READ!!WRITE: both halves are connected to and make one connection (see \
        `sockbox help addresses`). A socket stream to a \
        datagram or seqpacket side needs frame=len32|len16|line on the stream side. --retry \
        applies to each connect to B (and to A with connect:); a connection that broke is \
        never reconnected. With A a kind that yields one connection (-, file, exec, sh, R!!W) or \
        --once, the relay exits 1 when that connection failed. Access control (--allow-*, \
        --deny-ip*, --max-conns) works as in `sockbox listen --help`: a refused client is closed \
        before B is connected to. --dump shows each chunk as it moves, every line numbered by \
        connection and direction ([3 >] A to B, [3 <] B to A); --pcap writes a capture \
        Wireshark dissects (byte streams as TCP, messages as UDP); --record keeps each \
        direction as a file (docs/traffic.md).")]
    Relay(Box<RelayArgs>),
    /// Send one message (datagram, seqpacket message, or frame) to ADDR
    #[command(after_help = "Examples:\n  \
        sockbox send udp:127.0.0.1:5353 'hello'\n  \
        echo hi | sockbox send unix-dgram:/tmp/log.sock\n  \
        sockbox send tcp:localhost:9000,frame=len32 'one message'\n  \
        printf 'a\\nb\\n' | sockbox send seqpacket:@ctl --lines   two messages\n  \
        sockbox send udp:239.1.2.3:5000,multicast-ttl=2 'to a multicast group'\n  \
        sockbox send udp:192.0.2.255:9,broadcast 'to the subnet'")]
    Send(SendArgs),
    /// Receive messages on ADDR and print them as they arrive
    #[command(after_help = "Examples:\n  \
        sockbox recv udp:5353 --count 1\n  \
        sockbox recv unix-dgram:/tmp/log.sock --json\n  \
        sockbox recv seqpacket:/tmp/ctl.sock\n  \
        sockbox recv tcp:9000,frame=line --timeout 10s\n  \
        sockbox recv udp:0.0.0.0:5000,join=239.1.2.3    what a multicast group sends\n\n\
        Text output prints each message followed by a newline (unless it ends with one); \
        --json prints one object per line: peer, length, and data as text or base64.")]
    Recv(RecvArgs),
    /// ICMP echo to a host, or connect time to a tcp:/unix: address, like ping(8)
    #[command(after_help = "Examples:\n  \
        sockbox ping 127.0.0.1 -c 3\n  \
        sockbox ping ::1 -c 3 -i 0.2 --json\n  \
        sockbox ping tcp:example.org:443 -c 5       TCP handshake time (tcping)\n  \
        sockbox ping unix:/run/app.sock -c 3        is the daemon accepting, and how fast?\n  \
        sockbox ping seqpacket:@ctl\n  \
        sockbox -v ping 127.0.0.1 -c 1               says which ICMP socket it used\n\n\
        ICMP uses the unprivileged ICMP datagram socket when net.ipv4.ping_group_range allows \
        the user's group, else a raw socket (CAP_NET_RAW). Ctrl-C prints the statistics. \
        Exit code 0 when any probe was answered, 1 when none was.")]
    Ping(crate::cmd::ping::PingArgs),
    /// Port scan of one host (TCP connect, or --udp); --unix: which socket files are live
    #[command(after_help = "Examples:\n  \
        sockbox scan 127.0.0.1 -p 22,80,8000-8100\n  \
        sockbox scan localhost -p -                 all 65535 TCP ports\n  \
        sockbox scan ::1                            the 1000 most common ports\n  \
        sockbox scan 127.0.0.1 --udp -p 53,123,5353 --json\n  \
        sockbox scan --unix /run /tmp               live, stale and forbidden socket files\n\n\
        TCP ports are open (handshake completed), closed (reset) or filtered (no answer, or \
        an ICMP error). A connection the kernel made to the probing socket itself is closed. \
        UDP ports that stay silent are open|filtered: the two cannot be told apart. Scan \
        only hosts you are allowed to.\n\n\
        Exit code 0 when at least one port is open, 1 when none is (closed, filtered, and for \
        UDP open|filtered, which may be a firewall, do not count), so `sockbox scan HOST -p N \
        && ...` works like `nc -z`; 2 usage error. --unix exits 0 once the directories were \
        read.")]
    Scan(crate::cmd::scan::ScanArgs),
    /// Throughput, round-trip latency and connection rate of every transport, with a chart
    Bench(crate::cmd::bench::BenchArgs),
    /// Every socket on the host: TCP, UDP, raw, Unix, packet, netlink (ss / lsof's job)
    #[command(after_help = "Examples:\n  \
        sockbox ls                              every socket, like ss -a\n  \
        sockbox ls -l -p                        what listens, and which process\n  \
        sockbox ls --unix --peers               who talks to whom over Unix sockets\n  \
        sockbox ls --tcp --state established --port 443 -e   with rtt, cwnd, bytes\n  \
        sockbox ls --path '/run/*.sock' -p      Unix sockets under /run\n  \
        sockbox ls --summary                    counts by kind and state\n  \
        sockbox ls --json | jq '.sockets[] | select(.state == \"listen\")'\n  \
        sockbox ls --graph dot | dot -Tsvg > sockets.svg\n  \
        sockbox ls --files /run /tmp            socket files: live, stale, unreadable\n  \
        sockbox ls --events --json              connections closing (and opening) as they happen\n  \
        sockbox ls --events --tcp --port 443    closes of port-443 connections, with owners and bytes\n\n\
        Processes come from one walk of /proc/*/fd (-p, --peers, --pid, --process); run as \
        root to see every process's sockets. Families the kernel cannot dump through \
        sock_diag are read from /proc/net (-v says so); a family that cannot be read at all is \
        reported on stderr.")]
    Ls(crate::cmd::ls::LsArgs),
    /// Who uses the network now: rates per process and connection, Unix pairs, listeners
    #[command(after_help = "Examples:\n  \
        sockbox top                             the live view, refreshed every second\n  \
        sockbox top -d 2 --tcp --port 443       every 2 s, only TCP sockets with port 443\n  \
        sockbox top --process nginx             only nginx's sockets\n  \
        sockbox top --once                      two samples one second apart, one report\n  \
        sockbox top --once --json -d 2          the same over two seconds, as JSON\n  \
        sockbox top -n 10 --jsonl               ten reports, one JSON object a line\n  \
        sockbox top --once --rows 5             the five busiest rows of each view\n  \
        sockbox top --once --prometheus         the exporter's metrics once, for node_exporter's \
        textfile collector\n\n\
        Keys in the live view: 1-5 or Tab views (processes, connections, Unix pairs, \
        listeners, closed); < > sort column, r reverse; / filter (ls's flags: --tcp --port 443 \
        --process curl; empty for all); p or space pause; Enter only the selected row's \
        process, Esc all again; arrows move; q or Ctrl-C quits. The live view needs a \
        terminal on stdout (otherwise exit 2: use --once, -n or --json).\n\n\
        Rates are tcp_info byte counters compared by socket cookie; connections that opened \
        and closed between samples are counted from sock_diag destroy events. Owners that \
        cannot be read are shown by uid.")]
    Top(crate::cmd::top::TopArgs),
    /// Prometheus metrics of this host's sockets over HTTP: counts, queues, bytes per process
    #[command(after_help = "Examples:\n  \
        sockbox exporter                                 serve http://127.0.0.1:9977/metrics\n  \
        sockbox exporter --listen tcp:0.0.0.0:9977       to the network (owners are visible!)\n  \
        sockbox exporter --listen unix:/run/sockbox.sock,mode=0660\n  \
        sockbox exporter --group-by uid                  per-user series instead of per-comm\n  \
        sockbox exporter --group-by cgroup --top-k 20    per-service series (systemd units)\n  \
        sockbox exporter --port 443,5432                 listener queues of these ports apart\n  \
        sockbox top --once --prometheus > /var/lib/node_exporter/sockbox.prom   (textfile)\n\n\
        Bytes, retransmits and closes per group are counters that never go backwards: each \
        TCP socket's growth between scrapes is added by socket cookie, and a closed \
        connection's final counters come from its sock_diag destroy event. No label names a \
        connection: the top K groups by bytes (--top-k) plus group=\"other\", listener ports \
        only from --port. The most series a host can produce is 104 + 3*(ports+3) + 5*(K+1) + \
        29 (197 with the defaults); docs/observe.md lists every metric with example PromQL. \
        Exit code 1 when the address cannot be listened on (port in use).")]
    Exporter(crate::cmd::exporter::ExporterArgs),
    /// Who owns a port, a socket file, an abstract name or an inode, and who is connected
    #[command(after_help = "Examples:\n  \
        sockbox who :8080                     TCP and UDP port 8080\n  \
        sockbox who tcp:localhost:5432\n  \
        sockbox who /run/docker.sock\n  \
        sockbox who @dbus-session\n  \
        sockbox who 123456                    a socket inode (socket:[123456] in /proc/PID/fd)\n\n\
        Prints the sockets bound there with each owner's pid, user and command line, then \
        every connection with the processes at both ends. Exits 1 when nothing is found.")]
    Who(crate::cmd::who::WhoArgs),
    /// HTTP/1.1 request over a Unix, abstract or TCP socket (curl --unix-socket's job)
    #[command(after_help = "Examples:\n  \
        sockbox http unix:/var/run/docker.sock /v1.43/containers/json\n  \
        sockbox http unix:/var/run/docker.sock POST /v1.43/containers/web/restart\n  \
        sockbox http unix:/run/podman/podman.sock /v4.0.0/libpod/info --raw | jq .host\n  \
        sockbox http tcp:localhost:8080 /health --fail --timeout 2s\n  \
        sockbox http unix:@admin -i /metrics                status line and headers too\n  \
        sockbox http unix:/run/app.sock PUT /config -H 'Content-Type: application/json' \
        -d @config.json\n  \
        tar c . | sockbox http unix:/var/run/docker.sock /v1.43/build \
        -H 'Content-Type: application/x-tar' --data-file -\n\n\
        Sends Host: localhost over a Unix socket (HOST:PORT over TCP), User-Agent and \
        Accept: */*; a body adds Content-Type: application/x-www-form-urlencoded (as curl \
        does; replace it with -H) and Content-Length, or chunked transfer encoding when the \
        length is unknown (a pipe). The body is written to stdout as it arrives, de-chunked; \
        a JSON response (application/json, +json) is indented when stdout is a terminal \
        (--pretty, --raw to choose). -v shows the request and response heads. Exit codes: 0 \
        a response arrived (any status, unless --fail), 1 no complete response (refused, \
        not HTTP, closed early, timed out) or --fail and a 4xx/5xx status, 2 usage error.")]
    Http(crate::cmd::http::HttpArgs),
    /// Pass open file descriptors over a Unix socket (SCM_RIGHTS): fd send, fd recv
    #[command(after_help = "Examples:\n  \
        sockbox fd recv unix:/tmp/fds.sock --count 1        what arrives, described\n  \
        sockbox fd send unix:/tmp/fds.sock /etc/hostname /tmp --fd 0\n  \
        sockbox fd recv unix:/tmp/fds.sock --count 1 --cat  the content of what arrives\n  \
        sockbox fd recv seqpacket:@fds --exec 'sh -c \"cat <&3\"'\n\n\
        See `sockbox fd send --help` and `sockbox fd recv --help`; `sockbox relay --pass-fds` \
        carries descriptors between two Unix sockets.")]
    Fd(crate::cmd::fd::FdArgs),
    /// socat's own command line, run by sockbox (also as argv[0] `socat`); --explain
    #[command(after_help = crate::cmd::compat::SOCAT_HELP, disable_help_flag = true)]
    Socat(FrontArgs),
    /// nc's / ncat's command line, run by sockbox (also as `nc`, `ncat`, `netcat`); --explain
    #[command(after_help = crate::cmd::compat::NC_HELP, disable_help_flag = true)]
    Nc(FrontArgs),
    /// Help on a topic: `addresses`, `compat`, `sockets` (and unix, tcp, udp ...), or a command
    #[command(after_help = "Examples:\n  \
        sockbox help addresses        the address grammar (also man sockbox-addresses)\n  \
        sockbox help sockets          what a socket is, with commands that show it here\n  \
        sockbox help relay            a command's help\n\n\
        Topics: addresses, compat, sockets, unix, tcp, udp, seqpacket, pipes, ports, \
        fd-passing. Each topic is also a man page, sockbox-TOPIC(7); every command in a topic \
        runs as written.")]
    Help(HelpArgs),
    /// Print a man page (roff), or write them all for packagers with --out DIR
    #[command(after_help = "Examples:\n  \
        sockbox man | man -l -                 sockbox(1)\n  \
        sockbox man relay | man -l -           sockbox-relay(1)\n  \
        sockbox man addresses | man -l -       sockbox-addresses(7), as `sockbox help addresses`\n  \
        sockbox man --out target/man           man1/*.1 and man7/*.7, for a package\n\n\
        The pages are generated from the same definitions as --help, so they list every verb \
        and flag of this binary. scripts/install.sh and scripts/deb.sh install them.")]
    Man(ManArgs),
    /// Print a shell completion script (bash, zsh, fish), or write all three with --out DIR
    #[command(after_help = "Examples:\n  \
        source <(sockbox completions bash)                 this shell, now\n  \
        sockbox completions bash > ~/.local/share/bash-completion/completions/sockbox\n  \
        sockbox completions zsh > ~/.zfunc/_sockbox        with fpath+=(~/.zfunc)\n  \
        sockbox completions fish > ~/.config/fish/completions/sockbox.fish\n  \
        sockbox completions --out target/completions       all three, /usr/share layout\n\n\
        Completes verbs, flags, and after a verb the address kinds (tcp:, unix:, pty ...).")]
    Completions(CompletionsArgs),
    /// This host's socket facts and the limits that bite (IPv6 on? ping allowed? ...)
    #[command(after_help = "Examples:\n  \
        sockbox doctor                       every check, what it means, how to change it\n  \
        sockbox doctor --brief               one line per check\n  \
        sockbox doctor --json | jq '.checks[] | select(.id == \"ipv6\") | .facts'\n  \
        sockbox doctor --strict && deploy    exit 1 when a check warns\n  \
        sudo ip netns exec blue sockbox doctor   another network namespace\n\n\
        Checks: netns, ipv6 (per interface disable_ipv6, addresses), ping \
        (net.ipv4.ping_group_range), somaxconn (against the backlogs of the listeners that \
        exist), ports (ip_local_port_range against TIME-WAIT), fds (soft/hard and system-wide \
        limits), unprivileged_port_start, buffers (rmem_max, wmem_max), pipe_max_size, tcp \
        (congestion control, tcp_available_ulp), sock_diag (which families the kernel \
        answers), owners (can this process see other users' sockets' processes). Most are \
        per network namespace. Nothing is changed. Exit code 0; with --strict, 1 when a check \
        warns.")]
    Doctor(crate::cmd::doctor::DoctorArgs),
}

/// Parse the command line. An address may start with `-` (`-,frame=line`, `-!!file:/out`), which
/// clap reads as the unknown flag `-,`: positionals marked `allow_hyphen_values` (the ADDR ones,
/// with the [`Addr`] parser) take such values, but only when an argument before `--` starts
/// with `-,` or `-!!`.
/// Always allowing them would take a mistyped flag for the address and blame the next argument
/// (`connect --timout 2s tcp:h:1` would say "unexpected argument '2s'").
pub fn try_parse() -> Result<Cli, clap::Error> {
    try_parse_from(std::env::args_os())
}

/// [`try_parse`] of these arguments (the first is the program name): what the socat and nc
/// front ends run their native command lines through.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString>,
{
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let dash_addr = args
        .iter()
        .skip(1)
        .take_while(|a| a.as_os_str() != "--")
        .any(|a| {
            let a = a.as_encoded_bytes();
            a.starts_with(b"-,") || a.starts_with(b"-!!")
        });
    let mut cmd = Cli::command();
    if !dash_addr {
        cmd = no_hyphen_values(cmd);
    }
    let mut matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut Cli::command()))
}

fn no_hyphen_values(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        if a.is_positional() {
            a.allow_hyphen_values(false)
        } else {
            a
        }
    })
    .mut_subcommands(no_hyphen_values)
}

/// An ADDR positional: with `allow_hyphen_values = true` (see [`parse`]) it takes `-`,
/// `-,OPTION...` and `-!!WRITE`; anything else starting with `-` is the unknown flag it looks like, reported
/// as clap reports one. Flags the verb knows are still parsed as flags.
#[derive(Clone, Copy, Debug)]
pub struct Addr;

impl clap::builder::TypedValueParser for Addr {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        use clap::error::{ContextKind, ContextValue, ErrorKind};
        let s = clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)?;
        if s.starts_with('-') && s != "-" && !s.starts_with("-,") && !s.starts_with("-!!") {
            let mut err = clap::Error::new(ErrorKind::UnknownArgument).with_cmd(cmd);
            err.insert(ContextKind::InvalidArg, ContextValue::String(s));
            err.insert(
                ContextKind::Usage,
                ContextValue::StyledStr(cmd.clone().render_usage()),
            );
            return Err(err);
        }
        Ok(s)
    }
}

/// A duration: `500ms`, `2s`, `1.5`, `1m`.
fn duration(s: &str) -> Result<Duration, String> {
    sockbox_net::addr::parse_duration(s).map_err(|e| e.to_string())
}

/// A retry count: `N` or `forever`.
fn retry(s: &str) -> Result<Retry, String> {
    sockbox_net::addr::parse_retry(s).map_err(|e| e.to_string())
}

/// A linger: a duration, or `0` for none at all.
fn linger(s: &str) -> Result<Duration, String> {
    if matches!(s, "0" | "0s" | "0ms") {
        return Ok(Duration::ZERO);
    }
    sockbox_net::addr::parse_duration(s).map_err(|e| format!("{e}, or 0"))
}

/// A buffer size in bytes, at least 4 KiB: `65536`, `256k`, `1MiB`.
fn buffer_size(s: &str) -> Result<usize, String> {
    match sockbox_net::addr::parse_size(s) {
        Ok(n) if n >= 4096 => Ok(n),
        Ok(_) => Err("a buffer smaller than 4 KiB would cost a system call per few bytes".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Address to connect to (`sockbox help addresses`)
    #[arg(value_parser = Addr, allow_hyphen_values = true)]
    pub addr: String,
    /// Give up connecting after this long (e.g. 3s)
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
    /// Close when nothing moved either way for this long
    #[arg(long, value_parser = duration)]
    pub idle_timeout: Option<Duration>,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// Once one direction has ended, end the other after this long without traffic (nc -q);
    /// 0 ends it at once. Without it, what the peer sends after stdin ended is read until it
    /// closes, except from a peer that cannot end (a datagram socket, a tty, a pty): 1 s
    #[arg(long, value_name = "DUR", value_parser = linger, allow_hyphen_values = true)]
    pub linger: Option<Duration>,
    #[command(flatten)]
    pub one_way: OneWayArgs,
    /// Edit each line before it is sent, with history (when stdin is a terminal): the
    /// `readline` address in place of stdio
    #[arg(long)]
    pub readline: bool,
    /// The prompt of --readline
    #[arg(long, value_name = "TEXT", requires = "readline")]
    pub prompt: Option<String>,
    /// Send the peer back what it sends, instead of using stdin/stdout (socat's ECHO as the
    /// other address: `socat TCP:host:7 PIPE`)
    #[arg(long, conflicts_with_all = ["readline", "send_only", "recv_only"])]
    pub echo: bool,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Retrying a connect that failed for a reason that may pass (connect, relay).
#[derive(Args, Debug, Default)]
pub struct RetryArgs {
    /// Retry a connect refused, timed out or to a missing socket file N more times, or
    /// forever, waiting --retry-interval, doubling up to 10x; an address's own retry= wins.
    /// Only opening is retried, never a connection that broke
    #[arg(long, value_name = "N|forever", value_parser = retry, allow_hyphen_values = true)]
    pub retry: Option<Retry>,
    /// The wait before the first retry (default 1s); each next wait doubles, up to 10 times
    /// this, with ±10% jitter
    #[arg(long, value_name = "DUR", value_parser = duration)]
    pub retry_interval: Option<Duration>,
}

/// Copying one way only, with stdio (or an --exec program) on this side (connect, listen).
#[derive(Args, Debug, Default)]
pub struct OneWayArgs {
    /// Only send: stdin (with listen --exec, the program's output) to the peer; what the peer
    /// sends is never read. The connection ends when stdin ends
    #[arg(long, conflicts_with = "recv_only")]
    pub send_only: bool,
    /// Only receive: the peer to stdout (or the --exec program); stdin is never read. The
    /// connection ends when the peer's side ends
    #[arg(long)]
    pub recv_only: bool,
}

/// The help heading of the access-control flags.
const ACCESS: &str = "Access control";

/// Access control of a listener: who may connect (Unix credentials on a Unix listener, IP
/// ranges on a TCP or UDP one) and how many at once.
#[derive(Args, Debug, Default)]
pub struct AllowArgs {
    /// Let in only clients running as this uid (repeatable; others are refused before a
    /// byte is read, and logged). Unix stream and seqpacket listeners only
    #[arg(long, help_heading = ACCESS, value_name = "UID")]
    pub allow_uid: Vec<u32>,
    /// Let in clients whose primary or supplementary group is this gid or group name
    /// (repeatable)
    #[arg(long, help_heading = ACCESS, value_name = "GID|GROUP")]
    pub allow_gid: Vec<String>,
    /// Let in clients running as this user name (repeatable)
    #[arg(long, help_heading = ACCESS, value_name = "USER")]
    pub allow_user: Vec<String>,
    /// Let in only IP clients from this range: CIDR (10.0.0.0/8, fd00::/8) or one address
    /// (repeatable). Others are closed right after accept, before a byte is read, and logged;
    /// IPv4 clients of a dual-stack socket match as IPv4. TCP and UDP listeners only
    #[arg(long, help_heading = ACCESS, value_name = "CIDR")]
    pub allow_ip: Vec<String>,
    /// Refuse IP clients from this range, even those an --allow-ip range holds (repeatable)
    #[arg(long, help_heading = ACCESS, value_name = "CIDR")]
    pub deny_ip: Vec<String>,
    /// --allow-ip for each range in FILE: one CIDR or address per line, # starts a comment
    #[arg(long, help_heading = ACCESS, value_name = "FILE")]
    pub allow_ip_file: Vec<std::path::PathBuf>,
    /// --deny-ip for each range in FILE (same format as --allow-ip-file)
    #[arg(long, help_heading = ACCESS, value_name = "FILE")]
    pub deny_ip_file: Vec<std::path::PathBuf>,
    /// Let in only TLS clients whose certificate (verified against the listener's cafile=)
    /// has this subject: `CN=alice`, `O=Example,OU=ops` (every attribute must hold), or a
    /// bare common name (repeatable: any one matches). Others are closed after the handshake,
    /// before a byte of the service, and logged. E.g. `listen
    /// tcp:8443,tls,cert=s.pem,key=s.key,cafile=ca.pem --allow-subject CN=alice`
    #[arg(long, help_heading = ACCESS, value_name = "SUBJECT")]
    pub allow_subject: Vec<String>,
    /// Serve at most N clients at once (relay; listen --keep with --echo or --exec). Further
    /// clients wait in the kernel's accept queue until one closes: none is refused or loses a
    /// byte while the server catches up (haproxy's maxconn). On a UDP or unix-dgram listener,
    /// N peers at once; datagrams from further peers are dropped, one warning per peer
    #[arg(long, help_heading = ACCESS, value_name = "N")]
    pub max_conns: Option<usize>,
    /// With --max-conns: accept and close clients over the limit at once, one warning each
    /// (ncat's --max-conns), instead of leaving them waiting
    #[arg(long, help_heading = ACCESS)]
    pub max_conns_refuse: bool,
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    /// Address to listen on (`sockbox help addresses`); several with --activate; with
    /// --inherit, which inherited socket to serve
    #[arg(value_name = "ADDR", required_unless_present = "inherit")]
    #[arg(value_parser = Addr, allow_hyphen_values = true)]
    pub addrs: Vec<String>,
    /// Serve many clients, concurrently, until interrupted
    #[arg(short, long)]
    pub keep: bool,
    /// Connection brokering (ncat's --broker): many clients, and each one's bytes go to every
    /// other client; stdin and stdout are not used
    #[arg(long, conflicts_with_all = ["echo", "exec", "chat"])]
    pub broker: bool,
    /// ncat's chat mode: --broker with what each client sends prefixed `<userN> `, and joins
    /// and leaves announced to everyone
    #[arg(long, conflicts_with_all = ["echo", "exec"])]
    pub chat: bool,
    /// Send each client back what it sends
    #[arg(long, conflicts_with = "exec")]
    pub echo: bool,
    /// Run PROG for each client with the connection on its stdin/stdout (split like a shell
    /// would, no shell); SOCKBOX_PEER and, for Unix peers, SOCKBOX_PEER_PID/UID/GID are set
    #[arg(long, value_name = "PROG")]
    pub exec: Option<String>,
    /// Close a client when nothing moved either way for this long
    #[arg(long, value_parser = duration)]
    pub idle_timeout: Option<Duration>,
    #[command(flatten)]
    pub allow: AllowArgs,
    /// Bind every ADDR, then exec PROG (given after --) with the sockets as descriptors 3,
    /// 4, ... and LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES set (socket activation)
    #[arg(long, requires = "prog", conflicts_with_all = ["keep", "echo", "exec", "inherit", "idle_timeout"])]
    pub activate: bool,
    /// Serve the listening socket this process was handed by socket activation (systemd,
    /// systemd-socket-activate, sockbox listen --activate) instead of binding one
    #[arg(long)]
    pub inherit: bool,
    /// With --activate: the name of each socket in LISTEN_FDNAMES, in order (default: the
    /// socket file's name, or KIND-PORT). With --inherit: serve the socket of this name
    #[arg(long, value_name = "NAME")]
    pub fdname: Vec<String>,
    /// The program --activate runs, and its arguments
    #[arg(last = true, value_name = "PROG")]
    pub prog: Vec<String>,
    /// Once one direction has ended, end the other after this long without traffic; 0 ends
    /// it at once. Without it, half-close is honoured with no limit, except for a side that
    /// cannot end (a datagram socket, a tty, a pty): 1 s
    #[arg(long, value_name = "DUR", value_parser = linger, allow_hyphen_values = true)]
    pub linger: Option<Duration>,
    #[command(flatten)]
    pub one_way: OneWayArgs,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Copy {
    /// splice(2) where it measured faster, a buffer elsewhere (a splicing direction starts on
    /// a 16 KiB buffer and makes its pipe once a read fills it)
    Auto,
    /// splice(2) wherever both ends allow it (from the first full 16 KiB read on)
    Splice,
    /// always a user-space buffer
    Buffered,
}

#[derive(Args, Debug)]
pub struct RelayArgs {
    /// Side that is listened on (unless prefixed with connect:)
    #[arg(value_parser = Addr, allow_hyphen_values = true)]
    pub a: String,
    /// Side connected to for each client (unless prefixed with listen:)
    #[arg(required_unless_present = "inherit")]
    #[arg(value_parser = Addr, allow_hyphen_values = true)]
    pub b: Option<String>,
    /// Give up connecting to B after this long
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
    /// Close a connection when nothing moved either way for this long (datagram clients:
    /// 60s unless given)
    #[arg(long, value_parser = duration)]
    pub idle_timeout: Option<Duration>,
    /// How stream bytes are copied
    #[arg(long, value_enum, default_value_t = Copy::Auto)]
    pub copy: Copy,
    /// Largest buffer of the buffered copy, per direction (e.g. 256k): it starts at 16 KiB
    /// and grows while reads fill it
    #[arg(long, value_parser = buffer_size, default_value = "1M")]
    pub buffer: usize,
    /// Print connection and byte counts when the relay ends
    #[arg(long)]
    pub stats: bool,
    /// With --stats: one JSON document on stdout instead of text on stderr
    #[arg(long, requires = "stats")]
    pub json: bool,
    #[command(flatten)]
    pub allow: AllowArgs,
    /// Accept on the listening socket handed over by socket activation instead of binding A;
    /// the one address given is then the side to connect to
    #[arg(long)]
    pub inherit: bool,
    /// Carry file descriptors (SCM_RIGHTS) with the bytes, both ways: A and B both unix: or
    /// both seqpacket: (Wayland, tmux, ssh-agent-like protocols behind a proxy)
    #[arg(long)]
    pub pass_fds: bool,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// Once one direction of a connection has ended, end the other after this long without
    /// traffic (socat -t); 0 ends it at once. Without it, half-close is honoured with no limit,
    /// except for a side that cannot end (a datagram socket, a tty, a pty): 1 s
    #[arg(long, value_name = "DUR", value_parser = linger, allow_hyphen_values = true)]
    pub linger: Option<Duration>,
    /// Copy only from A to B, as written on the command line (socat -u); B is never read and
    /// a connection ends when A's side ends
    #[arg(long, conflicts_with = "pass_fds")]
    pub oneway: bool,
    /// Accept one client, relay it, then exit: 1 when that connection failed, else 0
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// The help heading of the fault flags.
const FAULTS: &str = "Faults (up: A to B, down: B to A, no prefix both ways; docs/faults.md)";

/// Faults injected into relayed connections: see docs/faults.md. Each value may start with
/// `up:` (A to B, client to server) or `down:` (B to A); without one it applies both ways.
/// A flag may be given once per direction.
#[derive(Args, Debug, Default)]
pub struct FaultArgs {
    /// Delay each chunk (or message) by DUR, with jitter +-DUR drawn uniform, normal or pareto;
    /// order is kept (e.g. --latency 50ms, --latency down:100ms+-20ms,dist=normal)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]DUR[+-DUR][,dist=D]")]
    pub latency: Vec<String>,
    /// Pace each connection to RATE bytes per second (k/M/G binary, kB/MB decimal, kbit/mbit),
    /// letting a burst go at once after a quiet spell (e.g. --rate 1MiB/s, --rate
    /// up:64k/s,burst=4k)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]RATE[,burst=SIZE]")]
    pub rate: Vec<String>,
    /// Pace all connections together to RATE per direction (e.g. --rate-total 10MiB/s)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]RATE[,burst=SIZE]")]
    pub rate_total: Vec<String>,
    /// Write byte streams in slices of MIN to MAX bytes, GAP apart, so the reader sees short
    /// reads (e.g. --slice 1..16,gap=5ms)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]MIN..MAX[,gap=DUR]")]
    pub slice: Vec<String>,
    /// After SIZE bytes (or DUR after the connection opened) pass on end of stream (FIN) and
    /// drop what the sender still sends (e.g. --close-after up:1k, --close-after 2s)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]SIZE|DUR")]
    pub close_after: Vec<String>,
    /// After SIZE bytes (or DUR) reset the connection: RST on TCP; on Unix sockets a close that
    /// makes the peer read ECONNRESET where it left data unread (e.g. --reset-after down:64k)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]SIZE|DUR")]
    pub reset_after: Vec<String>,
    /// After SIZE bytes (or DUR) move nothing more, keeping the connection open (e.g.
    /// --stall-after 10k)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]SIZE|DUR")]
    pub stall_after: Vec<String>,
    /// At the first end of stream, close the whole connection DUR later (toxiproxy's
    /// slow_close; e.g. --slow-close 2s)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]DUR")]
    pub slow_close: Vec<String>,
    /// At end of stream: swallow (never pass the half-close on), delay=DUR (pass it on late),
    /// full (close the whole connection at once, as toxiproxy does) (e.g. --half-close
    /// up:swallow)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]swallow|delay=DUR|full")]
    pub half_close: Vec<String>,
    /// Drop each message with probability P (datagram, seqpacket or frame= sides; e.g. --drop
    /// 0.1)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]P")]
    pub drop: Vec<String>,
    /// Send each message twice with probability P (e.g. --dup 0.05)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]P")]
    pub dup: Vec<String>,
    /// Hold a message back and send it after the next one, with probability P (e.g. --reorder
    /// 0.1)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]P")]
    pub reorder: Vec<String>,
    /// Flip one bit of a message with probability P (e.g. --corrupt 0.01)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]P")]
    pub corrupt: Vec<String>,
    /// With --pass-fds: lose each descriptor passed (SCM_RIGHTS) with probability P, passing
    /// on the bytes it came with (e.g. --pass-fds --drop-fds up:0.2)
    #[arg(long, help_heading = FAULTS, value_name = "[up:|down:]P")]
    pub drop_fds: Vec<String>,
    /// What clients of the listening side meet: refuse (nothing listens), reject (accepted,
    /// then closed at once), stall (never accepted, backlog full: connect() times out) (e.g.
    /// --accept stall)
    #[arg(long, help_heading = FAULTS, value_enum, value_name = "MODE")]
    pub accept: Option<AcceptMode>,
    /// Give faults to each connection with probability P (e.g. --faulty 0.25)
    #[arg(long, help_heading = FAULTS, value_name = "P", conflicts_with = "faulty_conns")]
    pub faulty: Option<String>,
    /// Give faults to these connections only, numbered from 1 as they start (e.g.
    /// --faulty-conns 1,4-6)
    #[arg(long, help_heading = FAULTS, value_name = "LIST")]
    pub faulty_conns: Option<String>,
    /// Faults act only from DUR after the relay started (e.g. --faults-after 10s)
    #[arg(long, help_heading = FAULTS, value_name = "DUR", value_parser = duration)]
    pub faults_after: Option<Duration>,
    /// Faults act only for DUR (after --faults-after; e.g. --faults-for 30s). SIGUSR1 switches
    /// faults off and on at any time
    #[arg(long, help_heading = FAULTS, value_name = "DUR", value_parser = duration)]
    pub faults_for: Option<Duration>,
    /// The seed of every random choice, per (seed, connection, direction): the same seed
    /// replays a run. Printed at start when not given (e.g. --seed 42)
    #[arg(long, help_heading = FAULTS, value_name = "N")]
    pub seed: Option<u64>,
}

/// `--accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AcceptMode {
    /// nothing listens: connect() is refused
    Refuse,
    /// each client is accepted and closed at once
    Reject,
    /// nothing is accepted and the backlog is full: connect() times out
    Stall,
}

/// The help heading of the traffic flags.
const TRAFFIC: &str = "Seeing and recording the traffic";

/// Seeing and recording what moves (relay, connect, listen): see docs/traffic.md.
#[derive(Args, Debug, Default)]
pub struct TrafficArgs {
    /// Show every chunk moved, each line with its connection number and direction ([3 >] A to
    /// B, [3 <] B to A), and open, descriptors passed, half-close, reset and close as lines of
    /// their own. text: non-printable bytes as \xNN, \r shown, newlines kept (reversible);
    /// hex: offset, hex and ASCII columns; auto: text, hex for a mostly binary chunk; json: one
    /// object per event (docs/json.md). E.g. --dump, --dump=hex
    #[arg(long, help_heading = TRAFFIC, value_name = "MODE", value_enum, num_args = 0..=1,
          require_equals = true, default_missing_value = "text")]
    pub dump: Option<DumpMode>,
    /// Write the --dump to FILE instead of stderr (e.g. --dump-to /tmp/traffic.log)
    #[arg(long, help_heading = TRAFFIC, value_name = "FILE", requires = "dump")]
    pub dump_to: Option<std::path::PathBuf>,
    /// Timestamps of the --dump: abs (time of day, UTC), rel (since the connection opened),
    /// delta (since the connection's previous line)
    #[arg(long, help_heading = TRAFFIC, value_enum, default_value_t = TimeArg::Abs)]
    pub time: TimeArg,
    /// Write the traffic as a pcapng capture to FILE, or - for stdout (| tshark -r -): byte
    /// streams as synthetic TCP, messages as UDP, so Wireshark dissects HTTP over a Unix socket
    /// (e.g. --pcap /tmp/docker.pcapng)
    #[arg(long, help_heading = TRAFFIC, value_name = "FILE|-")]
    pub pcap: Option<String>,
    /// The synthetic server port in the --pcap capture (default 80, which Wireshark dissects as
    /// HTTP; e.g. --pcap-port 6379 for Redis)
    #[arg(long, help_heading = TRAFFIC, value_name = "PORT", requires = "pcap")]
    pub pcap_port: Option<u16>,
    /// Record each direction of each connection as a raw file: DIR/N-a2b.bin, DIR/N-b2a.bin
    /// (replay one side with `sockbox connect ADDR < DIR/1-a2b.bin`)
    #[arg(long, help_heading = TRAFFIC, value_name = "DIR")]
    pub record: Option<std::path::PathBuf>,
    /// For `sockbox socat -v`: show B to A as `>` (socat's first address is the verb's B)
    #[arg(long, hide = true, requires = "dump")]
    pub dump_swap: bool,
}

/// What `--dump` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DumpMode {
    /// escaped text, reversible
    Text,
    /// offset, hex and ASCII columns
    Hex,
    /// text, hex for a chunk that is mostly binary
    Auto,
    /// one JSON object per event
    Json,
    /// socat -v's format (what `sockbox socat -v` uses)
    Socat,
    /// socat -x's format
    SocatHex,
}

/// How `--dump` shows time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum TimeArg {
    /// time of day (UTC)
    #[default]
    Abs,
    /// seconds since the connection opened
    Rel,
    /// seconds since the connection's previous line
    Delta,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// Where to send
    #[arg(value_parser = Addr, allow_hyphen_values = true)]
    pub addr: String,
    /// The message; without it, all of stdin is one message
    pub data: Option<String>,
    /// Send each line of stdin as its own message (without its newline)
    #[arg(long, conflicts_with = "data")]
    pub lines: bool,
    /// Give up connecting after this long
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
}

#[derive(Args, Debug)]
pub struct RecvArgs {
    /// Address to receive on
    #[arg(value_parser = Addr, allow_hyphen_values = true)]
    pub addr: String,
    /// Stop after this many messages
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// One JSON object per message: {"peer", "length", "data", "encoding"}
    #[arg(long)]
    pub json: bool,
    /// Give up after this long; exit 1 if --count messages did not all arrive
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
}

/// Another tool's arguments, as typed.
#[derive(Args, Debug)]
pub struct FrontArgs {
    /// The tool's options and addresses
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HelpArgs {
    /// `addresses`, `compat`, a topic (sockets, unix, tcp, udp, seqpacket, pipes, ports,
    /// fd-passing), or the name of a command
    pub topic: Option<String>,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The page: a command (`relay`, `fd-send`) or a topic (`addresses`); none for sockbox(1)
    #[arg(conflicts_with = "out")]
    pub verb: Option<String>,
    /// Write every page into DIR/man1 and DIR/man7 instead of printing one
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum, conflicts_with = "out")]
    pub shell: Option<clap_complete::Shell>,
    /// Write bash, zsh and fish scripts under DIR, laid out as /usr/share
    /// (bash-completion/completions/sockbox, zsh/vendor-completions/_sockbox,
    /// fish/vendor_completions.d/sockbox.fish)
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

/// When to colour output (`--color`); the policy is `output::color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Only on a terminal, and not when NO_COLOR is set to anything but ""
    Auto,
    /// Always, even into a pipe or with NO_COLOR set
    Always,
    /// Never
    Never,
}
