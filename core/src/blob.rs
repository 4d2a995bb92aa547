//! Photo blobs as both sides see them (DESIGN.md §5): content-addressed by the SHA-256 of the
//! normalised JPEG, bounded in size. The server re-checks every upload: first from the header,
//! without decoding a pixel ([`check_header`]: hash, format, dimensions no larger than a phone
//! makes, a JPEG cut short), then by decoding it off the async workers ([`check_decodes`]).

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

/// Largest picture accepted, in pixels (decoded size, not file size).
pub const MAX_PIXELS: u64 = 50_000_000;

/// Why a photo was refused. Shown to staff: Chinese, then English.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Not a picture at all.
    #[error("这不是照片文件 / this is not a photo")]
    NotAnImage,
    /// The file stops before the picture ends.
    #[error("照片文件不完整 / the photo file is truncated")]
    Truncated,
    /// A JPEG whose colour is sampled more finely than its brightness: no camera or encoder
    /// writes one, and the decoder cannot be trusted with it.
    #[error(
        "照片的 JPEG 编码方式异常，无法读取 / the photo's JPEG layout is unusual and cannot be read"
    )]
    UnusualLayout,
    /// More pixels than allowed.
    #[error(
        "照片过大（{megapixels} 百万像素，上限 50）/ the photo is too large ({megapixels} MP, limit 50)"
    )]
    TooLarge {
        /// Megapixels the file claims.
        megapixels: u64,
    },
    /// Larger on its long edge than anything a phone makes.
    #[error(
        "图片尺寸过大（长边 {edge} 像素，上限 {max}）/ the picture is too large ({edge} px on its long edge, at most {max})"
    )]
    EdgeTooLong {
        /// The long edge the header claims.
        edge: u32,
        /// The limit.
        max: u32,
    },
    /// Larger than an upload may be.
    #[error("文件过大（上限 {} MiB）/ the file is larger than {} MiB", crate::bounds::MAX_BLOB_BYTES >> 20, crate::bounds::MAX_BLOB_BYTES >> 20)]
    FileTooLarge,
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
    hex::encode(Sha256::digest(bytes))
}

pub use crate::bounds::is_blob_id;

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

/// Whether every frame header of a JPEG samples no component more finely than its first, the
/// brightness, as cameras and encoders all write them (4:4:4, 4:2:2, 4:2:0…). zune-jpeg 0.5.15
/// panics on some frames that sample colour finer than brightness (found by the `blob_check`
/// fuzz target), so they are refused from the header. Markers are looked for as that lenient
/// decoder looks for them: metadata segments (APPn, COM) are skipped by their length, since
/// their payload may hold anything, an embedded thumbnail included; everything else, the
/// scans too, is searched byte by byte, so a frame header after junk or after a scan is seen.
pub(crate) fn jpeg_layout_usual(bytes: &[u8]) -> bool {
    let mut i = 2;
    while let Some(&[b, marker]) = bytes.get(i..i + 2) {
        if b != 0xFF {
            i += 1;
            continue;
        }
        let len = bytes
            .get(i + 2..i + 4)
            .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
        match marker {
            0xE0..=0xEF | 0xFE if len >= 2 => i += 2 + len,
            // Every SOFn: C0–CF but DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if !frame_sampling_usual(bytes.get(i + 4..).unwrap_or_default()) {
                    return false;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    true
}

/// A frame header's body: precision, height, width, component count, then per component its
/// id, sampling factors (horizontal << 4 | vertical) and quantisation table.
fn frame_sampling_usual(frame: &[u8]) -> bool {
    let count = frame.get(5).map_or(0, |&n| usize::from(n));
    let Some(components) = frame.get(6..6 + 3 * count) else {
        // Cut short: the decoder refuses it before it samples anything.
        return true;
    };
    let mut factors = components.chunks_exact(3).map(|c| (c[1] >> 4, c[1] & 0x0F));
    let Some((h0, v0)) = factors.next() else {
        return true;
    };
    factors.all(|(h, v)| h <= h0 && v <= v0)
}

/// Run a picture decoder on untrusted bytes: a decoder that panics refuses the picture instead
/// of taking the upload handler or the app down with it. The decoders are meant to return
/// errors; fuzzing found one that panics (see [`jpeg_layout_usual`]), and any other such bug
/// should cost one refused photo, not a crash — or, on the server, a 500 the phone retries
/// forever. (Every build here unwinds on panic; a fuzz build still aborts, so the fuzzer keeps
/// reporting them.)
pub(crate) fn guarded<T>(decode: impl FnOnce() -> Result<T, PhotoError>) -> Result<T, PhotoError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode))
        .unwrap_or_else(|_| Err(PhotoError::Decode("the decoder failed on this file".into())))
}

