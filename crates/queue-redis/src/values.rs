//! Reading stream replies: entries, numbers, the consumer group's last delivered id.

use redis::Value;

/// A stream entry: its id and the job JSON of its one field.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub id: String,
    pub json: String,
}

pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other).and_then(|s| s.parse().ok()),
    }
}

/// The entries of an XRANGE or XREADGROUP list; a deleted entry (nil fields) is skipped.
pub(crate) fn entries(list: &Value) -> Vec<Entry> {
    let Value::Array(items) = list else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Array(pair) = item else {
                return None;
            };
            let id = text(pair.first()?)?;
            let Value::Array(fields) = pair.get(1)? else {
                return None;
            };
            let json = fields
                .chunks(2)
                .find(|f| f.first().and_then(text).as_deref() == Some("j"))
                .and_then(|f| f.get(1))
                .and_then(text)?;
            Some(Entry { id, json })
        })
        .collect()
}

/// The `last-delivered-id` of `group` in an XINFO GROUPS reply.
pub(crate) fn last_delivered(reply: &Value, group: &str) -> Option<String> {
    let Value::Array(groups) = reply else {
        return None;
    };
    for g in groups {
        let fields: Vec<(String, &Value)> = match g {
            Value::Array(f) => f
                .chunks(2)
                .filter_map(|c| Some((text(c.first()?)?, c.get(1)?)))
                .collect(),
            Value::Map(m) => m.iter().filter_map(|(k, v)| Some((text(k)?, v))).collect(),
            _ => continue,
        };
        let is_group = fields
            .iter()
            .any(|(k, v)| k == "name" && text(v).as_deref() == Some(group));
        if is_group {
            return fields
                .iter()
                .find(|(k, _)| k == "last-delivered-id")
                .and_then(|(_, v)| text(v));
        }
    }
    None
}
