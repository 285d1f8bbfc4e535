//! The creators domain's error codes and the HTTP status each answers with (documented in
//! `docs/errors.md`; `tests/integration/docs.rs` holds the two together).

lsn_core::error_codes! {
    /// Why the creators domain refused a request that was well-formed.
    pub enum Code {
        AlreadyApplied = ("already_applied", CONFLICT),
        NotACreator = ("not_a_creator", CONFLICT),
        CreatorNotApproved = ("creator_not_approved", CONFLICT),
        InvalidTransition = ("creator_invalid_transition", CONFLICT),
        HandleTaken = ("handle_taken", CONFLICT),
        LinkCodeTaken = ("link_code_taken", CONFLICT),
        BelowMinimum = ("payout_below_minimum", UNPROCESSABLE_ENTITY),
        InsufficientBalance = ("insufficient_balance", CONFLICT),
        NoBankAccount = ("no_bank_account", CONFLICT),
        PayoutNotAwaiting = ("payout_not_awaiting_approval", CONFLICT),
        CurrencyMismatch = ("payout_currency_mismatch", UNPROCESSABLE_ENTITY),
        BadSignature = ("bad_signature", BAD_REQUEST),
        UnknownTransfer = ("unknown_transfer", NOT_FOUND),
        NotInvited = ("not_invited", FORBIDDEN),
    }
}
