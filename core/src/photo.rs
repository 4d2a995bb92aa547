//! The phone's photo pipeline (DESIGN.md §5): a camera JPEG becomes a normalised photo (EXIF
//! orientation applied, every metadata block dropped so no GPS leaves the phone, long edge at
//! most 1600 px, JPEG quality 80) and a 320 px thumbnail. Its id is the SHA-256 of the
//! normalised bytes. Files are written atomically: a crash never leaves half a photo under its
//! final name.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use fast_image_resize as fr;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, RgbImage};

pub use crate::blob::PhotoError;
use crate::blob::{decode_error, guarded, sha256_hex};

/// Longest edge of a normalised photo.
pub const MAX_EDGE: u32 = crate::bounds::MAX_PHOTO_EDGE;
/// Longest edge of a thumbnail.
pub const THUMB_EDGE: u32 = 320;
/// JPEG quality of normalised photos.
pub const QUALITY: u8 = 80;
/// JPEG quality of thumbnails.
pub const THUMB_QUALITY: u8 = 75;

/// A photo ready to keep and upload.
#[derive(Clone, PartialEq, Eq)]
pub struct NormalisedPhoto {
    /// SHA-256 hex of `jpeg`.
    pub id: String,
    /// The normalised JPEG.
    pub jpeg: Vec<u8>,
    /// The thumbnail JPEG.
    pub thumbnail: Vec<u8>,
    /// Width of the normalised photo.
    pub width: u32,
    /// Height of the normalised photo.
    pub height: u32,
}

impl std::fmt::Debug for NormalisedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NormalisedPhoto")
            .field("id", &self.id)
            .field("bytes", &self.jpeg.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Size that fits `edge` on the long side, keeping the aspect; never enlarges.
fn fit(w: u32, h: u32, edge: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= edge {
        return (w, h);
    }
    let scale = f64::from(edge) / f64::from(long);
    let w2 = ((f64::from(w) * scale).round() as u32).max(1);
    let h2 = ((f64::from(h) * scale).round() as u32).max(1);
    (w2, h2)
}

/// Resize to exactly `w2` × `h2` (Catmull-Rom).
fn resize_to(img: RgbImage, w2: u32, h2: u32) -> Result<RgbImage, PhotoError> {
    if (w2, h2) == img.dimensions() {
        return Ok(img);
    }
    resized(&img, w2, h2)
}

fn resized(img: &RgbImage, w2: u32, h2: u32) -> Result<RgbImage, PhotoError> {
    let (w, h) = img.dimensions();
    let src = fr::images::ImageRef::new(w, h, img.as_raw(), fr::PixelType::U8x3)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    let mut dst = fr::images::Image::new(w2, h2, fr::PixelType::U8x3);
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::CatmullRom));
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    RgbImage::from_raw(w2, h2, dst.into_vec())
        .ok_or_else(|| PhotoError::Encode("resized buffer size".into()))
}

/// A copy fitting `edge` on the long side; never enlarges.
fn resize(img: &RgbImage, edge: u32) -> Result<RgbImage, PhotoError> {
    let (w, h) = fit(img.width(), img.height(), edge);
    if (w, h) == img.dimensions() {
        return Ok(img.clone());
    }
    resized(img, w, h)
}

/// Baseline JPEG with 4:2:0 chroma, as cameras and libvips write them at this quality. Only
/// pixels go in: the encoder writes a JFIF header and no EXIF, XMP, ICC or comment blocks.
fn encode(img: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let too_large = || PhotoError::Encode("picture too large to encode".into());
    let w = u16::try_from(img.width()).map_err(|_| too_large())?;
    let h = u16::try_from(img.height()).map_err(|_| too_large())?;
    let mut out = Vec::with_capacity(img.width() as usize * img.height() as usize / 4);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(out)
}

/// The most a JPEG decode may allocate: what [`crate::blob::limits`] allows the other decoder.
const MAX_DECODE_BYTES: usize = (crate::blob::MAX_PIXELS * 4) as usize + 64 * 1024 * 1024;

fn jpeg_error(e: jpeg_decoder::Error) -> PhotoError {
    match e {
        jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
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

/// Decode a JPEG already checked by [`crate::blob::open`], scaled in the DCT domain (by 1/2,
/// 1/4 or 1/8, as libvips does) to the smallest size that still covers `target` on the long
/// side, so a 12-megapixel photo never exists at full size. `None` for the colour layouts the
/// scaling decoder does not turn into RGB (CMYK, 16-bit): those take the general path, as do
/// files it refuses.
fn decode_jpeg_scaled(
    bytes: &[u8],
    target: (u32, u32),
) -> Result<Option<(RgbImage, Orientation)>, PhotoError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(MAX_DECODE_BYTES);
    decoder.read_info().map_err(jpeg_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| PhotoError::Decode("no frame header".into()))?;
    let grey = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => false,
        jpeg_decoder::PixelFormat::L8 => true,
        _ => return Ok(None),
    };
    // A broken EXIF block must not cost the guard the photo: treat it as upright.
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (tw, th) = (
        u16::try_from(target.0).unwrap_or(u16::MAX),
        u16::try_from(target.1).unwrap_or(u16::MAX),
    );
    let (w, h) = decoder.scale(tw, th).map_err(jpeg_error)?;
    let pixels = decoder.decode().map_err(jpeg_error)?;
    let (w, h) = (u32::from(w), u32::from(h));
    let rgb = if grey {
        image::GrayImage::from_raw(w, h, pixels).map(|g| DynamicImage::ImageLuma8(g).into_rgb8())
    } else {
        RgbImage::from_raw(w, h, pixels)
    };
    let rgb = rgb.ok_or_else(|| PhotoError::Decode("decoded size differs from header".into()))?;
    Ok(Some((rgb, orientation)))
}

