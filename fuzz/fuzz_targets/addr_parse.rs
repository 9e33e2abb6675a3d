//! Parses arbitrary text as an address: the parser must never panic, and every address it
//! accepts must print (canonically) as text that parses back to the same address, and
//! printing that again must give the same text.
//!
//! Input: the bytes, taken as UTF-8; anything else is skipped (addresses come from `&str`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sockbox_net::addr::Address;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(addr) = text.parse::<Address>() else {
        return;
    };
    let printed = addr.to_string();
    match printed.parse::<Address>() {
        Ok(again) => {
            assert_eq!(again, addr, "{text:?} printed as {printed:?}");
            assert_eq!(again.to_string(), printed, "printing is not stable");
        }
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
});
