//! The phone's photo pipeline (DESIGN.md §5): a camera JPEG becomes a normalised photo (EXIF
//! orientation applied, every metadata block dropped so no GPS leaves the phone, long edge at
//! most 1600 px, JPEG quality 80) and a 320 px thumbnail. Its id is the SHA-256 of the
//! normalised bytes. Files are written atomically: a crash never leaves half a photo under its
//! final name.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use fast_image_resize as fr;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, RgbImage};

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

fn resize(img: RgbImage, edge: u32) -> Result<RgbImage, PhotoError> {
    let (w, h) = img.dimensions();
    let (w2, h2) = fit(w, h, edge);
    if (w2, h2) == (w, h) {
        return Ok(img);
    }
    let src = fr::images::Image::from_vec_u8(w, h, img.into_raw(), fr::PixelType::U8x3)
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

fn encode(img: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::with_capacity(img.width() as usize * img.height() as usize / 4);
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(out)
}

/// Normalise a camera picture (JPEG, or PNG from a screenshot or signature pad).
pub fn normalise(input: &[u8]) -> Result<NormalisedPhoto, PhotoError> {
    let (reader, _) = crate::blob::open(input)?;
    let (mut img, orientation) = guarded(|| {
        let mut decoder = reader.into_decoder().map_err(decode_error)?;
        // A broken EXIF block must not cost the guard the photo: treat it as upright.
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        Ok((
            DynamicImage::from_decoder(decoder).map_err(decode_error)?,
            orientation,
        ))
    })?;
    img.apply_orientation(orientation);
    // Only pixels go on: the encoder writes no EXIF, XMP, ICC or comment blocks.
    let rgb = img.into_rgb8();
    let photo = resize(rgb, MAX_EDGE)?;
    let jpeg = encode(&photo, QUALITY)?;
    let thumbnail = encode(&resize(photo.clone(), THUMB_EDGE)?, THUMB_QUALITY)?;
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
