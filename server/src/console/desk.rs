//! Desk intake (seeds 003, 000): the front desk records a resident's report — category,
//! severity, where, what, photos from the browser — as an issue with source `desk`, routed and
//! timed like any found on patrol. Photos go through core's pipeline on the server first
//! (orientation, metadata stripped, 1600 px), exactly as a phone's would.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use maud::{Markup, html};
use patrol_core::bounds::{MAX_PHOTOS_PER_OP, MAX_TEXT_CHARS, MAX_TITLE_CHARS};
use patrol_core::ids::{IssueId, SiteId, ZoneId};
use patrol_core::issue::{Category, Severity, Source};
use patrol_core::site::Zone;
use patrol_core::team::Team;
use patrol_core::user::Role;
use patrol_core::wire::{IssueReport, OpBody};
use serde::Deserialize;

use super::queue::severity_label;
use super::{Console, ConsoleError, Lang, layout};
use crate::AppState;

/// The largest picture a person may upload from the browser, before it is normalised.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// The largest desk form, photos included.
pub const MAX_FORM_BYTES: usize = 64 * 1024 * 1024;

/// Who records residents' reports: the front desk (patrol staff), customer service, and those
/// who run the queue.
fn may_record(c: &Console) -> bool {
    matches!(c.user.role, Role::Patrol | Role::Supervisor | Role::Manager)
        || (c.user.role == Role::Technician && c.user.team == Some(Team::CustomerService))
}

/// What the form holds, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct DeskForm {
    csrf: Option<String>,
    site_id: Option<String>,
    category: Option<String>,
    severity: Option<String>,
    title: Option<String>,
    note: Option<String>,
    zone_id: Option<String>,
}

/// `GET /console/desk/new`.
pub async fn form(State(state): State<AppState>, c: Console) -> Result<Markup, ConsoleError> {
    if !may_record(&c) {
        return Err(ConsoleError::Forbidden(c.lang));
    }
    render(&state, &c, &DeskForm::default(), None).await
}

async fn render(
    state: &AppState,
    c: &Console,
    f: &DeskForm,
    refusal: Option<&str>,
) -> Result<Markup, ConsoleError> {
    let l = c.lang;
    let mut zones: Vec<(String, Vec<Zone>)> = Vec::new();
    for s in &c.sites {
        zones.push((s.name.clone(), state.store.zones(s.id).await?));
    }
    let chosen = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let content = html! {
        h1 { (l.t("前台登记住户报事", "Record a resident's report")) }
        @if let Some(r) = refusal { p.error role="alert" { (r) } }
        form.desk method="post" action="/console/desk" enctype="multipart/form-data" {
            (c.csrf_field())
            @if c.sites.len() > 1 {
                label { (l.t("小区", "Site"))
                    select name="site_id" required {
                        @for s in &c.sites {
                            option value=(s.id) selected[chosen(&f.site_id, &s.id.to_string())] { (s.name) }
                        }
                    }
                }
            } @else if let Some(s) = c.sites.first() {
                input type="hidden" name="site_id" value=(s.id);
            }
            label { (l.t("类别", "Category"))
                select name="category" required {
                    @for cat in Category::ALL {
                        option value=(cat.as_str()) selected[chosen(&f.category, cat.as_str())] { (l.of(&cat.label())) }
                    }
                }
            }
            label { (l.t("严重程度", "Severity"))
                select name="severity" required {
                    @for s in Severity::ALL {
                        option value=(s.as_str()) selected[chosen(&f.severity, s.as_str())] { (severity_label(l, s)) }
                    }
                }
            }
            label.wide { (l.t("标题", "Title"))
                input name="title" required maxlength=(MAX_TITLE_CHARS) value=[f.title.as_deref()]
                    placeholder=(l.t("如：5栋1单元12楼走廊灯不亮", "e.g. corridor light out, building 5, 12F"));
            }
            label.wide { (l.t("情况说明（住户姓名、房号、联系电话等）", "What the resident said (name, flat, phone…)"))
                textarea name="note" rows="4" maxlength=(MAX_TEXT_CHARS) { (f.note.as_deref().unwrap_or("")) }
            }
            label { (l.t("位置", "Where"))
                select name="zone_id" {
                    option value="" { (l.t("（不指定）", "(not given)")) }
                    @for (site, list) in &zones {
                        optgroup label=(site) {
                            @for z in list {
                                option value=(z.id) selected[chosen(&f.zone_id, &z.id.to_string())] {
                                    (z.name)
                                }
                            }
                        }
                    }
                }
            }
            label { (l.t("照片（最多 10 张）", "Photos (up to 10)"))
                input type="file" name="photos" accept="image/jpeg,image/png" multiple;
            }
            button type="submit" { (l.t("登记", "Record")) }
        }
    };
    Ok(layout(
        c,
        l.t("前台登记", "Desk"),
        "/console/desk/new",
        content,
    ))
}

