//! What a new password must be, after NIST SP 800-63B (5.1.1.2): long enough, bounded,
//! not a common or easily guessed password, and not built from the account's own names.
//! No composition rules (digits, symbols…): they make passwords harder to remember, not
//! to guess. Applied wherever a password is set: user creation and changes over the API
//! and the CLI, the first administrator and the demo users.

use custos_core::Violation;

/// Fewest characters a password may have (`AppConfig::min_password_len` may raise it).
pub const MIN_CHARS: usize = 12;
/// Most characters a password may have: bounds the work of the guessability check and of
/// hashing, and is far above what a passphrase needs.
pub const MAX_CHARS: usize = 128;
/// zxcvbn's score (0–4) a password must reach: 3 means more than 10^8 guesses, so a
/// password from the common lists, a dictionary word with digits, a keyboard walk or a
/// date is refused.
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Check a new password; `names` are the account's username and display name, which the
/// password must not contain (case-insensitive).
pub fn check_password(password: &str, min_chars: usize, names: &[&str]) -> Result<(), Violation> {
    let min = min_chars.max(MIN_CHARS);
    let n = password.chars().count();
    if n < min {
        return Err(Violation::new(
            "password.too_short",
            format!("密码至少需要 {min} 个字符，当前只有 {n} 个"),
            format!("the password needs at least {min} characters, it has {n}"),
        ));
    }
    if n > MAX_CHARS {
        return Err(Violation::new(
            "password.too_long",
            format!("密码不能超过 {MAX_CHARS} 个字符（当前 {n} 个）"),
            format!("the password must not exceed {MAX_CHARS} characters (has {n})"),
        ));
    }
    let lowered = password.to_lowercase();
    if let Some(name) = name_parts(names).find(|part| lowered.contains(part.as_str())) {
        return Err(Violation::new(
            "password.contains_name",
            format!("密码不能包含用户名或姓名（“{name}”）"),
            format!("the password must not contain the username or the user's name ('{name}')"),
        ));
    }
    let names: Vec<&str> = names.iter().copied().filter(|s| !s.is_empty()).collect();
    if zxcvbn::zxcvbn(password, &names).score() < MIN_SCORE {
        return Err(Violation::new(
            "password.guessable",
            "密码太常见或太容易猜到（常见密码、词典单词加数字、键盘序列、日期、重复字符等），\
             请换一个更长、更不规则的密码，例如由几个不相关的词组成的短语",
            "the password is too common or too easy to guess (a common password, a word \
             with digits, a keyboard pattern, a date, repeated characters…); choose a \
             longer, less predictable one, e.g. a phrase of several unrelated words",
        ));
    }
    Ok(())
}

/// The lower-cased names and their words that a password must not contain. A word counts
/// from three characters, or two when it is not ASCII (a Chinese given name such as 张三),
/// so that a short fragment such as "li" does not refuse half of all passwords.
fn name_parts<'a>(names: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    names.iter().flat_map(|name| {
        let whole = name.trim().to_lowercase();
        let words: Vec<String> = whole
            .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation()) || c == '·')
            .map(str::to_string)
            .collect();
        std::iter::once(whole)
            .chain(words)
            .filter(|w| {
                let n = w.chars().count();
                n >= 3 || (n == 2 && !w.is_ascii())
            })
            .collect::<Vec<_>>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(p: &str, names: &[&str]) -> Option<String> {
        check_password(p, MIN_CHARS, names).err().map(|v| v.code)
    }

    #[test]
    fn length_bounds() {
        assert_eq!(
            code("Tq7!vR2#mZ9", &[]).as_deref(),
            Some("password.too_short")
        );
        assert_eq!(
            code(&"x7Q!".repeat(33), &[]).as_deref(),
            Some("password.too_long")
        );
        // A configured minimum below the policy's does not lower it.
        assert!(check_password("Tq7!vR2#mZ9", 8, &[]).is_err());
    }

    #[test]
    fn common_and_patterned_passwords_are_refused() {
        for p in [
            "password123",
            "password1234",
            "qwertyuiop123",
            "123456789012",
            "aaaaaaaaaaaaaaa",
            "iloveyou2024!",
        ] {
            let c = code(p, &[]);
            assert!(
                matches!(
                    c.as_deref(),
                    Some("password.guessable") | Some("password.too_short")
                ),
                "{p}: {c:?}"
            );
        }
    }

    #[test]
    fn names_are_refused_whatever_the_case() {
        assert_eq!(
            code("Quokka-ADMIN-Saffron-19", &["admin", "系统管理员"]).as_deref(),
            Some("password.contains_name")
        );
        assert_eq!(
            code("Quokka-Zhang-Saffron-19", &["lucy", "Zhang San"]).as_deref(),
            Some("password.contains_name")
        );
        assert_eq!(
            code("赵录入-Quokka-Saffron-19", &["clerk_north", "赵录入"]).as_deref(),
            Some("password.contains_name")
        );
    }

    #[test]
    fn strong_passwords_pass() {
        for p in [
            "Quokka-Saffron-Lattice-19",
            "custos-demo-2026",
            "correct horse battery staple",
            "Tq7!vR2#mZ9@",
        ] {
            assert_eq!(code(p, &["admin", "lucy"]), None, "{p}");
        }
    }
}
