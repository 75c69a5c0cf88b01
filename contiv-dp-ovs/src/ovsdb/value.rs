//! OVSDB values (RFC 7047 §5.1): atoms, sets, maps, UUIDs and named UUIDs,
//! with their JSON notation.

use super::OvsdbError;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::fmt;

/// A row UUID (`["uuid", "…"]` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(String);

impl Uuid {
    /// Validates the textual form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub fn parse(s: &str) -> Result<Uuid, OvsdbError> {
        let ok = s.len() == 36
            && s.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if ok {
            Ok(Uuid(s.to_ascii_lowercase()))
        } else {
            Err(OvsdbError::Protocol(format!("invalid UUID {s:?}")))
        }
    }

    /// The textual form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A single value of an OVSDB base type.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    /// `integer`.
    Integer(i64),
    /// `real`.
    Real(f64),
    /// `boolean`.
    Boolean(bool),
    /// `string`.
    String(String),
    /// `uuid` of an existing row.
    Uuid(Uuid),
    /// A row inserted earlier in the same transaction (`["named-uuid", n]`).
    NamedUuid(String),
}

impl Atom {
    /// The JSON notation.
    pub fn to_json(&self) -> Json {
        match self {
            Atom::Integer(i) => json!(i),
            Atom::Real(r) => json!(r),
            Atom::Boolean(b) => json!(b),
            Atom::String(s) => json!(s),
            Atom::Uuid(u) => json!(["uuid", u.as_str()]),
            Atom::NamedUuid(n) => json!(["named-uuid", n]),
        }
    }

    /// Parses an atom from JSON.
    pub fn from_json(j: &Json) -> Result<Atom, OvsdbError> {
        Ok(match j {
            Json::Bool(b) => Atom::Boolean(*b),
            Json::String(s) => Atom::String(s.clone()),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Atom::Integer(i),
                None => Atom::Real(n.as_f64().ok_or_else(|| {
                    OvsdbError::Protocol(format!("number {n} is not representable"))
                })?),
            },
            Json::Array(a) => match (a.first().and_then(Json::as_str), a.get(1), a.len()) {
                (Some("uuid"), Some(Json::String(s)), 2) => Atom::Uuid(Uuid::parse(s)?),
                (Some("named-uuid"), Some(Json::String(s)), 2) => Atom::NamedUuid(s.clone()),
                _ => return Err(OvsdbError::Protocol(format!("not an OVSDB atom: {j}"))),
            },
            _ => return Err(OvsdbError::Protocol(format!("not an OVSDB atom: {j}"))),
        })
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The UUID, if this is one.
    pub fn as_uuid(&self) -> Option<&Uuid> {
        match self {
            Atom::Uuid(u) => Some(u),
            _ => None,
        }
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom::String(s.to_owned())
    }
}
impl From<String> for Atom {
    fn from(s: String) -> Atom {
        Atom::String(s)
    }
}
impl From<i64> for Atom {
    fn from(i: i64) -> Atom {
        Atom::Integer(i)
    }
}
impl From<bool> for Atom {
    fn from(b: bool) -> Atom {
        Atom::Boolean(b)
    }
}
impl From<Uuid> for Atom {
    fn from(u: Uuid) -> Atom {
        Atom::Uuid(u)
    }
}

