//! `--json`: an array of objects with the table's fields; numbers as
//! numbers, absent or unknown values as null.

use super::chunked::Chunked;
use super::internals::{Field, Raw, mem, tcp};
use super::rows::{Addr, Listing, Row, Shown};
use super::users::User;
use crate::error::Result;
use serde_json::{Map, Value};
use std::io::Write as _;

/// One row as a JSON object.
pub fn object(listing: &Listing, row: &Row, shown: Shown) -> Value {
    let addr = |addr: &Addr| match addr {
        Addr::Absent | Addr::Unknown => Value::Null,
        other => Value::from(other.to_string()),
    };
    let process = row.owner.as_ref().and_then(|owner| listing.process(owner));
    let mut map = Map::new();
    map.insert(
        "user".into(),
        match process.map(|p| &p.user) {
            Some(User::Name(name)) => Value::from(name.as_str()),
            Some(User::Id(uid)) => Value::from(*uid),
            Some(User::Unknown) | None => Value::Null,
        },
    );
    map.insert(
        "command".into(),
        process
            .and_then(|p| p.command.as_deref())
            .map_or(Value::Null, Value::from),
    );
    map.insert(
        "pid".into(),
        row.owner.map_or(Value::Null, |o| Value::from(o.pid)),
    );
    map.insert(
        "fd".into(),
        row.owner.map_or(Value::Null, |o| Value::from(o.fd)),
    );
    map.insert(
        "proto".into(),
        if row.proto == "?" {
            Value::Null
        } else {
            Value::from(row.proto)
        },
    );
    map.insert("inode".into(), Value::from(row.inode));
    map.insert("local".into(), addr(&row.local));
    map.insert("foreign".into(), addr(&row.foreign));
    map.insert("state".into(), row.state.map_or(Value::Null, Value::from));
    map.insert("netns".into(), row.netns.map_or(Value::Null, Value::from));
    map.insert(
        "netns_name".into(),
        listing.netns_name(row).map_or(Value::Null, Value::from),
    );
    if shown.extended {
        map.insert("recv_q".into(), row.recv_q.map_or(Value::Null, Value::from));
        map.insert("send_q".into(), row.send_q.map_or(Value::Null, Value::from));
        map.insert("uid".into(), row.uid.map_or(Value::Null, Value::from));
    }
    let internals = row.internals.as_deref();
    if shown.internals {
        let info = internals.and_then(|i| i.tcp_info.as_ref());
        map.insert(
            "tcp_info".into(),
            info.map_or(Value::Null, |i| fields(i, tcp::ALL)),
        );
        let congestion = internals.and_then(|i| i.congestion.map(|c| c.escaped()));
        map.insert(
            "congestion".into(),
            congestion.map_or(Value::Null, Value::from),
        );
    }
    if shown.memory {
        let skmem = internals.and_then(|i| i.skmem.as_ref());
        map.insert(
            "skmem".into(),
            skmem.map_or(Value::Null, |m| fields(m, mem::ALL)),
        );
    }
    Value::Object(map)
}

/// A kernel struct as an object keyed by its field names, in the kernel's
/// units; a field the kernel did not send is null.
fn fields<const N: usize>(raw: &Raw<N>, all: &[Field]) -> Value {
    Value::Object(
        all.iter()
            .map(|field| {
                let value = raw.get(*field).map_or(Value::Null, Value::from);
                (field.name.to_string(), value)
            })
            .collect(),
    )
}

/// The rows as a JSON array, one object per line, handed on in chunks
/// (with `-i` an object is 1.5 KB: 20,000 of them are 30 MB).
///
/// # Errors
/// The first error of the chunks' sink.
pub fn write(listing: &Listing, shown: Shown, mut out: Chunked<'_>) -> Result<()> {
    out.text().push(b'[');
    for (i, row) in listing.rows.iter().enumerate() {
        let text = out.text();
        text.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        let _ = write!(text, "{}", object(listing, row, shown));
        out.flush_if_full()?;
    }
    out.text().extend_from_slice(if listing.rows.is_empty() {
        b"]\n"
    } else {
        b"\n]\n"
    });
    out.finish()
}
