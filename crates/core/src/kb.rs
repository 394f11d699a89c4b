//! Knowledge entries (DOMAIN §4): what an entry says, the states it goes through from draft to
//! published, and who may move it. Every change is a new version or a recorded transition;
//! the version that search serves (`live`) changes only when the centre publishes.

use crate::UnitId;
use crate::calendar::china_offset;
use crate::error::{DomainError, FieldError};
use crate::values::{CategoryCode, RegionCode, optional_text, required_text};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KbState {
    Draft,
    Review,
    Published,
    Expired,
    Withdrawn,
}

impl KbState {
    pub const ALL: [KbState; 5] = [
        KbState::Draft,
        KbState::Review,
        KbState::Published,
        KbState::Expired,
        KbState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KbState::Draft => "draft",
            KbState::Review => "review",
            KbState::Published => "published",
            KbState::Expired => "expired",
            KbState::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            KbState::Draft => "草稿",
            KbState::Review => "待审核",
            KbState::Published => "已发布",
            KbState::Expired => "已过期",
            KbState::Withdrawn => "已撤回",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<KbState, FieldError> {
        KbState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("未知状态“{s}”，可选：draft, review, published, expired, withdrawn"),
                )
            })
    }
}

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KbAction {
    Create,
    Edit,
    Submit,
    Publish,
    Reject,
    Withdraw,
    /// Its validity ended (the platform).
    Expire,
    /// Brought in from a centre's existing base, published at once.
    Import,
}

impl KbAction {
    pub const ALL: [KbAction; 8] = [
        KbAction::Create,
        KbAction::Edit,
        KbAction::Submit,
        KbAction::Publish,
        KbAction::Reject,
        KbAction::Withdraw,
        KbAction::Expire,
        KbAction::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KbAction::Create => "create",
            KbAction::Edit => "edit",
            KbAction::Submit => "submit",
            KbAction::Publish => "publish",
            KbAction::Reject => "reject",
            KbAction::Withdraw => "withdraw",
            KbAction::Expire => "expire",
            KbAction::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<KbAction> {
        KbAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            KbAction::Create => "新建",
            KbAction::Edit => "修改",
            KbAction::Submit => "提交审核",
            KbAction::Publish => "审核发布",
            KbAction::Reject => "退回修改",
            KbAction::Withdraw => "撤回",
            KbAction::Expire => "到期失效",
            KbAction::Import => "导入发布",
        }
    }

    /// Whether the action needs a reason from the person taking it.
    pub fn needs_reason(self) -> bool {
        matches!(self, KbAction::Edit | KbAction::Reject | KbAction::Withdraw)
    }

    /// The state after the action, or why it is not possible now.
    pub fn next(self, from: Option<KbState>) -> Result<KbState, DomainError> {
        use KbState::*;
        let to = match (self, from) {
            (KbAction::Create, None) => Draft,
            (KbAction::Import, None) => Published,
            // Editing a published entry starts a new draft; the published version stays live.
            (KbAction::Edit, Some(_)) => Draft,
            (KbAction::Submit, Some(Draft)) => Review,
            (KbAction::Publish, Some(Draft | Review)) => Published,
            (KbAction::Reject, Some(Review)) => Draft,
            (KbAction::Withdraw, Some(Draft | Review | Published | Expired)) => Withdrawn,
            (KbAction::Expire, Some(Published)) => Expired,
            (a, Some(s)) => {
                return Err(DomainError::conflict(format!(
                    "知识条目当前为“{}”，不能{}",
                    s.label(),
                    a.label()
                )));
            }
            (a, None) => {
                return Err(DomainError::conflict(format!(
                    "知识条目不存在，不能{}",
                    a.label()
                )));
            }
        };
        Ok(to)
    }

    /// Whether the live (searchable) version changes: publishing makes the current version
    /// live; withdrawing and expiry take the entry out of search.
    pub fn live_after(self, version: u32, live: Option<u32>) -> Option<u32> {
        match self {
            KbAction::Publish | KbAction::Import => Some(version),
            KbAction::Withdraw | KbAction::Expire => None,
            _ => live,
        }
    }
}

