//! Interpreters: what they can interpret (their profile) and where they are in their working
//! day (their status).

use serde::{Deserialize, Serialize};

use crate::{Invalid, LanguageCode};

/// How well an interpreter commands a language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Native,
    Professional,
    Conversational,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Native, Level::Professional, Level::Conversational];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Native => "native",
            Level::Professional => "professional",
            Level::Conversational => "conversational",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == raw)
            .ok_or_else(|| Invalid::new("level", "must be native, professional or conversational"))
    }
}

/// A field of interpreting with its own vocabulary and rules (a medical interpreter knows
/// consent forms; a legal one knows court procedure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Specialization {
    General,
    Medical,
    Legal,
    Business,
    Education,
    SocialServices,
}

impl Specialization {
    pub const ALL: [Specialization; 6] = [
        Specialization::General,
        Specialization::Medical,
        Specialization::Legal,
        Specialization::Business,
        Specialization::Education,
        Specialization::SocialServices,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Specialization::General => "general",
            Specialization::Medical => "medical",
            Specialization::Legal => "legal",
            Specialization::Business => "business",
            Specialization::Education => "education",
            Specialization::SocialServices => "social_services",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                Invalid::new(
                    "specialization",
                    "must be general, medical, legal, business, education or social_services",
                )
            })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// How the interpreter joins the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Video,
    Audio,
}

impl Modality {
    pub const ALL: [Modality; 2] = [Modality::Video, Modality::Audio];

    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Video => "video",
            Modality::Audio => "audio",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == raw)
            .ok_or_else(|| Invalid::new("modality", "must be video or audio"))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Declares a set of a small enum as a bit mask. Stores keep the mask as one integer column,
/// which both SQLite and PostgreSQL filter with `mask & bit <> 0` in the same SQL.
macro_rules! bit_set {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(u8);

        impl $name {
            pub fn contains(self, item: $item) -> bool {
                self.0 & item.bit() != 0
            }
            pub fn insert(&mut self, item: $item) {
                self.0 |= item.bit();
            }
            pub fn is_empty(self) -> bool {
                self.0 == 0
            }
            pub fn bits(self) -> i64 {
                i64::from(self.0)
            }
            /// Rebuilds a set from a stored mask, ignoring bits no variant uses.
            pub fn from_bits(bits: i64) -> Self {
                let mut set = Self::default();
                for item in <$item>::ALL {
                    if bits & i64::from(item.bit()) != 0 {
                        set.insert(item);
                    }
                }
                set
            }
            pub fn iter(self) -> impl Iterator<Item = $item> {
                <$item>::ALL.into_iter().filter(move |i| self.contains(*i))
            }
        }

        impl FromIterator<$item> for $name {
            fn from_iter<I: IntoIterator<Item = $item>>(iter: I) -> Self {
                let mut set = Self::default();
                for i in iter {
                    set.insert(i);
                }
                set
            }
        }
    };
}

bit_set!(
    /// The specializations an interpreter covers.
    SpecializationSet,
    Specialization
);
bit_set!(
    /// The modalities an interpreter works in.
    ModalitySet,
    Modality
);

/// One language an interpreter works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanguageSkill {
    pub code: LanguageCode,
    pub level: Level,
    pub certified: bool,
}

/// What an interpreter can be offered. A profile always has at least one language, one
/// specialization and one modality, and no language twice: an interpreter who could match
/// nothing has no profile yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    languages: Vec<LanguageSkill>,
    pub specializations: SpecializationSet,
    pub modalities: ModalitySet,
}

impl Profile {
    /// The most languages one profile may list; more is a mistake or an abuse, not a polyglot.
    pub const MAX_LANGUAGES: usize = 20;

    pub fn new(
        languages: Vec<LanguageSkill>,
        specializations: SpecializationSet,
        modalities: ModalitySet,
    ) -> Result<Self, Invalid> {
        if languages.is_empty() {
            return Err(Invalid::new("languages", "must list at least one language"));
        }
        if languages.len() > Self::MAX_LANGUAGES {
            return Err(Invalid::new(
                "languages",
                format!("must list at most {} languages", Self::MAX_LANGUAGES),
            ));
        }
        for (i, l) in languages.iter().enumerate() {
            if languages[..i].iter().any(|p| p.code == l.code) {
                return Err(Invalid::new(
                    "languages",
                    format!("lists {} more than once", l.code),
                ));
            }
        }
        if specializations.is_empty() {
            return Err(Invalid::new(
                "specializations",
                "must list at least one specialization",
            ));
        }
        if modalities.is_empty() {
            return Err(Invalid::new(
                "modalities",
                "must list at least one modality",
            ));
        }
        Ok(Self {
            languages,
            specializations,
            modalities,
        })
    }

