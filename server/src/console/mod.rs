//! The web console for supervisors and managers, and admins' set-up page (DESIGN.md §10): server-rendered HTML (maud),
//! Chinese first with an English switch kept in a cookie, every asset served from here, signed
//! in with an HttpOnly SameSite=Strict cookie, a form token on every POST. Every action is an op
//! of the session's own device, decided by core's rules through the same path as a phone's.

mod admin;
mod alerts;
mod coverage;
mod desk;
mod issue;
mod labels;
mod login;
mod queue;
mod reports;

use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use jiff::{SignedDuration, Timestamp};
use maud::{DOCTYPE, Markup, html};
use patrol_core::ids::{OpId, SiteId};
use patrol_core::site::Site;
use patrol_core::user::{Actor, Role, User};
use patrol_core::wire::{Op, OpBody, OpResult, OpStatus};

use crate::AppState;
use crate::auth::token_hash;
use crate::store::ConsoleSession;
use crate::sync::{Applied, PushContext};

/// The session cookie (DESIGN §10).
pub const SESSION_COOKIE: &str = "patrol_session";
/// The language cookie.
const LANG_COOKIE: &str = "lang";
/// A session idle this long has ended.
pub const IDLE: SignedDuration = SignedDuration::from_hours(2);
/// A session ends this long after sign-in whatever happens (a shift and a half).
pub const LIFETIME: SignedDuration = SignedDuration::from_hours(12);

/// The console's routes, nested under `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(queue::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/coverage", get(coverage::page))
        .route("/alerts", get(alerts::page))
        .route("/alerts/{id}/ack", post(alerts::ack))
        .route("/issues/{id}", get(issue::page))
        .route("/issues/{id}/evidence.json", get(issue::evidence))
        .route("/issues/{id}/assign", post(issue::assign))
        .route("/issues/{id}/extension", post(issue::extension))
        .route("/issues/{id}/comment", post(issue::comment))
        .route("/issues/{id}/followup", post(issue::followup))
        .route("/desk/new", get(desk::form))
        .route(
            "/desk",
            post(desk::submit).layer(axum::extract::DefaultBodyLimit::max(desk::MAX_FORM_BYTES)),
        )
        .route("/admin", get(admin::page))
        .route(
            "/admin/sites/import",
            post(admin::import_site).layer(axum::extract::DefaultBodyLimit::max(
                admin::MAX_IMPORT_FORM_BYTES,
            )),
        )
        .route("/admin/sites/{id}/rotate-key", post(admin::rotate_key))
        .route("/admin/sites/{id}/channels", post(admin::add_channel))
        .route("/admin/channels/{id}/remove", post(admin::remove_channel))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/users/{id}/disable", post(admin::disable))
        .route("/admin/users/{id}/enable", post(admin::enable))
        .route("/admin/users/{id}/password", post(admin::password))
        .route("/issues/{id}/blobs/{sha}", get(issue::blob))
        .route("/reports", get(reports::page))
        .route("/reports/download", get(reports::download))
        .route(
            "/reports/archive/{site}/{month}/{file}",
            get(reports::archived),
        )
        .route("/labels", get(labels::first))
        .route("/sites/{id}/labels", get(labels::page))
        .route("/sites/{id}/labels.pdf", get(labels::pdf))
        .route("/sites/{id}/labels.svg", get(labels::svg))
        .route("/checkpoints/{id}/label.svg", get(labels::one_svg))
        .route("/checkpoints/{id}/label.png", get(labels::one_png))
        .route("/assets/console.css", get(stylesheet))
        // The name is `crate::labels::FONT_FILE`, as console.css asks for it.
        .route("/assets/wqy-microhei.ttc", get(font))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(remember_lang))
}

/// `GET /` and the console under `/console`, with the same request time limit and counting as
/// the API (its errors are pages, not JSON).
pub fn app(state: AppState, request_timeout: std::time::Duration) -> Router {
    Router::new()
        .route("/", get(root))
        .nest("/console", router())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(axum::middleware::from_fn(crate::api::count_requests))
        .with_state(state)
}

/// `GET /`: the console.
async fn root() -> Redirect {
    Redirect::to("/console")
}

async fn not_found(lang: Lang) -> ConsoleError {
    ConsoleError::NotFound(lang)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/console.css"),
    )
        .into_response()
}

