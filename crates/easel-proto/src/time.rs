//! Palette's time format: RFC 3339 with milliseconds and `Z`, and Go's zero time for "unset".

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// How Go clients (and Palette) spell an unset time.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00.000Z";

/// Formats a time the way Palette does: `2024-09-16T14:46:28.677Z`.
pub fn format(t: &DateTime<Utc>) -> String {
    with_formatted(t, str::to_owned)
}

/// Hands `use_text` the time as [`format`] spells it, from a buffer on the stack when it can
/// ([`format_into`]), else from chrono's own spelling.
pub(crate) fn with_formatted<R>(t: &DateTime<Utc>, use_text: impl FnOnce(&str) -> R) -> R {
    let mut buffer = [0u8; 24];
    match format_into(t, &mut buffer) {
        Some(text) => use_text(text),
        None => use_text(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
    }
}

/// [`format`] into `buffer`, without allocating: a page of 50 API keys writes 200 times.
/// Only for years 0 to 9999 without a leap second (every time Easel stores); `None` for
/// the others, which [`format`] leaves to chrono (it writes them differently).
fn format_into<'a>(t: &DateTime<Utc>, buffer: &'a mut [u8; 24]) -> Option<&'a str> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    if t.nanosecond() >= 1_000_000_000 {
        return None;
    }
    let put = |slot: &mut [u8], mut value: u32| {
        for digit in slot.iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    *buffer = *b"0000-00-00T00:00:00.000Z";
    put(&mut buffer[0..4], year);
    put(&mut buffer[5..7], t.month());
    put(&mut buffer[8..10], t.day());
    put(&mut buffer[11..13], t.hour());
    put(&mut buffer[14..16], t.minute());
    put(&mut buffer[17..19], t.second());
    put(&mut buffer[20..23], t.timestamp_subsec_millis());
    std::str::from_utf8(buffer).ok()
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
            Some(t) => with_formatted(t, |text| s.serialize_str(text)),
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
    fn the_fast_format_writes_what_chrono_writes() {
        let chrono_format = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
        // Year 0 to 9999, the edges and 100,000 times between (a fixed sequence).
        let first = at(-62_167_219_200_000);
        let last = at(253_402_300_799_999);
        let mut times = vec![first, last, at(0), at(-1), at(951_782_400_000)];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let span = (last.timestamp_millis() - first.timestamp_millis()) as u64;
            times.push(at(first.timestamp_millis() + (state % span) as i64));
        }
        for t in &times {
            assert_eq!(format(t), chrono_format(t), "{t:?}");
        }
        // Outside the fast range, chrono's own spelling.
        let before = at(-62_167_219_200_001);
        assert_eq!(format(&before), chrono_format(&before));
        let after = at(253_402_300_800_000);
        assert_eq!(format(&after), chrono_format(&after));
        let nanos = DateTime::from_timestamp(1_700_000_000, 123_987_654).unwrap();
        assert_eq!(format(&nanos), "2023-11-14T22:13:20.123Z");
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