/// The text and scope of one version of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbContent {
    pub title: String,
    pub answer: String,
    /// How citizens actually ask.
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub category: Option<CategoryCode>,
    /// The owning unit, which keeps the entry up to date.
    pub unit_id: Option<UnitId>,
    /// Where it applies (and below); none: everywhere.
    pub region: Option<RegionCode>,
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
}

pub const MAX_TITLE: usize = 200;
pub const MAX_ANSWER: usize = 20_000;
pub const MAX_QUESTIONS: usize = 50;
pub const MAX_TAGS: usize = 20;

/// Raw input for [`KbContent::parse`].
#[derive(Debug, Clone, Default)]
pub struct KbInput<'a> {
    pub title: &'a str,
    pub answer: &'a str,
    pub questions: &'a [String],
    pub tags: &'a [String],
    pub category: Option<&'a str>,
    pub unit_id: Option<UnitId>,
    pub region: Option<&'a str>,
    pub effective_from: Option<&'a str>,
    pub effective_to: Option<&'a str>,
}

impl KbContent {
    pub fn parse(i: KbInput<'_>) -> Result<KbContent, FieldError> {
        let title = required_text("title", i.title, MAX_TITLE)?;
        let answer = required_text("answer", i.answer, MAX_ANSWER)?;
        let list = |field: &str, items: &[String], max_items: usize, max_chars: usize| {
            if items.len() > max_items {
                return Err(FieldError::new(
                    field,
                    format!("最多 {max_items} 项，收到 {} 项", items.len()),
                ));
            }
            let mut out: Vec<String> = Vec::new();
            for (n, s) in items.iter().enumerate() {
                if let Some(t) = optional_text(&format!("{field}[{n}]"), Some(s), max_chars)?
                    && !out.contains(&t)
                {
                    out.push(t);
                }
            }
            Ok(out)
        };
        let questions = list("questions", i.questions, MAX_QUESTIONS, 500)?;
        let tags = list("tags", i.tags, MAX_TAGS, 30)?;
        let category = i
            .category
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|c| CategoryCode::parse("category", c))
            .transpose()?;
        let region = i
            .region
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|r| RegionCode::parse("region", r))
            .transpose()?;
        let date = |field: &str, s: Option<&str>| -> Result<Option<NaiveDate>, FieldError> {
            match s.map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) => parse_date(s).map(Some).ok_or_else(|| {
                    FieldError::new(field, format!("“{s}”不是日期，请用 YYYY-MM-DD"))
                }),
            }
        };
        let effective_from = date("effective_from", i.effective_from)?;
        let effective_to = date("effective_to", i.effective_to)?;
        if let (Some(f), Some(t)) = (effective_from, effective_to)
            && t < f
        {
            return Err(FieldError::new("effective_to", "失效日期早于生效日期"));
        }
        Ok(KbContent {
            title,
            answer,
            questions,
            tags,
            category,
            unit_id: i.unit_id,
            region,
            effective_from,
            effective_to,
        })
    }

    /// Start of validity: the first moment of `effective_from`, China time.
    pub fn valid_from(&self) -> Option<DateTime<Utc>> {
        self.effective_from.and_then(day_start)
    }

    /// End of validity (exclusive): the first moment after `effective_to`, China time.
    pub fn valid_to(&self) -> Option<DateTime<Utc>> {
        self.effective_to
            .and_then(|d| d.succ_opt())
            .and_then(day_start)
    }

    pub fn is_valid_at(&self, t: DateTime<Utc>) -> bool {
        self.valid_from().is_none_or(|f| f <= t) && self.valid_to().is_none_or(|e| t < e)
    }
}

/// `YYYY-MM-DD`, or the date part of an RFC 3339 time.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y/%m/%d").ok())
        .or_else(|| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&china_offset()).date_naive())
        })
}

