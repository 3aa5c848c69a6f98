//! Properties over generated rules and inputs.

#![allow(clippy::unwrap_used)]

use super::*;

#[derive(Debug, Clone, Copy)]
enum Charset {
    Digits,
    Alnum,
    AlnumDash,
}

impl Charset {
    fn regex(self, len: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        let class = match self {
            Charset::Digits => "[0-9]",
            Charset::Alnum => "[0-9A-Z]",
            Charset::AlnumDash => "[0-9A-Z-]",
        };
        proptest::string::string_regex(&format!("{class}{{{len}}}")).unwrap()
    }
}

/// A non-variable segment; attribute fields are filled in later.
fn fixed_segment(cs: Charset, equal_lengths: bool) -> BoxedStrategy<Segment> {
    let texts = if equal_lengths {
        (1usize..=3)
            .prop_flat_map(move |n| prop::collection::btree_set(cs.regex(&n.to_string()), 1..=4))
            .boxed()
    } else {
        prop::collection::btree_set(cs.regex("1,3"), 1..=4).boxed()
    };
    prop_oneof![
        cs.regex("1,4")
            .prop_map(|value| Segment::Constant { value }),
        texts.prop_map(|set| Segment::Attribute {
            field: String::new(),
            map: set
                .into_iter()
                .enumerate()
                .map(|(i, t)| (format!("v{i}"), t))
                .collect(),
        }),
        prop_oneof![
            Just(RegionLevel::Province),
            Just(RegionLevel::City),
            Just(RegionLevel::County)
        ]
        .prop_map(|level| Segment::Region { level }),
        prop_oneof![
            Just(DateFormat::Yyyy),
            Just(DateFormat::Yy),
            Just(DateFormat::YyyyMm),
            Just(DateFormat::YyyyMmDd)
        ]
        .prop_map(|format| Segment::Date { format }),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum VariableSpec {
    Sequence {
        width: u8,
        start_pick: u8,
        start_raw: u64,
        reset: u8,
    },
    Random {
        width: u8,
    },
}

/// Valid rules: charset-consistent texts, one variable segment, variable-length attribute
/// texts only before it, a reset only with a fine enough date, an optional compatible check.
fn rule_strategy(force_check: bool) -> impl Strategy<Value = Vec<Segment>> {
    let charset = prop_oneof![
        Just(Charset::Digits),
        Just(Charset::Alnum),
        Just(Charset::AlnumDash)
    ];
    charset
        .prop_flat_map(move |cs| {
            (
                prop::collection::vec(fixed_segment(cs, false), 0..=3),
                prop_oneof![
                    (1u8..=12, 0u8..3, any::<u64>(), 0u8..4).prop_map(
                        |(width, start_pick, start_raw, reset)| {
                            VariableSpec::Sequence {
                                width,
                                start_pick,
                                start_raw,
                                reset,
                            }
                        }
                    ),
                    (4u8..=16).prop_map(|width| VariableSpec::Random { width }),
                ],
                prop::collection::vec(fixed_segment(cs, true), 0..=2),
                any::<bool>(),
                0usize..3,
            )
        })
        .prop_map(move |(prefix, var, suffix, want_check, alg_pick)| {
            build_rule(prefix, var, suffix, force_check || want_check, alg_pick)
        })
        .prop_filter("code length", |rule| {
            let max: usize = rule
                .iter()
                .map(|s| match s {
                    Segment::Constant { value } => value.len(),
                    Segment::Attribute { map, .. } => {
                        map.values().map(String::len).max().unwrap_or(0)
                    }
                    Segment::Region { level } => level.width(),
                    Segment::Date { format } => format.width(),
                    Segment::Sequence { width, .. } | Segment::Random { width } => {
                        usize::from(*width)
                    }
                    Segment::Check { .. } => 1,
                })
                .sum();
            max <= 40
        })
        .prop_filter("check wanted", move |rule| {
            !force_check
                || matches!(
                    rule.last(),
                    Some(Segment::Check {
                        algorithm: CheckAlgorithm::Mod11_2 | CheckAlgorithm::Mod37_2
                    })
                )
        })
}

fn build_rule(
    prefix: Vec<Segment>,
    var: VariableSpec,
    suffix: Vec<Segment>,
    want_check: bool,
    alg_pick: usize,
) -> Vec<Segment> {
    let mut rule = prefix;
    let dates: Vec<DateFormat> = rule
        .iter()
        .chain(suffix.iter())
        .filter_map(|s| match s {
            Segment::Date { format } => Some(*format),
            _ => None,
        })
        .collect();
    rule.push(match var {
        VariableSpec::Sequence {
            width,
            start_pick,
            start_raw,
            reset,
        } => {
            let start = match start_pick {
                0 => 0,
                1 => 1,
                _ => start_raw % 10u64.pow(u32::from(width)),
            };
            let wanted =
                [Reset::Never, Reset::Yearly, Reset::Monthly, Reset::Daily][usize::from(reset)];
            let ok = match wanted {
                Reset::Never => true,
                Reset::Yearly => !dates.is_empty(),
                Reset::Monthly => dates
                    .iter()
                    .any(|f| matches!(f, DateFormat::YyyyMm | DateFormat::YyyyMmDd)),
                Reset::Daily => dates.contains(&DateFormat::YyyyMmDd),
            };
            Segment::Sequence {
                width,
                start,
                reset: if ok { wanted } else { Reset::Never },
            }
        }
        VariableSpec::Random { width } => Segment::Random { width },
    });
    rule.extend(suffix);
    for (i, seg) in rule.iter_mut().enumerate() {
        if let Segment::Attribute { field, .. } = seg {
            *field = format!("f{i}");
        }
    }
    if want_check {
        let texts_ok = |ok: &dyn Fn(char) -> bool| {
            rule.iter().all(|s| match s {
                Segment::Constant { value } => value.chars().all(ok),
                Segment::Attribute { map, .. } => map.values().all(|t| t.chars().all(ok)),
                // Random text can contain any Crockford letter.
                Segment::Random { .. } => ok('Z'),
                _ => true,
            })
        };
        let algorithm = if texts_ok(&|c| c.is_ascii_digit()) {
            Some(
                [
                    CheckAlgorithm::Mod11_2,
                    CheckAlgorithm::Mod37_2,
                    CheckAlgorithm::Luhn,
                ][alg_pick],
            )
        } else if texts_ok(&|c| c != '-') {
            Some(CheckAlgorithm::Mod37_2)
        } else {
            None
        };
        if let Some(algorithm) = algorithm {
            rule.push(Segment::Check { algorithm });
        }
    }
    rule
}

#[derive(Debug, Clone)]
struct InputSpec {
    picks: Vec<usize>,
    region: String,
    year: i32,
    ordinal: u32,
    seq_raw: u64,
    random_bytes: Vec<u8>,
}

fn input_strategy() -> impl Strategy<Value = InputSpec> {
    (
        prop::collection::vec(0usize..4, 8),
        "[0-9]{6}",
        1900i32..2150,
        1u32..=365,
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 10),
    )
        .prop_map(
            |(picks, region, year, ordinal, seq_raw, random_bytes)| InputSpec {
                picks,
                region,
                year,
                ordinal,
                seq_raw,
                random_bytes,
            },
        )
}

struct Issued {
    code: String,
    attributes: BTreeMap<String, String>,
    date: NaiveDate,
    plan: CodePlan,
    seq: Option<u64>,
    random: Option<String>,
}

fn issue(rule: &[Segment], input: &InputSpec) -> Issued {
    let mut attributes = BTreeMap::new();
    for (i, seg) in rule.iter().enumerate() {
        if let Segment::Attribute { field, map } = seg {
            let keys: Vec<&String> = map.keys().collect();
            let key = keys[input.picks[i % input.picks.len()] % keys.len()];
            attributes.insert(field.clone(), key.clone());
        }
    }
    let date = NaiveDate::from_yo_opt(input.year, input.ordinal).unwrap();
    let plan = plan(
        rule,
        &CodeInput {
            attributes: &attributes,
            region_code: Some(&input.region),
            issue_date: date,
        },
    )
    .unwrap();
    let (seq, random) = match (plan.sequence_start(), plan.capacity(), plan.random_width()) {
        (Some(start), Some(cap), _) => (Some(start + input.seq_raw % cap), None),
        (_, _, Some(w)) => (None, Some(crockford_from_bytes(w, &input.random_bytes))),
        _ => unreachable!(),
    };
    let code = plan.render(seq, random.as_deref()).unwrap();
    Issued {
        code,
        attributes,
        date,
        plan,
        seq,
        random,
    }
}

/// No text of any attribute map is a prefix of another text of the same map.
fn prefix_free(rule: &[Segment]) -> bool {
    rule.iter().all(|s| match s {
        Segment::Attribute { map, .. } => map
            .values()
            .all(|a| map.values().all(|b| a == b || !b.starts_with(a.as_str()))),
        _ => true,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn render_then_decode_round_trips(rule in rule_strategy(false), input in input_strategy()) {
        prop_assert_eq!(validate_segments(&rule), Ok(()));
        let issued = issue(&rule, &input);
        let decoded = decode(&rule, &issued.code, issued.date).unwrap();

        let has_check = matches!(rule.last(), Some(Segment::Check { .. }));
        prop_assert_eq!(decoded.check_valid, has_check.then_some(true));
        prop_assert_eq!(decoded.parts.len(), rule.len());
        let joined: String = decoded.parts.iter().map(|p| p.text.as_str()).collect();
        prop_assert_eq!(&joined, &issued.code);
        prop_assert_eq!(decoded.sequence, issued.seq);
        prop_assert_eq!(&decoded.random, &issued.random);
        prop_assert_eq!(decoded.sequence_scope.as_deref(), issued.plan.sequence_scope());

        // With prefix-free maps the parse is unique, so every meaning comes back exactly.
        if prefix_free(&rule) {
            for (seg, part) in rule.iter().zip(&decoded.parts) {
                prop_assert_eq!(part.kind, seg.kind());
                let expected = match seg {
                    Segment::Attribute { field, .. } => Some(issued.attributes[field].clone()),
                    Segment::Region { level } => {
                        Some(format!("{:0<6}", &input.region[..level.width()]))
                    }
                    Segment::Date { format } => Some(match format {
                        DateFormat::Yyyy | DateFormat::Yy => issued.date.format("%Y").to_string(),
                        DateFormat::YyyyMm => issued.date.format("%Y-%m").to_string(),
                        DateFormat::YyyyMmDd => issued.date.format("%Y-%m-%d").to_string(),
                    }),
                    Segment::Sequence { .. } => issued.seq.map(|n| n.to_string()),
                    _ => None,
                };
                prop_assert_eq!(&part.meaning, &expected, "{:?}", seg);
            }
        }
    }

    #[test]
    fn single_change_never_passes_the_check(
        rule in rule_strategy(true),
        input in input_strategy(),
        pos in any::<prop::sample::Index>(),
        pick in 0usize..38,
    ) {
        let issued = issue(&rule, &input);
        let chars: Vec<char> = issued.code.chars().collect();
        let i = pos.index(chars.len());
        let alphabet: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*-"
            .chars()
            .filter(|&c| c != chars[i])
            .collect();
        let mut changed = chars.clone();
        changed[i] = alphabet[pick % alphabet.len()];
        let changed: String = changed.into_iter().collect();
        if let Ok(d) = decode(&rule, &changed, issued.date) {
            prop_assert_ne!(d.check_valid, Some(true), "{} -> {}", issued.code, changed);
        }
    }

    #[test]
    fn crockford_text_is_always_renderable(width in 4u8..=16, bytes in prop::collection::vec(any::<u8>(), 10)) {
        let text = crockford_from_bytes(width, &bytes);
        prop_assert_eq!(text.len(), usize::from(width));
        prop_assert!(text.chars().all(|c| CROCKFORD_ALPHABET.contains(c)));
    }
}
