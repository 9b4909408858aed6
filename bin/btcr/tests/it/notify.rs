//! Notifications end to end against `btcr dev`: webhook messages written by the node's
//! consumer survive a SIGKILL before their delivery, and a receiver that goes away for a
//! while gets every message once it is back, in order, duplicates only under one id; with
//! the embedded defaults, and with PostgreSQL and RabbitMQ.

use std::{collections::HashMap, time::Duration};

use alloy_primitives::{Address, B256, U256};
use btcr_testkit::{
    DevProcess, TempPostgres, TempRabbit, TxBuilder, WebhookReceiver, WsClient, dev_key,
    eventually_within,
};
use serde_json::{Value, json};

use crate::{CHAIN_ID, btcr_bin};

/// Retries a second apart, more of them than the receiver is down for.
const ARGS: &[&str] = &[
    "--block-time",
    "100ms",
    "--notify.allow-private-targets",
    "--notify.retry-delays",
    "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
];

/// `METHOD PATH` with a JSON body and a bearer token: the status and the JSON answer.
fn call(
    url: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> eyre::Result<(u16, Value)> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}"
    );
    let body = if body.is_null() { String::new() } else { body.to_string() };
    let (status, _, answer) = crate::raw_request(url, &head, &body)?;
    Ok((status, if answer.is_empty() { Value::Null } else { serde_json::from_str(&answer)? }))
}

/// Transfers from dev key 1, each waited for; their hashes.
fn pay(node: &DevProcess, count: usize) -> eyre::Result<Vec<B256>> {
    let key = dev_key(1);
    let first = node.rpc.nonce(key.address())?;
    let mut hashes = Vec::new();
    for (i, nonce) in (first..first + count as u64).enumerate() {
        let raw =
            TxBuilder::transfer(CHAIN_ID, nonce, Address::repeat_byte(0x77), U256::from(i + 1))
                .eip1559(&key);
        hashes.push(node.rpc.send_raw(&raw)?);
    }
    for hash in &hashes {
        node.rpc.wait_for_receipt(*hash, Duration::from_secs(20))?;
    }
    Ok(hashes)
}

