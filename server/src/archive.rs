//! The monthly archive and retention (DESIGN.md §8; 004 §4.9: 《巡查记录表》每月底由管理处归档保存，
//! 保存期为两年). Once a month is over in a site's time zone its report — `report.xlsx` and
//! `report.csv` — is written to the blob store under `archive/<SITE CODE>/<YYYY-MM>/` and
//! recorded with how much of the month's patrol records it holds. Patrol records (rounds,
//! visits, answers) older than the site's retention are then purged, oldest first, in bounded
//! batches of their own transactions, and only while the month's archive holds what is stored
//! of it. Issues are not patrol records and stay.
//!
//! Every pass starts from what the store says, so a pass is safe to repeat, catches up months
//! missed while the server was down, and a purge stopped half-way finishes on the next pass.
//! Records that arrive after their month was written (a phone that syncs the next morning) make
//! the pass write the month again: over the first files while nothing of the month was purged,
//! as `report-N.*` beside them once something was.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use patrol_core::report::Month;
use patrol_core::site::Site;

use crate::blobs::Blobs;
use crate::reports::{self, ReportError};
use crate::store::{ArchiveFile, ArchivedMonth, Job, Purge, RecordCounts, Store, StoreError};

/// How much a pass purges at a time.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds (with their visits and answers) per batch, each batch one transaction.
    pub batch: u32,
    /// Stop after this many batches (the next pass goes on); `None`: purge all that is due.
    pub max_batches: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch: 200,
            max_batches: None,
        }
    }
}

/// Why a site's pass failed. For logs and the operator.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The report could not be made.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A time could not be computed (an unknown time zone).
    #[error(transparent)]
    Time(#[from] patrol_core::time::TimeError),
    /// The blob store failed.
    #[error("blob store: {0}")]
    Blobs(#[from] object_store::Error),
    /// The file writing task failed.
    #[error("file writing: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Records kept arriving while the month was read.
    #[error("{0}: records kept changing while the month was read; it is written on the next pass")]
    Busy(Month),
}

/// A month written by a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The site's code.
    pub site: String,
    /// The month.
    pub month: Month,
    /// Its version.
    pub version: u32,
    /// The files written.
    pub files: Vec<String>,
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct Pass {
    /// Months written.
    pub written: Vec<Written>,
    /// Records purged, by site code and month.
    pub purged: Vec<(String, Month, RecordCounts)>,
    /// Purge batches done.
    pub batches: u32,
    /// The batch limit was reached: the next pass goes on.
    pub stopped: bool,
    /// Sites whose pass failed, with why (the others went on).
    pub failed: Vec<(String, String)>,
}

/// Archive every month that is over and purge what is past retention, on every site, once.
pub async fn run_once(
    store: &dyn Store,
    blobs: &Blobs,
    now: Timestamp,
    opts: Options,
) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    for site in store.sites().await? {
        let done = match archive_site(store, blobs, &site, now, &mut pass).await {
            Ok(()) => purge_site(store, &site, now, opts, &mut pass).await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            tracing::error!(site = %site.code, error = %e, "archive pass failed");
            pass.failed.push((site.code.clone(), e.to_string()));
        }
        if pass.stopped {
            break;
        }
    }
    Ok(pass)
}

/// Run [`run_once`] every `every` until the task is dropped; the first pass at once, to catch
/// up on months that ended while the server was down.
pub async fn run(store: Arc<dyn Store>, blobs: Blobs, clock: crate::clock::Clock, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        // Another server process on the same database may be at it: skip this tick.
        let lock = match store.job_lock(Job::Archive).await {
            Ok(Some(lock)) => lock,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(error = %e, "archive pass failed");
                continue;
            }
        };
        let done = run_once(store.as_ref(), &blobs, clock.now(), Options::default()).await;
        drop(lock);
        match done {
            Ok(pass) => {
                for w in &pass.written {
                    tracing::info!(site = %w.site, month = %w.month, version = w.version, "month archived");
                }
                for (site, month, c) in &pass.purged {
                    tracing::info!(%site, %month, rounds = c.runs, visits = c.visits, results = c.results, "patrol records purged");
                }
            }
            Err(e) => tracing::error!(error = %e, "archive pass failed"),
        }
    }
}

/// Write each month of the site that is over and not archived as it is stored now.
async fn archive_site(
    store: &dyn Store,
    blobs: &Blobs,
    site: &Site,
    now: Timestamp,
    pass: &mut Pass,
) -> Result<(), ArchiveError> {
    let tz = site.tz()?;
    let Some(last) = Month::of(now, &tz).prev() else {
        return Ok(());
    };
    let recorded = store.archive(site.id).await?;
    // The months that are over: from the oldest stored round on, and any recorded before.
    let mut months: BTreeSet<Month> = recorded
        .iter()
        .map(|m| m.month)
        .filter(|m| *m <= last)
        .collect();
    if let Some(first) = store.first_round_at(site.id).await? {
        let mut m = Month::of(first, &tz);
        while m <= last {
            months.insert(m);
            let Some(next) = m.next() else { break };
            m = next;
        }
    }
    for month in months {
        let (from, to) = month.range(&tz)?;
        let previous = recorded.iter().find(|m| m.month == month);
        if let Some(p) = previous
            && p.holds(store.record_counts(site.id, from, to).await?)
        {
            continue;
        }
        let written = write_month(store, blobs, site, month, previous, now).await?;
        pass.written.extend(written);
    }
    Ok(())
}

