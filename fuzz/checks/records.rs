//! What every sockstat record must be, whichever parser made it.
//!
//! The well-formed input the sockstat checks build is built from the
//! kernel's own formats (`net/ipv4/tcp_ipv4.c` `get_tcp4_sock`,
//! `net/ipv6/tcp_ipv6.c`, `net/ipv4/udp.c`, `net/unix/af_unix.c`
//! `unix_seq_show`; `linux/netlink.h`, `linux/inet_diag.h`,
//! `linux/unix_diag.h`), not with the parsers' own helpers: a layout both
//! sides got wrong the same way would otherwise pass.

use sockkit::sockstat::record::{InetProto, IpVersion, Kind, Peer, SockRecord, state};

/// The four inet tables, as `(proto, version)`.
pub const INET_TABLES: [(InetProto, IpVersion); 4] = [
    (InetProto::Tcp, IpVersion::V4),
    (InetProto::Tcp, IpVersion::V6),
    (InetProto::Udp, IpVersion::V4),
    (InetProto::Udp, IpVersion::V6),
];

/// The `SOCK_*` type a TCP or UDP record carries (its protocol's), as
/// `linux/net.h` numbers them (MIPS swaps the two).
pub fn sock_type(proto: InetProto) -> u32 {
    let (stream, dgram) = if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
        (2, 1)
    } else {
        (1, 2)
    };
    match proto {
        InetProto::Tcp => stream,
        InetProto::Udp => dgram,
    }
}

/// Asserts `small` appears in `big` in order (not necessarily adjacent).
#[track_caller]
pub fn assert_subsequence(small: &[SockRecord], big: &[SockRecord]) {
    let mut rest = big.iter();
    for want in small {
        assert!(rest.any(|got| got == want), "{want:?} lost among {big:#?}");
    }
}

#[track_caller]
pub fn inet_record_sane(record: &SockRecord, want_proto: InetProto, want_version: IpVersion) {
    let Kind::Inet {
        proto,
        version,
        local,
        remote,
    } = &record.kind
    else {
        panic!("inet parser made {record:?}");
    };
    assert_eq!((*proto, *version), (want_proto, want_version), "{record:?}");
    let v4 = want_version == IpVersion::V4;
    assert_eq!(local.is_ipv4(), v4, "{record:?}");
    assert_eq!(remote.is_ipv4(), v4, "{record:?}");
    assert!(
        record.recv_q.is_some() && record.uid.is_some(),
        "{record:?}"
    );
    if record.send_q.is_none() {
        assert_eq!(record.state, state::LISTEN, "{record:?}");
    }
}

#[track_caller]
pub fn unix_record_sane(record: &SockRecord) {
    let Kind::Unix { name, peer } = &record.kind else {
        panic!("unix parser made {record:?}");
    };
    // A name may hold any byte but NUL (a path with a `\n` in it is legal;
    // the table escapes it); it is never empty.
    if let Some(name) = name {
        assert!(!name.is_empty(), "{record:?}");
    }
    if let Peer::Inode(inode) = peer {
        assert_ne!(*inode, 0, "{record:?}");
    }
}
