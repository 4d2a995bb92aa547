//! A scanned QR text, as the phone and the server read it (DESIGN §4): `labels::parse` takes it
//! apart and `round::read_label` verifies it offline against the fixed estate. Any text must be
//! refused with a reason or name a known checkpoint, and only the label we signed is accepted.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use patrol_core::bounds::MAX_TOKEN_CHARS;
use patrol_core::labels;
use patrol_core::round::{self, RoundError};
use patrol_fuzz::Labels;

static ESTATE: LazyLock<Labels> = LazyLock::new(patrol_fuzz::labels);

fuzz_target!(|data: &[u8]| {
    // A scanner hands over text; bytes that are not UTF-8 never reach the parsers.
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let estate = &*ESTATE;
    let parsed = labels::parse(token);
    let read = round::read_label(token, &estate.site, &estate.others, &estate.known);
    if token.chars().count() > MAX_TOKEN_CHARS {
        assert!(matches!(read, Err(RoundError::Bound(_))), "{read:?}");
        return;
    }
    match (&parsed, &read) {
        (Err(p), Err(RoundError::Label(r))) => assert_eq!(p, r),
        (Err(p), r) => panic!("parse refused ({p:?}) but read_label said {r:?}"),
        (Ok(label), Ok(checkpoint)) => {
            assert_eq!(label.checkpoint, *checkpoint);
            assert!(estate.known.contains(checkpoint));
            // Signatures are deterministic and their encoding canonical: nothing but the
            // printed label itself (give or take the whitespace a scanner adds) verifies.
            assert_eq!(
                token.trim(),
                labels::sign(estate.site.id, *checkpoint, &estate.key)
            );
        }
        (Ok(_), Err(RoundError::Label(_))) => {}
        (Ok(_), Err(e)) => panic!("a well-formed label refused for {e:?}"),
    }
});
