//! The label sheet to print (DESIGN §10): a site's checkpoints by zone with a preview of each
//! label, the A4 sheets to download as PDF or SVG, and a print button. The same rule as the API
//! decides who prints (`labels::may_print`); the files are the API's, under the session cookie.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use patrol_core::ids::SiteId;
use patrol_core::labels::{PrintAccess, may_print, render_svg};
use patrol_core::site::Site;

use super::{Console, ConsoleError, DESK_ROLES, layout};
use crate::AppState;
use crate::extract::Path;
use crate::labels::{sheets_of, site_labels, zone_line};

/// The site a console user asks to print: 403 for a role that does not print, 404 for a site
/// that is not theirs.
fn printable(c: &Console, id: SiteId) -> Result<&Site, ConsoleError> {
    may_print(&c.actor, id).map_err(|e| match e {
        PrintAccess::RoleNotAllowed => ConsoleError::Forbidden(c.lang),
        PrintAccess::OtherSite => ConsoleError::NotFound(c.lang),
    })?;
    c.site(id).ok_or(ConsoleError::NotFound(c.lang))
}

/// `GET /console/labels`: the first site's labels (most people have one site).
pub async fn first(c: Console) -> Result<Redirect, ConsoleError> {
    c.require(DESK_ROLES)?;
    let site = c.sites.first().ok_or(ConsoleError::NotFound(c.lang))?;
    Ok(Redirect::to(&format!("/console/sites/{}/labels", site.id)))
}

/// `GET /console/sites/{id}/labels`.
pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<SiteId>,
) -> Result<Markup, ConsoleError> {
    let l = c.lang;
    let site = printable(&c, id)?;
    let list = site_labels(&state, id)
        .await
        .map_err(|e| ConsoleError::internal(l, &e.code()))?;
    // Grouped by zone, in the sheets' order.
    let mut groups: Vec<(String, Vec<&crate::labels::SheetLabel>)> = Vec::new();
    for label in &list {
        let zone = label
            .zone
            .as_ref()
            .map_or_else(String::new, |z| zone_line(Some(z), ""));
        match groups.last_mut() {
            Some((z, items)) if *z == zone => items.push(label),
            _ => groups.push((zone, vec![label])),
        }
    }
    let mut previews = Vec::with_capacity(list.len());
    for label in &list {
        let cp = &label.checkpoint;
        previews.push(
            render_svg(&cp.qr_token, &cp.name, cp.name_en.as_deref())
                .map_err(|e| ConsoleError::internal(l, &e))?,
        );
    }
    let mut previews = previews.into_iter();
    let base = format!("/console/sites/{id}");
    let content = html! {
        h1 { (l.t("巡查点标签", "Checkpoint labels")) " · " (site.name) }
        @if c.sites.len() > 1 {
            nav.sites {
                @for s in &c.sites {
                    a href={ "/console/sites/" (s.id) "/labels" } class=[(s.id == id).then_some("here")] { (s.name) }
                }
            }
        }
        section.actions.label-actions {
            p {
                (list.len()) " " (l.t("个巡查点，每页 A4 印 12 个（3 × 4），二维码 5 厘米见方，沿裁切线剪下。",
                    "checkpoints; 12 to an A4 page (3 × 4), 5 cm codes, cut along the crop marks."))
            }
            a.button href={ (base) "/labels.pdf" } { (l.t("下载 PDF", "Download PDF")) }
            " "
            a.button.secondary href={ (base) "/labels.svg" } { (l.t("下载 SVG", "Download SVG")) }
            " "
            button.secondary type="button" onclick="window.print()" { (l.t("打印本页", "Print this page")) }
        }
        @if list.is_empty() {
            p { (l.t("本小区还没有巡查点。", "This site has no checkpoints yet.")) }
        }
        div.zones { @for (zone, items) in &groups {
            section.zone {
                h2 { (zone) }
                div.label-grid {
                    @for label in items {
                        figure.label-preview {
                            (PreEscaped(previews.next().unwrap_or_default()))
                            figcaption {
                                a href={ "/console/checkpoints/" (label.checkpoint.id) "/label.svg" } { "SVG" }
                                " · "
                                a href={ "/console/checkpoints/" (label.checkpoint.id) "/label.png" } { "PNG" }
                            }
                        }
                    }
                }
            }
        } }
    };
    Ok(layout(
        &c,
        l.t("巡查点标签", "Checkpoint labels"),
        "/console/labels",
        content,
    ))
}

/// `GET /console/sites/{id}/labels.pdf`.
pub async fn pdf(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<SiteId>,
) -> Result<Response, ConsoleError> {
    let site = printable(&c, id)?.clone();
    sheets_of(&state, site, true)
        .await
        .map_err(|e| ConsoleError::internal(c.lang, &e.code()))
}

/// `GET /console/sites/{id}/labels.svg`.
pub async fn svg(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<SiteId>,
) -> Result<Response, ConsoleError> {
    let site = printable(&c, id)?.clone();
    sheets_of(&state, site, false)
        .await
        .map_err(|e| ConsoleError::internal(c.lang, &e.code()))
}

/// The checkpoint of a console request, if its site is one the person prints.
async fn checkpoint(
    state: &AppState,
    c: &Console,
    id: patrol_core::ids::CheckpointId,
) -> Result<patrol_core::site::Checkpoint, ConsoleError> {
    let cp = state
        .store
        .checkpoint(id)
        .await?
        .filter(|cp| c.site(cp.site_id).is_some())
        .ok_or(ConsoleError::NotFound(c.lang))?;
    printable(c, cp.site_id)?;
    Ok(cp)
}

/// `GET /console/checkpoints/{id}/label.svg`.
pub async fn one_svg(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<patrol_core::ids::CheckpointId>,
) -> Result<Response, ConsoleError> {
    let cp = checkpoint(&state, &c, id).await?;
    Ok(crate::labels::svg_of(&cp).into_response())
}

/// `GET /console/checkpoints/{id}/label.png`.
pub async fn one_png(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<patrol_core::ids::CheckpointId>,
) -> Result<Response, ConsoleError> {
    let cp = checkpoint(&state, &c, id).await?;
    Ok(crate::labels::png_of(cp).await.into_response())
}