/// The vendored font, for the same Chinese on every machine. It never changes under its name,
/// so browsers keep it a year.
async fn font() -> Response {
    (
        [
            (header::CONTENT_TYPE, "font/collection"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        crate::labels::FONT,
    )
        .into_response()
}

/// The language a page speaks: Chinese unless English was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// One of two texts.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// A bilingual core text in this language.
    pub fn of(self, text: &patrol_core::text::Text) -> String {
        match self {
            Lang::Zh => text.zh.clone(),
            Lang::En => text.en.clone(),
        }
    }
}

fn query_lang(parts: &Parts) -> Option<Lang> {
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("lang="))
        .and_then(Lang::parse)
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let cookie = CookieJar::from_headers(&parts.headers)
            .get(LANG_COOKIE)
            .and_then(|c| Lang::parse(c.value()));
        Ok(query_lang(parts).or(cookie).unwrap_or(Lang::Zh))
    }
}

/// `?lang=en` (or `zh`) on any page is kept in a cookie for the next ones.
async fn remember_lang(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let chosen = query_lang(&parts);
    let mut resp = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    if let Some(lang) = chosen {
        let value = match lang {
            Lang::Zh => "zh",
            Lang::En => "en",
        };
        let cookie = Cookie::build((LANG_COOKIE, value))
            .path("/")
            .same_site(SameSite::Lax)
            .max_age(time_duration_days(365))
            .build();
        if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn time_duration_days(days: i64) -> cookie::time::Duration {
    cookie::time::Duration::days(days)
}

/// A page could not be shown: an HTML page with the reason, in the page's language.
#[derive(Debug)]
pub enum ConsoleError {
    /// The role may not use this page (403).
    Forbidden(Lang),
    /// No such thing for this person (404) — another site's issue is not theirs to know of.
    NotFound(Lang),
    /// The form's token is missing or wrong (403).
    BadForm(Lang),
    /// The request does not make sense (400), with words for people.
    BadRequest(Lang, String),
    /// Something failed on the server (500); logged, not shown.
    Internal(Lang),
    /// The photo store is down for now (503, with `Retry-After`); logged, not shown.
    Unavailable(Lang),
}

impl ConsoleError {
    fn internal(lang: Lang, cause: &dyn std::fmt::Display) -> ConsoleError {
        tracing::error!(%cause, "console error");
        ConsoleError::Internal(lang)
    }

    /// The blob store failed: not found when the object is not there, else unavailable.
    fn blob_store(lang: Lang, cause: &object_store::Error) -> ConsoleError {
        if crate::blobs::is_not_found(cause) {
            return ConsoleError::NotFound(lang);
        }
        tracing::error!(%cause, "blob store failed");
        ConsoleError::Unavailable(lang)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, lang, title, text) = match &self {
            ConsoleError::Forbidden(l) => (
                StatusCode::FORBIDDEN,
                *l,
                l.t("无权访问", "Not allowed"),
                l.t(
                    "你的岗位不能使用此页面。",
                    "Your role may not use this page.",
                )
                .to_owned(),
            ),
            ConsoleError::NotFound(l) => (
                StatusCode::NOT_FOUND,
                *l,
                l.t("找不到", "Not found"),
                l.t("找不到这个页面或记录。", "No such page or record.")
                    .to_owned(),
            ),
            ConsoleError::BadForm(l) => (
                StatusCode::FORBIDDEN,
                *l,
                l.t("表单已失效", "Form expired"),
                l.t(
                    "表单已过期或不完整，请返回刷新页面后重试。",
                    "The form has expired or is incomplete; go back, reload the page and try again.",
                )
                .to_owned(),
            ),
            ConsoleError::BadRequest(l, why) => (
                StatusCode::BAD_REQUEST,
                *l,
                l.t("请求有误", "Bad request"),
                why.clone(),
            ),
            ConsoleError::Internal(l) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                *l,
                l.t("服务器错误", "Server error"),
                l.t(
                    "服务器内部错误，请稍后重试。",
                    "Internal server error; try again later.",
                )
                .to_owned(),
            ),
            ConsoleError::Unavailable(l) => (
                StatusCode::SERVICE_UNAVAILABLE,
                *l,
                l.t("照片存储暂时不可用", "Photo storage unavailable"),
                l.t(
                    "照片存储暂时不可用，请稍后重试。",
                    "Photo storage is unavailable for now; try again later.",
                )
                .to_owned(),
            ),
        };
        let body = html! {
            (DOCTYPE)
            html lang=(lang.tag()) {
                head { meta charset="utf-8"; title { (title) } link rel="stylesheet" href="/console/assets/console.css"; }
                body.error {
                    main {
                        h1 { (title) }
                        p { (text) }
                        p { a href="/console" { (lang.t("返回问题队列", "Back to the queue")) } }
                    }
                }
            }
        };
        let mut resp = (status, body).into_response();
        if matches!(self, ConsoleError::Unavailable(_)) {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                crate::error::BLOB_STORE_RETRY.as_secs().into(),
            );
        }
        resp
    }
}

