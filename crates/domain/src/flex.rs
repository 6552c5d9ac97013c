//! Lenient JSON field readers: web clients send booleans as `true` or as `"true"`.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrText {
    Bool(bool),
    Text(String),
}

fn to_bool<E: serde::de::Error>(value: BoolOrText) -> Result<bool, E> {
    match value {
        BoolOrText::Bool(b) => Ok(b),
        BoolOrText::Text(t) => {
            crate::config::parse_bool(&t).ok_or_else(|| E::custom(format!("expected a boolean, got {t:?}")))
        }
    }
}

pub fn bool_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Option::<BoolOrText>::deserialize(d)?.map(to_bool).transpose()
}

/// A PATCH field that may be cleared: absent (with `#[serde(default)]`) = `None`, `null` =
/// `Some(None)`, a value = `Some(Some(v))`.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
