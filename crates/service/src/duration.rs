//! Durations in the configuration file: a number of seconds, or a number with a unit.
//!
//! `30`, `"30s"`, `"500ms"`, `"15m"`, `"1h"`, `"2d"` and combinations such as `"1h30m"` or
//! `"1h 30m"` are accepted; durations are written back in the same unit style (`"15m"`), so a
//! configuration dumped by `zkfleet` reads like the one an operator wrote. The one format of
//! every component's configuration (gateway, job monitor, sequencer).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Units in the order they are written, largest first.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Why a duration string is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (expected e.g. \"30s\", \"500ms\", \"15m\", \"1h\", \"2d\" or a number of seconds)")]
pub struct DurationParseError {
    input: String,
    reason: &'static str,
}

/// Parses `"1h30m"`, `"500ms"`, `"10"` (seconds) and the like.
pub fn parse(input: &str) -> Result<Duration, DurationParseError> {
    let err = |reason| DurationParseError {
        input: input.to_owned(),
        reason,
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(err("empty"));
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total_ms: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("expected a number before each unit"));
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|_| err("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        let factor = match unit {
            "ms" => 1,
            "s" | "sec" | "secs" => 1_000,
            "m" | "min" | "mins" => 60_000,
            "h" | "hour" | "hours" => 3_600_000,
            "d" | "day" | "days" => 86_400_000,
            "" => {
                return Err(err(
                    "every number needs a unit unless the whole value is plain seconds",
                ))
            }
            _ => return Err(err("unknown unit (use ms, s, m, h or d)")),
        };
        let part = value.checked_mul(factor).ok_or_else(|| err("too long"))?;
        total_ms = total_ms.checked_add(part).ok_or_else(|| err("too long"))?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration in the largest units that represent it exactly (`"1h30m"`, `"250ms"`).
pub fn format(duration: Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, factor) in UNITS {
        if ms >= factor {
            out.push_str(&format!("{}{unit}", ms / factor));
            ms %= factor;
        }
    }
    out
}

/// `#[serde(with = "zkfleet_service::duration")]` for `Duration` fields.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

/// Reads a duration string (`"1h30m"`, `"300ms"`) or a number of seconds (for
/// `#[serde(with = "…")]`).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number of seconds or a string such as \"15m\"")
        }

        fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(seconds))
        }

        fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
            u64::try_from(seconds)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("negative duration: {seconds} seconds")))
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse(text).map_err(E::custom)
        }
    }

    deserializer.deserialize_any(DurationVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_seconds() {
        assert_eq!(parse("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse(" 7 days ").unwrap(), Duration::from_secs(604_800));
        // What humantime writes (the gateway's former format) reads back.
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1s 500ms").unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "m", "10x", "1h30", "-5s", "99999999999999999999d"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        d: Duration,
    }

    #[test]
    fn serde_takes_numbers_as_seconds_and_strings_with_units() {
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

    #[test]
    fn formats_in_the_largest_exact_units() {
        assert_eq!(format(Duration::from_secs(900)), "15m");
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format(Duration::from_secs(172_800)), "2d");
        assert_eq!(format(Duration::ZERO), "0s");
        for d in [1, 59_999, 3_600_001, 604_800_000] {
            let d = Duration::from_millis(d);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }
}
