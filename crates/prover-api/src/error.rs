//! Refusals as the API answers them: a status, a stable code and a sentence naming what is
//! wrong.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::wire::ErrorBody;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not the request's JSON, or a field is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no, malformed, unknown or expired session token; a login that fails.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the prover is suspended.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such lease of this prover.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request changes nothing (stale or wrong token, job already proven, lease
    /// closed).
    #[error("{message}")]
    Conflict {
        /// The stable code (`wrong_token`, `stale_token`, `lease_closed`, `already_proven`, …).
        code: &'static str,
        /// What changed nothing, in words.
        message: String,
    },
    /// 413: the body is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 422: the proof was checked and refused.
    #[error("{message}")]
    ProofRefused {
        /// The refusal's reason code (`invalid_proof`, `wrong_public_inputs`,
        /// `malformed_submission`).
        code: &'static str,
        /// Why the proof was refused, in words.
        message: String,
    },
    /// 429: over the rate limit (or holding too many leases).
    #[error("{message}")]
    TooMany {
        /// Which limit, in words.
        message: String,
        /// When to try again, in seconds (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// 503: the database, the store or the circuits failed; nothing is held against the
    /// prover.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status the refusal is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ProofRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable code of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "suspended",
            Self::NotFound(_) => "not_found",
            Self::Conflict { code, .. } | Self::ProofRefused { code, .. } => code,
            Self::TooLarge(_) => "body_too_large",
            Self::TooMany { .. } => "rate_limited",
            Self::Internal(_) => "unavailable",
        }
    }

    /// An internal failure of `what` (the database, the store, …): logged with its cause,
    /// answered 503 without it.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, what, "prover API internal failure");
        Self::Internal(format!("{what} failed; try again later"))
    }
}

impl From<zkfleet_dal::DalError> for ApiError {
    fn from(error: zkfleet_dal::DalError) -> Self {
        Self::internal("the job database", error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: self.to_string(),
            code: self.code().to_owned(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::TooMany {
            retry_after_secs, ..
        } = &self
        {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"zkfleet-prover-api\""),
            );
        }
        response
    }
}
