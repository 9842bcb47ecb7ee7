//! System scope: operators create, list, disable and delete tenants, set their domains, and
//! grant operator rights; people sign up for a tenant of their own when that is allowed.

use chrono::Duration;

use super::Easel;
use crate::access::{Caller, Permission, TENANT_ADMIN};
use crate::cache::Change;
use crate::error::{Error, Result};
use crate::ids::Uid;
use crate::mail::Mail;
use crate::model::{
    PasswordPurpose, PasswordToken, SignIn, Signup, Tenant, TenantFilter, User,
    DEFAULT_MAX_KEY_LIFETIME_DAYS, DEFAULT_TOKEN_LIFETIME_MINUTES,
};
use crate::names::{DomainName, Email, PersonName, TenantName};
use crate::paging::{Page, PageParams};
use crate::rng::base62_string;
use crate::token;

const LIST_TENANTS: &str = "tenants";
const SIGNUP_LIFETIME_HOURS: i64 = 24;
const MAX_DOMAINS: usize = 20;

/// What an operator or a sign-up gives for a new tenant.
#[derive(Debug, Clone, Default)]
pub struct NewTenant {
    pub org_name: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

fn require_operator(caller: &Caller) -> Result<()> {
    if caller.user.is_operator {
        Ok(())
    } else {
        Err(Error::forbidden(
            "this is a system-scope operation: it needs an operator of the deployment",
        ))
    }
}

pub fn parse_tenant_filters(filters: Option<&str>) -> Result<TenantFilter> {
    let mut filter = TenantFilter::default();
    for clause in filters
        .unwrap_or_default()
        .split("AND")
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let (field, value) = clause.split_once('=').ok_or_else(|| {
            Error::invalid(format!("filter {clause:?} is not of the form field=value"))
        })?;
        match field.trim() {
            "metadata.name" | "spec.orgName" => {
                filter.name = Some(value.trim().to_lowercase());
            }
            "status.isActive" => {
                filter.is_active = Some(match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Error::invalid("status.isActive must be true or false")),
                });
            }
            other => {
                return Err(Error::invalid(format!(
                    "tenants can be filtered by metadata.name, spec.orgName and status.isActive, \
                     not {other:?}"
                )))
            }
        }
    }
    Ok(filter)
}

impl Easel {
    fn tenant_uid(raw: &str) -> Result<Uid> {
        Uid::parse(raw).ok_or(Error::NotFound { kind: "tenant" })
    }

    async fn load_tenant(&self, uid: &Uid) -> Result<Tenant> {
        self.store
            .tenant(uid)
            .await?
            .ok_or(Error::NotFound { kind: "tenant" })
    }

    /// Operators only. Creates a tenant and its first Tenant Admin, who is mailed an
    /// activation link.
    pub async fn create_tenant_as_operator(&self, caller: &Caller, new: NewTenant) -> Result<Uid> {
        require_operator(caller)?;
        let (tenant, _) = self
            .create_tenant_by(
                Some(&caller.user.uid),
                &new.org_name,
                &new.email,
                &new.first_name,
                &new.last_name,
            )
            .await?;
        Ok(tenant.uid)
    }

    /// Operators only. `filters`: `metadata.name=…`, `spec.orgName=…`, `status.isActive=…`,
    /// joined with `AND`.
    pub async fn list_tenants(
        &self,
        caller: &Caller,
        filters: Option<&str>,
        params: &PageParams,
    ) -> Result<Page<Tenant>> {
        require_operator(caller)?;
        let filter = parse_tenant_filters(filters)?;
        let list = format!(
            "{LIST_TENANTS}:{}:{:?}",
            filter.name.as_deref().unwrap_or(""),
            filter.is_active
        );
        let window = self.pages.window(&list, params)?;
        let listed = self.store.list_tenants(&filter, &window).await?;
        self.pages.page(&list, &window, listed, |t| &t.uid)
    }

    /// Operators: any tenant. A tenant admin (`tenant.update`): their own. Anyone else: 404
    /// for other tenants, 403 for their own.
    pub async fn get_tenant(&self, caller: &Caller, raw_uid: &str) -> Result<Tenant> {
        let uid = Self::tenant_uid(raw_uid)?;
        if caller.user.is_operator {
            return self.load_tenant(&uid).await;
        }
        if uid != caller.tenant.uid {
            return Err(Error::NotFound { kind: "tenant" });
        }
        caller.require(Permission::TenantGet)?;
        Ok(Tenant::clone(&caller.tenant))
    }

    /// Operators only. While disabled, every key, token and sign-in of the tenant is refused
    /// on the next request. An operator cannot disable their own organisation.
    pub async fn set_tenant_active(
        &self,
        caller: &Caller,
        raw_uid: &str,
        active: bool,
    ) -> Result<()> {
        require_operator(caller)?;
        let mut tenant = self.load_tenant(&Self::tenant_uid(raw_uid)?).await?;
        if tenant.uid == caller.tenant.uid && !active {
            return Err(Error::conflict(
                "OwnOrganization",
                "you cannot disable the organisation you are signed in to",
            ));
        }
        tenant.is_active = active;
        tenant.updated_at = self.now();
        let action = if active {
            "tenant.activate"
        } else {
            "tenant.deactivate"
        };
        let audit = self.audit(&tenant.uid, Some(&caller.user.uid), action, &tenant.uid, "");
        self.store.update_tenant(&tenant, &audit).await?;
        self.changed(Change::Tenant(tenant.uid)).await;
        Ok(())
    }

