//! sockstat's `RTM_NEWLINK` reply parser (a device's name for `%dev`): a
//! reply built from drawn attributes gives back the name asked about, and
//! any bytes give a bounded, escaped name or none.

use super::draw::Draw;
use sockkit::sockstat::links;

/// `sizeof(struct ifinfomsg)` (`linux/rtnetlink.h`).
const IFINFOMSG: usize = 16;
/// `IFLA_IFNAME` (`linux/if_link.h`).
const IFLA_IFNAME: u16 = 3;
/// `IFNAMSIZ`.
const IFNAMSIZ: usize = 16;

/// A link reply: `ifinfomsg` for `index`, then attributes sockstat skips
/// (address, MTU, statistics, …) around an optional `IFLA_IFNAME`.
#[derive(Clone, Debug)]
pub struct LinkReply {
    pub index: u32,
    pub name: Option<Vec<u8>>,
    pub before: Vec<(u16, Vec<u8>)>,
    pub after: Vec<(u16, Vec<u8>)>,
}

impl LinkReply {
    pub fn draw(draw: &mut Draw<'_>) -> Self {
        let others = |draw: &mut Draw<'_>| -> Vec<(u16, Vec<u8>)> {
            (0..draw.u8() % 3)
                .map(|_| {
                    // Any type but IFLA_IFNAME, which it is with the
                    // NLA_F_NESTED or byte-order flag (0x8000, 0x4000) too.
                    let kind = match draw.u16() & 0xc03f {
                        kind if kind & 0x3fff == IFLA_IFNAME => 4,
                        kind => kind,
                    };
                    (kind, draw.bytes(64).to_vec())
                })
                .collect()
        };
        let index = draw.u32();
        let before = others(draw);
        let name = draw.bool().then(|| draw.bytes(20).to_vec());
        let after = others(draw);
        Self {
            index,
            name,
            before,
            after,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; IFINFOMSG];
        out[4..8].copy_from_slice(&self.index.to_ne_bytes());
        let name = self.name.iter().map(|name| (IFLA_IFNAME, name.clone()));
        for (kind, value) in self
            .before
            .iter()
            .cloned()
            .chain(name)
            .chain(self.after.iter().cloned())
        {
            let len = u16::try_from(4 + value.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_ne_bytes());
            out.extend_from_slice(&kind.to_ne_bytes());
            out.extend_from_slice(&value);
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
        }
        out
    }

    /// The name a reader should get: up to the NUL, at most `IFNAMSIZ`
    /// bytes, escaped; none when empty.
    pub fn name(&self) -> Option<String> {
        let name = self.name.as_ref()?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        let name = &name[..end.min(IFNAMSIZ)];
        (!name.is_empty()).then(|| sockkit::escape::field(name))
    }
}

/// A reply about device `index`: its name back; about another device:
/// nothing; cut anywhere: no panic, and a name only if the name attribute
/// came whole.
pub fn round_trip(reply: &LinkReply) {
    let bytes = reply.bytes();
    assert_eq!(
        links::parse_link(&bytes, reply.index),
        reply.name(),
        "{reply:?}"
    );
    assert_eq!(links::parse_link(&bytes, reply.index.wrapping_add(1)), None);
    for cut in [IFINFOMSG, bytes.len() / 2, bytes.len().saturating_sub(1)] {
        if let Some(name) = links::parse_link(&bytes[..cut.min(bytes.len())], reply.index) {
            assert_eq!(Some(name), reply.name(), "cut at {cut}: {reply:?}");
        }
    }
}

/// Any bytes as a link reply: nothing, or a short escaped name.
pub fn any_bytes(bytes: &[u8], index: u32) {
    if let Some(name) = links::parse_link(bytes, index) {
        assert!(
            !name.is_empty() && !name.chars().any(char::is_control),
            "{name:?}"
        );
        assert!(name.len() <= 4 * IFNAMSIZ, "{name:?}");
        assert!(bytes.len() >= IFINFOMSG);
    }
}

/// The link properties' fuzz input: a drawn reply, or raw bytes.
pub fn input(data: &[u8]) {
    let mut draw = Draw::new(data);
    if draw.bool() {
        round_trip(&LinkReply::draw(&mut draw));
    } else {
        let index = draw.u32();
        any_bytes(draw.rest(), index);
    }
}
