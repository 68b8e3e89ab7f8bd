//! What a relayed connection's `close` event will say: kept per relay from
//! its accept, the reason set by whatever ends it.

use crate::server::peer::Peer;
use std::time::Instant;

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both directions ended with a FIN.
    Eof,
    /// A side reset (or an upstream refused).
    Reset,
    /// `--idle-timeout`: silent.
    Idle,
    /// `--idle-timeout` with `--max-conns`: it trickled while others waited.
    Lease,
    /// A fault ended it.
    Fault,
    /// Any other failure (an upstream that timed out, fds exhausted).
    Error,
    /// sockd stopped.
    Stop,
}

impl CloseReason {
    /// The reason's name in the event log.
    pub fn name(self) -> &'static str {
        match self {
            Self::Eof => "eof",
            Self::Reset => "reset",
            Self::Idle => "idle",
            Self::Lease => "lease",
            Self::Fault => "fault",
            Self::Error => "error",
            Self::Stop => "stop",
        }
    }
}

/// A relayed connection as its `close` event describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closing {
    /// The connection's id (its order of accept in this server).
    pub conn: u64,
    /// The client.
    pub peer: Peer,
    /// Bytes from the client.
    pub bytes_in: u64,
    /// Bytes to the client.
    pub bytes_out: u64,
    /// When it was accepted.
    pub started: Instant,
    /// Why it closed.
    pub reason: CloseReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_event_name() {
        let names: Vec<&str> = [
            CloseReason::Eof,
            CloseReason::Reset,
            CloseReason::Idle,
            CloseReason::Lease,
            CloseReason::Fault,
            CloseReason::Error,
            CloseReason::Stop,
        ]
        .iter()
        .map(|reason| reason.name())
        .collect();
        assert_eq!(
            names,
            ["eof", "reset", "idle", "lease", "fault", "error", "stop"]
        );
    }
}
