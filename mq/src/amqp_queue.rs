//! The queue on RabbitMQ (AMQP 0-9-1), as python-socketio's `KombuManager` sets it up with
//! kombu 5: a fanout exchange named after the channel (not durable, not auto-deleted),
//! and for each listening node a queue `python-socketio.<uuid4>` bound to it (not
//! durable, `x-expires` 300000 ms, so a node that is gone leaves nothing behind). A
//! message is what kombu's default JSON serializer makes of the JSON text python-socketio
//! hands it: that text as a JSON string, `content_type` `application/json`,
//! `content_encoding` `utf-8`, `delivery_mode` 2, priority 0.

use crate::link::{next_backoff, Link, BACKOFF_MIN};
use crate::MqError;
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;

/// How long kombu's queues outlive their last consumer (its `x-expires`), in ms.
const QUEUE_EXPIRES_MS: i32 = 300_000;
/// The most messages taken from the publish queue at once.
const PUBLISH_BATCH: usize = 256;

/// A connection with its channel, the exchange declared.
pub(crate) struct Publisher {
    _connection: Connection,
    channel: Channel,
    exchange: String,
}

impl Publisher {
    /// Connects and declares the exchange as kombu does.
    pub(crate) async fn open(url: &str, exchange: &str) -> Result<Publisher, lapin::Error> {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Fanout,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Publisher {
            _connection: connection,
            channel,
            exchange: exchange.to_owned(),
        })
    }

    /// Publishes the JSON text `payload` as kombu would.
    pub(crate) async fn publish(&self, payload: &[u8]) -> Result<(), lapin::Error> {
        let text = String::from_utf8_lossy(payload);
        let body = serde_json::to_vec(&serde_json::Value::String(text.into_owned()))
            .expect("a string always serializes");
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_content_encoding("utf-8".into())
            .with_delivery_mode(2)
            .with_priority(0)
            .with_headers(FieldTable::default());
        self.channel
            .basic_publish(
                self.exchange.as_str().into(),
                "".into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?;
        Ok(())
    }
}

/// A node's session: the publisher, and a consumer of the node's own queue.
struct Session {
    publisher: Publisher,
    consumer: Consumer,
}

impl Session {
    async fn open(url: &str, exchange: &str) -> Result<Session, lapin::Error> {
        let publisher = Publisher::open(url, exchange).await?;
        let channel = &publisher.channel;
        let queue = format!("python-socketio.{}", crate::uuid4());
        let mut arguments = FieldTable::default();
        arguments.insert("x-expires".into(), AMQPValue::LongInt(QUEUE_EXPIRES_MS));
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                arguments,
            )
            .await?;
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(Session {
            publisher,
            consumer,
        })
    }
}

/// Connects, declares and consumes now; fails when RabbitMQ cannot be reached.
pub(crate) async fn start(
    url: &str,
    channel: &str,
    link: &Arc<Link>,
    rx: mpsc::Receiver<Vec<u8>>,
) -> Result<(), MqError> {
    let session = Session::open(url, channel).await?;
    tokio::spawn(run(
        Arc::downgrade(link),
        url.to_owned(),
        channel.to_owned(),
        session,
        rx,
    ));
    Ok(())
}

/// Why a session ended.
enum End {
    /// The node is gone: stop.
    Gone,
    /// RabbitMQ went away: reconnect.
    Lost(String),
}

async fn run(
    link: Weak<Link>,
    url: String,
    exchange: String,
    first: Session,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut session = Some(first);
    let mut backoff = BACKOFF_MIN;
    loop {
        if let Some(s) = session.take() {
            backoff = BACKOFF_MIN;
            if let Some(link) = link.upgrade() {
                link.set_up(true, None);
            }
            match drive(&link, s, &mut rx).await {
                End::Gone => return,
                End::Lost(e) => match link.upgrade() {
                    Some(link) => link.set_up(false, Some(&e)),
                    None => return,
                },
            }
        }
        // While RabbitMQ is away, what the node publishes is dropped: a late broadcast
        // is worse than a lost one, and the queue stays bounded.
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                message = rx.recv() => if message.is_none() { return },
            }
        }
        backoff = next_backoff(backoff);
        match Session::open(&url, &exchange).await {
            Ok(s) => session = Some(s),
            Err(e) => tracing::debug!(error = %e, "rabbitmq reconnect failed; retrying"),
        }
    }
}

/// Consumes and publishes until the session fails or the node is gone.
async fn drive(link: &Weak<Link>, mut session: Session, rx: &mut mpsc::Receiver<Vec<u8>>) -> End {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        tokio::select! {
            delivery = session.consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    let Some(link) = link.upgrade() else { return End::Gone };
                    link.dispatch(&delivery.data);
                }
                Some(Err(e)) => return End::Lost(e.to_string()),
                None => return End::Lost("consumer closed".into()),
            },
            n = rx.recv_many(&mut batch, PUBLISH_BATCH) => {
                if n == 0 {
                    return End::Gone;
                }
                for payload in batch.drain(..) {
                    if let Err(e) = session.publisher.publish(&payload).await {
                        return End::Lost(e.to_string());
                    }
                }
            }
        }
    }
}
