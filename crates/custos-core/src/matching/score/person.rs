//! Chinese personal names (个人客户): family name and given name told apart, given names
//! compared character by character — the same character, the same reading (with or
//! without tone: 荣/绒/蓉, 军/君) or a common look-alike (秀/绣, 钢/刚) — so that a
//! variant of one person's name is told from another member of the same household.

use pinyin::ToPinyin;

/// Two-character family names (复姓). A name starting with one of these and longer
/// than two characters has a two-character family name.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "轩辕", "万俟", "闻人", "澹台",
    "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠", "赫连", "钟离", "东郭", "司空", "第五",
    "拓跋", "完颜", "段干", "左丘", "公羊", "仲孙", "鲜于", "闾丘",
];

/// Characters commonly mistaken for one another in names, in either direction: written
/// alike (形近) or chosen alike for a name (同音近形). Each pair is a real confusion seen
/// in handwritten forms and phone dictation, not an invented one.
const LOOK_ALIKES: &[(char, char)] = &[
    ('秀', '绣'),
    ('莉', '俐'),
    ('宁', '凝'),
    ('钢', '刚'),
    ('玲', '铃'),
    ('琳', '淋'),
    ('婷', '亭'),
    ('娟', '涓'),
    ('燕', '艳'),
    ('晴', '睛'),
    ('侯', '候'),
    ('崇', '祟'),
    ('王', '玉'),
    ('己', '已'),
    ('未', '末'),
    ('士', '土'),
    ('戊', '戌'),
    ('彬', '杉'),
    ('斌', '彬'),
    ('锋', '峰'),
    ('峰', '蜂'),
    ('辉', '晖'),
    ('祯', '桢'),
    ('琪', '祺'),
    ('怡', '诒'),
    ('阳', '扬'),
    ('杨', '扬'),
];

/// How two given names (or two whole names) compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PersonMatch {
    /// The same family name and given names that differ only by characters read alike
    /// with the same tone or written alike.
    GivenSound,
    /// As [`PersonMatch::GivenSound`], but some character reads alike only without tone.
    GivenToneless,
    /// The same given name under another family name (a typo in it, or a homophone).
    FamilyVariant,
    /// The same family name, given names of two or more characters one character apart
    /// (siblings often share a generation character; a typo does the same).
    GivenOneOff,
    /// The same family name and another given name: another person (in one household,
    /// often).
    GivenDiffers,
    /// Family and given names both differ.
    Unrelated,
}

/// How one pair of characters compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CharMatch {
    Different,
    Toneless,
    Sound,
    Same,
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// A key that reads as a Chinese personal name: two to five Han characters.
pub(super) fn is_person_name(key: &str) -> bool {
    let n = key.chars().count();
    (2..=5).contains(&n) && key.chars().all(is_han)
}

/// (family name, given name) of a Chinese personal name key.
pub(super) fn split_name(key: &str) -> (&str, &str) {
    let chars = key.chars().count();
    if chars >= 3 && COMPOUND_SURNAMES.iter().any(|s| key.starts_with(s)) {
        let at = key.char_indices().nth(2).map_or(key.len(), |(i, _)| i);
        return key.split_at(at);
    }
    let at = key.chars().next().map_or(0, char::len_utf8);
    key.split_at(at)
}

fn look_alike(a: char, b: char) -> bool {
    LOOK_ALIKES
        .iter()
        .any(|&(x, y)| (x == a && y == b) || (x == b && y == a))
}

fn char_match(a: char, b: char) -> CharMatch {
    if a == b {
        return CharMatch::Same;
    }
    if look_alike(a, b) {
        return CharMatch::Sound;
    }
    match (a.to_pinyin(), b.to_pinyin()) {
        (Some(p), Some(q)) if p.with_tone_num_end() == q.with_tone_num_end() => CharMatch::Sound,
        (Some(p), Some(q)) if p.plain() == q.plain() => CharMatch::Toneless,
        _ => CharMatch::Different,
    }
}

/// The weakest character match of two equally long texts, and how many characters are
/// not the same; `None` when the lengths differ.
fn compare_chars(a: &str, b: &str) -> Option<(CharMatch, usize)> {
    if a.chars().count() != b.chars().count() {
        return None;
    }
    let mut weakest = CharMatch::Same;
    let mut differing = 0;
    for (x, y) in a.chars().zip(b.chars()) {
        let m = char_match(x, y);
        weakest = weakest.min(m);
        differing += usize::from(m != CharMatch::Same);
    }
    Some((weakest, differing))
}

