//! Palette's time format: RFC 3339 with milliseconds and `Z`, and Go's zero time for "unset".

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// How Go clients (and Palette) spell an unset time.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00.000Z";

/// Formats a time the way Palette does: `2024-09-16T14:46:28.677Z`.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time; Go's zero time, an empty string and `null` mean "unset".
pub fn parse(s: &str) -> Result<Option<DateTime<Utc>>, chrono::ParseError> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0001-01-01") {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(s).map(|t| Some(t.with_timezone(&Utc)))
}

/// `#[serde(with = "easel_proto::time::optional")]` for `Option<DateTime<Utc>>` fields.
pub mod optional {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_str(GO_ZERO_TIME),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse(&s).map_err(|_| {
                serde::de::Error::custom(
                    "expected an RFC 3339 time such as 2025-01-31T00:00:00.000Z",
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z() {
        let t = DateTime::parse_from_rfc3339("2024-09-16T14:46:28.677123+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format(&t), "2024-09-16T14:46:28.677Z");
    }

    #[test]
    fn go_zero_time_and_empty_are_unset() {
        assert_eq!(parse(GO_ZERO_TIME).unwrap(), None);
        assert_eq!(parse("0001-01-01T00:00:00Z").unwrap(), None);
        assert_eq!(parse("").unwrap(), None);
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let t = parse("2025-01-01T02:00:00+02:00").unwrap().unwrap();
        assert_eq!(format(&t), "2025-01-01T00:00:00.000Z");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("tomorrow").is_err());
    }
}
