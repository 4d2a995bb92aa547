//! Photo blobs as both sides see them (DESIGN.md §5): content-addressed by the SHA-256 of the
//! normalised JPEG, bounded in size. The server re-checks every upload with [`check_upload`].

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

/// Largest picture accepted, in pixels (decoded size, not file size).
pub const MAX_PIXELS: u64 = 50_000_000;

/// Largest upload accepted, in bytes. A normalised 1600 px JPEG at quality 80 is well under
/// 1 MiB; signatures and thumbnails are smaller still.
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;

/// Why a photo was refused. Shown to staff: Chinese, then English.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Not a picture at all.
    #[error("这不是照片文件 / this is not a photo")]
    NotAnImage,
    /// The file stops before the picture ends.
    #[error("照片文件不完整 / the photo file is truncated")]
    Truncated,
    /// More pixels than allowed.
    #[error(
        "照片过大（{megapixels} 百万像素，上限 50）/ the photo is too large ({megapixels} MP, limit 50)"
    )]
    TooLarge {
        /// Megapixels the file claims.
        megapixels: u64,
    },
    /// The bytes do not hash to the id they were sent under.
    #[error("照片内容与编号不符 / the photo does not match its id")]
    HashMismatch,
    /// The picture could not be decoded.
    #[error("照片无法读取 / the photo cannot be read: {0}")]
    Decode(String),
    /// The picture could not be encoded.
    #[error("照片无法保存 / the photo cannot be encoded: {0}")]
    Encode(String),
    /// A file could not be written.
    #[error("照片保存失败 / the photo could not be saved: {0}")]
    Io(#[from] std::io::Error),
}

/// SHA-256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether a string is a blob id: 64 lower-case hex digits.
pub fn is_blob_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Limits for decoding untrusted pictures: the pixel count is checked from the header before
/// any pixel buffer is allocated.
pub(crate) fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(60_000);
    limits.max_image_height = Some(60_000);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    limits
}

/// Whether a JPEG's data ends with its end-of-image marker (allowing padding after it); a file
/// cut short decodes into a half-grey picture without complaint, so this is checked first.
pub(crate) fn jpeg_complete(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0 && b != b'\n' && b != b'\r' && b != b' ')
        .map_or(0, |i| i + 1);
    end >= 4 && bytes[end - 2..end] == [0xFF, 0xD9]
}

/// A decoder front for bytes held in memory.
pub(crate) type Reader<'a> = ImageReader<Cursor<&'a [u8]>>;

/// A reader for untrusted bytes, its format guessed and limits set; refuses what is not a JPEG
/// or PNG and what claims more than [`MAX_PIXELS`].
pub(crate) fn open(bytes: &[u8]) -> Result<(Reader<'_>, ImageFormat), PhotoError> {
    let format = image::guess_format(bytes).map_err(|_| PhotoError::NotAnImage)?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return Err(PhotoError::NotAnImage);
    }
    if format == ImageFormat::Jpeg && !jpeg_complete(bytes) {
        return Err(PhotoError::Truncated);
    }
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let (w, h) = reader_dimensions(bytes, format)?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(PhotoError::TooLarge {
            megapixels: pixels.div_ceil(1_000_000),
        });
    }
    let mut reader = reader;
    reader.limits(limits());
    Ok((reader, format))
}

fn reader_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), PhotoError> {
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(decode_error)
}

/// Map a decoder error to what a person can act on.
pub(crate) fn decode_error(e: image::ImageError) -> PhotoError {
    match e {
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        image::ImageError::Limits(_) => PhotoError::TooLarge {
            megapixels: MAX_PIXELS / 1_000_000 + 1,
        },
        other => {
            let text = other.to_string();
            if text.contains("EOF") || text.contains("end of file") || text.contains("truncat") {
                PhotoError::Truncated
            } else {
                PhotoError::Decode(text)
            }
        }
    }
}

/// The server's check of an uploaded blob: it hashes to `claimed`, is a complete JPEG within the
/// limits, and decodes. Returns its width and height.
pub fn check_upload(bytes: &[u8], claimed: &str) -> Result<(u32, u32), PhotoError> {
    if sha256_hex(bytes) != claimed {
        return Err(PhotoError::HashMismatch);
    }
    let (reader, format) = open(bytes)?;
    if format != ImageFormat::Jpeg {
        return Err(PhotoError::NotAnImage);
    }
    let img = reader.decode().map_err(decode_error)?;
    Ok((img.width(), img.height()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_matching_jpeg_is_accepted() {
        let bytes = jpeg(640, 480);
        let id = sha256_hex(&bytes);
        assert!(is_blob_id(&id));
        assert_eq!(check_upload(&bytes, &id).unwrap(), (640, 480));
    }

    #[test]
    fn uploads_that_lie_or_break_are_refused() {
        let bytes = jpeg(320, 240);
        let wrong = sha256_hex(b"something else");
        assert!(matches!(
            check_upload(&bytes, &wrong),
            Err(PhotoError::HashMismatch)
        ));
        let cut = &bytes[..bytes.len() / 2];
        assert!(matches!(
            check_upload(cut, &sha256_hex(cut)),
            Err(PhotoError::Truncated)
        ));
        let text = b"hello, not a picture";
        assert!(matches!(
            check_upload(text, &sha256_hex(text)),
            Err(PhotoError::NotAnImage)
        ));
    }

    #[test]
    fn blob_ids_are_strict() {
        assert!(!is_blob_id("../../etc/passwd"));
        assert!(!is_blob_id(&"A".repeat(64)));
        assert!(is_blob_id(&"0a".repeat(32)));
    }
}
