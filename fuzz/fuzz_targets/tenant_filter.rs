//! The tenant list's `filters` parser on arbitrary input.
//!
//! Invariants:
//! - it never panics;
//! - an accepted filter's name, if any, is trimmed and lower-case;
//! - a single clause `metadata.name=<v>` (or `spec.orgName=<v>`) whose value holds no `AND`
//!   filters on exactly `v`, trimmed and lower-cased.
#![no_main]

use easel_core::service::parse_tenant_filters;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = parse_tenant_filters(Some(input)) {
        if let Some(name) = &filter.name {
            assert_eq!(name, name.trim(), "the name is not trimmed: {input:?}");
            assert_eq!(
                *name,
                name.to_lowercase(),
                "the name is not lower-case: {input:?}"
            );
        }
    }
    for field in ["metadata.name", "spec.orgName"] {
        if input.contains("AND") {
            break;
        }
        let clause = format!("{field}={input}");
        let filter = parse_tenant_filters(Some(&clause)).expect("a single name clause");
        let expected = input.trim().to_lowercase();
        assert_eq!(
            filter.name.as_deref(),
            Some(expected.as_str()),
            "{clause:?}"
        );
        assert_eq!(filter.is_active, None);
    }
    assert!(parse_tenant_filters(None).is_ok_and(|f| f.name.is_none() && f.is_active.is_none()));
});
