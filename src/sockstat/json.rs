//! `--json`: an array of objects with the table's fields; numbers as
//! numbers, absent or unknown values as null.

use super::rows::{Addr, Row, User};
use serde_json::{Map, Value};

/// One row as a JSON object.
pub fn object(row: &Row, extended: bool) -> Value {
    let addr = |addr: &Addr| match addr {
        Addr::Text(text) => Value::from(text.as_str()),
        Addr::Absent | Addr::Unknown => Value::Null,
    };
    let mut map = Map::new();
    map.insert(
        "user".into(),
        match &row.user {
            Some(User::Name(name)) if name != "?" => Value::from(name.as_str()),
            Some(User::Id(uid)) => Value::from(*uid),
            _ => Value::Null,
        },
    );
    map.insert(
        "command".into(),
        row.command.as_deref().map_or(Value::Null, Value::from),
    );
    map.insert("pid".into(), row.pid.map_or(Value::Null, Value::from));
    map.insert("fd".into(), row.fd.map_or(Value::Null, Value::from));
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
pub fn render(rows: &[Row], extended: bool) -> String {
    let mut out = String::with_capacity(rows.len() * 160 + 4);
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&object(row, extended).to_string());
    }
    out.push_str(if rows.is_empty() { "]\n" } else { "\n]\n" });
    out
}
