//! `PageCodec::window` with an arbitrary `continue` token, and `page` → `window` round trips.
//!
//! Invariants:
//! - `window` never panics;
//! - it refuses every token the codec did not produce: a token it accepts must be exactly
//!   the token `page` produces for the window it decodes to (so no forged, re-encoded or
//!   truncated token is accepted);
//! - a token produced by `page` decodes, on the same list, to the window of the next page,
//!   and is refused by another list and by another deployment's codec.
#![no_main]

use easel_core::ids::Uid;
use easel_core::model::{Listed, Window};
use easel_core::paging::{PageCodec, PageParams};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"easel fuzz deployment secret";
const LIST: &str = "list";

fn codec() -> PageCodec {
    PageCodec::new(SECRET.to_vec())
}

fn with_token(token: &str) -> PageParams {
    PageParams {
        continue_token: Some(token.to_owned()),
        ..Default::default()
    }
}

/// The token `page` gives for a page ending at `after` with `next_offset` rows before the
/// next page.
fn token_for(codec: &PageCodec, list: &str, after: &Uid, next_offset: i64) -> String {
    let window = Window {
        limit: 1,
        after: None,
        offset: next_offset.wrapping_sub(1),
    };
    let filler = Uid::parse("000000000000000000000000").expect("a valid uid");
    let page = codec
        .page(
            list,
            &window,
            Listed {
                rows: vec![after.clone(), filler],
                total: 2,
            },
            |u| u,
        )
        .expect("page");
    assert_eq!(page.next_offset, next_offset);
    page.continue_token
}

fn check_presented(codec: &PageCodec, input: &str) {
    let result = codec.window(LIST, &with_token(input));
    if input.is_empty() {
        // An empty token means "no token": the first page.
        let w = result.expect("no token is the first page");
        assert_eq!((w.after, w.offset, w.limit), (None, 0, 50));
        return;
    }
    let Ok(window) = result else {
        return;
    };
    let after = window
        .after
        .as_ref()
        .expect("a token gives a keyset position");
    assert!(window.offset >= 0);
    let canonical = token_for(codec, LIST, after, window.offset);
    assert_eq!(
        input, canonical,
        "a token the codec did not produce was accepted as {window:?}"
    );
}

fn check_round_trip(codec: &PageCodec, data: &[u8]) {
    // 12 bytes of uid, 8 bytes of offset, the rest (lossily) the list name.
    if data.len() < 20 {
        return;
    }
    let uid: String = data[..12].iter().map(|b| format!("{b:02X}")).collect();
    let after = Uid::parse(&uid).expect("24 hex digits");
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&data[12..20]);
    // `window` refuses negative offsets, and `page` never produces one.
    let offset = i64::from_le_bytes(offset) & i64::MAX;
    let list = String::from_utf8_lossy(&data[20..]).into_owned();
    let token = token_for(codec, &list, &after, offset);
    let window = codec
        .window(&list, &with_token(&token))
        .expect("a token the codec produced is accepted");
    assert_eq!(window.after.as_ref(), Some(&after));
    assert_eq!(window.offset, offset);
    assert_eq!(window.limit, 50);
    let other_list = format!("{list}x");
    assert!(codec.window(&other_list, &with_token(&token)).is_err());
    let other = PageCodec::new(b"another deployment".to_vec());
    assert!(other.window(&list, &with_token(&token)).is_err());
}

fuzz_target!(|data: &[u8]| {
    let codec = codec();
    if let Ok(s) = std::str::from_utf8(data) {
        check_presented(&codec, s);
    }
    check_round_trip(&codec, data);
});
