//! A network namespace a test makes (`ip netns add`, with its loopback up)
//! and deletes on drop, even when the test fails; root only.

use super::Cmd;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Netns {
    pub name: String,
}

/// Runs `ip ARGS`; its stdout, or what it said on stderr.
pub fn ip(args: &[&str]) -> Result<String, String> {
    let out = Cmd::new("ip").args(args).run();
    if out.code == Some(0) {
        Ok(out.stdout_text())
    } else {
        Err(format!("{}: {}", out.command, out.stderr.trim()))
    }
}

impl Netns {
    /// A new namespace named after this process and a counter.
    pub fn new() -> Result<Self, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "sockkit-ns-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        let netns = Self { name };
        ip(&["-n", &netns.name, "link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// The wrapper that runs a command inside it.
    pub fn exec(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// Its inode, as `stat /run/netns/NAME` gives it.
    pub fn inode(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(self.path())
            .unwrap_or_else(|e| panic!("stat {}: {e}", self.path()))
            .ino()
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}
