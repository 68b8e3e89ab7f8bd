//! What the command line asks of `sockstat`: the flags (clap's definitions,
//! so `--help` and the library agree) and the parsers of their values.

use crate::error::{Error, Result};

/// Where socket records come from (`--source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// NETLINK_SOCK_DIAG dumps; a table whose dump fails is read from /proc/net
    /// instead.
    #[default]
    Netlink,
    /// /proc/net/{tcp,tcp6,udp,udp6,unix} only (no unix peers or queues).
    Proc,
}

/// What the command line asked for; each field's text is its `--help` line.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Options {
    /// IPv4 sockets
    #[arg(short = '4')]
    pub ipv4: bool,
    /// IPv6 sockets
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Unix sockets
    #[arg(short = 'u')]
    pub unix: bool,
    /// Connected sockets
    #[arg(short = 'c')]
    pub connected: bool,
    /// Listening sockets (and bound, unconnected UDP)
    #[arg(short = 'l')]
    pub listening: bool,
    /// Local or foreign port in PORTS (e.g. 22,8000-8080)
    #[arg(short = 'p', value_name = "PORTS", value_parser = parse_ports)]
    pub ports: Option<PortSet>,
    /// Protocols: tcp,udp,unix
    #[arg(short = 'P', value_name = "PROTOS", value_parser = parse_protos)]
    pub protos: Option<ProtoSet>,
    /// No header line
    #[arg(short = 'q')]
    pub no_header: bool,
    /// Numeric user ids
    #[arg(short = 'n')]
    pub numeric: bool,
    /// Only these processes
    #[arg(long = "pid", value_name = "PID[,PID]", value_parser = parse_pids)]
    pub pids: Option<PidList>,
    /// Only processes with this command name
    #[arg(long, value_name = "NAME")]
    pub comm: Option<String>,
    /// Only the socket with this inode
    #[arg(long, value_name = "N", value_parser = parse_inode)]
    pub inode: Option<u64>,
    /// Extended: Recv-Q, Send-Q, socket uid and NETNS (the network namespace)
    #[arg(short = 'e')]
    pub extended: bool,
    /// TCP internals: rtt, cwnd, retransmits, congestion control (as ss -i)
    #[arg(short = 'i')]
    pub internals: bool,
    /// Socket memory: buffers, queued bytes, drops (as ss -m)
    #[arg(short = 'm')]
    pub memory: bool,
    /// Also sockets no walked process holds (TIME_WAIT, other users'), owner `?`
    #[arg(short = 'a')]
    pub all: bool,
    /// Only this network namespace: a name (ip netns list), a path (/proc/PID/ns/net) or an inode
    #[arg(long, value_name = "NAME|PATH|INODE", value_parser = super::netns::parse_choice)]
    pub netns: Option<super::netns::Choice>,
    /// A JSON array of objects instead of the table
    #[arg(long)]
    pub json: bool,
    /// Where socket records come from
    #[arg(long, value_enum, default_value_t = Source::Netlink)]
    pub source: Source,
    /// Each socket's chain as a tree: fd, struct file, inode, struct sock, other holders
    #[arg(long, conflicts_with = "kill")]
    pub explain: bool,
    /// End the selected TCP sockets (SOCK_DESTROY, else shutdown via pidfd_getfd); needs a filter
    #[arg(long)]
    pub kill: bool,
}

impl Options {
    /// Whether any flag narrows the sockets or the processes listed:
    /// family, state, port, protocol, process, command, inode, namespace
    /// (`-a`, `-e` and the output flags do not).
    pub fn narrowed(&self) -> bool {
        self.ipv4
            || self.ipv6
            || self.unix
            || self.connected
            || self.listening
            || self.ports.is_some()
            || self.protos.is_some()
            || self.pids.is_some()
            || self.comm.is_some()
            || self.inode.is_some()
            || self.netns.is_some()
    }
}

/// One `--pid` value holding the whole list: an alias, because clap's derive
/// reads a literal `Vec<T>` as "repeat the flag, one T each".
pub type PidList = Vec<u32>;

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
                "bad port range {item:?}: {lo} is above {hi}"
            )));
        }
        ranges.push((lo, hi));
    }
    Ok(PortSet { ranges })
}

fn port_number(text: &str, item: &str) -> Result<u16> {
    crate::addr::parse_port(text.trim()).map_err(|_| {
        Error::Usage(format!(
            "bad port {item:?}: expected a number 0-65535 or a range LO-HI"
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
                    "bad protocol {other:?}: expected tcp, udp or unix"
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
            match crate::decimal::parse_str::<u32>(item) {
                Some(pid) if pid > 0 => Ok(pid),
                _ => Err(Error::Usage(format!(
                    "bad pid {item:?}: expected a positive number"
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
    match crate::decimal::parse_str::<u64>(text) {
        Some(inode) => Ok(inode),
        None => Err(Error::Usage(format!(
            "bad inode {text:?}: expected a number"
        ))),
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
}
