//! An issue's page (DESIGN §10): its facts, its timeline from the audit trail (report,
//! assignment, work, resolution, verification, escalations) with photos and who did what when —
//! by the device's clock and by the server's — and the sign-off with its signature. `?print=1`
//! is the record an office files. Assignment, extension decisions and comments are posted here.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use maud::{DOCTYPE, Markup, html};
use patrol_core::audit::{AuditEntry, AuditKind};
use patrol_core::ids::{IssueId, UserId};
use patrol_core::issue::{EscalationReason, Issue, Source, Status};
use patrol_core::lifecycle::may_see;
use patrol_core::team::Team;
use patrol_core::user::{Role, User};
use patrol_core::wire::{ExtensionDecideOp, IssueAssign, IssueComment, IssueFollowUp, OpBody};
use serde::Deserialize;

use super::queue::{due_cell, severity_label, status_label, team_label};
use super::{Console, ConsoleError, Lang, layout, local};
use crate::AppState;
use crate::extract::Path;

/// The issue, if the person may see it; another site's issue, or another team's job for a
/// technician, does not exist for them.
async fn visible(state: &AppState, c: &Console, id: IssueId) -> Result<Issue, ConsoleError> {
    state
        .store
        .issue(id)
        .await?
        .filter(|i| may_see(&c.actor, i))
        .ok_or(ConsoleError::NotFound(c.lang))
}

/// `?print=1`.
#[derive(Debug, Default, Deserialize)]
pub struct View {
    print: Option<String>,
}

/// `GET /console/issues/{id}/evidence.json`: the issue's evidence file, as the API exports it.
pub async fn evidence(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<IssueId>,
) -> Result<Response, ConsoleError> {
    let issue = visible(&state, &c, id).await?;
    let evidence = crate::api::evidence_of(&state, issue)
        .await?
        .ok_or(ConsoleError::NotFound(c.lang))?;
    Ok(crate::api::evidence_download(&evidence, id))
}

/// `GET /console/issues/{id}`.
pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<IssueId>,
    Query(v): Query<View>,
) -> Result<Response, ConsoleError> {
    let issue = visible(&state, &c, id).await?;
    let print = v.print.as_deref().is_some_and(|p| p == "1" || p == "true");
    render(&state, &c, &issue, print, None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    c: &Console,
    issue: &Issue,
    print: bool,
    refusal: Option<String>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let audit = state.store.audit(issue.id).await?;
    let people: HashMap<UserId, User> = state
        .store
        .site_users(issue.site_id)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let zone = match issue.zone_id {
        Some(z) => state.store.zone(z).await?,
        None => None,
    };
    let checkpoint = match issue.checkpoint_id {
        Some(cp) => state.store.checkpoint(cp).await?,
        None => None,
    };
    let facts = Facts {
        c,
        issue,
        audit: &audit,
        people: &people,
        place: checkpoint
            .map(|cp| cp.name)
            .or(zone.map(|z| z.name))
            .unwrap_or_else(|| "—".to_owned()),
    };
    let markup = if print {
        let evidence = crate::api::evidence_of(state, issue.clone()).await?;
        facts.printable(evidence.as_ref())
    } else {
        let content = html! {
            @if let Some(r) = &refusal { p.error role="alert" { (r) } }
            (facts.header())
            (facts.actions())
            (facts.timeline())
        };
        layout(c, &issue.title, "", content)
    };
    Ok((status, markup).into_response())
}

/// What a page of one issue shows.
struct Facts<'a> {
    c: &'a Console,
    issue: &'a Issue,
    audit: &'a [AuditEntry],
    people: &'a HashMap<UserId, User>,
    place: String,
}

fn kind_label(l: Lang, kind: AuditKind, entry: &AuditEntry) -> String {
    match (kind, entry.accepted) {
        (AuditKind::Verify, Some(true)) => l
            .t("现场验收：通过", "Verified on site: accepted")
            .to_owned(),
        (AuditKind::Verify, Some(false)) => l
            .t("现场验收：不通过，退回", "Verified on site: rejected")
            .to_owned(),
        (AuditKind::DecideExtension, Some(true)) => {
            l.t("批准延期", "Extension approved").to_owned()
        }
        (AuditKind::DecideExtension, Some(false)) => l.t("驳回延期", "Extension denied").to_owned(),
        _ => {
            let verb = kind.label();
            match l {
                Lang::Zh => verb.zh,
                Lang::En => {
                    let mut s = verb.en;
                    if let Some(first) = s.get_mut(..1) {
                        first.make_ascii_uppercase();
                    }
                    s
                }
            }
        }
    }
}