/// The form again, with what was typed and why it was refused.
async fn refused(
    state: &AppState,
    c: &Console,
    f: &DeskForm,
    why: String,
) -> Result<Response, ConsoleError> {
    let page = render(state, c, f, Some(&why)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

fn bad(l: Lang, zh: &str, en: &str) -> String {
    l.t(zh, en).to_owned()
}

/// `POST /console/desk`: a multipart form (with photos) or a plain urlencoded one.
pub async fn submit(
    State(state): State<AppState>,
    c: Console,
    req: Request,
) -> Result<Response, ConsoleError> {
    let l = c.lang;
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (f, uploads) = if multipart {
        read_multipart(l, req, &state).await?
    } else {
        let axum::Form(f) = axum::Form::<DeskForm>::from_request(req, &state)
            .await
            .map_err(|e| ConsoleError::BadRequest(l, e.body_text()))?;
        (f, Vec::new())
    };
    c.check_form(f.csrf.as_deref())?;
    if !may_record(&c) {
        return Err(ConsoleError::Forbidden(l));
    }
    let refuse = |why: String| refused(&state, &c, &f, why);
    let site_id: Option<SiteId> = f.site_id.as_deref().and_then(|s| s.parse().ok());
    let Some(site) = site_id.and_then(|s| c.site(s)).cloned() else {
        return refuse(bad(l, "请选择小区", "Choose a site")).await;
    };
    let category: Option<Category> = super::queue::pick(&f.category);
    let severity: Option<Severity> = super::queue::pick(&f.severity);
    let (Some(category), Some(severity)) = (category, severity) else {
        return refuse(bad(
            l,
            "请选择类别和严重程度",
            "Choose a category and a severity",
        ))
        .await;
    };
    if uploads.len() > MAX_PHOTOS_PER_OP {
        return refuse(bad(l, "照片最多 10 张", "At most 10 photos")).await;
    }
    // Each picture through core's pipeline, off the async workers, a few at a time.
    let mut photos = Vec::new();
    for bytes in uploads {
        let normalised = {
            let _permit = state
                .decoding
                .acquire()
                .await
                .map_err(|e| ConsoleError::internal(l, &e))?;
            tokio::task::spawn_blocking(move || patrol_core::photo::normalise(&bytes))
                .await
                .map_err(|e| ConsoleError::internal(l, &e))?
        };
        let photo = match normalised {
            Ok(p) => p,
            Err(e) => return refuse(e.to_string()).await,
        };
        let info = match patrol_core::blob::check_header(&photo.jpeg, &photo.id) {
            Ok(i) => i,
            Err(e) => return refuse(e.to_string()).await,
        };
        let size = photo.jpeg.len() as u64;
        state
            .blobs
            .put(&photo.id, photo.jpeg)
            .await
            .map_err(|e| ConsoleError::blob_store(l, &e))?;
        state
            .store
            .add_blob(&photo.id, size, &info, Timestamp::now())
            .await?;
        photos.push(photo.id);
    }
    let issue_id = IssueId::new();
    let zone_id: Option<ZoneId> = f
        .zone_id
        .as_deref()
        .filter(|z| !z.is_empty())
        .and_then(|z| z.parse().ok());
    let body = OpBody::IssueReport(IssueReport {
        issue_id,
        site_id: site.id,
        zone_id,
        checkpoint_id: None,
        visit_id: None,
        item_key: None,
        category,
        severity,
        title: f.title.clone().unwrap_or_default(),
        note: f.note.clone().filter(|n| !n.trim().is_empty()),
        photos,
        observed_at: Timestamp::now(),
        source: Source::Desk,
        fixed_on_spot: false,
    });
    let result = c.act(&state, body).await?;
    match Console::refusal(&result) {
        None => Ok(Redirect::to(&format!("/console/issues/{issue_id}")).into_response()),
        Some(why) => refuse(why).await,
    }
}

/// The fields and pictures of a multipart desk form, within their limits.
async fn read_multipart(
    l: Lang,
    req: Request,
    state: &AppState,
) -> Result<(DeskForm, Vec<Vec<u8>>), ConsoleError> {
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| ConsoleError::BadRequest(l, e.body_text()))?;
    let mut f = DeskForm::default();
    let mut uploads = Vec::new();
    let too_big = || {
        ConsoleError::BadRequest(
            l,
            bad(l, "表单或照片过大", "The form or a photo is too large"),
        )
    };
    while let Some(field) = form.next_field().await.map_err(|_| too_big())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "photos" {
            let bytes = field.bytes().await.map_err(|_| too_big())?;
            // An empty file input sends an empty part.
            if bytes.is_empty() {
                continue;
            }
            if bytes.len() > MAX_UPLOAD_BYTES {
                return Err(too_big());
            }
            uploads.push(bytes.to_vec());
            if uploads.len() > MAX_PHOTOS_PER_OP {
                return Err(ConsoleError::BadRequest(
                    l,
                    bad(l, "照片最多 10 张", "At most 10 photos"),
                ));
            }
            continue;
        }
        let text = field.text().await.map_err(|_| too_big())?;
        let slot = match name.as_str() {
            "csrf" => &mut f.csrf,
            "site_id" => &mut f.site_id,
            "category" => &mut f.category,
            "severity" => &mut f.severity,
            "title" => &mut f.title,
            "note" => &mut f.note,
            "zone_id" => &mut f.zone_id,
            _ => continue,
        };
        *slot = Some(text);
    }
    Ok((f, uploads))
}
