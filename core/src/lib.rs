//! Patrol companion core: the rules that phones and server share (DESIGN.md §2).
//!
//! Pure domain rules live here once: the issue lifecycle, SLA arithmetic, routing, QR labels,
//! the checklist catalogue and the sync wire types. The device engine sits behind the `device`
//! feature; the server builds this crate without it. Site files (YAML) are read behind the
//! `sitefile` feature, which the server turns on.
#![forbid(unsafe_code)]

pub mod alert;
pub mod audit;
pub mod blob;
pub mod bounds;
pub mod checklist;
pub mod coverage;
pub mod demo;
#[cfg(feature = "device")]
pub mod engine;
pub mod error;
pub mod evidence;
pub mod ids;
pub mod issue;
pub mod labels;
pub mod lifecycle;
pub mod patrol;
#[cfg(feature = "photo")]
pub mod photo;
pub mod plausibility;
pub mod report;
pub mod round;
pub mod route;
pub mod routing;
pub mod site;
#[cfg(feature = "sitefile")]
pub mod sitefile;
pub mod sla;
#[cfg(feature = "device")]
pub mod sync;
pub mod team;
pub mod text;
pub mod time;
pub mod user;
pub mod wire;

pub use error::{Error, Result};
