//! What the kernel knows of a socket beyond its addresses and state (`-i`,
//! `-m`): `struct tcp_info` (`INET_DIAG_INFO`), the congestion control's name
//! (`INET_DIAG_CONG`) and the socket's memory (`INET_DIAG_SKMEMINFO`,
//! `UNIX_DIAG_MEMINFO`), kept as the bytes the kernel sent and read field by
//! field with bounds checks.
//!
//! A kernel older than these layouts sends a shorter struct: the fields past
//! its end are absent (`None`), not zero. A newer one sends a longer struct:
//! what follows the fields known here is ignored.

/// How a field sits in its struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// A `__u8`.
    U8,
    /// A `__u16`, in host byte order.
    U16,
    /// A `__u32`, in host byte order.
    U32,
    /// A `__u64`, in host byte order.
    U64,
    /// A bit-field of `bits` bits in one byte, declared after `before` bits
    /// of that byte (`__u8 a:4, b:4`: `b` is `Bits { before: 4, bits: 4 }`).
    Bits {
        /// Bits declared before it in the same byte.
        before: u8,
        /// Its width.
        bits: u8,
    },
}

impl Width {
    fn size(self) -> usize {
        match self {
            Self::U8 | Self::Bits { .. } => 1,
            Self::U16 => 2,
            Self::U32 => 4,
            Self::U64 => 8,
        }
    }
}

/// One field of a kernel struct: its name without the struct's prefix, where
/// it starts, how wide it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The kernel's name without the prefix (`rtt` for `tcpi_rtt`).
    pub name: &'static str,
    /// Its offset in the struct.
    pub offset: usize,
    /// Its width.
    pub width: Width,
}

/// The field `field` of `bytes`, if `bytes` reaches its end.
fn read(bytes: &[u8], field: Field) -> Option<u64> {
    let raw = bytes.get(field.offset..field.offset.checked_add(field.width.size())?)?;
    Some(match field.width {
        Width::U8 => u64::from(*raw.first()?),
        Width::U16 => u64::from(u16::from_ne_bytes(raw.try_into().ok()?)),
        Width::U32 => u64::from(u32::from_ne_bytes(raw.try_into().ok()?)),
        Width::U64 => u64::from_ne_bytes(raw.try_into().ok()?),
        Width::Bits { before, bits } => {
            // GCC and Clang fill a byte's bit-fields from its least
            // significant bit on little-endian targets, from its most
            // significant bit on big-endian ones.
            let shift = if cfg!(target_endian = "little") {
                before
            } else {
                8u8.checked_sub(before)?.checked_sub(bits)?
            };
            let mask = 1u8.checked_shl(u32::from(bits)).map_or(u8::MAX, |m| m - 1);
            u64::from((*raw.first()? >> shift) & mask)
        }
    })
}

