//! Delivery through a real RabbitMQ of the test's own: a broker stopped mid-stream and
//! restarted loses nothing and reorders nothing; replicas share the queue; what is not a
//! message of ours is dead-lettered, and a stale copy is dropped unposted.

use std::{collections::HashMap, time::Duration};

use alloy_primitives::{Address, address};
use btcr_notify::{
    Channel, EventKind, NewSubscription, Notify, NotifyConfig,
    amqp::{DEAD_LETTER_QUEUE, DELIVERY_QUEUE},
};
use btcr_testkit::{TempRabbit, WebhookReceiver as Receiver, eventually_async};
use lapin::{
    BasicProperties, Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicPublishOptions},
};
use tokio_util::sync::CancellationToken;

use crate::{
    Backend,
    chain::{block, dev, pay},
};

const STRANGER: Address = address!("00000000000000000000000000000000000000bb");

/// Deliveries through `rabbit`, with the wall clock (leases and retries run out on their
/// own) and short waits.
fn through(rabbit: &TempRabbit) -> NotifyConfig {
    NotifyConfig {
        allow_private_targets: true,
        retry_delays: vec![Duration::from_millis(500); 20],
        request_timeout: Duration::from_secs(5),
        amqp_url: Some(rabbit.url()),
        dispatch_lease: Duration::from_secs(5),
        ..Default::default()
    }
}

fn webhook(endpoint: i64) -> NewSubscription {
    NewSubscription {
        address: None,
        kinds: vec![EventKind::TransferOut],
        channel: Channel::Webhook,
        endpoint_id: Some(endpoint),
    }
}

/// Blocks `from..from + n`, each one payment from dev key 1.
fn payments(from: u64, n: u64) -> Vec<btcr_interfaces::CommittedBlock> {
    (from..from + n).map(|h| block(h, vec![pay(1, STRANGER, h)])).collect()
}

/// Starts (or restarts) a broker off the runtime's threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> eyre::Result<T> + Send + 'static,
) -> eyre::Result<T> {
    tokio::task::spawn_blocking(f).await?
}

/// Stops the broker off the runtime's threads (it takes a few seconds).
async fn blocking_stop(rabbit: &mut TempRabbit) -> eyre::Result<()> {
    tokio::task::block_in_place(|| rabbit.stop());
    Ok(())
}

/// Every message of every endpoint delivered, checked against the outbox.
async fn all_delivered(notify: &Notify, user: i64, endpoints: &[i64], count: usize) -> bool {
    let mut delivered = 0;
    for e in endpoints {
        let Ok(messages) = notify.messages(user, *e, None, 100).await else { return false };
        delivered +=
            messages.iter().filter(|m| m.state == btcr_notify::MessageState::Delivered).count();
    }
    delivered == count
}

/// What the receiver accepted: each id once, in the order first accepted; a copy must
/// carry the same body.
fn first_accepted(receiver: &Receiver) -> Vec<String> {
    let mut bodies: HashMap<String, Vec<u8>> = HashMap::new();
    for r in receiver.received() {
        let body = bodies.entry(r.id.clone()).or_insert_with(|| r.body.clone());
        assert_eq!(*body, r.body, "a copy under {} differs", r.id);
    }
    let mut seen = Vec::new();
    for r in receiver.accepted() {
        if !seen.contains(&r.id) {
            seen.push(r.id.clone());
        }
    }
    seen
}

async fn a_broker_stopped_mid_stream_loses_and_reorders_nothing(b: Backend) -> eyre::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut rabbit = blocking(TempRabbit::start).await?;
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let mut endpoints = Vec::new();
    for name in ["a", "b", "c"] {
        let id = b.notify.create_endpoint(alice, &receiver.url(), name).await?.endpoint.id;
        b.notify.subscribe(alice, webhook(id)).await?;
        endpoints.push(id);
    }
    // Two replicas, each with its relay and its worker, on one database and one broker.
    let shutdown = CancellationToken::new();
    let one = b.reopen(through(&rabbit)).await?;
    let two = b.reopen(through(&rabbit)).await?;
    one.spawn_workers(shutdown.clone());
    two.spawn_workers(shutdown.clone());

    one.apply(&payments(1, 15).into_iter().map(std::sync::Arc::new).collect::<Vec<_>>()).await?;
    assert!(
        eventually_async(|| async { receiver.accepted().len() >= 5 }).await,
        "deliveries started"
    );
    // Stopped mid-stream: messages are in the queue, unacknowledged, being published.
    blocking_stop(&mut rabbit).await?;
    two.apply(&payments(16, 15).into_iter().map(std::sync::Arc::new).collect::<Vec<_>>()).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_restart = receiver.accepted().len();
    assert!(before_restart <= 45, "nothing of the second run can go out with the broker down");
    let mut rabbit = blocking(move || {
        rabbit.restart()?;
        Ok(rabbit)
    })
    .await?;

    let done = eventually_async(|| all_delivered(&b.notify, alice, &endpoints, 90)).await;
    if !done {
        for e in &endpoints {
            for m in b.notify.messages(alice, *e, None, 100).await? {
                eprintln!("{e} {} {:?} {} {:?}", m.sequence, m.state, m.attempts, m.log);
            }
        }
    }
    assert!(done, "every message delivered after the restart");
    let accepted = first_accepted(&receiver);
    let mut written = Vec::new();
    for e in &endpoints {
        written.extend(
            b.notify.messages(alice, *e, None, 100).await?.into_iter().map(|m| m.message_id),
        );
    }
    let strangers: Vec<&String> = accepted.iter().filter(|id| !written.contains(id)).collect();
    assert!(strangers.is_empty(), "accepted ids no message has: {strangers:?}");
    assert_eq!(accepted.len(), 90, "each message accepted");
    for e in &endpoints {
        let written = b.notify.messages(alice, *e, None, 100).await?;
        let in_order: Vec<&str> = written.iter().rev().map(|m| m.message_id.as_str()).collect();
        let got: Vec<&str> =
            accepted.iter().map(String::as_str).filter(|id| in_order.contains(id)).collect();
        assert_eq!(got, in_order, "endpoint {e}: in the order written");
    }
    shutdown.cancel();
    rabbit.kill();
    Ok(())
}

