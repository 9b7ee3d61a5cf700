//! Opaque pagination cursors: a (time, position) keyset point, hex-encoded so clients treat
//! it as a token.

use chrono::{DateTime, Utc};

use crate::error::{ProjectionError, Result};

/// A keyset point: the last row a page returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The row's time in microseconds since the epoch (0 when the order is by position only).
    pub(crate) micros: i64,
    /// The row's position.
    pub(crate) position: i64,
}

impl Cursor {
    /// A cursor ordered by position only.
    pub(crate) fn at_position(position: i64) -> Self {
        Cursor {
            micros: 0,
            position,
        }
    }

    /// A cursor ordered by (time, position).
    pub(crate) fn at(time: DateTime<Utc>, position: i64) -> Self {
        Cursor {
            micros: time.timestamp_micros(),
            position,
        }
    }

    /// The time part.
    pub(crate) fn time(self) -> Result<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.micros).ok_or(ProjectionError::InvalidCursor)
    }

    /// The token handed to clients.
    pub(crate) fn encode(self) -> String {
        hex::encode(format!("c1:{}:{}", self.micros, self.position))
    }

    /// Reads a token produced by [`Cursor::encode`].
    pub(crate) fn decode(token: &str) -> Result<Self> {
        let bytes = hex::decode(token).map_err(|_| ProjectionError::InvalidCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| ProjectionError::InvalidCursor)?;
        let mut parts = text.split(':');
        let (Some("c1"), Some(micros), Some(position), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ProjectionError::InvalidCursor);
        };
        Ok(Cursor {
            micros: micros.parse().map_err(|_| ProjectionError::InvalidCursor)?,
            position: position
                .parse()
                .map_err(|_| ProjectionError::InvalidCursor)?,
        })
    }
}

/// Where a listing by position resumes: after the position of `token`, or from the start.
pub(crate) fn position_after(token: Option<&str>) -> Result<i64> {
    token.map_or(Ok(0), |token| {
        Cursor::decode(token).map(|cursor| cursor.position)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            micros: 1_767_571_200_000_000,
            position: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        assert!(Cursor::decode("zz").is_err());
        assert!(Cursor::decode(&hex::encode("c2:1:2")).is_err());
        assert!(Cursor::decode(&hex::encode("c1:1:2:3")).is_err());
    }
}
