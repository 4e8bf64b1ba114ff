//! Accounts: who may sign up, with what address, password and name.
//!
//! Each type here can only hold a valid value (parse, don't validate): handlers that receive an
//! `Email` never re-check it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::{Invalid, UserId, has_bidi_control};

/// An e-mail address, trimmed, lower-cased and NFC-normalized so that one mailbox is one account
/// (`é` typed as one character or as `e` plus a combining accent is the same address).
///
/// Format characters (Unicode category Cf: zero-width joiners and spaces, bidirectional
/// controls, soft hyphens) are refused: they are invisible, so they would let a second account
/// look exactly like someone else's address in every list an admin reads.
///
/// The check is deliberately structural (one `@`, a non-empty local part, a dotted domain, no
/// spaces, at most 254 characters as RFC 5321 allows): the only real proof of an address is
/// mail that arrives, and a stricter grammar refuses addresses people actually use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = |reason: &str| Err(Invalid::new("email", reason));
        if raw
            .chars()
            .any(|c| c.general_category() == GeneralCategory::Format)
        {
            return invalid("must not contain invisible format characters (Unicode category Cf)");
        }
        let value: String = raw.trim().to_lowercase().nfc().collect();
        if value.is_empty() {
            return invalid("must not be empty");
        }
        if value.chars().count() > 254 {
            return invalid("must be at most 254 characters");
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid("must not contain spaces or control characters");
        }
        let Some((local, domain)) = value.split_once('@') else {
            return invalid("must be an address like name@example.com");
        };
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return invalid("must be an address like name@example.com");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return invalid("must have a domain like example.com");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed at sign-up: 10 to 128 characters (Unicode scalar values).
///
/// Its `Debug` output is redacted so that no log line can ever carry it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(Invalid::new(
                "password",
                format!(
                    "must be {} to {} characters, got {n}",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The name shown to the other party of a session: 1 to 100 characters once trimmed, no
/// control characters and no bidirectional controls (which would make the name display as
/// something else, see [`crate::text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        let n = value.chars().count();
        if n == 0 || n > 100 {
            return Err(Invalid::new("display_name", "must be 1 to 100 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(Invalid::new(
                "display_name",
                "must not contain control characters",
            ));
        }
        if has_bidi_control(value) {
            return Err(Invalid::new(
                "display_name",
                "must not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a user is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Client,
    Interpreter,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Interpreter => "interpreter",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "client" => Ok(Role::Client),
            "interpreter" => Ok(Role::Interpreter),
            "admin" => Ok(Role::Admin),
            _ => Err(Invalid::new("role", "must be client, interpreter or admin")),
        }
    }
}

/// The roles open to self-service sign-up. Admins are made on the command line only, so the
/// type that a sign-up handler holds cannot express "admin".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupRole {
    Client,
    Interpreter,
}

impl SignupRole {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "client" => Ok(SignupRole::Client),
            "interpreter" => Ok(SignupRole::Interpreter),
            _ => Err(Invalid::new("role", "must be client or interpreter")),
        }
    }
}

impl From<SignupRole> for Role {
    fn from(r: SignupRole) -> Self {
        match r {
            SignupRole::Client => Role::Client,
            SignupRole::Interpreter => Role::Interpreter,
        }
    }
}

/// A user as the rest of the system sees it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub role: Role,
    /// The object key of the current avatar, if one was uploaded.
    pub avatar_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Nurse@Example.ORG ").map(|e| e.0),
            Ok("nurse@example.org".into())
        );
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@c.com",
            "a@b..com",
            "a@@b.com",
            "a@-b.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn passwords_are_counted_in_characters() {
        assert!(Password::parse("123456789").is_err());
        assert!(Password::parse("1234567890").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"é".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-secret").ok()),
            "Some(Password(<redacted>))"
        );
    }

    #[test]
    fn sign_up_cannot_create_admins() {
        assert!(SignupRole::parse("admin").is_err());
        assert_eq!(
            Role::from(
                SignupRole::parse("interpreter")
                    .ok()
                    .unwrap_or(SignupRole::Client)
            ),
            Role::Interpreter
        );
    }

    #[test]
    fn display_names_are_trimmed() {
        assert_eq!(
            DisplayName::parse("  Ana  ").map(|n| n.0),
            Ok("Ana".to_owned())
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn emails_are_nfc_normalized() {
        let composed = Email::parse("jos\u{e9}@example.org").map(|e| e.0);
        let decomposed = Email::parse("jose\u{301}@example.org").map(|e| e.0);
        assert_eq!(composed, Ok("jos\u{e9}@example.org".to_owned()));
        assert_eq!(decomposed, composed);
    }

    #[test]
    fn emails_with_format_characters_are_refused() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}', '\u{202E}',
            '\u{2066}', '\u{200E}',
        ] {
            let err = Email::parse(&format!("ad{c}min@example.org"))
                .expect_err("a format character must be refused");
            assert_eq!(err.field, "email");
        }
    }

    #[test]
    fn display_names_with_bidi_controls_are_refused() {
        for c in [
            '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{61C}',
        ] {
            let err = DisplayName::parse(&format!("Ana{c}xe.pdf"))
                .expect_err("a bidi control must be refused");
            assert_eq!(err.field, "display_name");
        }
        assert!(DisplayName::parse("محمد").is_ok());
        assert!(DisplayName::parse("Zoë").is_ok());
    }
}
