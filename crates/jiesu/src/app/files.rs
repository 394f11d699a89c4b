//! Files attached to orders: type-checked by their content, size-limited, stored in the
//! database and listed on the order through its `attachment_added` events.

use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::OrderId;
use jiesu_core::order::{AttachmentRef, Command, EventKind};
use jiesu_store::attachments::{NewFile, StoredFile};
use sha2::{Digest, Sha256};

/// A file on an order, with who added it and when.
pub struct FileInfo {
    pub file: AttachmentRef,
    pub uploaded_at: DateTime<Utc>,
    pub uploaded_by: String,
}

/// File types a citizen's evidence or a unit's reply documents come in, by extension, with
/// the bytes they must start with.
const ALLOWED: &[(&str, &str, &[u8])] = &[
    ("jpg", "image/jpeg", b"\xFF\xD8\xFF"),
    ("jpeg", "image/jpeg", b"\xFF\xD8\xFF"),
    ("png", "image/png", b"\x89PNG\r\n\x1A\n"),
    ("pdf", "application/pdf", b"%PDF-"),
    (
        "doc",
        "application/msword",
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
    ),
    (
        "xls",
        "application/vnd.ms-excel",
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
    ),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"PK\x03\x04",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"PK\x03\x04",
    ),
    ("txt", "text/plain; charset=utf-8", b""),
];

/// The file's content type, if its name and its bytes agree on an allowed type.
pub fn sniff(name: &str, data: &[u8]) -> AppResult<&'static str> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((_, ty, magic)) = ALLOWED.iter().find(|(e, _, _)| *e == ext) else {
        return Err(AppError::UnsupportedType(
            "只能上传 jpg、png、pdf、doc、docx、xls、xlsx、txt 文件".into(),
        ));
    };
    let ok = if ext == "txt" {
        std::str::from_utf8(data).is_ok_and(|s| !s.contains('\0'))
    } else {
        data.starts_with(magic)
    };
    if !ok {
        return Err(AppError::UnsupportedType(format!(
            "文件内容与扩展名 .{ext} 不符"
        )));
    }
    Ok(ty)
}

/// A file name safe to store and show: its last path part, without control characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

impl App {
    /// Stores a file for an order the caller may work on, and records it in the history.
    pub async fn attach_file(
        &self,
        p: &Principal,
        id: OrderId,
        name: &str,
        data: &[u8],
    ) -> AppResult<FileInfo> {
        let limit = self.config.attachment_limit_mib * 1024 * 1024;
        if data.len() > limit {
            return Err(AppError::TooLarge(format!(
                "文件不能超过 {} MB",
                self.config.attachment_limit_mib
            )));
        }
        if data.is_empty() {
            return Err(AppError::invalid("file", "文件为空"));
        }
        let name = clean_name(name);
        let content_type = sniff(&name, data)?;
        // Refused early, before any bytes are stored, when the order is out of reach.
        let org = self.org(p.tenant).await?;
        self.visible(p, &org, id).await?;
        let sha256 = hex::encode(Sha256::digest(data));
        let (file_id, at) = self
            .store
            .insert_file(
                p.tenant,
                NewFile {
                    order_id: id,
                    name: &name,
                    content_type,
                    sha256: &sha256,
                    uploaded_by: p.user_id,
                    data,
                },
            )
            .await?;
        let file = AttachmentRef {
            id: file_id,
            name,
            content_type: content_type.to_string(),
            size: data.len() as u64,
            sha256,
        };
        let cmd = Command::Attach {
            attachment: file.clone(),
        };
        match self
            .run_command(p.tenant, &p.actor(), Some(p), id, &cmd, Utc::now())
            .await
        {
            Ok(_) => Ok(FileInfo {
                file,
                uploaded_at: at,
                uploaded_by: p.display_name.clone(),
            }),
            Err(e) => {
                // Nothing refers to the bytes: take them back.
                if let Err(d) = self.store.delete_file(p.tenant, file_id).await {
                    tracing::warn!(error = %d, file_id, "removing a refused attachment failed");
                }
                Err(e)
            }
        }
    }

    /// The files of an order the caller can see.
    pub async fn order_files(&self, p: &Principal, id: OrderId) -> AppResult<Vec<FileInfo>> {
        let org = self.org(p.tenant).await?;
        self.visible(p, &org, id).await?;
        let events = self.store.order_events(p.tenant, id).await?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e.event.kind {
                EventKind::AttachmentAdded { attachment } => Some(FileInfo {
                    file: attachment,
                    uploaded_at: e.event.at,
                    uploaded_by: e.event.actor.username,
                }),
                _ => None,
            })
            .collect())
    }

    /// A file's bytes, if it belongs to an order the caller can see.
    pub async fn download_file(&self, p: &Principal, file_id: i64) -> AppResult<StoredFile> {
        const NOT_FOUND: AppError = AppError::NotFound("附件");
        let file = self.store.file(p.tenant, file_id).await?.ok_or(NOT_FOUND)?;
        let org = self.org(p.tenant).await?;
        let order = self
            .visible(p, &org, file.order_id)
            .await
            .map_err(|_| NOT_FOUND)?;
        if !order.order.attachments.iter().any(|a| a.id == file_id) {
            return Err(NOT_FOUND);
        }
        Ok(file)
    }
}
