//! The admin page (DESIGN §10 `GET /console/admin`): an admin's sites and the people on them,
//! a site imported from its YAML file, users added, disabled, enabled and given a new password,
//! and a site's label key rotated. Admins are of their sites, as everywhere else (core's
//! `Actor::works_on`): they see and change only the people of their own sites. The work itself
//! is the same code the CLI runs (`accounts`, `import`).

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use patrol_core::ids::{SiteId, UserId};
use patrol_core::site::Site;
use patrol_core::team::Team;
use patrol_core::user::{Role, User};
use serde::Deserialize;

use super::{Console, ConsoleError, Lang, layout, role_label};
use crate::AppState;
use crate::accounts::{self, AccountError, MIN_PASSWORD_CHARS, NewUser};
use crate::import::{self, ImportError};
use crate::notify::{Channel, ChannelKind, NewChannel, masked_url};

/// Who uses this page.
pub const ADMIN_ROLES: &[Role] = &[Role::Admin];
/// The largest site file taken (a large estate's file is some tens of kilobytes).
pub const MAX_SITE_FILE_BYTES: usize = 1024 * 1024;
/// The largest import form: the file, or the same text pasted, and the form's own fields.
pub const MAX_IMPORT_FORM_BYTES: usize = 2 * MAX_SITE_FILE_BYTES + 16 * 1024;

/// What the page says above its content.
enum Notice {
    /// Something was done.
    Done(String),
    /// Something was refused, with every reason.
    Refused(String, Vec<String>),
}

/// What a redirect after a change tells the page (a fixed set: nothing typed is reflected).
#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn done_text(l: Lang, done: &str) -> Option<&'static str> {
    Some(match done {
        "import" => l.t(
            "小区已导入，可在下方打印其标签。",
            "The site was imported; print its labels below.",
        ),
        "user" => l.t("用户已添加。", "The user was added."),
        "disabled" => l.t(
            "用户已停用：不能再登录，已登录的设备和后台会话已失效。",
            "The user is disabled: they cannot sign in, and their phones and console sessions are signed out.",
        ),
        "enabled" => l.t(
            "用户已启用，可以重新登录。",
            "The user is enabled and may sign in again.",
        ),
        "password" => l.t(
            "密码已重置：该用户的所有登录已失效，请用新密码登录。",
            "The password was reset: every sign-in of the user has ended; they sign in with the new one.",
        ),
        "channel" => l.t(
            "通知渠道已添加：此后该小区的提醒会发到这里。",
            "The notification channel was added: the site's alerts go there from now on.",
        ),
        "channel-removed" => l.t(
            "通知渠道已删除，其待发送的通知已取消。",
            "The notification channel was removed; its pending deliveries are cancelled.",
        ),
        "rekey" => l.t(
            "标签密钥已更换：旧标签已失效，请立即打印并更换该小区的全部标签。",
            "The label key was rotated: old labels no longer verify; print and replace every label of the site now.",
        ),
        _ => return None,
    })
}

/// `GET /console/admin`.
pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<Done>,
) -> Result<Markup, ConsoleError> {
    c.require(ADMIN_ROLES)?;
    let notice = q
        .done
        .as_deref()
        .and_then(|d| done_text(c.lang, d))
        .map(|t| Notice::Done(t.to_owned()));
    render(&state, &c, notice.as_ref(), &Typed::default()).await
}

/// What was typed into a form that is shown again after a refusal.
#[derive(Debug, Default)]
struct Typed {
    yaml: String,
    user: Option<UserForm>,
}

/// A site as the page lists it: its checkpoint count, its people, each with whether they are
/// disabled, and its notification channels.
type SiteRow<'a> = (&'a Site, usize, Vec<(User, bool)>, Vec<Channel>);

