//! One fixed text form for instants: UTC, microseconds, `Z`
//! (e.g. `2026-03-01T10:15:00.000000Z`). Stored times are truncated to
//! microseconds so that every backend (PostgreSQL `timestamptz` included)
//! gives back exactly what was hashed.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Truncates to whole microseconds and converts to UTC.
pub fn normalize(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let micros = t.nanosecond() / 1_000 * 1_000;
    // `micros` ≤ nanosecond() < 1e9, so replace_nanosecond cannot fail.
    t.replace_nanosecond(micros).unwrap_or(t)
}

/// The canonical text form of an instant (after [`normalize`]).
pub fn format(t: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    // Formatting a UTC datetime with a fixed description only fails for
    // years beyond 9999, which `parse` never produces.
    normalize(t)
        .format(&fmt)
        .unwrap_or_else(|_| String::from("invalid-time"))
}

/// Parses an RFC 3339 instant (any offset, any precision) and normalizes it.
pub fn parse(s: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(s, &Rfc3339).map(normalize)
}

/// Serde adapter: [`format()`] / [`parse()`].
pub mod serde_utc {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    /// Serializes in the canonical text form.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    /// Deserializes an RFC 3339 string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).map_err(serde::de::Error::custom)
    }

    /// The same for optional instants.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::OffsetDateTime;

        /// Serializes in the canonical text form, or `null`.
        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::format(*t)),
                None => s.serialize_none(),
            }
        }

        /// Deserializes an optional RFC 3339 string.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| super::super::parse(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_is_exact() {
        let t = super::parse("2026-03-01T11:15:00.123456789+01:00").expect("valid");
        let s = super::format(t);
        assert_eq!(s, "2026-03-01T10:15:00.123456Z");
        assert_eq!(super::parse(&s).expect("valid"), t);
    }
}
