//! Unicode rules for names and for showing text: when two nicknames or room names are the
//! same name ([`fold`]), when they merely look alike ([`skeleton`]), which characters a name
//! may hold, and which ones a terminal must never draw as they are ([`is_invisible`]).
//!
//! - [`fold`] is the name's identity. Names with one fold key are the same name (`Alice`,
//!   `ALICE`, `ａｌｉｃｅ`), so lookups such as `/msg alice` go through it.
//! - [`skeleton`] is the name's look: the Unicode TR39 skeleton of the fold key, so names with
//!   one fold key always share a skeleton, and names that merely look alike (`alice` with a
//!   Cyrillic `а`) share one too. A server that refuses a name whose skeleton is taken
//!   therefore refuses every name whose fold key is taken as well.
//!
//! Mixed-script names are allowed on purpose: a Latin-and-Cyrillic name is only a problem
//! when it impersonates someone, and the skeleton catches exactly that.

use std::borrow::Cow;

use icu_casemap::CaseMapper;
use icu_properties::props::{DefaultIgnorableCodePoint, VariationSelector};
use icu_properties::CodePointSetData;
use unicode_normalization::{is_nfc, is_nfkc, UnicodeNormalization};

/// The key under which two names are the same name: Unicode `toNFKC_Casefold`, that is the
/// name without default-ignorable characters, in NFKC, fully case folded, and in NFKC again.
///
/// `STRASSE` and `straße`, `ΣX` and `ςx`, `ａlice` and `alice` all have one key. The key is a
/// stable string: it depends only on the Unicode version of the tables, never on a locale.
///
/// A name that is already its own key is returned borrowed, so a caller holding it in an
/// `Arc<str>` can share that allocation; lower-case ASCII names are detected without scanning
/// any table.
pub fn fold(name: &str) -> Cow<'_, str> {
    // Every step below leaves lower-case ASCII untouched, and most names are exactly that.
    if name.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return Cow::Borrowed(name);
    }
    // Ignorables go first because removing one (say a grapheme joiner between two accents) can
    // leave text that needs normalising again; the fold can produce text outside NFKC (`ǰ` folds
    // to `j` and a combining caron), hence the second NFKC.
    let text = rewrite(Cow::Borrowed(name), without_ignorables);
    let text = rewrite(text, nfkc);
    let text = rewrite(text, case_fold);
    rewrite(text, nfkc)
}

/// The look of a name, given its [`fold`] key: the Unicode TR39 confusable skeleton, case
/// folded. Two names with one skeleton look alike: `аlice` (Cyrillic `а`) and `alice`,
/// all-Cyrillic `аре` and Latin `ape`, `rn` and `m`, `b0b` and `bob`. The skeleton is a
/// comparison key only; it is not meant to be shown, and it may change between Unicode
/// versions.
///
/// The final case fold is there because TR39 maps some characters to capitals (digit zero to
/// `O`) while every fold key is lower case, so without it `b0b` would not meet `bob`. A key
/// that is its own skeleton (most lower-case ASCII names) is returned borrowed.
pub fn skeleton(folded: &str) -> Cow<'_, str> {
    let prototype: String = unicode_security::skeleton(folded).collect();
    let key = case_fold(&prototype).unwrap_or(prototype);
    if key == folded {
        Cow::Borrowed(folded)
    } else {
        Cow::Owned(key)
    }
}

/// Whether a terminal should show a visible placeholder instead of `c`, because `c` draws
/// nothing or reorders what follows: Unicode's default-ignorable code points, which include
/// every bidi control (LRM, RLM and ALM too), the zero-width space, non-joiner and joiner,
/// U+2060 WORD JOINER, U+FEFF, U+180E, soft hyphens, tag characters and Hangul fillers.
///
/// Variation selectors are default-ignorable as well but answer `false`: they choose between
/// text and emoji presentation (`❤️` is U+2764 U+FE0F), and a placeholder there would break
/// ordinary emoji.
pub fn is_invisible(c: char) -> bool {
    !c.is_ascii()
        && CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        && !CodePointSetData::new::<VariationSelector>().contains(c)
}

/// Puts typed text into NFC, the form that looks the same but uses precomposed letters where
/// Unicode has them: `e` followed by U+0301 COMBINING ACUTE ACCENT becomes `é`.
///
/// Names should go through this before their characters are checked, because keyboards and
/// systems that produce decomposed text (macOS among them) would otherwise have `é` refused for
/// its combining accent. Text already in NFC, all ASCII among it, is returned borrowed.
pub fn compose(text: &str) -> Cow<'_, str> {
    if is_nfc(text) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