/// Write one month's files and record them; `None` when another process recorded it first.
async fn write_month(
    store: &dyn Store,
    blobs: &Blobs,
    site: &Site,
    month: Month,
    previous: Option<&ArchivedMonth>,
    now: Timestamp,
) -> Result<Option<Written>, ArchiveError> {
    let (from, to) = month.range(&site.tz()?)?;
    // What the files hold is what was stored while they were read: the same before and after.
    let mut tries = 0;
    let (sheets, holds) = loop {
        let before = store.record_counts(site.id, from, to).await?;
        let sheets = reports::sheets(store, site, month, now).await?;
        let after = store.record_counts(site.id, from, to).await?;
        if before == after {
            break (sheets, after);
        }
        tries += 1;
        if tries == 3 {
            return Err(ArchiveError::Busy(month));
        }
    };
    let version = previous.map_or(1, |p| p.version + 1);
    // Once part of the month is purged its first files are all that is left of that part.
    let stem = match previous {
        Some(p) if p.purged != RecordCounts::default() => format!("report-{version}"),
        _ => "report".to_owned(),
    };
    let (xlsx, csv) =
        tokio::task::spawn_blocking(move || Ok::<_, ReportError>((sheets.xlsx()?, sheets.csv()?)))
            .await??;
    // The seals of the month's rounds, with the records they cover, so an auditor can check
    // the rounds from the archive alone once the records are purged (`verify-audit --file`).
    let seals = patrol_core::evidence::SealsFile {
        site: site.code.clone(),
        month: month.to_string(),
        seals: store.sealed_rounds(site.id, from, to).await?,
        public_keys: store
            .evidence_keys()
            .await?
            .into_iter()
            .map(|k| (k.key_id, k.public_key))
            .collect(),
    };
    let seals = serde_json::to_vec_pretty(&seals).map_err(crate::store::StoreError::from)?;
    let seals_name = format!("seals{}.json", stem.trim_start_matches("report"));
    let mut files = Vec::new();
    for (name, bytes) in [
        (format!("{stem}.xlsx"), xlsx),
        (format!("{stem}.csv"), csv),
        (seals_name, seals),
    ] {
        let file = ArchiveFile {
            name: name.clone(),
            bytes: bytes.len() as u64,
            sha256: patrol_core::blob::sha256_hex(&bytes),
            written_at: now,
        };
        blobs.put_archive(&site.code, month, &name, bytes).await?;
        files.push(file);
    }
    let names = files.iter().map(|f| f.name.clone()).collect();
    let entry = ArchivedMonth {
        month,
        from,
        to,
        version,
        archived: holds,
        purged: RecordCounts::default(),
        archived_at: now,
        files,
    };
    if !store
        .record_archive(site.id, &entry, previous.map(|p| p.version))
        .await?
    {
        tracing::warn!(site = %site.code, %month, "another process archived this month first");
        return Ok(None);
    }
    Ok(Some(Written {
        site: site.code.clone(),
        month,
        version,
        files: names,
    }))
}

/// Purge the site's patrol records older than its retention, month by month, oldest first.
async fn purge_site(
    store: &dyn Store,
    site: &Site,
    now: Timestamp,
    opts: Options,
    pass: &mut Pass,
) -> Result<(), ArchiveError> {
    let cutoff = patrol_core::time::retention_start(now, site.retention_days);
    for m in store.archive(site.id).await? {
        if m.from >= cutoff {
            break;
        }
        loop {
            if opts.max_batches.is_some_and(|max| pass.batches >= max) {
                pass.stopped = true;
                return Ok(());
            }
            match store
                .purge_batch(site.id, m.month, cutoff, opts.batch)
                .await?
            {
                Purge::Purged(c) if c.runs == 0 => break,
                Purge::Purged(c) => {
                    pass.batches += 1;
                    match pass.purged.last_mut() {
                        Some((s, month, total)) if *s == site.code && *month == m.month => {
                            *total = *total + c;
                        }
                        _ => pass.purged.push((site.code.clone(), m.month, c)),
                    }
                }
                Purge::Changed => {
                    // Written again on the next pass, then purged.
                    tracing::warn!(site = %site.code, month = %m.month, "records arrived after the month was archived; purge waits for the next archive");
                    break;
                }
                Purge::NotArchived => break,
            }
        }
    }
    Ok(())
}
