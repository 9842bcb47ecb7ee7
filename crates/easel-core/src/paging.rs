//! List paging: `limit` (default and maximum 50), `offset` for compatibility, and an opaque
//! `continue` token that carries a keyset position.
//!
//! The token is `base64url(json) . base64url(hmac)`: the HMAC (keyed by the deployment's
//! secret, shared by every node) makes it tamper-evident, and it names the list it belongs
//! to, so a token from one list or filter is refused by another. A keyset position (the
//! last uid seen) keeps pages correct while rows are inserted or deleted between calls.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::ids::Uid;
use crate::model::{Listed, Window};

pub const MAX_LIMIT: i64 = 50;

/// Bytes of HMAC-SHA-256 a continue token carries.
const TAG_LEN: usize = 16;

#[derive(Clone)]
pub struct PageCodec {
    secret: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Position {
    /// Which list (and filter) the token belongs to.
    l: String,
    /// The last uid of the previous page.
    a: String,
    /// How many rows came before the next page.
    o: i64,
}

/// The paging parameters of a list request, before validation.
#[derive(Debug, Clone, Default)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub continue_token: Option<String>,
}

/// One page, ready to be put on the wire.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    /// Index of the first row of the next page.
    pub next_offset: i64,
    /// Empty on the last page.
    pub continue_token: String,
}

impl PageCodec {
    pub fn new(secret: Vec<u8>) -> Self {
        PageCodec { secret }
    }

