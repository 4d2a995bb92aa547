//! What a client may send at most (DESIGN.md §7). The phone checks these before it queues an op
//! and the server again before it applies one; each refusal says, in Chinese and English, which
//! limit was passed.

use crate::text::Text;
use crate::wire::OpBody;

/// Longest issue title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest note, comment or resolution text, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;
/// Longest reason (a visit without a scan, a missed checkpoint, an extension), in characters.
pub const MAX_REASON_CHARS: usize = 1_000;
/// Most photos one op may name.
pub const MAX_PHOTOS_PER_OP: usize = 10;
/// Most ops one push may carry.
pub const MAX_OPS_PER_PUSH: usize = 500;
/// Largest push body, in bytes.
pub const MAX_PUSH_BYTES: usize = 4 * 1024 * 1024;
/// Largest uploaded blob, in bytes. A normalised 1600 px JPEG at quality 80 is well under 1 MiB.
pub const MAX_BLOB_BYTES: usize = 8 * 1024 * 1024;
/// Longest edge of a photo, in pixels: what the phone's pipeline makes.
pub const MAX_PHOTO_EDGE: u32 = 1600;
/// Longest edge of a signature image (PNG or JPEG), in pixels.
pub const MAX_SIGNATURE_EDGE: u32 = 2000;
/// Longest scanned label text, in characters (a real label has 129).
pub const MAX_TOKEN_CHARS: usize = 512;
/// Longest checklist item key, in characters.
pub const MAX_ITEM_KEY_CHARS: usize = 100;
/// Most plausibility flags one visit or round may carry (each kind fires at most once).
pub const MAX_FLAGS_PER_OP: usize = 4;
/// Most missed checkpoints one round may list.
pub const MAX_MISSED_PER_ROUND: usize = 1_000;
/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Longest password, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1_024;
/// A pull page stops growing once its entities pass this many bytes.
pub const MAX_PULL_PAGE_BYTES: usize = 1024 * 1024;
/// Queue page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 200;
/// Largest queue page.
pub const MAX_PAGE: u32 = 1_000;

/// A field a person fills in, named for refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// An issue's title.
    Title,
    /// A note or description.
    Note,
    /// A comment.
    Comment,
    /// A reason.
    Reason,
    /// A scanned label's text.
    Token,
    /// A checklist item key.
    ItemKey,
    /// Plausibility flags.
    Flags,
    /// Missed checkpoints.
    Missed,
}

impl Field {
    /// Its name for people.
    pub fn label(self) -> Text {
        match self {
            Field::Title => Text::new("标题", "title"),
            Field::Note => Text::new("说明", "note"),
            Field::Comment => Text::new("备注", "comment"),
            Field::Reason => Text::new("原因", "reason"),
            Field::Token => Text::new("标签内容", "label text"),
            Field::ItemKey => Text::new("检查项", "checklist item"),
            Field::Flags => Text::new("异常标记", "flags"),
            Field::Missed => Text::new("未巡查点", "missed checkpoints"),
        }
    }
}

/// A limit passed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    /// Text longer than its limit.
    #[error("{}过长（最多 {max} 字，现有 {chars} 字）/ the {} is too long ({chars} characters, at most {max})", .field.label().zh, .field.label().en)]
    TooLong {
        /// Which field.
        field: Field,
        /// Its limit.
        max: usize,
        /// Its length.
        chars: usize,
    },
    /// More entries than a list may have.
    #[error("{}过多（最多 {max} 项）/ too many {} (at most {max})", .field.label().zh, .field.label().en)]
    TooMany {
        /// Which list.
        field: Field,
        /// Its limit.
        max: usize,
    },
    /// More photos than an op may name.
    #[error(
        "照片过多（最多 {MAX_PHOTOS_PER_OP} 张）/ too many photos (at most {MAX_PHOTOS_PER_OP})"
    )]
    TooManyPhotos,
    /// A photo id that is not a SHA-256.
    #[error("照片编号无效 / a photo id is not a SHA-256")]
    BadPhotoId,
}

impl BoundError {
    /// The machine-readable code of a refused op.
    pub fn code(&self) -> &'static str {
        match self {
            BoundError::TooLong { .. } => "too_long",
            BoundError::TooMany { .. } => "too_many",
            BoundError::TooManyPhotos => "too_many_photos",
            BoundError::BadPhotoId => "bad_photo_id",
        }
    }
}

/// Whether a string is a blob id: 64 lower-case hex digits (the SHA-256 of the blob).
pub fn is_blob_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Refuse text longer than `max` characters.
pub fn check_len(field: Field, text: &str, max: usize) -> Result<(), BoundError> {
    // Counting stops past the limit: a 4 MiB string is not walked to the end.
    let chars = text.chars().take(max + 1).count();
    if chars > max {
        Err(BoundError::TooLong {
            field,
            max,
            chars: text.chars().count(),
        })
    } else {
        Ok(())
    }
}

/// Refuse optional text longer than `max` characters.
pub fn check_opt(field: Field, text: Option<&str>, max: usize) -> Result<(), BoundError> {
    text.map_or(Ok(()), |t| check_len(field, t, max))
}

