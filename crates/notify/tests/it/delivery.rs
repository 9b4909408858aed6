//! From committed blocks to the portal's list and to webhook receivers: what is written,
//! signed, retried, disabled, replayed, and never lost or reordered.

use std::time::Duration;

use alloy_primitives::{Address, address};
use btcr_notify::{
    Channel, EventKind, MessageState, NewSubscription, NotifyConfig, NotifyError, signing,
};

use btcr_testkit::WebhookReceiver as Receiver;

use crate::{
    Backend,
    chain::{block, dev, pay, slashed, token_transfer},
};

const TOKEN: Address = address!("00000000000000000000000000000000000000aa");
const STRANGER: Address = address!("00000000000000000000000000000000000000bb");

fn webhook(address: Option<Address>, kinds: &[EventKind], endpoint: i64) -> NewSubscription {
    NewSubscription {
        address: address.map(|a| format!("{a:#x}")),
        kinds: kinds.to_vec(),
        channel: Channel::Webhook,
        endpoint_id: Some(endpoint),
    }
}

fn portal(kinds: &[EventKind]) -> NewSubscription {
    NewSubscription {
        address: None,
        kinds: kinds.to_vec(),
        channel: Channel::Portal,
        endpoint_id: None,
    }
}

/// Dev key 1 pays `n` blocks of 1..=n wei to a stranger, from height `from`.
fn payments(from: u64, n: u64) -> Vec<btcr_interfaces::CommittedBlock> {
    (from..from + n).map(|h| block(h, vec![pay(1, STRANGER, h)])).collect()
}

/// The `value` of each accepted message, in order.
/// The error of a call that must fail.
fn refused<T: std::fmt::Debug>(r: Result<T, NotifyError>) -> NotifyError {
    r.unwrap_err()
}

fn values(receiver: &Receiver) -> Vec<String> {
    receiver
        .accepted()
        .iter()
        .map(|r| r.json()["data"]["value"].as_str().unwrap().to_owned())
        .collect()
}

