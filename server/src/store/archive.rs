//! What the store keeps about the monthly archive (DESIGN.md §8): which months of a site were
//! written to the blob store, with which files, and how much of each month's patrol records the
//! archive holds, so that nothing is purged that the archive does not hold.

use std::ops::Add;

use jiff::Timestamp;
use patrol_core::patrol::{ItemResult, PatrolRun, Visit};
use patrol_core::report::Month;

/// How much of a month's patrol records there is: rows of each table and the characters of
/// their data. A finished round and its records never change, and a round that finishes or an
/// answer given late changes the characters; so equal counts mean the same records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// Rounds.
    pub runs: i64,
    /// Checkpoint visits.
    pub visits: i64,
    /// Checklist answers.
    pub results: i64,
    /// Characters of their stored data.
    pub chars: i64,
}

impl Add for RecordCounts {
    type Output = RecordCounts;

    fn add(self, o: RecordCounts) -> RecordCounts {
        RecordCounts {
            runs: self.runs + o.runs,
            visits: self.visits + o.visits,
            results: self.results + o.results,
            chars: self.chars + o.chars,
        }
    }
}

/// A month's patrol records: its rounds with their visits and answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatrolRecords {
    /// Rounds, in the order they started.
    pub runs: Vec<PatrolRun>,
    /// Their visits, in the order they were made.
    pub visits: Vec<Visit>,
    /// The answers at those visits, visit by visit.
    pub results: Vec<ItemResult>,
}

/// One file of a month's archive in the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Its name under `archive/<SITE CODE>/<YYYY-MM>/`.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
    /// When it was written.
    pub written_at: Timestamp,
}

/// A month of a site's archive as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMonth {
    /// The month, in the site's time zone.
    pub month: Month,
    /// Its first instant.
    pub from: Timestamp,
    /// The first instant after it.
    pub to: Timestamp,
    /// 1 for the first archive; one more for each rewrite after records arrived late.
    pub version: u32,
    /// What the latest version's files hold.
    pub archived: RecordCounts,
    /// What was purged since that version was written.
    pub purged: RecordCounts,
    /// When the latest version was written.
    pub archived_at: Timestamp,
    /// Its files, every version's, by name.
    pub files: Vec<ArchiveFile>,
}

impl ArchivedMonth {
    /// Whether the month's stored records (`stored`) are what the archive holds, less what was
    /// purged: nothing arrived or changed since it was written.
    pub fn holds(&self, stored: RecordCounts) -> bool {
        stored + self.purged == self.archived
    }
}

/// What one purge batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// These records were deleted; none when nothing of the month is left to purge.
    Purged(RecordCounts),
    /// The month has no archive: nothing is purged.
    NotArchived,
    /// The month's records changed since its archive was written: nothing is purged until it
    /// is written again.
    Changed,
}
