//! TCP and UDP over IPv4 and IPv6.
//!
//! `tcp:HOST:PORT` resolves and tries each address in turn (the first to connect wins);
//! `tcp4`/`tcp6` keep only one family. To listen, a bare port means every address: one
//! dual-stack `[::]` socket for `tcp`, falling back to `0.0.0.0` where IPv6 is off.

use crate::error::os_error_text;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, InterfaceIndexOrAddress, SockAddr, Socket, Type};

use super::{sock, Bound, Conn, Medium, Peer};
use crate::addr::{Address, InetTarget, IpVersion, Options, Transfer};
use crate::error::{io_err, Error, Result};

/// Default listen(2) backlog, as most servers use.
const BACKLOG: u32 = 1024;

/// Resolve the target to socket addresses. `passive`: for binding (a missing host is
/// "every address").
async fn resolve(addr: &Address, t: &InetTarget, passive: bool) -> Result<Vec<SocketAddr>> {
    let wanted = |a: &SocketAddr| match t.version {
        IpVersion::Any => true,
        IpVersion::V4 => a.is_ipv4(),
        IpVersion::V6 => a.is_ipv6(),
    };
    let host = match &t.host {
        Some(h) => h.as_str(),
        None if passive => {
            let any = match t.version {
                IpVersion::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpVersion::Any | IpVersion::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            return Ok(vec![SocketAddr::new(any, t.port)]);
        }
        None => {
            return Err(Error::Usage(format!(
                "{addr}: to connect, give a host: {}:localhost:{}",
                addr.endpoint.kind(),
                t.port
            )))
        }
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        let a = SocketAddr::new(ip, t.port);
        return if wanted(&a) {
            Ok(vec![a])
        } else {
            Err(Error::Usage(format!(
                "{addr}: {ip} is not an address of the family {} asks for",
                addr.endpoint.kind()
            )))
        };
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, t.port))
        .await
        .map_err(|e| Error::Io {
            op: "resolve",
            target: host.to_string(),
            err: io::Error::new(io::ErrorKind::NotFound, os_error_text(&e)),
        })?
        .filter(wanted)
        .collect();
    if found.is_empty() {
        return Err(Error::Io {
            op: "resolve",
            target: host.to_string(),
            err: io::Error::new(
                io::ErrorKind::NotFound,
                "no address of the requested family",
            ),
        });
    }
    crate::narrate!(
        "getaddrinfo({host}) = {}",
        found
            .iter()
            .map(|a| a.ip().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(found)
}

/// Parse `bind=` for an inet socket: `IP`, `IP:PORT`, `[V6]:PORT` or `:PORT`.
fn parse_bind(addr: &Address, spec: &str, v6: bool) -> Result<SocketAddr> {
    if let Ok(a) = spec.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = spec.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 0));
    }
    if let Some(port) = spec.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()) {
        let any = if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        return Ok(SocketAddr::new(any, port));
    }
    Err(Error::Usage(format!(
        "{addr}: bind={spec}: expected IP, IP:PORT, [IPV6]:PORT or :PORT"
    )))
}

/// Set the socket options the address asks for, each narrated.
fn apply_options(s: &Socket, o: &Options, tcp: bool, v6: bool) -> io::Result<()> {
    if o.reuseaddr {
        sock::setsockopt(s, "SO_REUSEADDR", &1, |s| s.set_reuse_address(true))?;
    }
    if o.reuseport {
        sock::setsockopt(s, "SO_REUSEPORT", &1, |s| s.set_reuse_port(true))?;
    }
    if tcp && o.nodelay {
        sock::setsockopt(s, "TCP_NODELAY", &1, |s| s.set_tcp_nodelay(true))?;
    }
    if tcp && o.keepalive {
        sock::setsockopt(s, "SO_KEEPALIVE", &1, |s| s.set_keepalive(true))?;
    }
    if v6 && o.v6only {
        sock::setsockopt(s, "IPV6_V6ONLY", &1, |s| s.set_only_v6(true))?;
    }
    if let Some(dev) = &o.dev {
        sock::setsockopt(s, "SO_BINDTODEVICE", dev, |s| {
            s.bind_device(Some(dev.as_bytes()))
        })?;
    }
    if let Some(n) = o.rcvbuf {
        sock::setsockopt(s, "SO_RCVBUF", &n, |s| s.set_recv_buffer_size(n))?;
    }
    if let Some(n) = o.sndbuf {
        sock::setsockopt(s, "SO_SNDBUF", &n, |s| s.set_send_buffer_size(n))?;
    }
    if !tcp {
        apply_multicast(s, o, v6)?;
    }
    Ok(())
}

