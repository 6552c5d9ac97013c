//! Address classes the webhook SSRF guard refuses, and the CIDR blocks that exempt addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address block: `10.0.0.0/8`, `::1/128`, or a bare address (a block of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    network: IpAddr,
    prefix: u8,
}

pub fn parse_block(raw: &str) -> Option<Block> {
    let (addr, prefix) = match raw.trim().split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (raw.trim().parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some(Block { network: addr, prefix })
}

impl Block {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (bytes, bits) = (usize::from(prefix / 8), prefix % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    bits == 0 || (a[bytes] ^ b[bytes]) >> (8 - bits) == 0
}

/// The IPv4 address hidden in an IPv6 one (mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`), so it is judged as what it reaches.
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0xffff, 0, _, _] => IpAddr::V4(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => IpAddr::V4(tail),
        [0x2002, hi, lo, ..] => IpAddr::V4(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => ip,
    }
}

/// Why an address must not be reached from a webhook, or `None` for a public one.
pub fn forbidden_class(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_unspecified() || ip.is_broadcast() || a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        // Carrier-grade NAT (RFC 6598): private in all but name.
        Some("private")
    } else {
        None
    }
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if first & 0xffc0 == 0xfec0 {
        // Deprecated site-local, still routed privately in places.
        Some("private")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_addresses() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("224.0.0.1", Some("multicast")),
            ("0.0.0.0", Some("unspecified")),
            ("255.255.255.255", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("unique-local")),
            ("fc00::1", Some("unique-local")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("::ffff:0:192.168.0.1", Some("private")),
            ("64:ff9b::169.254.169.254", Some("link-local")),
            ("2002:7f00:1::", Some("loopback")),
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("2001:4860:4860::8888", None),
            ("::ffff:8.8.8.8", None),
        ];
        for (raw, want) in cases {
            let ip: IpAddr = raw.parse().unwrap();
            assert_eq!(forbidden_class(ip), want, "{raw}");
        }
    }

    #[test]
    fn blocks() {
        let block = parse_block("10.20.0.0/16").unwrap();
        assert!(block.contains("10.20.3.4".parse().unwrap()));
        assert!(block.contains("::ffff:10.20.3.4".parse().unwrap()));
        assert!(!block.contains("10.21.0.1".parse().unwrap()));
        assert!(parse_block("127.0.0.1").unwrap().contains("127.0.0.1".parse().unwrap()));
        assert!(!parse_block("127.0.0.1").unwrap().contains("127.0.0.2".parse().unwrap()));
        assert!(parse_block("fd00::/8").unwrap().contains("fd12::1".parse().unwrap()));
        assert!(parse_block("10.0.0.0/33").is_none());
        assert!(parse_block("localhost").is_none());
    }
}
