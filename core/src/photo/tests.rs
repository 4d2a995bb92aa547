use std::io::Cursor;

use image::{ImageFormat, Rgb};

use super::*;

const RED: Rgb<u8> = Rgb([230, 20, 20]);

/// A stored (sensor-order) picture: pale blue with a red block in its top-left quarter.
fn sensor_picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if x < w / 4 && y < h / 4 {
            RED
        } else {
            Rgb([180, 200, 230])
        }
    })
}

fn jpeg_of(img: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// An APP1 EXIF segment, as a phone camera writes one: IFD0 with the orientation and a pointer
/// to a GPS IFD holding latitude N 22°32'12.34".
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    // IFD0: two entries.
    tiff.extend_from_slice(&2u16.to_le_bytes());
    let entry = |tag: u16, typ: u16, count: u32, value: [u8; 4]| {
        let mut e = Vec::new();
        e.extend_from_slice(&tag.to_le_bytes());
        e.extend_from_slice(&typ.to_le_bytes());
        e.extend_from_slice(&count.to_le_bytes());
        e.extend_from_slice(&value);
        e
    };
    let o = orientation.to_le_bytes();
    tiff.extend(entry(0x0112, 3, 1, [o[0], o[1], 0, 0]));
    let gps_ifd = 8 + 2 + 2 * 12 + 4;
    tiff.extend(entry(0x8825, 4, 1, (gps_ifd as u32).to_le_bytes()));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len(), gps_ifd);
    // GPS IFD: latitude ref and latitude (three rationals after the IFD).
    let data_at = gps_ifd + 2 + 2 * 12 + 4;
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend(entry(0x0001, 2, 2, [b'N', 0, 0, 0]));
    tiff.extend(entry(0x0002, 5, 3, (data_at as u32).to_le_bytes()));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    for (n, d) in [(22u32, 1u32), (32, 1), (1234, 100)] {
        tiff.extend_from_slice(&n.to_le_bytes());
        tiff.extend_from_slice(&d.to_le_bytes());
    }
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend(tiff);
    seg
}

/// A camera-style JPEG: the picture with an EXIF block right after SOI.
fn camera_jpeg(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let plain = jpeg_of(img);
    let mut out = plain[..2].to_vec();
    out.extend(exif_app1(orientation));
    out.extend_from_slice(&plain[2..]);
    out
}

/// The markers of a JPEG's header segments, up to the start of scan.
fn markers(jpeg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let m = jpeg[i + 1];
        out.push(m);
        if m == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        i += 2 + len;
    }
    out
}

fn is_red(p: &Rgb<u8>) -> bool {
    p[0] > 150 && p[1] < 90 && p[2] < 90
}

/// Which corners of a decoded picture are red: [top-left, top-right, bottom-left, bottom-right].
fn red_corners(jpeg: &[u8]) -> [bool; 4] {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let (x0, x1, y0, y1) = (w / 8, w - 1 - w / 8, h / 8, h - 1 - h / 8);
    [
        is_red(img.get_pixel(x0, y0)),
        is_red(img.get_pixel(x1, y0)),
        is_red(img.get_pixel(x0, y1)),
        is_red(img.get_pixel(x1, y1)),
    ]
}

#[test]
fn every_exif_orientation_is_applied_and_no_metadata_survives() {
    let stored = sensor_picture(400, 300);
    // Where the stored top-left block is seen once the orientation is applied, and whether
    // width and height swap (EXIF 5–8 turn the picture a quarter).
    let expected: [(u16, usize, bool); 8] = [
        (1, 0, false), // as stored
        (2, 1, false), // mirrored left-right
        (3, 3, false), // upside down
        (4, 2, false), // mirrored top-bottom
        (5, 0, true),  // transposed
        (6, 1, true),  // turned 90° clockwise
        (7, 3, true),  // transversed
        (8, 2, true),  // turned 90° anticlockwise
    ];
    for (orientation, corner, swapped) in expected {
        let input = camera_jpeg(&stored, orientation);
        assert!(
            input.windows(6).any(|w| w == b"Exif\0\0"),
            "the test input carries EXIF"
        );
        let photo = normalise(&input).unwrap();
        let dims = if swapped { (300, 400) } else { (400, 300) };
        assert_eq!(
            (photo.width, photo.height),
            dims,
            "orientation {orientation}"
        );
        let mut want = [false; 4];
        want[corner] = true;
        assert_eq!(red_corners(&photo.jpeg), want, "orientation {orientation}");
        for out in [&photo.jpeg, &photo.thumbnail] {
            assert!(!out.windows(4).any(|w| w == b"Exif"), "EXIF left in output");
            let m = markers(out);
            assert!(
                m.iter().all(|&m| !(0xE1..=0xEF).contains(&m) && m != 0xFE),
                "metadata segment left in output: {m:x?}"
            );
        }
        // The GPS rationals (22/1, 32/1, 1234/100) are gone with the block.
        let gps = [22u8, 0, 0, 0, 1, 0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0];
        assert!(!photo.jpeg.windows(gps.len()).any(|w| w == gps));
        assert_eq!(photo.id, crate::blob::sha256_hex(&photo.jpeg));
    }
}