/// Whether `c` may appear in a name: a letter or digit of any script, a mark that combines
/// with one (Unicode's `XID_Continue`: without the virama, `हिन्दी` could not be written),
/// `_` or `-`, but nothing that [`is_invisible`], because the Hangul fillers (U+3164 and
/// kin) count as letters yet show as blanks.
pub fn is_name_char(c: char) -> bool {
    (c.is_alphanumeric() || c == '-' || unicode_ident::is_xid_continue(c)) && !is_invisible(c)
}

/// Whether a name may start with `c`: a name character that stands on its own, not a mark
/// that would combine with whatever is written before the name.
pub fn is_name_start(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Applies one step that answers `None` when it would leave the text as it is, so that text
/// no step changes stays borrowed.
fn rewrite<'a>(text: Cow<'a, str>, step: fn(&str) -> Option<String>) -> Cow<'a, str> {
    match step(&text) {
        Some(changed) => Cow::Owned(changed),
        None => text,
    }
}

fn without_ignorables(text: &str) -> Option<String> {
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    if text.chars().any(|c| ignorable.contains(c)) {
        Some(text.chars().filter(|&c| !ignorable.contains(c)).collect())
    } else {
        None
    }
}

fn nfkc(text: &str) -> Option<String> {
    if is_nfkc(text) {
        None
    } else {
        Some(text.nfkc().collect())
    }
}

