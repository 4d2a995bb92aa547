//! Printable QR labels (DESIGN.md §4, §7): one checkpoint's label as PNG or SVG, and a site's
//! labels as A4 sheets, SVG or PDF. Sheets are written with maud (SVG is XML, every name is
//! escaped) and the PDF is drawn from the same layout with krilla, in the vendored font alone.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use maud::{Markup, html};
use patrol_core::ids::{CheckpointId, SiteId};
use patrol_core::labels::{self, PrintAccess, may_print};
use patrol_core::site::{Checkpoint, Site, Zone};
use patrol_core::user::Actor;
use patrol_core::wire::ErrorBody;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Path;

/// The font every sheet is set in, vendored (`server/assets/fonts/README.md`).
pub const FONT: &[u8] = include_bytes!("../assets/fonts/wqy-microhei.ttc");

/// A4, in millimetres.
const PAGE_W: f64 = 210.0;
const PAGE_H: f64 = 297.0;
/// Labels across and down a page.
const COLS: usize = 3;
const ROWS: usize = 4;
/// One label's cell, the gap between cells, and the page's top-left margin.
const CELL_W: f64 = 62.0;
const CELL_H: f64 = 64.0;
const GAP: f64 = 4.0;
const LEFT: f64 = (PAGE_W - (COLS as f64 * CELL_W + (COLS - 1) as f64 * GAP)) / 2.0;
const TOP: f64 = 10.0;
/// The code, quiet zone included: 50 mm reads at arm's length.
const CODE: f64 = 50.0;
/// Crop marks: length and distance from the corner.
const MARK: f64 = 2.0;
const MARK_OFFSET: f64 = 0.5;

/// The label routes of the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/checkpoints/{id}/label.png", get(label_png))
        .route("/api/v1/checkpoints/{id}/label.svg", get(label_svg))
        .route("/api/v1/sites/{id}/labels.svg", get(sheets_svg))
        .route("/api/v1/sites/{id}/labels.pdf", get(sheets_pdf))
}

/// One label on a sheet: the checkpoint and its zone.
#[derive(Debug, Clone)]
pub struct SheetLabel {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its zone, when the store has it.
    pub zone: Option<Zone>,
}

/// Why sheets could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// A code could not be made.
    #[error(transparent)]
    Render(#[from] labels::RenderError),
    /// The vendored font did not load (a bug).
    #[error("cannot read the vendored font")]
    Font,
    /// The PDF could not be written.
    #[error("cannot write the PDF: {0:?}")]
    Pdf(krilla::error::KrillaError),
    /// A page could not be drawn.
    #[error("cannot draw page {0} of the PDF")]
    Draw(usize),
}

/// `mm` with two decimals, as attributes take it.
fn mm(v: f64) -> String {
    format!("{v:.2}")
}

