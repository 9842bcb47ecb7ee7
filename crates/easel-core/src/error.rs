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
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => {
                "this endpoint needs an API key in the ApiKey header or query parameter"
            }
            AuthFailure::Malformed => "the API key is not well-formed",
            AuthFailure::Unknown => "the API key is not valid",
            AuthFailure::Revoked => "the API key has been revoked",
            AuthFailure::Expired => "the API key has expired",
            AuthFailure::Disabled => "the API key's owner is disabled",
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
