//! Durations in the configuration: a number of seconds, or a string with units (`"15s"`,
//! `"500ms"`, `"2m"`), written back in the string form.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;

pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*value).to_string())
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number of seconds or a duration such as \"15s\" or \"500ms\"")
        }

        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(seconds))
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
            u64::try_from(seconds)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("negative duration {seconds}")))
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            humantime::parse_duration(text.trim())
                .map_err(|e| E::custom(format!("invalid duration {text:?}: {e}")))
        }
    }

    deserializer.deserialize_any(DurationVisitor)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use std::time::Duration;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        d: Duration,
    }

    #[test]
    fn numbers_are_seconds_and_strings_have_units() {
        let h: Holder = serde_json::from_str(r#"{"d": 15}"#).unwrap();
        assert_eq!(h.d, Duration::from_secs(15));
        let h: Holder = serde_json::from_str(r#"{"d": "500ms"}"#).unwrap();
        assert_eq!(h.d, Duration::from_millis(500));
        let h: Holder = serde_json::from_str(r#"{"d": "2m"}"#).unwrap();
        assert_eq!(h.d, Duration::from_secs(120));
        assert_eq!(serde_json::to_string(&h).unwrap(), r#"{"d":"2m"}"#);
        let err = serde_json::from_str::<Holder>(r#"{"d": "soon"}"#).unwrap_err();
        assert!(
            err.to_string().contains("invalid duration \"soon\""),
            "{err}"
        );
        assert!(serde_json::from_str::<Holder>(r#"{"d": -1}"#).is_err());
    }
}
