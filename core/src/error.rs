//! Errors of the core crate.

use crate::checklist::{AnswerError, CatalogueError};
use crate::labels::LabelError;
use crate::lifecycle::RuleError;

/// Everything that can go wrong in core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A site names a time zone this build does not know.
    #[error("未知时区 / unknown time zone `{name}`")]
    UnknownTimeZone {
        /// The name given.
        name: String,
    },
    /// A time calculation left the representable range.
    #[error("时间超出范围 / time out of range")]
    TimeOutOfRange,
    /// A QR label was refused.
    #[error(transparent)]
    Label(#[from] LabelError),
    /// An issue transition broke a rule.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A checklist answer cannot be saved.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// A checklist catalogue is not usable.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
}

/// Result with core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
