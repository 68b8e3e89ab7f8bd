//! sockd's `--events` flag, flattened into its command line.

use std::path::PathBuf;

/// The event log's flag.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EventsFlags {
    /// Write a JSON line per event (listen, accept, fault, close, datagram, stop) to PATH (-: stdout, with -q)
    #[arg(long, value_name = "PATH", conflicts_with = "chat")]
    pub events: Option<PathBuf>,
}

impl EventsFlags {
    /// Whether the log goes to stdout (`--events -`).
    pub fn to_stdout(&self) -> bool {
        self.events.as_deref() == Some(std::path::Path::new("-"))
    }
}