/// A column value: an atom, a set or a map.
///
/// Without the schema a bare atom and a one-element set look the same on
/// the wire (RFC 7047 allows the shorthand), so parsing returns
/// [`Value::Atom`] for both; use [`Value::as_set`] to read set columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single atom.
    Atom(Atom),
    /// `["set", [...]]`.
    Set(Vec<Atom>),
    /// `["map", [[k, v], ...]]`.
    Map(Vec<(Atom, Atom)>),
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::Atom(Atom::String(s.into()))
    }

    /// An integer value.
    pub fn int(i: i64) -> Value {
        Value::Atom(Atom::Integer(i))
    }

    /// A boolean value.
    pub fn bool(b: bool) -> Value {
        Value::Atom(Atom::Boolean(b))
    }

    /// A reference to a row inserted in the same transaction.
    pub fn named_uuid(name: impl Into<String>) -> Value {
        Value::Atom(Atom::NamedUuid(name.into()))
    }

    /// A reference to an existing row.
    pub fn uuid(u: Uuid) -> Value {
        Value::Atom(Atom::Uuid(u))
    }

    /// The empty set (clears an optional column).
    pub fn empty() -> Value {
        Value::Set(Vec::new())
    }

    /// A set of atoms.
    pub fn set<A: Into<Atom>>(items: impl IntoIterator<Item = A>) -> Value {
        Value::Set(items.into_iter().map(Into::into).collect())
    }

    /// A string→string map.
    pub fn str_map<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::Map(
            items
                .into_iter()
                .map(|(k, v)| (Atom::from(k), Atom::from(v)))
                .collect(),
        )
    }

    /// The JSON notation.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Atom(a) => a.to_json(),
            Value::Set(v) => json!(["set", v.iter().map(Atom::to_json).collect::<Vec<_>>()]),
            Value::Map(m) => json!([
                "map",
                m.iter()
                    .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                    .collect::<Vec<_>>()
            ]),
        }
    }

    /// Parses a value from JSON.
    pub fn from_json(j: &Json) -> Result<Value, OvsdbError> {
        if let Json::Array(a) = j {
            match (a.first().and_then(Json::as_str), a.get(1), a.len()) {
                (Some("set"), Some(Json::Array(items)), 2) => {
                    return Ok(Value::Set(
                        items
                            .iter()
                            .map(Atom::from_json)
                            .collect::<Result<_, _>>()?,
                    ));
                }
                (Some("map"), Some(Json::Array(pairs)), 2) => {
                    let mut m = Vec::with_capacity(pairs.len());
                    for p in pairs {
                        match p {
                            Json::Array(kv) if kv.len() == 2 => {
                                m.push((Atom::from_json(&kv[0])?, Atom::from_json(&kv[1])?));
                            }
                            _ => {
                                return Err(OvsdbError::Protocol(format!(
                                    "map entry is not a [key, value] pair: {p}"
                                )));
                            }
                        }
                    }
                    return Ok(Value::Map(m));
                }
                _ => {}
            }
        }
        Ok(Value::Atom(Atom::from_json(j)?))
    }

    /// The elements of a set column (a bare atom is a one-element set).
    pub fn as_set(&self) -> Vec<&Atom> {
        match self {
            Value::Atom(a) => vec![a],
            Value::Set(v) => v.iter().collect(),
            Value::Map(_) => Vec::new(),
        }
    }

    /// The single atom of an atom column or a one-element optional column.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self {
            Value::Atom(a) => Some(a),
            Value::Set(v) if v.len() == 1 => v.first(),
            _ => None,
        }
    }

    /// The string of a string column.
    pub fn as_str(&self) -> Option<&str> {
        self.as_atom().and_then(Atom::as_str)
    }

    /// The integer of an integer column (or a one-element optional one).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_atom().and_then(Atom::as_i64)
    }

    /// The UUID of a reference column (or a one-element optional one).
    pub fn as_uuid(&self) -> Option<&Uuid> {
        self.as_atom().and_then(Atom::as_uuid)
    }

    /// The pairs of a map column (empty for an empty set).
    pub fn as_map(&self) -> &[(Atom, Atom)] {
        match self {
            Value::Map(m) => m,
            _ => &[],
        }
    }

    /// A string→string map column as a `BTreeMap`.
    pub fn to_str_map(&self) -> BTreeMap<String, String> {
        self.as_map()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
            .collect()
    }

    /// The value stored under `key` in a map column.
    pub fn map_get(&self, key: &str) -> Option<&Atom> {
        self.as_map()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

impl From<Atom> for Value {
    fn from(a: Atom) -> Value {
        Value::Atom(a)
    }
}

/// A row: column name → value.
pub type Row = BTreeMap<String, Value>;

/// Parses a JSON object into a [`Row`].
pub fn row_from_json(j: &Json) -> Result<Row, OvsdbError> {
    let obj = j
        .as_object()
        .ok_or_else(|| OvsdbError::Protocol(format!("row is not a JSON object: {j}")))?;
    obj.iter()
        .map(|(k, v)| Ok((k.clone(), Value::from_json(v)?)))
        .collect()
}

/// The JSON object of a [`Row`].
pub fn row_to_json(row: &Row) -> Json {
    Json::Object(row.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7047_notation_roundtrips() {
        let u = Uuid::parse("36bf1e9a-8d3b-4c8e-9d1c-1d2f00000001").unwrap();
        for (v, j) in [
            (Value::string("br0"), json!("br0")),
            (Value::int(-3), json!(-3)),
            (Value::uuid(u.clone()), json!(["uuid", u.as_str()])),
            (Value::named_uuid("row1"), json!(["named-uuid", "row1"])),
            (Value::empty(), json!(["set", []])),
            (
                Value::set(["OpenFlow10", "OpenFlow13"]),
                json!(["set", ["OpenFlow10", "OpenFlow13"]]),
            ),
            (
                Value::str_map([("key", "flow"), ("remote_ip", "10.0.0.2")]),
                json!(["map", [["key", "flow"], ["remote_ip", "10.0.0.2"]]]),
            ),
        ] {
            assert_eq!(v.to_json(), j);
            assert_eq!(Value::from_json(&j).unwrap(), v);
        }
    }

    #[test]
    fn single_element_set_shorthand_reads_as_a_set_of_one() {
        let v = Value::from_json(&json!("OpenFlow13")).unwrap();
        assert_eq!(v.as_set().len(), 1);
        let v = Value::from_json(&json!(["set", [5]])).unwrap();
        assert_eq!(v.as_i64(), Some(5));
        assert_eq!(Value::empty().as_i64(), None);
    }

    #[test]
    fn malformed_values_are_errors() {
        for j in [
            json!(["uuid", "not-a-uuid"]),
            json!(["set", "x"]),
            json!(["map", [["k"]]]),
            json!({"a": 1}),
            json!(null),
        ] {
            assert!(Value::from_json(&j).is_err(), "{j}");
        }
    }
}
