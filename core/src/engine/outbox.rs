//! The outbox: operations waiting to be pushed, in `seq` order, and what the server said.

use rusqlite::params;

use super::Engine;
use crate::error::{Error, Result};
use crate::wire::{Op, OpResult, OpStatus};

/// An op read back from the outbox.
pub type PendingOp = Op;

/// How much is waiting to go to the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingCounts {
    /// Operations not yet acknowledged.
    pub ops: u64,
    /// Photos not yet uploaded.
    pub photos: u64,
    /// Operations the server refused for good, still to be seen by the person.
    pub rejected: u64,
}

/// An operation the server refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its place in the outbox.
    pub seq: u64,
    /// The op kind.
    pub kind: String,
    /// Machine-readable reason.
    pub code: String,
    /// Reason for people.
    pub message: String,
}

fn read_op(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

impl Engine {
    /// The oldest `limit` operations still to push, in `seq` order.
    pub fn pending_ops(&self, limit: usize) -> Result<Vec<PendingOp>> {
        self.store.read(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, op_id, kind, at, body FROM outbox
                 WHERE state = 'pending' ORDER BY seq LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], read_op)?;
            rows.map(|row| {
                let (seq, op_id, kind, at, body) = row?;
                Ok(Op {
                    op_id: op_id.parse().map_err(|_| Error::Corrupt("op id"))?,
                    seq: seq as u64,
                    kind,
                    at: at.parse().map_err(|_| Error::Corrupt("op time"))?,
                    body: serde_json::from_str(&body)?,
                })
            })
            .collect()
        })
    }

    /// Record the server's answers: applied and duplicate ops are done, rejected ones are kept
    /// to show the person and never sent again. A duplicate that carries a code repeats an
    /// earlier refusal (its first answer was lost) and counts as rejected.
    pub fn acknowledge(&self, results: &[OpResult]) -> Result<()> {
        self.store.write(|tx| {
            for r in results {
                let refused = r.status == OpStatus::Rejected
                    || (r.status == OpStatus::Duplicate && r.code.is_some());
                match r.status {
                    _ if refused => {
                        tx.execute(
                            "UPDATE outbox SET state = 'rejected', code = ?2, message = ?3
                             WHERE op_id = ?1 AND state = 'pending'",
                            params![
                                r.op_id.to_string(),
                                r.code.as_deref().unwrap_or("rejected"),
                                r.message.as_deref().unwrap_or("")
                            ],
                        )?;
                    }
                    OpStatus::Applied | OpStatus::Duplicate | OpStatus::Rejected => {
                        tx.execute(
                            "UPDATE outbox SET state = 'acked' WHERE op_id = ?1 AND state = 'pending'",
                            [r.op_id.to_string()],
                        )?;
                    }
                }
            }
            Ok(())
        })
    }

    /// The server waits for `expected` from this device but the oldest op still queued is later:
    /// it lost ops it had answered (a database restored from a backup). Queue every op from
    /// `expected` on again, answered or not, so the server gets them in order. Returns how many
    /// were queued again.
    pub fn resend_from(&self, expected: u64) -> Result<u64> {
        self.store.write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET state = 'pending', code = NULL, message = NULL
                 WHERE seq >= ?1 AND state <> 'pending'",
                [expected as i64],
            )?;
            Ok(n as u64)
        })
    }

    /// The `seq` of the oldest op still queued.
    pub fn oldest_pending_seq(&self) -> Result<Option<u64>> {
        self.store.read(|c| {
            let seq: Option<i64> = c.query_row(
                "SELECT MIN(seq) FROM outbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )?;
            Ok(seq.map(|s| s as u64))
        })
    }

    /// Operations the server refused, newest first.
    pub fn rejections(&self) -> Result<Vec<Rejection>> {
        self.store.read(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, kind, COALESCE(code, ''), COALESCE(message, '') FROM outbox
                 WHERE state = 'rejected' ORDER BY seq DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(Rejection {
                    seq: r.get::<_, i64>(0)? as u64,
                    kind: r.get(1)?,
                    code: r.get(2)?,
                    message: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The person has seen a rejection; it no longer counts as waiting.
    pub fn dismiss_rejection(&self, seq: u64) -> Result<()> {
        self.store.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'acked' WHERE seq = ?1 AND state = 'rejected'",
                [seq as i64],
            )?;
            Ok(())
        })
    }

    /// What is still waiting to go to the server.
    pub fn pending_counts(&self) -> Result<PendingCounts> {
        self.store.read(|c| {
            let (ops, rejected): (i64, i64) = c.query_row(
                "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'rejected'), 0)
                 FROM outbox",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let photos: i64 =
                c.query_row("SELECT count(*) FROM photos WHERE uploaded = 0", [], |r| {
                    r.get(0)
                })?;
            Ok(PendingCounts {
                ops: ops as u64,
                photos: photos as u64,
                rejected: rejected as u64,
            })
        })
    }
}
