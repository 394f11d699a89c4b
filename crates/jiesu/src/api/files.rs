//! Files: attachments of an order (upload, list, download) and the Excel export of a list.

use super::auth::AuthUser;
use super::orders::{ListQuery, list_filter};
use super::{ApiError, ApiResult, AppState, ErrorBody};
use crate::app::AppError;
use crate::app::files::FileInfo;
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jiesu_core::OrderId;
use jiesu_core::calendar::china_offset;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Rows one export may hold.
pub const EXPORT_MAX_ROWS: usize = 50_000;

#[derive(Serialize, ToSchema)]
pub struct AttachmentDto {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
    pub uploaded_by: String,
}

impl From<FileInfo> for AttachmentDto {
    fn from(f: FileInfo) -> Self {
        AttachmentDto {
            id: f.file.id,
            name: f.file.name,
            content_type: f.file.content_type,
            size: f.file.size,
            sha256: f.file.sha256,
            uploaded_at: f.uploaded_at,
            uploaded_by: f.uploaded_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentsResponse {
    pub items: Vec<AttachmentDto>,
}

/// The multipart upload form (for the OpenAPI document).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// jpg, png, pdf, doc, docx, xls, xlsx or txt; the content must match the extension.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Attach a file to an order (evidence, reply documents). The caller must be able to work
/// on the order; the file's type is checked by its content, its size by `attachment_limit_mib`.
#[utoipa::path(post, path = "/api/orders/{id}/attachments", tag = "orders", params(("id" = i64, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = AttachmentDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upload(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> ApiResult<(StatusCode, Json<AttachmentDto>)> {
    let read_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::App(AppError::TooLarge(format!(
                "文件不能超过 {} MB",
                app.config.attachment_limit_mib
            )))
        } else {
            ApiError::Malformed {
                field: Some("file".into()),
                message: format!("无法读取上传内容：{}", e.body_text()),
            }
        }
    };
    while let Some(field) = form.next_field().await.map_err(read_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_string();
        if name.trim().is_empty() {
            return Err(AppError::invalid("file", "缺少文件名").into());
        }
        let data = field.bytes().await.map_err(read_error)?;
        let info = app.attach_file(&p, OrderId(id), &name, &data).await?;
        return Ok((StatusCode::CREATED, Json(info.into())));
    }
    Err(AppError::invalid("file", "缺少文件（表单字段 file）").into())
}

/// The files of an order.
#[utoipa::path(get, path = "/api/orders/{id}/attachments", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, body = AttachmentsResponse), (status = 404, body = ErrorBody)))]
async fn list_files(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<AttachmentsResponse>> {
    let files = app.order_files(&p, OrderId(id)).await?;
    Ok(Json(AttachmentsResponse {
        items: files.into_iter().map(AttachmentDto::from).collect(),
    }))
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub fn file_response(content_type: &str, name: &str, data: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition(name)),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        Body::from(data),
    )
        .into_response()
}

/// Download a file of an order the caller can see.
#[utoipa::path(get, path = "/api/attachments/{id}", tag = "orders", params(("id" = i64, Path)),
    responses((status = 200, description = "the file's bytes"), (status = 404, body = ErrorBody)))]
async fn download(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let f = app.download_file(&p, id).await?;
    Ok(file_response(&f.content_type, &f.name, f.data))
}

/// Export the orders of a list query (same filters and order as `GET /api/orders`; citizens
/// masked as in the list) to an Excel workbook, up to 50,000 rows.
#[utoipa::path(get, path = "/api/orders/export", tag = "orders", params(ListQuery),
    responses((status = 200, description = "an .xlsx workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              (status = 422, body = ErrorBody)))]
async fn export(
    State(app): State<AppState>,
    AuthUser(p): AuthUser,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let now = Utc::now();
    let (_, filter, sort) = list_filter(&app, &p, query, now).await?;
    let org = app.org(p.tenant).await?;
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page = app
            .list_orders(&p, filter.clone(), sort, cursor, 200)
            .await?;
        for v in &page.items {
            let o = &v.stored.order;
            let due = o.current_due();
            rows.push(vec![
                o.number.clone(),
                local(o.accepted_at),
                o.channel.label().to_string(),
                o.request_type.label().to_string(),
                o.category
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                o.title.clone(),
                o.status.label().to_string(),
                o.lead_unit()
                    .map(|u| org.name(u).to_string())
                    .unwrap_or_default(),
                v.citizen.name.clone().unwrap_or_default(),
                v.citizen.phone.clone().unwrap_or_default(),
                o.location.address.clone().unwrap_or_default(),
                due.map(local).unwrap_or_default(),
                if o.is_overdue(now) { "是" } else { "否" }.to_string(),
            ]);
        }
        if rows.len() >= EXPORT_MAX_ROWS {
            rows.truncate(EXPORT_MAX_ROWS);
            break;
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let bytes = xlsx("工单", &HEADERS, &WIDTHS, rows).await?;
    let name = format!(
        "工单导出-{}.xlsx",
        now.with_timezone(&china_offset()).format("%Y%m%d-%H%M")
    );
    Ok(file_response(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
        bytes,
    ))
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

const HEADERS: [&str; 13] = [
    "工单编号",
    "受理时间",
    "渠道",
    "诉求类型",
    "分类",
    "标题",
    "状态",
    "主办单位",
    "诉求人",
    "联系电话",
    "地址",
    "当前期限",
    "是否超期",
];

const WIDTHS: [f64; 13] = [
    22.0, 17.0, 10.0, 10.0, 12.0, 40.0, 10.0, 20.0, 10.0, 14.0, 30.0, 17.0, 8.0,
];

/// A one-sheet workbook with a bold, frozen header row, built off the async runtime.
pub async fn xlsx(
    sheet: &'static str,
    headers: &'static [&'static str],
    widths: &'static [f64],
    rows: Vec<Vec<String>>,
) -> Result<Vec<u8>, AppError> {
    tokio::task::spawn_blocking(move || workbook(sheet, headers, widths, &rows))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(format!("xlsx: {e}")))
}

fn workbook(
    sheet: &str,
    headers: &[&str],
    widths: &[f64],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name(sheet)?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write(r as u32 + 1, c as u16, v.as_str())?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    wb.save_to_buffer()
}

/// Routes with room for an upload: the body limit here is the attachment limit.
pub fn router(attachment_limit_mib: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, list_files))
        .layer(DefaultBodyLimit::max(
            attachment_limit_mib * 1024 * 1024 + 64 * 1024,
        ))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(download))
                .routes(routes!(export)),
        )
}
