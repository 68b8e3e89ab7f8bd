//! Process limits the server adjusts or sizes itself by.

use rustix::process::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit: each client is an fd,
/// and the usual soft 1024 would cap a server long before the machine does.
pub fn raise_fd_limit() {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    let before = limit.current;
    limit.current = limit.maximum;
    match setrlimit(Resource::Nofile, limit) {
        Ok(()) => log::info!(
            "RLIMIT_NOFILE raised from {before:?} to {:?}",
            limit.maximum
        ),
        Err(errno) => log::info!(
            "RLIMIT_NOFILE stays at {before:?}: {}",
            crate::error::describe_errno(errno)
        ),
    }
}

/// The CPUs this process may run on (its affinity mask and cgroup quota).
pub fn usable_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
