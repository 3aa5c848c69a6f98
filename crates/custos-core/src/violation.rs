//! Rule violations with bilingual messages. Validators return a [`Violation`];
//! callers attach the field it concerns to get a [`FieldError`].

use serde::Serialize;

/// A broken rule: a stable machine code plus a message in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Stable machine-readable code, e.g. `uscc.check_char`.
    pub code: String,
    /// Simplified Chinese message (default language).
    pub zh: String,
    /// English message.
    pub en: String,
}

impl Violation {
    pub fn new(code: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// Attach the field this violation concerns.
    pub fn on(self, field: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            violation: self,
        }
    }

    /// The message in the requested language (`en` or anything else = Chinese).
    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.zh, self.code)
    }
}

impl std::error::Error for Violation {}

/// A violation on a named field (`name`, `contacts[0].mobile`, `segments[2].width`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    #[serde(flatten)]
    pub violation: Violation,
}

/// Language of user-facing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Pick a language from an `Accept-Language` header value: English when the first
    /// listed language is English, Chinese otherwise.
    pub fn from_accept_language(header: &str) -> Lang {
        let first = header
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if first.starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }
}