/// A decoder front for bytes held in memory.
#[cfg(feature = "photo")]
pub(crate) type Reader<'a> = ImageReader<Cursor<&'a [u8]>>;

/// A picture read from untrusted bytes, checked from its header.
#[cfg(feature = "photo")]
pub(crate) struct Opened<'a> {
    /// The reader, limits set.
    pub reader: Reader<'a>,
    /// Its format.
    pub format: ImageFormat,
    /// Width and height as stored (before any EXIF orientation).
    pub size: (u32, u32),
}

/// A reader for untrusted bytes, its format guessed and limits set; refuses what is not a JPEG
/// or PNG and what claims more than [`MAX_PIXELS`].
#[cfg(feature = "photo")]
pub(crate) fn open(bytes: &[u8]) -> Result<Opened<'_>, PhotoError> {
    let format = image::guess_format(bytes).map_err(|_| PhotoError::NotAnImage)?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return Err(PhotoError::NotAnImage);
    }
    if format == ImageFormat::Jpeg && !jpeg_complete(bytes) {
        return Err(PhotoError::Truncated);
    }
    if format == ImageFormat::Jpeg && !jpeg_layout_usual(bytes) {
        return Err(PhotoError::UnusualLayout);
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
    Ok(Opened {
        reader,
        format,
        size: (w, h),
    })
}

fn reader_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), PhotoError> {
    guarded(|| {
        ImageReader::with_format(Cursor::new(bytes), format)
            .into_dimensions()
            .map_err(decode_error)
    })
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

/// What kind of picture a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// A JPEG (photos, and signatures saved as JPEG).
    Jpeg,
    /// A PNG (signature line drawings).
    Png,
}

impl BlobKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BlobKind::Jpeg => "jpeg",
            BlobKind::Png => "png",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<BlobKind> {
        match s {
            "jpeg" => Some(BlobKind::Jpeg),
            "png" => Some(BlobKind::Png),
            _ => None,
        }
    }

    /// The media type.
    pub fn mime(self) -> &'static str {
        match self {
            BlobKind::Jpeg => "image/jpeg",
            BlobKind::Png => "image/png",
        }
    }
}

/// What the header of an accepted blob says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its format.
    pub kind: BlobKind,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// What an op uses a blob for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobUse {
    /// A photo of a fault, a fix or a verification: a normalised JPEG.
    Photo,
    /// The verifier's signature: a PNG or JPEG line drawing.
    Signature,
}

/// A blob named for a use it does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobUseError {
    /// Not what the phone's photo pipeline makes.
    #[error(
        "照片须为不超过 {} 像素的 JPEG / a photo must be a JPEG of at most {} px",
        crate::bounds::MAX_PHOTO_EDGE,
        crate::bounds::MAX_PHOTO_EDGE
    )]
    NotAPhoto,
    /// Not a signature image.
    #[error(
        "签名须为不超过 {} 像素的 PNG 或 JPEG / a signature must be a PNG or JPEG of at most {} px",
        crate::bounds::MAX_SIGNATURE_EDGE,
        crate::bounds::MAX_SIGNATURE_EDGE
    )]
    NotASignature,
}

impl BlobUseError {
    /// The machine-readable code of a refused op.
    pub fn code(&self) -> &'static str {
        match self {
            BlobUseError::NotAPhoto => "not_a_photo",
            BlobUseError::NotASignature => "not_a_signature",
        }
    }
}

impl BlobInfo {
    /// The longer edge.
    pub fn long_edge(&self) -> u32 {
        self.width.max(self.height)
    }

    /// Whether the blob may serve this use.
    pub fn check_use(&self, use_: BlobUse) -> Result<(), BlobUseError> {
        match use_ {
            BlobUse::Photo
                if self.kind == BlobKind::Jpeg
                    && self.long_edge() <= crate::bounds::MAX_PHOTO_EDGE =>
            {
                Ok(())
            }
            BlobUse::Photo => Err(BlobUseError::NotAPhoto),
            BlobUse::Signature if self.long_edge() <= crate::bounds::MAX_SIGNATURE_EDGE => Ok(()),
            BlobUse::Signature => Err(BlobUseError::NotASignature),
        }
    }
}