async fn events_reach_the_portal_and_a_signed_webhook_in_order(b: Backend) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1), dev(2)]).await?;
    let created = b.notify.create_endpoint(alice, &receiver.url(), "mine").await?;
    let sub = b
        .notify
        .subscribe(
            alice,
            webhook(
                Some(dev(1)),
                &[EventKind::TransferOut, EventKind::TransferIn],
                created.endpoint.id,
            ),
        )
        .await?;
    b.notify.subscribe(alice, portal(&EventKind::ALL)).await?;
    // Someone who watches nothing of this gets nothing.
    let bob = b.user("bob@example.com", &[STRANGER]).await?;

    b.apply(&[
        block(1, vec![pay(1, dev(2), 5)]),
        block(2, vec![pay(1, TOKEN, 0).log(token_transfer(TOKEN, dev(1), STRANGER, 7))]),
        block(3, vec![pay(3, STRANGER, 9).reverted()]),
        block(4, vec![pay(4, STRANGER, 1).log(slashed(dev(2)))]),
    ])
    .await?;
    assert_eq!(b.notify.checkpoint().await?, Some(4));
    assert_eq!(b.deliver().await?, 2, "two transfers of dev 1, one at a time");
    let got = receiver.accepted();
    assert_eq!(got.len(), 2);
    let (first, second) = (got[0].json(), got[1].json());
    assert_eq!(first["type"], "transfer.out");
    assert_eq!(first["data"]["asset"], "BTCR");
    assert_eq!(first["data"]["value"], "5");
    assert_eq!(first["data"]["blockNumber"], 1);
    assert_eq!(first["data"]["subscriptionId"], sub.id);
    assert_eq!(second["type"], "transfer.out");
    assert_eq!(second["data"]["asset"], format!("{TOKEN:#x}"));
    assert_eq!(second["data"]["value"], "7");
    for r in &got {
        assert!(r.id.starts_with("msg_"));
        assert!(signing::verify(&created.secret, &r.signature, &r.id, r.timestamp, &r.body));
        assert!(!signing::verify(
            &signing::new_secret(),
            &r.signature,
            &r.id,
            r.timestamp,
            &r.body
        ));
    }
    // The delivery log: one successful attempt each.
    let messages = b.notify.messages(alice, created.endpoint.id, None, 10).await?;
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.state == MessageState::Delivered && m.log.len() == 1));
    assert_eq!(messages[0].log[0].status, Some(200));
    assert_eq!(messages[0].message_id, got[1].id, "newest first");

    // The portal's list: every kind for both watched addresses, newest first.
    let page = b.notify.notifications(alice, None, 50).await?;
    let kinds: Vec<(&str, &str)> = page
        .notifications
        .iter()
        .map(|n| (n.kind.as_str(), n.payload["data"]["address"].as_str().unwrap()))
        .rev()
        .collect();
    let (one, two) = (format!("{:#x}", dev(1)), format!("{:#x}", dev(2)));
    assert_eq!(
        kinds,
        vec![
            ("transaction.finalized", one.as_str()),
            ("transaction.finalized", two.as_str()),
            ("transfer.out", one.as_str()),
            ("transfer.in", two.as_str()),
            ("transaction.finalized", one.as_str()),
            ("transfer.out", one.as_str()),
            ("validator.slashed", two.as_str()),
        ]
    );
    assert_eq!(page.unread, 7);
    let slash = &page.notifications[0].payload["data"];
    assert_eq!(
        (slash["jailedUntilEpoch"].as_u64(), slash["amount"].as_str()),
        (Some(9), Some("1000"))
    );
    assert_eq!(b.notify.mark_read(alice, page.notifications[3].id).await?, 4);
    assert_eq!(b.notify.notifications(alice, None, 50).await?.unread, 3);
    assert!(b.notify.notifications(bob, None, 50).await?.notifications.is_empty());

    // The same blocks applied again (a crash before the checkpoint was read back) write
    // nothing twice.
    b.apply(&[
        block(1, vec![pay(1, dev(2), 5)]),
        block(2, vec![pay(1, TOKEN, 0).log(token_transfer(TOKEN, dev(1), STRANGER, 7))]),
    ])
    .await?;
    assert_eq!(b.deliver().await?, 0);
    assert_eq!(b.notify.notifications(alice, None, 50).await?.notifications.len(), 7);
    Ok(())
}

async fn a_receiver_that_is_down_gets_everything_in_order_when_back(
    b: Backend,
) -> eyre::Result<()> {
    let mut receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let endpoint = b.notify.create_endpoint(alice, &receiver.url(), "").await?.endpoint.id;
    b.notify.subscribe(alice, webhook(None, &[EventKind::TransferOut], endpoint)).await?;
    receiver.down();
    b.apply(&payments(1, 5)).await?;
    // Only the oldest is tried while it fails: the others wait behind it.
    assert_eq!(b.deliver().await?, 1);
    let messages = b.notify.messages(alice, endpoint, None, 10).await?;
    let oldest = messages.last().unwrap();
    assert_eq!((oldest.state, oldest.attempts), (MessageState::Pending, 1));
    assert!(oldest.log[0].error.as_deref().unwrap().contains("connecting"), "{:?}", oldest.log);
    assert!(messages[..4].iter().all(|m| m.attempts == 0));
    assert_eq!(b.notify.endpoint(alice, endpoint).await?.failing_since_ms, Some(1_800_000_000_000));
    // Not due yet.
    assert_eq!(b.deliver().await?, 0);
    // Still down at the first retry; more blocks come.
    b.clock.advance(Duration::from_secs(10));
    assert_eq!(b.deliver().await?, 1);
    b.apply(&payments(6, 3)).await?;
    receiver.up()?;
    b.clock.advance(Duration::from_secs(60));
    assert_eq!(b.deliver().await?, 8);
    assert_eq!(values(&receiver), (1..=8).map(|v| v.to_string()).collect::<Vec<_>>());
    let endpoint_now = b.notify.endpoint(alice, endpoint).await?;
    assert_eq!((endpoint_now.failing_since_ms, endpoint_now.pending), (None, 0));
    Ok(())
}

