//! A key's metadata: the operator's own data about a key (a customer id, a tier, flags),
//! free-form JSON returned with every verify answer so the operator's API need not look
//! it up (Unkey's `meta`). Bounded, since it is cached with the key and sent with every
//! answer; an object, so that it can grow field by field; and never holding anything
//! shaped like a key, since it is shown wherever the key is.

use serde_json::{Map, Value};

/// The largest metadata a key may carry, as compact JSON.
pub const MOST_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata(Map<String, Value>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMetadata {
    #[error("metadata must be a JSON object, such as {{\"customer\": \"c_123\"}}")]
    NotAnObject,
    #[error("metadata is {0} bytes as JSON; at most {MOST_BYTES} are allowed")]
    TooLarge(usize),
    #[error("metadata looks like it contains an API key; never put a key in metadata (and rotate that key)")]
    Secret,
}

impl Metadata {
    pub fn parse(value: Value) -> Result<Self, InvalidMetadata> {
        let Value::Object(map) = value else {
            return Err(InvalidMetadata::NotAnObject);
        };
        let text = Value::Object(map.clone()).to_string();
        if text.len() > MOST_BYTES {
            return Err(InvalidMetadata::TooLarge(text.len()));
        }
        if crate::echo::looks_secret(&text) {
            return Err(InvalidMetadata::Secret);
        }
        Ok(Metadata(map))
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_is_a_bounded_object_without_keys() {
        let m = Metadata::parse(json!({ "customer": "c_123", "tier": 2 })).unwrap();
        assert_eq!(m.to_value()["tier"], 2);
        assert_eq!(
            Metadata::parse(json!([1, 2])),
            Err(InvalidMetadata::NotAnObject)
        );
        assert_eq!(
            Metadata::parse(json!("x")),
            Err(InvalidMetadata::NotAnObject)
        );
        let big = json!({ "x": "y".repeat(MOST_BYTES) });
        assert!(matches!(
            Metadata::parse(big),
            Err(InvalidMetadata::TooLarge(_))
        ));
        let leaked = json!({ "note": "kw_live_0123456789abcdef_x" });
        assert_eq!(Metadata::parse(leaked), Err(InvalidMetadata::Secret));
    }
}
