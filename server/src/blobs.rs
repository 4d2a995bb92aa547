//! Blobs — photos and signature images, content-addressed by SHA-256 — and the monthly
//! archive's files, kept through `object_store` (DESIGN.md §13): a local folder (`file:///PATH`;
//! by default `blobs/` in the data folder) or an S3-compatible bucket (`s3://BUCKET/PREFIX`,
//! with the usual `AWS_*` settings). Nothing of a blob stays on the server's disk when the store
//! is a bucket, so any server process in front of one database serves any photo.
//!
//! Keys are the same in every store: `ab/<sha256>.jpg` (the first two hex digits fan out; the
//! name ends `.jpg` for every blob, signatures in PNG included, as it always has) and
//! `archive/<SITE CODE>/<YYYY-MM>/<file>`. A data folder from before `--blob-url` is a
//! `file://` store as it is.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, GetResult, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use patrol_core::audit::AuditEntry;
use patrol_core::issue::Issue;
use patrol_core::report::Month;

/// Where blobs live.
#[derive(Clone)]
pub struct Blobs {
    inner: Arc<dyn ObjectStore>,
    /// The store's URL, for messages.
    url: String,
}

/// Why a blob store cannot be used. Said at startup, plainly.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not a URL this server knows.
    #[error(
        "unsupported blob store URL `{0}`: use file:///PATH (a folder) or s3://BUCKET/PREFIX (S3 or an S3-compatible store; endpoint from AWS_ENDPOINT_URL)"
    )]
    Scheme(String),
    /// The folder cannot be made or used.
    #[error("cannot use the blob folder {0}: {1}")]
    Folder(String, String),
    /// The store's client could not be built from the settings.
    #[error("cannot use the blob store {0}: {1}")]
    Settings(String, object_store::Error),
    /// The store did not answer, or the bucket is not there or not ours to read.
    #[error(
        "blob store {0} is not usable (is the bucket there, the endpoint reachable, the AWS_* credentials right?): {1}"
    )]
    Unreachable(String, object_store::Error),
}

/// S3 requests retry a little and then fail, so that an outage answers the phone's request
/// with a retryable error in seconds rather than holding it for object_store's default three
/// minutes: the phone retries on its own schedule.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
    }
}

impl Blobs {
    /// The store `url` names (`None`: the `blobs/` folder of `data_dir`), checked once: a
    /// bucket that is missing or a store that does not answer is an error now, not at the first
    /// photo.
    pub async fn open(url: Option<&str>, data_dir: &std::path::Path) -> Result<Blobs, OpenError> {
        // `vars_os`: `vars` panics on a variable that is not UTF-8; such a one is no AWS setting.
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Blobs::open_with_env(url, data_dir, env).await
    }

