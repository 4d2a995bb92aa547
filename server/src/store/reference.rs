//! The reference data a push is decided on — sites, zones, checkpoints, routes, checklists —
//! kept in the process between pushes. It changes seldom (an import, the console), and every
//! change moves a counter in the database (triggers, `reference_generation`): a push reads the
//! counter once and takes what it needs from the cache of that generation, read from the
//! database the first time it is asked for. A change, in this process or another, starts a new
//! cache at the next push.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use patrol_core::checklist::{Catalogue, Template};
use patrol_core::ids::{CheckpointId, RouteId, SiteId, ZoneId};
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site, Zone, ZoneKind};

use super::{Result, Store};

/// The cache of the newest generation seen (a store holds one).
#[derive(Default)]
pub struct ReferenceCache {
    current: Mutex<Option<Arc<Reference>>>,
}

impl ReferenceCache {
    /// The reference data of `generation`: the cache's if it is of that generation, else a
    /// new, empty one, which replaces the cache if it is newer (a push that read the counter
    /// just before a change leaves the newer cache in place).
    pub fn at(&self, generation: i64) -> Arc<Reference> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match &*current {
            Some(r) if r.generation == generation => r.clone(),
            Some(r) if r.generation > generation => Arc::new(Reference::of(generation)),
            _ => {
                let r = Arc::new(Reference::of(generation));
                *current = Some(r.clone());
                r
            }
        }
    }
}

/// The reference data of one generation, each row read once. What is not found is not kept:
/// an op may name any id, and the cache holds only what exists.
#[derive(Default)]
pub struct Reference {
    generation: i64,
    sites: Table<SiteId, Option<Site>>,
    site_checkpoints: Table<SiteId, Arc<Vec<Checkpoint>>>,
    checkpoints: Table<CheckpointId, Option<Checkpoint>>,
    zones: Table<ZoneId, Option<Zone>>,
    routes: Table<RouteId, Option<Route>>,
    templates: Table<ZoneKind, Option<Arc<Template>>>,
}

/// Rows by key, filled as they are asked for.
struct Table<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash + Copy, V: Clone> Table<K, V> {
    fn get(&self, key: K) -> Option<V> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
    }

    fn put(&self, key: K, value: V) -> V {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert(value)
            .clone()
    }
}

impl<K: Eq + Hash + Copy, V: Clone> Table<K, Option<V>> {
    /// Keep a row found; a row not found is only returned.
    fn found(&self, key: K, value: Option<V>) -> Option<V> {
        match value {
            Some(v) => self.put(key, Some(v)),
            None => None,
        }
    }
}

impl<K, V> Table<K, V> {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Reference {
    fn of(generation: i64) -> Reference {
        Reference {
            generation,
            ..Reference::default()
        }
    }

    /// The generation this data is of.
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// A site as this generation has read it, if it has (a write transaction's own reads).
    pub fn known_site(&self, id: SiteId) -> Option<Site> {
        self.sites.get(id).flatten()
    }

    /// Keep a site a write transaction read (reads of the same generation agree).
    pub fn keep_site(&self, id: SiteId, site: Option<Site>) -> Option<Site> {
        self.sites.found(id, site)
    }

    /// A route as this generation has read it, if it has.
    pub fn known_route(&self, id: RouteId) -> Option<Route> {
        self.routes.get(id).flatten()
    }

    /// Keep a route a write transaction read.
    pub fn keep_route(&self, id: RouteId, route: Option<Route>) -> Option<Route> {
        self.routes.found(id, route)
    }

    /// A site.
    pub async fn site(&self, store: &dyn Store, id: SiteId) -> Result<Option<Site>> {
        if let Some(site) = self.sites.get(id) {
            return Ok(site);
        }
        let site = store.site(id).await?;
        Ok(self.sites.found(id, site))
    }

    /// A site's checkpoints.
    pub async fn site_checkpoints(
        &self,
        store: &dyn Store,
        site: SiteId,
    ) -> Result<Arc<Vec<Checkpoint>>> {
        if let Some(list) = self.site_checkpoints.get(site) {
            return Ok(list);
        }
        let list = Arc::new(store.checkpoints(site).await?);
        Ok(self.site_checkpoints.put(site, list))
    }

    /// A checkpoint.
    pub async fn checkpoint(
        &self,
        store: &dyn Store,
        id: CheckpointId,
    ) -> Result<Option<Checkpoint>> {
        if let Some(c) = self.checkpoints.get(id) {
            return Ok(c);
        }
        let c = store.checkpoint(id).await?;
        Ok(self.checkpoints.found(id, c))
    }

    /// A zone.
    pub async fn zone(&self, store: &dyn Store, id: ZoneId) -> Result<Option<Zone>> {
        if let Some(z) = self.zones.get(id) {
            return Ok(z);
        }
        let z = store.zone(id).await?;
        Ok(self.zones.found(id, z))
    }

    /// A route.
    pub async fn route(&self, store: &dyn Store, id: RouteId) -> Result<Option<Route>> {
        if let Some(r) = self.routes.get(id) {
            return Ok(r);
        }
        let r = store.route(id).await?;
        Ok(self.routes.found(id, r))
    }

    /// The checklist for a kind of place: the server's newest, else the standard catalogue's
    /// (as on the phone).
    pub async fn template(
        &self,
        store: &dyn Store,
        kind: ZoneKind,
    ) -> Result<Option<Arc<Template>>> {
        if let Some(t) = self.templates.get(kind) {
            return Ok(t);
        }
        let t = store
            .template_for(kind)
            .await?
            .or_else(|| Catalogue::standard().for_zone(kind).cloned())
            .map(Arc::new);
        Ok(self.templates.put(kind, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_generation_starts_an_empty_cache() {
        let cache = ReferenceCache::default();
        let first = cache.at(1);
        first.zones.put(ZoneId::new(), None);
        assert!(Arc::ptr_eq(&first, &cache.at(1)));
        let second = cache.at(2);
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(second.generation(), 2);
        assert_eq!(second.zones.len(), 0);
        // A push that read the counter before the change gets data of its own, and the newer
        // cache stays.
        let late = cache.at(1);
        assert!(!Arc::ptr_eq(&late, &second));
        assert!(Arc::ptr_eq(&cache.at(2), &second));
    }

    #[test]
    fn ids_that_name_nothing_are_not_kept() {
        let r = Reference::of(1);
        assert_eq!(r.zones.found(ZoneId::new(), None), None);
        assert_eq!(
            r.zones.len(),
            0,
            "an op naming random ids cannot fill the cache"
        );
    }
}
