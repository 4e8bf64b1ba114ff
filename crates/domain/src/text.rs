//! Text a person typed that the system shows to someone else: the characters that can make it
//! read differently from what it is.
//!
//! Bidirectional controls reorder the characters around them on screen, so that a name or a
//! filename can display as something it is not (`invoice`, U+202E, `fdp.exe` shows as
//! `invoiceexe.pdf`).
//! Names, addresses and filenames have no use for them; refusing them is simpler and safer than
//! stripping them, because stripping would change what the caller asked to store.

/// The bidirectional formatting characters: the embeddings and overrides (U+202A to U+202E), the
/// isolates (U+2066 to U+2069) and the implicit marks (U+200E, U+200F, U+061C).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Whether `s` holds any bidirectional formatting character (see [`is_bidi_control`]): used for
/// display names and for the filenames of uploaded documents.
pub fn has_bidi_control(s: &str) -> bool {
    s.chars().any(is_bidi_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bidi_control_is_found() {
        for c in ('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200E}', '\u{200F}', '\u{061C}'])
        {
            assert!(has_bidi_control(&format!("invoice{c}fdp.exe")), "{c:?}");
        }
    }

    #[test]
    fn ordinary_text_in_any_script_has_none() {
        for s in [
            "Ana",
            "José",
            "محمد",
            "שלום",
            "日本語",
            "zero\u{200B}width",
            "",
        ] {
            assert!(!has_bidi_control(s), "{s:?}");
        }
    }
}
