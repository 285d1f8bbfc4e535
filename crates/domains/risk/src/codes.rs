//! The risk domain's error codes and the HTTP status each answers with (documented in
//! `docs/errors.md`; `tests/integration/docs.rs` holds the two together).

lsn_core::error_codes! {
    /// Why the risk domain refused a request that was well-formed.
    pub enum Code {
        AlreadyDecided = ("risk_already_decided", CONFLICT),
        NotHeld = ("risk_not_held", CONFLICT),
        UnknownReason = ("risk_unknown_reason", UNPROCESSABLE_ENTITY),
        ListEntryExists = ("risk_list_entry_exists", CONFLICT),
        NoLabels = ("risk_not_enough_labels", CONFLICT),
        UnknownModel = ("risk_unknown_model", NOT_FOUND),
    }
}