async fn render(
    state: &AppState,
    c: &Console,
    notice: Option<&Notice>,
    typed: &Typed,
) -> Result<Markup, ConsoleError> {
    let l = c.lang;
    let mut sites: Vec<SiteRow<'_>> = Vec::new();
    for s in &c.sites {
        let checkpoints = state.store.checkpoints(s.id).await?.len();
        let people = state.store.site_accounts(s.id).await?;
        let channels = state.store.site_channels(s.id).await?;
        sites.push((s, checkpoints, people, channels));
    }
    let u = typed.user.as_ref();
    let chosen = |v: Option<&Option<String>>, x: &str| v.and_then(|v| v.as_deref()) == Some(x);
    let content = html! {
        h1 { (l.t("系统管理", "Admin")) }
        @match notice {
            Some(Notice::Done(t)) => p.done role="status" { (t) },
            Some(Notice::Refused(head, list)) => div.error role="alert" {
                p { (head) }
                @if !list.is_empty() {
                    ul.problems { @for p in list { li { (p) } } }
                }
            },
            None => {}
        }
        @if sites.is_empty() {
            p.empty { (l.t("你还没有负责的小区：请先导入一个。", "You have no sites yet: import one first.")) }
        }
        @for (s, checkpoints, people, channels) in &sites {
            section.admin-site id={ "site-" (s.code) } {
                h2 { (s.name) " " span.tag { (s.code) } }
                dl.facts {
                    dt { (l.t("时区", "Time zone")) } dd { (s.time_zone) }
                    dt { (l.t("巡查点", "Checkpoints")) } dd.checkpoints { (checkpoints) }
                    dt { (l.t("标签公钥", "Label public key")) } dd { code.key { (s.public_key) } }
                    dt { (l.t("标签", "Labels")) } dd { a href={ "/console/sites/" (s.id) "/labels" } { (l.t("打印标签", "Print labels")) } }
                }
                table.users {
                    thead { tr {
                        th { (l.t("用户名", "Username")) }
                        th { (l.t("显示名称", "Display name")) }
                        th { (l.t("岗位", "Role")) }
                        th { (l.t("班组", "Team")) }
                        th { (l.t("状态", "State")) }
                        th { (l.t("操作", "Actions")) }
                    } }
                    tbody {
                        @for (person, disabled) in people {
                            tr class=[disabled.then_some("disabled")] {
                                td { (person.username) }
                                td { (person.display_name) }
                                td { (l.of(&role_label(person.role))) }
                                td { @if let Some(t) = person.team { (l.of(&t.label())) } }
                                td.state {
                                    @if *disabled { span.tag.off { (l.t("已停用", "disabled")) } }
                                    @else { span.tag.on { (l.t("正常", "enabled")) } }
                                }
                                td.actions {
                                    @if person.id != c.user.id {
                                        form method="post" action={ "/console/admin/users/" (person.id) (if *disabled { "/enable" } else { "/disable" }) } {
                                            (c.csrf_field())
                                            @if *disabled {
                                                button.secondary type="submit" { (l.t("启用", "Enable")) }
                                            } @else {
                                                button.secondary type="submit" { (l.t("停用", "Disable")) }
                                            }
                                        }
                                    }
                                    form method="post" action={ "/console/admin/users/" (person.id) "/password" } {
                                        (c.csrf_field())
                                        input type="password" name="password" autocomplete="new-password" required
                                            minlength=(MIN_PASSWORD_CHARS) placeholder=(l.t("新密码", "New password"));
                                        button.secondary type="submit" { (l.t("重置密码", "Reset password")) }
                                    }
                                }
                            }
                        }
                    }
                }
                (channels_section(c, s, channels))
                form.rekey method="post" action={ "/console/admin/sites/" (s.id) "/rotate-key" } {
                    (c.csrf_field())
                    p.warning {
                        (l.t(
                            "更换标签密钥后，该小区所有已打印的巡查点标签立即失效，必须全部重新打印并更换；手机在下次同步时获得新密钥。",
                            "Rotating the label key makes every printed checkpoint label of this site stop verifying at once: every label must be reprinted and replaced. Phones learn the new key on their next sync."
                        ))
                    }
                    label.check {
                        span { input type="checkbox" name="confirm" value="yes" required; " " (l.t("我明白所有标签都必须重新打印", "I understand every label must be reprinted")) }
                    }
                    button.danger type="submit" { (l.t("更换标签密钥", "Rotate label key")) }
                }
            }
        }
        @if !c.sites.is_empty() {
            section.admin-form {
                h2 { (l.t("添加用户", "Add a user")) }
                form.desk method="post" action="/console/admin/users" {
                    (c.csrf_field())
                    label { (l.t("小区", "Site"))
                        select name="site_id" required {
                            @for s in &c.sites {
                                option value=(s.id) selected[chosen(u.map(|u| &u.site_id), &s.id.to_string())] { (s.name) " (" (s.code) ")" }
                            }
                        }
                    }
                    label { (l.t("用户名", "Username"))
                        input name="username" required maxlength=(patrol_core::bounds::MAX_USERNAME_CHARS) autocomplete="off"
                            value=[u.and_then(|u| u.username.as_deref())];
                    }
                    label { (l.t("显示名称", "Display name"))
                        input name="display_name" maxlength=(accounts::MAX_DISPLAY_NAME_CHARS)
                            value=[u.and_then(|u| u.display_name.as_deref())];
                    }
                    label { (l.t("岗位", "Role"))
                        select name="role" required {
                            @for r in Role::ALL {
                                option value=(r.as_str()) selected[chosen(u.map(|u| &u.role), r.as_str())] { (l.of(&role_label(r))) }
                            }
                        }
                    }
                    label { (l.t("班组（维修工必填）", "Team (required for technicians)"))
                        select name="team" {
                            option value="" { (l.t("（无）", "(none)")) }
                            @for t in Team::ALL {
                                option value=(t.as_str()) selected[chosen(u.map(|u| &u.team), t.as_str())] { (l.of(&t.label())) }
                            }
                        }
                    }
                    label { (l.t("初始密码", "Initial password"))
                        input type="password" name="password" required minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password";
                    }
                    button type="submit" { (l.t("添加", "Add")) }
                }
            }
        }
        section.admin-form {
            h2 { (l.t("导入小区", "Import a site")) }
            p.doc {
                (l.t("上传站点 YAML 文件（格式见 server/examples/site.yaml），或把文件内容粘贴在下面。小区代码已存在时不会覆盖。",
                     "Upload the site's YAML file (the format of server/examples/site.yaml), or paste its text below. A site code already in use is refused, not overwritten."))
            }
            form.import method="post" action="/console/admin/sites/import" enctype="multipart/form-data" {
                (c.csrf_field())
                label { (l.t("站点文件", "Site file"))
                    input type="file" name="file" accept=".yaml,.yml,text/yaml";
                }
                label.wide { (l.t("或粘贴文件内容", "or paste its text"))
                    textarea name="yaml" rows="10" spellcheck="false" { (typed.yaml) }
                }
                button type="submit" { (l.t("导入", "Import")) }
            }
        }
    };
    Ok(layout(
        c,
        l.t("系统管理", "Admin"),
        "/console/admin",
        content,
    ))
}

