//! Photo blobs, content-addressed by SHA-256, kept through `object_store`: a local folder by
//! default (S3-compatible storage at scale uses the same trait). The monthly archive's files
//! are kept beside them under `archive/` (DESIGN.md §8).

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use patrol_core::report::Month;

/// Where blobs live.
#[derive(Clone)]
pub struct Blobs {
    inner: Arc<dyn ObjectStore>,
}

impl Blobs {
    /// Blobs in a local folder (created if missing).
    pub fn local(dir: &std::path::Path) -> std::io::Result<Blobs> {
        std::fs::create_dir_all(dir)?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(std::io::Error::other)?;
        Ok(Blobs {
            inner: Arc::new(fs),
        })
    }

    fn path(sha256: &str) -> Path {
        // Two-level fan-out keeps folders small.
        Path::from(format!("{}/{sha256}.jpg", &sha256[..2]))
    }

    /// Keep a blob (the caller has checked its hash).
    pub async fn put(&self, sha256: &str, bytes: &[u8]) -> object_store::Result<()> {
        self.inner
            .put(&Self::path(sha256), PutPayload::from(bytes.to_vec()))
            .await
            .map(|_| ())
    }

    /// A blob's bytes.
    pub async fn get(&self, sha256: &str) -> object_store::Result<Vec<u8>> {
        let got = self.inner.get(&Self::path(sha256)).await?;
        Ok(got.bytes().await?.to_vec())
    }

    fn archive_path(site_code: &str, month: Month, name: &str) -> Path {
        Path::from_iter(["archive", site_code, &month.to_string(), name])
    }

    /// Keep (or replace) a file of a site's monthly archive, at
    /// `archive/<SITE CODE>/<YYYY-MM>/<name>`.
    pub async fn put_archive(
        &self,
        site_code: &str,
        month: Month,
        name: &str,
        bytes: Vec<u8>,
    ) -> object_store::Result<()> {
        self.inner
            .put(
                &Self::archive_path(site_code, month, name),
                PutPayload::from(bytes),
            )
            .await
            .map(|_| ())
    }

    /// A file of a site's monthly archive.
    pub async fn get_archive(
        &self,
        site_code: &str,
        month: Month,
        name: &str,
    ) -> object_store::Result<Vec<u8>> {
        let got = self
            .inner
            .get(&Self::archive_path(site_code, month, name))
            .await?;
        Ok(got.bytes().await?.to_vec())
    }
}
