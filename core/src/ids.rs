//! Typed identifiers. Every id is a UUIDv7 made where the thing is created (phones make ids
//! offline), carried on the wire as its hyphenated string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.as_hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    /// A site (an estate managed by one office).
    SiteId,
    /// A zone: a place on a site.
    ZoneId,
    /// A labelled checkpoint inside a zone.
    CheckpointId,
    /// A checklist template.
    TemplateId,
    /// A patrol route.
    RouteId,
    /// A user account.
    UserId,
    /// One patrol round as walked.
    RunId,
    /// One visit to a checkpoint during a round.
    VisitId,
    /// One answered checklist item.
    ResultId,
    /// A reported problem.
    IssueId,
    /// One entry of an issue's audit trail.
    AuditId,
    /// A phone installation.
    DeviceId,
    /// One sync operation.
    OpId,
    /// An alert raised by the server (DESIGN.md §11).
    AlertId,
);
