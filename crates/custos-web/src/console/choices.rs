//! Options of the console's select lists.

/// An option of a select list.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub(crate) fn choice(
    value: impl Into<String>,
    label: impl Into<String>,
    current: Option<&str>,
) -> Choice {
    let value = value.into();
    Choice {
        selected: current == Some(value.as_str()),
        label: label.into(),
        value,
    }
}

/// A group of options (industry sections with their divisions).
pub(crate) struct ChoiceGroup {
    pub label: String,
    pub options: Vec<Choice>,
}