async fn spent_retries_fail_a_message_and_a_replay_sends_it_under_the_same_id(
    b: Backend,
) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let endpoint = b.notify.create_endpoint(alice, &receiver.url(), "").await?.endpoint.id;
    b.notify.subscribe(alice, webhook(None, &[EventKind::TransferOut], endpoint)).await?;
    receiver.answer(500);
    b.apply(&payments(1, 2)).await?;
    for wait in [0, 10, 60] {
        b.clock.advance(Duration::from_secs(wait));
        assert_eq!(b.notify.deliver_due().await?, 1, "after {wait} s");
    }
    // Three attempts (the first and two retries): the first message failed, the next is due.
    let messages = b.notify.messages(alice, endpoint, None, 10).await?;
    assert_eq!((messages[1].state, messages[1].attempts), (MessageState::Failed, 3));
    assert_eq!(messages[1].log.iter().map(|a| a.status).collect::<Vec<_>>(), vec![Some(500); 3]);
    assert_eq!(messages[1].log[0].error.as_deref(), Some("answered 500"));
    assert!(messages[1].log[0].response.len() <= btcr_notify::MAX_RESPONSE_KEPT);
    receiver.answer(204);
    assert_eq!(b.deliver().await?, 1);
    let failed = messages[1].message_id.clone();
    assert!(matches!(
        b.notify.replay(alice, endpoint, "msg_nope").await,
        Err(NotifyError::NotFound(_))
    ));
    b.notify.replay(alice, endpoint, &failed).await?;
    assert_eq!(b.deliver().await?, 1);
    let accepted = receiver.accepted();
    assert_eq!(
        accepted.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec![messages[0].message_id.as_str(), failed.as_str()]
    );
    // Every copy it saw of the failed one had the same id: duplicates only under one id.
    let copies: Vec<_> =
        receiver.received().into_iter().filter(|r| r.body == accepted[1].body).collect();
    assert_eq!(copies.len(), 4);
    assert!(copies.iter().all(|r| r.id == failed));
    let again = b.notify.messages(alice, endpoint, None, 10).await?;
    assert_eq!((again[1].state, again[1].log.len()), (MessageState::Delivered, 4));
    // A delivered message replays; a pending one does not.
    b.apply(&payments(3, 1)).await?;
    let pending = b.notify.messages(alice, endpoint, None, 1).await?[0].message_id.clone();
    assert!(matches!(
        b.notify.replay(alice, endpoint, &pending).await,
        Err(NotifyError::Invalid(_))
    ));
    Ok(())
}

async fn an_endpoint_failing_for_days_is_disabled_until_enabled(b: Backend) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let notify = b
        .reopen(NotifyConfig {
            retry_delays: vec![Duration::from_secs(86_400); 10],
            ..crate::config(&b.clock)
        })
        .await?;
    let endpoint = notify.create_endpoint(alice, &receiver.url(), "").await?.endpoint.id;
    notify.subscribe(alice, webhook(None, &[EventKind::TransferOut], endpoint)).await?;
    receiver.answer(503);
    b.apply(&payments(1, 2)).await?;
    for day in 0..=5 {
        assert_eq!(notify.deliver_due().await?, 1, "day {day}");
        let e = notify.endpoint(alice, endpoint).await?;
        assert_eq!(e.disabled_ms.is_some(), day == 5, "day {day}");
        b.clock.advance(Duration::from_secs(86_400));
    }
    let e = notify.endpoint(alice, endpoint).await?;
    assert!(e.disabled_reason.unwrap().contains("5days"));
    assert_eq!(e.pending, 2);
    // Disabled: nothing is tried, nothing is dropped.
    assert_eq!(notify.deliver_due().await?, 0);
    receiver.answer(200);
    notify.enable_endpoint(alice, endpoint).await?;
    assert_eq!(notify.deliver_due().await? + notify.deliver_due().await?, 2);
    assert_eq!(values(&receiver), vec!["1", "2"]);
    Ok(())
}

