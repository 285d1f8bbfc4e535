//! The error body every API answer shares: `{"error": {"code", "message", "fields"?}}`.
//!
//! Domain errors are converted into an [`ApiError`] at the edge. A 5xx never carries the
//! cause: the detail goes to the log, the client gets a generic message.

pub use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), fields: None, headers: Vec::new() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(fields: Value) -> Self {
        Self {
            fields: Some(fields),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", crate::i18n::t("problem-validation"))
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", crate::i18n::t("problem-unauthenticated"))
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", crate::i18n::t("problem-forbidden"))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", crate::i18n::t("problem-not-found"))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many(retry_after_secs: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", crate::i18n::t("problem-rate-limited"));
        e.headers.push(("retry-after", retry_after_secs.max(1).to_string()));
        e
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// A 503 for a database that is out of reach: the request changed nothing, try again.
    pub fn database_unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "database unavailable");
        let mut e = Self::unavailable("database_unavailable", crate::i18n::t("problem-database"));
        e.headers.push(("retry-after", "5".into()));
        e
    }

    /// A 500 whose cause is logged here and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", crate::i18n::t("problem-internal"))
    }

    pub fn body(&self) -> Value {
        let mut err = json!({ "code": self.code, "message": self.message });
        if let Some(f) = &self.fields {
            err["fields"] = f.clone();
        }
        json!({ "error": err })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        for (k, v) in &self.headers {
            if let Ok(v) = axum::http::HeaderValue::from_str(v) {
                res.headers_mut().insert(*k, v);
            }
        }
        res
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s with stable codes instead of plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON (Content-Type: application/json).",
            )),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::bad_request("invalid_json", "The body is not valid JSON.")),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("The body does not have the expected fields: {}", e.body_text()),
            )),
            Err(e) => Err(ApiError::bad_request("invalid_body", e.body_text())),
        }
    }
}

/// Query strings likewise.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryArgs<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for QueryArgs<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryArgs(v)),
            Err(e) => Err(ApiError::bad_request("invalid_query", e.body_text())),
        }
    }
}

/// One domain's error codes as an enum, each with the HTTP status it answers with:
///
/// ```
/// lsn_core::error_codes! {
///     /// What the example refuses.
///     pub enum Code {
///         SoldOut = ("sold_out", CONFLICT),
///         BadInput = ("bad_input", BAD_REQUEST),
///     }
/// }
/// assert_eq!(Code::SoldOut.as_str(), "sold_out");
/// assert_eq!(Code::BadInput.status(), axum::http::StatusCode::BAD_REQUEST);
/// assert_eq!(Code::ALL.len(), 2);
/// ```
///
/// `ALL` lists every code, so a test can hold `docs/errors.md` to them.
#[macro_export]
macro_rules! error_codes {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = ($code:literal, $status:ident)),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vm])* $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The code as clients see it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),*
                }
            }

            /// The HTTP status this code answers with.
            pub fn status(self) -> $crate::problem::StatusCode {
                match self {
                    $($name::$variant => $crate::problem::StatusCode::$status),*
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
