//! Strict parsing of the IP and PORT arguments.
//!
//! The lesson's `inet_addr` turns anything it cannot read into
//! 255.255.255.255; here anything but a literal is a usage error.

use crate::decimal;
use crate::error::{Error, Result};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Parses `IP` and `PORT` arguments into a socket address.
///
/// `IP` is an IPv4 dotted quad, an IPv6 literal (`::1`, `[::1]`,
/// `fe80::1%lo`, `fe80::1%2`) or `localhost` (127.0.0.1).
///
/// # Errors
/// [`Error::Usage`] naming the bad argument.
pub fn parse_socket_addr(ip: &str, port: &str) -> Result<SocketAddr> {
    // The IP first: in `999.1.1.1 99999` it is the first thing wrong.
    let mut addr = parse_ip(ip, 0)?;
    addr.set_port(parse_port(port)?);
    Ok(addr)
}

/// Parses the address of a server to connect to: as [`parse_socket_addr`],
/// and port 0 (a server's way to let the kernel choose) is refused.
///
/// # Errors
/// [`Error::Usage`] naming the bad argument.
pub fn parse_peer_addr(ip: &str, port: &str) -> Result<SocketAddr> {
    let addr = parse_socket_addr(ip, port)?;
    check_peer_port(addr.port(), port)?;
    Ok(addr)
}

/// A client's port must name a server: 0 is only for servers (the kernel
/// chooses). `text` is the port as given, for the message.
///
/// # Errors
/// [`Error::Usage`] for port 0.
pub fn check_peer_port(port: u16, text: &str) -> Result<()> {
    if port == 0 {
        return Err(Error::Usage(format!(
            "invalid port {text:?}: a client cannot connect to port 0 (only a server can ask for any port)"
        )));
    }
    Ok(())
}

/// Parses a port number, 0–65535 (0 lets the kernel choose).
///
/// # Errors
/// [`Error::Usage`] for anything that is not a decimal number in range.
pub fn parse_port(port: &str) -> Result<u16> {
    decimal::parse_str(port).ok_or_else(|| {
        Error::Usage(format!(
            "invalid port {port:?}: expected a number from 0 to 65535"
        ))
    })
}

/// Parses an IP literal (see [`parse_socket_addr`]) and pairs it with `port`.
///
/// # Errors
/// [`Error::Usage`] for host names, shorthand like `127.1`, out-of-range
/// octets, and unknown IPv6 zones.
pub fn parse_ip(ip: &str, port: u16) -> Result<SocketAddr> {
    let invalid = || {
        Error::Usage(format!(
            "invalid address {ip:?}: expected an IPv4 dotted quad, an IPv6 literal or localhost"
        ))
    };
    if ip == "localhost" {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        return Ok(SocketAddr::from((v4, port)));
    }
    let unbracketed = match ip.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']').ok_or_else(invalid)?,
        None => ip,
    };
    let (literal, zone) = match unbracketed.split_once('%') {
        Some((literal, zone)) => (literal, Some(zone)),
        None => (unbracketed, None),
    };
    let v6 = literal.parse::<Ipv6Addr>().map_err(|_| invalid())?;
    let scope_id = match zone {
        Some(zone) => zone_index(zone).ok_or_else(|| {
            Error::Usage(format!(
                "invalid address {ip:?}: no network interface {zone:?}"
            ))
        })?,
        None => 0,
    };
    Ok(SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope_id)))
}

/// The interface index of an IPv6 zone: the decimal index of an existing
/// interface, or an interface name, both looked up in sysfs (no socket
/// needed, unlike `if_nametoindex`). Index 0 ("no zone"), `+1` and indexes
/// no interface has are refused here rather than as a later `EINVAL`/`ENODEV`.
fn zone_index(zone: &str) -> Option<u32> {
    if zone.bytes().all(|b| b.is_ascii_digit()) {
        let index = decimal::parse_str::<u32>(zone).filter(|&index| index > 0)?;
        return interface_index_exists(index).then_some(index);
    }
    let plausible_name = zone.len() <= 15
        && zone.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
        && zone != "."
        && zone != "..";
    if !plausible_name {
        return None;
    }
    sysfs_ifindex(&format!("/sys/class/net/{zone}/ifindex"))
}

