//! What the fuzz targets share: a fixed estate whose labels the `qr_token` target checks scans
//! against. Its keys and ids never change, so the signed tokens in `corpus/qr_token/` stay
//! genuine labels of it and the fuzzer starts from the accepted path, not only from refusals.
//! `tests/tests/fuzz.rs` in the main workspace includes this file to write and check the seeds.

use std::collections::BTreeSet;

use patrol_core::ids::{CheckpointId, SiteId};
use patrol_core::labels::SiteKey;
use patrol_core::routing::Routing;
use patrol_core::site::Site;
use patrol_core::sla::SlaHours;
use uuid::Uuid;

/// The label key of the site the device is on (base64url of 32 fixed bytes; test data only).
pub const SITE_SECRET: &str = "cGF0cm9sLWZ1enotc2l0ZS1rZXktbm90LXNlY3JldCE";
/// The label key of a neighbouring site the device also knows.
pub const OTHER_SECRET: &str = "cGF0cm9sLWZ1enotb3RoZXItc2l0ZS1ub3QtYS1rZXk";

/// The device's site.
pub const SITE_ID: SiteId = SiteId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001));
/// The neighbouring site.
pub const OTHER_ID: SiteId = SiteId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0002));
/// Checkpoints of the device's site that its reference data has.
pub const KNOWN: [CheckpointId; 3] = [
    CheckpointId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0001_0001)),
    CheckpointId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0001_0002)),
    CheckpointId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0001_0003)),
];
/// A checkpoint of the device's site added since its last pull.
pub const NOT_PULLED: CheckpointId =
    CheckpointId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0001_0004));

/// The estate as a phone on [`SITE_ID`] sees it.
pub struct Labels {
    /// The device's site.
    pub site: Site,
    /// Its label key, to sign seeds with.
    pub key: SiteKey,
    /// Other sites the device knows.
    pub others: Vec<Site>,
    /// The neighbour's label key.
    pub other_key: SiteKey,
    /// The checkpoints in the device's reference data.
    pub known: BTreeSet<CheckpointId>,
}

fn fixed_key(secret: &str) -> SiteKey {
    // The secrets above are constants of this file, not input.
    SiteKey::from_secret_base64(secret).expect("a fixed 32-byte key")
}

fn site(id: SiteId, name: &str, key: &SiteKey) -> Site {
    Site {
        id,
        code: name.to_lowercase(),
        name: name.to_owned(),
        time_zone: patrol_core::site::DEFAULT_TIME_ZONE.to_owned(),
        public_key: key.public_key_base64(),
        sla_hours: SlaHours::default(),
        routing: Routing::default(),
        retention_days: patrol_core::site::DEFAULT_RETENTION_DAYS,
    }
}

/// The fixed estate.
pub fn labels() -> Labels {
    let key = fixed_key(SITE_SECRET);
    let other_key = fixed_key(OTHER_SECRET);
    Labels {
        site: site(SITE_ID, "Fuzz", &key),
        others: vec![site(OTHER_ID, "Neighbour", &other_key)],
        key,
        other_key,
        known: KNOWN.into_iter().collect(),
    }
}
