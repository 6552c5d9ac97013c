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