/// Whether some interface has `index`; when sysfs cannot be read at all the
/// number is taken on trust (the kernel still checks it).
fn interface_index_exists(index: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return true;
    };
    entries.filter_map(|entry| entry.ok()).any(|entry| {
        let path = entry.path().join("ifindex");
        path.to_str().and_then(sysfs_ifindex) == Some(index)
    })
}

/// The number in a sysfs `ifindex` file (`"1\n"`).
fn sysfs_ifindex(path: &str) -> Option<u32> {
    let path = std::ffi::CString::new(path).ok()?;
    let text = crate::io::read_to_end_at(rustix::fs::CWD, &path, 16).ok()?;
    decimal::parse(text.strip_suffix(b"\n").unwrap_or(&text))
}

/// The IP as the lesson prints it (`127.0.0.1`, `::1`; no port, no
/// brackets), with IPv4-mapped IPv6 shown as the IPv4 it is.
pub fn display_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_literals_and_localhost() {
        let ok = |ip: &str| {
            parse_socket_addr(ip, "7777")
                .map(|a| a.to_string())
                .unwrap_or_default()
        };
        assert_eq!(ok("127.0.0.1"), "127.0.0.1:7777");
        assert_eq!(ok("localhost"), "127.0.0.1:7777");
        assert_eq!(ok("::1"), "[::1]:7777");
        assert_eq!(ok("[::1]"), "[::1]:7777");
        assert_eq!(ok("0.0.0.0"), "0.0.0.0:7777");
        assert_eq!(ok("fe80::1%1"), "[fe80::1%1]:7777");
    }

    #[test]
    fn the_ip_is_checked_before_the_port_and_clients_need_a_port() {
        let shown = |result: Result<SocketAddr>| match result {
            Ok(addr) => addr.to_string(),
            Err(err) => err.to_string(),
        };
        assert!(shown(parse_socket_addr("999.1.1.1", "99999")).starts_with("invalid address"));
        assert!(shown(parse_socket_addr("::1", "99999")).starts_with("invalid port"));
        assert_eq!(shown(parse_socket_addr("::1", "0")), "[::1]:0");
        assert!(shown(parse_peer_addr("::1", "0")).starts_with("invalid port \"0\": a client"));
        assert!(shown(parse_peer_addr("127.1", "0")).starts_with("invalid address"));
        assert_eq!(shown(parse_peer_addr("::1", "7")), "[::1]:7");
    }

    #[test]
    fn zone_names_resolve_through_sysfs() {
        let addr = parse_ip("fe80::1%lo", 1);
        let SocketAddr::V6(v6) = addr.unwrap_or(SocketAddr::from(([0; 4], 0))) else {
            panic!("fe80::1%lo did not parse as IPv6");
        };
        assert!(v6.scope_id() > 0);
    }

    #[test]
    fn rejects_everything_inet_addr_would_mangle() {
        for ip in [
            "127.1",
            "999.1.1.1",
            "example.com",
            "",
            "1.2.3.4.5",
            "01.2.3.4",
            " 127.0.0.1",
            "[::1",
            "::1]",
            "fe80::1%",
            "fe80::1%nosuchif0",
            "fe80::1%../x",
            "fe80::1%0",
            "fe80::1%+1",
            "fe80::1%4294967295",
            "fe80::1%4294967296",
            "::1%lo%lo",
            "127.0.0.1\0",
            "[]",
        ] {
            match parse_ip(ip, 1) {
                Err(Error::Usage(message)) => assert!(!message.contains('\n'), "{message}"),
                other => panic!("{ip:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn ports_are_decimal_and_in_range() {
        assert_eq!(parse_port("0").ok(), Some(0));
        assert_eq!(parse_port("65535").ok(), Some(65535));
        for port in [
            "65536",
            "-1",
            "http",
            "",
            "+80",
            " 80",
            "0x50",
            "99999999999999999999",
        ] {
            assert!(matches!(parse_port(port), Err(Error::Usage(_))), "{port:?}");
        }
    }

    #[test]
    fn display_ip_unmaps_ipv4_in_ipv6() {
        assert_eq!(
            display_ip(IpAddr::from([127, 0, 0, 1])).to_string(),
            "127.0.0.1"
        );
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(display_ip(mapped).to_string(), "127.0.0.1");
        assert_eq!(
            display_ip(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])).to_string(),
            "::1"
        );
    }
}
