//! Device names for the `%dev` of sockets bound to one: `RTM_GETLINK` by
//! index over a `NETLINK_ROUTE` socket made in the socket's own network
//! namespace (an index means nothing in another), one request per device
//! seen, never a dump of every link.

use super::index::NumberMap;
use super::netlink::{Batch, each_attr, parse_batch_of, request_header};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
/// `sizeof(struct ifinfomsg)`
const IFINFO_LEN: usize = 16;
const IFLA_IFNAME: u16 = 3;
/// `IFNAMSIZ`: a name and its NUL.
const IFNAMSIZ: usize = 16;
/// One link's reply (its attributes, statistics among them) fits easily.
const RECV_BUF: usize = 32 * 1024;
/// Replies read for one request before giving up on it: a late reply to
/// an earlier request may come first.
const TRIES: usize = 4;

/// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)`.
///
/// # Errors
/// The errno of `socket`.
pub fn open() -> Result<OwnedFd, Errno> {
    rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None, // NETLINK_ROUTE is protocol 0
    )
}

/// The names of the devices `indexes` in the namespace `route` was made
/// in, escaped; an index the kernel does not know (a device gone since)
/// is left out.
pub fn names(route: &OwnedFd, indexes: impl IntoIterator<Item = u32>) -> NumberMap<u32, String> {
    let mut buf = vec![0u8; RECV_BUF];
    let mut names = NumberMap::default();
    for (seq, index) in (1u32..).zip(indexes) {
        if names.contains_key(&index) {
            continue;
        }
        match name(route, index, seq, &mut buf) {
            Ok(Some(name)) => {
                names.insert(index, name);
            }
            Ok(None) => log::debug!("device {index}: no name in the kernel's reply"),
            Err(errno) => log::debug!("device {index}: {}", crate::error::describe_errno(errno)),
        }
    }
    names
}

fn name(route: &OwnedFd, index: u32, seq: u32, buf: &mut [u8]) -> Result<Option<String>, Errno> {
    let request = link_request(seq, index);
    let kernel = SocketAddrNetlink::new(0, 0);
    crate::io::retry(|| rustix::net::sendto(route, &request, SendFlags::empty(), &kernel))?;
    for _ in 0..TRIES {
        let len = match crate::io::recv_with(route, &mut *buf, RecvFlags::TRUNC)? {
            (_, full) if full > buf.len() => return Err(Errno::MSGSIZE),
            (len, _) => len,
        };
        let mut found = None;
        let batch = parse_batch_of(
            buf.get(..len).unwrap_or_default(),
            seq,
            RTM_NEWLINK,
            &mut |p| {
                found = found.take().or_else(|| parse_link(p, index));
            },
        )?;
        if found.is_some() || batch == Batch::Done {
            return Ok(found);
        }
    }
    Ok(None)
}

/// `nlmsghdr` + `ifinfomsg` asking for the link with index `index`.
pub fn link_request(seq: u32, index: u32) -> Vec<u8> {
    let len = 16 + IFINFO_LEN;
    let mut out = Vec::with_capacity(len);
    request_header(&mut out, len, RTM_GETLINK, 0, seq);
    out.extend_from_slice(&[0, 0, 0, 0]); // ifi_family AF_UNSPEC, pad, ifi_type
    out.extend_from_slice(&index.to_ne_bytes());
    out.resize(len, 0); // ifi_flags, ifi_change
    out
}

/// The `IFLA_IFNAME` of an `RTM_NEWLINK` payload about device `index`,
/// escaped (a device name may hold any byte but `/`, `:`, blanks and NUL);
/// `None` for another device, no name, or attributes that overrun.
pub fn parse_link(payload: &[u8], index: u32) -> Option<String> {
    let got = u32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?);
    if got != index {
        return None;
    }
    let mut name = None;
    each_attr(payload.get(IFINFO_LEN..)?, |kind, value| {
        if kind == IFLA_IFNAME {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            name = value
                .get(..end.min(IFNAMSIZ))
                .filter(|n| !n.is_empty())
                .map(crate::escape::field);
        }
        Some(())
    })?;
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut out = vec![0u8; IFINFO_LEN];
        out[4..8].copy_from_slice(&index.to_ne_bytes());
        for (kind, value) in attrs {
            out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
            out.extend_from_slice(&kind.to_ne_bytes());
            out.extend_from_slice(value);
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
        }
        out
    }

    #[test]
    fn requests_and_replies() {
        let req = link_request(9, 7);
        assert_eq!(req.len(), 32);
        assert_eq!(&req[4..6], &RTM_GETLINK.to_ne_bytes());
        assert_eq!(&req[20..24], &7u32.to_ne_bytes());
        let reply = link(
            7,
            &[(1, b"\x00\x11\x22\x33\x44\x55"), (IFLA_IFNAME, b"lo\0")],
        );
        assert_eq!(parse_link(&reply, 7).as_deref(), Some("lo"));
        assert_eq!(parse_link(&reply, 8), None);
        assert_eq!(parse_link(&link(7, &[(IFLA_IFNAME, b"\0")]), 7), None);
        let odd = link(7, &[(IFLA_IFNAME, b"e\x1b[2Jvil\0")]);
        assert!(!parse_link(&odd, 7).unwrap_or_default().contains('\x1b'));
        let long = link(7, &[(IFLA_IFNAME, &[b'x'; 40])]);
        assert_eq!(parse_link(&long, 7).map(|n| n.len()), Some(IFNAMSIZ));
        for cut in 0..reply.len() {
            let _ = parse_link(&reply[..cut], 7);
        }
        let mut lying = reply.clone();
        lying[IFINFO_LEN..IFINFO_LEN + 2].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert_eq!(parse_link(&lying, 7), None);
    }

    #[test]
    fn loopback_is_found_by_index() {
        let Ok(route) = open() else { return };
        // The loopback device is index 1 in every network namespace.
        let names = names(&route, [1, 1, u32::MAX]);
        assert_eq!(names.get(&1).map(String::as_str), Some("lo"));
        assert!(!names.contains_key(&u32::MAX));
    }
}
