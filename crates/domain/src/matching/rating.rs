//! A client's rating of a session: one to five stars and an optional comment.
//!
//! The values are checked when they arrive (parse, don't validate), so that a session only ever
//! holds a rating that makes sense; whether the session may be rated at all is
//! [`super::Session::rate`]'s business. Out-of-range stars or an oversized comment are a 422.

use serde::Serialize;

use crate::Invalid;

/// A rating of one to five stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Stars(u8);

impl Stars {
    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        match u8::try_from(raw) {
            Ok(s @ 1..=5) => Ok(Self(s)),
            _ => Err(Invalid::new("stars", "must be a whole number from 1 to 5")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// A client's rating of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rating {
    pub stars: Stars,
    pub comment: Option<String>,
}

impl Rating {
    /// The longest comment kept, in characters: room for a paragraph, not for a document.
    pub const MAX_COMMENT_CHARS: usize = 2000;

    /// A blank comment is no comment.
    pub fn new(stars: Stars, comment: Option<&str>) -> Result<Self, Invalid> {
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if comment.is_some_and(|c| c.chars().count() > Self::MAX_COMMENT_CHARS) {
            return Err(Invalid::new(
                "comment",
                format!("must be at most {} characters", Self::MAX_COMMENT_CHARS),
            ));
        }
        Ok(Self {
            stars,
            comment: comment.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_run_from_one_to_five_and_comments_are_bounded() {
        for ok in 1..=5 {
            assert_eq!(Stars::parse(ok).map(Stars::get), Ok(ok as u8));
        }
        for bad in [-1, 0, 6, 256, i64::MAX] {
            assert!(Stars::parse(bad).is_err(), "{bad} stars");
        }
        let stars = Stars::parse(3).expect("3 stars");
        assert_eq!(Rating::new(stars, Some("   ")).map(|r| r.comment), Ok(None));
        let long = "x".repeat(Rating::MAX_COMMENT_CHARS + 1);
        assert!(Rating::new(stars, Some(&long)).is_err());
    }
}
