//! Alerts pulled from the server (DESIGN.md §11): the open ones the signed-in person sees, and
//! their acknowledgement — checked by core's rule on the phone, recorded and queued as an
//! `alert.ack` op in one transaction, and checked again by the server.

use rusqlite::{OptionalExtension, Transaction, params};

use super::reference::{all, one};
use super::{Engine, enqueue, ms};
use crate::alert::{self, Alert, AlertError};
use crate::error::Result;
use crate::ids::AlertId;
use crate::wire::{AlertAck, OpBody};

/// Store an alert row (from a pull, or after a local acknowledgement).
pub(super) fn put_alert(tx: &Transaction<'_>, alert: &Alert) -> Result<()> {
    tx.execute(
        "INSERT INTO alerts (id, site_id, raised_at_ms, open, data) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id,
           raised_at_ms = excluded.raised_at_ms, open = excluded.open, data = excluded.data",
        params![
            alert.id.to_string(),
            alert.site_id.to_string(),
            ms(alert.raised_at),
            i64::from(alert.is_open()),
            serde_json::to_string(alert)?
        ],
    )?;
    Ok(())
}

/// Whether an acknowledgement of the alert still waits in the outbox: the local copy is then
/// newer than any pulled one.
pub(super) fn has_pending_ack(tx: &Transaction<'_>, alert: &str) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM outbox WHERE state = 'pending' AND kind = 'alert.ack'
               AND json_extract(body, '$.alert_id') = ?1 LIMIT 1",
            [alert],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

impl Engine {
    /// The open alerts the signed-in person sees, newest first.
    pub fn alerts(&self) -> Result<Vec<Alert>> {
        let actor = self.actor()?;
        let open: Vec<Alert> = self.store.read(|c| {
            all(
                c,
                "SELECT data FROM alerts WHERE open = 1 ORDER BY raised_at_ms DESC, id DESC",
                [],
            )
        })?;
        Ok(open
            .into_iter()
            .filter(|a| alert::may_see(&actor, a))
            .collect())
    }

    /// A cached alert, acknowledged or not.
    pub fn alert(&self, id: AlertId) -> Result<Option<Alert>> {
        self.store
            .read(|c| one(c, "SELECT data FROM alerts WHERE id = ?1", &id.to_string()))
    }

    /// Acknowledge an alert with a note (who attended, what was done). An alert cached for
    /// someone else on a shared phone is unknown to this person, as it is on the server.
    pub fn ack_alert(&self, id: AlertId, note: &str) -> Result<Alert> {
        let actor = self.actor()?;
        let cached = self.alert(id)?.ok_or(AlertError::UnknownAlert)?;
        let now = self.now();
        let acked = alert::ack(&actor, &cached, Some(note), now)?;
        let body = OpBody::AlertAck(AlertAck {
            alert_id: id,
            note: acked.note.clone(),
        });
        self.store.write(|tx| {
            put_alert(tx, &acked)?;
            enqueue(tx, now, &body)?;
            Ok(acked.clone())
        })
    }
}