fn escalation_label(l: Lang, r: EscalationReason) -> &'static str {
    match r {
        EscalationReason::Urgent => l.t("紧急：已通知保安队", "Urgent: security told"),
        EscalationReason::Major => l.t("重大：已报管理处主任", "Major: the manager told"),
        EscalationReason::Overdue => l.t("逾期：已报管理处主任", "Overdue: the manager told"),
    }
}

impl Facts<'_> {
    fn name(&self, id: Option<UserId>) -> String {
        match id {
            None => self.c.lang.t("系统", "the server").to_owned(),
            Some(i) => self
                .people
                .get(&i)
                .map_or_else(|| i.to_string(), |u| u.display_name.clone()),
        }
    }

    fn when(&self, t: Timestamp) -> String {
        local(t, self.c.site(self.issue.site_id))
    }

    fn photo(&self, sha: &str, class: &str) -> Markup {
        let src = format!("/console/issues/{}/blobs/{sha}", self.issue.id);
        html! { a href=(src) target="_blank" { img class=(class) src=(src) alt=(self.c.lang.t("照片", "photo")) loading="lazy"; } }
    }

    fn header(&self) -> Markup {
        let (l, i) = (self.c.lang, self.issue);
        let now = Timestamp::now();
        let (class, left) = due_cell(l, i, now);
        let site = self.c.site(i.site_id).map_or("", |s| s.name.as_str());
        html! {
            section.issue-head {
                h1 { (i.title) }
                p.where { (site) " · " (self.place) }
                dl.facts {
                    dt { (l.t("状态", "Status")) } dd { (status_label(l, i.status)) }
                    dt { (l.t("类别", "Category")) } dd { (l.of(&i.category.label())) }
                    dt { (l.t("严重程度", "Severity")) } dd class={ "sev-" (i.severity.as_str()) } { (severity_label(l, i.severity)) }
                    dt { (l.t("班组", "Team")) } dd { (team_label(l, i.team)) }
                    dt { (l.t("来源", "Source")) } dd { (match i.source { Source::Patrol => l.t("巡查发现", "patrol"), Source::Desk => l.t("前台登记", "front desk") }) }
                    dt { (l.t("上报人", "Reported by")) } dd { (self.name(Some(i.reported_by))) }
                    dt { (l.t("发现时间", "Found")) } dd { (self.when(i.observed_at)) }
                    dt { (l.t("处理期限", "Due")) } dd { (self.when(i.due_at)) " " span class=[class] { "(" (left) ")" } }
                    dt { (l.t("处理人", "Assignee")) } dd { (i.assignee_id.map_or_else(|| "—".to_owned(), |a| self.name(Some(a)))) }
                    @if !i.escalations.is_empty() {
                        dt { (l.t("升级", "Escalated")) }
                        dd { @for r in &i.escalations { span.tag.escalated { (escalation_label(l, *r)) } " " } }
                    }
                    @if let Some(fu) = &i.follow_up {
                        dt { (l.t("回访", "Called back")) }
                        dd { (self.name(Some(fu.by))) " · " (self.when(fu.at)) " · "
                            (if fu.satisfied { l.t("住户满意", "satisfied") } else { l.t("住户不满意", "not satisfied") }) }
                    }
                    @if let Some(x) = &i.extension {
                        dt { (l.t("延期申请", "Extension asked")) }
                        dd { (self.name(Some(x.requested_by))) "：" (self.when(x.due_at)) " — " (x.reason) }
                    }
                }
                @if let Some(n) = &i.note { p.note { (n) } }
                @if !i.photos.is_empty() {
                    div.photos { @for p in &i.photos { (self.photo(p, "thumb")) } }
                }
                p.print-link { a href={ "/console/issues/" (i.id) "?print=1" } { (l.t("打印存档记录", "Printable record")) } }
            }
        }
    }

    fn actions(&self) -> Markup {
        let (c, l, i) = (self.c, self.c.lang, self.issue);
        let can_assign = c.actor.role.supervises()
            && matches!(
                i.status,
                Status::Open | Status::Assigned | Status::InProgress
            );
        let can_decide = c.actor.role == Role::Manager && i.extension.is_some();
        let can_call = i.status == Status::Closed
            && i.source == Source::Desk
            && (c.actor.role.supervises()
                || (c.actor.role == Role::Technician
                    && c.actor.team == Some(Team::CustomerService)));
        let mut candidates: Vec<&User> = self
            .people
            .values()
            .filter(|u| {
                u.team == Some(i.team) || (i.team == Team::Management && u.role == Role::Manager)
            })
            .filter(|u| u.role != Role::Admin)
            .collect();
        candidates.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        html! {
            section.actions {
                @if can_assign {
                    form.assign method="post" action={ "/console/issues/" (i.id) "/assign" } {
                        (c.csrf_field())
                        label { (l.t("派给", "Assign to"))
                            select name="assignee_id" required {
                                @for u in &candidates {
                                    option value=(u.id) selected[i.assignee_id == Some(u.id)] { (u.display_name) }
                                }
                            }
                        }
                        button type="submit" { (if i.assignee_id.is_some() { l.t("改派", "Reassign") } else { l.t("派单", "Assign") }) }
                    }
                }
                @if can_decide {
                    form.extension method="post" action={ "/console/issues/" (i.id) "/extension" } {
                        (c.csrf_field())
                        label { (l.t("审批意见", "Note")) input name="note" maxlength="4000"; }
                        button type="submit" name="approved" value="true" { (l.t("批准延期", "Approve extension")) }
                        button.secondary type="submit" name="approved" value="false" { (l.t("驳回", "Deny")) }
                    }
                }
                @if can_call {
                    form.followup method="post" action={ "/console/issues/" (i.id) "/followup" } {
                        (c.csrf_field())
                        fieldset {
                            legend { (l.t("回访住户", "Call the resident back")) }
                            label.inline { input type="radio" name="satisfied" value="true" required; (l.t("满意", "Satisfied")) }
                            label.inline { input type="radio" name="satisfied" value="false"; (l.t("不满意", "Not satisfied")) }
                        }
                        label { (l.t("回访记录", "What was said")) input name="note" maxlength="4000"; }
                        button type="submit" { (l.t("记录回访", "Record the call")) }
                    }
                }
                @if c.actor.role != Role::Admin {
                    form.comment method="post" action={ "/console/issues/" (i.id) "/comment" } {
                        (c.csrf_field())
                        label { (l.t("备注", "Comment")) input name="text" required maxlength="4000"; }
                        button.secondary type="submit" { (l.t("添加备注", "Add comment")) }
                    }
                }
            }
        }
    }

    fn entry(&self, e: &AuditEntry) -> Markup {
        let l = self.c.lang;
        html! {
            li class={ "kind-" (e.kind.as_str().replace('.', "-")) } {
                div.when {
                    (self.when(e.at))
                    @if let Some(s) = e.server_at {
                        br; small { (l.t("服务器收到 ", "server ")) (self.when(s)) }
                    }
                    @if let Some(d) = e.device_at {
                        br; small { (l.t("手机时间 ", "phone ")) (self.when(d)) }
                    }
                }
                div.what {
                    strong { (kind_label(l, e.kind, e)) }
                    " · " (self.name(e.actor_id))
                    @if let Some(a) = e.assignee_id { " → " (self.name(Some(a))) }
                    @if let Some(r) = e.escalation { " · " (escalation_label(l, r)) }
                    @if let (Some(b), Some(a)) = (e.due_before, e.due_after) {
                        @if b != a { br; small { (l.t("期限 ", "due ")) (self.when(b)) " → " (self.when(a)) } }
                    }
                    @if let Some(n) = &e.note { p.note { (n) } }
                    @if !e.photos.is_empty() {
                        div.photos { @for p in &e.photos { (self.photo(p, "thumb")) } }
                    }
                    @if let Some(sig) = &e.signature {
                        div.signature {
                            span { (l.t("签名", "Signature")) }
                            (self.photo(sig, "signature"))
                        }
                    }
                }
            }
        }
    }

    fn timeline(&self) -> Markup {
        let l = self.c.lang;
        html! {
            section.timeline {
                h2 { (l.t("处理经过", "Timeline")) }
                ol { @for e in self.audit { (self.entry(e)) } }
            }
        }
    }

    /// The record an office files: facts, the whole trail and the sign-off, without the forms.
    fn printable(&self, evidence: Option<&patrol_core::evidence::Evidence>) -> Markup {
        let l = self.c.lang;
        let head = self.audit.last().and_then(|e| e.hash.clone());
        let signoffs = evidence.map_or(&[][..], |e| e.signoffs.as_slice());
        let file = format!("evidence-{}.json", self.issue.id);
        let sign_off = self
            .audit
            .iter()
            .rev()
            .find(|e| e.kind == AuditKind::Verify && e.accepted == Some(true));
        html! {
            (DOCTYPE)
            html lang=(l.tag()) {
                head {
                    meta charset="utf-8";
                    title { (self.issue.title) }
                    link rel="stylesheet" href="/console/assets/console.css";
                }
                body.print {
                    main {
                        p.doc { (l.t("巡查问题处理记录", "Patrol issue record")) " · " (self.issue.id) }
                        (self.header())
                        (self.timeline())
                        section.sign-off {
                            h2 { (l.t("验收签字", "Sign-off")) }
                            @if let Some(s) = sign_off {
                                p { (self.name(s.actor_id)) " · " (self.when(s.at)) }
                                @if let Some(sig) = &s.signature { (self.photo(sig, "signature")) }
                            } @else {
                                p { (l.t("尚未验收。", "Not signed off yet.")) }
                            }
                        }
                        section.evidence {
                            h2 { (l.t("防篡改核验", "Tamper evidence")) }
                            dl {
                                dt { (l.t("记录链头（SHA-256）", "Chain head (SHA-256)")) }
                                dd.hash { code { (head.as_deref().unwrap_or("—")) } }
                                dt { (l.t("记录条数", "Entries")) }
                                dd { (self.audit.len()) }
                                @for s in signoffs {
                                    dt { (l.t("验收签章", "Signed sign-off")) }
                                    dd.hash {
                                        (l.t("服务器密钥 ", "server key ")) code { (s.key_id) }
                                        " · " (l.t("签章 ", "signature ")) code { (s.signature.get(..16).unwrap_or(&s.signature)) "…" }
                                    }
                                }
                            }
                            p {
                                (l.t(
                                    "核验方法：下载证据文件 ",
                                    "To verify: download the evidence file ",
                                ))
                                a href={ "/console/issues/" (self.issue.id) "/evidence.json" } { (file) }
                                (l.t(
                                    "，运行 patrol-server verify-audit --file ",
                                    ", run patrol-server verify-audit --file ",
                                ))
                                code { (file) }
                                (l.t(
                                    "；或用任何 SHA-256、JCS（RFC 8785）和 Ed25519 工具离线核验：每条记录的 hash 是去掉 hash 字段后规范化 JSON 的 SHA-256，prev 是上一条的 hash（第一条为问题编号），最后一条的 hash 应与上面的链头一致。",
                                    "; or check it offline with any SHA-256, JCS (RFC 8785) and Ed25519 tool: each entry's hash is the SHA-256 of its canonical JSON without the hash field, prev is the previous entry's hash (the issue id for the first), and the last hash must equal the chain head above.",
                                ))
                            }
                        }
                        p.printed { (l.t("打印时间 ", "Printed ")) (self.when(Timestamp::now())) }
                    }
                }
            }
        }
    }
}