async fn what_is_not_ours_is_dead_lettered_and_a_stale_copy_is_dropped(
    b: Backend,
) -> eyre::Result<()> {
    let rabbit = blocking(TempRabbit::start).await?;
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let endpoint = b.notify.create_endpoint(alice, &receiver.url(), "").await?.endpoint.id;
    b.notify.subscribe(alice, webhook(endpoint)).await?;
    let shutdown = CancellationToken::new();
    let notify = b.reopen(through(&rabbit)).await?;
    notify.spawn_workers(shutdown.clone());
    notify.apply(&[std::sync::Arc::new(block(1, vec![pay(1, STRANGER, 1)]))]).await?;
    let one = [endpoint];
    assert!(eventually_async(|| all_delivered(&notify, alice, &one, 1)).await);

    // Another publisher's garbage, and a copy of a delivered message under a spent token.
    let connection = Connection::connect(&rabbit.url(), ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let seq = b.notify.messages(alice, endpoint, None, 1).await?[0].sequence;
    for body in [
        b"not json at all".to_vec(),
        serde_json::to_vec(&serde_json::json!({"seq": seq, "token": "spent"}))?,
        serde_json::to_vec(&serde_json::json!({"seq": seq}))?,
    ] {
        channel
            .basic_publish(
                "".into(),
                DELIVERY_QUEUE.into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default(),
            )
            .await?
            .await?;
    }
    let dead = std::sync::Mutex::new(Vec::new());
    let got_both = eventually_async(|| async {
        if let Ok(Some(message)) =
            channel.basic_get(DEAD_LETTER_QUEUE.into(), BasicGetOptions { no_ack: true }).await
        {
            dead.lock().unwrap().push(message.delivery.data.clone());
        }
        dead.lock().unwrap().len() == 2
    })
    .await;
    let dead = dead.into_inner().unwrap();
    assert!(got_both, "dead-lettered: {dead:?}");
    assert!(dead.contains(&b"not json at all".to_vec()));
    // The stale copy was taken off the queue and dropped: nothing posted twice, nothing
    // left behind.
    let queue = channel
        .queue_declare(
            DELIVERY_QUEUE.into(),
            lapin::options::QueueDeclareOptions { passive: true, ..Default::default() },
            Default::default(),
        )
        .await?;
    assert_eq!(queue.message_count(), 0);
    assert_eq!(receiver.received().len(), 1);
    shutdown.cancel();
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

async fn a_message_published_but_never_taken_is_published_again(b: Backend) -> eyre::Result<()> {
    let rabbit = blocking(TempRabbit::start).await?;
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let endpoint = b.notify.create_endpoint(alice, &receiver.url(), "").await?.endpoint.id;
    b.notify.subscribe(alice, webhook(endpoint)).await?;
    let relay = b.reopen(through(&rabbit)).await?;
    relay.apply(&[std::sync::Arc::new(block(1, vec![pay(1, STRANGER, 1)]))]).await?;
    // A relay publishes it, and the broker loses it (the queue is purged, as an operator
    // might): the outbox still owes it.
    let connection = Connection::connect(&rabbit.url(), ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(Default::default()).await?;
    btcr_notify::amqp::declare(&channel).await?;
    assert_eq!(relay.dispatch_due(&channel).await?, 1);
    assert_eq!(channel.queue_purge(DELIVERY_QUEUE.into(), Default::default()).await?, 1);
    // Its lease runs out, and a running relay publishes it again for the workers.
    let shutdown = CancellationToken::new();
    relay.spawn_workers(shutdown.clone());
    let one = [endpoint];
    assert!(eventually_async(|| all_delivered(&relay, alice, &one, 1)).await);
    assert_eq!(receiver.accepted().len(), 1);
    shutdown.cancel();
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

btcr_testkit::on_both_databases!(
    crate::open;
    a_broker_stopped_mid_stream_loses_and_reorders_nothing,
    what_is_not_ours_is_dead_lettered_and_a_stale_copy_is_dropped,
    a_message_published_but_never_taken_is_published_again,
);