/// The page again, saying why something was refused.
async fn refused(
    state: &AppState,
    c: &Console,
    head: String,
    list: Vec<String>,
    typed: &Typed,
) -> Result<Response, ConsoleError> {
    let page = render(state, c, Some(&Notice::Refused(head, list)), typed).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

fn back(done: &str) -> Response {
    Redirect::to(&format!("/console/admin?done={done}")).into_response()
}

/// The import form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct ImportForm {
    csrf: Option<String>,
    yaml: Option<String>,
}

/// `POST /console/admin/sites/import`: a multipart upload (file or pasted text) or an
/// urlencoded form with the text.
pub async fn import_site(
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
    let f = if multipart {
        read_import(l, req, &state).await?
    } else {
        let axum::Form(f) = axum::Form::<ImportForm>::from_request(req, &state)
            .await
            .map_err(|_| too_big(l))?;
        f
    };
    c.check_form(f.csrf.as_deref())?;
    c.require(ADMIN_ROLES)?;
    let yaml = f.yaml.unwrap_or_default();
    let typed = Typed {
        yaml: yaml.clone(),
        user: None,
    };
    if yaml.trim().is_empty() {
        let why = l.t("请选择或粘贴站点文件", "Choose or paste a site file");
        return refused(&state, &c, why.to_owned(), Vec::new(), &typed).await;
    }
    if yaml.len() > MAX_SITE_FILE_BYTES {
        return Err(too_big(l));
    }
    match import::import_yaml(state.store.as_ref(), &yaml).await {
        Ok(site) => {
            // The console shows an admin their own sites: the one who imports a site runs it.
            state.store.add_user_site(c.user.id, site.site.id).await?;
            tracing::info!(
                admin = %c.user.username,
                site = %site.site.code,
                checkpoints = site.checkpoints.len(),
                "site imported in the console"
            );
            Ok(back("import"))
        }
        Err(ImportError::Problems(list)) => {
            let head = l.t(
                "站点文件有以下问题，未导入任何内容：",
                "The site file has these problems; nothing was imported:",
            );
            refused(&state, &c, head.to_owned(), list, &typed).await
        }
        Err(ImportError::Taken(code)) => {
            let why = match l {
                Lang::Zh => {
                    format!("小区代码 `{code}` 已存在：重复导入不会更新已有小区，请换一个代码。")
                }
                Lang::En => format!(
                    "A site with code `{code}` exists already: importing again does not update it; use another code."
                ),
            };
            refused(&state, &c, why, Vec::new(), &typed).await
        }
        Err(ImportError::Internal(e)) => Err(ConsoleError::internal(l, &e)),
    }
}