fn day_start(d: NaiveDate) -> Option<DateTime<Utc>> {
    china_offset()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Entry ids as people see them: `KB-12`. Also accepts the bare number.
pub fn parse_code(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t
        .strip_prefix("KB-")
        .or_else(|| t.strip_prefix("kb-"))
        .unwrap_or(t);
    digits.parse::<i64>().ok().filter(|n| *n > 0)
}

pub fn code(id: i64) -> String {
    format!("KB-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(title: &'a str, answer: &'a str) -> KbInput<'a> {
        KbInput {
            title,
            answer,
            ..KbInput::default()
        }
    }

    #[test]
    fn an_entry_goes_from_draft_through_review_to_published() {
        let s = KbAction::Create.next(None).unwrap();
        assert_eq!(s, KbState::Draft);
        let s = KbAction::Submit.next(Some(s)).unwrap();
        assert_eq!(s, KbState::Review);
        assert_eq!(KbAction::Reject.next(Some(s)).unwrap(), KbState::Draft);
        let s = KbAction::Publish.next(Some(s)).unwrap();
        assert_eq!(s, KbState::Published);
        assert_eq!(KbAction::Expire.next(Some(s)).unwrap(), KbState::Expired);
        assert_eq!(
            KbAction::Withdraw.next(Some(s)).unwrap(),
            KbState::Withdrawn
        );
    }

    #[test]
    fn impossible_transitions_are_conflicts_that_name_the_state() {
        let e = KbAction::Submit.next(Some(KbState::Published)).unwrap_err();
        assert!(e.to_string().contains("已发布"), "{e}");
        assert!(KbAction::Reject.next(Some(KbState::Draft)).is_err());
        assert!(KbAction::Withdraw.next(Some(KbState::Withdrawn)).is_err());
        assert!(KbAction::Expire.next(Some(KbState::Draft)).is_err());
        assert!(KbAction::Edit.next(None).is_err());
    }

    #[test]
    fn editing_keeps_the_published_version_live_until_the_next_publish() {
        assert_eq!(KbAction::Edit.live_after(3, Some(2)), Some(2));
        assert_eq!(KbAction::Publish.live_after(3, Some(2)), Some(3));
        assert_eq!(KbAction::Withdraw.live_after(3, Some(2)), None);
    }

    #[test]
    fn content_is_trimmed_deduplicated_and_checked() {
        let qs = vec![" 怎么办 ".to_string(), "怎么办".to_string(), "".to_string()];
        let c = KbContent::parse(KbInput {
            questions: &qs,
            effective_from: Some("2026-01-01"),
            effective_to: Some("2026-12-31"),
            ..input(" 标题 ", "答案")
        })
        .unwrap();
        assert_eq!(c.title, "标题");
        assert_eq!(c.questions, vec!["怎么办"]);
        let e = KbContent::parse(input("", "x")).unwrap_err();
        assert_eq!(e.field, "title");
        let e = KbContent::parse(KbInput {
            effective_from: Some("2026-02-01"),
            effective_to: Some("2026-01-01"),
            ..input("t", "a")
        })
        .unwrap_err();
        assert_eq!(e.field, "effective_to");
        let e = KbContent::parse(KbInput {
            effective_to: Some("31.12.2026"),
            ..input("t", "a")
        })
        .unwrap_err();
        assert_eq!(e.field, "effective_to");
    }

    #[test]
    fn validity_runs_through_the_last_day_in_china_time() {
        let c = KbContent::parse(KbInput {
            effective_from: Some("2026-01-01"),
            effective_to: Some("2026-01-31"),
            ..input("t", "a")
        })
        .unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(!c.is_valid_at(at("2025-12-31T23:59:59+08:00")));
        assert!(c.is_valid_at(at("2026-01-01T00:00:00+08:00")));
        assert!(c.is_valid_at(at("2026-01-31T23:59:59+08:00")));
        assert!(!c.is_valid_at(at("2026-02-01T00:00:00+08:00")));
    }

    #[test]
    fn codes_read_with_or_without_the_prefix() {
        assert_eq!(parse_code("KB-12"), Some(12));
        assert_eq!(parse_code(" 12 "), Some(12));
        assert_eq!(parse_code("KB-0042"), Some(42));
        assert_eq!(parse_code("KB-x"), None);
        assert_eq!(parse_code("0"), None);
        assert_eq!(code(7), "KB-7");
    }
}
