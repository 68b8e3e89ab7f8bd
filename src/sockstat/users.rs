//! uid → user name, from `/etc/passwd`, read once.

use std::collections::HashMap;

/// Who owns a process, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum User {
    /// A name from `/etc/passwd`.
    Name(String),
    /// A uid (`-n`, or one `/etc/passwd` does not name).
    Id(u32),
    /// The process went away before its owner could be read.
    Unknown,
}

/// The names `/etc/passwd` gives, or none at all for `-n`.
#[derive(Debug, Default)]
pub struct Users {
    names: Option<HashMap<u32, String>>,
}

impl Users {
    /// Numbers only (`-n`).
    pub fn numeric() -> Self {
        Self { names: None }
    }

    /// Names from `/etc/passwd`; an unreadable file means numbers.
    pub fn load() -> Self {
        match crate::io::read_to_end_at(rustix::fs::CWD, c"/etc/passwd", 16 * 1024) {
            Ok(text) => Self {
                names: Some(parse_passwd(&text)),
            },
            Err(errno) => {
                log::debug!(
                    "/etc/passwd: {}; showing uids",
                    crate::error::describe_errno(errno)
                );
                Self::numeric()
            }
        }
    }

    /// How `uid` is shown.
    pub fn user(&self, uid: u32) -> User {
        match self.names.as_ref().and_then(|names| names.get(&uid)) {
            Some(name) => User::Name(name.clone()),
            None => User::Id(uid),
        }
    }
}

/// `name:password:uid:...` lines; the first name for a uid wins, as in
/// `getpwuid`.
pub fn parse_passwd(text: &[u8]) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.split(|&b| b == b'\n') {
        let mut fields = line.split(|&b| b == b':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some(uid) = crate::decimal::parse::<u32>(uid) else {
            continue;
        };
        if name.is_empty() || name.starts_with(b"#") {
            continue;
        }
        names
            .entry(uid)
            .or_insert_with(|| crate::escape::field(name));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let names = parse_passwd(b"root:x:0:0:root:/root:/bin/bash\nbad\n:x:5\nnobody:x:65534:65534::/:/x\ntoor:x:0:0\nx:y:zz\n");
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&65534).map(String::as_str), Some("nobody"));
        assert_eq!(names.len(), 2);
    }
}
