//! QR checkpoint labels (DESIGN.md §4): `PTRL1.<checkpoint-id>.<signature>`, the signature being
//! Ed25519 over `site-id|checkpoint-id` with the site's key, base64url. Phones verify labels
//! offline with the site's public key.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::ids::{CheckpointId, SiteId};
use crate::site::Site;

/// Why a scanned code was refused. Each says, in Chinese and English, what the guard should know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// Not one of our labels at all (a product barcode, a URL…).
    #[error("这不是巡查点标签 / this is not a patrol checkpoint label")]
    NotPatrolLabel,
    /// Starts like ours but cannot be read (damaged print, truncated, edited).
    #[error("标签内容不完整或已损坏 / the label is damaged or incomplete")]
    Malformed,
    /// A genuine label of another site this device knows.
    #[error("这是其他小区的标签（{site}）/ this label belongs to another site ({site})")]
    OtherSite {
        /// The other site's name.
        site: String,
    },
    /// The signature does not match: altered, forged, or from an estate this device does not know.
    #[error("标签签名无效，可能被篡改或伪造 / the label's signature is invalid: altered or forged")]
    BadSignature,
    /// Correctly signed, but the checkpoint is not in this device's reference data.
    #[error("本小区没有这个巡查点，请先同步 / no such checkpoint on this site; sync first")]
    UnknownCheckpoint,
}

impl LabelError {
    /// The machine-readable code of a refused visit.
    pub fn code(&self) -> &'static str {
        match self {
            LabelError::NotPatrolLabel => "not_a_label",
            LabelError::Malformed => "damaged_label",
            LabelError::OtherSite { .. } => "other_site_label",
            LabelError::BadSignature => "bad_signature",
            LabelError::UnknownCheckpoint => "unknown_checkpoint",
        }
    }
}

/// Every label starts with this.
pub const TOKEN_PREFIX: &str = "PTRL1.";

/// A site's label-signing key. The secret stays on the server; phones get the public half.
#[derive(Clone)]
pub struct SiteKey(SigningKey);

impl fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SiteKey(public {})", self.public_key_base64())
    }
}

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The system's random source failed.
    #[error("无法生成随机密钥 / no randomness for a new key: {0}")]
    Random(String),
    /// The stored key is not 32 base64url bytes.
    #[error("标签密钥格式错误 / the label key is not 32 base64url bytes")]
    Malformed,
}

/// Why a label could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The text does not fit in a QR code.
    #[error("无法生成二维码 / cannot make a QR code: {0}")]
    Qr(#[from] fast_qr::qr::QRCodeError),
    /// PNG encoding failed.
    #[error("无法生成 PNG / cannot encode PNG: {0}")]
    Png(#[from] image::ImageError),
    /// The picture asked for is larger than an image can be.
    #[error("二维码图片过大 / the code's picture would be too large")]
    TooLarge,
}

impl SiteKey {
    /// A new random key.
    pub fn generate() -> Result<SiteKey, KeyError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SiteKey(SigningKey::from_bytes(&secret)))
    }

    /// The key from its stored form (base64url of the 32 secret bytes).
    pub fn from_secret_base64(s: &str) -> Result<SiteKey, KeyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| KeyError::Malformed)?;
        let secret: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(SiteKey(SigningKey::from_bytes(&secret)))
    }

    /// The stored form of the secret. Keep it out of logs.
    pub fn secret_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_bytes())
    }

    /// The public key as `Site.public_key` carries it.
    pub fn public_key_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.verifying_key().to_bytes())
    }
}

fn message(site: SiteId, checkpoint: CheckpointId) -> String {
    format!("{site}|{checkpoint}")
}

/// The label text for a checkpoint: `PTRL1.<checkpoint-id>.<signature>`.
pub fn sign(site: SiteId, checkpoint: CheckpointId, key: &SiteKey) -> String {
    let sig = key.0.sign(message(site, checkpoint).as_bytes());
    format!(
        "{TOKEN_PREFIX}{checkpoint}.{}",
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    )
}

/// A label taken apart, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLabel {
    /// The checkpoint it names.
    pub checkpoint: CheckpointId,
    signature: Signature,
}

/// Take a scanned text apart: not ours at all, damaged, or a checkpoint and a signature.
pub fn parse(token: &str) -> Result<ParsedLabel, LabelError> {
    let token = token.trim();
    let rest = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(LabelError::NotPatrolLabel)?;
    let (id, sig) = rest.split_once('.').ok_or(LabelError::Malformed)?;
    // Only the canonical lower-case hyphenated form is ever printed.
    if id.len() != 36 || id.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(LabelError::Malformed);
    }
    let checkpoint: CheckpointId = id.parse().map_err(|_| LabelError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| LabelError::Malformed)?;
    let signature = Signature::from_slice(&sig).map_err(|_| LabelError::Malformed)?;
    Ok(ParsedLabel {
        checkpoint,
        signature,
    })
}