/// A new user who watches dev key 1: their access token.
fn watcher(url: &str, email: &str) -> eyre::Result<String> {
    let login = json!({"email": email, "password": "correct horse battery staple"});
    let (status, _, _) = crate::raw_request(
        url,
        "POST /api/v1/auth/register HTTP/1.1\r\nContent-Type: application/json",
        &login.to_string(),
    )?;
    assert_eq!(status, 201);
    let (_, _, signed) = crate::raw_request(
        url,
        "POST /api/v1/auth/login HTTP/1.1\r\nContent-Type: application/json",
        &login.to_string(),
    )?;
    let token = serde_json::from_str::<Value>(&signed)?["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let watched = format!("{:#x}", dev_key(1).address());
    let (status, _) =
        call(url, "POST", "/api/v1/me/watchlist", &token, &json!({"address": watched}))?;
    assert_eq!(status, 200);
    Ok(token)
}

fn messages(url: &str, token: &str, endpoint: i64) -> eyre::Result<Vec<Value>> {
    let (status, list) = call(
        url,
        "GET",
        &format!("/api/v1/me/webhooks/{endpoint}/messages?limit=100"),
        token,
        &Value::Null,
    )?;
    assert_eq!(status, 200, "{list}");
    Ok(list.as_array().cloned().unwrap_or_default())
}

#[test]
fn webhook_messages_survive_a_sigkill_before_delivery_and_a_receiver_that_was_down()
-> eyre::Result<()> {
    survive(&[])
}

/// The same through the production services: the application database on PostgreSQL and
/// the delivery queue on RabbitMQ.
#[test]
fn through_rabbitmq_on_postgres_webhook_messages_survive_a_sigkill_and_a_receiver_that_was_down()
-> eyre::Result<()> {
    let postgres = TempPostgres::start()?;
    let database = postgres.create_database("app")?;
    let rabbit = TempRabbit::start()?;
    survive(&["--accounts.database-url", &database, "--amqp-url", &rabbit.url()])
}

fn survive(services: &[&str]) -> eyre::Result<()> {
    let args: Vec<&str> = ARGS.iter().chain(services).copied().collect();
    let args = args.as_slice();
    let dir = tempfile::tempdir()?;
    let mut receiver = WebhookReceiver::start()?;
    let held = [("BTCR_FAULT_HOLD_DELIVERY", "1")];
    let node = DevProcess::start_with_env(btcr_bin(), dir.path(), args, &held)?;
    let url = node.rpc.url().to_owned();

    // A user watches dev key 1 and sends its transfers to a webhook.
    let token = watcher(&url, "ops@example.org")?;
    let (status, created) =
        call(&url, "POST", "/api/v1/me/webhooks", &token, &json!({"url": receiver.url()}))?;
    assert_eq!(status, 201, "{created}");
    let endpoint = created["endpoint"]["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let kinds = json!(["transfer.out", "transaction.finalized"]);
    let (status, _) = call(
        &url,
        "POST",
        "/api/v1/me/subscriptions",
        &token,
        &json!({"kinds": kinds, "channel": "webhook", "endpointId": endpoint}),
    )?;
    assert_eq!(status, 201);

    // Five transfers: ten messages written, none sent (delivery is held).
    let mut hashes = pay(&node, 5)?;
    assert!(eventually_within(Duration::from_secs(20), || {
        messages(&url, &token, endpoint).is_ok_and(|m| m.len() == 10)
    }));
    assert!(messages(&url, &token, endpoint)?.iter().all(|m| m["state"] == "pending"));
    assert!(receiver.received().is_empty());
    node.kill()?;

    // Back without the fault, while the receiver is down: attempts fail and are retried.
    receiver.down();
    let node = DevProcess::start(btcr_bin(), dir.path(), args)?;
    assert!(eventually_within(Duration::from_secs(20), || {
        messages(&url_of(&node), &token, endpoint)
            .is_ok_and(|m| m.iter().any(|m| m["log"].as_array().is_some_and(|l| !l.is_empty())))
    }));
    hashes.extend(pay(&node, 3)?);
    std::thread::sleep(Duration::from_secs(2));
    assert!(receiver.received().is_empty());
    receiver.up()?;
    let url = url_of(&node);
    assert!(
        eventually_within(Duration::from_secs(30), || {
            messages(&url, &token, endpoint)
                .is_ok_and(|m| m.len() == 16 && m.iter().all(|m| m["state"] == "delivered"))
        }),
        "{:#?}",
        messages(&url, &token, endpoint)?
    );

    // Every message once (copies only under one id), in the order of the chain.
    let accepted = receiver.accepted();
    let mut by_id: HashMap<String, Vec<u8>> = HashMap::new();
    for r in receiver.received() {
        let body = by_id.entry(r.id.clone()).or_insert_with(|| r.body.clone());
        assert_eq!(*body, r.body, "a copy under {} differs", r.id);
        assert!(btcr_notify::signing::verify(&secret, &r.signature, &r.id, r.timestamp, &r.body));
    }
    assert_eq!(by_id.len(), 16);
    let mut seen = Vec::new();
    for r in &accepted {
        if !seen.contains(&r.id) {
            seen.push(r.id.clone());
        }
    }
    assert_eq!(seen.len(), 16);
    let order: Vec<(String, String)> = seen
        .iter()
        .map(|id| {
            let body: Value = serde_json::from_slice(&by_id[id]).unwrap();
            (
                body["data"]["transactionHash"].as_str().unwrap().to_owned(),
                body["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = hashes
        .iter()
        .flat_map(|h| {
            [
                (h.to_string(), "transaction.finalized".to_owned()),
                (h.to_string(), "transfer.out".to_owned()),
            ]
        })
        .collect();
    assert_eq!(order, expected);
    Ok(())
}

fn url_of(node: &DevProcess) -> String {
    node.rpc.url().to_owned()
}

/// A live connection of the portal, signed in with `token`: its first answer.
fn live(url: &str, token: &str) -> eyre::Result<(WsClient, eyre::Result<Value>)> {
    let address =
        format!("{}{}", url.replacen("http://", "ws://", 1), btcr_notify::live::LIVE_PATH);
    let mut ws = WsClient::connect(&address)?;
    ws.send_text(json!({ "accessToken": token }).to_string())?;
    let first = ws.read();
    Ok((ws, first))
}

#[test]
fn the_portal_hears_each_new_notification_live_and_strangers_are_turned_away() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let url = url_of(&node);
    let token = watcher(&url, "live@example.org")?;
    let kinds = json!(["transfer.out"]);
    let (status, _) = call(
        &url,
        "POST",
        "/api/v1/me/subscriptions",
        &token,
        &json!({"kinds": kinds, "channel": "portal"}),
    )?;
    assert_eq!(status, 201);

    let (mut ws, ready) = live(&url, &token)?;
    let ready = ready?;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["unread"], 0);
    let hashes = pay(&node, 2)?;
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let message = ws.read()?;
        match message["type"].as_str() {
            Some("notification") => heard.push(message["notification"].clone()),
            Some("unread") => assert!(message["unread"].as_i64() >= Some(1), "{message}"),
            _ => eyre::bail!("unexpected {message}"),
        }
    }
    let heard_hashes: Vec<&str> =
        heard.iter().map(|n| n["payload"]["data"]["transactionHash"].as_str().unwrap()).collect();
    let sent: Vec<String> = hashes.iter().map(ToString::to_string).collect();
    assert_eq!(heard_hashes, sent, "each once, in the order of the chain");
    assert!(heard.iter().all(|n| n["kind"] == "transfer.out"));

    // Turned away: a forged token, a first message that is not the token, a sixth
    // connection of one user, a message over 4 KiB, a page of another site.
    let (_, refused) = live(&url, "not-a-token")?;
    let refused = refused.unwrap_err().to_string();
    assert!(refused.contains("4401"), "{refused}");
    let address =
        format!("{}{}", url.replacen("http://", "ws://", 1), btcr_notify::live::LIVE_PATH);
    let mut chatty = WsClient::connect(&address)?;
    chatty.send_text("hello".into())?;
    let refused = chatty.read().unwrap_err().to_string();
    assert!(refused.contains("4401"), "{refused}");
    let mut others = Vec::new();
    for _ in 1..btcr_notify::live::MAX_LIVE_PER_USER {
        let (ws, ready) = live(&url, &token)?;
        assert_eq!(ready?["type"], "ready");
        others.push(ws);
    }
    let (_, refused) = live(&url, &token)?;
    let refused = refused.unwrap_err().to_string();
    assert!(refused.contains("4429"), "{refused}");
    let mut big = others.pop().expect("a connection");
    big.send_text("x".repeat(5000))?;
    assert!(big.read().is_err(), "a message over the bound ends the connection");
    let (status, _, _) = crate::raw_request(
        &url,
        &format!(
            "GET {} HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Origin: https://elsewhere.example",
            btcr_notify::live::LIVE_PATH
        ),
        "",
    )?;
    assert_eq!(status, 403);

    // The first connection still hears what comes next.
    let more = pay(&node, 1)?;
    let next = loop {
        let message = ws.read()?;
        if message["type"] == "notification" {
            break message;
        }
    };
    assert_eq!(next["notification"]["payload"]["data"]["transactionHash"], json!(more[0]));
    Ok(())
}

#[test]
fn a_validator_hears_of_its_rewards_to_claim_at_the_end_of_an_epoch() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let url = url_of(&node);
    // The dev chain's validator earns the block rewards; a user watches it.
    let (status, _, listed) = crate::raw_request(&url, "GET /api/v1/validators HTTP/1.1", "")?;
    assert_eq!(status, 200, "{listed}");
    let validator = serde_json::from_str::<Value>(&listed)?[0]["address"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    let token = watcher(&url, "staker@example.org")?;
    let (status, _) =
        call(&url, "POST", "/api/v1/me/watchlist", &token, &json!({"address": validator}))?;
    assert_eq!(status, 200);
    let (status, _) = call(
        &url,
        "POST",
        "/api/v1/me/subscriptions",
        &token,
        &json!({"address": validator, "kinds": ["rewards.claimable"], "channel": "portal"}),
    )?;
    assert_eq!(status, 201);
    // An epoch is 100 blocks (10 s here): at its end the validator is told what it can claim.
    let mut told = Value::Null;
    let heard = eventually_within(Duration::from_secs(60), || {
        let Ok((_, page)) =
            call(&url, "GET", "/api/v1/me/notifications?limit=10", &token, &Value::Null)
        else {
            return false;
        };
        told = page["notifications"]
            .as_array()
            .and_then(|list| list.iter().find(|n| n["kind"] == "rewards.claimable").cloned())
            .unwrap_or(Value::Null);
        !told.is_null()
    });
    assert!(heard, "no rewards.claimable within an epoch");
    let data = &told["payload"]["data"];
    assert_eq!(data["delegator"], json!(validator));
    let amount: U256 = data["amount"].as_str().unwrap().parse()?;
    assert!(amount > U256::ZERO);
    assert_eq!(data["blockNumber"].as_u64().unwrap() % 100, 99, "an epoch's last block: {data}");
    Ok(())
}
