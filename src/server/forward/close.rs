//! What a relayed connection's end says (its debug line): kept per relay
//! from its accept, the reason set by whatever ends it.

pub use crate::server::events::CloseReason;
use crate::server::peer::Peer;
use std::time::Instant;

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
