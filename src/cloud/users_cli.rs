//! `loyalty-cloud users …`: back-office accounts from the command line. The first owner is
//! made this way (the console needs someone to sign in). Like `customers import`, it opens the
//! database itself, so it works beside a serving cloud. Every change is in the audit log, as
//! done by `cli` from the machine.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};

use super::backoffice::{password, Role};
use super::store::{AuditRecord, Store, UserChange};
use crate::clock::now;

/// Where the new password comes from.
#[derive(Debug, Clone, Copy)]
pub enum PasswordSource {
    /// Asked twice on the terminal, not echoed.
    Prompt,
    /// The first line of standard input (for scripts).
    Stdin,
}

/// The audit log's `who` for changes made with this command.
const CLI_WHO: &str = "cli";

async fn read_password(source: PasswordSource) -> anyhow::Result<String> {
    let password = match source {
        PasswordSource::Stdin => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
        PasswordSource::Prompt => {
            if !std::io::stdin().is_terminal() {
                bail!("no terminal to ask for the password on; pipe it in with --password-stdin");
            }
            let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
            let second = rpassword::prompt_password("Password again: ").context("cannot read the password")?;
            if first != second {
                bail!("the two passwords differ; run the command again");
            }
            first
        }
    };
    password::check_new(&password).map_err(|why| anyhow::anyhow!("{why}"))?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await?
        .map_err(|why| anyhow::anyhow!("cannot hash the password: {why}"))
}

async fn record(store: &Store, action: &'static str, target: &str, after: Option<serde_json::Value>) {
    let record = AuditRecord {
        who: CLI_WHO.to_owned(),
        address: "local".to_owned(),
        action,
        target: Some(target.to_owned()),
        before: None,
        after,
    };
    if let Err(e) = store.audit(record, now()).await {
        tracing::error!(error = %e, "the audit log could not record a change");
    }
}

/// `users add EMAIL --role R [--store S]…`.
pub async fn add(
    store: &Store,
    email: &str,
    role: &str,
    stores: Vec<String>,
    source: PasswordSource,
) -> anyhow::Result<()> {
    let Some(role) = Role::parse(role) else { bail!("--role must be owner, manager or analyst") };
    // Checked before the password is asked for.
    let email = super::store::clean_email(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    super::store::users_clean_stores(role, stores.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = read_password(source).await?;
    let user = store.add_user(email, role, stores, hash, now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    record(store, "user.create", &user.id, serde_json::to_value(&user).ok()).await;
    println!("created {} ({}{}); sign in at /admin/", user.email, user.role.as_str(), stores_text(&user.stores));
    Ok(())
}

fn stores_text(stores: &[String]) -> String {
    match stores.is_empty() {
        true => String::new(),
        false => format!(", stores: {}", stores.join(", ")),
    }
}

/// `users list`.
pub async fn list(store: &Store) -> anyhow::Result<()> {
    let users = store.users().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if users.is_empty() {
        println!("no accounts yet; create the first owner with: loyalty-cloud users add EMAIL --role owner");
    }
    for user in users {
        println!(
            "{}\t{}{}{}{}",
            user.email,
            user.role.as_str(),
            stores_text(&user.stores),
            if user.totp_enabled { ", second factor on" } else { "" },
            if user.disabled { ", DISABLED" } else { "" }
        );
    }
    Ok(())
}

/// `users disable EMAIL` (and `enable`).
pub async fn set_disabled(store: &Store, email: &str, disabled: bool) -> anyhow::Result<()> {
    let user = store.user(email.to_owned()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let change = UserChange { disabled: Some(disabled), ..Default::default() };
    let (_, after) = store.update_user(user.id.clone(), change, now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    record(store, "user.update", &after.id, serde_json::to_value(&after).ok()).await;
    println!("{} is {}", after.email, if disabled { "disabled; its sessions ended" } else { "enabled" });
    Ok(())
}

/// `users reset-password EMAIL`: a new password, the account unlocked, its sessions ended;
/// `--no-totp` also turns its second factor off (a lost phone).
pub async fn reset_password(store: &Store, email: &str, source: PasswordSource, drop_totp: bool) -> anyhow::Result<()> {
    let user = store.user(email.to_owned()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = read_password(source).await?;
    store.set_password(user.id.clone(), hash, None, now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    record(store, "user.reset_password", &user.id, None).await;
    if drop_totp {
        store.set_totp(user.id.clone(), None, now()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        record(store, "user.totp_off", &user.id, None).await;
    }
    println!("the password of {} is set{}", user.email, if drop_totp { " and its second factor is off" } else { "" });
    Ok(())
}