    fn mac(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).map_err(Error::internal)?;
        mac.update(payload);
        Ok(mac.finalize().into_bytes()[..TAG_LEN].to_vec())
    }

    fn encode(&self, list: &str, after: &Uid, offset: i64) -> Result<String> {
        let payload = serde_json::to_vec(&Position {
            l: list.to_owned(),
            a: after.to_string(),
            o: offset,
        })
        .map_err(Error::internal)?;
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(self.mac(&payload)?)
        ))
    }

    fn decode(&self, list: &str, token: &str) -> Result<(Uid, i64)> {
        let bad = || Error::invalid("the continue token is not valid for this list");
        let (payload, tag) = token.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        // Exactly the tag `mac` makes: `verify_truncated_left` alone accepts any prefix of
        // it, and a one-byte tag is forged in 256 tries (found by the continue_token fuzzer).
        if tag.len() != TAG_LEN {
            return Err(bad());
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).map_err(Error::internal)?;
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| bad())?;
        let position: Position = serde_json::from_slice(&payload).map_err(|_| bad())?;
        if position.l != list || position.o < 0 {
            return Err(bad());
        }
        Ok((Uid::parse(&position.a).ok_or_else(bad)?, position.o))
    }

    /// Validates the parameters of a request on list `list` and says which rows to fetch.
    /// A `limit` of 0 or none means the default (50); more than 50 is capped at 50.
    pub fn window(&self, list: &str, params: &PageParams) -> Result<Window> {
        let limit = match params.limit {
            None | Some(0) => MAX_LIMIT,
            Some(n) if n < 0 => return Err(Error::invalid("limit must not be negative")),
            Some(n) => n.min(MAX_LIMIT),
        };
        match params.continue_token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => {
                let (after, offset) = self.decode(list, token)?;
                Ok(Window {
                    limit,
                    after: Some(after),
                    offset,
                })
            }
            None => {
                let offset = params.offset.unwrap_or(0);
                if offset < 0 {
                    return Err(Error::invalid("offset must not be negative"));
                }
                Ok(Window {
                    limit,
                    after: None,
                    offset,
                })
            }
        }
    }

    /// Turns what the store returned for `window` into a page, with the token for the next.
    pub fn page<T>(
        &self,
        list: &str,
        window: &Window,
        listed: Listed<T>,
        uid_of: impl Fn(&T) -> &Uid,
    ) -> Result<Page<T>> {
        let mut items = listed.rows;
        let more = items.len() as i64 > window.limit;
        items.truncate(window.limit as usize);
        let next_offset = window.offset.saturating_add(items.len() as i64);
        let continue_token = match (more, items.last()) {
            (true, Some(last)) => self.encode(list, uid_of(last), next_offset)?,
            _ => String::new(),
        };
        Ok(Page {
            items,
            total: listed.total,
            limit: window.limit,
            next_offset,
            continue_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> PageCodec {
        PageCodec::new(b"test secret".to_vec())
    }

    fn uid(n: u8) -> Uid {
        Uid::parse(&format!("{n:024x}")).unwrap()
    }

    #[test]
    fn a_token_round_trips_to_its_position() {
        let c = codec();
        let token = c.encode("users", &uid(7), 50).unwrap();
        assert_eq!(c.decode("users", &token).unwrap(), (uid(7), 50));
    }

    #[test]
    fn a_token_with_a_shortened_tag_is_refused() {
        // Regression (continue_token fuzzer): a prefix of the right tag was accepted, so a
        // one-byte tag could be forged for any position in 256 tries.
        let c = codec();
        let token = c.encode("users", &uid(7), 50).unwrap();
        let (payload, tag) = token.split_once('.').unwrap();
        let tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
        for len in [1, 8, 15] {
            let short = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..len]));
            assert!(c.decode("users", &short).is_err(), "a {len}-byte tag");
        }
        let forged = URL_SAFE_NO_PAD
            .encode(br#"{"l":"users","a":"ffffffffffffffffffffffff","o":0}"#.as_slice());
        let tries = (0..=255u8)
            .filter(|b| {
                c.decode(
                    "users",
                    &format!("{forged}.{}", URL_SAFE_NO_PAD.encode([*b])),
                )
                .is_ok()
            })
            .count();
        assert_eq!(tries, 0);
    }

    #[test]
    fn tampered_tokens_and_tokens_of_other_lists_are_refused() {
        let c = codec();
        let token = c.encode("users", &uid(7), 50).unwrap();
        assert!(c.decode("apiKeys", &token).is_err());
        let (payload, tag) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD
            .encode(br#"{"l":"users","a":"000000000000000000000001","o":0}"#.as_slice());
        assert!(c
            .decode("users", &format!("{forged_payload}.{tag}"))
            .is_err());
        assert!(c.decode("users", payload).is_err());
        assert!(c.decode("users", "").is_err());
        assert!(c.decode("users", "....").is_err());
        let other = PageCodec::new(b"another deployment".to_vec());
        assert!(other.decode("users", &token).is_err());
    }

    #[test]
    fn limits_default_cap_and_refuse_negatives() {
        let c = codec();
        let w = |limit| {
            c.window(
                "x",
                &PageParams {
                    limit,
                    ..Default::default()
                },
            )
        };
        assert_eq!(w(None).unwrap().limit, 50);
        assert_eq!(w(Some(0)).unwrap().limit, 50);
        assert_eq!(w(Some(10)).unwrap().limit, 10);
        assert_eq!(w(Some(500)).unwrap().limit, 50);
        assert!(w(Some(-1)).is_err());
    }

    #[test]
    fn a_page_with_more_rows_has_a_token_and_the_last_has_none() {
        let c = codec();
        let window = Window {
            limit: 2,
            after: None,
            offset: 0,
        };
        let page = c
            .page(
                "x",
                &window,
                Listed {
                    rows: vec![uid(1), uid(2), uid(3)],
                    total: 3,
                },
                |u| u,
            )
            .unwrap();
        assert_eq!(page.items, vec![uid(1), uid(2)]);
        assert_eq!(page.next_offset, 2);
        let next = c
            .window(
                "x",
                &PageParams {
                    limit: Some(2),
                    continue_token: Some(page.continue_token),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(next.after, Some(uid(2)));
        let last = c
            .page(
                "x",
                &next,
                Listed {
                    rows: vec![uid(3)],
                    total: 3,
                },
                |u| u,
            )
            .unwrap();
        assert_eq!(last.continue_token, "");
        assert_eq!(last.next_offset, 3);
    }
}
