//! The web UI (`web/`, built by Vite into `web/dist`) served from the binary: files are
//! embedded in release builds and read from `web/dist` in debug builds. Any other path
//! that is not a file is a route of the single-page app and gets `index.html`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Assets;

/// Whether the UI was built into (or, in a debug build, is next to) this binary.
pub fn available() -> bool {
    Assets::get("index.html").is_some()
}

const NOT_BUILT: &str = r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>接诉即办</title></head><body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>接诉即办</h1><p>网页界面尚未构建。请在源码目录运行 <code>scripts/build-web.sh</code>
（或 <code>scripts/demo.sh</code>，它会先构建界面）后重新编译。</p>
<p>接口文档：<a href="/api/docs/">/api/docs/</a></p></body></html>"#;

/// Content Security Policy of the UI: its own scripts only; Element Plus sets inline styles.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
base-uri 'self'; form-action 'self'";

pub async fn serve(uri: Uri, req_headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (name, file) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(f) => (path, f),
        None => {
            // A missing file (it has an extension) is a 404, not the app: a stale chunk
            // must fail loudly instead of being parsed as HTML.
            let last = path.rsplit('/').next().unwrap_or("");
            if last.contains('.') {
                return (StatusCode::NOT_FOUND, "not found").into_response();
            }
            match Assets::get("index.html") {
                Some(f) => ("index.html", f),
                None => return (StatusCode::OK, Html(NOT_BUILT)).into_response(),
            }
        }
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    // Hashed assets never change; the app's entry page is revalidated every time.
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if name.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    (headers, file.data.into_owned()).into_response()
}
