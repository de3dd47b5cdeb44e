//! The queue on Redis, as python-socketio's `RedisManager` uses it: `PUBLISH` of the JSON
//! text on the channel, and one `SUBSCRIBE` to it. A publishing connection that
//! reconnects by itself (drops what it cannot send), and a subscribing one that this
//! module reconnects with backoff.

use crate::link::{next_backoff, Link, BACKOFF_MIN};
use crate::MqError;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// The most messages sent to Redis in one pipeline.
const PUBLISH_BATCH: usize = 256;

/// Connects both connections and subscribes; fails when Redis cannot be reached now.
pub(crate) async fn start(
    url: &str,
    channel: &str,
    link: &Arc<Link>,
    rx: mpsc::Receiver<Vec<u8>>,
) -> Result<(), MqError> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1))
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let publisher = client.get_connection_manager_with_config(config).await?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    tokio::spawn(publisher_task(
        Arc::downgrade(link),
        publisher,
        channel.to_owned(),
        rx,
    ));
    tokio::spawn(subscriber_task(
        Arc::downgrade(link),
        client,
        channel.to_owned(),
        pubsub,
    ));
    Ok(())
}

async fn publisher_task(
    link: Weak<Link>,
    mut conn: ConnectionManager,
    channel: String,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while rx.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
        let Some(link) = link.upgrade() else { return };
        let mut pipe = redis::pipe();
        for payload in batch.drain(..) {
            pipe.publish(&channel, payload).ignore();
        }
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => link.set_up(true, None),
            Err(e) => link.set_up(false, Some(&e)),
        }
    }
}

async fn subscriber_task(
    link: Weak<Link>,
    client: redis::Client,
    channel: String,
    first: redis::aio::PubSub,
) {
    let mut pubsub = Some(first);
    let mut backoff = BACKOFF_MIN;
    loop {
        if let Some(mut connection) = pubsub.take() {
            backoff = BACKOFF_MIN;
            if let Some(link) = link.upgrade() {
                link.set_up(true, None);
            }
            let mut stream = connection.on_message();
            while let Some(message) = stream.next().await {
                let Some(link) = link.upgrade() else { return };
                link.dispatch(message.get_payload_bytes());
            }
            if let Some(link) = link.upgrade() {
                link.set_up(false, Some(&"redis subscriber connection closed"));
            }
        }
        if link.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
        let attempt = async {
            let mut p = client.get_async_pubsub().await?;
            p.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(p)
        };
        match attempt.await {
            Ok(p) => pubsub = Some(p),
            Err(e) => tracing::debug!(error = %e, "redis subscribe failed; retrying"),
        }
    }
}

/// Publishes one message now (the emitter's path): resolves once Redis has it.
pub(crate) async fn publish_now(
    conn: &mut ConnectionManager,
    channel: &str,
    payload: Vec<u8>,
) -> Result<(), MqError> {
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query_async::<i64>(conn)
        .await?;
    Ok(())
}
