//! Check characters (校验位): ISO 7064 MOD 11-2, ISO 7064 MOD 37-2 and Luhn.
//!
//! MOD 11-2 is the algorithm of the resident ID number (GB 11643) and of ORCID/ISNI;
//! MOD 37-2 protects alphanumeric strings; Luhn is the bank-card digit. The two ISO 7064
//! pure systems detect every single substitution and every adjacent transposition,
//! Luhn misses some transpositions (`09` ↔ `90`) and is offered for compatibility.

use serde::{Deserialize, Serialize};

use crate::violation::Violation;

/// A check-character algorithm. The serde names are the public names used in code rules.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckAlgorithm {
    /// ISO 7064 MOD 11-2: digits in, `0-9` or `X` out.
    #[serde(rename = "mod11-2")]
    Mod11_2,
    /// ISO 7064 MOD 37-2: `0-9A-Z` in, `0-9A-Z` or `*` out.
    #[serde(rename = "mod37-2")]
    Mod37_2,
    /// Luhn (mod 10, doubling every second digit from the right): digits in, a digit out.
    #[serde(rename = "luhn")]
    Luhn,
}

/// Characters of MOD 37-2 by value (MOD 11-2 uses the first ten, plus `X` for 10);
/// index 36 (`*`) only ever appears as a check character.
const MOD37_CHARS: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";

impl CheckAlgorithm {
    /// The name used in rules and messages (`mod11-2`, `mod37-2`, `luhn`).
    pub fn name(self) -> &'static str {
        match self {
            CheckAlgorithm::Mod11_2 => "mod11-2",
            CheckAlgorithm::Mod37_2 => "mod37-2",
            CheckAlgorithm::Luhn => "luhn",
        }
    }

    /// Whether `c` may appear in the payload the check character protects.
    /// Upper case only: callers normalise case before checking.
    pub fn input_alphabet_ok(self, c: char) -> bool {
        match self {
            CheckAlgorithm::Mod11_2 | CheckAlgorithm::Luhn => c.is_ascii_digit(),
            CheckAlgorithm::Mod37_2 => c.is_ascii_digit() || c.is_ascii_uppercase(),
        }
    }

    /// Whether `c` is a character this algorithm can produce as the check character.
    pub fn check_alphabet_ok(self, c: char) -> bool {
        match self {
            CheckAlgorithm::Mod11_2 => c.is_ascii_digit() || c == 'X',
            CheckAlgorithm::Mod37_2 => c.is_ascii_digit() || c.is_ascii_uppercase() || c == '*',
            CheckAlgorithm::Luhn => c.is_ascii_digit(),
        }
    }

    /// A human description of the input alphabet, for messages.
    fn alphabet_text(self) -> &'static str {
        match self {
            CheckAlgorithm::Mod11_2 | CheckAlgorithm::Luhn => "0-9",
            CheckAlgorithm::Mod37_2 => "0-9A-Z",
        }
    }

    fn input_char_violation(self, index: usize, c: char) -> Violation {
        Violation::new(
            "check.input_char",
            format!(
                "第{}位字符“{}”不能参与 {} 校验(只允许 {})",
                index + 1,
                c,
                self.name(),
                self.alphabet_text()
            ),
            format!(
                "character '{}' at position {} cannot be protected by {} (only {} allowed)",
                c,
                index + 1,
                self.name(),
                self.alphabet_text()
            ),
        )
    }

    /// The check character for `payload`. Errors name the first character outside the
    /// algorithm's input alphabet.
    pub fn compute(self, payload: &str) -> Result<char, Violation> {
        let mut values = Vec::with_capacity(payload.len());
        for (i, c) in payload.chars().enumerate() {
            // Both input alphabets are a prefix of base 36, so the value is the base-36 digit.
            match c.to_digit(36) {
                Some(v) if self.input_alphabet_ok(c) => values.push(v),
                _ => return Err(self.input_char_violation(i, c)),
            }
        }
        Ok(match self {
            CheckAlgorithm::Mod11_2 => {
                let v = pure_system_check(&values, 11);
                if v == 10 {
                    'X'
                } else {
                    char::from(MOD37_CHARS[v as usize])
                }
            }
            CheckAlgorithm::Mod37_2 => {
                char::from(MOD37_CHARS[pure_system_check(&values, 37) as usize])
            }
            CheckAlgorithm::Luhn => char::from(b'0' + luhn_check(&values)),
        })
    }

    /// Whether the last character of `full` is the correct check character over the rest.
    /// Strings shorter than two characters verify nothing and return `false`; case matters
    /// (`x` is not `X`).
    pub fn verify(self, full: &str) -> bool {
        let mut chars = full.chars();
        let Some(last) = chars.next_back() else {
            return false;
        };
        let payload = chars.as_str();
        if payload.is_empty() {
            return false;
        }
        matches!(self.compute(payload), Ok(c) if c == last)
    }
}