fn case_fold(text: &str) -> Option<String> {
    match CaseMapper::new().fold_string(text) {
        Cow::Borrowed(_) => None,
        Cow::Owned(folded) => Some(folded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The skeleton of a name as typed.
    fn look(name: &str) -> String {
        skeleton(&fold(name)).into_owned()
    }

    #[test]
    fn sharp_s_folds_to_double_s() {
        assert_eq!(fold("STRASSE"), fold("straße"));
        assert_eq!(fold("straße"), "strasse");
    }

    #[test]
    fn every_sigma_folds_alike() {
        assert_eq!(fold("ΣX"), fold("σx"));
        assert_eq!(fold("ςx"), fold("σx"));
    }

    #[test]
    fn fullwidth_folds_to_ascii() {
        assert_eq!(fold("ａlice"), fold("alice"));
        assert_eq!(fold("ＡＬＩＣＥ"), "alice");
    }

    #[test]
    fn case_does_not_matter() {
        assert_eq!(fold("Alice"), fold("alice"));
    }

    #[test]
    fn different_names_differ() {
        assert_ne!(fold("alice"), fold("bob"));
        assert_ne!(look("alice"), look("bob"));
    }

    #[test]
    fn cyrillic_a_is_another_name_that_looks_the_same() {
        let cyrillic = "\u{0430}lice";
        assert_ne!(fold(cyrillic), fold("alice"));
        assert_eq!(look(cyrillic), look("alice"));
    }

    #[test]
    fn all_cyrillic_word_looks_like_latin_word() {
        let cyrillic = "\u{0430}\u{0440}\u{0435}";
        assert_ne!(fold(cyrillic), fold("ape"));
        assert_eq!(look(cyrillic), look("ape"));
    }

    #[test]
    fn rn_looks_like_m() {
        // TR39's confusables.txt maps `m` to `rn`.
        assert_eq!(look("m"), "rn");
        assert_eq!(look("rn"), look("m"));
        assert_eq!(look("rnallory"), look("mallory"));
    }

    #[test]
    fn names_with_one_fold_key_have_one_look() {
        for (a, b) in [("STRASSE", "straße"), ("ΣX", "ςx"), ("ａlice", "Alice")] {
            assert_eq!(look(a), look(b), "{a} and {b}");
        }
    }

    #[test]
    fn digits_look_like_letters() {
        assert_eq!(look("b0b"), look("bob"));
        assert_eq!(look("B0B"), look("bob"));
        assert_eq!(look("1ily"), look("lily"));
        assert_ne!(look("b8b"), look("bob"));
    }

    #[test]
    fn capital_i_is_folded_before_it_can_look_like_l() {
        // A known cost of skeletons taken on the fold key: `I` has become `i` by then.
        assert_ne!(look("Ilya"), look("llya"));
    }

    #[test]
    fn underscore_and_dash_keep_their_look_alikes() {
        assert_eq!(look("a_b"), "a_b");
        assert_eq!(look("a-b"), "a-b");
        // U+2010 HYPHEN and U+2212 MINUS SIGN
        assert_eq!(look("a\u{2010}b"), look("a-b"));
        assert_eq!(look("a\u{2212}b"), look("a-b"));
    }

    #[test]
    fn invisible_and_reordering_characters_are_detected() {
        let zero_width = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{180E}'];
        let marks = ['\u{200E}', '\u{200F}', '\u{061C}'];
        let explicit = ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}');
        for c in zero_width.into_iter().chain(marks).chain(explicit) {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        for c in ['\u{00AD}', '\u{3164}', '\u{115F}', '\u{E0041}'] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn visible_characters_and_variation_selectors_are_not_invisible() {
        for c in ['a', ' ', '\t', 'é', '日', '\u{FE0F}', '\u{FE0E}', '\u{2764}', '\u{1F600}'] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn lower_case_ascii_is_its_own_key_without_allocating() {
        for name in ["alice", "bob_2", "a-b", "x"] {
            assert!(matches!(fold(name), Cow::Borrowed(n) if n == name), "{name}");
        }
        assert!(matches!(skeleton("alice"), Cow::Borrowed("alice")));
    }

    #[test]
    fn folded_non_ascii_name_is_also_borrowed() {
        assert!(matches!(fold("zoë"), Cow::Borrowed("zoë")));
        assert!(matches!(fold("Zoë"), Cow::Owned(_)));
    }

    #[test]
    fn default_ignorables_do_not_change_the_key() {
        assert_eq!(fold("al\u{00AD}ice"), "alice");
        assert_eq!(fold("alice\u{3164}"), "alice");
        assert_eq!(look("alice\u{200B}"), "alice");
    }

    #[test]
    fn decomposed_input_is_composed() {
        assert_eq!(compose("e\u{0301}"), "\u{00E9}");
        assert!(matches!(compose("zoë"), Cow::Borrowed(_)));
    }

    #[test]
    fn name_characters_are_letters_digits_underscore_and_dash_that_show() {
        for c in ['a', 'Z', '7', '_', '-', 'ë', '日', 'а'] {
            assert!(is_name_char(c), "{c:?}");
        }
        for c in [' ', '#', '/', '\u{200B}', '\u{202E}', '\u{3164}', '\u{115F}'] {
            assert!(!is_name_char(c), "U+{:04X}", u32::from(c));
        }
        // The Devanagari virama and vowel signs are marks, and names need them.
        assert!("हिन्दी".chars().all(is_name_char));
        assert!(!is_name_start('\u{94D}') && is_name_start('ह'));
    }

    #[test]
    fn fold_is_stable_for_every_character() {
        let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let once = fold(c.encode_utf8(&mut [0; 4])).into_owned();
            assert_eq!(fold(&once), once, "U+{:04X}", u32::from(c));
            assert!(!once.chars().any(|d| ignorable.contains(d)), "U+{:04X}", u32::from(c));
        }
    }

    /// Run with `cargo test --release -- --ignored --nocapture cost`.
    #[test]
    #[ignore = "a timing, not a check"]
    fn cost_per_call() {
        use std::hint::black_box;
        use std::time::Instant;

        let names = ["alice", "Alice", "STRASSE", "zoë", "\u{0430}lice", "日本語", "ＢＯＢ", "ΣX"];
        let rounds = 100_000;
        let start = Instant::now();
        for _ in 0..rounds {
            for name in names {
                black_box(fold(black_box(name)));
            }
        }
        let fold_ns = start.elapsed().as_nanos() / (rounds * names.len() as u128);
        let start = Instant::now();
        for _ in 0..rounds {
            for name in names {
                black_box(look(black_box(name)));
            }
        }
        let skeleton_ns = start.elapsed().as_nanos() / (rounds * names.len() as u128);
        for name in names {
            let start = Instant::now();
            for _ in 0..rounds {
                black_box(look(black_box(name)));
            }
            let ns = start.elapsed().as_nanos() / rounds;
            println!("{name}: fold {} skeleton {} ({ns} ns)", fold(name), look(name));
        }
        println!("mean: fold {fold_ns} ns, skeleton (includes fold) {skeleton_ns} ns");
    }
}
