//! `site import FILE`: store a site that [`patrol_core::sitefile::parse`] has read and checked
//! (zones, checkpoints with signed labels, routes). Nothing is written unless the whole file is
//! good, and a site code already in use is refused.

use patrol_core::sitefile::Import;

use crate::store::Store;

/// Store an imported site. A site code already in use is refused.
pub async fn store(store: &dyn Store, import: &Import) -> Result<(), String> {
    if store
        .site_by_code(&import.site.code)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err(format!(
            "a site with code `{}` exists already",
            import.site.code
        ));
    }
    store
        .put_site(&import.site, &import.key.secret_base64())
        .await
        .map_err(|e| e.to_string())?;
    for z in &import.zones {
        store.put_zone(z).await.map_err(|e| e.to_string())?;
    }
    for c in &import.checkpoints {
        store.put_checkpoint(c).await.map_err(|e| e.to_string())?;
    }
    for r in &import.routes {
        store.put_route(r).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