macro_rules! layout {
    ($(#[$meta:meta])* $all:ident: $($konst:ident $name:literal $offset:literal $width:expr;)*) => {
        $(
            #[doc = concat!("`", $name, "`")]
            pub const $konst: Field = Field { name: $name, offset: $offset, width: $width };
        )*
        $(#[$meta])*
        pub const $all: &[Field] = &[$($konst),*];
    };
}

/// `struct tcp_info` (`linux/tcp.h`), through `tcpi_total_rto_time`.
pub mod tcp {
    use super::Field;
    use super::Width::{Bits, U8, U16, U32, U64};

    layout! {
        /// Every field, in the struct's order.
        ALL:
        STATE "state" 0 U8;
        CA_STATE "ca_state" 1 U8;
        RETRANSMITS "retransmits" 2 U8;
        PROBES "probes" 3 U8;
        BACKOFF "backoff" 4 U8;
        OPTIONS "options" 5 U8;
        SND_WSCALE "snd_wscale" 6 Bits { before: 0, bits: 4 };
        RCV_WSCALE "rcv_wscale" 6 Bits { before: 4, bits: 4 };
        DELIVERY_RATE_APP_LIMITED "delivery_rate_app_limited" 7 Bits { before: 0, bits: 1 };
        FASTOPEN_CLIENT_FAIL "fastopen_client_fail" 7 Bits { before: 1, bits: 2 };
        RTO "rto" 8 U32;
        ATO "ato" 12 U32;
        SND_MSS "snd_mss" 16 U32;
        RCV_MSS "rcv_mss" 20 U32;
        UNACKED "unacked" 24 U32;
        SACKED "sacked" 28 U32;
        LOST "lost" 32 U32;
        RETRANS "retrans" 36 U32;
        FACKETS "fackets" 40 U32;
        LAST_DATA_SENT "last_data_sent" 44 U32;
        LAST_ACK_SENT "last_ack_sent" 48 U32;
        LAST_DATA_RECV "last_data_recv" 52 U32;
        LAST_ACK_RECV "last_ack_recv" 56 U32;
        PMTU "pmtu" 60 U32;
        RCV_SSTHRESH "rcv_ssthresh" 64 U32;
        RTT "rtt" 68 U32;
        RTTVAR "rttvar" 72 U32;
        SND_SSTHRESH "snd_ssthresh" 76 U32;
        SND_CWND "snd_cwnd" 80 U32;
        ADVMSS "advmss" 84 U32;
        REORDERING "reordering" 88 U32;
        RCV_RTT "rcv_rtt" 92 U32;
        RCV_SPACE "rcv_space" 96 U32;
        TOTAL_RETRANS "total_retrans" 100 U32;
        PACING_RATE "pacing_rate" 104 U64;
        MAX_PACING_RATE "max_pacing_rate" 112 U64;
        BYTES_ACKED "bytes_acked" 120 U64;
        BYTES_RECEIVED "bytes_received" 128 U64;
        SEGS_OUT "segs_out" 136 U32;
        SEGS_IN "segs_in" 140 U32;
        NOTSENT_BYTES "notsent_bytes" 144 U32;
        MIN_RTT "min_rtt" 148 U32;
        DATA_SEGS_IN "data_segs_in" 152 U32;
        DATA_SEGS_OUT "data_segs_out" 156 U32;
        DELIVERY_RATE "delivery_rate" 160 U64;
        BUSY_TIME "busy_time" 168 U64;
        RWND_LIMITED "rwnd_limited" 176 U64;
        SNDBUF_LIMITED "sndbuf_limited" 184 U64;
        DELIVERED "delivered" 192 U32;
        DELIVERED_CE "delivered_ce" 196 U32;
        BYTES_SENT "bytes_sent" 200 U64;
        BYTES_RETRANS "bytes_retrans" 208 U64;
        DSACK_DUPS "dsack_dups" 216 U32;
        REORD_SEEN "reord_seen" 220 U32;
        RCV_OOOPACK "rcv_ooopack" 224 U32;
        SND_WND "snd_wnd" 228 U32;
        RCV_WND "rcv_wnd" 232 U32;
        REHASH "rehash" 236 U32;
        TOTAL_RTO "total_rto" 240 U16;
        TOTAL_RTO_RECOVERIES "total_rto_recoveries" 242 U16;
        TOTAL_RTO_TIME "total_rto_time" 244 U32;
    }

    /// The bytes of the struct as far as [`ALL`] goes.
    pub const LEN: usize = 248;

    /// `TCP_INFINITE_SSTHRESH`: no slow-start threshold yet.
    pub const INFINITE_SSTHRESH: u64 = 0x7fff_ffff;
}

/// `SK_MEMINFO_*` (`linux/sock_diag.h`): an array of `__u32`, named as
/// `ss -m` and the kernel's enum name them.
pub mod mem {
    use super::Field;
    use super::Width::U32;

    layout! {
        /// Every slot, in the array's order.
        ALL:
        RMEM_ALLOC "rmem_alloc" 0 U32;
        RCVBUF "rcvbuf" 4 U32;
        WMEM_ALLOC "wmem_alloc" 8 U32;
        SNDBUF "sndbuf" 12 U32;
        FWD_ALLOC "fwd_alloc" 16 U32;
        WMEM_QUEUED "wmem_queued" 20 U32;
        OPTMEM "optmem" 24 U32;
        BACKLOG "backlog" 28 U32;
        DROPS "drops" 32 U32;
    }

    /// The bytes of the array as far as [`ALL`] goes.
    pub const LEN: usize = 36;
}

/// A kernel struct's bytes, as many as the kernel sent of the `N` known
/// here.
#[derive(Clone, PartialEq, Eq)]
pub struct Raw<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Raw<N> {
    /// The attribute's value, cut to the `N` bytes known.
    pub fn new(value: &[u8]) -> Self {
        let mut bytes = [0u8; N];
        let len = value.len().min(N);
        if let (Some(to), Some(from)) = (bytes.get_mut(..len), value.get(..len)) {
            to.copy_from_slice(from);
        }
        Self { bytes, len }
    }

    /// `field`, if the kernel sent all of it.
    pub fn get(&self, field: Field) -> Option<u64> {
        read(self.bytes.get(..self.len)?, field)
    }

    /// How many bytes the kernel sent (up to `N`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the kernel sent nothing at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> core::fmt::Debug for Raw<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Raw({:02x?})", self.bytes.get(..self.len))
    }
}

/// `struct tcp_info` as the kernel sent it.
pub type TcpInfo = Raw<{ tcp::LEN }>;

/// The `SK_MEMINFO` array as the kernel sent it.
pub type SkMem = Raw<{ mem::LEN }>;

/// What a sock_diag dump asked with `-i` or `-m` said of one socket. Each
/// part is `None` where the kernel sent nothing (a UDP or unix socket has no
/// `tcp_info`, a TIME_WAIT socket no memory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Internals {
    /// `INET_DIAG_INFO`.
    pub tcp_info: Option<TcpInfo>,
    /// `INET_DIAG_CONG`: the congestion control's name.
    pub congestion: Option<CaName>,
    /// `INET_DIAG_SKMEMINFO` or `UNIX_DIAG_MEMINFO`.
    pub skmem: Option<SkMem>,
}

