//! The one error type of the domain. The server maps each variant to a status and a Palette
//! error body in exactly one place; no variant's internal detail ever reaches a client.

/// Why a request could not be authenticated. Each has its own error code, so a caller can
/// tell a typo from a revoked key, without learning anything about keys it does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials were sent.
    Missing,
    /// The value is not an Easel key (wrong shape or bad checksum); the store was not asked.
    Malformed,
    /// Well-formed, but no such key exists (never created, or deleted).
    Unknown,
    /// The key was revoked.
    Revoked,
    /// The key is past its expiry.
    Expired,
    /// The key's owner, or the owner's tenant, is disabled.
    Disabled,
    /// The token is malformed, tampered with, or not signed by this deployment.
    TokenInvalid,
    /// The token is past its expiry.
    TokenExpired,
    /// The token's session was revoked (sign-out, revocation, a password change, the key it
    /// came from revoked or deleted).
    SessionRevoked,
    /// The session is past its absolute lifetime: sign in again.
    SessionExpired,
    /// Wrong email, organisation or password (which one is not said).
    BadCredentials,
}

impl AuthFailure {
    pub fn code(self) -> &'static str {
        match self {
            AuthFailure::Missing => "AuthenticationRequired",
            AuthFailure::Malformed => "ApiKeyMalformed",
            AuthFailure::Unknown => "ApiKeyInvalid",
            AuthFailure::Revoked => "ApiKeyRevoked",
            AuthFailure::Expired => "ApiKeyExpired",
            AuthFailure::Disabled => "UserDisabled",
            AuthFailure::TokenInvalid => "TokenInvalid",
            AuthFailure::TokenExpired => "TokenExpired",
            AuthFailure::SessionRevoked => "SessionRevoked",
            AuthFailure::SessionExpired => "SessionExpired",
            AuthFailure::BadCredentials => "InvalidCredentials",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => {
                "this endpoint needs an API key (ApiKey header or query parameter) or an \
                 authorisation token (Authorization header)"
            }
            AuthFailure::Malformed => "the API key is not well-formed",
            AuthFailure::Unknown => "the API key is not valid",
            AuthFailure::Revoked => "the API key has been revoked",
            AuthFailure::Expired => "the API key has expired",
            AuthFailure::Disabled => "the user or the organisation is disabled",
            AuthFailure::TokenInvalid => "the authorisation token is not valid",
            AuthFailure::TokenExpired => "the authorisation token has expired",
            AuthFailure::SessionRevoked => "the session of this token has ended",
            AuthFailure::SessionExpired => "the session has reached its lifetime; sign in again",
            AuthFailure::BadCredentials => "the email, organisation or password is not right",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: 400.
    #[error("{0}")]
    Invalid(String),
    /// No such object in the caller's tenant (or not visible to it): 404 `ResourceNotFound`.
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
    /// Not allowed for this caller: 403.
    #[error("{0}")]
    Forbidden(String),
    /// Not authenticated: 401.
    #[error("{}", .0.message())]
    Unauthenticated(AuthFailure),
    /// The request clashes with stored state (a duplicate, a rule about the current state):
    /// 409, with a code naming the rule.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Too many failed attempts: 429 with `Retry-After`.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// The credentials are valid in several organisations: say which (400, with the list).
    #[error("these credentials are valid in several organisations; choose one with `org`")]
    OrganizationRequired { organizations: Vec<String> },
    /// The store cannot be reached: 503. The detail is for the log only.
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    /// A bug or an unexpected store failure: 500. The detail is for the log only.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
