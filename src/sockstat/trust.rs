//! Which records to believe when a source is not one atomic, unforgeable
//! answer: `/proc/net` is read a page at a time while sockets come and go,
//! and `/proc/net/unix` prints names raw.

use super::index::NumberMap;
use super::record::SockRecord;
use std::collections::HashMap;

/// Records read from the tables, sorted by how far they can be trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Records {
    /// Text or messages only the kernel writes: netlink replies,
    /// `/proc/net/{tcp,udp}{,6}` and the sure lines of `/proc/net/unix`.
    pub sure: Vec<SockRecord>,
    /// `/proc/net/unix` lines that may be part of a socket's name (see
    /// [`super::procnet::unix_lines`]).
    pub doubtful: Vec<SockRecord>,
}

impl Records {
    /// Adds `more`'s records to these.
    pub fn extend(&mut self, more: Self) {
        self.sure.extend(more.sure);
        self.doubtful.extend(more.doubtful);
    }
}

/// One record per socket: what the kernel surely said, plus each doubtful
/// line that nothing sure contradicts and `confirm` vouches for.
///
/// - A socket listed twice in sure text is one socket seen by two reads (a
///   read resumed after sockets came or went in its hash bucket): it is
///   listed once, from the later read.
/// - A doubtful line claiming an inode that sure text claims is a name's
///   continuation or a repeat: the sure record stands. So a unix name can
///   never turn a TCP or UDP socket, or a socket on a sure line, into
///   something else.
/// - Doubtful lines that claim one inode but disagree cannot all be the
///   kernel's: none is believed (the socket is shown as unknown, never
///   wrongly). If they agree, one stands for them.
/// - What is left is believed only if `confirm(inode)` holds: the caller
///   asks the kernel, through an fd holding that inode, whether it is a
///   unix socket at all (a line naming a netlink socket's inode finds no
///   sure text to contradict it). A socket no fd we can see holds cannot be
///   vouched for, and is left out.
///
/// Records of inode 0 (TIME_WAIT and request sockets, which no fd holds)
/// are all kept: they do not share an identity.
pub fn settle(records: Records, mut confirm: impl FnMut(u64) -> bool) -> Vec<SockRecord> {
    let Records {
        sure: mut kept,
        doubtful,
    } = records;
    // In place: a listing's records are its largest allocation.
    let mut slot: NumberMap<u64, usize> = NumberMap::default();
    slot.reserve(kept.len());
    let mut repeated = Vec::new();
    for at in 0..kept.len() {
        let Some(inode) = kept.get(at).map(|r| r.inode) else {
            break;
        };
        match slot.get(&inode) {
            Some(&first) if inode != 0 => {
                // The later read stands, where the first one was.
                kept.swap(first, at);
                repeated.push(at);
            }
            _ => {
                slot.insert(inode, at);
            }
        }
    }
    let repeats = repeated.len();
    if repeats > 0 {
        let mut at = 0;
        let mut next = repeated.iter().peekable();
        kept.retain(|_| {
            let gone = next.next_if(|&&r| r == at).is_some();
            at += 1;
            !gone
        });
        log::debug!("{repeats} sockets listed twice by a non-atomic read; each shown once");
    }
    // Keyed by inodes a forger chose: SipHash, so they cannot pick colliding
    // keys and make this quadratic.
    let mut claims: HashMap<u64, Option<SockRecord>> = HashMap::new();
    let mut order = Vec::new();
    for record in doubtful {
        if slot.contains_key(&record.inode) {
            continue;
        }
        match claims.get_mut(&record.inode) {
            Some(agreed) => {
                if agreed.as_ref() != Some(&record) {
                    *agreed = None;
                }
            }
            None => {
                order.push(record.inode);
                claims.insert(record.inode, Some(record));
            }
        }
    }
    let (mut believed, mut refused) = (0usize, 0usize);
    for inode in order {
        match claims.remove(&inode).flatten() {
            Some(record) if confirm(inode) => {
                believed += 1;
                kept.push(record);
            }
            _ => refused += 1,
        }
    }
    if believed + refused > 0 {
        log::debug!(
            "/proc/net/unix: {believed} lines that may be part of a name confirmed, \
             {refused} not believed"
        );
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockstat::record::{InetProto, IpVersion, Kind, Peer, state};

    fn unix(inode: u64, name: &str, st: u8) -> SockRecord {
        SockRecord {
            inode,
            kind: Kind::Unix {
                name: Some(name.as_bytes().to_vec()),
                peer: Peer::None,
            },
            state: st,
            recv_q: None,
            send_q: None,
            uid: None,
            details: Default::default(),
        }
    }

    fn tcp(inode: u64) -> SockRecord {
        SockRecord {
            inode,
            kind: Kind::Inet {
                proto: InetProto::Tcp,
                version: IpVersion::V4,
                local: core::net::SocketAddr::from(([127, 0, 0, 1], 7777)),
                remote: core::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            },
            state: state::LISTEN,
            recv_q: Some(0),
            send_q: Some(0),
            uid: Some(0),
            details: Default::default(),
        }
    }

    fn inodes(records: &[SockRecord]) -> Vec<u64> {
        let mut inodes: Vec<u64> = records.iter().map(|r| r.inode).collect();
        inodes.sort_unstable();
        inodes
    }

    #[test]
    fn sure_text_outweighs_any_doubtful_line() {
        let records = Records {
            sure: vec![tcp(10), unix(20, "/run/real.sock", state::LISTEN)],
            doubtful: vec![
                unix(10, "fake.sock", state::LISTEN),
                unix(20, "/run/fake.sock", state::CLOSE),
            ],
        };
        let mut asked = Vec::new();
        let got = settle(records.clone(), |inode| {
            asked.push(inode);
            true
        });
        assert_eq!(got, records.sure);
        assert!(asked.is_empty(), "{asked:?}");
    }

    #[test]
    fn a_socket_read_twice_is_listed_once_as_last_read() {
        let first = unix(30, "/run/a.sock", state::CLOSE);
        let later = unix(30, "/run/a.sock", state::LISTEN);
        let got = settle(
            Records {
                sure: vec![
                    first,
                    tcp(31),
                    later.clone(),
                    unix(0, "x", 1),
                    unix(0, "x", 1),
                ],
                doubtful: Vec::new(),
            },
            |_| panic!("nothing doubtful"),
        );
        assert_eq!(inodes(&got), vec![0, 0, 30, 31]);
        assert!(got.contains(&later));
    }

    #[test]
    fn doubtful_lines_need_the_kernels_word_and_must_agree() {
        let agreeing = unix(40, "/run/b.sock", state::LISTEN);
        let records = Records {
            sure: Vec::new(),
            doubtful: vec![
                agreeing.clone(),
                unix(41, "/run/c.sock", state::LISTEN),
                unix(42, "/run/d.sock", state::LISTEN),
                agreeing.clone(),
                unix(41, "/run/other.sock", state::LISTEN),
            ],
        };
        let got = settle(records.clone(), |inode| inode != 42);
        assert_eq!(got, vec![agreeing]);
        assert!(settle(records, |_| false).is_empty());
    }
}
