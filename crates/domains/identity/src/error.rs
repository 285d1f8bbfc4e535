use axum::http::StatusCode;
use lsn_core::i18n;
use lsn_core::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid input")]
    Validation(serde_json::Value),
    #[error("email or password is incorrect")]
    InvalidCredentials,
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    /// Too many password hashes running or waiting (`crate::password::CONCURRENT`).
    #[error("busy")]
    Busy,
    #[error("email not verified")]
    NotVerified,
    #[error("the link is invalid or has expired")]
    InvalidToken,
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("oauth: {0}")]
    OAuth(String),
    #[error("oauth is not configured")]
    OAuthDisabled,
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
    #[error("{0}")]
    Internal(String),
}

impl lsn_db::TxError for IdentityError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            IdentityError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Validation(fields) => ApiError::validation(fields),
            IdentityError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", i18n::t("identity-invalid-credentials"))
            }
            IdentityError::RateLimited { retry_after_secs } => ApiError::too_many(retry_after_secs),
            IdentityError::Busy => {
                let mut e = ApiError::unavailable("overloaded", i18n::t("identity-busy"));
                e.headers.push(("retry-after", "1".into()));
                e
            }
            IdentityError::NotVerified => ApiError::new(StatusCode::FORBIDDEN, "email_not_verified", i18n::t("identity-not-verified")),
            IdentityError::InvalidToken => ApiError::bad_request("invalid_token", i18n::t("identity-invalid-token")),
            IdentityError::Unauthenticated => ApiError::unauthorized(),
            IdentityError::Forbidden => ApiError::forbidden(),
            IdentityError::NotFound => ApiError::not_found(),
            IdentityError::Conflict(code) => ApiError::conflict(code, i18n::t("identity-conflict")),
            IdentityError::OAuth(detail) => {
                tracing::warn!("oauth sign-in failed: {detail}");
                ApiError::bad_request("oauth_failed", i18n::t("identity-oauth-failed"))
            }
            IdentityError::OAuthDisabled => ApiError::new(StatusCode::NOT_FOUND, "oauth_disabled", i18n::t("identity-oauth-disabled")),
            IdentityError::Db(e) if lsn_db::is_unavailable(&e) => ApiError::database_unavailable(e),
            IdentityError::Db(e) => ApiError::internal(e),
            IdentityError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl axum::response::IntoResponse for IdentityError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}
