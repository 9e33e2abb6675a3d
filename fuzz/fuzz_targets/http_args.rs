//! The parsers of `sockbox http`'s command line (METHOD, PATH or URL, `-H` headers) on arbitrary
//! text: none may panic, and what they accept must be sendable and say the same thing again:
//! a method is the text given, a target is an origin-form path (or `*`) that a request line can
//! carry, and a header printed the way `-v` shows it parses back to the same header.
//!
//! Input: three strings separated by NUL bytes (method, target, header).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sockbox_net::http::{parse_method, parse_target, HeaderArg};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let (method, target, header) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );

    if let Ok(m) = parse_method(method) {
        assert_eq!(m.as_str(), method, "a method is sent as written");
    }

    if let Ok((host, path)) = parse_target(target) {
        assert!(path == "*" || path.starts_with('/'), "{target:?} -> {path:?}");
        assert!(
            !path.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()),
            "{target:?} -> {path:?} cannot go on a request line"
        );
        if let Some(h) = host {
            assert!(!h.is_empty() && !h.contains('/'), "{target:?} -> host {h:?}");
        }
    }

    if let Ok(h) = HeaderArg::parse(header) {
        let shown = h.to_string();
        match (&h, HeaderArg::parse(&shown)) {
            (HeaderArg::Set(n, v), Ok(HeaderArg::Set(n2, v2))) => {
                assert_eq!((n, v), (&n2, &v2), "{header:?} shown as {shown:?}");
            }
            // `Name;` (an empty value) is shown as `Name: `, which is curl's spelling of removal.
            (HeaderArg::Set(_, v), Ok(HeaderArg::Remove(_))) if v.is_empty() => {}
            (HeaderArg::Set(_, v), Err(_)) if std::str::from_utf8(v.as_bytes()).is_err() => {}
            (HeaderArg::Remove(n), Ok(HeaderArg::Remove(n2))) => assert_eq!(n, &n2),
            (_, again) => panic!("{header:?} parsed as {h:?}, shown as {shown:?}, reparsed as {again:?}"),
        }
    }
});