    pub fn languages(&self) -> &[LanguageSkill] {
        &self.languages
    }

    pub fn speaks(&self, code: LanguageCode) -> bool {
        self.languages.iter().any(|l| l.code == code)
    }
}

/// Where an interpreter is in the working day.
///
/// The interpreter sets `available`, `away` and `offline`; the system sets `reserved` (an offer
/// is pending), `busy` (in a session) and `wrap_up` (the short pause after a session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterpreterStatus {
    Available,
    Away,
    Offline,
    Reserved,
    Busy,
    WrapUp,
}

/// Why a requested status change cannot happen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    #[error("the status cannot be changed during a session")]
    InSession,
    #[error(
        "an interpreter needs a profile (languages, specializations, modalities) before becoming available"
    )]
    NoProfile,
}

impl InterpreterStatus {
    pub const ALL: [InterpreterStatus; 6] = [
        InterpreterStatus::Available,
        InterpreterStatus::Away,
        InterpreterStatus::Offline,
        InterpreterStatus::Reserved,
        InterpreterStatus::Busy,
        InterpreterStatus::WrapUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InterpreterStatus::Available => "available",
            InterpreterStatus::Away => "away",
            InterpreterStatus::Offline => "offline",
            InterpreterStatus::Reserved => "reserved",
            InterpreterStatus::Busy => "busy",
            InterpreterStatus::WrapUp => "wrap_up",
        }
    }

    /// Any status, as stored.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| Invalid::new("status", format!("unknown status {raw:?}")))
    }

    /// A status an interpreter may ask for: `available`, `away` or `offline`.
    pub fn parse_manual(raw: &str) -> Result<Self, Invalid> {
        match Self::parse(raw) {
            Ok(s @ (Self::Available | Self::Away | Self::Offline)) => Ok(s),
            _ => Err(Invalid::new("status", "must be available, away or offline")),
        }
    }

    /// Decides whether the interpreter may move from `self` to the manual status `to`.
    ///
    /// A session (`busy`) is never left by a status change: the session ends first. `reserved`
    /// may be left (the pending offer is then rescinded by the matching engine), and `wrap_up`
    /// may be cut short. Becoming `available` needs a profile, because otherwise the interpreter
    /// would look online while nothing can ever be offered to them.
    pub fn manual_change(self, to: Self, has_profile: bool) -> Result<Self, StatusChangeError> {
        if self == Self::Busy {
            return Err(StatusChangeError::InSession);
        }
        if to == Self::Available && !has_profile {
            return Err(StatusChangeError::NoProfile);
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn busy_interpreters_cannot_change_status() {
        for to in [
            InterpreterStatus::Available,
            InterpreterStatus::Away,
            InterpreterStatus::Offline,
        ] {
            assert_eq!(
                InterpreterStatus::Busy.manual_change(to, true),
                Err(StatusChangeError::InSession)
            );
        }
        assert_eq!(
            InterpreterStatus::Offline.manual_change(InterpreterStatus::Available, false),
            Err(StatusChangeError::NoProfile)
        );
        assert_eq!(
            InterpreterStatus::WrapUp.manual_change(InterpreterStatus::Available, true),
            Ok(InterpreterStatus::Available)
        );
    }

    #[test]
    fn only_manual_statuses_can_be_asked_for() {
        assert!(InterpreterStatus::parse_manual("busy").is_err());
        assert!(InterpreterStatus::parse_manual("reserved").is_err());
        assert_eq!(
            InterpreterStatus::parse_manual("away"),
            Ok(InterpreterStatus::Away)
        );
    }

    #[test]
    fn profiles_refuse_duplicates_and_empty_sets() {
        let es = LanguageCode::parse("es").expect("es is valid");
        let skill = LanguageSkill {
            code: es,
            level: Level::Native,
            certified: false,
        };
        let specs: SpecializationSet = [Specialization::Medical].into_iter().collect();
        let mods: ModalitySet = [Modality::Video].into_iter().collect();
        assert!(Profile::new(vec![skill], specs, mods).is_ok());
        assert!(Profile::new(vec![skill, skill], specs, mods).is_err());
        assert!(Profile::new(vec![], specs, mods).is_err());
        assert!(Profile::new(vec![skill], SpecializationSet::default(), mods).is_err());
        assert!(Profile::new(vec![skill], specs, ModalitySet::default()).is_err());
    }

    proptest! {
        #[test]
        fn bit_sets_round_trip(bits in 0i64..64) {
            let set = SpecializationSet::from_bits(bits);
            prop_assert_eq!(SpecializationSet::from_bits(set.bits()), set);
            let rebuilt: SpecializationSet = set.iter().collect();
            prop_assert_eq!(rebuilt, set);
        }
    }
}
