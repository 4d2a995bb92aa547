//! Errors of the core crate: [`Error`], which gathers the refusals of every rule, and the
//! engine's and sync client's own. This module depends on the rule modules' error types and on
//! nothing that depends on it.

use crate::alert::AlertError;
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
    /// An alert cannot be acknowledged.
    #[error(transparent)]
    Alert(AlertError),
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
    Photo(crate::blob::PhotoError),
    /// A sync stopped.
    #[cfg(feature = "device")]
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// Nobody is signed in on this phone.
    #[error("请先登录 / sign in first")]
    NotSignedIn,
    /// The phone's storage is full: the step was not saved, what was saved before is kept.
    #[error(
        "手机存储空间已满，本次操作未保存；请清理空间后重试，之前保存的记录不受影响 / the phone's storage is full, so this was not saved; free some space and try again — what was saved before is kept"
    )]
    StorageFull,
    /// The device database failed.
    #[cfg(feature = "device")]
    #[error("本机数据库错误 / device database error: {0}")]
    Store(rusqlite::Error),
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
    Io(std::io::Error),
}

/// Whether a file error says the storage is full (or the user's share of it is used up).
fn is_storage_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

// A full disk gets its own variant wherever it is met, in the database or in a photo file: it
// is the one failure the person can fix themselves, and it must not read as damaged data.

#[cfg(feature = "device")]
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Error::StorageFull,
            _ => Error::Store(e),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if is_storage_full(&e) {
            Error::StorageFull
        } else {
            Error::Io(e)
        }
    }
}

impl From<crate::blob::PhotoError> for Error {
    fn from(e: crate::blob::PhotoError) -> Self {
        match e {
            crate::blob::PhotoError::Io(io) if is_storage_full(&io) => Error::StorageFull,
            other => Error::Photo(other),
        }
    }
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
            Error::Alert(e) => e.code(),
            Error::Answer(e) => e.code(),
            _ => return None,
        })
    }
}

#[cfg(feature = "device")]
impl Error {
    /// Whether a failed write may have been committed all the same: an fsync failed after the
    /// transaction was written out in full, and a crash before the next write would bring it
    /// back from the WAL. Every other failure of a write leaves it undone.
    pub fn commit_uncertain(&self) -> bool {
        match self {
            Error::Store(e) => e.sqlite_error().is_some_and(|e| {
                matches!(
                    e.extended_code,
                    rusqlite::ffi::SQLITE_IOERR_FSYNC | rusqlite::ffi::SQLITE_IOERR_DIR_FSYNC
                )
            }),
            _ => false,
        }
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

impl From<AlertError> for Error {
    /// An acknowledgement's refusal; a limit it passed keeps its own variant.
    fn from(e: AlertError) -> Self {
        match e {
            AlertError::Bound(b) => Error::Bound(b),
            other => Error::Alert(other),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn says_storage_full(e: &Error) {
        assert!(matches!(e, Error::StorageFull), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("存储空间已满"), "{text}");
        assert!(text.contains("storage is full"), "{text}");
    }

    #[test]
    fn a_full_disk_is_said_so_wherever_it_is_met() {
        says_storage_full(&std::io::Error::from(std::io::ErrorKind::StorageFull).into());
        says_storage_full(&std::io::Error::from(std::io::ErrorKind::QuotaExceeded).into());
        says_storage_full(
            &crate::blob::PhotoError::Io(std::io::ErrorKind::StorageFull.into()).into(),
        );
        #[cfg(feature = "device")]
        says_storage_full(
            &rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                None,
            )
            .into(),
        );
    }

    #[test]
    fn other_file_and_database_failures_keep_their_own_words() {
        let io: Error = std::io::Error::from(std::io::ErrorKind::PermissionDenied).into();
        assert!(matches!(io, Error::Io(_)), "{io:?}");
        let photo: Error = crate::blob::PhotoError::Truncated.into();
        assert!(matches!(photo, Error::Photo(_)), "{photo:?}");
        #[cfg(feature = "device")]
        {
            let db: Error = rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_WRITE),
                None,
            )
            .into();
            assert!(matches!(db, Error::Store(_)), "{db:?}");
        }
    }

    #[cfg(feature = "device")]
    #[test]
    fn only_a_failed_fsync_leaves_a_commit_in_doubt() {
        let sqlite = |code| -> Error {
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None).into()
        };
        assert!(sqlite(rusqlite::ffi::SQLITE_IOERR_FSYNC).commit_uncertain());
        assert!(sqlite(rusqlite::ffi::SQLITE_IOERR_DIR_FSYNC).commit_uncertain());
        assert!(!sqlite(rusqlite::ffi::SQLITE_IOERR_WRITE).commit_uncertain());
        assert!(!sqlite(rusqlite::ffi::SQLITE_FULL).commit_uncertain());
        assert!(!Error::StorageFull.commit_uncertain());
    }
}