/// The site's labels in print order: by zone (building, floor, name), then by name.
pub async fn site_labels(state: &AppState, site: SiteId) -> Result<Vec<SheetLabel>, ApiError> {
    let zones = state.store.zones(site).await?;
    let mut out: Vec<SheetLabel> = state
        .store
        .checkpoints(site)
        .await?
        .into_iter()
        .map(|checkpoint| SheetLabel {
            zone: zones.iter().find(|z| z.id == checkpoint.zone_id).cloned(),
            checkpoint,
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |l: &SheetLabel| {
            (
                l.zone
                    .as_ref()
                    .map(|z| (z.building.clone(), z.floor.clone(), z.name.clone())),
                l.checkpoint.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(out)
}

/// The zone line under a label: the zone's name (unless the checkpoint repeats it) and what
/// kind of place it is.
pub fn zone_line(zone: Option<&Zone>, checkpoint: &str) -> String {
    zone.map_or_else(String::new, |z| {
        let kind = z.kind.label();
        if z.name == checkpoint {
            format!("{} {}", kind.zh, kind.en)
        } else {
            format!("{} · {} {}", z.name, kind.zh, kind.en)
        }
    })
}

/// What a sheet's page is made of, in millimetres from its top-left corner: one layout that
/// the SVG and the PDF both draw, so the two print alike.
#[derive(Debug, Clone, PartialEq)]
enum Mark {
    /// A label's code, `size` mm square, quiet zone included.
    Code {
        token: String,
        x: f64,
        y: f64,
        size: f64,
    },
    /// One line of text centred on `x`, its baseline at `y`.
    Text {
        text: String,
        x: f64,
        y: f64,
        size: f64,
        grey: bool,
    },
    /// A crop mark.
    Line { x1: f64, y1: f64, x2: f64, y2: f64 },
}

/// Crop marks' stroke width, mm.
const MARK_STROKE: f64 = 0.1;

/// One label in its cell, top-left at (`x`, `y`), with crop marks at its corners.
fn cell(label: &SheetLabel, x: f64, y: f64, out: &mut Vec<Mark>) {
    let cx = x + CELL_W / 2.0;
    out.push(Mark::Code {
        token: label.checkpoint.qr_token.clone(),
        x: cx - CODE / 2.0,
        y: y + 1.5,
        size: CODE,
    });
    let text = |text: String, y: f64, size: f64, grey: bool| Mark::Text {
        text,
        x: cx,
        y,
        size,
        grey,
    };
    out.push(text(label.checkpoint.name.clone(), y + 56.0, 3.6, false));
    if let Some(en) = &label.checkpoint.name_en {
        out.push(text(en.clone(), y + 60.0, 2.8, false));
    }
    let zone = zone_line(label.zone.as_ref(), &label.checkpoint.name);
    out.push(text(zone, y + 63.2, 2.2, true));
    for (px, py, dx, dy) in [
        (x, y, -1.0, -1.0),
        (x + CELL_W, y, 1.0, -1.0),
        (x, y + CELL_H, -1.0, 1.0),
        (x + CELL_W, y + CELL_H, 1.0, 1.0),
    ] {
        out.push(Mark::Line {
            x1: px + dx * MARK_OFFSET,
            y1: py,
            x2: px + dx * (MARK_OFFSET + MARK),
            y2: py,
        });
        out.push(Mark::Line {
            x1: px,
            y1: py + dy * MARK_OFFSET,
            x2: px,
            y2: py + dy * (MARK_OFFSET + MARK),
        });
    }
}

/// The A4 pages of a site's labels, each a list of marks on 210 × 297 mm.
fn pages(site: &Site, labels: &[SheetLabel]) -> Vec<Vec<Mark>> {
    let per_page = COLS * ROWS;
    let chunks: Vec<&[SheetLabel]> = if labels.is_empty() {
        vec![&[]]
    } else {
        labels.chunks(per_page).collect()
    };
    let total = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut marks = Vec::with_capacity(chunk.len() * 12 + 2);
            for (k, l) in chunk.iter().enumerate() {
                let (col, row) = (k % COLS, k / COLS);
                cell(
                    l,
                    LEFT + col as f64 * (CELL_W + GAP),
                    TOP + row as f64 * (CELL_H + GAP),
                    &mut marks,
                );
            }
            let n = i + 1;
            marks.push(Mark::Text {
                text: format!(
                    "{} · 巡查点标签 Checkpoint labels · 第 {n} / {total} 页 · page {n} of {total}",
                    site.name
                ),
                x: PAGE_W / 2.0,
                y: PAGE_H - 8.0,
                size: 2.8,
                grey: true,
            });
            if chunk.is_empty() {
                marks.push(Mark::Text {
                    text: "本小区还没有巡查点 / this site has no checkpoints yet".to_owned(),
                    x: PAGE_W / 2.0,
                    y: 40.0,
                    size: 5.0,
                    grey: false,
                });
            }
            marks
        })
        .collect()
}

/// The text colour of secondary lines (zone, page footer).
const GREY: u8 = 0x44;

/// One page's marks as the inside of an SVG in millimetres (0 0 210 297).
fn page_svg(marks: &[Mark]) -> Result<Markup, labels::RenderError> {
    let mut parts = Vec::with_capacity(marks.len());
    for mark in marks {
        parts.push(match mark {
            // The code as its own grid, one pixel a module, scaled up unsmoothed (browsers are
            // asked for `pixelated`): as sharp as a vector drawing and a fraction of its size.
            Mark::Code { token, x, y, size } => {
                let png = labels::code_png(token, 1)?;
                let href = format!("data:image/png;base64,{}", STANDARD.encode(png));
                html! {
                    image x=(mm(*x)) y=(mm(*y)) width=(mm(*size)) height=(mm(*size))
                        preserveAspectRatio="none" image-rendering="optimizeSpeed"
                        style="image-rendering:pixelated" href=(href) {}
                }
            }
            Mark::Text {
                text,
                x,
                y,
                size,
                grey,
            } => {
                let fill = grey.then(|| format!("#{GREY:02x}{GREY:02x}{GREY:02x}"));
                html! {
                    text x=(mm(*x)) y=(mm(*y)) font-size=(size) text-anchor="middle" fill=[fill] { (text) }
                }
            }
            Mark::Line { x1, y1, x2, y2 } => html! {
                line stroke="#000" stroke-width=(MARK_STROKE) x1=(mm(*x1)) y1=(mm(*y1)) x2=(mm(*x2)) y2=(mm(*y2)) {}
            },
        });
    }
    Ok(html! {
        rect width=(PAGE_W) height=(PAGE_H) fill="#fff" {}
        @for p in &parts { (p) }
    })
}

/// The attributes every sheet's root carries: the font, and strokes off for text.
fn root(width: f64, height: f64, content: Markup) -> String {
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width={ (width) "mm" } height={ (height) "mm" }
            viewBox={ "0 0 " (width) " " (height) } font-family=(labels::LABEL_FONTS) {
            (content)
        }
    }
    .into_string()
}

/// A site's sheets as one SVG document: the A4 pages stacked top to bottom (N × 297 mm), since
/// SVG has no pages; print it with one page per 297 mm, or use the PDF.
pub fn sheets_svg_document(site: &Site, labels: &[SheetLabel]) -> Result<String, SheetError> {
    let pages = pages(site, labels)
        .iter()
        .map(|p| page_svg(p))
        .collect::<Result<Vec<_>, _>>()?;
    let height = PAGE_H * pages.len() as f64;
    Ok(root(
        PAGE_W,
        height,
        html! {
            @for (i, p) in pages.iter().enumerate() {
                g transform={ "translate(0 " (PAGE_H * i as f64) ")" } { (p) }
            }
        },
    ))
}

/// The vendored font as the PDF embeds it (a subset a document).
static PDF_FONT: LazyLock<Option<krilla::text::Font>> =
    LazyLock::new(|| krilla::text::Font::new(krilla::Data::from(FONT), 0));

/// The vendored font as the shaper reads it.
static SHAPER_FACE: LazyLock<Option<rustybuzz::Face<'static>>> =
    LazyLock::new(|| rustybuzz::Face::from_slice(FONT, 0));

/// `text` shaped in the vendored font, one line left to right: krilla's glyphs (advances in
/// ems) and the line's width in ems.
fn shape(face: &rustybuzz::Face<'_>, text: &str) -> (Vec<krilla::text::KrillaGlyph>, f32) {
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(text);
    buffer.guess_segment_properties();
    buffer.set_direction(rustybuzz::Direction::LeftToRight);
    let shaped = rustybuzz::shape(face, &[], buffer);
    let em = face.units_per_em() as f32;
    let infos = shaped.glyph_infos();
    let mut width = 0.0;
    let glyphs = shaped
        .glyph_positions()
        .iter()
        .zip(infos)
        .enumerate()
        .map(|(i, (pos, info))| {
            // A glyph's text is its cluster: up to where the next cluster starts.
            let start = info.cluster as usize;
            let end = infos[i + 1..]
                .iter()
                .map(|next| next.cluster as usize)
                .find(|&c| c != start)
                .unwrap_or(text.len());
            width += pos.x_advance as f32 / em;
            krilla::text::KrillaGlyph::new(
                krilla::text::GlyphId::new(info.glyph_id),
                pos.x_advance as f32 / em,
                pos.x_offset as f32 / em,
                pos.y_offset as f32 / em,
                pos.y_advance as f32 / em,
                start..end,
                None,
            )
        })
        .collect();
    (glyphs, width)
}

/// A label's code as krilla draws it: its grid, one pixel a module.
#[derive(Debug, Clone, Hash)]
struct CodeImage(Arc<labels::CodePixels>);

impl krilla::image::CustomImage for CodeImage {
    fn color_channel(&self) -> &[u8] {
        &self.0.pixels
    }
    fn alpha_channel(&self) -> Option<&[u8]> {
        None
    }
    fn bits_per_component(&self) -> krilla::image::BitsPerComponent {
        krilla::image::BitsPerComponent::Eight
    }
    fn size(&self) -> (u32, u32) {
        (self.0.side, self.0.side)
    }
    fn icc_profile(&self) -> Option<&[u8]> {
        None
    }
    fn color_space(&self) -> krilla::image::ImageColorspace {
        krilla::image::ImageColorspace::Luma
    }
}

/// A site's sheets as a PDF, one A4 page each, the font embedded as a subset. The marks are
/// drawn with krilla directly: the text as the font's glyphs (selectable and searchable), each
/// code as its module grid with interpolation off, so every module prints as a sharp square.
/// CPU work: call it off the async workers.
pub fn sheets_pdf_document(site: &Site, labels: &[SheetLabel]) -> Result<Vec<u8>, SheetError> {
    use krilla::color::rgb;
    use krilla::geom::{PathBuilder, Point, Size, Transform};
    use krilla::paint::{Fill, Stroke};
    let (Some(font), Some(face)) = (PDF_FONT.as_ref(), SHAPER_FACE.as_ref()) else {
        return Err(SheetError::Font);
    };
    // A4 in points; the marks are in millimetres.
    let size = Size::from_wh(595.276, 841.89).ok_or(SheetError::Draw(0))?;
    let points_per_mm = (72.0 / 25.4) as f32;
    let black = Fill::default();
    let grey = Fill {
        paint: rgb::Color::new(GREY, GREY, GREY).into(),
        ..Fill::default()
    };
    let stroke = Stroke {
        width: MARK_STROKE as f32,
        ..Stroke::default()
    };
    let mut document = krilla::Document::new();
    document.set_metadata(
        krilla::metadata::Metadata::new()
            .title(format!("{} · 巡查点标签 Checkpoint labels", site.name))
            .creator("patrol-server".to_owned()),
    );
    for (i, marks) in pages(site, labels).into_iter().enumerate() {
        let mut page = document.start_page_with(krilla::page::PageSettings::new(size));
        let mut surface = page.surface();
        surface.push_transform(&Transform::from_scale(points_per_mm, points_per_mm));
        for mark in marks {
            match mark {
                Mark::Code { token, x, y, size } => {
                    let code = CodeImage(Arc::new(labels::code_pixels(&token, 1)?));
                    let image = krilla::image::Image::from_custom(code, false)
                        .map_err(|_| SheetError::Draw(i + 1))?;
                    let side =
                        Size::from_wh(size as f32, size as f32).ok_or(SheetError::Draw(i + 1))?;
                    surface.push_transform(&Transform::from_translate(x as f32, y as f32));
                    surface.draw_image(image, side);
                    surface.pop();
                }
                Mark::Text {
                    text,
                    x,
                    y,
                    size,
                    grey: is_grey,
                } => {
                    let (glyphs, width) = shape(face, &text);
                    let size = size as f32;
                    let start = Point::from_xy(x as f32 - width * size / 2.0, y as f32);
                    surface.set_stroke(None);
                    surface.set_fill(Some(if is_grey { grey.clone() } else { black.clone() }));
                    surface.draw_glyphs(start, &glyphs, font.clone(), &text, size, false);
                }
                Mark::Line { x1, y1, x2, y2 } => {
                    let mut path = PathBuilder::new();
                    path.move_to(x1 as f32, y1 as f32);
                    path.line_to(x2 as f32, y2 as f32);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(stroke.clone()));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.pop();
        surface.finish();
        page.finish();
    }
    document.finish().map_err(SheetError::Pdf)
}

/// The site a caller asks to print, if they may: 403 for a role that does not print, 404 for a
/// site that is not theirs (or does not exist).
pub async fn printable_site(state: &AppState, actor: &Actor, id: SiteId) -> Result<Site, ApiError> {
    may_print(actor, id).map_err(|e| match e {
        PrintAccess::RoleNotAllowed => ApiError::forbidden(e.to_string()),
        PrintAccess::OtherSite => ApiError::not_found("site"),
    })?;
    state
        .store
        .site(id)
        .await?
        .ok_or_else(|| ApiError::not_found("site"))
}

/// A checkpoint a caller asks to print: 404 unless it is on one of their sites.
async fn printable_checkpoint(
    state: &AppState,
    actor: &Actor,
    id: CheckpointId,
) -> Result<Checkpoint, ApiError> {
    let checkpoint = state
        .store
        .checkpoint(id)
        .await?
        .filter(|c| actor.works_on(c.site_id))
        .ok_or_else(|| ApiError::not_found("checkpoint"))?;
    printable_site(state, actor, checkpoint.site_id).await?;
    Ok(checkpoint)
}

/// Rendering off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SheetError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

/// A file answer: its type, a download name, and no caching (labels change when a key does).
pub fn file(
    bytes: impl Into<axum::body::Body>,
    content_type: &'static str,
    name: &str,
    attachment: bool,
) -> Response {
    let disposition = if attachment { "attachment" } else { "inline" };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes.into(),
    )
        .into_response()
}

/// The media type of SVG.
pub const SVG: &str = "image/svg+xml";
/// The media type of PDF.
pub const PDF: &str = "application/pdf";

/// One label's code as PNG.
pub async fn png_of(checkpoint: Checkpoint) -> Result<Response, ApiError> {
    let token = checkpoint.qr_token;
    let png = blocking(move || Ok(labels::render_png(&token)?)).await?;
    Ok(file(
        png,
        "image/png",
        &format!("label-{}.png", checkpoint.id),
        false,
    ))
}

/// One label as SVG: the code and its names.
pub fn svg_of(checkpoint: &Checkpoint) -> Result<Response, ApiError> {
    let svg = labels::render_svg(
        &checkpoint.qr_token,
        &checkpoint.name,
        checkpoint.name_en.as_deref(),
    )
    .map_err(|e| ApiError::internal(&e))?;
    Ok(file(
        svg,
        SVG,
        &format!("label-{}.svg", checkpoint.id),
        false,
    ))
}

/// A site's sheets as SVG or PDF.
pub async fn sheets_of(state: &AppState, site: Site, pdf: bool) -> Result<Response, ApiError> {
    let list = site_labels(state, site.id).await?;
    if pdf {
        let name = format!("labels-{}.pdf", site.code);
        let bytes = blocking(move || sheets_pdf_document(&site, &list)).await?;
        Ok(file(bytes, PDF, &name, true))
    } else {
        let name = format!("labels-{}.svg", site.code);
        let svg = blocking(move || sheets_svg_document(&site, &list)).await?;
        Ok(file(svg, SVG, &name, true))
    }
}

#[utoipa::path(get, path = "/api/v1/checkpoints/{id}/label.png", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The checkpoint")),
    responses(
        (status = 200, description = "The checkpoint's QR code (8 px modules, quiet zone included)", content((Vec<u8> = "image/png"))),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Patrol staff and technicians do not print labels", body = ErrorBody),
        (status = 404, description = "No such checkpoint on the caller's sites", body = ErrorBody)))]