/// Compare two different Chinese personal name keys (see [`is_person_name`]).
pub(super) fn compare_person(a: &str, b: &str) -> PersonMatch {
    let ((fa, ga), (fb, gb)) = (split_name(a), split_name(b));
    let family = compare_chars(fa, fb).map_or(CharMatch::Different, |(m, _)| m);
    let given = compare_chars(ga, gb);
    let family_same = family >= CharMatch::Sound;
    match given {
        // Equal keys never get here: the family names differ (章伟 / 张伟, 欧阳明 / 欧明).
        Some((CharMatch::Same, _)) => PersonMatch::FamilyVariant,
        Some((CharMatch::Sound, _)) if family_same => PersonMatch::GivenSound,
        Some((CharMatch::Toneless, _)) if family >= CharMatch::Toneless => {
            PersonMatch::GivenToneless
        }
        _ if family < CharMatch::Toneless => PersonMatch::Unrelated,
        Some((_, 1)) if ga.chars().count() >= 2 => PersonMatch::GivenOneOff,
        _ => PersonMatch::GivenDiffers,
    }
}

/// A Chinese personal name's pinyin with tone numbers (`zhang1xiu4rong2`), for messages.
pub(super) fn pinyin_with_tones(key: &str) -> String {
    let mut out = String::with_capacity(key.len() * 2);
    for c in key.chars() {
        match c.to_pinyin() {
            Some(p) => out.push_str(p.with_tone_num_end()),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_and_given_names() {
        assert_eq!(split_name("欧阳宁钢"), ("欧阳", "宁钢"));
        assert_eq!(split_name("诸葛亮"), ("诸葛", "亮"));
        assert_eq!(split_name("司马光"), ("司马", "光"));
        // Two characters: a single family name even if they start a compound one.
        assert_eq!(split_name("欧阳"), ("欧", "阳"));
        assert_eq!(split_name("王慧"), ("王", "慧"));
        assert_eq!(split_name("张秀荣"), ("张", "秀荣"));
    }

    #[test]
    fn variants_of_one_name() {
        // Same reading with tone: 荣/绒/蓉, 军/君; look-alikes: 秀/绣, 莉/俐, 宁/凝, 钢/刚.
        assert_eq!(compare_person("张秀荣", "张绣荣"), PersonMatch::GivenSound);
        assert_eq!(compare_person("张秀荣", "张秀绒"), PersonMatch::GivenSound);
        assert_eq!(compare_person("张秀荣", "张秀蓉"), PersonMatch::GivenSound);
        assert_eq!(compare_person("黎莉洁", "黎俐洁"), PersonMatch::GivenSound);
        assert_eq!(compare_person("林德军", "林德君"), PersonMatch::GivenSound);
        assert_eq!(compare_person("欧宁钢", "欧凝刚"), PersonMatch::GivenSound);
        assert_eq!(
            compare_person("欧阳宁钢", "欧阳凝刚"),
            PersonMatch::GivenSound
        );
        // 秀 xiù / 修 xiū: the same syllable, another tone.
        assert_eq!(
            compare_person("张秀英", "张修英"),
            PersonMatch::GivenToneless
        );
        assert_eq!(compare_person("章伟", "张伟"), PersonMatch::FamilyVariant);
    }

    #[test]
    fn other_people() {
        assert_eq!(compare_person("王嘉天", "王慧"), PersonMatch::GivenDiffers);
        assert_eq!(
            compare_person("毛振强", "毛彬华"),
            PersonMatch::GivenDiffers
        );
        assert_eq!(compare_person("王嘉天", "王嘉元"), PersonMatch::GivenOneOff);
        assert_eq!(compare_person("王嘉天", "李慧"), PersonMatch::Unrelated);
        // A dropped character of a compound family name keeps the given name.
        assert_eq!(compare_person("欧阳明", "欧明"), PersonMatch::FamilyVariant);
        assert_eq!(
            compare_person("欧阳明", "欧阳敏"),
            PersonMatch::GivenDiffers
        );
        assert_eq!(compare_person("王伟", "王玮"), PersonMatch::GivenSound);
    }

    #[test]
    fn only_han_names_are_person_names() {
        assert!(is_person_name("王慧"));
        assert!(is_person_name("欧阳宁钢"));
        assert!(!is_person_name("王"));
        assert!(!is_person_name("张三abc"));
        assert!(!is_person_name("北京华为科技发展"));
    }

    #[test]
    fn tones_for_messages() {
        assert_eq!(pinyin_with_tones("林德军"), "lin2de2jun1");
    }
}
