//! The live status page: `GET /` (and `/status`) serves one self-contained HTML file (inline
//! CSS and JavaScript, compiled into the binary; no CDN, no build step), whose script fetches
//! `GET /status.json` every 2 seconds and redraws in place.
//!
//! The page itself holds no data, so it is served without a token; the data endpoint is behind
//! the monitor's bearer tokens when they are configured ([`crate::auth`]). A browser cannot
//! attach a bearer header to a page it navigates to, so the script takes the token from the
//! URL fragment (`/#token=…`, never sent to the server nor written to its logs), keeps it in the
//! tab's session storage, and sends it with every fetch; without one it asks for it.

mod snapshot;

pub use snapshot::{
    BatchProgress, BatchesInFlight, Failure, JobLine, JobProgress, Listed, QueueDepth,
    StageProgress, StatusSnapshot, WorkerActivity,
};

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::HttpState;

/// The page, compiled in.
pub const STATUS_PAGE_HTML: &str = include_str!("page.html");

/// What the page may load: nothing from elsewhere, only its own inline code and `/status.json`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /`, `GET /status`: the page.
pub async fn status_page() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        STATUS_PAGE_HTML,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /status.json`: the [`StatusSnapshot`]; 503 with `{"error": …}` when the database cannot
/// be read (the page shows the outage above the last data it had).
pub async fn status_json(State(state): State<HttpState>) -> Response {
    match StatusSnapshot::read(&state.dal, &state.status_page).await {
        Ok(snapshot) => {
            let mut response = Json(snapshot).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "status page: cannot read the job database");
            let body = serde_json::json!({ "error": format!("cannot read the job database: {e}") });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