fn too_big(l: Lang) -> ConsoleError {
    ConsoleError::BadRequest(
        l,
        l.t(
            "表单或站点文件过大（最大 1 MiB）",
            "The form or the site file is too large (at most 1 MiB)",
        )
        .to_owned(),
    )
}

/// The fields of a multipart import form, within their limits. A chosen file wins over text.
async fn read_import(l: Lang, req: Request, state: &AppState) -> Result<ImportForm, ConsoleError> {
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|_| too_big(l))?;
    let mut f = ImportForm::default();
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|_| too_big(l))? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|_| too_big(l))?;
        if bytes.len() > MAX_SITE_FILE_BYTES {
            return Err(too_big(l));
        }
        let text = || {
            String::from_utf8(bytes.to_vec()).map_err(|_| {
                ConsoleError::BadRequest(
                    l,
                    l.t(
                        "站点文件必须是 UTF-8 文本",
                        "The site file must be UTF-8 text",
                    )
                    .to_owned(),
                )
            })
        };
        match name.as_str() {
            "csrf" => f.csrf = Some(text()?),
            "yaml" => f.yaml = Some(text()?),
            // An empty file input sends an empty part.
            "file" if !bytes.is_empty() => file = Some(text()?),
            _ => {}
        }
    }
    if file.is_some() {
        f.yaml = file;
    }
    Ok(f)
}

/// The add-user form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct UserForm {
    csrf: Option<String>,
    site_id: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    role: Option<String>,
    team: Option<String>,
    password: Option<String>,
}

/// `POST /console/admin/users`.
pub async fn add_user(
    State(state): State<AppState>,
    c: Console,
    axum::Form(mut f): axum::Form<UserForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(ADMIN_ROLES)?;
    let l = c.lang;
    // The password is never shown again, not even after a refusal.
    let password = f.password.take().unwrap_or_default();
    let site_id: Option<SiteId> = f.site_id.as_deref().and_then(|s| s.parse().ok());
    let site = site_id.and_then(|s| c.site(s)).cloned();
    let role: Option<Role> = super::queue::pick(&f.role);
    let team: Option<Team> = super::queue::pick(&f.team);
    let (Some(site), Some(role)) = (site, role) else {
        let why = l
            .t("请选择小区和岗位", "Choose a site and a role")
            .to_owned();
        let typed = Typed {
            yaml: String::new(),
            user: Some(f),
        };
        return refused(&state, &c, why, Vec::new(), &typed).await;
    };
    let new = NewUser {
        username: f.username.clone().unwrap_or_default(),
        display_name: f.display_name.clone(),
        role,
        team,
        site: site.id,
    };
    match accounts::add(state.store.as_ref(), &state.passwords, new, &password).await {
        Ok(user) => {
            tracing::info!(
                admin = %c.user.username,
                user = %user.username,
                role = user.role.as_str(),
                site = %site.code,
                "user added in the console"
            );
            Ok(back("user"))
        }
        Err(AccountError::Refused(why)) => {
            let head = l.t("未添加用户：", "The user was not added:").to_owned();
            let list = why.split("; ").map(str::to_owned).collect();
            let typed = Typed {
                yaml: String::new(),
                user: Some(f),
            };
            refused(&state, &c, head, list, &typed).await
        }
        Err(e) => Err(ConsoleError::internal(l, &e)),
    }
}

/// A form with only its token.
#[derive(Debug, Deserialize)]
pub struct TokenOnly {
    csrf: Option<String>,
}

/// One of the admin's people: a user who works on one of the admin's sites; anyone else is not
/// theirs to know of.
async fn their_user(state: &AppState, c: &Console, id: &str) -> Result<User, ConsoleError> {
    let id: UserId = id.parse().map_err(|_| ConsoleError::NotFound(c.lang))?;
    state
        .store
        .user(id)
        .await?
        .filter(|u| u.site_ids.iter().any(|s| c.site(*s).is_some()))
        .ok_or(ConsoleError::NotFound(c.lang))
}

/// `POST /console/admin/users/{id}/disable`.
pub async fn disable(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<TokenOnly>,
) -> Result<Response, ConsoleError> {
    set_disabled(state, c, id, f, true).await
}

