//! The live domain's error codes and the HTTP status each answers with (documented in
//! `docs/errors.md`; `tests/integration/docs.rs` holds the two together). In a room the same
//! codes come back in a refusal frame (`docs/live-protocol.md`).

lsn_core::error_codes! {
    /// Why the live domain refused a request that was well-formed.
    pub enum Code {
        AlreadyPaid = ("already_paid", CONFLICT),
        AmountOutOfRange = ("amount_out_of_range", BAD_REQUEST),
        AuctionClosed = ("auction_closed", CONFLICT),
        AwardFailed = ("award_failed", CONFLICT),
        BidTooLow = ("bid_too_low", CONFLICT),
        Busy = ("busy", CONFLICT),
        DealRefused = ("deal_refused", CONFLICT),
        InvalidTransition = ("invalid_transition", CONFLICT),
        NoNextBidder = ("no_next_bidder", CONFLICT),
        NoWinner = ("no_winner", CONFLICT),
        NothingPinned = ("nothing_pinned", CONFLICT),
        ShowEnded = ("show_ended", CONFLICT),
        ShowNotLive = ("show_not_live", CONFLICT),
    }
}
