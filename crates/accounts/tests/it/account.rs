//! A user's password change, keystore backup and watch list, on each backend.

use btcr_accounts::{AccountsError, MAX_KEYSTORE_BYTES, MAX_WATCHED, RequestMeta};
use btcr_crypto::{
    SecretKey,
    keystore::{self, ScryptParams},
};
use serde_json::{Value, json};

use crate::Backend;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a new and longer passphrase";

fn meta() -> RequestMeta {
    RequestMeta { ip: Some("198.51.100.9".into()), user_agent: Some("account/1".into()) }
}

/// A version 3 keystore of a fresh key, cheap to make, as JSON.
pub(crate) fn a_keystore() -> eyre::Result<(Value, String)> {
    let key = SecretKey::random();
    let text = keystore::encrypt(&key, "keystore password", ScryptParams::LIGHT)?;
    Ok((serde_json::from_str(&text)?, format!("{:#x}", key.address())))
}

pub async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions(
    b: Backend,
) -> eyre::Result<()> {
    let user = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let sign_in = |password: &'static str| {
        let accounts = b.accounts.clone();
        async move { accounts.login("ann@example.org", password, &meta()).await }
    };
    let here = sign_in(PASSWORD).await?.signed().expect("no second factor").1;
    let elsewhere = sign_in(PASSWORD).await?.signed().expect("no second factor").1;

    assert!(matches!(
        b.accounts
            .change_password(user.id, &here.session, "not my password", NEW_PASSWORD, &meta())
            .await,
        Err(AccountsError::WrongPassword)
    ));
    assert!(matches!(
        b.accounts.change_password(user.id, &here.session, PASSWORD, "short", &meta()).await,
        Err(AccountsError::PasswordTooShort { min: 12 })
    ));
    b.accounts.change_password(user.id, &here.session, PASSWORD, NEW_PASSWORD, &meta()).await?;

    // This session goes on; the other one ended; only the new password signs in.
    b.accounts.refresh(&here.refresh_token, &meta()).await?;
    assert!(matches!(
        b.accounts.refresh(&elsewhere.refresh_token, &meta()).await,
        Err(AccountsError::SessionEnded)
    ));
    assert!(matches!(sign_in(PASSWORD).await, Err(AccountsError::InvalidCredentials)));
    sign_in(NEW_PASSWORD).await?;
    let records = b.accounts.audit(0, 1000).await?;
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert!(actions.contains(&"password.change-failed") && actions.contains(&"password.changed"));
    let changed = records.iter().find(|r| r.action == "password.changed").expect("recorded");
    assert_eq!(serde_json::from_str::<Value>(&changed.detail)?["sessions_ended"], 1);

    // Guessing the current password with a stolen access token meets the account's lockout.
    let mut refusals = Vec::new();
    for _ in 0..6 {
        refusals.push(
            b.accounts
                .change_password(
                    user.id,
                    &here.session,
                    "a wrong guess!",
                    "whatever it is",
                    &meta(),
                )
                .await,
        );
    }
    assert!(refusals[..4].iter().all(|r| matches!(r, Err(AccountsError::WrongPassword))));
    assert!(matches!(refusals[5], Err(AccountsError::RateLimited { .. })), "{refusals:?}");
    Ok(())
}