impl Internals {
    /// Whether the kernel sent none of them.
    pub fn is_empty(&self) -> bool {
        self.tcp_info.is_none() && self.congestion.is_none() && self.skmem.is_none()
    }
}

/// `TCP_CA_NAME_MAX`: the longest congestion control name.
const CA_NAME_MAX: usize = 16;

/// A congestion control's name (`cubic`, `bbr`) as `INET_DIAG_CONG` sent
/// it, kept in place (every TCP socket has one, and most share it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CaName {
    bytes: [u8; CA_NAME_MAX],
    len: usize,
}

impl CaName {
    /// An `INET_DIAG_CONG` value: the name up to its NUL, at most
    /// `TCP_CA_NAME_MAX` bytes believed; `None` when empty.
    pub fn new(value: &[u8]) -> Option<Self> {
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        let name = value
            .get(..end.min(CA_NAME_MAX))
            .filter(|n| !n.is_empty())?;
        let mut bytes = [0u8; CA_NAME_MAX];
        bytes.get_mut(..name.len())?.copy_from_slice(name);
        Some(Self {
            bytes,
            len: name.len(),
        })
    }

    /// The name as sent.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// Whether the escaper would leave the name as it is (`cubic`, `bbr`),
    /// so that its work can be skipped.
    fn plain(&self) -> bool {
        self.as_bytes()
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b'\\')
    }

    /// Appends the name, escaped as every cell is.
    pub fn push_escaped(&self, out: &mut Vec<u8>) {
        if self.plain() {
            out.extend_from_slice(self.as_bytes());
        } else {
            out.extend_from_slice(crate::escape::field(self.as_bytes()).as_bytes());
        }
    }

    /// The name, escaped.
    pub fn escaped(&self) -> String {
        if self.plain() {
            String::from_utf8_lossy(self.as_bytes()).into_owned()
        } else {
            crate::escape::field(self.as_bytes())
        }
    }
}

