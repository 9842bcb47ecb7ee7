//! Outgoing mail, injected: the binary plugs in SMTP; without it, mail is disabled and the
//! endpoints that send mail still answer as documented.

use async_trait::async_trait;

use crate::error::Result;

#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl std::fmt::Debug for Mail {
    // Mail bodies carry one-time links: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: Mail) -> Result<()>;
}

/// Drops every message (it logs that one was not sent, never its content).
pub struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, mail: Mail) -> Result<()> {
        tracing::info!(subject = %mail.subject, "mail is disabled: message not sent");
        Ok(())
    }
}
