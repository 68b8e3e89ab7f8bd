//! The exit-code table shared by every sockkit program (sysexits.h values).

use rustix::io::Errno;

/// How a sockkit program ends; the numbers are `sysexits.h`'s, as the README lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the work was done.
    Success,
    /// 64 (`EX_USAGE`): bad arguments.
    Usage,
    /// 68 (`EX_NOHOST`): a host name the resolver does not know.
    NoHost,
    /// 69 (`EX_UNAVAILABLE`): the peer is not there (refused, unreachable).
    Unavailable,
    /// 71 (`EX_OSERR`): any other failed syscall.
    OsError,
    /// 75 (`EX_TEMPFAIL`): try again later (address in use, timeouts).
    TempFail,
    /// 77 (`EX_NOPERM`): the OS said no (`EACCES`, `EPERM`).
    NoPermission,
}

impl Exit {
    /// The exit code class an errno belongs to.
    pub fn from_errno(errno: Errno) -> Self {
        match errno {
            Errno::CONNREFUSED | Errno::HOSTUNREACH | Errno::NETUNREACH => Self::Unavailable,
            Errno::ADDRINUSE | Errno::TIMEDOUT => Self::TempFail,
            Errno::ACCESS | Errno::PERM => Self::NoPermission,
            _ => Self::OsError,
        }
    }

    /// The exit code class of a process exit status, if it is one of ours.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|exit| i32::from(exit.code()) == code)
    }

    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Usage => 64,
            Self::NoHost => 68,
            Self::Unavailable => 69,
            Self::OsError => 71,
            Self::TempFail => 75,
            Self::NoPermission => 77,
        }
    }
}

impl Exit {
    /// Every exit code, in order, for the tables that list them (the man
    /// pages' EXIT STATUS).
    pub const ALL: [Self; 7] = [
        Self::Success,
        Self::Usage,
        Self::NoHost,
        Self::Unavailable,
        Self::OsError,
        Self::TempFail,
        Self::NoPermission,
    ];

    /// What the code tells a script, and what typically causes it.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Success => "success (also --help, --version, and a reader closing stdout early)",
            Self::Usage => {
                "usage error: a bad address, port, flag or value, or flags that cannot go together"
            }
            Self::NoHost => "unknown host: a name the resolver does not know",
            Self::Unavailable => {
                "service unavailable: ECONNREFUSED, EHOSTUNREACH, ENETUNREACH; no socket at a unix path"
            }
            Self::OsError => "any other failed syscall (ECONNRESET, ENOENT, EADDRNOTAVAIL, ...)",
            Self::TempFail => {
                "temporary failure: EADDRINUSE, ETIMEDOUT (including --timeout), a resolver failing for now"
            }
            Self::NoPermission => "permission denied: EACCES, EPERM",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;
    use rustix::io::Errno;

    #[test]
    fn codes_match_the_spec_table() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Usage.code(), 64);
        assert_eq!(Exit::NoHost.code(), 68);
        assert_eq!(Exit::Unavailable.code(), 69);
        assert_eq!(Exit::OsError.code(), 71);
        assert_eq!(Exit::TempFail.code(), 75);
        assert_eq!(Exit::NoPermission.code(), 77);
    }

    #[test]
    fn codes_map_back_to_their_class() {
        for exit in [
            Exit::Success,
            Exit::Usage,
            Exit::NoHost,
            Exit::TempFail,
            Exit::NoPermission,
        ] {
            assert_eq!(Exit::from_code(i32::from(exit.code())), Some(exit));
        }
        for foreign in [1, 2, 70, 101, 137, -1] {
            assert_eq!(Exit::from_code(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn all_lists_every_code_once_in_order() {
        let listed: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(listed, sorted);
        for exit in Exit::ALL {
            assert!(!exit.meaning().is_empty(), "{exit:?}");
        }
    }

    #[test]
    fn errnos_map_to_their_class() {
        for (errno, exit) in [
            (Errno::CONNREFUSED, Exit::Unavailable),
            (Errno::HOSTUNREACH, Exit::Unavailable),
            (Errno::NETUNREACH, Exit::Unavailable),
            (Errno::ADDRINUSE, Exit::TempFail),
            (Errno::TIMEDOUT, Exit::TempFail),
            (Errno::ACCESS, Exit::NoPermission),
            (Errno::PERM, Exit::NoPermission),
            (Errno::MFILE, Exit::OsError),
            (Errno::CONNRESET, Exit::OsError),
        ] {
            assert_eq!(Exit::from_errno(errno), exit, "{errno:?}");
        }
    }
}
