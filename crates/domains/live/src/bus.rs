//! Rooms across nodes through Redis (when `REDIS_URL` is set).
//!
//! Every event is numbered and published by one Lua script — `INCR` the room's sequence, put the
//! number in the frame, `PUBLISH` it — which Redis runs atomically, so every node receives a room's
//! events in sequence order. Each node subscribes to all rooms and hands the frames to its local
//! viewers; the node that published an event also records it. The viewer count is a Redis counter
//! shared by all nodes.

use redis::AsyncCommands;

const PUBLISH: &str = r"
local seq = redis.call('INCR', KEYS[1])
local frame = string.gsub(ARGV[1], '__SEQ__', tostring(seq), 1)
redis.call('PUBLISH', KEYS[2], frame)
return seq
";

pub const CHANNEL_PREFIX: &str = "lsn:room:";

#[derive(Clone)]
pub struct Bus {
    client: redis::Client,
    conn: redis::aio::MultiplexedConnection,
    script: redis::Script,
}

impl Bus {
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_multiplexed_async_connection().await?;
        Ok(Self { client, conn, script: redis::Script::new(PUBLISH) })
    }

    fn seq_key(show: &str) -> String {
        format!("{CHANNEL_PREFIX}{show}:seq")
    }

    fn viewers_key(show: &str) -> String {
        format!("{CHANNEL_PREFIX}{show}:viewers")
    }

    pub fn channel(show: &str) -> String {
        format!("{CHANNEL_PREFIX}{show}")
    }

    /// Makes the room's sequence at least `seq` (a node that opens a room knows the stored maximum).
    pub async fn seed_seq(&self, show: &str, seq: i64) -> Result<(), redis::RedisError> {
        let mut c = self.conn.clone();
        let _: () = redis::cmd("SET").arg(Self::seq_key(show)).arg(seq).arg("NX").query_async(&mut c).await?;
        Ok(())
    }

    /// Numbers and publishes a frame whose JSON holds the placeholder `__SEQ__`; returns the number.
    pub async fn publish(&self, show: &str, frame_template: &str) -> Result<i64, redis::RedisError> {
        let mut c = self.conn.clone();
        self.script.key(Self::seq_key(show)).key(Self::channel(show)).arg(frame_template).invoke_async(&mut c).await
    }

    pub async fn viewers_delta(&self, show: &str, delta: i64) -> Result<i64, redis::RedisError> {
        let mut c = self.conn.clone();
        c.incr(Self::viewers_key(show), delta).await
    }

    pub async fn viewers(&self, show: &str) -> Result<i64, redis::RedisError> {
        let mut c = self.conn.clone();
        Ok(c.get::<_, Option<i64>>(Self::viewers_key(show)).await?.unwrap_or(0).max(0))
    }

    /// Streams `(show_id, frame)` for every room's events until the connection drops.
    pub async fn subscribe(&self) -> Result<impl futures::Stream<Item = (String, String)>, redis::RedisError> {
        use futures::StreamExt;
        let mut ps = self.client.get_async_pubsub().await?;
        ps.psubscribe(format!("{CHANNEL_PREFIX}*")).await?;
        Ok(ps.into_on_message().filter_map(|m| async move {
            let channel: String = m.get_channel_name().to_string();
            let show = channel.strip_prefix(CHANNEL_PREFIX)?.to_string();
            let payload: String = m.get_payload().ok()?;
            Some((show, payload))
        }))
    }
}