pub(crate) async fn label_png(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CheckpointId>,
) -> Result<Response, ApiError> {
    png_of(printable_checkpoint(&state, &caller.actor, id).await?).await
}

#[utoipa::path(get, path = "/api/v1/checkpoints/{id}/label.svg", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The checkpoint")),
    responses(
        (status = 200, description = "The label: the code with the checkpoint's Chinese and English names under it", content((String = "image/svg+xml"))),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Patrol staff and technicians do not print labels", body = ErrorBody),
        (status = 404, description = "No such checkpoint on the caller's sites", body = ErrorBody)))]
pub(crate) async fn label_svg(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CheckpointId>,
) -> Result<Response, ApiError> {
    svg_of(&printable_checkpoint(&state, &caller.actor, id).await?)
}

#[utoipa::path(get, path = "/api/v1/sites/{id}/labels.svg", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The site")),
    responses(
        (status = 200, description = "Every checkpoint's label on A4 sheets (3 × 4 a page, 50 mm codes, crop marks), the pages stacked in one SVG of N × 297 mm", content((String = "image/svg+xml"))),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Patrol staff and technicians do not print labels", body = ErrorBody),
        (status = 404, description = "No such site among the caller's", body = ErrorBody)))]
pub(crate) async fn sheets_svg(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SiteId>,
) -> Result<Response, ApiError> {
    let site = printable_site(&state, &caller.actor, id).await?;
    sheets_of(&state, site, false).await
}