/// `broadcast`, `join=`, `multicast-ttl=`, `multicast-loop=`, `multicast-if=` (udp). An IPv4
/// group is joined on an IPv4 socket (bind `udp4:` or `udp:0.0.0.0:PORT` to receive it).
fn apply_multicast(s: &Socket, o: &Options, v6: bool) -> io::Result<()> {
    if o.broadcast {
        sock::setsockopt(s, "SO_BROADCAST", &1, |s| s.set_broadcast(true))?;
    }
    if let Some(m) = &o.join {
        // Receivers of a group usually share its port: let them, as multicast tools do.
        if !o.reuseaddr {
            sock::setsockopt(s, "SO_REUSEADDR", &1, |s| s.set_reuse_address(true))?;
        }
        match m.group {
            IpAddr::V4(g) => {
                let on = match m.iface.as_deref() {
                    None => InterfaceIndexOrAddress::Address(Ipv4Addr::UNSPECIFIED),
                    Some(i) => match i.parse::<Ipv4Addr>() {
                        Ok(ip) => InterfaceIndexOrAddress::Address(ip),
                        Err(_) => InterfaceIndexOrAddress::Index(if_index(i)?),
                    },
                };
                sock::setsockopt(s, "IP_ADD_MEMBERSHIP", m, |s| {
                    s.join_multicast_v4_n(&g, &on)
                })?;
            }
            IpAddr::V6(g) => {
                let index = match m.iface.as_deref() {
                    None => 0,
                    Some(i) => if_index(i)?,
                };
                sock::setsockopt(s, "IPV6_ADD_MEMBERSHIP", m, |s| {
                    s.join_multicast_v6(&g, index)
                })?;
            }
        }
    }
    if let Some(n) = o.multicast_ttl {
        if v6 {
            sock::setsockopt(s, "IPV6_MULTICAST_HOPS", &n, |s| s.set_multicast_hops_v6(n))?;
        } else {
            sock::setsockopt(s, "IP_MULTICAST_TTL", &n, |s| s.set_multicast_ttl_v4(n))?;
        }
    }
    if let Some(on) = o.multicast_loop {
        let v = u8::from(on);
        if v6 {
            sock::setsockopt(s, "IPV6_MULTICAST_LOOP", &v, |s| {
                s.set_multicast_loop_v6(on)
            })?;
        } else {
            sock::setsockopt(s, "IP_MULTICAST_LOOP", &v, |s| s.set_multicast_loop_v4(on))?;
        }
    }
    if let Some(i) = &o.multicast_if {
        if v6 {
            let index = if_index(i)?;
            sock::setsockopt(s, "IPV6_MULTICAST_IF", i, |s| s.set_multicast_if_v6(index))?;
        } else {
            let ip = match i.parse::<Ipv4Addr>() {
                Ok(ip) => ip,
                Err(_) => iface_v4(i)?,
            };
            sock::setsockopt(s, "IP_MULTICAST_IF", i, |s| s.set_multicast_if_v4(&ip))?;
        }
    }
    Ok(())
}

/// The index of the interface called `name`.
fn if_index(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface called {name} (see `ip link`)"),
        )
    })
}

/// The first IPv4 address of the interface called `name` (IP_MULTICAST_IF takes an address).
fn iface_v4(name: &str) -> io::Result<Ipv4Addr> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    addrs
        .filter(|a| a.interface_name == name)
        .find_map(|a| a.address?.as_sockaddr_in().map(|sin| sin.ip()))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("interface {name} has no IPv4 address (see `ip addr`)"),
            )
        })
}

/// A socket for `to`, options applied and `bind=` bound.
fn client_socket(addr: &Address, to: &SocketAddr, ty: Type) -> Result<Socket> {
    let s = sock::socket(Domain::for_address(*to), ty).map_err(io_err("socket", addr))?;
    apply_options(&s, &addr.options, ty == Type::STREAM, to.is_ipv6())
        .map_err(io_err("setsockopt", addr))?;
    if let Some(spec) = &addr.options.bind {
        let local = parse_bind(addr, spec, to.is_ipv6())?;
        sock::bind(&s, &SockAddr::from(local), &local).map_err(io_err("bind", spec))?;
    }
    Ok(s)
}