fn public_key(site: &Site) -> Option<VerifyingKey> {
    let bytes = URL_SAFE_NO_PAD.decode(&site.public_key).ok()?;
    VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
}

fn signed_by(label: &ParsedLabel, site: &Site) -> bool {
    public_key(site).is_some_and(|key| {
        key.verify_strict(
            message(site.id, label.checkpoint).as_bytes(),
            &label.signature,
        )
        .is_ok()
    })
}

/// Verify a scanned label offline for `site`: the checkpoint it names, or why it is refused.
/// `others` are the other sites this device knows, to tell a neighbour's label from a forgery;
/// `known` are the site's checkpoints in the device's reference data.
pub fn verify_for_site(
    token: &str,
    site: &Site,
    others: &[Site],
    known: &BTreeSet<CheckpointId>,
) -> Result<CheckpointId, LabelError> {
    let label = parse(token)?;
    if signed_by(&label, site) {
        return if known.contains(&label.checkpoint) {
            Ok(label.checkpoint)
        } else {
            Err(LabelError::UnknownCheckpoint)
        };
    }
    match others.iter().find(|o| signed_by(&label, o)) {
        Some(other) => Err(LabelError::OtherSite {
            site: other.name.clone(),
        }),
        None => Err(LabelError::BadSignature),
    }
}

/// A label's code, its modules row by row, `true` for dark, without the quiet zone.
struct Code {
    width: usize,
    dark: Vec<bool>,
}

fn qr(token: &str) -> Result<Code, RenderError> {
    // Level Q survives a scuffed or partly dirty label in a stairwell. The mask is the one the
    // standard's penalty rules pick, as with any encoder.
    let code = fast_qr::QRBuilder::new(token.as_bytes())
        .ecl(fast_qr::ECL::Q)
        .build()?;
    let width = code.size;
    let dark = code.data[..width * width]
        .iter()
        .map(|m| m.value())
        .collect();
    Ok(Code { width, dark })
}

/// Modules of quiet zone around a code, as the QR standard asks.
const QUIET_ZONE: usize = 4;

/// A label's code as PNG: 8 px modules with the quiet zone, for printing or screens.
pub fn render_png(token: &str) -> Result<Vec<u8>, RenderError> {
    code_png(token, 8)
}

/// A label's code as greyscale pixels, row by row (0 dark, 255 light), quiet zone included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodePixels {
    /// Width and height in pixels.
    pub side: u32,
    /// `side × side` bytes.
    pub pixels: Vec<u8>,
}

/// A label's code as [`CodePixels`] of `module_px` pixels a module. At one pixel a module it is
/// the code's own grid, which a sheet scales up without smoothing: each module prints as a
/// sharp square, as a vector drawing would, in a few thousand bytes.
pub fn code_pixels(token: &str, module_px: u32) -> Result<CodePixels, RenderError> {
    let px = module_px.max(1) as usize;
    let code = qr(token)?;
    let side = (code.width + 2 * QUIET_ZONE) * px;
    let mut pixels = vec![255u8; side * side];
    for (y, row) in code.dark.chunks(code.width).enumerate() {
        for (x, _) in row.iter().enumerate().filter(|(_, dark)| **dark) {
            let (left, top) = ((x + QUIET_ZONE) * px, (y + QUIET_ZONE) * px);
            for line in pixels[top * side..(top + px) * side].chunks_mut(side) {
                line[left..left + px].fill(0);
            }
        }
    }
    let side = u32::try_from(side).map_err(|_| RenderError::TooLarge)?;
    Ok(CodePixels { side, pixels })
}

/// A label's code as a greyscale PNG of `module_px` pixels a module, quiet zone included
/// ([`code_pixels`]).
pub fn code_png(token: &str, module_px: u32) -> Result<Vec<u8>, RenderError> {
    let CodePixels { side, pixels } = code_pixels(token, module_px)?;
    let img = image::GrayImage::from_raw(side, side, pixels).ok_or(RenderError::TooLarge)?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// A label's code as SVG path data: the dark modules as unit squares on a `modules`-square grid
/// that includes the quiet zone. Sheets place it with a `viewBox` of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeModules {
    /// Width (and height) of the grid, quiet zone included.
    pub modules: usize,
    /// Path data of the dark modules, one rectangle per horizontal run.
    pub path: String,
}