pub async fn a_keystore_backup_is_checked_kept_replaced_and_deleted(
    b: Backend,
) -> eyre::Result<()> {
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let bob = b.accounts.register("bob@example.org", PASSWORD, &meta()).await?;
    assert!(b.accounts.keystore(ann.id).await?.is_none());
    let (first, first_address) = a_keystore()?;
    let stored = b.accounts.put_keystore(ann.id, &first, &meta()).await?;
    assert_eq!(stored.address, first_address);
    let read = b.accounts.keystore(ann.id).await?.expect("a backup");
    assert_eq!((read.address.as_str(), &read.keystore), (first_address.as_str(), &first));
    assert!(b.accounts.keystore(bob.id).await?.is_none(), "a backup is its owner's only");

    let (second, second_address) = a_keystore()?;
    b.accounts.put_keystore(ann.id, &second, &meta()).await?;
    assert_eq!(b.accounts.keystore(ann.id).await?.expect("a backup").address, second_address);

    // What is not an encrypted keystore is refused, whatever it carries.
    let mut costly = first.clone();
    costly["crypto"]["kdfparams"]["n"] = json!(1u64 << 30);
    let mut old = first.clone();
    old["version"] = json!(2);
    let mut nameless = first.clone();
    nameless.as_object_mut().expect("an object").remove("address");
    let mut padded = first.clone();
    padded["id"] = json!("x".repeat(MAX_KEYSTORE_BYTES));
    for bad in [
        json!({ "privateKey": "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318" }),
        json!("a string"),
        costly,
        old,
        nameless,
        padded,
    ] {
        assert!(
            matches!(
                b.accounts.put_keystore(ann.id, &bad, &meta()).await,
                Err(AccountsError::InvalidKeystore(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(b.accounts.keystore(ann.id).await?.expect("kept").address, second_address);

    assert!(b.accounts.delete_keystore(ann.id, &meta()).await?);
    assert!(!b.accounts.delete_keystore(ann.id, &meta()).await?);
    assert!(b.accounts.keystore(ann.id).await?.is_none());
    let records = b.accounts.audit(0, 1000).await?;
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "keystore.stored").count(), 2);
    assert_eq!(actions.iter().filter(|a| **a == "keystore.deleted").count(), 1);
    Ok(())
}

pub async fn a_watch_list_holds_checked_addresses_up_to_its_bound(b: Backend) -> eyre::Result<()> {
    let ann = b.accounts.register("ann@example.org", PASSWORD, &meta()).await?;
    let bob = b.accounts.register("bob@example.org", PASSWORD, &meta()).await?;
    let address = "0xAbCdEf0123456789abcdef0123456789ABCDEF01";
    let watched = b.accounts.watch(ann.id, address, "  treasury ", &meta()).await?;
    assert_eq!(watched.address, address.to_lowercase());
    assert_eq!(watched.label, "treasury");
    b.clock.advance(std::time::Duration::from_secs(5));
    let renamed = b.accounts.watch(ann.id, &address.to_lowercase(), "cold wallet", &meta()).await?;
    assert_eq!(renamed.created_ms, watched.created_ms, "watching again renames");
    let list = b.accounts.watchlist(ann.id).await?;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].label, "cold wallet");
    assert!(b.accounts.watchlist(bob.id).await?.is_empty());
    let records = b.accounts.audit(0, 1000).await?;
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions[2..], ["watchlist.added", "watchlist.renamed"]);

    for bad in [
        "",
        "0x12",
        "AbCdEf0123456789abcdef0123456789ABCDEF01",
        "0xZZCdEf0123456789abcdef0123456789ABCDEF01",
    ] {
        assert!(matches!(
            b.accounts.watch(ann.id, bad, "", &meta()).await,
            Err(AccountsError::InvalidAddress)
        ));
    }
    for label in ["x".repeat(65), "tab\there".into()] {
        assert!(matches!(
            b.accounts.watch(ann.id, address, &label, &meta()).await,
            Err(AccountsError::InvalidLabel)
        ));
    }

    for i in 1..MAX_WATCHED {
        b.accounts.watch(ann.id, &format!("0x{i:040x}"), "", &meta()).await?;
    }
    assert!(matches!(
        b.accounts.watch(ann.id, &format!("0x{:040x}", MAX_WATCHED), "", &meta()).await,
        Err(AccountsError::WatchlistFull { max: MAX_WATCHED })
    ));
    // Renaming one already there still works at the bound.
    b.accounts.watch(ann.id, address, "still here", &meta()).await?;
    assert_eq!(b.accounts.watchlist(ann.id).await?.len() as i64, MAX_WATCHED);

    assert!(b.accounts.unwatch(ann.id, address, &meta()).await?);
    assert!(!b.accounts.unwatch(ann.id, address, &meta()).await?);
    assert!(!b.accounts.unwatch(bob.id, &format!("0x{:040x}", 1), &meta()).await?);
    assert_eq!(b.accounts.watchlist(ann.id).await?.len() as i64, MAX_WATCHED - 1);
    Ok(())
}
