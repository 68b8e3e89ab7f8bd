//! The address parser: any text is a one-line usage error or an address
//! that reads back from its canonical form.

use core::net::SocketAddr;
use sockkit::Error;
use sockkit::addr::parse_socket_addr;

/// `parse_socket_addr` on any text: a one-line usage error, or an address
/// that the same parser reads back from its canonical form.
pub fn any_text(ip: &str, port: &str) {
    match parse_socket_addr(ip, port) {
        Err(Error::Usage(message)) => {
            assert!(!message.contains('\n'), "two-line error {message:?}");
            assert!(!message.is_empty());
        }
        Err(other) => panic!("{ip:?} {port:?}: not a usage error: {other:?}"),
        Ok(addr) => {
            assert!(!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(port.parse::<u16>().ok(), Some(addr.port()));
            let canonical = match addr {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) if v6.scope_id() == 0 => v6.ip().to_string(),
                SocketAddr::V6(v6) => format!("{}%{}", v6.ip(), v6.scope_id()),
            };
            match parse_socket_addr(&canonical, port) {
                Ok(again) => assert_eq!(again, addr, "{ip:?} → {canonical:?}"),
                Err(err) => panic!("{ip:?} parsed as {addr} but {canonical:?} did not: {err}"),
            }
            if addr.ip().is_ipv4() {
                assert!(
                    ip == "localhost" || ip == canonical,
                    "{ip:?} → {canonical:?}"
                );
            }
        }
    }
}