impl From<crate::store::StoreError> for ConsoleError {
    fn from(e: crate::store::StoreError) -> Self {
        ConsoleError::internal(Lang::Zh, &e)
    }
}

/// The signed-in person of a console request.
#[derive(Debug, Clone)]
pub struct Console {
    /// The session.
    pub session: ConsoleSession,
    /// The person.
    pub user: User,
    /// As the rules see them.
    pub actor: Actor,
    /// Their sites.
    pub sites: Vec<Site>,
    /// The page's language.
    pub lang: Lang,
}

/// Not signed in: to the sign-in page, coming back here afterwards.
pub struct SignIn(String);

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        let target = format!("/console/login?next={}", urlencode(&self.0));
        Redirect::to(&target).into_response()
    }
}

/// Percent-encode a query value.
pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_request_parts(parts, state)
            .await
            .unwrap_or(Lang::Zh);
        let here = parts
            .uri
            .path_and_query()
            .map_or("/console".to_owned(), |p| p.as_str().to_owned());
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
            return Err(SignIn(here).into_response());
        };
        let internal = |e: &dyn std::fmt::Display| ConsoleError::internal(lang, e).into_response();
        let session = state
            .store
            .console_session(&token_hash(&token), Timestamp::now(), IDLE)
            .await
            .map_err(|e| internal(&e))?
            .ok_or_else(|| SignIn(here.clone()).into_response())?;
        // Disabling ends the sessions too; a disabled account is never let through regardless.
        let user = state
            .store
            .account_of(session.user_id)
            .await
            .map_err(|e| internal(&e))?
            .filter(|a| !a.disabled)
            .ok_or_else(|| SignIn(here.clone()).into_response())?
            .user;
        let mut sites = Vec::new();
        for id in &user.site_ids {
            if let Some(site) = state.store.site(*id).await.map_err(|e| internal(&e))? {
                sites.push(site);
            }
        }
        Ok(Console {
            actor: Actor::from(&user),
            session,
            user,
            sites,
            lang,
        })
    }
}

impl OptionalFromRequestParts<AppState> for Console {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Console as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// Who runs the queue: supervisors and managers, and admins to look.
pub const DESK_ROLES: &[Role] = &[Role::Supervisor, Role::Manager, Role::Admin];

impl Console {
    /// Refuse unless the person's role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ConsoleError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(self.lang))
        }
    }

    /// Refuse a form whose token is not the session's.
    pub fn check_form(&self, csrf: Option<&str>) -> Result<(), ConsoleError> {
        // Compared in constant time, so timing says nothing of the token.
        let ok = csrf.is_some_and(|c| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                c.as_bytes(),
                self.session.csrf.as_bytes(),
            ))
        });
        if ok {
            Ok(())
        } else {
            Err(ConsoleError::BadForm(self.lang))
        }
    }

    /// One of the person's sites.
    pub fn site(&self, id: SiteId) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// The form token field.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
    }

    /// Do something as an op of this session's device, through the same rules and audit trail
    /// as a phone's op. Returns what became of it.
    pub async fn act(&self, state: &AppState, body: OpBody) -> Result<OpResult, ConsoleError> {
        let now = Timestamp::now();
        let op = Op::new(OpId::new(), 0, now, &body);
        let named: Vec<String> = body.blobs().into_iter().map(str::to_owned).collect();
        let blobs = state.store.blobs(&named).await?;
        let mut ctx = PushContext::new(
            self.actor.clone(),
            self.session.device_id,
            now,
            SignedDuration::ZERO,
            self.sites.clone(),
            blobs,
        )
        .numbered_here();
        let batch = crate::sync::Batch::begin(state.store.as_ref()).await?;
        let applied = crate::sync::apply(&batch, &mut ctx, &op).await?;
        batch.commit().await?;
        match applied {
            Applied::Result(r) => Ok(r),
            Applied::OutOfOrder(_) => Err(ConsoleError::internal(
                self.lang,
                &"a console op was out of order",
            )),
        }
    }

    /// The refusal of an op, in words for the person; `None` when it was applied.
    pub fn refusal(result: &OpResult) -> Option<String> {
        match result.status {
            OpStatus::Applied => None,
            OpStatus::Duplicate if result.code.is_none() => None,
            _ => Some(result.message.clone().unwrap_or_default()),
        }
    }
}

