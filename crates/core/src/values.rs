//! Validated values: constructors check once, the rest of the code trusts the type.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most characters any free-text field accepts.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Trims `s` and checks it is non-empty and at most `max` characters.
pub fn required_text(field: &str, s: &str, max: usize) -> Result<String, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "不能为空"));
    }
    bounded(field, t, max)
}

/// Trims `s`; empty becomes `None`; longer than `max` characters is an error.
pub fn optional_text(
    field: &str,
    s: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => bounded(field, t, max).map(Some),
    }
}

fn bounded(field: &str, t: &str, max: usize) -> Result<String, FieldError> {
    let n = t.chars().count();
    if n > max {
        return Err(FieldError::new(
            field,
            format!("长度为 {n} 字，超过上限 {max} 字"),
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(FieldError::new(field, "含有不可见的控制字符"));
    }
    Ok(t.to_string())
}

/// A citizen's phone number: a mainland mobile (11 digits from 1), a landline with area code,
/// or a local number; stored as digits only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let mut digits: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        if let Some(rest) = digits.strip_prefix("+86") {
            digits = rest.to_string();
        }
        let ok = digits.chars().all(|c| c.is_ascii_digit())
            && match digits.as_bytes() {
                [b'1', b'3'..=b'9', ..] => digits.len() == 11,
                [b'0', ..] => (10..=12).contains(&digits.len()),
                _ => (7..=8).contains(&digits.len()),
            };
        if ok {
            Ok(Phone(digits))
        } else {
            Err(FieldError::new(
                field,
                format!("“{s}”不是有效的电话号码（手机 11 位，座机需带区号）"),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `138****5678`: enough to recognise, not enough to call.
    pub fn masked(&self) -> String {
        let s = &self.0;
        let n = s.len();
        if n <= 4 {
            return "*".repeat(n);
        }
        let keep_head = if n >= 11 { 3 } else { 2 };
        format!(
            "{}{}{}",
            &s[..keep_head],
            "*".repeat(n - keep_head - 4),
            &s[n - 4..]
        )
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An administrative division code (GB/T 2260): 6 digits for a county/district, 9 for a
/// town/street, 12 for a village/community.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if matches!(s.len(), 6 | 9 | 12) && s.chars().all(|c| c.is_ascii_digit()) {
            Ok(RegionCode(s.to_string()))
        } else {
            Err(FieldError::new(
                field,
                format!("“{s}”不是有效的行政区划代码（6、9 或 12 位数字）"),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A code in the tenant's request-category tree, e.g. `01.03.02`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CategoryCode(String);

impl CategoryCode {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            Ok(CategoryCode(s.to_string()))
        } else {
            Err(FieldError::new(field, format!("“{s}”不是有效的分类代码")))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Masks a person's name: `张*`, `欧阳**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_and_checked() {
        assert_eq!(
            Phone::parse("p", "138 0013-8000").unwrap().as_str(),
            "13800138000"
        );
        assert_eq!(
            Phone::parse("p", "+8613800138000").unwrap().as_str(),
            "13800138000"
        );
        assert_eq!(
            Phone::parse("p", "0477-8581234").unwrap().as_str(),
            "04778581234"
        );
        assert!(Phone::parse("p", "12345").is_err());
        assert!(Phone::parse("p", "1380013800a").is_err());
        assert!(Phone::parse("p", "23800138000").is_err());
    }

    #[test]
    fn masked_phone_and_name_hide_the_middle() {
        assert_eq!(
            Phone::parse("p", "13800138000").unwrap().masked(),
            "138****8000"
        );
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "李*");
    }

    #[test]
    fn text_limits_count_characters_not_bytes() {
        let ok = "字".repeat(MAX_TEXT_CHARS);
        assert!(required_text("content", &ok, MAX_TEXT_CHARS).is_ok());
        let long = "字".repeat(MAX_TEXT_CHARS + 1);
        let e = required_text("content", &long, MAX_TEXT_CHARS).unwrap_err();
        assert_eq!(e.field, "content");
        assert!(required_text("content", "   ", 10).is_err());
        assert_eq!(optional_text("a", Some("  "), 10).unwrap(), None);
    }

    #[test]
    fn region_codes_have_six_nine_or_twelve_digits() {
        assert!(RegionCode::parse("r", "150602").is_ok());
        assert!(RegionCode::parse("r", "150602001").is_ok());
        assert!(RegionCode::parse("r", "15060").is_err());
        assert!(RegionCode::parse("r", "15060x").is_err());
    }
}

/// An address folded for comparison: letters and digits only (full-width folded,
/// lower-cased), so that "幸福路 12 号" and "幸福路12号" are one address. `None` for an
/// address too short to tell places apart.
pub fn address_key(address: &str) -> Option<String> {
    let key: String = address
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            c => c,
        })
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    (key.chars().count() >= 4).then_some(key)
}

#[cfg(test)]
mod address_tests {
    use super::address_key;

    #[test]
    fn addresses_compare_without_spaces_punctuation_or_width() {
        assert_eq!(address_key("幸福路 12 号"), address_key("幸福路１２号，"));
        assert_eq!(address_key("幸福路12号").as_deref(), Some("幸福路12号"));
        assert_eq!(address_key("无"), None);
        assert_eq!(address_key(" - "), None);
    }
}
