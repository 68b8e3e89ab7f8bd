//! `--json`: an array of objects with the table's fields; numbers as
//! numbers, absent or unknown values as null.

use super::rows::{Addr, Listing, Row};
use super::users::User;
use serde_json::{Map, Value};

/// One row as a JSON object.
pub fn object(listing: &Listing, row: &Row, extended: bool) -> Value {
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
    if extended {
        map.insert("recv_q".into(), row.recv_q.map_or(Value::Null, Value::from));
        map.insert("send_q".into(), row.send_q.map_or(Value::Null, Value::from));
        map.insert("uid".into(), row.uid.map_or(Value::Null, Value::from));
    }
    Value::Object(map)
}

/// The rows as a JSON array, one object per line.
pub fn render(listing: &Listing, extended: bool) -> String {
    let mut out = String::with_capacity(listing.rows.len() * 160 + 4);
    out.push('[');
    for (i, row) in listing.rows.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&object(listing, row, extended).to_string());
    }
    out.push_str(if listing.rows.is_empty() {
        "]\n"
    } else {
        "\n]\n"
    });
    out
}