    /// Operators only. Deletes the tenant and everything in it in one transaction: its keys
    /// and sessions stop working at once. An operator cannot delete their own organisation.
    pub async fn delete_tenant(&self, caller: &Caller, raw_uid: &str) -> Result<()> {
        require_operator(caller)?;
        let uid = Self::tenant_uid(raw_uid)?;
        if uid == caller.tenant.uid {
            return Err(Error::conflict(
                "OwnOrganization",
                "you cannot delete the organisation you are signed in to",
            ));
        }
        let tenant = self.load_tenant(&uid).await?;
        let audit = self.audit(
            &uid,
            Some(&caller.user.uid),
            "tenant.delete",
            &uid,
            format!("name {}", tenant.name),
        );
        self.store.delete_tenant(&uid, &audit).await?;
        self.changed(Change::Tenant(uid)).await;
        Ok(())
    }

    /// Public. Whether a name is valid, not reserved, and free (regardless of letter case).
    pub async fn validate_tenant_name(&self, name: &str) -> Result<()> {
        let name = TenantName::parse_new(name)?.into_inner();
        if self.store.tenant_by_name(&name).await?.is_some() {
            return Err(Error::conflict(
                "TenantExists",
                "an organisation with this name already exists",
            ));
        }
        Ok(())
    }

    /// Operators, or the tenant's own admins (`tenant.update`).
    pub async fn tenant_domains(&self, caller: &Caller, raw_uid: &str) -> Result<Vec<String>> {
        let tenant = self.get_tenant(caller, raw_uid).await?;
        self.store.tenant_domains(&tenant.uid).await
    }

    /// Operators only (a domain routes people and, later, their SSO: claiming one is not a
    /// tenant's own decision). Replaces the list; each domain belongs to one tenant.
    pub async fn set_tenant_domains(
        &self,
        caller: &Caller,
        raw_uid: &str,
        domains: &[String],
    ) -> Result<()> {
        require_operator(caller)?;
        let tenant = self.load_tenant(&Self::tenant_uid(raw_uid)?).await?;
        let mut parsed: Vec<String> = domains
            .iter()
            .map(|d| DomainName::parse(d).map(DomainName::into_inner))
            .collect::<Result<_>>()?;
        parsed.sort();
        parsed.dedup();
        if parsed.len() > MAX_DOMAINS {
            return Err(Error::invalid(format!(
                "a tenant has at most {MAX_DOMAINS} domains"
            )));
        }
        let audit = self.audit(
            &tenant.uid,
            Some(&caller.user.uid),
            "tenant.domains",
            &tenant.uid,
            parsed.join(","),
        );
        self.store
            .set_tenant_domains(&tenant.uid, &parsed, &audit)
            .await
    }

    /// The active tenant a host name belongs to, if any (the custom sign-in URL).
    pub async fn tenant_for_host(&self, host: &str) -> Result<Option<Tenant>> {
        let host = host.split(':').next().unwrap_or_default();
        let Ok(domain) = DomainName::parse(host) else {
            return Ok(None);
        };
        Ok(self
            .store
            .tenant_by_domain(&domain.into_inner())
            .await?
            .filter(|t| t.is_active))
    }

    // ---- self-service sign-up --------------------------------------------------------------

    fn require_signup_allowed(&self) -> Result<()> {
        if self.config.allow_signup {
            Ok(())
        } else {
            Err(Error::forbidden(
                "sign-up is not open on this deployment: ask its operators for an organisation",
            ))
        }
    }

    /// Public, when allowed. Mails a link that creates the tenant. Answers the same whether
    /// or not the address already has accounts; throttled per source address.
    pub async fn sign_up(&self, new: NewTenant, source: &str) -> Result<()> {
        self.require_signup_allowed()?;
        let key = format!("signup:{source}");
        self.throttled(&[(&self.signup_throttle, key.clone())])?;
        self.signup_throttle.fail(&key, self.now());
        let first = PersonName::parse("firstName", &new.first_name)?.into_inner();
        let last = PersonName::parse("lastName", &new.last_name)?.into_inner();
        let email = Email::parse(&new.email)?.into_inner();
        self.validate_tenant_name(&new.org_name).await?;
        let org_name = TenantName::parse_new(&new.org_name)?.into_inner();
        let value = base62_string(self.rng.as_ref(), 43);
        let now = self.now();
        self.store
            .insert_signup(&Signup {
                hash: token::token_hash(&value),
                email: email.clone(),
                first_name: first.clone(),
                last_name: last,
                org_name: org_name.clone(),
                expires_at: now + Duration::hours(SIGNUP_LIFETIME_HOURS),
                created_at: now,
            })
            .await?;
        self.mail_in_background(Mail {
            to: email,
            subject: format!("Create your Easel organisation {org_name}"),
            text: format!(
                "Hello {first},\n\nFollow this link to create the organisation {org_name} on \
                 Easel and set your password (it works once, for {SIGNUP_LIFETIME_HOURS} hours):\n\n  \
                 {}/console/signup#token={value}\n\nIf you did not sign up, ignore this message.\n",
                self.config.public_url
            ),
        });
        Ok(())
    }