#[utoipa::path(get, path = "/api/v1/sites/{id}/labels.pdf", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The site")),
    responses(
        (status = 200, description = "The same sheets as a PDF, one A4 page each, the font embedded as a subset", content((Vec<u8> = "application/pdf"))),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Patrol staff and technicians do not print labels", body = ErrorBody),
        (status = 404, description = "No such site among the caller's", body = ErrorBody)))]
pub(crate) async fn sheets_pdf(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SiteId>,
) -> Result<Response, ApiError> {
    let site = printable_site(&state, &caller.actor, id).await?;
    sheets_of(&state, site, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_has_every_character_of_the_demo_estate() {
        let key = patrol_core::labels::SiteKey::generate().unwrap();
        let estate = patrol_core::demo::estate("demo", "阳光花园（演示）", &key);
        let face = ttf_parser::Face::parse(FONT, 0).unwrap();
        let mut texts: Vec<String> = vec![
            estate.site.name.clone(),
            "巡查点标签 Checkpoint labels · 第 1 / 2 页 · page 1 of 2".to_owned(),
            "本小区还没有巡查点 / this site has no checkpoints yet".to_owned(),
        ];
        for cp in &estate.checkpoints {
            texts.push(cp.name.clone());
            texts.extend(cp.name_en.clone());
        }
        for z in &estate.zones {
            texts.push(zone_line(Some(z), ""));
        }
        for t in texts {
            for ch in t.chars() {
                assert!(face.glyph_index(ch).is_some(), "no glyph for {ch:?} in {t}");
            }
        }
    }

    #[test]
    fn sheets_hold_twelve_labels_a_page_and_parse() {
        let key = patrol_core::labels::SiteKey::generate().unwrap();
        let estate = patrol_core::demo::estate("demo", "阳光花园", &key);
        let list: Vec<SheetLabel> = estate
            .checkpoints
            .iter()
            .map(|c| SheetLabel {
                checkpoint: c.clone(),
                zone: estate.zone_of(c.id).cloned(),
            })
            .collect();
        let svg = sheets_svg_document(&estate.site, &list).unwrap();
        assert!(svg.contains(r#"height="594mm""#), "17 labels are two pages");
        assert!(svg.contains("第 2 / 2 页"));
        for c in &estate.checkpoints {
            assert!(svg.contains(&c.name));
        }
        // Every crop mark: 8 lines a label.
        assert_eq!(svg.matches("<line ").count(), 8 * list.len());
        let mut fonts = usvg::fontdb::Database::new();
        fonts.load_font_source(usvg::fontdb::Source::Binary(Arc::new(FONT)));
        let options = usvg::Options {
            fontdb: Arc::new(fonts),
            font_family: "WenQuanYi Micro Hei".to_owned(),
            ..usvg::Options::default()
        };
        usvg::Tree::from_str(&svg, &options).unwrap();
        let pdf = sheets_pdf_document(&estate.site, &list).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    /// `count` labels of the demo estate's site, each a new checkpoint (the demo's, repeated),
    /// unsigned: the benchmark signs them.
    fn many_labels(estate: &patrol_core::demo::Estate, count: usize) -> Vec<SheetLabel> {
        (0..count)
            .map(|i| {
                let mut checkpoint = estate.checkpoints[i % estate.checkpoints.len()].clone();
                checkpoint.id = CheckpointId::new();
                checkpoint.qr_token.clear();
                SheetLabel {
                    zone: estate
                        .zone_of(estate.checkpoints[i % estate.checkpoints.len()].id)
                        .cloned(),
                    checkpoint,
                }
            })
            .collect()
    }

    /// Sign every label, as `site import` and a key rotation do.
    fn sign_all(site: &Site, list: &mut [SheetLabel], key: &labels::SiteKey) {
        for l in list {
            l.checkpoint.qr_token = labels::sign(site.id, l.checkpoint.id, key);
        }
    }

    /// The label rate of issue 14, on one thread: a label signed and drawn on the printed A4
    /// PDF sheet (its QR code, names, crop marks; the font subset embedded), for a site of 1,
    /// 10 and 100 checkpoints. The baseline, measured in the same rounds: the same labels'
    /// signing and QR encoding alone, the least a printed label costs. Not a test: run it with
    /// `./scripts/bench labels`, in release; it prints medians of `PATROL_BENCH_RUNS` runs.
    #[test]
    #[ignore = "a benchmark: ./scripts/bench labels runs it in release"]
    fn label_rate() {
        use std::time::{Duration, Instant};
        let runs: usize = std::env::var("PATROL_BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(5);
        let key = patrol_core::labels::SiteKey::generate().unwrap();
        let estate = patrol_core::demo::estate("demo", "阳光花园", &key);
        // The font database and the first document's setup are paid once per process.
        let mut warm = many_labels(&estate, 1);
        sign_all(&estate.site, &mut warm, &key);
        sheets_pdf_document(&estate.site, &warm).unwrap();
        let median = |mut xs: Vec<f64>| {
            xs.sort_by(f64::total_cmp);
            xs[xs.len() / 2]
        };
        eprintln!("label rate, one thread: medians of {runs} runs");
        for count in [1usize, 10, 100] {
            let mut list = many_labels(&estate, count);
            // Enough rounds a run for about the same work at every size.
            let rounds = (300 / count).clamp(5, 100);
            let (mut ours, mut base, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                let (mut o, mut b) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    let t = Instant::now();
                    sign_all(&estate.site, &mut list, &key);
                    let pdf = sheets_pdf_document(&estate.site, &list).unwrap();
                    o.push(t.elapsed());
                    assert!(pdf.starts_with(b"%PDF-"));
                    let t = Instant::now();
                    sign_all(&estate.site, &mut list, &key);
                    for l in &list {
                        std::hint::black_box(labels::code_modules(&l.checkpoint.qr_token).unwrap());
                    }
                    b.push(t.elapsed());
                }
                o.sort();
                b.sort();
                let (o, b): (Duration, Duration) = (o[o.len() / 2], b[b.len() / 2]);
                ours.push(count as f64 / o.as_secs_f64());
                base.push(count as f64 / b.as_secs_f64());
                ratios.push(o.as_secs_f64() / b.as_secs_f64());
            }
            let (lo, hi) = (
                ratios.iter().copied().fold(f64::INFINITY, f64::min),
                ratios.iter().copied().fold(0.0, f64::max),
            );
            let rate = median(ours.clone());
            let rates = (
                ours.iter().copied().fold(f64::INFINITY, f64::min),
                ours.iter().copied().fold(0.0, f64::max),
            );
            eprintln!(
                "labels, sheet of {count:>3}: {rate:>7.0} labels/s ({:.0}–{:.0}), {:.2} × the 1,000/s target; signing + QR alone {:>7.0}/s; time ratio {:.2} ({lo:.2}–{hi:.2})",
                rates.0,
                rates.1,
                rate / 1000.0,
                median(base.clone()),
                median(ratios.clone()),
            );
        }
    }
}
