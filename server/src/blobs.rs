//! Photo blobs, content-addressed by SHA-256, kept through `object_store`: a local folder by
//! default (S3-compatible storage at scale uses the same trait).

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

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
}
