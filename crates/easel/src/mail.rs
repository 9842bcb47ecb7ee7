//! Mail over SMTP (lettre): `smtp://host:port` (plain, for a relay on the same host or
//! network), `smtp://host:port?tls=required` (STARTTLS) or `smtps://host:port`, with
//! `user:password@` when the relay wants credentials.

use async_trait::async_trait;
use easel_core::mail::{Mail, Mailer};
use easel_core::Error;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<SmtpMailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("invalid --smtp-url: {e}"))?
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid --smtp-from {from:?}: {e}"))?;
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), Error> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| Error::invalid(format!("cannot mail this address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)
            .map_err(Error::internal)?;
        self.transport
            .send(message)
            .await
            .map_err(|e| Error::Unavailable(format!("SMTP: {e}")))?;
        Ok(())
    }
}