/// The code of a label as [`CodeModules`].
pub fn code_modules(token: &str) -> Result<CodeModules, RenderError> {
    use std::fmt::Write as _;
    let code = qr(token)?;
    let width = code.width;
    let mut path = String::with_capacity(width * width);
    for (y, row) in code.dark.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] {
                let run = row[x..].iter().take_while(|dark| **dark).count();
                // Writing to a String cannot fail.
                let _ = write!(
                    path,
                    "M{} {}h{run}v1h-{run}z",
                    x + QUIET_ZONE,
                    y + QUIET_ZONE
                );
                x += run;
            } else {
                x += 1;
            }
        }
    }
    Ok(CodeModules {
        modules: width + 2 * QUIET_ZONE,
        path,
    })
}

/// The code as an `<svg>` element at (`x`, `y`), `size` user units square, white behind it.
fn code_element(token: &str, x: f64, y: f64, size: f64) -> Result<String, RenderError> {
    let code = code_modules(token)?;
    let n = code.modules;
    Ok(format!(
        r##"<svg x="{x}" y="{y}" width="{size}" height="{size}" viewBox="0 0 {n} {n}" shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/><path d="{}" fill="#000"/></svg>"##,
        code.path
    ))
}

/// A label's code alone as an SVG document, `size` user units square.
pub fn render_code_svg(token: &str, size: u32) -> Result<String, RenderError> {
    let size = f64::from(size);
    let inner = code_element(token, 0.0, 0.0, size)?;
    Ok(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">{inner}</svg>"#
    ))
}

/// Escape text for SVG/XML content and attributes.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A printable label: the code with the checkpoint's Chinese name and English name under it.
pub fn render_svg(
    token: &str,
    name_zh: &str,
    name_en: Option<&str>,
) -> Result<String, RenderError> {
    let code = code_element(token, 20.0, 16.0, 240.0)?;
    let en = name_en.map_or(String::new(), |en| {
        format!(
            r#"<text x="140" y="300" font-size="13" text-anchor="middle" font-family="{LABEL_FONTS}">{}</text>"#,
            xml_escape(en)
        )
    });
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="280" height="320" viewBox="0 0 280 320"><rect width="280" height="320" fill="#fff"/>{code}<text x="140" y="278" font-size="17" text-anchor="middle" font-family="{LABEL_FONTS}">{}</text>{en}</svg>"##,
        xml_escape(name_zh)
    ))
}

/// The fonts a label's names are set in: the font the server vendors first, then common CJK ones.
pub const LABEL_FONTS: &str =
    "'WenQuanYi Micro Hei','Noto Sans CJK SC','Source Han Sans SC',sans-serif";

/// Why a person may not print a site's labels. Shown to people: Chinese, then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrintAccess {
    /// Patrol staff and technicians scan labels; they do not print them.
    #[error(
        "只有物业助理、管理处主任和管理员可以打印标签 / only supervisors, managers and admins print labels"
    )]
    RoleNotAllowed,
    /// The site is not one of theirs: for them it does not exist.
    #[error("找不到该小区 / no such site")]
    OtherSite,
}

