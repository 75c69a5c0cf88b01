//! vpp-papi's argument form of a message (`testing` feature): the dict a
//! Python caller passes to `VPPApiClient.messages[name].pack()`, as JSON.
//!
//! Byte strings (`u8` arrays and vectors, e.g. addresses) are written as
//! `{"__bytes__": "<hex>"}`, which the golden-vector script turns into
//! Python `bytes`; counts of `T name[count]` vectors are written explicitly
//! (papi checks them); unions as their largest arm.

use serde_json::{Map, Value};

/// A value in vpp-papi's argument form.
pub trait ToPapi {
    /// The JSON value vpp-papi would be given for this value.
    fn to_papi(&self) -> Value;
}

/// A byte string.
pub fn bytes(b: &[u8]) -> Value {
    let mut hex = String::with_capacity(b.len() * 2);
    for x in b {
        hex.push_str(&format!("{x:02x}"));
    }
    let mut m = Map::new();
    m.insert("__bytes__".into(), Value::String(hex));
    Value::Object(m)
}

macro_rules! num {
    ($($t:ty),*) => {$(
        impl ToPapi for $t {
            fn to_papi(&self) -> Value { Value::from(*self) }
        }
    )*};
}
num!(u8, i8, u16, i16, u32, i32, u64, i64, f64, bool);

impl ToPapi for String {
    fn to_papi(&self) -> Value {
        Value::String(self.clone())
    }
}

impl<T: ToPapi> ToPapi for Vec<T> {
    fn to_papi(&self) -> Value {
        Value::Array(self.iter().map(ToPapi::to_papi).collect())
    }
}

impl<T: ToPapi, const N: usize> ToPapi for [T; N] {
    fn to_papi(&self) -> Value {
        Value::Array(self.iter().map(ToPapi::to_papi).collect())
    }
}