/// Refuse a list longer than `max`.
pub fn check_count<T>(field: Field, items: &[T], max: usize) -> Result<(), BoundError> {
    if items.len() > max {
        Err(BoundError::TooMany { field, max })
    } else {
        Ok(())
    }
}

/// Refuse more than [`MAX_PHOTOS_PER_OP`] photos, or an id that is not a SHA-256.
pub fn check_photos<S: AsRef<str>>(photos: &[S]) -> Result<(), BoundError> {
    if photos.len() > MAX_PHOTOS_PER_OP {
        return Err(BoundError::TooManyPhotos);
    }
    if photos.iter().all(|p| is_blob_id(p.as_ref())) {
        Ok(())
    } else {
        Err(BoundError::BadPhotoId)
    }
}

/// Every bound of one op's body. The state machines check the same limits on what people type;
/// this is the whole list, which the phone applies to each op it queues and the server to each
/// op it receives.
pub fn check_op(body: &OpBody) -> Result<(), BoundError> {
    use Field as F;
    match body {
        OpBody::PatrolStart(_) | OpBody::IssueAssign(_) | OpBody::IssueStart(_) => Ok(()),
        OpBody::PatrolVisit(b) => {
            check_opt(F::Token, b.token.as_deref(), MAX_TOKEN_CHARS)?;
            check_opt(F::Reason, b.reason.as_deref(), MAX_REASON_CHARS)?;
            check_count(F::Flags, &b.flags, MAX_FLAGS_PER_OP)
        }
        OpBody::PatrolResult(b) => {
            check_len(F::ItemKey, &b.item_key, MAX_ITEM_KEY_CHARS)?;
            check_opt(F::Note, b.note.as_deref(), MAX_TEXT_CHARS)?;
            check_photos(&b.photos)
        }
        OpBody::PatrolFinish(b) => {
            check_count(F::Missed, &b.missed, MAX_MISSED_PER_ROUND)?;
            for m in &b.missed {
                check_len(F::Reason, &m.reason, MAX_REASON_CHARS)?;
            }
            check_count(F::Flags, &b.flags, MAX_FLAGS_PER_OP)
        }
        OpBody::IssueReport(b) => {
            check_len(F::Title, &b.title, MAX_TITLE_CHARS)?;
            check_opt(F::Note, b.note.as_deref(), MAX_TEXT_CHARS)?;
            check_opt(F::ItemKey, b.item_key.as_deref(), MAX_ITEM_KEY_CHARS)?;
            check_photos(&b.photos)
        }
        OpBody::IssueResolve(b) => {
            check_opt(F::Note, b.note.as_deref(), MAX_TEXT_CHARS)?;
            check_photos(&b.photos)
        }
        OpBody::IssueVerify(b) => {
            check_opt(F::Note, b.note.as_deref(), MAX_TEXT_CHARS)?;
            check_photos(&b.photos)?;
            check_photos(b.signature.as_slice())
        }
        OpBody::ExtensionRequest(b) => check_len(F::Reason, &b.reason, MAX_REASON_CHARS),
        OpBody::ExtensionDecide(b) => check_opt(F::Note, b.note.as_deref(), MAX_TEXT_CHARS),
        OpBody::IssueComment(b) => check_len(F::Comment, &b.text, MAX_TEXT_CHARS),
        OpBody::IssueFollowUp(b) => check_opt(F::Note, b.note.as_deref(), MAX_TEXT_CHARS),
        OpBody::AlertAck(b) => check_opt(F::Note, b.note.as_deref(), MAX_TEXT_CHARS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IssueId;
    use crate::wire::IssueComment;

    #[test]
    fn text_is_counted_in_characters_not_bytes() {
        let zh = "灯".repeat(MAX_TITLE_CHARS);
        assert_eq!(zh.len(), 3 * MAX_TITLE_CHARS);
        assert_eq!(check_len(Field::Title, &zh, MAX_TITLE_CHARS), Ok(()));
        let long = format!("{zh}灯");
        let e = check_len(Field::Title, &long, MAX_TITLE_CHARS).unwrap_err();
        assert_eq!(e.code(), "too_long");
        assert_eq!(
            e.to_string(),
            "标题过长（最多 200 字，现有 201 字）/ the title is too long (201 characters, at most 200)"
        );
    }

    #[test]
    fn photos_are_counted_and_must_be_hashes() {
        let ok = vec!["ab".repeat(32); MAX_PHOTOS_PER_OP];
        assert_eq!(check_photos(&ok), Ok(()));
        let mut many = ok.clone();
        many.push("cd".repeat(32));
        assert_eq!(check_photos(&many), Err(BoundError::TooManyPhotos));
        assert_eq!(
            check_photos(&["../../etc/passwd"]),
            Err(BoundError::BadPhotoId)
        );
    }

    #[test]
    fn every_op_kind_is_bounded() {
        let comment = |n: usize| {
            OpBody::IssueComment(IssueComment {
                issue_id: IssueId::new(),
                text: "x".repeat(n),
            })
        };
        assert_eq!(check_op(&comment(MAX_TEXT_CHARS)), Ok(()));
        assert_eq!(
            check_op(&comment(MAX_TEXT_CHARS + 1)).unwrap_err().code(),
            "too_long"
        );
    }
}
