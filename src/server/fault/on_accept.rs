//! `--on-accept close|reset|hang|blackhole`: what becomes of a connection
//! the moment it is accepted: a FIN at once, an RST at once, never read
//! (the client's writes fill its send buffer, then block), or read and
//! dropped with nothing ever sent back (toxiproxy's `timeout` with no
//! timeout, and `reset_peer` at 0).

use super::{Ending, Fate, Fault, Opening};
use std::time::Instant;

/// The fate of every faulted connection at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnAccept {
    /// A FIN at once: the client reads EOF.
    Close,
    /// An RST at once: the client's next read fails with ECONNRESET.
    Reset,
    /// Never read: the client's send buffer fills.
    Hang,
    /// Read and dropped: nothing is sent back.
    Blackhole,
}

impl OnAccept {
    fn name(self) -> &'static str {
        match self {
            Self::Close => "close",
            Self::Reset => "reset",
            Self::Hang => "hang",
            Self::Blackhole => "blackhole",
        }
    }
}

impl Fault for OnAccept {
    fn flag(&self) -> String {
        format!("--on-accept {}", self.name())
    }

    fn fresh(&self) -> Box<dyn Fault> {
        Box::new(*self)
    }

    fn on_connection(&self) -> bool {
        true
    }

    fn open(&mut self, _now: Instant, opening: &mut Opening) {
        match self {
            Self::Close => opening.ending = Some(Ending::Fin),
            Self::Reset => opening.ending = Some(Ending::Rst),
            Self::Hang => opening.fate = Fate::Hang,
            Self::Blackhole => opening.fate = Fate::Blackhole,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_decides_the_opening() {
        let now = Instant::now();
        let open = |mut mode: OnAccept| {
            let mut opening = Opening::default();
            mode.open(now, &mut opening);
            (opening.fate, opening.ending)
        };
        assert_eq!(open(OnAccept::Close), (Fate::Serve, Some(Ending::Fin)));
        assert_eq!(open(OnAccept::Reset), (Fate::Serve, Some(Ending::Rst)));
        assert_eq!(open(OnAccept::Hang), (Fate::Hang, None));
        assert_eq!(open(OnAccept::Blackhole), (Fate::Blackhole, None));
        assert_eq!(OnAccept::Blackhole.flag(), "--on-accept blackhole");
    }
}