    /// Public, with the mailed sign-up token: creates the tenant with the person as its
    /// admin. The same token then sets the admin's password once
    /// (`PATCH /v1/auth/password/{token}/activate`), for an hour.
    pub async fn activate_sign_up(&self, presented: &str) -> Result<()> {
        self.require_signup_allowed()?;
        let invalid = || {
            Error::invalid(
                "this sign-up link is not valid: it was used already, has expired, or never existed",
            )
        };
        let hash = token::token_hash(presented.trim());
        let signup = self.store.signup(&hash).await?.ok_or_else(invalid)?;
        let now = self.now();
        if now >= signup.expires_at {
            return Err(invalid());
        }
        if self.store.tenant_by_name(&signup.org_name).await?.is_some() {
            return Err(Error::conflict(
                "TenantExists",
                "an organisation with this name was created in the meantime: sign up again with another name",
            ));
        }
        let tenant = Tenant {
            uid: self.new_uid(),
            name: signup.org_name.clone(),
            is_active: true,
            max_key_lifetime_days: DEFAULT_MAX_KEY_LIFETIME_DAYS,
            token_lifetime_minutes: DEFAULT_TOKEN_LIFETIME_MINUTES,
            password_min_length: crate::policy::DEFAULT_MIN_LENGTH,
            created_at: now,
            updated_at: now,
        };
        let admin = User {
            uid: self.new_uid(),
            tenant_uid: tenant.uid.clone(),
            email: signup.email.clone(),
            first_name: signup.first_name.clone(),
            last_name: signup.last_name.clone(),
            is_active: true,
            is_operator: false,
            password_hash: None,
            roles: vec![TENANT_ADMIN.to_owned()],
            created_at: now,
            updated_at: now,
        };
        let password_token = PasswordToken {
            hash,
            tenant_uid: tenant.uid.clone(),
            user_uid: admin.uid.clone(),
            purpose: PasswordPurpose::Activate,
            expires_at: now + Duration::hours(1),
            created_at: now,
        };
        let audit = [
            self.audit(
                &tenant.uid,
                Some(&admin.uid),
                "tenant.create",
                &tenant.uid,
                "sign-up",
            ),
            self.audit(
                &tenant.uid,
                Some(&admin.uid),
                "user.create",
                &admin.uid,
                "sign-up",
            ),
        ];
        match self
            .store
            .complete_signup(&hash, &tenant, &admin, &password_token, &audit)
            .await
        {
            Err(Error::NotFound { .. }) => Err(invalid()),
            other => other,
        }
    }

    // ---- operators -------------------------------------------------------------------------

    /// Operators only.
    pub async fn operators(&self, caller: &Caller) -> Result<Vec<(User, Tenant)>> {
        require_operator(caller)?;
        self.store.operators().await
    }

    /// Operators only: grants (`true`) or withdraws operator rights of any user of any
    /// tenant. The deployment always keeps an active operator.
    pub async fn set_operator(&self, caller: &Caller, raw_uid: &str, grant: bool) -> Result<()> {
        require_operator(caller)?;
        let uid = Uid::parse(raw_uid).ok_or(Error::NotFound { kind: "user" })?;
        let (user, tenant) = self
            .store
            .user_anywhere(&uid)
            .await?
            .ok_or(Error::NotFound { kind: "user" })?;
        let action = if grant {
            "user.grantOperator"
        } else {
            "user.withdrawOperator"
        };
        let audit = self.audit(&tenant.uid, Some(&caller.user.uid), action, &user.uid, "");
        self.store.set_operator(&user, grant, &audit).await?;
        self.changed(Change::User(user.uid)).await;
        Ok(())
    }

    /// Refuses anyone but an operator of the deployment (system-scope settings the HTTP layer
    /// keeps, such as the rate-limit switch).
    pub fn require_operator(&self, caller: &Caller) -> Result<()> {
        require_operator(caller)
    }

    /// Operators only: records that `caller` switched this node's rate limits (the switch
    /// itself lives in the HTTP layer). Written before the switch takes effect, so that an
    /// unrecorded switch never happens.
    pub async fn record_rate_limit_switch(&self, caller: &Caller, active: bool) -> Result<()> {
        require_operator(caller)?;
        let audit = self.audit(
            &caller.tenant.uid,
            Some(&caller.user.uid),
            "system.rateLimit",
            &caller.tenant.uid,
            format!("isActive={active}"),
        );
        // An audit row without a session, through the same durable batch writer sign-ins use.
        self.store
            .write_sign_ins(&[SignIn {
                session: None,
                audit,
            }])
            .await
    }
}
