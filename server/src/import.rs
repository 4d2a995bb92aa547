//! Setting up a site, the same from the CLI and the console's admin page: `site import FILE`
//! stores a site that [`patrol_core::sitefile::parse`] has read and checked (zones, checkpoints
//! with signed labels, routes) — nothing is written unless the whole file is good, and a site
//! code already in use is refused — and `site keygen CODE` gives a site a new label key with
//! every checkpoint re-signed.

use patrol_core::labels::{self, SiteKey};
use patrol_core::site::Site;
use patrol_core::sitefile::{Import, SiteFileError};

use crate::store::{Store, StoreError};

/// Why a site file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is wrong in these places (every one, with where it is).
    #[error("the site file has problems:\n  - {}", .0.join("\n  - "))]
    Problems(Vec<String>),
    /// A site with this code exists already: re-importing is refused, not merged.
    #[error("a site with code `{0}` exists already")]
    Taken(String),
    /// Storage or key generation failed (logged, never shown).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Internal(e.to_string())
    }
}

/// Read a site file's text and store the site it describes.
pub async fn import_yaml(store: &dyn Store, yaml: &str) -> Result<Import, ImportError> {
    let import = patrol_core::sitefile::parse(yaml).map_err(|e| match e {
        SiteFileError::Problems(p) => ImportError::Problems(p),
        // serde says the line and column of what it could not read.
        SiteFileError::Read(r) => ImportError::Problems(vec![r.to_string()]),
        SiteFileError::Key(k) => ImportError::Internal(k.to_string()),
    })?;
    self::store(store, &import).await?;
    Ok(import)
}

/// Store an imported site. A site code already in use is refused.
pub async fn store(store: &dyn Store, import: &Import) -> Result<(), ImportError> {
    if store.site_by_code(&import.site.code).await?.is_some() {
        return Err(ImportError::Taken(import.site.code.clone()));
    }
    store
        .put_site(&import.site, &import.key.secret_base64())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ImportError::Taken(import.site.code.clone()),
            other => other.into(),
        })?;
    for z in &import.zones {
        store.put_zone(z).await?;
    }
    for c in &import.checkpoints {
        store.put_checkpoint(c).await?;
    }
    for r in &import.routes {
        store.put_route(r).await?;
    }
    Ok(())
}

/// Give a site a new label key and re-sign every checkpoint with it, in one transaction: every
/// printed label of the site stops verifying and must be reprinted. Phones learn the new key
/// and tokens on their next pull. Returns the site as it is now and how many labels changed.
pub async fn rotate_key(store: &dyn Store, site: &Site) -> Result<(Site, usize), ImportError> {
    let key = SiteKey::generate().map_err(|e| ImportError::Internal(e.to_string()))?;
    let mut site = site.clone();
    site.public_key = key.public_key_base64();
    let mut checkpoints = store.checkpoints(site.id).await?;
    for cp in &mut checkpoints {
        cp.qr_token = labels::sign(site.id, cp.id, &key);
    }
    store
        .rekey_site(&site, &key.secret_base64(), &checkpoints)
        .await?;
    Ok((site, checkpoints.len()))
}
