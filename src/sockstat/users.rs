//! uid → user name, from `/etc/passwd`, read once.

use super::rows::User;
use std::collections::HashMap;

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
        match super::procfs::read_file(c"/etc/passwd", 16 * 1024) {
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
        let Some(uid) = core::str::from_utf8(uid)
            .ok()
            .and_then(|uid| uid.parse::<u32>().ok())
        else {
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
