//! The name normaliser on arbitrary text: no panic, half-width folding is idempotent, and
//! the matching key stays proportional to the name.
#![no_main]

use custos_core::normalize::{
    name_key, normalize_text, strip_legal_form, to_half_width, to_simplified,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let half = to_half_width(text);
    assert_eq!(to_half_width(&half), half, "half-width folding is idempotent");
    let _ = normalize_text(text);
    let _ = to_simplified(text);
    let (rest, _) = strip_legal_form(text);
    assert!(text.starts_with(rest) || text.trim_end().starts_with(rest));
    let key = name_key(text);
    assert!(key.key.len() <= 4 * text.len() + 16, "the key stays proportional");
});