/// `POST /console/admin/users/{id}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<TokenOnly>,
) -> Result<Response, ConsoleError> {
    set_disabled(state, c, id, f, false).await
}

async fn set_disabled(
    state: AppState,
    c: Console,
    id: String,
    f: TokenOnly,
    disabled: bool,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(ADMIN_ROLES)?;
    let l = c.lang;
    let user = their_user(&state, &c, &id).await?;
    if disabled && user.id == c.user.id {
        let why = l.t(
            "不能停用你自己的账号",
            "You cannot disable your own account",
        );
        return refused(&state, &c, why.to_owned(), Vec::new(), &Typed::default()).await;
    }
    if !state.store.set_disabled(user.id, disabled).await? {
        return Err(ConsoleError::NotFound(l));
    }
    tracing::info!(
        admin = %c.user.username,
        user = %user.username,
        disabled,
        "account {} in the console",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(back(if disabled { "disabled" } else { "enabled" }))
}

/// The password form as posted.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    password: Option<String>,
}

/// `POST /console/admin/users/{id}/password`.
pub async fn password(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<PasswordForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(ADMIN_ROLES)?;
    let l = c.lang;
    let user = their_user(&state, &c, &id).await?;
    let password = f.password.unwrap_or_default();
    match accounts::reset_password(state.store.as_ref(), &state.passwords, user.id, &password).await
    {
        Ok(()) => {
            tracing::info!(
                admin = %c.user.username,
                user = %user.username,
                "password reset in the console"
            );
            Ok(back("password"))
        }
        Err(AccountError::Refused(why)) => {
            let head = match l {
                Lang::Zh => format!("未重置 {} 的密码：", user.username),
                Lang::En => format!("The password of {} was not reset:", user.username),
            };
            refused(&state, &c, head, vec![why], &Typed::default()).await
        }
        Err(e) => Err(ConsoleError::internal(l, &e)),
    }
}

/// The rotate-key form as posted.
#[derive(Debug, Deserialize)]
pub struct RotateForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// `POST /console/admin/sites/{id}/rotate-key`: only with `confirm=yes`.
pub async fn rotate_key(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<RotateForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(ADMIN_ROLES)?;
    let l = c.lang;
    let site = id
        .parse::<SiteId>()
        .ok()
        .and_then(|s| c.site(s))
        .cloned()
        .ok_or(ConsoleError::NotFound(l))?;
    if f.confirm.as_deref() != Some("yes") {
        let why = l.t(
            "请勾选确认：更换密钥后所有标签都必须重新打印。",
            "Tick the confirmation: after rotating the key every label must be reprinted.",
        );
        return refused(&state, &c, why.to_owned(), Vec::new(), &Typed::default()).await;
    }
    let (_, labels) = import::rotate_key(state.store.as_ref(), &site)
        .await
        .map_err(|e| ConsoleError::internal(l, &e))?;
    tracing::warn!(
        admin = %c.user.username,
        site = %site.code,
        labels,
        "label key rotated in the console; every label of the site must be reprinted"
    );
    Ok(back("rekey"))
}