/// The server's first check of an uploaded blob, from its header alone: no larger than
/// [`crate::bounds::MAX_BLOB_BYTES`], hashing to `claimed`, a JPEG or PNG no larger than a phone
/// makes (a photo of 1600 px, a signature of 2000 px on its long edge), and a JPEG that ends
/// where it should and is laid out as encoders write them ([`PhotoError::UnusualLayout`]). Not a pixel is decoded, so a file whose header claims a huge picture costs
/// nothing.
pub fn check_header(bytes: &[u8], claimed: &str) -> Result<BlobInfo, PhotoError> {
    if bytes.len() > crate::bounds::MAX_BLOB_BYTES {
        return Err(PhotoError::FileTooLarge);
    }
    if sha256_hex(bytes) != claimed {
        return Err(PhotoError::HashMismatch);
    }
    let format = image::guess_format(bytes).map_err(|_| PhotoError::NotAnImage)?;
    let kind = match format {
        ImageFormat::Jpeg => BlobKind::Jpeg,
        ImageFormat::Png => BlobKind::Png,
        _ => return Err(PhotoError::NotAnImage),
    };
    if kind == BlobKind::Jpeg && !jpeg_complete(bytes) {
        return Err(PhotoError::Truncated);
    }
    if kind == BlobKind::Jpeg && !jpeg_layout_usual(bytes) {
        return Err(PhotoError::UnusualLayout);
    }
    let (width, height) = reader_dimensions(bytes, format)?;
    let info = BlobInfo {
        kind,
        width,
        height,
    };
    let max = crate::bounds::MAX_PHOTO_EDGE.max(crate::bounds::MAX_SIGNATURE_EDGE);
    if info.long_edge() > max || width == 0 || height == 0 {
        return Err(PhotoError::EdgeTooLong {
            edge: info.long_edge(),
            max,
        });
    }
    Ok(info)
}

/// The server's second check: the whole picture decodes (a PNG cut short or a JPEG with broken
/// data is refused). Call it off the async workers; [`check_header`] has bounded its cost.
pub fn check_decodes(bytes: &[u8], info: &BlobInfo) -> Result<(), PhotoError> {
    let format = match info.kind {
        BlobKind::Jpeg => ImageFormat::Jpeg,
        BlobKind::Png => ImageFormat::Png,
    };
    let img = guarded(|| {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        reader.limits(limits());
        reader.decode().map_err(decode_error)
    })?;
    if (img.width(), img.height()) != (info.width, info.height) {
        return Err(PhotoError::Decode("size differs from header".into()));
    }
    Ok(())
}

/// Both checks of an upload, in order.
pub fn check_upload(bytes: &[u8], claimed: &str) -> Result<BlobInfo, PhotoError> {
    let info = check_header(bytes, claimed)?;
    check_decodes(bytes, &info)?;
    Ok(info)
}

