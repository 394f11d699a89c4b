//! The knowledge base: entries written by units and the centre, reviewed and published by the
//! centre, searched by agents while the caller talks, cited by instant answers.
//!
//! The search index (tantivy, under `<data_dir>/index/kb`) is derived data. The database is
//! the truth: every change takes the next number of the tenant's change sequence in its own
//! transaction, and the index commits the changes it applied together with the last number
//! (its payload). After a crash between the database commit and the index commit, the next
//! catch-up (at start, every second, after each local change) applies what is missing.

use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::kb::{KbAction, KbContent, KbState, code, parse_code};
use jiesu_core::order::InstantAnswer;
use jiesu_core::org::OrgTree;
use jiesu_core::role::Role;
use jiesu_core::{TenantId, UnitId};
use jiesu_store::kb::{KbChange, KbFilter, KbRow, KbTransition, KbWho};
use jiesu_text::{Analyzer, KbDoc, KbHits, KbIndex, KbQuery};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Bump when the index's schema or analysis changes: the index is rebuilt at start.
const INDEX_FORMAT: u32 = 3;
/// Changes applied per index commit.
const BATCH: u64 = 2_000;
/// Settings key of a tenant's synonym groups.
const SYNONYMS_KEY: &str = "kb_synonyms";
/// Entries whose validity ends within this many days are flagged to their owner.
pub const EXPIRING_DAYS: i64 = 30;

/// Who may write entries (their own unit's, or any at the centre).
const WRITERS: [Role; 5] = [
    Role::Admin,
    Role::Supervisor,
    Role::Dispatcher,
    Role::UnitAdmin,
    Role::Handler,
];
/// Who reviews and publishes, at the centre.
const REVIEWERS: [Role; 2] = [Role::Admin, Role::Supervisor];

/// What the index has applied: the format, the dictionary it was built with, and per tenant
/// the last change number.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
struct Bookmark {
    format: u32,
    dict: String,
    seq: BTreeMap<i64, i64>,
}

/// The index and what it has applied; the lock serialises catch-ups.
pub struct KbEngine {
    pub index: Arc<KbIndex>,
    applied: tokio::sync::Mutex<Bookmark>,
    pub dir: PathBuf,
}

/// Progress of a rebuild, for a progress bar.
pub trait Progress: Send + Sync {
    fn total(&self, n: u64);
    fn advance(&self, n: u64);
}

impl Progress for () {
    fn total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Words the segmenter should keep whole: place and unit names, and the same names without
/// their administrative suffix (people say 康巴什 for 康巴什区).
fn local_words(names: Vec<String>) -> Vec<String> {
    const SUFFIXES: [&str; 14] = [
        "社区居委会",
        "居委会",
        "村委会",
        "街道办事处",
        "街道",
        "社区",
        "自治县",
        "区",
        "县",
        "市",
        "镇",
        "乡",
        "村",
        "局",
    ];
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim().to_string();
        if n.chars().count() < 2 {
            continue;
        }
        for s in SUFFIXES {
            if let Some(stem) = n.strip_suffix(s)
                && stem.chars().count() >= 2
            {
                out.push(stem.to_string());
                break;
            }
        }
        out.push(n);
    }
    out.sort();
    out.dedup();
    out
}