/// A site's notification channels: each with its kind, its address (robot keys masked), its
/// events and whether it signs, a button to remove it, and the form to add one. Secrets are
/// never shown.
fn channels_section(c: &Console, s: &Site, channels: &[Channel]) -> Markup {
    let l = c.lang;
    html! {
        div.channels id={ "channels-" (s.code) } {
            h3 { (l.t("通知渠道", "Notification channels")) }
            @if channels.is_empty() {
                p.empty { (l.t("还没有通知渠道：提醒只在后台和手机上显示。", "No channels yet: alerts show only in the console and on phones.")) }
            } @else {
                table.channels {
                    thead { tr {
                        th { (l.t("类型", "Kind")) }
                        th { (l.t("地址", "URL")) }
                        th { (l.t("事件", "Events")) }
                        th { (l.t("签名", "Signed")) }
                        th { (l.t("操作", "Actions")) }
                    } }
                    tbody {
                        @for ch in channels {
                            tr id={ "channel-" (ch.id) } {
                                td { (l.of(&ch.kind.label())) br; small.muted { (ch.kind.as_str()) } }
                                td.url { code { (masked_url(&ch.url)) } }
                                td { @for (i, e) in ch.events.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (l.of(&e.label()))
                                } }
                                td { @if ch.secret.is_some() { (l.t("已设密钥", "secret set")) } @else { (l.t("无", "no")) } }
                                td.actions {
                                    form method="post" action={ "/console/admin/channels/" (ch.id) "/remove" } {
                                        (c.csrf_field())
                                        button.secondary type="submit" { (l.t("删除", "Remove")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form.desk.channel method="post" action={ "/console/admin/sites/" (s.id) "/channels" } {
                (c.csrf_field())
                label { (l.t("类型", "Kind"))
                    select name="kind" required {
                        @for k in ChannelKind::ALL {
                            option value=(k.as_str()) { (l.of(&k.label())) }
                        }
                    }
                }
                label.wide { (l.t("地址（机器人设置里的 Webhook 地址）", "URL (the robot's webhook address from its settings)"))
                    input type="url" name="url" required maxlength=(crate::notify::MAX_URL_CHARS) autocomplete="off";
                }
                label { (l.t("密钥（钉钉加签、飞书签名校验、Webhook 签名；企业微信不填）", "Secret (DingTalk signing, Feishu signature check, webhook HMAC; none for WeCom)"))
                    input type="password" name="secret" maxlength=(crate::notify::MAX_SECRET_CHARS) autocomplete="new-password";
                }
                fieldset.events {
                    legend { (l.t("发送的事件", "Events to send")) }
                    @for k in patrol_core::alert::AlertKind::ALL {
                        label.check {
                            input type="checkbox" name={ "ev_" (k.as_str()) } value="on" checked;
                            " " (l.of(&k.label()))
                        }
                    }
                }
                button type="submit" { (l.t("添加渠道", "Add channel")) }
            }
        }
    }
}

/// The add-channel form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct ChannelForm {
    csrf: Option<String>,
    kind: Option<String>,
    url: Option<String>,
    secret: Option<String>,
    ev_urgent: Option<String>,
    ev_major: Option<String>,
    ev_overdue: Option<String>,
    ev_round_missed: Option<String>,
    ev_round_incomplete: Option<String>,
}

/// `POST /console/admin/sites/{id}/channels`.
pub async fn add_channel(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<ChannelForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(ADMIN_ROLES)?;
    let l = c.lang;
    let site = id
        .parse::<SiteId>()
        .ok()
        .and_then(|s| c.site(s))
        .cloned()
        .ok_or(ConsoleError::NotFound(l))?;
    let ticked = [
        ("urgent", &f.ev_urgent),
        ("major", &f.ev_major),
        ("overdue", &f.ev_overdue),
        ("round_missed", &f.ev_round_missed),
        ("round_incomplete", &f.ev_round_incomplete),
    ];
    let events: Vec<&str> = ticked
        .iter()
        .filter(|(_, on)| on.as_deref().is_some_and(|v| !v.is_empty()))
        .map(|(name, _)| *name)
        .collect();
    let new = NewChannel {
        kind: f.kind.clone().unwrap_or_default(),
        url: f.url.clone().unwrap_or_default(),
        secret: f.secret.clone(),
        // None ticked is refused ("choose at least one"), not taken as all.
        events: Some(if events.is_empty() {
            ",".to_owned()
        } else {
            events.join(",")
        }),
    };
    match new.check(site.id, jiff::Timestamp::now()) {
        Ok(channel) => {
            state.store.add_channel(&channel).await?;
            tracing::info!(
                admin = %c.user.username,
                site = %site.code,
                channel = %channel.id,
                kind = channel.kind.as_str(),
                url = %masked_url(&channel.url),
                "notification channel added in the console"
            );
            Ok(back("channel"))
        }
        Err(problems) => {
            let head = l
                .t("未添加通知渠道：", "The channel was not added:")
                .to_owned();
            let list = problems.iter().map(|p| l.of(&p.0)).collect();
            refused(&state, &c, head, list, &Typed::default()).await
        }
    }
}

/// `POST /console/admin/channels/{id}/remove`: a channel of one of the admin's sites.
pub async fn remove_channel(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<TokenOnly>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(ADMIN_ROLES)?;
    let l = c.lang;
    let channel = match id.parse::<uuid::Uuid>() {
        Ok(id) => state.store.channel(id).await?,
        Err(_) => None,
    }
    .filter(|ch| c.site(ch.site_id).is_some())
    .ok_or(ConsoleError::NotFound(l))?;
    if !state
        .store
        .remove_channel(channel.id, jiff::Timestamp::now())
        .await?
    {
        return Err(ConsoleError::NotFound(l));
    }
    tracing::info!(
        admin = %c.user.username,
        channel = %channel.id,
        "notification channel removed in the console"
    );
    Ok(back("channel-removed"))
}
