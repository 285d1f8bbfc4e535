//! The not-found fallback: JSON for API paths, the friendly page for everything else (the pages
//! themselves are in `site`).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lsn_core::ApiError;

pub async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        return ApiError::not_found().into_response();
    }
    lsn_ui::error_response(StatusCode::NOT_FOUND)
}
