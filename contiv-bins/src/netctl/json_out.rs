//! JSON output as the original printed it: Go's
//! `json.MarshalIndent(v, "", "  ")` followed by a newline.
//!
//! [`OrderedJson`] keeps a server answer exactly as it came (field order and
//! fields this netctl does not know), so `inspect` and `-j` print what
//! netmaster sent rather than a re-sorted or trimmed copy.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// A JSON value that keeps object members in their original order.
#[derive(Clone, Debug, PartialEq)]
pub enum OrderedJson {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as serde_json read it.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<OrderedJson>),
    /// An object, members in document order.
    Object(Vec<(String, OrderedJson)>),
}

impl OrderedJson {
    /// Parses a JSON document.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl Serialize for OrderedJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OrderedJson::Null => s.serialize_unit(),
            OrderedJson::Bool(b) => s.serialize_bool(*b),
            OrderedJson::Number(n) => n.serialize(s),
            OrderedJson::String(v) => s.serialize_str(v),
            OrderedJson::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            OrderedJson::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = OrderedJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<OrderedJson, D::Error> {
        OrderedJson::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<OrderedJson, E> {
        serde_json::Number::from_f64(v)
            .map(OrderedJson::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrderedJson, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(OrderedJson::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedJson, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, OrderedJson>()? {
            members.push((k, v));
        }
        Ok(OrderedJson::Object(members))
    }
}

impl<'de> Deserialize<'de> for OrderedJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

/// Go's `json.MarshalIndent(v, "", "  ")`: two-space indentation, `": "`
/// after keys, `{}`/`[]` for empty containers, and Go's HTML-safe escapes
/// (`<`, `>`, `&`, U+2028, U+2029 as `\u003c`, …). No trailing newline.
pub fn marshal_indent<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let pretty = serde_json::to_string_pretty(value)?;
    Ok(go_html_escape(&pretty))
}

/// Applies Go's `encoding/json` HTML escaping to serialized JSON. The
/// characters concerned can only occur inside JSON strings, so replacing
/// them anywhere in the text is safe.
fn go_html_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_member_order_and_unknown_fields() {
        let src = br#"{"key":"global","zeta":1,"arpMode":"proxy","links":{"Tenant":{}}}"#;
        let v = OrderedJson::parse(src).unwrap();
        let out = marshal_indent(&v).unwrap();
        assert_eq!(
            out,
            "{\n  \"key\": \"global\",\n  \"zeta\": 1,\n  \"arpMode\": \"proxy\",\n  \"links\": {\n    \"Tenant\": {}\n  }\n}"
        );
    }

    #[test]
    fn empty_containers_and_scalars() {
        let v = OrderedJson::parse(br#"[[],{},null,true,-3,2.5,"x"]"#).unwrap();
        assert_eq!(
            marshal_indent(&v).unwrap(),
            "[\n  [],\n  {},\n  null,\n  true,\n  -3,\n  2.5,\n  \"x\"\n]"
        );
    }

    #[test]
    fn html_characters_are_escaped_like_go() {
        let v = OrderedJson::String("a<b>&c".into());
        assert_eq!(marshal_indent(&v).unwrap(), r#""a\u003cb\u003e\u0026c""#);
    }
}