#[test]
fn a_twelve_megapixel_photo_is_brought_down_to_1600_and_320() {
    let input = camera_jpeg(&sensor_picture(4000, 3000), 6);
    let started = std::time::Instant::now();
    let photo = normalise(&input).unwrap();
    eprintln!(
        "12 MP normalise: {:?} ({} bytes in, {} out)",
        started.elapsed(),
        input.len(),
        photo.jpeg.len()
    );
    assert_eq!((photo.width, photo.height), (1200, 1600));
    let thumb = image::load_from_memory(&photo.thumbnail).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (240, 320));
    assert_eq!(red_corners(&photo.jpeg), [false, true, false, false]);
    assert!(
        photo.jpeg.len() < 1024 * 1024,
        "a normalised photo stays small"
    );
}

#[test]
fn small_photos_are_not_enlarged_and_the_id_is_stable() {
    let input = jpeg_of(&sensor_picture(800, 600));
    let a = normalise(&input).unwrap();
    assert_eq!((a.width, a.height), (800, 600));
    let t = image::load_from_memory(&a.thumbnail).unwrap();
    assert_eq!((t.width(), t.height()), (320, 240));
    assert_eq!(
        normalise(&input).unwrap().id,
        a.id,
        "the same input gives the same id"
    );
}

#[test]
fn broken_and_foreign_files_are_refused_with_their_reason() {
    let input = camera_jpeg(&sensor_picture(640, 480), 1);
    let cut = &input[..input.len() / 2];
    assert!(matches!(normalise(cut), Err(PhotoError::Truncated)));
    assert!(matches!(
        normalise(b"%PDF-1.7 not a photo"),
        Err(PhotoError::NotAnImage)
    ));
    assert!(matches!(normalise(&[]), Err(PhotoError::NotAnImage)));
    let msg = normalise(cut).unwrap_err().to_string();
    assert!(msg.starts_with("照片文件不完整"), "{msg}");
}

#[test]
fn a_jpeg_that_would_panic_the_decoder_is_refused_with_a_reason() {
    let odd = crate::blob::tests::chroma_finer_than_luma();
    let e = normalise(&odd).unwrap_err();
    assert!(matches!(e, PhotoError::UnusualLayout), "{e:?}");
    assert!(e.to_string().contains("layout is unusual"), "{e}");
}

#[test]
fn a_png_named_jpg_is_read_by_its_content() {
    // Phones send bytes, not names: a signature pad's PNG saved as .jpg is still a picture,
    // and comes out as a normalised JPEG.
    let mut png = Cursor::new(Vec::new());
    sensor_picture(500, 200)
        .write_to(&mut png, ImageFormat::Png)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signature.jpg");
    fs::write(&path, png.get_ref()).unwrap();
    let photo = normalise(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(image::guess_format(&photo.jpeg).unwrap(), ImageFormat::Jpeg);
    assert_eq!((photo.width, photo.height), (500, 200));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    // A small JPEG whose frame header claims 20000 × 20000 (400 MP).
    let mut bomb = jpeg_of(&sensor_picture(64, 64));
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 7].copy_from_slice(&20_000u16.to_be_bytes());
    bomb[sof + 7..sof + 9].copy_from_slice(&20_000u16.to_be_bytes());
    let started = std::time::Instant::now();
    assert!(matches!(
        normalise(&bomb),
        Err(PhotoError::TooLarge { megapixels: 400 })
    ));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "refused before decoding"
    );

    // A PNG whose header claims 30000 × 30000 over a few bytes of data.
    let mut png = Cursor::new(Vec::new());
    sensor_picture(8, 8)
        .write_to(&mut png, ImageFormat::Png)
        .unwrap();
    let mut png = png.into_inner();
    png[16..20].copy_from_slice(&30_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&30_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        normalise(&png),
        Err(PhotoError::TooLarge { megapixels: 900 })
    ));
}

#[test]
fn stored_photos_appear_whole_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let photo = normalise(&jpeg_of(&sensor_picture(300, 200))).unwrap();
    let first = store(dir.path(), &photo).unwrap();
    let again = store(dir.path(), &photo).unwrap();
    assert_eq!(first.files().len(), 2);
    assert!(again.files().is_empty(), "{again:?}");
    assert_eq!(
        fs::read(photo_path(dir.path(), &photo.id)).unwrap(),
        photo.jpeg
    );
    assert_eq!(
        fs::read(thumbnail_path(dir.path(), &photo.id)).unwrap(),
        photo.thumbnail
    );
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // A temp file left by a crash is swept on the next start.
    fs::write(dir.path().join(".tmp-123-x.jpg"), b"half").unwrap();
    assert_eq!(clean_temp_files(dir.path()).unwrap(), 1);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[cfg(target_os = "linux")]
#[test]
fn a_photo_the_disk_cannot_take_leaves_nothing_behind() {
    // The photo's temp file leads to /dev/full, where every write fails for want of space:
    // the thumbnail is written, the photo is not. What the attempt wrote must go again, or a
    // full phone gets fuller with every try.
    let dir = tempfile::tempdir().unwrap();
    let photo = normalise(&jpeg_of(&sensor_picture(300, 200))).unwrap();
    let temp = dir.path().join(format!(
        "{TEMP_PREFIX}{}-{}.jpg",
        std::process::id(),
        photo.id
    ));
    std::os::unix::fs::symlink("/dev/full", &temp).unwrap();
    let err = store(dir.path(), &photo).unwrap_err();
    assert!(
        matches!(&err, PhotoError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull),
        "{err:?}"
    );
    let left: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // With room again, the same photo is kept whole.
    let written = store(dir.path(), &photo).unwrap();
    assert_eq!(written.files().len(), 2);
    assert_eq!(
        fs::read(photo_path(dir.path(), &photo.id)).unwrap(),
        photo.jpeg
    );
}
