//! Which sockets the user asked for: flag values parsed, and the tests a
//! record must pass. The state, family and protocol parts also shape the
//! netlink requests, so the kernel drops what nobody asked for.

use super::Options;
use super::record::{InetProto, IpVersion, Kind, SockRecord, Table, state};
use crate::error::{Error, Result};

/// A set of ports from `-p 22,8000-8080`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }
}

/// The protocols `-P tcp,udp,unix` keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProtoSet {
    /// `tcp`
    pub tcp: bool,
    /// `udp`
    pub udp: bool,
    /// `unix`
    pub unix: bool,
}

/// Parses `-p`: comma-separated ports and `LO-HI` ranges, each in 0–65535.
///
/// # Errors
/// [`Error::Usage`] naming the bad item.
pub fn parse_ports(text: &str) -> Result<PortSet> {
    let mut ranges = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (port_number(lo, item)?, port_number(hi, item)?),
            None => {
                let port = port_number(item, item)?;
                (port, port)
            }
        };
        if lo > hi {
            return Err(Error::Usage(format!(
                "bad port range '{item}': {lo} is above {hi}"
            )));
        }
        ranges.push((lo, hi));
    }
    Ok(PortSet { ranges })
}

fn port_number(text: &str, item: &str) -> Result<u16> {
    crate::addr::parse_port(text.trim()).map_err(|_| {
        Error::Usage(format!(
            "bad port '{item}': expected a number 0-65535 or a range LO-HI"
        ))
    })
}

/// Parses `-P`: a comma-separated list of `tcp`, `udp`, `unix`.
///
/// # Errors
/// [`Error::Usage`] naming the unknown protocol.
pub fn parse_protos(text: &str) -> Result<ProtoSet> {
    let mut set = ProtoSet::default();
    for item in text.split(',') {
        match item.trim().to_ascii_lowercase().as_str() {
            "tcp" => set.tcp = true,
            "udp" => set.udp = true,
            "unix" => set.unix = true,
            other => {
                return Err(Error::Usage(format!(
                    "bad protocol '{other}': expected tcp, udp or unix"
                )));
            }
        }
    }
    Ok(set)
}

/// Parses `--pid`: comma-separated process ids.
///
/// # Errors
/// [`Error::Usage`] naming the bad id.
pub fn parse_pids(text: &str) -> Result<Vec<u32>> {
    text.split(',')
        .map(|item| {
            let item = item.trim();
            match item.parse::<u32>() {
                Ok(pid) if pid > 0 && item.bytes().all(|b| b.is_ascii_digit()) => Ok(pid),
                _ => Err(Error::Usage(format!(
                    "bad pid '{item}': expected a positive number"
                ))),
            }
        })
        .collect()
}

/// Parses `--inode`: one socket inode number.
///
/// # Errors
/// [`Error::Usage`] when it is not a number.
pub fn parse_inode(text: &str) -> Result<u64> {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(inode) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(inode),
        _ => Err(Error::Usage(format!(
            "bad inode '{text}': expected a number"
        ))),
    }
}

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
            all: opts.all,
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

    /// Whether sockets held by no visible fd are shown (`-a`).
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

    /// Whether an fd whose socket no source described (`PROTO ?`) is shown.
    pub fn matches_unknown(&self, inode: u64) -> bool {
        self.shows_unknown() && self.inode.is_none_or(|want| want == inode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_ranges() {
        let set = parse_ports("22,8000-8080").unwrap_or_default();
        assert!(set.contains(22) && set.contains(8000) && set.contains(8080));
        assert!(!set.contains(23) && !set.contains(8081));
        for bad in ["", "x", "70000", "10-5", "1-", "-1", "1,,2", "+5", " "] {
            assert!(matches!(parse_ports(bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn protos_and_pids_and_inodes() {
        let set = parse_protos("tcp,unix").unwrap_or_default();
        assert!(set.tcp && set.unix && !set.udp);
        assert!(parse_protos("sctp").is_err());
        assert_eq!(parse_pids("1,42").ok(), Some(vec![1, 42]));
        for bad in ["0", "-1", "x", "1,", "+3"] {
            assert!(parse_pids(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_inode("123").ok(), Some(123));
        assert!(parse_inode("12a").is_err());
        assert!(parse_inode("+1").is_err());
    }

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