/// ISO 7064 pure system with radix 2, iterative form: `p = (p + a) * 2 mod m` over the
/// payload, then the check value `c` makes `(p + c) mod m == 1`.
fn pure_system_check(values: &[u32], modulus: u32) -> u32 {
    let p = values.iter().fold(0u32, |p, &a| ((p + a) * 2) % modulus);
    (modulus + 1 - p) % modulus
}

/// Luhn: from the rightmost payload digit leftwards, double every other digit starting
/// with the rightmost (it sits next to the check digit), subtract 9 from doubles above 9.
fn luhn_check(digits: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::CheckAlgorithm::{Luhn, Mod11_2, Mod37_2};
    use super::*;
    use proptest::prelude::*;

    /// Independent MOD 11-2/37-2 by the standard's weighted-sum definition:
    /// sum of a_i * 2^(n-i) over payload and check (weight 1) ≡ 1 (mod m).
    fn weighted_sum_check(payload: &str, modulus: u64, chars: &str) -> char {
        let n = payload.len() as u32;
        let s: u64 = payload
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let v = chars.find(c).unwrap() as u64;
                let mut w = 1u64;
                for _ in 0..(n - i as u32) {
                    w = w * 2 % modulus;
                }
                v * w % modulus
            })
            .sum::<u64>()
            % modulus;
        let check = (1 + modulus - s) % modulus;
        chars.chars().nth(check as usize).unwrap()
    }

    const C11: &str = "0123456789X";
    const C37: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";

    #[test]
    fn resident_id_gb11643_example() {
        assert_eq!(Mod11_2.compute("11010519491231002").unwrap(), 'X');
        assert!(Mod11_2.verify("11010519491231002X"));
        assert!(!Mod11_2.verify("11010519491231002x"));
        assert!(!Mod11_2.verify("110105194912310021"));
    }

    #[test]
    fn mod11_2_orcid_and_isni() {
        // ORCID 0000-0002-1825-0097 and ISNI 0000 0001 2281 955X both use MOD 11-2.
        assert_eq!(Mod11_2.compute("000000021825009").unwrap(), '7');
        assert_eq!(Mod11_2.compute("000000012281955").unwrap(), 'X');
    }

    #[test]
    fn mod37_2_vectors() {
        // The example of ISO 7064 itself, and a second published vector.
        assert_eq!(Mod37_2.compute("G123489654321").unwrap(), 'Y');
        assert_eq!(Mod37_2.compute("A999915000001").unwrap(), 'M');
        for payload in [
            "C0001",
            "R202310010001",
            "W202310010001",
            "P0001",
            "ZZZZ",
            "0",
        ] {
            assert_eq!(
                Mod37_2.compute(payload).unwrap(),
                weighted_sum_check(payload, 37, C37),
                "{payload}"
            );
        }
        // Seed codes, computed by the weighted-sum definition (also in docs/code-rules.md).
        assert_eq!(Mod37_2.compute("C0001").unwrap(), 'M');
        assert_eq!(Mod37_2.compute("R202310010001").unwrap(), '*');
        assert_eq!(Mod37_2.compute("W202310010001").unwrap(), 'Z');
    }

    #[test]
    fn luhn_vector() {
        assert_eq!(Luhn.compute("7992739871").unwrap(), '3');
        assert!(Luhn.verify("79927398713"));
        assert!(!Luhn.verify("79927398710"));
        // Luhn's known blind spot: 09 <-> 90 transposition.
        assert_eq!(Luhn.compute("09").unwrap(), Luhn.compute("90").unwrap());
    }

    #[test]
    fn rejects_chars_outside_alphabet() {
        let err = Mod11_2.compute("12A4").unwrap_err();
        assert_eq!(err.code, "check.input_char");
        assert!(err.en.contains("'A'"), "{}", err.en);
        assert!(err.zh.contains("“A”"), "{}", err.zh);
        assert!(Luhn.compute("1-2").is_err());
        assert!(Mod37_2.compute("c0001").is_err());
        assert!(Mod37_2.compute("C-1").is_err());
        assert!(Mod37_2.compute("C*").is_err());
        assert!(!Mod37_2.verify("c0001R"));
    }

    #[test]
    fn verify_short_strings() {
        assert!(!Mod11_2.verify(""));
        assert!(!Mod11_2.verify("1"));
        assert!(!Mod37_2.verify("中"));
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&Mod11_2).unwrap(), "\"mod11-2\"");
        assert_eq!(serde_json::to_string(&Mod37_2).unwrap(), "\"mod37-2\"");
        assert_eq!(serde_json::to_string(&Luhn).unwrap(), "\"luhn\"");
        assert_eq!(
            serde_json::from_str::<CheckAlgorithm>("\"mod37-2\"").unwrap(),
            Mod37_2
        );
        assert!(serde_json::from_str::<CheckAlgorithm>("\"mod97-10\"").is_err());
    }

    fn digits() -> impl Strategy<Value = String> {
        "[0-9]{1,30}"
    }
    fn alnum() -> impl Strategy<Value = String> {
        "[0-9A-Z]{1,30}"
    }

    /// Replace the char at `pos` with `with`.
    fn substitute(s: &str, pos: usize, with: char) -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| if i == pos { with } else { c })
            .collect()
    }

    /// A replacement for `full[pos]`, drawn from `alphabet` by `pick`, different from it.
    fn other_char(full: &str, pos: usize, alphabet: &str, pick: usize) -> char {
        let orig = full.chars().nth(pos).unwrap();
        let others: Vec<char> = alphabet.chars().filter(|&c| c != orig).collect();
        others[pick % others.len()]
    }

    proptest! {
        #[test]
        fn iterative_matches_weighted_sum(p11 in digits(), p37 in alnum()) {
            prop_assert_eq!(Mod11_2.compute(&p11).unwrap(), weighted_sum_check(&p11, 11, C11));
            prop_assert_eq!(Mod37_2.compute(&p37).unwrap(), weighted_sum_check(&p37, 37, C37));
        }

        #[test]
        fn computed_check_verifies(p11 in digits(), p37 in alnum(), pl in digits()) {
            for (alg, p) in [(Mod11_2, &p11), (Mod37_2, &p37), (Luhn, &pl)] {
                let full = format!("{p}{}", alg.compute(p).unwrap());
                prop_assert!(alg.verify(&full));
            }
        }

        #[test]
        fn single_substitution_detected(
            p11 in digits(), p37 in alnum(), pos in any::<prop::sample::Index>(), pick in 0usize..64
        ) {
            for (alg, p, alphabet) in [(Mod11_2, &p11, C11), (Mod37_2, &p37, C37)] {
                let full = format!("{p}{}", alg.compute(p).unwrap());
                let i = pos.index(full.chars().count());
                let changed = substitute(&full, i, other_char(&full, i, alphabet, pick));
                prop_assert!(!alg.verify(&changed), "{} {} -> {}", alg.name(), full, changed);
            }
        }

        #[test]
        fn adjacent_transposition_detected(
            p11 in digits(), p37 in alnum(), pos in any::<prop::sample::Index>()
        ) {
            for (alg, p) in [(Mod11_2, &p11), (Mod37_2, &p37)] {
                let full: Vec<char> = format!("{p}{}", alg.compute(p).unwrap()).chars().collect();
                let i = pos.index(full.len() - 1);
                if full[i] != full[i + 1] {
                    let mut swapped = full.clone();
                    swapped.swap(i, i + 1);
                    let swapped: String = swapped.into_iter().collect();
                    prop_assert!(!alg.verify(&swapped), "{} {:?} -> {}", alg.name(), full, swapped);
                }
            }
        }
    }
}
