//! Every identifier parser on arbitrary text: no panic, and a value that parses is in its
//! canonical form, so parsing that form again gives the same value.
#![no_main]

use chrono::NaiveDate;
use custos_core::ident::{Email, IdNumber, Mobile, Phone, PostalCode, Uscc, Website};
use libfuzzer_sys::fuzz_target;

macro_rules! canonical {
    ($ty:ty, $text:expr) => {
        if let Ok(v) = <$ty>::parse($text) {
            let again = <$ty>::parse(v.as_str()).expect("canonical form parses");
            assert_eq!(again.as_str(), v.as_str(), "canonical form is stable");
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    canonical!(Uscc, text);
    canonical!(Mobile, text);
    canonical!(Email, text);
    canonical!(PostalCode, text);
    // Phones and websites are read leniently (extensions, schemes); only no panic here.
    let _ = Phone::parse(text).map(|p| (p.kind(), p.area_code().map(str::len)));
    let _ = Website::parse(text);
    let today = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
    if let Ok(id) = IdNumber::parse(text, today) {
        let again = IdNumber::parse(id.as_str(), today).expect("canonical form parses");
        assert_eq!(again.as_str(), id.as_str());
        let _ = (id.birth_date(), id.gender(), id.age_on(today), id.region_code());
    }
    if text.len() >= 17 {
        if let Some(first17) = text.get(..17) {
            if let Ok(u) = Uscc::with_check(first17) {
                assert!(Uscc::parse(u.as_str()).is_ok(), "a computed check char validates");
            }
            if let Ok(id) = IdNumber::with_check(first17, today) {
                assert!(IdNumber::parse(id.as_str(), today).is_ok());
            }
        }
    }
});
