//! Which sockets the user asked for, as the tests a record must pass. The
//! state, family and protocol parts also shape the netlink requests, so the
//! kernel drops what nobody asked for.

use super::options::{Options, PortSet, ProtoSet};
use super::record::{InetProto, IpVersion, Kind, SockRecord, Table, state};

/// The selection the flags describe, in the terms the sources and the join use.
#[derive(Clone, Debug)]
pub struct Filter {
    v4: bool,
    v6: bool,
    unix: bool,
    tcp: bool,
    udp: bool,
    unix_proto: bool,
    listening: bool,
    connected: bool,
    all: bool,
    narrowed: bool,
    ports: Option<PortSet>,
    inode: Option<u64>,
}

impl Filter {
    /// The filter `opts` describes.
    pub fn new(opts: &Options) -> Self {
        let any_family = opts.ipv4 || opts.ipv6 || opts.unix;
        let protos = opts.protos.unwrap_or(ProtoSet {
            tcp: true,
            udp: true,
            unix: true,
        });
        Self {
            v4: !any_family || opts.ipv4,
            v6: !any_family || opts.ipv6,
            unix: !any_family || opts.unix,
            tcp: protos.tcp,
            udp: protos.udp,
            unix_proto: protos.unix,
            listening: opts.listening,
            connected: opts.connected,
            // A socket no fd holds has no process to match.
            all: opts.all && opts.pids.is_none() && opts.comm.is_none(),
            narrowed: any_family
                || opts.protos.is_some()
                || opts.listening
                || opts.connected
                || opts.ports.is_some(),
            ports: opts.ports.clone(),
            inode: opts.inode,
        }
    }

    /// Whether an inet dump for `proto` over `version` is needed at all.
    pub fn wants_inet(&self, proto: InetProto, version: IpVersion) -> bool {
        let family = match version {
            IpVersion::V4 => self.v4,
            IpVersion::V6 => self.v6,
        };
        let proto = match proto {
            InetProto::Tcp => self.tcp,
            InetProto::Udp => self.udp,
        };
        family && proto
    }

    /// The tables (dumps, `/proc/net` files) the filter needs read.
    pub fn tables(&self) -> impl Iterator<Item = Table> + '_ {
        Table::ALL.into_iter().filter(|table| match *table {
            Table::Inet(proto, version) => self.wants_inet(proto, version),
            Table::Unix => self.wants_unix(),
        })
    }

    /// Whether the unix dump is needed at all.
    pub fn wants_unix(&self) -> bool {
        self.unix && self.unix_proto
    }

    /// Whether sockets nothing but a filter could tell apart (`PROTO ?`) are
    /// shown: only when no protocol, family, state or port was asked for.
    pub fn shows_unknown(&self) -> bool {
        !self.narrowed
    }

    /// The same selection without `-a`: for the namespaces other than the
    /// one listed, whose sockets are shown only when a walked fd holds them.
    pub fn held_only(&self) -> Self {
        Self {
            all: false,
            ..self.clone()
        }
    }

    /// Whether sockets held by no visible fd are shown (`-a`, unless
    /// `--pid` or `--comm` asks for some process's).
    pub fn shows_holderless(&self) -> bool {
        self.all
    }

    /// The `idiag_states` / `udiag_states` bit mask for a dump of `proto`
    /// (`None` for unix): `-l` and `-c` narrowed to states, and, without
    /// `-a`, no TIME_WAIT or request sockets, which no fd can hold.
    pub fn state_mask(&self, proto: Option<InetProto>) -> u32 {
        let bit = |s: u8| 1u32 << s;
        let every = (0..state::END).fold(0, |mask, s| mask | bit(s));
        let mut mask = if !self.listening && !self.connected {
            every
        } else {
            let mut mask = 0;
            if self.listening {
                mask |= match proto {
                    Some(InetProto::Tcp) => bit(state::LISTEN),
                    Some(InetProto::Udp) => bit(state::CLOSE),
                    None => bit(state::LISTEN) | bit(state::CLOSE),
                };
            }
            if self.connected {
                mask |= match proto {
                    Some(InetProto::Tcp) => every & !bit(state::LISTEN) & !bit(state::CLOSE),
                    Some(InetProto::Udp) | None => bit(state::ESTABLISHED),
                };
            }
            mask
        };
        if !self.all {
            mask &= !bit(state::TIME_WAIT) & !bit(state::NEW_SYN_RECV);
        }
        mask
    }

    /// Whether `record` passes every socket-side test: family, protocol,
    /// state (`-l`, `-c`), ports and inode. The netlink source has had the
    /// first three applied by the kernel already; checking again is cheap and
    /// keeps the `/proc/net` source giving the same rows.
    pub fn matches(&self, record: &SockRecord) -> bool {
        if let Some(inode) = self.inode
            && record.inode != inode
        {
            return false;
        }
        match &record.kind {
            Kind::Inet {
                proto,
                version,
                local,
                remote,
            } => {
                if !self.wants_inet(*proto, *version) {
                    return false;
                }
                let mask = self.state_mask(Some(*proto));
                if record.state >= 32 || mask & (1 << record.state) == 0 {
                    return false;
                }
                match &self.ports {
                    Some(ports) => ports.contains(local.port()) || ports.contains(remote.port()),
                    None => true,
                }
            }
            Kind::Unix { name, .. } => {
                if !self.wants_unix() || self.ports.is_some() {
                    return false;
                }
                if !self.listening && !self.connected {
                    return true;
                }
                // A bound datagram socket (`/dev/log`) is what `-l` means
                // for unix too. "Connected" goes by state alone: that is all
                // `/proc/net/unix` has, and both sources must agree.
                let listening = record.state == state::LISTEN
                    || (record.state == state::CLOSE && name.is_some());
                let connected = record.state == state::ESTABLISHED;
                (self.listening && listening) || (self.connected && connected)
            }
        }
    }

    /// Whether every socket of the tables read is wanted, whatever its state
    /// or ports: then a socket an fd holds that is missing from its table
    /// was missed by the read, not left out by the filter.
    pub fn keeps_whole_tables(&self) -> bool {
        !self.listening && !self.connected && self.ports.is_none()
    }

    /// Whether the socket `inode` may be shown at all (`--inode`).
    pub fn wants_inode(&self, inode: u64) -> bool {
        self.inode.is_none_or(|want| want == inode)
    }

    /// Whether an fd whose socket no source described (`PROTO ?`) is shown.
    pub fn matches_unknown(&self, inode: u64) -> bool {
        self.shows_unknown() && self.wants_inode(inode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_masks_follow_flags() {
        let mut opts = Options::default();
        let f = Filter::new(&opts);
        let mask = f.state_mask(Some(InetProto::Tcp));
        assert_eq!(mask & (1 << state::TIME_WAIT), 0);
        assert_ne!(mask & (1 << state::LISTEN), 0);
        opts.listening = true;
        let f = Filter::new(&opts);
        assert_eq!(f.state_mask(Some(InetProto::Tcp)), 1 << state::LISTEN);
        assert_eq!(f.state_mask(Some(InetProto::Udp)), 1 << state::CLOSE);
        assert!(!f.shows_unknown());
    }
}
