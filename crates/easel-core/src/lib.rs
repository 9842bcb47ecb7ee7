//! Easel's domain.
//!
//! Everything that decides what may happen lives here, free of HTTP and SQL: validated
//! newtypes ([`names`]), the API-key format ([`apikey`]), password hashing ([`password`]),
//! who may do what ([`access`]), list paging ([`paging`]), the [`Store`] trait that each
//! backend implements, and [`Easel`], the service whose methods the server's handlers and
//! the CLI call. Time and randomness come in through [`Clock`] and [`Rng`] so that tests
//! can move time instead of waiting for it.

pub mod access;
pub mod apikey;
pub mod cache;
pub mod clock;
pub mod error;
pub mod group_commit;
pub mod ids;
pub mod mail;
pub mod model;
pub mod names;
pub mod paging;
pub mod password;
pub mod policy;
pub mod rng;
pub mod service;
pub mod store;
pub mod throttle;
pub mod token;

pub use access::{Caller, Permission, Scope, TENANT_ADMIN};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AuthFailure, Error, Result};
pub use ids::Uid;
pub use rng::{OsRandom, Rng};
pub use service::{CachedKey, Easel, EaselConfig};
pub use store::Store;
