//! The `email` channel against a real SMTP server of the test's own: mail goes to the
//! address the user signed up with and to no other, in order, retried while the server is
//! down, with the message's id in its `Message-ID`.

use std::time::Duration;

use alloy_primitives::{Address, address};
use btcr_notify::{
    Channel, EventKind, MessageState, NewSubscription, NotifyConfig, NotifyError, SmtpConfig,
};
use btcr_testkit::{TempSmtp, WebhookReceiver};

use crate::{
    Backend,
    chain::{block, dev, pay},
};

const STRANGER: Address = address!("00000000000000000000000000000000000000bb");

fn email(kinds: &[EventKind]) -> NewSubscription {
    NewSubscription {
        address: None,
        kinds: kinds.to_vec(),
        channel: Channel::Email,
        endpoint_id: None,
    }
}

/// Mail through `smtp`, on the backend's clock.
fn mailing(b: &Backend, smtp: &TempSmtp) -> NotifyConfig {
    NotifyConfig {
        smtp: Some(SmtpConfig { url: smtp.url(), from: "BTCR <notify@example.org>".into() }),
        ..crate::config(&b.clock)
    }
}

async fn mail_reaches_the_users_own_address_in_order_and_outlasts_a_server_that_was_down(
    b: Backend,
) -> eyre::Result<()> {
    let mut smtp = tokio::task::spawn_blocking(TempSmtp::start).await??;
    let notify = b.reopen(mailing(&b, &smtp)).await?;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    let sub = notify.subscribe(alice, email(&[EventKind::TransferOut])).await?;
    assert_eq!(sub.channel, Channel::Email);
    let endpoint = sub.endpoint_id.expect("the e-mail endpoint");
    // A second e-mail subscription uses the same destination.
    let again = notify.subscribe(alice, email(&[EventKind::TransactionFinalized])).await?;
    assert_eq!(again.endpoint_id, Some(endpoint));
    let listed = notify.subscriptions(alice).await?;
    assert!(listed.iter().all(|s| s.channel == Channel::Email), "{listed:?}");
    let destinations = notify.endpoints(alice).await?;
    assert_eq!(destinations.len(), 1);
    assert_eq!(destinations[0].url, "mailto:alice@example.com");

    let blocks: Vec<_> = (1..=3).map(|h| block(h, vec![pay(1, STRANGER, h)])).collect();
    notify.apply(&blocks.into_iter().map(std::sync::Arc::new).collect::<Vec<_>>()).await?;
    while notify.deliver_due().await? > 0 {}
    let mails = smtp.mails();
    assert_eq!(mails.len(), 6, "{mails:#?}");
    assert!(mails.iter().all(|m| m.to.contains("alice@example.com")), "{mails:#?}");
    let first = &mails[0];
    assert!(first.subject.starts_with("BTCR "), "{first:?}");
    assert!(first.body.contains(&format!("{:#x}", dev(1))), "{first:?}");

    // Down: attempts fail and are kept for later; back: everything arrives, in order.
    smtp.down();
    let blocks: Vec<_> = (4..=5).map(|h| block(h, vec![pay(1, STRANGER, h)])).collect();
    notify.apply(&blocks.into_iter().map(std::sync::Arc::new).collect::<Vec<_>>()).await?;
    assert_eq!(notify.deliver_due().await?, 1);
    let waiting = notify.messages(alice, endpoint, None, 100).await?;
    let failed = waiting.iter().find(|m| !m.log.is_empty() && m.state == MessageState::Pending);
    let error = failed.and_then(|m| m.log[0].error.clone()).unwrap_or_default();
    assert!(error.contains("SMTP"), "{waiting:#?}");
    tokio::task::block_in_place(|| smtp.up())?;
    b.clock.advance(Duration::from_secs(10));
    while notify.deliver_due().await? > 0 {}
    let written = notify.messages(alice, endpoint, None, 100).await?;
    assert!(written.iter().all(|m| m.state == MessageState::Delivered), "{written:#?}");
    let expected: Vec<String> =
        written.iter().rev().map(|m| format!("<{}@btcr.notifications>", m.message_id)).collect();
    let got: Vec<String> = smtp.mails().iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(got, expected, "each mail once, in the order written");
    assert!(written.iter().all(|m| m.log.last().and_then(|a| a.status) == Some(250)));
    Ok(())
}

async fn mail_never_goes_anywhere_else_and_needs_an_smtp_server(b: Backend) -> eyre::Result<()> {
    let smtp = tokio::task::spawn_blocking(TempSmtp::start).await??;
    let alice = b.user("alice@example.com", &[dev(1)]).await?;
    // Without a server the channel is refused, saying why.
    let e = b.notify.subscribe(alice, email(&[EventKind::TransferIn])).await.unwrap_err();
    assert!(matches!(e, NotifyError::Invalid(_)) && e.to_string().contains("SMTP"), "{e}");
    let notify = b.reopen(mailing(&b, &smtp)).await?;
    // Another address can neither be named as an endpoint nor reached through one.
    let e = notify.create_endpoint(alice, "mailto:bob@example.com", "").await.unwrap_err();
    assert!(matches!(e, NotifyError::Invalid(_)), "{e}");
    let mut pointed = email(&[EventKind::TransferIn]);
    pointed.endpoint_id = Some(1);
    let e = notify.subscribe(alice, pointed).await.unwrap_err();
    assert!(e.to_string().contains("takes no endpointId"), "{e}");
    let mine = notify.subscribe(alice, email(&[EventKind::TransferIn])).await?;
    // Alice's e-mail destination as a webhook: refused to her, unknown to anyone else.
    let as_webhook = NewSubscription {
        address: None,
        kinds: vec![EventKind::TransferIn],
        channel: Channel::Webhook,
        endpoint_id: mine.endpoint_id,
    };
    let e = notify.subscribe(alice, as_webhook.clone()).await.unwrap_err();
    assert!(e.to_string().contains("email channel"), "{e}");
    let bob = b.user("bob@example.com", &[dev(1)]).await?;
    let e = notify.subscribe(bob, as_webhook).await.unwrap_err();
    assert!(matches!(e, NotifyError::NotFound(_)), "{e}");
    // The e-mail destination does not count against the webhook endpoints.
    let receiver = WebhookReceiver::start()?;
    for _ in 0..btcr_notify::MAX_ENDPOINTS {
        notify.create_endpoint(alice, &receiver.url(), "").await?;
    }
    // A test message to the e-mail destination is a mail.
    notify.send_test(alice, mine.endpoint_id.unwrap()).await?;
    while notify.deliver_due().await? > 0 {}
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert!(mails[0].subject.contains("webhook.test"), "{:?}", mails[0]);
    assert!(mails[0].to.contains("alice@example.com"));
    Ok(())
}

btcr_testkit::on_both_databases!(
    crate::open;
    mail_reaches_the_users_own_address_in_order_and_outlasts_a_server_that_was_down,
    mail_never_goes_anywhere_else_and_needs_an_smtp_server,
);
