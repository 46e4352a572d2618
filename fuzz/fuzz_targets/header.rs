//! Header parsing: `xoev_core::Message::parse` (streaming quick-xml parse of
//! the envelope and the XÖV header) on arbitrary bytes, with the default
//! limits and with tight ones (so the limit paths are reached too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xoev_core::{Limits, Message};

fuzz_target!(|data: &[u8]| {
    let tight = Limits {
        max_bytes: 4096,
        max_depth: 8,
    };
    for limits in [Limits::default(), tight] {
        if let Ok(m) = Message::parse(data.to_vec(), &limits) {
            // Exercise what the pipeline reads next.
            if let Ok(h) = m.require_header() {
                let _ = h.author.as_ref().map(|a| a.key());
                let _ = h.reader.as_ref().map(|a| a.key());
                let _ = h.message_id.as_str();
            }
        }
    }
});
