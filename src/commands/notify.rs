//! `hirebridge notify test`: one test message to every configured channel, sent directly (not
//! through the ledger's outbox, which only the daemon's sender reads), with what each server
//! answered. Reads `[notify]` and `[http] request_timeout` only, so it needs no API
//! credentials and runs beside a daemon.

use std::io::Write as _;
use std::path::Path;

use hirebridge::cli::NotifyCommand;
use hirebridge::config::{Config, NotifyConfig, notify::redacted};
use hirebridge::notify::{Channel, Notice, NoticeKind, channels};
use hirebridge::untrusted::TerminalWriter;

use crate::exit::Exit;

pub async fn notify(config_path: &Path, command: &NotifyCommand) -> anyhow::Result<Exit> {
    match command {
        NotifyCommand::Test => test(config_path).await,
    }
}

async fn test(config_path: &Path) -> anyhow::Result<Exit> {
    let (notify, timeout) = Config::notify_of(config_path)?;
    let Some(notify) = notify else {
        anyhow::bail!(
            "no [notify] section in {}: there is nothing to test; add email_to, email_from and \
             smtp (email) or webhook_url (a chat's incoming webhook), as docs/notifications.md shows",
            config_path.display()
        );
    };
    let notice = test_notice(chrono::Utc::now());
    let channels = channels(&notify, timeout);
    // All at once: a channel that hangs until the deadline does not hold up the others.
    let answers = futures_util::future::join_all(channels.iter().map(|c| c.send(&notice))).await;
    let mut out = TerminalWriter::new(std::io::stdout().lock());
    let mut all_sent = true;
    for (channel, answer) in channels.iter().zip(answers) {
        let to = destination(&notify, channel);
        match answer {
            Ok(sent) => writeln!(
                out,
                "{} ({to}): sent; the server answered: {sent}",
                channel.name()
            )?,
            Err(e) => {
                all_sent = false;
                writeln!(out, "{} ({to}): not sent: {e}", channel.name())?;
            }
        }
    }
    out.flush()?;
    Ok(if all_sent { Exit::Ok } else { Exit::Error })
}

/// Where a channel sends, for the operator: the recipients and server, or the webhook's
/// host (its path may be a credential).
fn destination(notify: &NotifyConfig, channel: &Channel) -> String {
    match (channel, &notify.email, &notify.webhook) {
        (Channel::Email(_), Some(email), _) => {
            let to: Vec<String> = email.to.iter().map(ToString::to_string).collect();
            format!(
                "to {} via {}:{}",
                to.join(", "),
                email.smtp.host,
                email.smtp.port
            )
        }
        (Channel::Webhook(_), _, Some(hook)) => {
            format!(
                "{} format, to {}",
                hook.format.as_str(),
                redacted(&hook.url)
            )
        }
        _ => String::new(),
    }
}

/// The test message: fixed text, no hire, so it is safe to send to any channel.
fn test_notice(at: chrono::DateTime<chrono::Utc>) -> Notice {
    let mut notice = Notice::about(
        NoticeKind::Test,
        at,
        "hirebridge test message: notifications reach this channel".to_owned(),
        Vec::new(),
    );
    notice.detail = Some(
        "Sent by `hirebridge notify test`. When a hire needs a person, hirebridge says so here, \
         once, with what to do and links to Pinpoint and HiBob."
            .to_owned(),
    );
    notice
}
