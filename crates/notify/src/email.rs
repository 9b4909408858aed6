//! E-mail over SMTP (`NotifyConfig::smtp`, `--smtp-url`): a subscription on the `email`
//! channel sends its events to the address the user signed up with, and to no other, so
//! that the service can never be made to write to a stranger.
//!
//! An e-mail destination is an endpoint of the user's whose URL is `mailto:` and their
//! address, made by their first `email` subscription: its messages go through the same
//! outbox, order, retries, delivery log, disabling and replays as a webhook's. Each message
//! is one plain-text mail whose `Message-ID` is made from its `webhook-id`, so that a copy
//! sent twice (a retry after a lost answer) is recognisable as the same mail.

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use serde_json::Value;

use crate::{Answer, NotifyError};

/// The scheme of an e-mail destination's URL.
pub const MAILTO: &str = "mailto:";

/// Where and as whom mail is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// `smtp://host:port` (plain; for a relay on the operator's own network),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS) or `smtps://…:465`.
    pub url: String,
    /// The `From` of every mail (`BTCR <notifications@example.org>`).
    pub from: String,
}

/// Sends notification mail.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: only the sender is shown.
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    /// A mailer for `config`, giving each mail `timeout` (connecting, the exchange and the
    /// answer).
    pub fn new(config: &SmtpConfig, timeout: Duration) -> Result<Self, NotifyError> {
        let invalid =
            |what: &str, e: &dyn std::fmt::Display| NotifyError::Invalid(format!("{what}: {e}"));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|e| invalid("the SMTP URL", &e))?
            .timeout(Some(timeout))
            .build();
        let from: Mailbox = config.from.parse().map_err(|e| invalid("the sender address", &e))?;
        Ok(Self { transport, from })
    }

    /// Sends message `message_id` (its body `payload`, a webhook's JSON) to `to`; the
    /// server's acceptance (code and first line), or why it failed.
    pub async fn send(&self, to: &str, message_id: &str, payload: &str) -> Result<Answer, String> {
        let mail = compose(&self.from, to, message_id, payload)?;
        match self.transport.send(mail).await {
            Ok(response) => Ok(Answer {
                status: u16::from(response.code()),
                body: response.first_line().unwrap_or_default().to_owned(),
            }),
            Err(e) => Err(format!("SMTP: {e}")),
        }
    }
}

/// The mail for one message: what happened in the subject, the event's fields in the body,
/// and the JSON a webhook would get.
fn compose(from: &Mailbox, to: &str, message_id: &str, payload: &str) -> Result<Message, String> {
    let to: Mailbox = to.parse().map_err(|e| format!("the recipient {to:?}: {e}"))?;
    let event: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let kind = event["type"].as_str().unwrap_or("notification");
    let address = event["data"]["address"].as_str();
    let subject = match address {
        Some(address) => format!("BTCR {kind}: {address}"),
        None => format!("BTCR {kind}"),
    };
    let mut body = format!("Event: {kind}\n");
    if let Some(time) = event["timestamp"].as_str() {
        body.push_str(&format!("Time: {time}\n"));
    }
    if let Value::Object(fields) = &event["data"] {
        for (name, value) in fields {
            let shown = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            body.push_str(&format!("{name}: {shown}\n"));
        }
    }
    body.push_str(&format!(
        "\nMessage id: {message_id}\n\nThe event as a webhook receives it:\n{payload}\n\n\
         You get this mail because of a subscription of your BTCR account; change it on the \
         portal's Notifications page.\n"
    ));
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{message_id}@btcr.notifications>")))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("composing the mail: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_names_the_event_and_carries_the_message_id_and_the_payload() {
        let from: Mailbox = "BTCR <notify@example.org>".parse().unwrap();
        let payload = r#"{"type":"transfer.out","timestamp":"2026-12-06T10:00:00.000Z","data":{"address":"0xab","value":"7"}}"#;
        let mail = compose(&from, "alice@example.com", "msg_1", payload).unwrap();
        let text = String::from_utf8(mail.formatted()).unwrap();
        assert!(text.contains("Subject: BTCR transfer.out: 0xab"), "{text}");
        assert!(text.contains("Message-ID: <msg_1@btcr.notifications>"), "{text}");
        assert!(text.contains("To: alice@example.com"), "{text}");
        assert!(text.contains("value: 7"), "{text}");
        assert!(text.contains("Message id: msg_1"), "{text}");
    }

    #[test]
    fn a_malformed_recipient_or_configuration_is_refused() {
        let from: Mailbox = "notify@example.org".parse().unwrap();
        assert!(compose(&from, "not an address", "msg_1", "{}").unwrap_err().contains("recipient"));
        let bad = SmtpConfig { url: "http://mail".into(), from: "notify@example.org".into() };
        assert!(Mailer::new(&bad, Duration::from_secs(1)).is_err());
        let bad = SmtpConfig { url: "smtp://127.0.0.1:25".into(), from: "nobody".into() };
        assert!(Mailer::new(&bad, Duration::from_secs(1)).is_err());
    }
}
