//! `Demo::from_episode_json` on arbitrary text: a demo or a typed problem, never a panic.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = demo_retriever::Demo::from_episode_json(&text, Path::new("/nonexistent"));
});