pub(crate) async fn connect_tcp(
    addr: &Address,
    label: Option<&Arc<str>>,
    t: &InetTarget,
    timeout: Option<Duration>,
) -> Result<Conn> {
    let mut last = None;
    for to in resolve(addr, t, false).await? {
        let s = client_socket(addr, &to, Type::STREAM)?;
        match sock::connect(s, &SockAddr::from(to), &to, timeout).await {
            Ok(fd) => {
                let label = label.map_or_else(|| addr.to_string().into(), Arc::clone);
                let mut conn =
                    Conn::socket(label, fd, Medium::Tcp, Transfer::Stream, addr.options.frame);
                conn.peer = Some(Peer::Inet { addr: to });
                return Ok(conn);
            }
            Err(e) => last = Some(io_err("connect", format!("{addr} ({to})"))(e)),
        }
    }
    Err(last.unwrap_or_else(|| Error::Usage(format!("{addr}: nothing to connect to"))))
}

pub(crate) async fn connect_udp(addr: &Address, t: &InetTarget) -> Result<Conn> {
    let to = resolve(addr, t, false).await?[0];
    let s = client_socket(addr, &to, Type::DGRAM)?;
    let fd = sock::connect(s, &SockAddr::from(to), &to, None)
        .await
        .map_err(|e| match e.raw_os_error() {
            // The kernel refuses a broadcast destination to a socket without SO_BROADCAST.
            Some(libc::EACCES) if !addr.options.broadcast => io::Error::new(
                e.kind(),
                format!("{to} is a broadcast address: add the broadcast option ({addr},broadcast)"),
            ),
            _ => e,
        })
        .map_err(io_err("connect", addr))?;
    let mut conn = Conn::socket(
        addr.to_string(),
        fd,
        Medium::Datagram,
        Transfer::Message,
        None,
    );
    conn.peer = Some(Peer::Inet { addr: to });
    Ok(conn)
}

/// A bound socket for listening; a dual-stack `[::]` falls back to `0.0.0.0` when this host
/// has no IPv6.
async fn bound_socket(addr: &Address, t: &InetTarget, ty: Type) -> Result<(Socket, SocketAddr)> {
    let mut last = None;
    let mut candidates = resolve(addr, t, true).await?;
    if t.host.is_none() && t.version == IpVersion::Any {
        candidates.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), t.port));
    }
    for at in candidates {
        let target = addr.to_string();
        let s = sock::socket(Domain::for_address(at), ty).map_err(io_err("socket", &target))?;
        if ty == Type::STREAM && !addr.options.reuseaddr {
            // Every TCP server sets this, so a restart does not wait out TIME_WAIT.
            sock::setsockopt(&s, "SO_REUSEADDR", &1, |s| s.set_reuse_address(true))
                .map_err(io_err("setsockopt", &target))?;
        }
        apply_options(&s, &addr.options, ty == Type::STREAM, at.is_ipv6())
            .map_err(io_err("setsockopt", &target))?;
        if at.is_ipv6() && at.ip().is_unspecified() && t.version == IpVersion::Any {
            sock::setsockopt(&s, "IPV6_V6ONLY", &0, |s| s.set_only_v6(false))
                .map_err(io_err("setsockopt", &target))?;
        }
        match sock::bind(&s, &SockAddr::from(at), &at) {
            Ok(()) => {
                let local = s
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_socket())
                    .unwrap_or(at);
                return Ok((s, local));
            }
            Err(e) => {
                let fatal = e.raw_os_error() != Some(libc::EAFNOSUPPORT)
                    && e.raw_os_error() != Some(libc::EADDRNOTAVAIL);
                last = Some(io_err("bind", addr)(e));
                if fatal {
                    break;
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::Usage(format!("{addr}: nothing to bind"))))
}

fn local_label(addr: &Address, local: SocketAddr) -> String {
    format!("{}:{}", addr.endpoint.kind(), local)
}

pub(crate) async fn bind_tcp(addr: &Address, t: &InetTarget) -> Result<Bound> {
    let (s, local) = bound_socket(addr, t, Type::STREAM).await?;
    sock::listen(&s, addr.options.backlog.unwrap_or(BACKLOG)).map_err(io_err("listen", addr))?;
    let mut b = Bound::new(s, local_label(addr, local), Medium::Tcp, None);
    b.set_options(&addr.options);
    Ok(b)
}

pub(crate) async fn bind_udp(addr: &Address, t: &InetTarget) -> Result<Bound> {
    let (s, local) = bound_socket(addr, t, Type::DGRAM).await?;
    Ok(Bound::new(
        s,
        local_label(addr, local),
        Medium::Datagram,
        None,
    ))
}