/// What every page shows around its content.
pub fn layout(c: &Console, title: &str, here: &str, content: Markup) -> Markup {
    let l = c.lang;
    let nav: &[(&str, &str, &str, &[Role])] = &[
        ("/console", "问题队列", "Queue", DESK_ROLES),
        ("/console/alerts", "提醒", "Alerts", DESK_ROLES),
        ("/console/coverage", "巡查覆盖", "Coverage", DESK_ROLES),
        ("/console/labels", "标签", "Labels", DESK_ROLES),
        ("/console/reports", "月度报表", "Reports", DESK_ROLES),
        ("/console/admin", "系统管理", "Admin", admin::ADMIN_ROLES),
    ];
    let other_lang = match l {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    html! {
        (DOCTYPE)
        html lang=(l.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (l.t("巡查助手", "Patrol companion")) }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                header.top {
                    a.brand href="/console" { (l.t("巡查助手", "Patrol companion")) }
                    nav {
                        @for (href, zh, en, roles) in nav {
                            @if roles.contains(&c.user.role) {
                                a href=(href) class=[(*href == here).then_some("here")] { (l.t(zh, en)) }
                            }
                        }
                    }
                    div.who {
                        span { (c.user.display_name) " · " (l.of(&role_label(c.user.role))) }
                        a.lang href={ "?lang=" (other_lang.0) } { (other_lang.1) }
                        form method="post" action="/console/logout" {
                            (c.csrf_field())
                            button type="submit" { (l.t("退出", "Sign out")) }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// A role's name for people.
pub fn role_label(role: Role) -> patrol_core::text::Text {
    use patrol_core::text::Text;
    match role {
        Role::Patrol => Text::new("巡查员", "Patrol"),
        Role::Technician => Text::new("维修工", "Technician"),
        Role::Supervisor => Text::new("物业助理", "Supervisor"),
        Role::Manager => Text::new("管理处主任", "Manager"),
        Role::Admin => Text::new("系统管理员", "Admin"),
    }
}

/// A time as people on the site read it: local date and time.
pub fn local(t: Timestamp, site: Option<&Site>) -> String {
    let tz = site.and_then(|s| s.tz().ok()).unwrap_or_else(|| {
        jiff::tz::TimeZone::get(patrol_core::site::DEFAULT_TIME_ZONE)
            .unwrap_or(jiff::tz::TimeZone::UTC)
    });
    t.to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string()
}

/// How long until (or since) a due time, in days and hours.
pub fn time_left(lang: Lang, due: Timestamp, now: Timestamp) -> String {
    let left = now.duration_until(due);
    let secs = left.as_secs().unsigned_abs();
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let span = match lang {
        Lang::Zh if days > 0 => format!("{days} 天 {hours} 小时"),
        Lang::Zh if hours > 0 => format!("{hours} 小时 {minutes} 分"),
        Lang::Zh => format!("{minutes} 分钟"),
        Lang::En if days > 0 => format!("{days} d {hours} h"),
        Lang::En if hours > 0 => format!("{hours} h {minutes} min"),
        Lang::En => format!("{minutes} min"),
    };
    if left.is_negative() {
        match lang {
            Lang::Zh => format!("逾期 {span}"),
            Lang::En => format!("overdue by {span}"),
        }
    } else {
        match lang {
            Lang::Zh => format!("剩 {span}"),
            Lang::En => format!("{span} left"),
        }
    }
}