fn dict_hash(words: &[String]) -> String {
    let mut h = Sha256::new();
    for w in words {
        h.update(w.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

fn doc_of(tenant: TenantId, c: &KbChange) -> Option<KbDoc> {
    let (version, content) = c.live.as_ref()?;
    Some(KbDoc {
        tenant: tenant.0 as u64,
        id: c.id as u64,
        version: u64::from(*version),
        title: content.title.clone(),
        questions: content.questions.clone(),
        answer: content.answer.clone(),
        category: content.category.as_ref().map(|x| x.as_str().to_string()),
        unit_id: content.unit_id.map(|u| u.0 as u64),
        region: content.region.as_ref().map(|x| x.as_str().to_string()),
        valid_from: content.valid_from().map(|t| t.timestamp_millis()),
        valid_to: content.valid_to().map(|t| t.timestamp_millis()),
        usage: c.usage.max(0) as u64,
    })
}

/// Opens an index (derived data) in `dir`: waits for a restarting predecessor to let go of
/// it, and rebuilds an index that cannot be opened (older schema, damage) from scratch.
pub(crate) async fn open_derived<T>(
    dir: &std::path::Path,
    open: impl Fn() -> Result<T, jiesu_text::TantivyError>,
) -> AppResult<T> {
    let mut tries = 0;
    let opened = loop {
        match open() {
            Err(jiesu_text::TantivyError::LockFailure(..)) if tries < 20 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            r => break r,
        }
    };
    match opened {
        Ok(i) => Ok(i),
        Err(jiesu_text::TantivyError::LockFailure(..)) => Err(AppError::Conflict(format!(
            "搜索索引 {} 正被另一个进程（运行中的服务）使用",
            dir.display()
        ))),
        // A full or read-only disk says nothing about the index: keep it, try again later.
        Err(e) if jiesu_text::is_disk_error(&e) => Err(internal(e)),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "index unreadable; rebuilding");
            std::fs::remove_dir_all(dir).map_err(internal)?;
            open().map_err(internal)
        }
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// A search request.
#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    pub text: String,
    pub category: Option<String>,
    pub unit_id: Option<UnitId>,
    pub region: Option<String>,
    pub limit: usize,
    pub offset: usize,
    /// Searches typed live (the agent's side panel) are not logged as misses.
    pub live: bool,
}

impl App {
    /// The knowledge index, opened (and brought up to date) on first use.
    pub async fn kb(&self) -> AppResult<Arc<KbEngine>> {
        self.kb
            .get_or_try_init(|| async {
                let engine = self.open_kb().await?;
                Ok::<_, AppError>(Arc::new(engine))
            })
            .await
            .cloned()
    }

    /// The analyzer with the local words of every tenant, and a hash of those words.
    /// Built once per process: both indexes analyse with the same one.
    pub(crate) async fn analyzer(&self) -> AppResult<(Analyzer, String)> {
        self.analyzer
            .get_or_try_init(|| async {
                let words = local_words(self.store.local_names().await?);
                Ok::<_, AppError>((Analyzer::new(&words), dict_hash(&words)))
            })
            .await
            .cloned()
    }

    async fn open_kb(&self) -> AppResult<KbEngine> {
        let (analyzer, dict) = self.analyzer().await?;
        let dir = self.config.data_dir.join("index").join("kb");
        let index = open_derived(&dir, || KbIndex::open(&dir, analyzer.clone())).await?;
        let stored: Option<Bookmark> = index
            .payload()
            .map_err(internal)?
            .and_then(|p| serde_json::from_str(&p).ok());
        let fresh = Bookmark {
            format: INDEX_FORMAT,
            dict,
            seq: BTreeMap::new(),
        };
        let applied = match stored {
            Some(b) if b.format == fresh.format && b.dict == fresh.dict => b,
            stored => {
                if stored.is_some() || !index.is_empty() {
                    tracing::info!(
                        "knowledge index built with another format or dictionary; rebuilding"
                    );
                }
                let p = serde_json::to_string(&fresh).map_err(internal)?;
                index.clear(Some(&p)).map_err(internal)?;
                fresh
            }
        };
        let engine = KbEngine {
            index: Arc::new(index),
            applied: tokio::sync::Mutex::new(applied),
            dir,
        };
        for t in self.store.tenants().await? {
            let groups = self.synonyms(t.id).await?;
            engine.index.set_synonyms(t.id.0 as u64, &groups);
        }
        self.kb_catch_up_with(&engine, &()).await?;
        Ok(engine)
    }

    /// Applies every change the index has not seen yet. Returns how many were applied.
    pub async fn kb_catch_up(&self) -> AppResult<u64> {
        let engine = self.kb().await?;
        self.kb_catch_up_with(&engine, &()).await
    }

    async fn kb_catch_up_with(&self, engine: &KbEngine, progress: &dyn Progress) -> AppResult<u64> {
        let mut applied = engine.applied.lock().await;
        self.kb_apply_changes(engine, &mut applied, progress).await
    }

    /// Applies the changes after `applied`'s bookmark; the caller holds the engine's lock.
    async fn kb_apply_changes(
        &self,
        engine: &KbEngine,
        applied: &mut Bookmark,
        progress: &dyn Progress,
    ) -> AppResult<u64> {
        let mut n = 0;
        for t in self.store.tenants().await? {
            let mut after = applied.seq.get(&t.id.0).copied().unwrap_or(0);
            loop {
                let changes = self.store.kb_changes(t.id, after, BATCH).await?;
                let Some(last) = changes.last() else { break };
                after = last.seq;
                let docs: Vec<KbDoc> = changes.iter().filter_map(|c| doc_of(t.id, c)).collect();
                let gone: Vec<u64> = changes
                    .iter()
                    .filter(|c| c.live.is_none())
                    .map(|c| c.id as u64)
                    .collect();
                let mut next = applied.clone();
                next.seq.insert(t.id.0, after);
                let payload = serde_json::to_string(&next).map_err(internal)?;
                let index = engine.index.clone();
                tokio::task::spawn_blocking(move || index.apply(&docs, &gone, Some(&payload)))
                    .await
                    .map_err(internal)?
                    .map_err(internal)?;
                *applied = next;
                n += changes.len() as u64;
                progress.advance(changes.len() as u64);
                if (changes.len() as u64) < BATCH {
                    break;
                }
            }
        }
        Ok(n)
    }

    /// Rebuilds the index from the database (`jiesu reindex`).
    pub async fn kb_rebuild(&self, progress: &dyn Progress) -> AppResult<u64> {
        let engine = self.kb().await?;
        // The lock is held from clearing to the end, so the background indexer cannot apply
        // part of the changes in between.
        let mut applied = engine.applied.lock().await;
        let mut fresh = applied.clone();
        fresh.seq.clear();
        let p = serde_json::to_string(&fresh).map_err(internal)?;
        engine.index.clear(Some(&p)).map_err(internal)?;
        *applied = fresh;
        let mut total = 0;
        for t in self.store.tenants().await? {
            total += self.store.kb_count(t.id).await?;
        }
        progress.total(total);
        self.kb_apply_changes(&engine, &mut applied, progress).await
    }

    /// Marks published entries whose validity has ended as expired.
    pub async fn kb_expire_due(&self, now: DateTime<Utc>) -> AppResult<u64> {
        let mut n = 0;
        for t in self.store.tenants().await? {
            for id in self.store.kb_ended(t.id, now).await? {
                let Some(row) = self.store.kb_entry(t.id, id).await? else {
                    continue;
                };
                let who = KbWho {
                    actor_id: jiesu_core::UserId(0),
                    actor: "系统",
                    reason: Some("有效期已过"),
                    at: now,
                };
                let t2 = KbTransition {
                    action: KbAction::Expire,
                    from: &row,
                    to: KbState::Expired,
                    content: None,
                };
                match self.store.kb_transition(t.id, t2, &who).await {
                    Ok(()) => n += 1,
                    Err(jiesu_store::StoreError::Concurrent) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if n > 0 {
            tracing::info!(entries = n, "knowledge entries expired");
            self.kb_catch_up().await?;
        }
        Ok(n)
    }

    /// Searches the tenant's published, currently valid entries.
    pub async fn kb_search(&self, p: &Principal, s: SearchInput) -> AppResult<KbHits> {
        let text = s.text.trim().to_string();
        if text.is_empty() {
            return Err(AppError::invalid("q", "请输入要搜索的内容"));
        }
        if text.chars().count() > 2_000 {
            return Err(AppError::invalid("q", "搜索内容超过 2000 字"));
        }
        let engine = self.kb().await?;
        let q = KbQuery {
            tenant: p.tenant.0 as u64,
            text: text.clone(),
            limit: s.limit.clamp(1, 50),
            offset: s.offset.min(1_000),
            category: s.category,
            unit_id: s.unit_id.map(|u| u.0 as u64),
            region: s.region,
            valid_at: Some(Utc::now().timestamp_millis()),
            count: !s.live,
        };
        let index = engine.index.clone();
        let hits = tokio::task::spawn_blocking(move || index.search(&q))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        if hits.total == 0 && !s.live && text.chars().count() >= 4 {
            let logged: String = text.chars().take(200).collect();
            if let Err(e) = self
                .store
                .kb_record_miss(p.tenant, &logged, Utc::now())
                .await
            {
                tracing::warn!(error = %e, "recording a knowledge miss failed");
            }
        }
        Ok(hits)
    }

    fn is_centre(&self, p: &Principal, org: &OrgTree) -> bool {
        org.get(p.unit_id).is_some_and(|u| u.kind.is_centre())
    }

    /// Centre staff see every entry; unit staff their own unit's and below.
    fn kb_units(&self, p: &Principal, org: &OrgTree) -> Option<Vec<UnitId>> {
        if self.is_centre(p, org) {
            None
        } else {
            Some(org.subtree(p.unit_id))
        }
    }

    fn can_see_entry(&self, p: &Principal, org: &OrgTree, row: &KbRow) -> bool {
        row.live_version.is_some()
            || match self.kb_units(p, org) {
                None => true,
                Some(units) => row.content.unit_id.is_some_and(|u| units.contains(&u)),
            }
    }

    /// Whether `p` may edit and submit `row` (or create such an entry).
    pub fn can_write(&self, p: &Principal, org: &OrgTree, unit: Option<UnitId>) -> bool {
        WRITERS.iter().any(|r| p.has(*r))
            && match self.kb_units(p, org) {
                None => true,
                Some(units) => unit.is_some_and(|u| units.contains(&u)),
            }
    }

    pub fn can_review(&self, p: &Principal, org: &OrgTree) -> bool {
        REVIEWERS.iter().any(|r| p.has(*r)) && self.is_centre(p, org)
    }

    pub fn can_withdraw(&self, p: &Principal, org: &OrgTree, row: &KbRow) -> bool {
        self.can_review(p, org)
            || (p.has(Role::UnitAdmin) && self.can_write(p, org, row.content.unit_id))
    }

    async fn check_content(
        &self,
        p: &Principal,
        org: &OrgTree,
        c: &mut KbContent,
    ) -> AppResult<()> {
        if c.unit_id.is_none() && !self.is_centre(p, org) {
            c.unit_id = Some(p.unit_id);
        }
        if let Some(u) = c.unit_id
            && org.get(u).is_none()
        {
            return Err(AppError::invalid("unit_id", format!("单位 {} 不存在", u.0)));
        }
        if !self.can_write(p, org, c.unit_id) {
            return Err(AppError::Forbidden(
                "只能编写本单位（及下级单位）的知识条目".into(),
            ));
        }
        let refs = self.ref_data(p.tenant).await?;
        if let Some(cat) = &c.category
            && !refs.categories.contains(cat.as_str())
        {
            return Err(AppError::invalid(
                "category",
                format!("分类“{}”不存在或已停用", cat.as_str()),
            ));
        }
        if let Some(r) = &c.region
            && !refs.regions.contains(r.as_str())
        {
            return Err(AppError::invalid(
                "region",
                format!("行政区划“{}”不在本平台服务范围内", r.as_str()),
            ));
        }
        Ok(())
    }

    fn who<'a>(p: &'a Principal, reason: Option<&'a str>) -> KbWho<'a> {
        KbWho {
            actor_id: p.user_id,
            actor: &p.display_name,
            reason,
            at: Utc::now(),
        }
    }

    /// A new draft.
    pub async fn kb_create(
        &self,
        p: &Principal,
        mut c: KbContent,
        reason: Option<&str>,
    ) -> AppResult<KbRow> {
        p.require_any(&WRITERS, "编写知识条目")?;
        let org = self.org(p.tenant).await?;
        self.check_content(p, &org, &mut c).await?;
        let reason = clean_reason(reason)?;
        let ids = self
            .store
            .kb_create(
                p.tenant,
                std::slice::from_ref(&c),
                KbAction::Create,
                &Self::who(p, reason.as_deref()),
            )
            .await?;
        let id = ids.first().copied().ok_or(AppError::NotFound("知识条目"))?;
        self.kb_changed().await;
        self.kb_entry(p, id).await
    }

    /// Brings in a centre's existing entries, published at once (reviewers only).
    pub async fn kb_import(&self, p: &Principal, items: Vec<KbContent>) -> AppResult<usize> {
        let org = self.org(p.tenant).await?;
        if !self.can_review(p, &org) {
            return Err(AppError::Forbidden(
                "导入知识库需要热线中心的督办员或系统管理员权限".into(),
            ));
        }
        self.kb_import_as(p, items).await
    }

    /// Imports without the role check (the CLI, acting for the tenant's administrator).
    pub async fn kb_import_as(&self, p: &Principal, mut items: Vec<KbContent>) -> AppResult<usize> {
        let org = self.org(p.tenant).await?;
        let refs = self.ref_data(p.tenant).await?;
        for (n, c) in items.iter_mut().enumerate() {
            let line = n + 1;
            if let Some(u) = c.unit_id
                && org.get(u).is_none()
            {
                return Err(AppError::invalid(
                    format!("第 {line} 条: unit"),
                    format!("单位 {} 不存在", u.0),
                ));
            }
            if let Some(cat) = &c.category
                && !refs.categories.contains(cat.as_str())
            {
                return Err(AppError::invalid(
                    format!("第 {line} 条: category"),
                    format!("分类“{}”不存在", cat.as_str()),
                ));
            }
        }
        let who = Self::who(p, Some("导入"));
        let mut n = 0;
        for chunk in items.chunks(1_000) {
            n += self
                .store
                .kb_create(p.tenant, chunk, KbAction::Import, &who)
                .await?
                .len();
        }
        self.kb_changed().await;
        if let Err(e) = self
            .compact_indexes(crate::app::search::Compaction::Bulk)
            .await
        {
            tracing::warn!(error = %e, "merging index segments failed");
        }
        Ok(n)
    }

    /// Reads an entry `p` may see.
    pub async fn kb_entry(&self, p: &Principal, id: i64) -> AppResult<KbRow> {
        let org = self.org(p.tenant).await?;
        match self.store.kb_entry(p.tenant, id).await? {
            Some(row) if self.can_see_entry(p, &org, &row) => Ok(row),
            _ => Err(AppError::NotFound("知识条目")),
        }
    }

    /// Edits (a new version, back to draft), submits, publishes, rejects or withdraws.
    pub async fn kb_act(
        &self,
        p: &Principal,
        id: i64,
        action: KbAction,
        content: Option<KbContent>,
        expected_version: Option<u32>,
        reason: Option<&str>,
    ) -> AppResult<KbRow> {
        let org = self.org(p.tenant).await?;
        let row = self.kb_entry(p, id).await?;
        let allowed = match action {
            KbAction::Edit | KbAction::Submit => self.can_write(p, &org, row.content.unit_id),
            KbAction::Publish | KbAction::Reject => self.can_review(p, &org),
            KbAction::Withdraw => self.can_withdraw(p, &org, &row),
            KbAction::Create | KbAction::Import | KbAction::Expire => false,
        };
        if !allowed {
            return Err(AppError::Forbidden(format!(
                "无权对该知识条目执行“{}”",
                action.label()
            )));
        }
        if let Some(v) = expected_version
            && v != row.version
        {
            return Err(AppError::Conflict(format!(
                "该条目已被他人修改（当前为第 {} 版），请刷新后重试",
                row.version
            )));
        }
        let reason = clean_reason(reason)?;
        if action.needs_reason() && reason.is_none() {
            return Err(AppError::invalid(
                "reason",
                format!("{}须填写原因", action.label()),
            ));
        }
        let mut content = content;
        if let Some(c) = content.as_mut() {
            self.check_content(p, &org, c).await?;
        }
        let to = action.next(Some(row.state))?;
        self.store
            .kb_transition(
                p.tenant,
                KbTransition {
                    action,
                    from: &row,
                    to,
                    content: content.as_ref(),
                },
                &Self::who(p, reason.as_deref()),
            )
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::Concurrent => {
                    AppError::Conflict("该条目已被他人同时修改，请刷新后重试".into())
                }
                e => e.into(),
            })?;
        self.kb_changed().await;
        self.kb_entry(p, id).await
    }

    pub async fn kb_list(&self, p: &Principal, mut f: KbFilter) -> AppResult<(Vec<KbRow>, u64)> {
        let org = self.org(p.tenant).await?;
        f.units = self.kb_units(p, &org);
        Ok(self.store.kb_list(p.tenant, &f).await?)
    }

    /// After a local change: bring the index up to date now, so the writer sees the result.
    /// A failure here is repaired by the next catch-up.
    async fn kb_changed(&self) {
        if let Err(e) = self.kb_catch_up().await {
            tracing::warn!(error = %e, "knowledge index catch-up failed; will retry");
        }
    }

    /// Checks the entry an instant answer cites: it must be published and valid at `at`.
    /// Returns the answer with the canonical code, the live version and (when none was
    /// given) the entry's answer.
    pub async fn cite(
        &self,
        tenant: TenantId,
        a: InstantAnswer,
        at: DateTime<Utc>,
    ) -> AppResult<(i64, InstantAnswer)> {
        let field = "knowledge_entry_id";
        let id = parse_code(&a.knowledge_entry_id).ok_or_else(|| {
            AppError::invalid(
                field,
                format!("“{}”不是知识条目编号（如 KB-12）", a.knowledge_entry_id),
            )
        })?;
        let row = self.store.kb_entry(tenant, id).await?;
        let live = row.as_ref().and_then(|r| r.live_version);
        let (Some(_), Some(version)) = (row, live) else {
            return Err(AppError::invalid(
                field,
                format!("知识条目 {} 不存在或未发布", code(id)),
            ));
        };
        let content = self
            .store
            .kb_version(tenant, id, version)
            .await?
            .ok_or(AppError::NotFound("知识条目版本"))?;
        if !content.is_valid_at(at) {
            return Err(AppError::invalid(
                field,
                format!("知识条目 {} 不在有效期内", code(id)),
            ));
        }
        let answer = match a.answer.filter(|s| !s.trim().is_empty()) {
            Some(s) => s,
            None => content
                .answer
                .chars()
                .take(jiesu_core::values::MAX_TEXT_CHARS)
                .collect(),
        };
        Ok((
            id,
            InstantAnswer {
                knowledge_entry_id: code(id),
                knowledge_version: Some(version),
                answer: Some(answer),
            },
        ))
    }

    /// Counts a use of an entry after the order citing it was stored.
    pub async fn count_use(&self, tenant: TenantId, id: i64) {
        if let Err(e) = self.store.kb_count_use(tenant, id, 1).await {
            tracing::warn!(error = %e, entry = id, "counting a knowledge entry use failed");
        }
    }

    pub async fn synonyms(&self, tenant: TenantId) -> AppResult<Vec<Vec<String>>> {
        Ok(match self.store.setting(tenant, SYNONYMS_KEY).await? {
            Some(s) => serde_json::from_str(&s).map_err(internal)?,
            None => Vec::new(),
        })
    }

    /// Replaces the tenant's synonym groups (admins).
    pub async fn set_synonyms(
        &self,
        cap: &super::AdminCap<'_>,
        groups: Vec<Vec<String>>,
    ) -> AppResult<Vec<Vec<String>>> {
        let mut clean: Vec<Vec<String>> = Vec::new();
        if groups.len() > 5_000 {
            return Err(AppError::invalid("groups", "同义词组超过 5000 组"));
        }
        for (n, g) in groups.into_iter().enumerate() {
            let mut words: Vec<String> = Vec::new();
            for w in g {
                let w = w.trim().to_string();
                if w.is_empty() {
                    continue;
                }
                if w.chars().count() > 30 {
                    return Err(AppError::invalid(
                        format!("groups[{n}]"),
                        format!("“{w}”超过 30 字"),
                    ));
                }
                if !words.contains(&w) {
                    words.push(w);
                }
            }
            if words.len() == 1 {
                return Err(AppError::invalid(
                    format!("groups[{n}]"),
                    format!("同义词组“{}”至少需要两个词", words[0]),
                ));
            }
            if !words.is_empty() {
                clean.push(words);
            }
        }
        let tenant = cap.0.tenant;
        let json = serde_json::to_string(&clean).map_err(internal)?;
        self.store.put_setting(tenant, SYNONYMS_KEY, &json).await?;
        self.audit(
            cap,
            "kb.synonyms",
            "同义词".into(),
            format!("{} 组", clean.len()),
        )
        .await?;
        self.kb().await?.index.set_synonyms(tenant.0 as u64, &clean);
        Ok(clean)
    }

    /// Reloads every tenant's synonyms (another node may have changed them).
    pub async fn kb_reload_synonyms(&self) -> AppResult<()> {
        let engine = self.kb().await?;
        for t in self.store.tenants().await? {
            let groups = self.synonyms(t.id).await?;
            engine.index.set_synonyms(t.id.0 as u64, &groups);
        }
        Ok(())
    }
}

fn clean_reason(reason: Option<&str>) -> AppResult<Option<String>> {
    Ok(jiesu_core::values::optional_text("reason", reason, 500)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_are_kept_with_and_without_their_suffix() {
        let w = local_words(vec![
            "康巴什区".into(),
            "铁西街道".into(),
            "区".into(),
            "阳光社区居委会".into(),
        ]);
        assert!(w.contains(&"康巴什区".to_string()));
        assert!(w.contains(&"康巴什".to_string()));
        assert!(w.contains(&"铁西".to_string()));
        assert!(w.contains(&"阳光".to_string()));
        assert!(!w.contains(&"区".to_string()));
    }

    #[test]
    fn the_dictionary_hash_changes_with_the_words() {
        let a = dict_hash(&["康巴什".to_string()]);
        assert_eq!(a, dict_hash(&["康巴什".to_string()]));
        assert_ne!(a, dict_hash(&["东胜".to_string()]));
    }
}
