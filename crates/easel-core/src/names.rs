//! Validated newtypes. Each `parse` is the only way in; once parsed, a value is trusted.

use crate::error::{Error, Result};

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A short human-readable name (an API key's name): 1 to 256 characters after trimming, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<KeyName> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid("metadata.name must not be empty"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Error::invalid(format!(
                "metadata.name must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if has_control(s) {
            return Err(Error::invalid(
                "metadata.name must not contain control characters",
            ));
        }
        Ok(KeyName(s.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A free-text description: up to 1024 characters; line breaks and tabs allowed, other
/// control characters not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: &str) -> Result<Description> {
        let s = raw.trim();
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Error::invalid(format!(
                "the description must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if s.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Error::invalid(
                "the description must not contain control characters",
            ));
        }
        Ok(Description(s.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A first or last name: 1 to 256 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(field: &str, raw: &str) -> Result<PersonName> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid(format!("{field} must not be empty")));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Error::invalid(format!(
                "{field} must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if has_control(s) {
            return Err(Error::invalid(format!(
                "{field} must not contain control characters"
            )));
        }
        Ok(PersonName(s.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An email address, stored lower-cased so that uniqueness ignores letter case. The check is
/// deliberately plain (one `@`, a dotted domain, no spaces): the real proof of an address is
/// the activation mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email> {
        let s = raw.trim().to_lowercase();
        let invalid = || Error::invalid("spec.emailId must be a valid email address");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A tenant (organisation) name: 3 to 64 characters of lower-case letters, digits and `-`,
/// starting with a letter, since it is also the slug of the tenant's sign-in URL. Unique
/// regardless of letter case, so it is stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<TenantName> {
        let s = raw.trim().to_lowercase();
        let ok = (3..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(Error::invalid(
                "an organisation name must be 3 to 64 lower-case letters, digits or '-', \
                 starting with a letter and not ending with '-'",
            ));
        }
        Ok(TenantName(s))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Names no organisation may take: they are (or may become) paths and host names of the
/// service itself, or would mislead people about who runs an organisation.
const RESERVED_TENANT_NAMES: &[&str] = &[
    "admin",
    "administrator",
    "api",
    "app",
    "apps",
    "assets",
    "auth",
    "billing",
    "console",
    "default",
    "docs",
    "help",
    "login",
    "logout",
    "mail",
    "operator",
    "operators",
    "root",
    "security",
    "signup",
    "static",
    "status",
    "support",
    "system",
    "tenant",
    "tenants",
    "www",
];

impl TenantName {
    /// A name for a new organisation: valid and not reserved.
    pub fn parse_new(raw: &str) -> Result<TenantName> {
        let name = TenantName::parse(raw)?;
        if RESERVED_TENANT_NAMES.contains(&name.0.as_str()) {
            return Err(Error::invalid(format!(
                "the organisation name {:?} is reserved",
                name.0
            )));
        }
        Ok(name)
    }
}

/// A DNS name that belongs to a tenant: a host name its people reach Easel at, and the
/// domain of their email addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(raw: &str) -> Result<DomainName> {
        let s = raw.trim().trim_end_matches('.').to_lowercase();
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let labels: Vec<&str> = s.split('.').collect();
        if s.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
            return Err(Error::invalid(format!(
                "{raw:?} is not a domain name (such as login.example.com)"
            )));
        }
        Ok(DomainName(s))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("ci", true)]
    #[case("  padded  ", true)]
    #[case("", false)]
    #[case("   ", false)]
    #[case("tab\tinside", false)]
    #[case(&"x".repeat(256), true)]
    #[case(&"x".repeat(257), false)]
    #[case(&"é".repeat(256), true)]
    fn key_names(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(KeyName::parse(raw).is_ok(), ok, "{raw:?}");
    }

    #[rstest]
    #[case("a@b.co", true)]
    #[case("A.Person+tag@Example.COM", true)]
    #[case("", false)]
    #[case("no-at-sign", false)]
    #[case("@b.co", false)]
    #[case("a@b", false)]
    #[case("a@.b.co", false)]
    #[case("a@b..co", false)]
    #[case("a b@c.co", false)]
    #[case("a@b@c.co", false)]
    fn emails(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(Email::parse(raw).is_ok(), ok, "{raw:?}");
    }

    #[test]
    fn emails_are_lower_cased() {
        assert_eq!(
            Email::parse("Ann@Example.COM").unwrap().as_str(),
            "ann@example.com"
        );
    }

    #[rstest]
    #[case("acme", true)]
    #[case("Acme-2", true)]
    #[case("ab", false)]
    #[case("2acme", false)]
    #[case("acme-", false)]
    #[case("ac me", false)]
    #[case("acme_corp", false)]
    #[case(&"a".repeat(65), false)]
    fn tenant_names(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(TenantName::parse(raw).is_ok(), ok, "{raw:?}");
    }

    #[rstest]
    #[case("", true)]
    #[case("line one\nline two", true)]
    #[case("bell\u{7}", false)]
    #[case(&"d".repeat(1025), false)]
    fn descriptions(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(Description::parse(raw).is_ok(), ok, "{raw:?}");
    }

    #[rstest]
    #[case("acme", true)]
    #[case("admin", false)]
    #[case("API", false)]
    #[case("www", false)]
    #[case("system", false)]
    fn new_tenant_names(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(TenantName::parse_new(raw).is_ok(), ok, "{raw:?}");
    }

    #[rstest]
    #[case("login.acme.com", true)]
    #[case("ACME.example.", true)]
    #[case("acme", false)]
    #[case("-bad.com", false)]
    #[case("under_score.com", false)]
    #[case("a..b.com", false)]
    #[case("", false)]
    fn domains(#[case] raw: &str, #[case] ok: bool) {
        assert_eq!(DomainName::parse(raw).is_ok(), ok, "{raw:?}");
    }
}
