//! Full-width to half-width folding: the lowest text step, shared by normalisation and
//! the region, identifier and industry parsers.

/// Full-width ASCII (U+FF01–U+FF5E) to half-width and the ideographic space U+3000 to a space;
/// everything else unchanged.
pub fn to_half_width(s: &str) -> String {
    // Never longer than the input: reserve once instead of growing from a quarter.
    let mut out = String::with_capacity(s.len());
    out.extend(s.chars().map(half_width_char));
    out
}

pub(crate) fn half_width_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}
