//! A query string as ordered `(key, value)` pairs, and the typed reads of it that every list
//! endpoint shares. Filters may repeat a key (`cameras=1&cameras=2`) or give a comma list
//! (`cameras=1,2`); a single-valued key keeps its last occurrence.

use crate::ApiError;

pub type QueryPairs = Vec<(String, String)>;

/// Every value of `key`, repeated keys and comma lists flattened, blanks dropped.
pub fn values<'a>(pairs: &'a QueryPairs, key: &str) -> impl Iterator<Item = &'a str> + 'a {
    let key = key.to_string();
    pairs
        .iter()
        .filter(move |(k, _)| *k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The last non-empty value of `key`.
pub fn single<'a>(pairs: &'a QueryPairs, key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

pub fn parse_one<T: std::str::FromStr>(pairs: &QueryPairs, key: &str) -> Result<Option<T>, ApiError> {
    single(pairs, key)
        .map(|v| v.parse::<T>().map_err(|_| ApiError::bad_param(key, format!("{key} has an invalid value {v:?}"))))
        .transpose()
}

pub fn parse_many<T: std::str::FromStr>(pairs: &QueryPairs, key: &str) -> Result<Vec<T>, ApiError> {
    values(pairs, key)
        .map(|v| v.parse::<T>().map_err(|_| ApiError::bad_param(key, format!("{key} has an invalid value {v:?}"))))
        .collect()
}

pub fn parse_bool(pairs: &QueryPairs, key: &str) -> Result<Option<bool>, ApiError> {
    single(pairs, key)
        .map(|v| {
            crate::config::parse_bool(v).ok_or_else(|| ApiError::bad_param(key, format!("{key} must be true or false")))
        })
        .transpose()
}

/// A JSON object of filters (`{"cameras": [1, 2], "matched": true}`) as the pairs its query string
/// would give, so that both forms go through the same parser. Arrays become repeated keys; strings,
/// numbers and booleans their text; `null` drops the key. Anything else is 400 naming the key.
pub fn from_json_object(value: &serde_json::Value, param: &str) -> Result<QueryPairs, ApiError> {
    use serde_json::Value;
    let object = value.as_object().ok_or_else(|| ApiError::bad_param(param, format!("{param} must be an object")))?;
    let scalar = |key: &str, v: &Value| match v {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Null => Ok(None),
        _ => Err(ApiError::bad_param(key, format!("{key} must be a string, number, boolean or a list of them"))),
    };
    let mut pairs = QueryPairs::new();
    for (key, v) in object {
        match v {
            Value::Array(items) => {
                if items.is_empty() {
                    // An empty list selects nothing, as in the webhook filters; a key with no
                    // value would be read as "no filter" instead.
                    return Err(ApiError::bad_param(key, format!("{key} must not be an empty list")));
                }
                for item in items {
                    pairs.extend(scalar(key, item)?.map(|s| (key.clone(), s)));
                }
            }
            other => pairs.extend(scalar(key, other)?.map(|s| (key.clone(), s))),
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> QueryPairs {
        query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn repeated_keys_and_comma_lists_flatten_and_last_single_wins() {
        let q = pairs(&[("cameras", "1,2"), ("cameras", "3"), ("limit", "5"), ("limit", "7")]);
        assert_eq!(parse_many::<i64>(&q, "cameras").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_one::<i64>(&q, "limit").unwrap(), Some(7));
        assert_eq!(
            parse_many::<i64>(&pairs(&[("cameras", "x")]), "cameras").unwrap_err().param.as_deref(),
            Some("cameras")
        );
    }

    #[test]
    fn a_json_object_gives_the_pairs_of_its_query_string() {
        let v = serde_json::json!({"cameras": [1, 2], "matched": true, "gender": "male", "age_gte": 30, "x": null});
        let mut got = from_json_object(&v, "filters").unwrap();
        got.sort();
        let mut want =
            pairs(&[("age_gte", "30"), ("cameras", "1"), ("cameras", "2"), ("gender", "male"), ("matched", "true")]);
        want.sort();
        assert_eq!(got, want);
        assert!(from_json_object(&serde_json::json!([1]), "filters").is_err());
        assert!(from_json_object(&serde_json::json!({"cameras": [[1]]}), "filters").is_err());
        assert!(from_json_object(&serde_json::json!({"cameras": []}), "filters").is_err());
    }
}
