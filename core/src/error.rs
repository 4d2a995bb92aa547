//! Errors of the core crate: [`Error`], which gathers the refusals of every rule, and the
//! engine's and sync client's own. This module depends on the rule modules' error types and on
//! nothing that depends on it.

use crate::bounds::BoundError;
use crate::checklist::{AnswerError, CatalogueError};
#[cfg(feature = "device")]
use crate::ids::RunId;
use crate::labels::LabelError;
use crate::lifecycle::RuleError;
use crate::round::RoundError;
use crate::time::TimeError;

/// Everything that can go wrong in core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A time could not be used.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A limit was passed.
    #[error(transparent)]
    Bound(#[from] BoundError),
    /// A QR label was refused.
    #[error(transparent)]
    Label(#[from] LabelError),
    /// An issue transition broke a rule.
    #[error(transparent)]
    Rule(RuleError),
    /// A step of a round breaks the patrol rules.
    #[error(transparent)]
    Round(RoundError),
    /// A checklist answer cannot be saved.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// A checklist catalogue is not usable.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// A step of the patrol flow cannot be taken on this phone.
    #[cfg(feature = "device")]
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// A photo was refused.
    #[error(transparent)]
    Photo(#[from] crate::blob::PhotoError),
    /// A sync stopped.
    #[cfg(feature = "device")]
    #[error(transparent)]
    Sync(#[from] SyncError),
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

impl Error {
    /// The machine-readable code of a rule's refusal (the same code the server gives the op),
    /// or `None` for failures that are not a rule's.
    pub fn rule_code(&self) -> Option<&'static str> {
        Some(match self {
            Error::Time(e) => e.code(),
            Error::Bound(e) => e.code(),
            Error::Label(e) => e.code(),
            Error::Rule(e) => e.code(),
            Error::Round(e) => e.code(),
            Error::Answer(e) => e.code(),
            _ => return None,
        })
    }
}

impl From<RuleError> for Error {
    /// A rule's refusal; a time or a limit it passed on keeps its own variant.
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Time(t) => Error::Time(t),
            RuleError::Bound(b) => Error::Bound(b),
            other => Error::Rule(other),
        }
    }
}

impl From<RoundError> for Error {
    /// A round rule's refusal; a refused label, answer or limit keeps its own variant, so that
    /// the apps tell a bad label from a broken rule.
    fn from(e: RoundError) -> Self {
        match e {
            RoundError::Label(l) => Error::Label(l),
            RoundError::Answer(a) => Error::Answer(a),
            RoundError::Bound(b) => Error::Bound(b),
            other => Error::Round(other),
        }
    }
}

/// Result with core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a step cannot be taken on this phone, before any rule is asked. Shown to the guard:
/// Chinese, then English.
#[cfg(feature = "device")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The site is not in this phone's data.
    #[error("找不到该小区的资料，请先同步 / this site's data is not on this phone; sync first")]
    NoSuchSite,
    /// No checklist for this zone kind.
    #[error("该区域没有检查表 / no checklist for this kind of place")]
    NoChecklist,
    /// A photo id that is not one (the app passed something else).
    #[error("照片编号无效 / not a photo id")]
    NotAPhoto,
    /// Another round is still open.
    #[error("还有未结束的巡查，请先完成 / finish the round already under way first")]
    RoundUnderWay {
        /// The open round.
        run_id: RunId,
    },
}

/// Why a sync stopped. Messages are for the person: Chinese, then English.
#[cfg(feature = "device")]
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached (after retries).
    #[error("无法连接服务器，稍后会自动重试 / cannot reach the server; will retry later: {0}")]
    Network(String),
    /// Sign-in is needed again.
    #[error("登录已失效，请重新登录 / signed out; sign in again")]
    Unauthorized,
    /// Wrong username or password.
    #[error("用户名或密码错误 / wrong username or password")]
    BadCredentials,
    /// The server refused the request.
    #[error("服务器拒绝了请求（{status}）：{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's code.
        code: String,
        /// The server's message.
        message: String,
        /// With `out_of_order`: the `seq` the server waits for.
        expected_seq: Option<u64>,
    },
    /// The person or the app stopped it.
    #[error("同步已取消 / sync cancelled")]
    Cancelled,
    /// Another user's work is still waiting to be sent from this phone.
    #[error("请先同步上一位用户的数据 / sync the previous user's work first")]
    OtherUsersWorkPending,
}