/// Whether `actor` may print the labels of `site`: supervisors, managers and admins of that site
/// (a label in hand is a checkpoint anyone could "visit" from anywhere).
pub fn may_print(actor: &crate::user::Actor, site: SiteId) -> Result<(), PrintAccess> {
    use crate::user::Role;
    if !matches!(actor.role, Role::Supervisor | Role::Manager | Role::Admin) {
        return Err(PrintAccess::RoleNotAllowed);
    }
    if !actor.works_on(site) {
        return Err(PrintAccess::OtherSite);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::routing::Routing;
    use crate::sla::SlaHours;

    fn site(name: &str, key: &SiteKey) -> Site {
        Site {
            id: SiteId::new(),
            code: name.into(),
            name: name.into(),
            time_zone: "Asia/Shanghai".into(),
            public_key: key.public_key_base64(),
            sla_hours: SlaHours::default(),
            routing: Routing::default(),
            retention_days: 730,
        }
    }

    struct Fixture {
        key: SiteKey,
        site: Site,
        other_key: SiteKey,
        other: Site,
        cp: CheckpointId,
        known: BTreeSet<CheckpointId>,
    }

    fn fixture() -> Fixture {
        let key = SiteKey::generate().unwrap();
        let other_key = SiteKey::generate().unwrap();
        let site = site("阳光花园", &key);
        let other = site_named("翠湖苑", &other_key);
        let cp = CheckpointId::new();
        Fixture {
            key,
            site,
            other_key,
            other,
            cp,
            known: [cp].into(),
        }
    }

    fn site_named(name: &str, key: &SiteKey) -> Site {
        site(name, key)
    }

    #[test]
    fn a_label_verifies_offline_for_its_site() {
        let f = fixture();
        let token = sign(f.site.id, f.cp, &f.key);
        assert!(token.starts_with("PTRL1."));
        assert_eq!(verify_for_site(&token, &f.site, &[], &f.known), Ok(f.cp));
        // Scanners sometimes add a trailing newline.
        assert_eq!(
            verify_for_site(&format!("{token}\n"), &f.site, &[], &f.known),
            Ok(f.cp)
        );
    }

    #[test]
    fn another_sites_label_is_named_when_known_and_refused_when_not() {
        let f = fixture();
        let theirs = sign(f.other.id, f.cp, &f.other_key);
        let err = verify_for_site(&theirs, &f.site, std::slice::from_ref(&f.other), &f.known);
        assert_eq!(
            err,
            Err(LabelError::OtherSite {
                site: "翠湖苑".into()
            })
        );
        assert!(err.unwrap_err().to_string().contains("翠湖苑"));
        assert_eq!(
            verify_for_site(&theirs, &f.site, &[], &f.known),
            Err(LabelError::BadSignature)
        );
        // Their key over our site id is a forgery, not their label.
        let forged = sign(f.site.id, f.cp, &f.other_key);
        assert_eq!(
            verify_for_site(&forged, &f.site, std::slice::from_ref(&f.other), &f.known),
            Err(LabelError::BadSignature)
        );
    }

    #[test]
    fn one_changed_character_is_caught() {
        let f = fixture();
        let token = sign(f.site.id, f.cp, &f.key);
        let sig_start = TOKEN_PREFIX.len() + 37;
        let mut chars: Vec<char> = token.chars().collect();
        let i = sig_start + 40;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            verify_for_site(&tampered, &f.site, &[], &f.known),
            Err(LabelError::BadSignature)
        );
        // A changed digit of the checkpoint id: still well-formed, but not what was signed.
        let mut chars: Vec<char> = token.chars().collect();
        let i = TOKEN_PREFIX.len() + 1;
        chars[i] = if chars[i] == '0' { '1' } else { '0' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            verify_for_site(&tampered, &f.site, &[], &f.known),
            Err(LabelError::BadSignature)
        );
    }

    #[test]
    fn codes_that_are_not_labels_get_their_own_errors() {
        let f = fixture();
        for not_ours in ["https://example.com/", "6901234567892", "", "ptrl1.abc"] {
            assert_eq!(
                verify_for_site(not_ours, &f.site, &[], &f.known),
                Err(LabelError::NotPatrolLabel),
                "{not_ours}"
            );
        }
        let token = sign(f.site.id, f.cp, &f.key);
        for damaged in [
            &token[..token.len() - 10],
            "PTRL1.",
            "PTRL1.not-a-uuid.sig",
            &token[..20],
        ] {
            assert_eq!(
                verify_for_site(damaged, &f.site, &[], &f.known),
                Err(LabelError::Malformed),
                "{damaged}"
            );
        }
        // A genuine label whose checkpoint this phone has not pulled yet.
        let new_cp = sign(f.site.id, CheckpointId::new(), &f.key);
        assert_eq!(
            verify_for_site(&new_cp, &f.site, &[], &f.known),
            Err(LabelError::UnknownCheckpoint)
        );
        let messages: BTreeSet<String> = [
            LabelError::NotPatrolLabel,
            LabelError::Malformed,
            LabelError::OtherSite { site: "x".into() },
            LabelError::BadSignature,
            LabelError::UnknownCheckpoint,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(messages.len(), 5, "each refusal reads differently");
    }

    #[test]
    fn keys_round_trip_and_stay_out_of_debug() {
        let key = SiteKey::generate().unwrap();
        let back = SiteKey::from_secret_base64(&key.secret_base64()).unwrap();
        assert_eq!(back.public_key_base64(), key.public_key_base64());
        assert!(!format!("{key:?}").contains(&key.secret_base64()));
        assert!(matches!(
            SiteKey::from_secret_base64("c2hvcnQ"),
            Err(KeyError::Malformed)
        ));
    }

    #[test]
    fn png_labels_decode_back_to_their_token() {
        let f = fixture();
        for _ in 0..5 {
            let token = sign(f.site.id, CheckpointId::new(), &f.key);
            let png = render_png(&token).unwrap();
            let img = image::load_from_memory(&png).unwrap().to_luma8();
            let mut prepared = rqrr::PreparedImage::prepare(img);
            let grids = prepared.detect_grids();
            assert_eq!(grids.len(), 1);
            let (_, content) = grids[0].decode().unwrap();
            assert_eq!(content, token);
        }
    }

    /// Draw [`CodeModules`] as pixels, 4 px a module, the way a printer fills the path.
    fn raster(code: &CodeModules) -> image::GrayImage {
        let n = code.modules as u32;
        let mut img = image::GrayImage::from_pixel(n * 4, n * 4, image::Luma([255]));
        for rect in code.path.split('M').filter(|r| !r.is_empty()) {
            let (xy, rest) = rect.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (u32, u32) = (x.parse().unwrap(), y.parse().unwrap());
            let run: u32 = rest.split_once('v').unwrap().0.parse().unwrap();
            for px in x * 4..(x + run) * 4 {
                for py in y * 4..(y + 1) * 4 {
                    img.put_pixel(px, py, image::Luma([0]));
                }
            }
        }
        img
    }

    #[test]
    fn code_modules_draw_a_code_that_reads_back() {
        let f = fixture();
        let token = sign(f.site.id, f.cp, &f.key);
        let code = code_modules(&token).unwrap();
        let mut prepared = rqrr::PreparedImage::prepare(raster(&code));
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(grids[0].decode().unwrap().1, token);
        // The quiet zone is white on every side.
        assert!(!code.path.contains("M0 ") && !code.path.contains("M1 "));
    }

    #[test]
    fn svg_elements_never_repeat_an_attribute() {
        let f = fixture();
        let token = sign(f.site.id, f.cp, &f.key);
        for svg in [
            render_svg(&token, "1栋大堂", Some("Building 1 lobby")).unwrap(),
            render_code_svg(&token, 200).unwrap(),
        ] {
            for tag in svg.split('<').filter(|t| t.starts_with("svg ")) {
                let tag = &tag[..tag.find('>').unwrap()];
                let names: Vec<&str> = tag
                    .split_whitespace()
                    .filter_map(|a| a.split_once('=').map(|(n, _)| n))
                    .collect();
                let unique: BTreeSet<&str> = names.iter().copied().collect();
                assert_eq!(unique.len(), names.len(), "{tag}");
            }
        }
    }

    #[test]
    fn only_supervisors_managers_and_admins_print_their_own_sites_labels() {
        use crate::user::{Actor, Role};
        let site = SiteId::new();
        let actor = |role| Actor {
            user_id: crate::ids::UserId::new(),
            role,
            team: None,
            site_ids: vec![site],
        };
        for role in [Role::Supervisor, Role::Manager, Role::Admin] {
            assert_eq!(may_print(&actor(role), site), Ok(()));
            assert_eq!(
                may_print(&actor(role), SiteId::new()),
                Err(PrintAccess::OtherSite)
            );
        }
        for role in [Role::Patrol, Role::Technician] {
            assert_eq!(
                may_print(&actor(role), site),
                Err(PrintAccess::RoleNotAllowed)
            );
        }
    }

    #[test]
    fn svg_labels_carry_escaped_names() {
        let f = fixture();
        let token = sign(f.site.id, f.cp, &f.key);
        let svg = render_svg(&token, "1栋<大堂> & \"前台\"", Some("Lobby's <desk>")).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("1栋&lt;大堂&gt; &amp; &quot;前台&quot;"));
        assert!(svg.contains("Lobby&apos;s &lt;desk&gt;"));
        assert!(!svg.contains("<?xml"));
        assert_eq!(svg.matches("<svg").count(), 2, "the code is embedded once");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_label_round_trips_and_any_flipped_bit_fails(
            secret in any::<[u8; 32]>(),
            site_id in any::<u128>(),
            cp_id in any::<u128>(),
            byte in 0usize..64,
            bit in 0u8..8,
        ) {
            let key = SiteKey(SigningKey::from_bytes(&secret));
            let mut s = site("s", &key);
            s.id = SiteId(uuid::Uuid::from_u128(site_id));
            let cp = CheckpointId(uuid::Uuid::from_u128(cp_id));
            let known: BTreeSet<_> = [cp].into();
            let token = sign(s.id, cp, &key);
            prop_assert_eq!(verify_for_site(&token, &s, &[], &known), Ok(cp));
            let (head, sig) = token.rsplit_once('.').unwrap();
            let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
            raw[byte] ^= 1 << bit;
            let flipped = format!("{head}.{}", URL_SAFE_NO_PAD.encode(raw));
            prop_assert!(verify_for_site(&flipped, &s, &[], &known).is_err());
        }
    }
}
