//! What decoding a code yields, part by part.

use serde::Serialize;

/// One segment of a decoded code.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct DecodedPart {
    /// The segment kind (`constant`, `attribute`, `region`, `date`, `sequence`, `random`, `check`).
    pub kind: &'static str,
    /// The characters of the code this segment covers.
    pub text: String,
    /// What they stand for: attribute → the mapped-from value (`enterprise`); region → the
    /// 6-digit region code, zero-padded for province/city levels (`110000`); date → ISO date
    /// (`2023-10-01`, `2023-10`, `2023`); sequence → the number. `None` for the others.
    pub meaning: Option<String>,
}

/// A code taken apart against a rule; see [`decode`].
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// One part per segment, in order.
    pub parts: Vec<DecodedPart>,
    /// `Some(true/false)` when the rule ends with a check: whether the check character is right.
    pub check_valid: Option<bool>,
    /// The sequence number, for sequence rules.
    pub sequence: Option<u64>,
    /// The counter key (流水依据) the code belongs to, as [`CodePlan::sequence_scope`].
    pub sequence_scope: Option<String>,
    /// The random text, for random rules.
    pub random: Option<String>,
}