    /// [`Blobs::open`] with the `AWS_*` settings taken from `env` instead of the process's
    /// environment.
    async fn open_with_env(
        url: Option<&str>,
        data_dir: &std::path::Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Blobs, OpenError> {
        let blobs = match url {
            None => Blobs::local(&data_dir.join("blobs"))?,
            Some(url) => Blobs::from_url(url, env)?,
        };
        blobs
            .inner
            .list_with_delimiter(None)
            .await
            .map_err(|e| OpenError::Unreachable(blobs.url.clone(), e))?;
        Ok(blobs)
    }

    /// The store a URL names, not yet checked.
    fn from_url(
        url: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Blobs, OpenError> {
        if let Some(path) = url.strip_prefix("file://") {
            // `file:///srv/photos`: the path after the (empty) host, percent-decoded.
            let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
            if !decoded.starts_with('/') {
                return Err(OpenError::Scheme(url.to_owned()));
            }
            return Blobs::local(std::path::Path::new(decoded.as_ref()));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(OpenError::Scheme(url.to_owned()));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(OpenError::Scheme(url.to_owned()));
        }
        // As `AmazonS3Builder::from_env` reads them: every `AWS_*` variable it knows
        // (`AWS_ENDPOINT_URL` and `AWS_ENDPOINT` both name the endpoint).
        let mut builder = AmazonS3Builder::new();
        for (key, value) in env {
            if key.starts_with("AWS_")
                && let Ok(key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>()
            {
                builder = builder.with_config(key, value);
            }
        }
        let mut builder = builder.with_bucket_name(bucket).with_retry(retry());
        // A local S3-compatible store (MinIO, moto) is usually plain HTTP.
        let plain_http = builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .is_some_and(|e| e.starts_with("http://"));
        if plain_http {
            builder = builder.with_allow_http(true);
        }
        let s3 = builder
            .build()
            .map_err(|e| OpenError::Settings(url.to_owned(), e))?;
        let prefix = prefix.trim_matches('/');
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(Blobs {
            inner,
            url: url.to_owned(),
        })
    }

    /// Blobs in a local folder (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Blobs, OpenError> {
        let shown = dir.display().to_string();
        std::fs::create_dir_all(dir)
            .map_err(|e| OpenError::Folder(shown.clone(), e.to_string()))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| OpenError::Folder(shown.clone(), e.to_string()))?;
        Ok(Blobs {
            inner: Arc::new(fs),
            url: format!("file://{shown}"),
        })
    }

    fn path(sha256: &str) -> Path {
        // Two-level fan-out keeps folders small.
        Path::from(format!("{}/{sha256}.jpg", &sha256[..2]))
    }

    /// Keep a blob (the caller has checked its hash). One request or one rename: a put that
    /// fails half-way leaves nothing under the blob's name.
    pub async fn put(
        &self,
        sha256: &str,
        bytes: impl Into<PutPayload>,
    ) -> object_store::Result<()> {
        self.inner
            .put(&Self::path(sha256), bytes.into())
            .await
            .map(|_| ())
    }

    /// A blob, to stream (`meta.size` is its length).
    pub async fn open_blob(&self, sha256: &str) -> object_store::Result<GetResult> {
        self.inner.get(&Self::path(sha256)).await
    }

    /// A blob's bytes.
    pub async fn get(&self, sha256: &str) -> object_store::Result<Vec<u8>> {
        let got = self.open_blob(sha256).await?;
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

/// Whether an issue or its audit trail names this blob (a photo of the report, of a fix, or a
/// sign-off's signature image): only those are served with the issue, so a blob id is never a
/// key to pictures of issues the caller may not see.
pub fn named_by(issue: &Issue, audit: &[AuditEntry], sha256: &str) -> bool {
    patrol_core::blob::is_blob_id(sha256)
        && (issue.photos.iter().any(|p| p == sha256)
            || audit.iter().any(|e| {
                e.photos.iter().any(|p| p == sha256) || e.signature.as_deref() == Some(sha256)
            }))
}

impl Blobs {
    /// A blob as an HTTP answer, streamed from the store as it arrives (never held whole),
    /// with its type and length; cached for good, as the bytes under a content address never
    /// change.
    pub async fn response(
        &self,
        sha256: &str,
        mime: &'static str,
    ) -> object_store::Result<Response> {
        let got = self.open_blob(sha256).await?;
        let size = got.meta.size;
        Ok((
            [
                (header::CONTENT_TYPE, mime.to_owned()),
                (header::CONTENT_LENGTH, size.to_string()),
                (
                    header::CACHE_CONTROL,
                    "private, max-age=31536000, immutable".to_owned(),
                ),
            ],
            axum::body::Body::from_stream(got.into_stream()),
        )
            .into_response())
    }
}

/// Whether a blob store's failure is the object not being there (rather than the store failing).
pub fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
mod tests {
    use super::*;
    use patrol_e2e::s3::{Moto, blob_key};

    fn sha(bytes: &[u8]) -> String {
        patrol_core::blob::sha256_hex(bytes)
    }

    /// What every store must do; `raw` reads a key behind the store's back.
    async fn behaves(blobs: &Blobs, raw: &dyn Fn(&str) -> Option<Vec<u8>>) {
        let photo = b"not really a jpeg, but bytes".to_vec();
        let id = sha(&photo);
        let missing = blobs.get(&id).await.unwrap_err();
        assert!(is_not_found(&missing), "{missing}");
        assert!(is_not_found(&blobs.open_blob(&id).await.unwrap_err()));

        blobs.put(&id, photo.clone()).await.unwrap();
        assert_eq!(blobs.get(&id).await.unwrap(), photo);
        // Under the same key in every store, so a folder and a bucket hold the same layout.
        assert_eq!(raw(&blob_key(&id)).unwrap(), photo);
        let got = blobs.open_blob(&id).await.unwrap();
        assert_eq!(got.meta.size, photo.len() as u64);
        assert_eq!(got.bytes().await.unwrap().to_vec(), photo);
        // Putting the same blob again (a phone retrying) is fine and changes nothing.
        blobs.put(&id, photo.clone()).await.unwrap();
        assert_eq!(blobs.get(&id).await.unwrap(), photo);

        let month: Month = "2026-11".parse().unwrap();
        blobs
            .put_archive("demo", month, "report.csv", b"a,b\n".to_vec())
            .await
            .unwrap();
        assert_eq!(
            blobs
                .get_archive("demo", month, "report.csv")
                .await
                .unwrap(),
            b"a,b\n"
        );
        assert_eq!(raw("archive/demo/2026-11/report.csv").unwrap(), b"a,b\n");
        assert!(is_not_found(
            &blobs
                .get_archive("demo", month, "report.xlsx")
                .await
                .unwrap_err()
        ));
    }

    #[tokio::test]
    async fn a_folder_keeps_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        let url = format!("file://{}", root.display());
        let blobs = Blobs::open_with_env(Some(&url), dir.path(), [])
            .await
            .unwrap();
        behaves(&blobs, &|key| std::fs::read(root.join(key)).ok()).await;
    }

    #[tokio::test]
    async fn the_default_is_the_data_folder_as_it_always_was() {
        // A data folder from before --blob-url: its photos are served as they are.
        let dir = tempfile::tempdir().unwrap();
        let old = b"a photo from last year".to_vec();
        let id = sha(&old);
        let file = dir.path().join("blobs").join(blob_key(&id));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &old).unwrap();
        let blobs = Blobs::open_with_env(None, dir.path(), []).await.unwrap();
        assert_eq!(blobs.get(&id).await.unwrap(), old);
        let root = dir.path().join("blobs");
        behaves(&blobs, &|key| std::fs::read(root.join(key)).ok()).await;
    }

    #[tokio::test]
    async fn a_bucket_keeps_blobs_under_its_prefix() {
        let moto = Moto::start();
        let bucket = moto.bucket();
        let url = format!("s3://{bucket}/estate-a/");
        let nowhere = tempfile::tempdir().unwrap();
        let blobs = Blobs::open_with_env(Some(&url), nowhere.path(), moto.env())
            .await
            .unwrap();
        behaves(&blobs, &|key| moto.get(&bucket, &format!("estate-a/{key}"))).await;
        // Nothing of it on the server's disk.
        assert_eq!(std::fs::read_dir(nowhere.path()).unwrap().count(), 0);
        // And a bucket with no prefix.
        let whole =
            Blobs::open_with_env(Some(&format!("s3://{bucket}")), nowhere.path(), moto.env())
                .await
                .unwrap();
        behaves(&whole, &|key| moto.get(&bucket, key)).await;
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_used_is_said_at_once() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            "ftp://host/photos",
            "file://relative/photos",
            "s3://",
            "photos",
        ] {
            let e = Blobs::open_with_env(Some(url), dir.path(), [])
                .await
                .err()
                .unwrap();
            assert!(matches!(e, OpenError::Scheme(_)), "{url}: {e}");
            assert!(e.to_string().contains("s3://BUCKET/PREFIX"), "{e}");
        }
        let moto = Moto::start();
        let e = Blobs::open_with_env(Some("s3://no-such-bucket/p"), dir.path(), moto.env())
            .await
            .err()
            .unwrap();
        assert!(matches!(e, OpenError::Unreachable(..)), "{e}");
        assert!(e.to_string().contains("s3://no-such-bucket/p"), "{e}");
        // A store that does not answer fails within seconds, not object_store's minutes.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let env = [
            ("AWS_ACCESS_KEY_ID".to_owned(), "k".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "s".to_owned()),
            (
                "AWS_ENDPOINT_URL".to_owned(),
                format!("http://127.0.0.1:{port}"),
            ),
        ];
        let started = std::time::Instant::now();
        let e = Blobs::open_with_env(Some("s3://photos"), dir.path(), env)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, OpenError::Unreachable(..)), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
    }
}
