//! Per-connection state, kept small: an idle connection holds no buffer.
//! The connections live in a [`crate::slab::Slab`].

use super::bulk::SplicedEcho;
use super::fault::stream::Faulted;
use super::forward::Relay;
use super::peer::Peer;
use crate::transcript::MessageSplitter;
use rustix::fd::OwnedFd;
use std::time::Instant;

/// One client of the echo loop.
#[derive(Debug)]
pub struct Conn {
    /// The connected socket (non-blocking).
    pub fd: OwnedFd,
    /// The peer, for transcript lines (its IP, or a unix peer's pid) and
    /// `-vv`'s accept and close lines.
    pub peer: Peer,
    /// What waits to go out, and how it goes.
    pub out: Outgoing,
    /// Last time the client sent or took bytes, for `--idle-timeout`.
    pub last_active: Instant,
    /// Start of the current `--idle-timeout` period ("lease") of the slot.
    pub lease_start: Instant,
    /// Bytes received and sent since `lease_start`: a trickle (slowloris)
    /// loses its slot when others wait at `--max-conns`.
    pub moved: u64,
    /// Bytes received from the client, and sent back to it, for `-vv`.
    pub bytes_in: u64,
    /// Bytes sent back.
    pub bytes_out: u64,
    /// The current transcript message, when the transcript is on.
    pub transcript: Option<Box<MessageSplitter>>,
}

/// How a connection's echo goes out. One field for both, so a plain
/// connection pays nothing for the faults (an enum the size of the `Vec`).
#[derive(Debug)]
pub enum Outgoing {
    /// The plain echo (one `recv`, one `send`): bytes a short `send` left
    /// over; while any are here the connection is not read (backpressure),
    /// so this never exceeds one read.
    Plain(Vec<u8>),
    /// Through the faults: their bounded queue, timers and endings.
    Faulted(Box<Faulted>),
    /// Relayed to an upstream of its own (`--forward`).
    Relay(Box<Relay>),
    /// The plain echo of a bulk stream, spliced through a pipe.
    Spliced(Box<SplicedEcho>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_connections_stay_small() {
        assert!(
            core::mem::size_of::<Conn>() <= 128,
            "{}",
            core::mem::size_of::<Conn>()
        );
    }
}