/// The assignment form as posted.
#[derive(Debug, Deserialize)]
pub struct AssignForm {
    csrf: Option<String>,
    assignee_id: Option<String>,
}

/// Run an op and answer: back to the issue on success, the page with the refusal otherwise.
async fn done(
    state: &AppState,
    c: &Console,
    issue: &Issue,
    body: OpBody,
) -> Result<Response, ConsoleError> {
    let result = c.act(state, body).await?;
    match Console::refusal(&result) {
        None => Ok(Redirect::to(&format!("/console/issues/{}", issue.id)).into_response()),
        Some(why) => {
            let fresh = visible(state, c, issue.id).await?;
            render(
                state,
                c,
                &fresh,
                false,
                Some(why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /console/issues/{id}/assign`.
pub async fn assign(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<IssueId>,
    axum::Form(f): axum::Form<AssignForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(&[Role::Supervisor, Role::Manager])?;
    let issue = visible(&state, &c, id).await?;
    let assignee_id = f
        .assignee_id
        .as_deref()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| {
            ConsoleError::BadRequest(
                c.lang,
                c.lang.t("请选择处理人", "Choose whom to assign").to_owned(),
            )
        })?;
    done(
        &state,
        &c,
        &issue,
        OpBody::IssueAssign(IssueAssign {
            issue_id: id,
            assignee_id,
        }),
    )
    .await
}

/// The extension decision as posted.
#[derive(Debug, Deserialize)]
pub struct ExtensionForm {
    csrf: Option<String>,
    approved: Option<String>,
    note: Option<String>,
}

/// `POST /console/issues/{id}/extension` (managers only).
pub async fn extension(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<IssueId>,
    axum::Form(f): axum::Form<ExtensionForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(&[Role::Manager])?;
    let issue = visible(&state, &c, id).await?;
    let approved = match f.approved.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(ConsoleError::BadRequest(
                c.lang,
                c.lang
                    .t("请选择批准或驳回", "Choose approve or deny")
                    .to_owned(),
            ));
        }
    };
    let note = f.note.filter(|n| !n.trim().is_empty());
    done(
        &state,
        &c,
        &issue,
        OpBody::ExtensionDecide(ExtensionDecideOp {
            issue_id: id,
            approved,
            note,
        }),
    )
    .await
}

/// The comment form as posted.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    csrf: Option<String>,
    text: Option<String>,
}

/// `POST /console/issues/{id}/comment`.
pub async fn comment(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<IssueId>,
    axum::Form(f): axum::Form<CommentForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    let issue = visible(&state, &c, id).await?;
    done(
        &state,
        &c,
        &issue,
        OpBody::IssueComment(IssueComment {
            issue_id: id,
            text: f.text.unwrap_or_default(),
        }),
    )
    .await
}

/// The call back as posted.
#[derive(Debug, Deserialize)]
pub struct FollowUpForm {
    csrf: Option<String>,
    satisfied: Option<String>,
    note: Option<String>,
}

/// `POST /console/issues/{id}/followup`: customer service's call back to the resident.
pub async fn followup(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<IssueId>,
    axum::Form(f): axum::Form<FollowUpForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    let issue = visible(&state, &c, id).await?;
    let satisfied = match f.satisfied.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(ConsoleError::BadRequest(
                c.lang,
                c.lang
                    .t(
                        "请选择住户是否满意",
                        "Say whether the resident was satisfied",
                    )
                    .to_owned(),
            ));
        }
    };
    done(
        &state,
        &c,
        &issue,
        OpBody::IssueFollowUp(IssueFollowUp {
            issue_id: id,
            satisfied,
            note: f.note.filter(|n| !n.trim().is_empty()),
        }),
    )
    .await
}

/// `GET /console/issues/{id}/blobs/{sha}`: a photo or signature of the issue, to someone who may
/// see the issue. Any other blob is not found, whatever the server holds.
pub async fn blob(
    State(state): State<AppState>,
    c: Console,
    Path((id, sha)): Path<(IssueId, String)>,
) -> Result<Response, ConsoleError> {
    let issue = visible(&state, &c, id).await?;
    let audit = state.store.audit(id).await?;
    if !crate::blobs::named_by(&issue, &audit, &sha) {
        return Err(ConsoleError::NotFound(c.lang));
    }
    let kind = crate::api::blob_kind(&state, &sha).await?;
    state
        .blobs
        .response(&sha, kind.mime())
        .await
        .map_err(|e| ConsoleError::blob_store(c.lang, &e))
}
