-- Live shopping: shows, their lineup, the room's event timeline (resume and replay), chat,
-- viewers and moderation.

CREATE TABLE live_shows (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    host_id TEXT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL DEFAULT 'scheduled',
    scheduled_at BIGINT NOT NULL,
    started_at BIGINT,
    ended_at BIGINT,
    video_kind TEXT NOT NULL DEFAULT 'none',
    video_url TEXT,
    slow_mode_secs BIGINT NOT NULL DEFAULT 0,
    pinned_product_id TEXT,
    peak_viewers BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT live_shows_status_check CHECK (status IN ('scheduled', 'live', 'ended')),
    CONSTRAINT live_shows_video_check CHECK (video_kind IN ('none', 'hls'))
);
CREATE INDEX live_shows_status_idx ON live_shows (status, scheduled_at);

CREATE TABLE live_lineup (
    show_id TEXT NOT NULL REFERENCES live_shows (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL REFERENCES products (id),
    position BIGINT NOT NULL,
    PRIMARY KEY (show_id, product_id)
);

CREATE TABLE live_events (
    show_id TEXT NOT NULL REFERENCES live_shows (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (show_id, seq)
);

CREATE TABLE live_chat_messages (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES live_shows (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    at BIGINT NOT NULL
);
CREATE INDEX live_chat_show_idx ON live_chat_messages (show_id, at);

CREATE TABLE live_viewers (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES live_shows (id) ON DELETE CASCADE,
    viewer_key TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    left_at BIGINT
);
CREATE INDEX live_viewers_show_idx ON live_viewers (show_id, viewer_key);

CREATE TABLE live_moderation (
    show_id TEXT NOT NULL REFERENCES live_shows (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    until_at BIGINT,
    actor_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (show_id, user_id, action),
    CONSTRAINT live_moderation_action_check CHECK (action IN ('mute', 'ban'))
);