/// Decode with the general decoders (PNG; JPEG layouts the scaling decoder leaves aside).
fn decode_full(reader: crate::blob::Reader<'_>) -> Result<(RgbImage, Orientation), PhotoError> {
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    // A broken EXIF block must not cost the guard the photo: treat it as upright.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    Ok((img.into_rgb8(), orientation))
}

/// Normalise a camera picture (JPEG, or PNG from a screenshot or signature pad). The picture
/// is decoded no larger than it must be, resized to its final size in the camera's own
/// orientation, and only then turned upright; the thumbnail is made from the normalised photo.
pub fn normalise(input: &[u8]) -> Result<NormalisedPhoto, PhotoError> {
    let crate::blob::Opened {
        reader,
        format,
        size: (w, h),
    } = crate::blob::open(input)?;
    let target = fit(w, h, MAX_EDGE);
    // What the scaling decoder cannot read (or reads wrong) goes to the general decoder, so a
    // picture is refused, and for the same reason, only if that one refuses it too.
    let scaled = match format {
        ImageFormat::Jpeg => guarded(|| decode_jpeg_scaled(input, target)).ok().flatten(),
        _ => None,
    };
    let (decoded, orientation) = match scaled {
        Some(decoded) => decoded,
        None => guarded(|| decode_full(reader))?,
    };
    let mut photo = DynamicImage::ImageRgb8(resize_to(decoded, target.0, target.1)?);
    photo.apply_orientation(orientation);
    let photo = photo.into_rgb8();
    let jpeg = encode(&photo, QUALITY)?;
    let thumbnail = encode(&resize(&photo, THUMB_EDGE)?, THUMB_QUALITY)?;
    Ok(NormalisedPhoto {
        id: sha256_hex(&jpeg),
        width: photo.width(),
        height: photo.height(),
        jpeg,
        thumbnail,
    })
}

/// Where a photo's JPEG is kept.
pub fn photo_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.jpg"))
}

/// Where a photo's thumbnail is kept.
pub fn thumbnail_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.thumb.jpg"))
}

const TEMP_PREFIX: &str = ".tmp-";

/// Write a file so that it appears whole or not at all: temp file, fsync, rename, fsync dir.
/// Returns whether it wrote the file (false: it was there already). A failure removes what it
/// wrote, the temp file included, so that a full disk is not left fuller by the attempt.
fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if target.exists() {
        return Ok(false);
    }
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("photo");
    let temp = dir.join(format!("{TEMP_PREFIX}{}-{name}", std::process::id()));
    let written = File::create(&temp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&temp, target));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        let _ = fs::remove_file(target);
        return Err(e);
    }
    Ok(true)
}

/// The files [`store`] wrote (not those that were there already), so that a step that fails
/// after storing a photo can take them back.
#[derive(Debug, Default)]
#[must_use = "a step that fails after storing a photo removes the files it wrote"]
pub struct Written(Vec<PathBuf>);

impl Written {
    /// The files, in the order they were written.
    pub fn files(&self) -> &[PathBuf] {
        &self.0
    }

    /// Remove them, the photo before its thumbnail, so a photo never lacks its thumbnail.
    pub fn remove(self) {
        for path in self.0.iter().rev() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Keep a photo and its thumbnail in `dir`. Doing it twice is harmless. The thumbnail goes
/// first, so a photo under its final name always has its thumbnail. On failure nothing of it
/// is left that was not there before.
pub fn store(dir: &Path, photo: &NormalisedPhoto) -> Result<Written, PhotoError> {
    fs::create_dir_all(dir)?;
    let mut written = Written::default();
    let files = [
        (thumbnail_path(dir, &photo.id), &photo.thumbnail),
        (photo_path(dir, &photo.id), &photo.jpeg),
    ];
    for (path, bytes) in files {
        match write_atomic(dir, &path, bytes) {
            Ok(true) => written.0.push(path),
            Ok(false) => {}
            Err(e) => {
                written.remove();
                return Err(e.into());
            }
        }
    }
    Ok(written)
}

/// Remove temp files a crash left behind.
pub fn clean_temp_files(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
