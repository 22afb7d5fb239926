//! The built web UI (`--ui-dir`), served at `/`.
//!
//! A request path is served only if it names a file inside the directory:
//!
//! * a path with a segment that starts with `.` (`/.env`, `/.git/config`,
//!   percent-encoded or not) is 404, and so is a file whose real path has
//!   one below the root (a link to `.env`);
//! * links are followed only while they stay inside the directory: the
//!   file's canonical path must lie under the canonical root, else 404;
//! * a path that names nothing gets `index.html`, so the UI's own routes
//!   (`/feeds/host-1`) load the app.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The UI directory, canonical.
#[derive(Debug)]
pub(super) struct UiFiles {
    root: PathBuf,
}

impl UiFiles {
    /// `root` must exist; it is canonicalized once here.
    pub(super) fn new(root: &Path) -> std::io::Result<UiFiles> {
        Ok(UiFiles {
            root: std::fs::canonicalize(root)?,
        })
    }

    pub(super) async fn serve(&self, req: Request) -> Response {
        match self.resolve(req.uri().path()).await {
            Some(file) => match ServeFile::new(file).oneshot(req).await {
                Ok(res) => res.map(Body::new),
                Err(never) => match never {},
            },
            None => not_found(),
        }
    }

    /// The file to serve for `path`, or `None` for 404.
    async fn resolve(&self, path: &str) -> Option<PathBuf> {
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .ok()?;
        let mut candidate = self.root.clone();
        for segment in decoded.split('/').filter(|s| !s.is_empty()) {
            let mut parts = Path::new(segment).components();
            match (parts.next(), parts.next()) {
                (Some(Component::Normal(_)), None) if !segment.starts_with('.') => {}
                _ => return None,
            }
            if segment.contains(['\\', '\0']) {
                return None;
            }
            candidate.push(segment);
        }
        match tokio::fs::canonicalize(&candidate).await {
            Ok(real) => {
                let real = self.inside(real)?;
                if tokio::fs::metadata(&real).await.ok()?.is_dir() {
                    let index = self.inside(
                        tokio::fs::canonicalize(real.join("index.html"))
                            .await
                            .ok()?,
                    )?;
                    return Some(index);
                }
                Some(real)
            }
            // Not there: one of the UI's own routes; the app handles it.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => self
                .inside(
                    tokio::fs::canonicalize(self.root.join("index.html"))
                        .await
                        .ok()?,
                ),
            Err(_) => None,
        }
    }

    /// `real` if it lies under the root without a dot-segment below it.
    fn inside(&self, real: PathBuf) -> Option<PathBuf> {
        let rel = real.strip_prefix(&self.root).ok()?;
        let hidden = rel.components().any(|c| match c {
            Component::Normal(s) => s.to_string_lossy().starts_with('.'),
            _ => true,
        });
        (!hidden).then_some(real)
    }
}

pub(super) fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        "not found\n",
    )
        .into_response()
}
