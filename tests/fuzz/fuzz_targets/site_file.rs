//! A site file an office writes (`site import FILE`): `sitefile::parse` reads and checks it.
//! Any text is refused with a message or gives a site whose every label verifies and whose
//! routes name only its own checkpoints.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use patrol_core::labels;
use patrol_core::sitefile;

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    let import = match sitefile::parse(yaml) {
        Ok(import) => import,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert!(!import.site.code.is_empty());
    assert!(import.site.tz().is_ok(), "{}", import.site.time_zone);
    let known: BTreeSet<_> = import.checkpoints.iter().map(|c| c.id).collect();
    assert_eq!(known.len(), import.checkpoints.len());
    for c in &import.checkpoints {
        assert!(import.zones.iter().any(|z| z.id == c.zone_id));
        assert_eq!(
            labels::verify_for_site(&c.qr_token, &import.site, &[], &known),
            Ok(c.id)
        );
    }
    for r in &import.routes {
        assert!(!r.schedule.times.is_empty());
        assert!(r.checkpoint_ids.iter().all(|id| known.contains(id)));
    }
});
