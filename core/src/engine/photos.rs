//! Photos on the phone: normalised, kept as files beside the database, queued for upload.

use std::path::PathBuf;

use rusqlite::params;

use super::{Engine, ms};
use crate::error::{Error, FlowError, Result};

impl Engine {
    /// Take a camera image: normalise it (orientation applied, metadata stripped, resized),
    /// keep it and its thumbnail, and queue it for upload. Returns its id (SHA-256 hex).
    ///
    /// The files are written (atomically) before the row is committed, so a row never points
    /// at a missing or half-written file. When the row cannot be committed the files this call
    /// wrote are removed again: on a full phone a refused photo must not keep its space.
    pub fn add_photo(&self, bytes: &[u8]) -> Result<String> {
        let photo = crate::photo::normalise(bytes)?;
        // One photo at a time, so that a failed call never removes a file that a call storing
        // the same picture at the same moment has just committed a row for.
        let _one = self.photo_lock.lock().map_err(|_| Error::Poisoned)?;
        let written = crate::photo::store(&self.photo_dir, &photo)?;
        let now = self.now();
        let committed = self.store.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO photos (id, bytes, created_at_ms) VALUES (?1, ?2, ?3)",
                params![photo.id, photo.jpeg.len() as i64, ms(now)],
            )?;
            Ok(())
        });
        match committed {
            Ok(()) => Ok(photo.id),
            // A failed fsync leaves open whether the commit happened: after a crash the row may
            // come back from the WAL, and a queued photo without its file would stop every
            // sync. Files without a row are only wasted space.
            Err(e) if e.commit_uncertain() => Err(e),
            Err(e) => {
                written.remove();
                Err(e)
            }
        }
    }

    /// Where a photo's normalised JPEG is.
    pub fn photo_path(&self, id: &str) -> PathBuf {
        crate::photo::photo_path(&self.photo_dir, id)
    }

    /// Where a photo's thumbnail is.
    pub fn thumbnail_path(&self, id: &str) -> PathBuf {
        crate::photo::thumbnail_path(&self.photo_dir, id)
    }

    /// The file of a kept photo to show (its thumbnail, for lists). The id must be a photo id,
    /// so that a caller's string never names a file outside the photo folder.
    pub fn photo_file(&self, id: &str, thumbnail: bool) -> Result<PathBuf> {
        if !crate::blob::is_blob_id(id) {
            return Err(FlowError::NotAPhoto.into());
        }
        Ok(if thumbnail {
            self.thumbnail_path(id)
        } else {
            self.photo_path(id)
        })
    }

    /// Photos not yet uploaded, oldest first.
    pub fn pending_photos(&self, limit: usize) -> Result<Vec<String>> {
        self.store.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id FROM photos WHERE uploaded = 0 ORDER BY created_at_ms, id LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// The server has the photo.
    pub fn mark_photo_uploaded(&self, id: &str) -> Result<()> {
        self.store.write(|tx| {
            tx.execute("UPDATE photos SET uploaded = 1 WHERE id = ?1", [id])?;
            Ok(())
        })
    }
}
