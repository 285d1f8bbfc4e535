-- The analytics aggregation reads the live domain's events by time (issue 15): index them by it.
CREATE INDEX live_shows_started_at_idx ON live_shows (started_at);
CREATE INDEX live_chat_at_idx ON live_chat_messages (at);
CREATE INDEX live_viewers_joined_at_idx ON live_viewers (joined_at);
CREATE INDEX gift_ledger_at_idx ON gift_ledger (at);
