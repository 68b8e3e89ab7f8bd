//! Process limits the server adjusts or sizes itself by.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit: each client is an fd,
/// and the usual soft 1024 would cap a server long before the machine does.
pub fn raise_fd_limit() {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    let before = shown(limit.current);
    limit.current = limit.maximum;
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => log::info!(
            "RLIMIT_NOFILE raised from {before} to {}",
            shown(limit.maximum)
        ),
        Err(errno) => log::info!(
            "RLIMIT_NOFILE stays at {before}: {}",
            crate::error::describe_errno(errno)
        ),
    }
}

/// A limit as `ulimit -n` shows it (rustix's `None` is `RLIM_INFINITY`).
fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

/// The CPUs this process may run on (its affinity mask and cgroup quota).
pub fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
