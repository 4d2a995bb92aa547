//! The cursors clients send back (DESIGN §6–7): the pull `since` and the queue's opaque page
//! cursor. Any text is refused or read, and every queue cursor reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patrol_core::ids::IssueId;
use patrol_core::wire::{QueueCursor, pull_cursor};
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(n) = pull_cursor(Some(s)) {
            assert!(n >= 0, "{s:?} read as {n}");
            assert_eq!(pull_cursor(Some(&n.to_string())), Some(n));
        }
        if let Some(c) = QueueCursor::decode(s) {
            assert_eq!(QueueCursor::decode(&c.encode()), Some(c));
        }
    }
    // Any due time and id the server could page after, taken from the same bytes.
    let mut raw = [0u8; 24];
    let n = data.len().min(raw.len());
    raw[..n].copy_from_slice(&data[..n]);
    let (ms, id) = raw.split_at(8);
    let cursor = QueueCursor {
        due_at_ms: i64::from_le_bytes(ms.try_into().unwrap_or_default()),
        id: IssueId(Uuid::from_slice(id).unwrap_or_default()),
    };
    assert_eq!(QueueCursor::decode(&cursor.encode()), Some(cursor));
});
