//! Durations in the configuration: a number of seconds or a string with units (`"90s"`,
//! `"10m"`, `"1h"`), as the rest of the fleet's configuration writes them.
//!
//! A minimal copy: `zkfleet-service::duration` is the shared one, not yet committed when this
//! crate was written; switch to it once it is.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*duration).to_string())
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(text) => humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {text:?}: {e} (expected e.g. \"30s\", \"500ms\", \"10m\" or a number of seconds)"
            ))
        }),
    }
}
