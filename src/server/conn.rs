//! Per-connection state, kept small: an idle connection holds no buffer.

use crate::transcript::MessageSplitter;
use core::net::IpAddr;
use rustix::fd::OwnedFd;
use std::time::Instant;

/// One client of the echo loop.
#[derive(Debug)]
pub struct Conn {
    /// The connected socket (non-blocking).
    pub fd: OwnedFd,
    /// The peer's IP, for transcript lines.
    pub peer: IpAddr,
    /// Echo bytes a short `send` left over; while any are here the
    /// connection is not read (backpressure), so this never exceeds one read.
    pub pending: Vec<u8>,
    /// Last time the client sent or took bytes, for `--idle-timeout`.
    pub last_active: Instant,
    /// Start of the current `--idle-timeout` period ("lease") of the slot.
    pub lease_start: Instant,
    /// Bytes received and sent since `lease_start`: a trickle (slowloris)
    /// loses its slot when others wait at `--max-conns`.
    pub moved: u64,
    /// The current transcript message, when the transcript is on.
    pub transcript: Option<Box<MessageSplitter>>,
}

/// Connections indexed by a token that epoll carries: slot in the low 32
/// bits, the slot's generation in the high 32, so an event for a closed
/// connection can never reach the one that reused its slot.
#[derive(Debug, Default)]
pub struct Slab {
    slots: Vec<(u32, Option<Conn>)>,
    free: Vec<u32>,
    len: usize,
}

impl Slab {
    /// Stores a connection; returns its token.
    pub fn insert(&mut self, conn: Conn) -> u64 {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.0 = slot.0.wrapping_add(1);
            slot.1 = Some(conn);
            return token(index, slot.0);
        }
        let index = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push((0, Some(conn)));
        token(index, 0)
    }

    /// The connection a token names, if it is still open.
    pub fn get_mut(&mut self, token: u64) -> Option<&mut Conn> {
        let (index, generation) = split(token);
        match self.slots.get_mut(index as usize) {
            Some((live, conn)) if *live == generation => conn.as_mut(),
            _ => None,
        }
    }

    /// Takes a connection out; its slot is reused by a later insert.
    pub fn remove(&mut self, token: u64) -> Option<Conn> {
        let (index, generation) = split(token);
        let (live, conn) = self.slots.get_mut(index as usize)?;
        if *live != generation {
            return None;
        }
        let conn = conn.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(conn)
    }

    /// Tokens of the open connections.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, (_, conn))| conn.is_some())
            .map(|(index, (generation, _))| token(index as u32, *generation))
    }

    /// Whether a token names an open connection.
    pub fn contains(&self, token: u64) -> bool {
        let (index, generation) = split(token);
        matches!(self.slots.get(index as usize), Some((live, Some(_))) if *live == generation)
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.len
    }
}

fn token(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

fn split(token: u64) -> (u32, u32) {
    (token as u32, (token >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Option<Conn> {
        let fd = rustix::io::fcntl_dupfd_cloexec(rustix::stdio::stdin(), 0).ok()?;
        Some(Conn {
            fd,
            peer: IpAddr::from([127, 0, 0, 1]),
            pending: Vec::new(),
            last_active: Instant::now(),
            lease_start: Instant::now(),
            moved: 0,
            transcript: None,
        })
    }

    #[test]
    fn a_stale_token_never_reaches_the_slots_next_tenant() {
        let mut slab = Slab::default();
        let Some(first_conn) = conn() else { return };
        let first = slab.insert(first_conn);
        assert!(slab.remove(first).is_some());
        let Some(second_conn) = conn() else { return };
        let second = slab.insert(second_conn);
        assert_ne!(first, second);
        assert!(slab.get_mut(first).is_none());
        assert!(!slab.contains(first) && slab.contains(second));
        assert!(slab.remove(first).is_none());
        assert!(slab.get_mut(second).is_some());
        assert_eq!(slab.len(), 1);
        assert_eq!(slab.tokens().collect::<Vec<_>>(), vec![second]);
    }

    #[test]
    fn idle_connections_stay_small() {
        assert!(
            core::mem::size_of::<Conn>() <= 128,
            "{}",
            core::mem::size_of::<Conn>()
        );
    }
}
