//! A push request body as the server receives it (DESIGN §6): JSON into `PushRequest`, each op
//! decoded by its kind and checked against the bounds of §7. Nothing may panic, and an op that
//! decodes must come back the same from the body the device would store and send again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patrol_core::bounds;
use patrol_core::wire::{Op, OpBody, PushRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(push) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    for op in &push.ops {
        let _ = OpBody::known_kind(&op.kind);
        let Ok(body) = op.decode() else {
            continue;
        };
        assert_eq!(body.kind(), op.kind);
        let bounded = bounds::check_op(&body);
        let _ = (body.blobs(), body.issue_id());
        // The outbox keeps the decoded body and the phone resends it: it must read the same.
        let again = Op::new(op.op_id, op.seq, op.at, &body);
        match again.decode() {
            Ok(back) => {
                assert_eq!(back, body);
                assert_eq!(bounds::check_op(&back), bounded);
            }
            Err(e) => panic!("a decoded {} does not decode again: {e}", op.kind),
        }
    }
});
