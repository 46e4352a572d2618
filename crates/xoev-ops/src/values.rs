//! AMQP header values as strings and JSON.

use lapin::types::{AMQPValue, FieldTable, LongString};
use serde_json::{Map, Value, json};

/// A header value as a string, for string, integer, boolean and timestamp
/// values (tables, arrays and bytes have none).
pub(crate) fn as_string(v: &AMQPValue) -> Option<String> {
    Some(match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_owned(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(i) => i.to_string(),
        AMQPValue::ShortShortUInt(i) => i.to_string(),
        AMQPValue::ShortInt(i) => i.to_string(),
        AMQPValue::ShortUInt(i) => i.to_string(),
        AMQPValue::LongInt(i) => i.to_string(),
        AMQPValue::LongUInt(i) => i.to_string(),
        AMQPValue::LongLongInt(i) => i.to_string(),
        AMQPValue::Timestamp(t) => t.to_string(),
        _ => return None,
    })
}

/// A header value as JSON: strings, numbers, booleans, arrays and objects
/// as themselves; bytes as `{"base64": …}`; a decimal as a number.
pub(crate) fn to_json(v: &AMQPValue) -> Value {
    use base64::Engine as _;
    match v {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(i) => json!(i),
        AMQPValue::ShortShortUInt(i) => json!(i),
        AMQPValue::ShortInt(i) => json!(i),
        AMQPValue::ShortUInt(i) => json!(i),
        AMQPValue::LongInt(i) => json!(i),
        AMQPValue::LongUInt(i) => json!(i),
        AMQPValue::LongLongInt(i) => json!(i),
        AMQPValue::Float(f) => json!(f),
        AMQPValue::Double(f) => json!(f),
        AMQPValue::DecimalValue(d) => {
            json!(f64::from(d.value) / 10f64.powi(i32::from(d.scale)))
        }
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => json!(String::from_utf8_lossy(s.as_bytes())),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(to_json).collect()),
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::FieldTable(t) => table_to_json(t),
        AMQPValue::ByteArray(b) => {
            json!({ "base64": base64::engine::general_purpose::STANDARD.encode(b.as_slice()) })
        }
        AMQPValue::Void => Value::Null,
    }
}

/// A header table as a JSON object.
pub(crate) fn table_to_json(t: &FieldTable) -> Value {
    let mut m = Map::new();
    for (k, v) in t.inner() {
        m.insert(k.as_str().to_owned(), to_json(v));
    }
    Value::Object(m)
}

/// A string header value.
pub(crate) fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// The first entry of RabbitMQ's `x-death` header (the most recent
/// dead-lettering by the broker itself): `(queue, reason)`.
pub(crate) fn first_death(headers: &FieldTable) -> Option<(Option<String>, Option<String>)> {
    let AMQPValue::FieldArray(deaths) = headers.inner().get("x-death")? else {
        return None;
    };
    let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else {
        return None;
    };
    let get = |k: &str| first.inner().get(k).and_then(as_string);
    Some((get("queue"), get("reason")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::FieldArray;

    #[test]
    fn x_death_yields_queue_and_reason() {
        let mut death = FieldTable::default();
        death.insert("queue".into(), long("xoev.inbox.fa-9198"));
        death.insert("reason".into(), long("rejected"));
        death.insert("count".into(), AMQPValue::LongLongInt(1));
        let mut headers = FieldTable::default();
        headers.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        assert_eq!(
            first_death(&headers),
            Some((
                Some("xoev.inbox.fa-9198".to_owned()),
                Some("rejected".to_owned())
            ))
        );
        let j = table_to_json(&headers);
        assert_eq!(j["x-death"][0]["count"], json!(1));
        assert_eq!(first_death(&FieldTable::default()), None);
    }
}