impl core::fmt::Debug for CaName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CaName({:?})", self.escaped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_contiguous_and_end_where_they_say() {
        for (all, len) in [(tcp::ALL, tcp::LEN), (mem::ALL, mem::LEN)] {
            let mut end = 0;
            for pair in all.windows(2) {
                let [a, b] = pair else { continue };
                let shared_byte = matches!(a.width, Width::Bits { .. }) && a.offset == b.offset;
                assert!(
                    shared_byte || b.offset == a.offset + a.width.size(),
                    "{} then {}",
                    a.name,
                    b.name
                );
                assert_eq!(b.offset % b.width.size(), 0, "{} unaligned", b.name);
            }
            if let Some(last) = all.last() {
                end = last.offset + last.width.size();
            }
            assert_eq!(end, len);
        }
    }

    #[test]
    fn fields_read_in_host_order_and_stop_at_the_end() {
        let mut bytes = vec![0u8; tcp::LEN + 8];
        bytes[6] = 0x97; // snd_wscale 7, rcv_wscale 9
        bytes[7] = 0b101; // app_limited 1, fastopen_client_fail 2
        bytes[68..72].copy_from_slice(&41_000u32.to_ne_bytes());
        bytes[120..128].copy_from_slice(&(u64::from(u32::MAX) + 5).to_ne_bytes());
        bytes[240..242].copy_from_slice(&3u16.to_ne_bytes());
        let info = TcpInfo::new(&bytes);
        assert_eq!(info.len(), tcp::LEN);
        assert_eq!(info.get(tcp::RTT), Some(41_000));
        assert_eq!(info.get(tcp::BYTES_ACKED), Some(u64::from(u32::MAX) + 5));
        assert_eq!(info.get(tcp::TOTAL_RTO), Some(3));
        if cfg!(target_endian = "little") {
            assert_eq!(info.get(tcp::SND_WSCALE), Some(7));
            assert_eq!(info.get(tcp::RCV_WSCALE), Some(9));
            assert_eq!(info.get(tcp::DELIVERY_RATE_APP_LIMITED), Some(1));
            assert_eq!(info.get(tcp::FASTOPEN_CLIENT_FAIL), Some(2));
        }
        // An older kernel's struct ends at tcpi_total_retrans (104 bytes).
        let old = TcpInfo::new(&bytes[..104]);
        assert_eq!(old.get(tcp::RTT), Some(41_000));
        assert_eq!(old.get(tcp::TOTAL_RETRANS), Some(0));
        assert_eq!(old.get(tcp::PACING_RATE), None);
        assert_eq!(old.get(tcp::MIN_RTT), None);
        // Cut inside a field: that field is absent, not half-read.
        assert_eq!(TcpInfo::new(&bytes[..70]).get(tcp::RTT), None);
        assert!(TcpInfo::new(&[]).is_empty());
        let mem = SkMem::new(&[1, 0, 0, 0, 2, 0, 0]);
        assert_eq!(
            mem.get(mem::RMEM_ALLOC),
            Some(u64::from(u32::from_ne_bytes([1, 0, 0, 0])))
        );
        assert_eq!(mem.get(mem::RCVBUF), None);
    }

    #[test]
    fn congestion_names_are_bounded_and_escaped() {
        let congestion_name = |value: &[u8]| CaName::new(value).map(|n| n.escaped());
        assert_eq!(congestion_name(b"cubic\0").as_deref(), Some("cubic"));
        assert_eq!(congestion_name(b"bbr").as_deref(), Some("bbr"));
        assert_eq!(congestion_name(b"\0"), None);
        assert_eq!(congestion_name(b""), None);
        assert_eq!(
            congestion_name(b"a\\b").as_deref(),
            Some(crate::escape::field(b"a\\b").as_str())
        );
        assert_eq!(
            congestion_name(b"0123456789abcdefEXTRA").as_deref(),
            Some("0123456789abcdef")
        );
        assert!(
            !congestion_name(b"a\x1b[2Jb")
                .unwrap_or_default()
                .contains('\x1b')
        );
    }
}