async fn a_redirect_is_a_failed_attempt(b: Backend) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let endpoint = b.notify.create_endpoint(alice, &receiver.url(), "").await?.endpoint.id;
    b.notify.subscribe(alice, webhook(None, &[EventKind::TransferOut], endpoint)).await?;
    receiver.answer(302);
    b.apply(&payments(1, 1)).await?;
    b.deliver().await?;
    let m = &b.notify.messages(alice, endpoint, None, 1).await?[0];
    assert_eq!(m.state, MessageState::Pending);
    assert_eq!(m.log[0].status, Some(302));
    assert!(m.log[0].error.as_deref().unwrap().contains("redirects are not followed"));
    assert_eq!(receiver.received().len(), 1, "the redirect's target was not asked");
    Ok(())
}

async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(b: Backend) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let created = b.notify.create_endpoint(alice, &receiver.url(), "").await?;
    let endpoint = created.endpoint.id;
    b.notify.subscribe(alice, webhook(None, &[EventKind::TransferOut], endpoint)).await?;
    let rotated = b.notify.rotate_secret(alice, endpoint).await?;
    assert_ne!(rotated.secret, created.secret);
    b.apply(&payments(1, 1)).await?;
    b.deliver().await?;
    b.clock.advance(Duration::from_secs(24 * 3600 + 1));
    b.apply(&payments(2, 1)).await?;
    b.deliver().await?;
    let got = receiver.accepted();
    let signs = |secret: &str, r: &btcr_testkit::Received| {
        signing::verify(secret, &r.signature, &r.id, r.timestamp, &r.body)
    };
    assert!(signs(&rotated.secret, &got[0]) && signs(&created.secret, &got[0]));
    assert!(signs(&rotated.secret, &got[1]) && !signs(&created.secret, &got[1]));
    Ok(())
}

async fn replicas_share_the_outbox_and_deliver_each_message_once_in_order(
    b: Backend,
) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let endpoints = [
        b.notify.create_endpoint(alice, &receiver.url(), "a").await?.endpoint.id,
        b.notify.create_endpoint(alice, &receiver.url(), "b").await?.endpoint.id,
    ];
    for e in endpoints {
        b.notify.subscribe(alice, webhook(None, &[EventKind::TransferOut], e)).await?;
    }
    b.apply(&payments(1, 20)).await?;
    let other = b.reopen(crate::config(&b.clock)).await?;
    let (one, two) = (b.notify.clone(), other.clone());
    let run = |n: btcr_notify::Notify| async move {
        let mut total = 0;
        for _ in 0..200 {
            total += n.deliver_due().await?;
        }
        Ok::<_, NotifyError>(total)
    };
    let (x, y) = tokio::join!(tokio::spawn(run(one)), tokio::spawn(run(two)));
    assert_eq!(x?? + y??, 40);
    let mut ids: Vec<String> = receiver.accepted().iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 40);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no message twice");
    for e in endpoints {
        let messages = b.notify.messages(alice, e, None, 100).await?;
        let in_order: Vec<&str> = messages.iter().rev().map(|m| m.message_id.as_str()).collect();
        let received: Vec<String> = receiver
            .accepted()
            .iter()
            .filter(|r| in_order.contains(&r.id.as_str()))
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(received, in_order, "endpoint {e}: in the order written");
    }
    Ok(())
}

async fn private_targets_are_refused_unless_the_operator_allows_them(
    b: Backend,
) -> eyre::Result<()> {
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let strict =
        b.reopen(NotifyConfig { allow_private_targets: false, ..crate::config(&b.clock) }).await?;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
    ] {
        let error = strict.create_endpoint(alice, url, "").await.unwrap_err();
        assert!(matches!(error, NotifyError::Invalid(_)), "{url}: {error}");
        assert!(error.to_string().contains("private"), "{url}: {error}");
    }
    let error =
        strict.create_endpoint(alice, "http://no-such-host.invalid/", "").await.unwrap_err();
    assert!(error.to_string().contains("does not resolve"), "{error}");
    // An endpoint made where they were allowed is refused at delivery where they are not.
    let receiver = Receiver::start()?;
    let endpoint = b.notify.create_endpoint(alice, &receiver.url(), "").await?.endpoint.id;
    b.notify.subscribe(alice, webhook(None, &[EventKind::TransferOut], endpoint)).await?;
    b.apply(&payments(1, 1)).await?;
    assert_eq!(strict.deliver_due().await?, 1);
    let m = &strict.messages(alice, endpoint, None, 1).await?[0];
    assert!(m.log[0].error.as_deref().unwrap().contains("private"), "{:?}", m.log);
    assert!(receiver.received().is_empty());
    Ok(())
}

