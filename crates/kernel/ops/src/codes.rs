//! The operations layer's error codes (monitoring, alerts, incidents, tasks, policies) and the HTTP status
//! each answers with (documented in `docs/errors.md`; `tests/integration/docs.rs` holds the two
//! together).

lsn_core::error_codes! {
    /// Why the operations layer refused a request that was well-formed.
    pub enum Code {
        AlertNotFiring = ("alert_not_firing", CONFLICT),
        ConditionNotBoolean = ("condition_not_boolean", BAD_REQUEST),
        ConditionTooLong = ("condition_too_long", BAD_REQUEST),
        ConditionTypeMismatch = ("condition_type_mismatch", BAD_REQUEST),
        IncidentResolved = ("incident_resolved", CONFLICT),
        InvalidCondition = ("invalid_condition", BAD_REQUEST),
        InvalidFact = ("invalid_fact", BAD_REQUEST),
        InvalidMessage = ("invalid_message", BAD_REQUEST),
        InvalidNote = ("invalid_note", BAD_REQUEST),
        InvalidPriority = ("invalid_priority", BAD_REQUEST),
        InvalidRecipient = ("invalid_recipient", BAD_REQUEST),
        InvalidSeverity = ("invalid_severity", BAD_REQUEST),
        InvalidSilence = ("invalid_silence", BAD_REQUEST),
        InvalidThreshold = ("invalid_threshold", BAD_REQUEST),
        MissingFact = ("missing_fact", BAD_REQUEST),
        PolicyFailed = ("policy_failed", UNPROCESSABLE_ENTITY),
        TaskClosed = ("task_closed", CONFLICT),
        UnknownAlertType = ("unknown_alert_type", BAD_REQUEST),
        UnknownFact = ("unknown_fact", BAD_REQUEST),
        UnknownFunction = ("unknown_function", BAD_REQUEST),
        UnknownMember = ("unknown_member", BAD_REQUEST),
        UnknownMetric = ("unknown_metric", BAD_REQUEST),
        UnknownOwner = ("unknown_owner", BAD_REQUEST),
    }
}

/// A refusal of the operations layer: its code, a message for a person, and the field it is
/// about (if one).
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{message}")]
    Rule { code: Code, message: String, field: Option<&'static str> },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl OpsError {
    pub fn rule(code: Code, message: impl Into<String>) -> Self {
        OpsError::Rule { code, message: message.into(), field: None }
    }

    pub fn field(code: Code, field: &'static str, message: impl Into<String>) -> Self {
        OpsError::Rule { code, message: message.into(), field: Some(field) }
    }
}

impl lsn_db::TxError for OpsError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            OpsError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<OpsError> for lsn_core::ApiError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Rule { code, message, field } => {
                let mut err = lsn_core::ApiError::new(code.status(), code.as_str(), message.clone());
                if let Some(f) = field {
                    err.fields = Some(serde_json::json!({ f: message }));
                }
                err
            }
            OpsError::NotFound => lsn_core::ApiError::not_found(),
            OpsError::Db(e) => lsn_core::ApiError::internal(e),
        }
    }
}