#[cfg(test)]
pub(crate) mod tests {
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
        let info = check_upload(&bytes, &id).unwrap();
        assert_eq!(
            (info.kind, info.width, info.height),
            (BlobKind::Jpeg, 640, 480)
        );
        assert_eq!(info.check_use(BlobUse::Photo), Ok(()));
        assert_eq!(info.check_use(BlobUse::Signature), Ok(()));
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img =
            image::GrayImage::from_fn(w, h, |x, y| image::Luma([if x == y { 0 } else { 255 }]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_png_signature_is_accepted_but_is_no_photo() {
        let bytes = png(1800, 600);
        let info = check_upload(&bytes, &sha256_hex(&bytes)).unwrap();
        assert_eq!(info.kind, BlobKind::Png);
        assert_eq!(info.check_use(BlobUse::Signature), Ok(()));
        assert_eq!(info.check_use(BlobUse::Photo), Err(BlobUseError::NotAPhoto));
        let cut = &bytes[..bytes.len() - 20];
        assert!(
            check_upload(cut, &sha256_hex(cut)).is_err(),
            "a PNG cut short"
        );
    }

    /// A small real JPEG whose frame header claims `w`×`h`: what a decompression bomb looks like.
    pub(crate) fn lying_jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut b = jpeg(16, 16);
        let sof = b
            .windows(2)
            .position(|m| m[0] == 0xFF && matches!(m[1], 0xC0 | 0xC2))
            .unwrap();
        b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        b
    }

    #[test]
    fn a_huge_picture_is_refused_from_its_header() {
        let bomb = lying_jpeg(7000, 7000);
        assert!(bomb.len() < 1000);
        let e = check_header(&bomb, &sha256_hex(&bomb)).unwrap_err();
        assert!(
            matches!(
                e,
                PhotoError::EdgeTooLong {
                    edge: 7000,
                    max: 2000
                }
            ),
            "{e:?}"
        );
        let big = jpeg(2100, 100);
        assert!(matches!(
            check_upload(&big, &sha256_hex(&big)),
            Err(PhotoError::EdgeTooLong { .. })
        ));
        let wide = jpeg(1700, 100);
        let info = check_upload(&wide, &sha256_hex(&wide)).unwrap();
        assert_eq!(info.check_use(BlobUse::Photo), Err(BlobUseError::NotAPhoto));
    }

    /// A real JPEG rewritten the way the `blob_check` fuzz target found to panic zune-jpeg
    /// 0.5.15 (an unwrap in its AVX2 IDCT): brightness sampled 1×1, blue-difference 4×1, and
    /// a scan of the brightness alone.
    pub(crate) fn chroma_finer_than_luma() -> Vec<u8> {
        let b = jpeg(64, 48);
        let sof = b.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
        let mut out = b.clone();
        out[sof + 11] = 0x11;
        out[sof + 14] = 0x41;
        out[sof + 17] = 0x11;
        let sos = b.windows(2).position(|m| m == [0xFF, 0xDA]).unwrap();
        let len = usize::from(u16::from_be_bytes([b[sos + 2], b[sos + 3]]));
        out.splice(sos..sos + 2 + len, [0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0]);
        out
    }

    #[test]
    fn a_jpeg_that_samples_colour_finer_than_brightness_is_refused_from_its_header() {
        let odd = chroma_finer_than_luma();
        assert!(matches!(
            check_header(&odd, &sha256_hex(&odd)),
            Err(PhotoError::UnusualLayout)
        ));
        // Before the header check refused it, this panicked inside the decoder.
        assert!(matches!(
            check_upload(&odd, &sha256_hex(&odd)),
            Err(PhotoError::UnusualLayout)
        ));
        // What encoders write passes: 4:4:4 from the image crate, 4:2:0, 4:2:2, greyscale.
        assert!(jpeg_layout_usual(&jpeg(64, 48)));
        let mut sampled = jpeg(64, 48);
        let sof = sampled.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
        for luma in [0x22, 0x21] {
            sampled[sof + 11] = luma;
            assert!(jpeg_layout_usual(&sampled), "{luma:x}");
        }
        let grey = image::GrayImage::from_pixel(8, 8, image::Luma([90]));
        let mut out = Cursor::new(Vec::new());
        grey.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        assert!(jpeg_layout_usual(out.get_ref()));
        // An odd frame header inside a metadata segment (an embedded thumbnail) is not the
        // picture's; one hidden after the scan is.
        let mut with_thumbnail = jpeg(64, 48);
        let mut app1 = vec![0xFF, 0xE1, 0, 0];
        app1.extend_from_slice(&odd[2..40]);
        let len = u16::try_from(app1.len() - 2).unwrap().to_be_bytes();
        app1[2..4].copy_from_slice(&len);
        with_thumbnail.splice(2..2, app1);
        assert!(jpeg_layout_usual(&with_thumbnail));
        let sof = odd.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
        let mut late = jpeg(64, 48);
        let eoi = late.len() - 2;
        late.splice(eoi..eoi, odd[sof..sof + 19].iter().copied());
        assert!(!jpeg_layout_usual(&late));
    }

    #[test]
    fn a_decoder_that_panics_refuses_the_picture() {
        let refused: Result<(), PhotoError> = guarded(|| panic!("a decoder bug"));
        assert!(
            matches!(&refused, Err(PhotoError::Decode(m)) if m.contains("decoder failed")),
            "{refused:?}"
        );
        assert_eq!(guarded(|| Ok::<_, PhotoError>(7)).unwrap(), 7);
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