async fn subscriptions_are_checked(b: Backend) -> eyre::Result<()> {
    let receiver = Receiver::start()?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let bob = b.user("bob@example.com", &[dev(1)]).await?;
    let bobs = b.notify.create_endpoint(bob, &receiver.url(), "").await?.endpoint.id;
    let e = refused(
        b.notify.subscribe(alice, webhook(Some(dev(2)), &[EventKind::TransferIn], bobs)).await,
    );
    assert!(e.to_string().contains("not on your watch list"), "{e}");
    let e = refused(b.notify.subscribe(alice, webhook(None, &[EventKind::TransferIn], bobs)).await);
    assert!(matches!(e, NotifyError::NotFound(_)), "{e}");
    let e = refused(b.notify.subscribe(alice, webhook(None, &[], bobs)).await);
    assert!(e.to_string().contains("at least one kind"), "{e}");
    let mut bad = portal(&[EventKind::TransferIn]);
    bad.address = Some("0x12".into());
    assert!(refused(b.notify.subscribe(alice, bad).await).to_string().contains("20 bytes"));
    let mut bad = portal(&[EventKind::TransferIn]);
    bad.endpoint_id = Some(bobs);
    assert!(refused(b.notify.subscribe(alice, bad).await).to_string().contains("no endpointId"));
    let mut bad = portal(&[EventKind::TransferIn]);
    bad.channel = Channel::Webhook;
    assert!(
        refused(b.notify.subscribe(alice, bad).await).to_string().contains("needs an endpointId")
    );
    // Limits.
    for _ in 0..btcr_notify::MAX_SUBSCRIPTIONS {
        b.notify.subscribe(alice, portal(&[EventKind::TransferIn])).await?;
    }
    assert!(matches!(
        refused(b.notify.subscribe(alice, portal(&[EventKind::TransferIn])).await),
        NotifyError::Limit(_)
    ));
    for _ in 1..btcr_notify::MAX_ENDPOINTS {
        b.notify.create_endpoint(bob, &receiver.url(), "").await?;
    }
    assert!(matches!(
        refused(b.notify.create_endpoint(bob, &receiver.url(), "").await),
        NotifyError::Limit(_)
    ));
    let long = "d".repeat(btcr_notify::MAX_DESCRIPTION_CHARS + 1);
    assert!(matches!(
        refused(b.notify.create_endpoint(alice, &receiver.url(), &long).await),
        NotifyError::Invalid(_)
    ));
    // One user's endpoint is no one else's.
    assert!(matches!(
        refused(b.notify.messages(alice, bobs, None, 10).await),
        NotifyError::NotFound(_)
    ));
    assert!(matches!(refused(b.notify.rotate_secret(alice, bobs).await), NotifyError::NotFound(_)));
    assert!(matches!(
        refused(b.notify.delete_endpoint(alice, bobs).await),
        NotifyError::NotFound(_)
    ));
    // Deleting an endpoint takes its subscriptions with it.
    b.notify.subscribe(bob, webhook(None, &[EventKind::TransferIn], bobs)).await?;
    b.notify.delete_endpoint(bob, bobs).await?;
    assert!(b.notify.subscriptions(bob).await?.is_empty());
    Ok(())
}

btcr_testkit::on_both_databases!(
    crate::open;
    events_reach_the_portal_and_a_signed_webhook_in_order,
    a_receiver_that_is_down_gets_everything_in_order_when_back,
    spent_retries_fail_a_message_and_a_replay_sends_it_under_the_same_id,
    an_endpoint_failing_for_days_is_disabled_until_enabled,
    a_redirect_is_a_failed_attempt,
    a_rotated_secret_signs_beside_the_new_one_for_a_day,
    replicas_share_the_outbox_and_deliver_each_message_once_in_order,
    private_targets_are_refused_unless_the_operator_allows_them,
    subscriptions_are_checked,
);
