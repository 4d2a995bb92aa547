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
    /// A step of a round breaks the patrol rules.
    #[error(transparent)]
    Round(#[from] crate::patrol::RoundError),
    /// A checklist answer cannot be saved.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// A checklist catalogue is not usable.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// A step of the patrol flow cannot be taken.
    #[cfg(feature = "device")]
    #[error(transparent)]
    Flow(#[from] crate::engine::FlowError),
    /// A photo was refused.
    #[cfg(feature = "device")]
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),
    /// A sync stopped.
    #[cfg(feature = "device")]
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
    /// Nobody is signed in on this phone.
    #[error("请先登录 / sign in first")]
    NotSignedIn,
    /// The device database failed.
    #[cfg(feature = "device")]
    #[error("本机数据库错误 / device database error: {0}")]
    Store(#[from] rusqlite::Error),
    /// The device database was written by a newer version of the app.
    #[error(
        "数据库版本 {found} 高于本应用支持的 {supported}，请升级应用 / database version {found} is newer than this app supports ({supported}); update the app"
    )]
    SchemaTooNew {
        /// Version found.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// Stored data does not read back.
    #[error("本机数据已损坏：{0} / stored data is damaged: {0}")]
    Corrupt(&'static str),
    /// A lock was poisoned by a panic on another thread.
    #[error("内部错误，请重启应用 / internal error; restart the app")]
    Poisoned,
    /// A pulled change does not read.
    #[error(transparent)]
    Decode(#[from] crate::wire::ChangeDecodeError),
    /// Reading or writing JSON failed.
    #[error("数据格式错误 / data format error: {0}")]
    Json(#[from] serde_json::Error),
    /// A file could not be read or written.
    #[error("文件读写失败 / file error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result with core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
