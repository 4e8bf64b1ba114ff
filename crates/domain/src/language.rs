//! Language codes as BCP 47 primary language subtags.
//!
//! A code is the ISO 639-1 two-letter code where the language has one, otherwise its ISO 639-3
//! three-letter code (`ase` for American Sign Language), always lower case. The table is the full
//! ISO 639-3 register carried by the `isolang` crate, so "xx" or "english" are refused rather than
//! stored as free text, and a language has exactly one spelling (`spa` is refused in favour of `es`,
//! as BCP 47 requires).

use serde::Serialize;

use crate::Invalid;

/// A valid primary language subtag. Cheap to copy: it is two or three ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LanguageCode {
    bytes: [u8; 3],
    len: u8,
}

impl LanguageCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = || {
            Err(Invalid::new(
                "language",
                format!(
                    "{raw:?} is not an ISO 639 language code (use the two-letter code where one exists, e.g. \"es\", else the three-letter one, e.g. \"ase\")"
                ),
            ))
        };
        let known = match raw.len() {
            2 if raw.bytes().all(|b| b.is_ascii_lowercase()) => {
                isolang::Language::from_639_1(raw).is_some()
            }
            3 if raw.bytes().all(|b| b.is_ascii_lowercase()) => {
                // A three-letter code is the subtag only when no two-letter code exists.
                isolang::Language::from_639_3(raw).is_some_and(|l| l.to_639_1().is_none())
            }
            _ => false,
        };
        if !known {
            return invalid();
        }
        let mut bytes = [0u8; 3];
        bytes[..raw.len()].copy_from_slice(raw.as_bytes());
        Ok(Self {
            bytes,
            len: raw.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII lower-case letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("und")
    }

    /// The English name of the language, for consoles and explanations.
    pub fn english_name(&self) -> &'static str {
        let lang = match self.len {
            2 => isolang::Language::from_639_1(self.as_str()),
            _ => isolang::Language::from_639_3(self.as_str()),
        };
        lang.map(|l| l.to_name()).unwrap_or("unknown")
    }
}

impl std::fmt::Debug for LanguageCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LanguageCode({})", self.as_str())
    }
}

impl std::fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LanguageCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_codes_pass() {
        for ok in ["es", "fr", "zh", "ar", "ase", "yue", "fil"] {
            assert_eq!(
                LanguageCode::parse(ok).map(|c| c.to_string()),
                Ok(ok.to_owned())
            );
        }
        assert_eq!(
            LanguageCode::parse("ase").map(|c| c.english_name()),
            Ok("American Sign Language")
        );
    }

    #[test]
    fn invented_or_misspelt_codes_fail() {
        for bad in [
            "", "xx", "english", "ES", "e", "spa", "zho", "qqq", "e s", "es-MX",
        ] {
            assert!(
                LanguageCode::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
