//! What `/proc` says about a process: CPU time, memory, open fds, whether
//! it still runs.

/// utime + stime of a process, in seconds (`/proc/PID/stat` fields 14–15).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    let fields: Vec<&str> = after_comm(&stat).split_whitespace().collect();
    // after ')' the first field is field 3 (state): utime is 14, stime 15.
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    let hz = rustix::param::clock_ticks_per_second() as f64;
    ticks as f64 / hz
}

/// The command name may hold spaces and parentheses: fields count after
/// the last ')'.
fn after_comm(stat: &str) -> &str {
    &stat[stat.rfind(')').map_or(0, |i| i + 1)..]
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// What each open fd of a process points at (`/proc/PID/fd/N` links), by fd.
pub fn fd_targets(pid: u32) -> Vec<(u32, String)> {
    let dir = format!("/proc/{pid}/fd");
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

/// The inode a `socket:[INODE]` link names.
pub fn socket_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// How many of a process's fds are sockets.
pub fn socket_fds(pid: u32) -> usize {
    fd_targets(pid)
        .iter()
        .filter(|(_, target)| target.starts_with("socket:["))
        .count()
}

/// Whether the process still runs (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !after_comm(&stat).trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// What `/proc/PID/stat` says of a process's terminal: its controlling
/// terminal's device number (0: none), its process group, and that
/// terminal's foreground process group; `None` once the process is gone.
pub fn terminal(pid: u32) -> Option<(i64, i64, i64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // state ppid pgrp session tty_nr tpgid
    let fields: Vec<i64> = after_comm(&stat)
        .split_whitespace()
        .skip(1)
        .take(5)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    Some((fields[3], fields[1], fields[4]))
}

/// Whether the running kernel was built with `CONFIG_INET_DIAG_DESTROY`,
/// when its configuration can be read (`/proc/config.gz`, `/boot/config-*`).
pub fn kernel_has_sock_destroy() -> Option<bool> {
    let config = if std::path::Path::new("/proc/config.gz").exists() {
        let out = super::Cmd::new("zcat").arg("/proc/config.gz").run();
        (out.code == Some(0)).then(|| out.stdout_text())?
    } else {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
        std::fs::read_to_string(format!("/boot/config-{}", release.trim())).ok()?
    };
    Some(config.lines().any(|l| l == "CONFIG_INET_DIAG_DESTROY=y"))
}

/// Where process `pid`, its threads and its descendants are waiting, for
/// the message of a command killed at its limit: each thread's name, its
/// `/proc/.../syscall` (the call's number and arguments, `running`, or
/// blank), its `wchan`, and its kernel stack (readable by root only).
/// Read before the kill, while the waits are still there.
pub fn waits(pid: u32) -> String {
    let mut out = String::new();
    let mut pending = vec![pid];
    let mut seen = 0;
    while let Some(pid) = pending.pop() {
        // A fork bomb's tree is not worth a megabyte of message.
        seen += 1;
        if seen > 16 {
            out.push_str("(more processes not shown)\n");
            break;
        }
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let dir = task.path();
            let read = |name: &str| {
                std::fs::read_to_string(dir.join(name))
                    .map(|text| text.trim_end().to_string())
                    .unwrap_or_else(|e| format!("({e})"))
            };
            let tid = task.file_name().to_string_lossy().into_owned();
            out.push_str(&format!(
                "pid {pid} tid {tid} ({}): syscall {}; wchan {}\n",
                read("comm"),
                read("syscall"),
                read("wchan")
            ));
            for line in read("stack").lines() {
                out.push_str(&format!("    {line}\n"));
            }
            pending.extend(
                read("children")
                    .split_whitespace()
                    .filter_map(|child| child.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// The fds of this process that are sockets without close-on-exec:
/// each would be inherited by every child any test spawns meanwhile.
pub fn inheritable_sockets() -> Vec<(u32, String)> {
    // O_CLOEXEC as fdinfo's octal `flags:` shows it.
    const CLOEXEC: u32 = 0o2000000;
    fd_targets(std::process::id())
        .into_iter()
        .filter(|(_, target)| target.starts_with("socket:["))
        .filter(|(fd, _)| {
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"));
            let flags = info.ok().and_then(|info| {
                let octal = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
                u32::from_str_radix(octal.trim(), 8).ok()
            });
            // Gone meanwhile: no leak.
            flags.is_some_and(|flags| flags & CLOEXEC == 0)
        })
        .collect()
}
