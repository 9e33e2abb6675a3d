//! Names for the numbers sock_diag reports: IP protocols of raw sockets, ethertypes of
//! packet sockets, netlink protocols, interface indices.

/// The IP protocol of a raw socket, by name (`/etc/protocols`' names for the usual ones).
pub fn ip_protocol(n: u16) -> Option<&'static str> {
    Some(match n {
        0 => "ip",
        1 => "icmp",
        2 => "igmp",
        4 => "ipip",
        6 => "tcp",
        17 => "udp",
        41 => "ipv6",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        132 => "sctp",
        255 => "raw",
        _ => return None,
    })
}

/// The ethertype a packet socket receives (`linux/if_ether.h`).
pub fn ethertype(n: u16) -> Option<&'static str> {
    Some(match n {
        0x0000 => "none",
        0x0003 => "all",
        0x0800 => "ip",
        0x0806 => "arp",
        0x8100 => "802.1q",
        0x86dd => "ipv6",
        0x88cc => "lldp",
        0x888e => "eapol",
        _ => return None,
    })
}

/// A netlink protocol's name (`linux/netlink.h`).
pub fn netlink_protocol(n: u8) -> Option<&'static str> {
    Some(match n {
        0 => "route",
        1 => "unused",
        2 => "usersock",
        3 => "firewall",
        4 => "sock_diag",
        5 => "nflog",
        6 => "xfrm",
        7 => "selinux",
        8 => "iscsi",
        9 => "audit",
        10 => "fib_lookup",
        11 => "connector",
        12 => "netfilter",
        13 => "ip6_fw",
        14 => "dnrtmsg",
        15 => "kobject_uevent",
        16 => "generic",
        18 => "scsitransport",
        19 => "ecryptfs",
        20 => "rdma",
        21 => "crypto",
        22 => "smc",
        _ => return None,
    })
}

/// An interface's name from its index (`if_indextoname(3)`).
pub fn interface(ifindex: u32) -> Option<String> {
    nix::net::if_::if_indextoname(ifindex)
        .ok()
        .and_then(|c| c.into_string().ok())
}

/// A user's name from its uid (`getpwuid_r(3)`).
pub fn user(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(ip_protocol(1), Some("icmp"));
        assert_eq!(ethertype(0x86dd), Some("ipv6"));
        assert_eq!(netlink_protocol(4), Some("sock_diag"));
        assert_eq!(interface(1).as_deref(), Some("lo"));
        assert_eq!(ip_protocol(200), None);
        assert_eq!(user(0).as_deref(), Some("root"));
    }
}
