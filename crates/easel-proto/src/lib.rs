//! Wire types of Easel's REST API.
//!
//! These are the JSON shapes of Spectro Cloud Palette's identity API (the contract in
//! `shared/palette-api/`), split as Palette splits them into `metadata`, `spec` and `status`.
//! They carry no behaviour beyond serde: validation happens in `easel-core`.
//!
//! Deserialisation is deliberately tolerant of what Go clients send (see `NOTES.md` §7):
//! `null` for arrays, maps and objects, `"0001-01-01T00:00:00.000Z"` for unset times,
//! client-sent uids and timestamps (read but ignored by the server), and unknown fields.
//! Serialisation is strict: times always with milliseconds and `Z`, unset times as Go's
//! zero time, and the `x-omitempty: false` fields always present.

pub mod apikey;
pub mod audit;
pub mod auth;
pub mod common;
pub mod rbac;
pub mod tenant;
pub mod time;
pub mod user;
mod written;

pub use apikey::*;
pub use audit::*;
pub use auth::*;
pub use common::*;
pub use rbac::*;
pub use tenant::*;
pub use user::*;
