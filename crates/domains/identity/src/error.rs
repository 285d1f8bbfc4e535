use axum::http::StatusCode;
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
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "Email or password is incorrect.")
            }
            IdentityError::RateLimited { retry_after_secs } => ApiError::too_many(retry_after_secs),
            IdentityError::Busy => {
                let mut e = ApiError::unavailable("overloaded", "Too many sign-ins at once. Try again in a moment.");
                e.headers.push(("retry-after", "1".into()));
                e
            }
            IdentityError::NotVerified => {
                ApiError::new(StatusCode::FORBIDDEN, "email_not_verified", "Confirm your email address first: we sent you a link.")
            }
            IdentityError::InvalidToken => ApiError::bad_request("invalid_token", "This link is invalid, has expired or was already used."),
            IdentityError::Unauthenticated => ApiError::unauthorized(),
            IdentityError::Forbidden => ApiError::forbidden(),
            IdentityError::NotFound => ApiError::not_found(),
            IdentityError::Conflict(code) => ApiError::conflict(code, "That conflicts with the current state."),
            IdentityError::OAuth(detail) => {
                tracing::warn!("oauth sign-in failed: {detail}");
                ApiError::bad_request("oauth_failed", "Sign-in with the identity provider failed. Try again.")
            }
            IdentityError::OAuthDisabled => ApiError::new(StatusCode::NOT_FOUND, "oauth_disabled", "OAuth sign-in is not configured."),
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
