//! An uploaded blob (DESIGN §5, §7): the header check under the bytes' own hash, then, when it
//! passes, the full decode the server runs off its async workers. Nothing may panic, and the
//! header check must bound the picture before any pixel is decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patrol_core::blob::{check_decodes, check_header, sha256_hex};
use patrol_core::bounds::MAX_SIGNATURE_EDGE;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = check_header(data, &sha256_hex(data)) else {
        return;
    };
    assert!(info.width > 0 && info.height > 0, "{info:?}");
    assert!(info.long_edge() <= MAX_SIGNATURE_EDGE, "{info:?}");
    let _ = check_decodes(data, &info);
});
