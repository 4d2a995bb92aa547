//! Signing in and out of the console. The sign-in form carries a token that matches a cookie set
//! with it (there is no session yet to tie it to); the session cookie is HttpOnly and
//! SameSite=Strict, and Secure when the console is reached over TLS.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use jiff::Timestamp;
use maud::{DOCTYPE, Markup, html};
use patrol_core::ids::DeviceId;
use serde::Deserialize;

use super::{Console, ConsoleError, LIFETIME, Lang, SESSION_COOKIE};
use crate::AppState;
use crate::auth::{random_secret, token_hash};
use crate::store::ConsoleSession;

/// The cookie the sign-in form's token is matched against.
const LOGIN_COOKIE: &str = "patrol_login";

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a console page, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie(name: &'static str, value: String, headers: &HeaderMap) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_tls(headers))
        .build()
}

fn sign_in_page(lang: Lang, token: &str, next: &str, error: Option<&str>) -> Markup {
    let l = lang;
    html! {
        (DOCTYPE)
        html lang=(l.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (l.t("登录 · 巡查助手", "Sign in · Patrol companion")) }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body.login {
                main {
                    h1 { (l.t("巡查助手 · 管理后台", "Patrol companion · console")) }
                    @if let Some(e) = error {
                        p.error role="alert" { (e) }
                    }
                    form method="post" action="/console/login" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="next" value=(next);
                        label { (l.t("用户名", "Username")) input name="username" autocomplete="username" required autofocus; }
                        label { (l.t("密码", "Password")) input name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { (l.t("登录", "Sign in")) }
                    }
                    p.lang {
                        a href={ "/console/login?lang=zh&next=" (super::urlencode(next)) } { "中文" }
                        " · "
                        a href={ "/console/login?lang=en&next=" (super::urlencode(next)) } { "English" }
                    }
                }
            }
        }
    }
}

/// `GET /console/login`.
pub async fn form(
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<Next>,
    signed_in: Option<Console>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if signed_in.is_some() {
        return Redirect::to(&next).into_response();
    }
    let token = random_secret();
    let jar = CookieJar::new().add(cookie(LOGIN_COOKIE, token.clone(), &headers));
    (jar, sign_in_page(lang, &token, &next, None)).into_response()
}

/// The sign-in form as posted.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    username: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    next: Option<String>,
}

/// `POST /console/login`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    lang: Lang,
    headers: HeaderMap,
    jar: CookieJar,
    axum::Form(f): axum::Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned());
    let matches = match (&f.csrf, &expected) {
        (Some(a), Some(b)) => bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes())),
        _ => false,
    };
    if !matches {
        return Err(ConsoleError::BadForm(lang));
    }
    let next = safe_next(f.next.as_deref());
    let again = |status: StatusCode, message: &str| {
        let token = random_secret();
        let jar = CookieJar::new().add(cookie(LOGIN_COOKIE, token.clone(), &headers));
        Ok((
            status,
            jar,
            sign_in_page(lang, &token, &next, Some(message)),
        )
            .into_response())
    };
    let (username, password) = (
        f.username.unwrap_or_default(),
        f.password.unwrap_or_default(),
    );
    let wrong = lang.t("用户名或密码错误", "Wrong username or password");
    if username.chars().count() > patrol_core::bounds::MAX_USERNAME_CHARS
        || password.len() > patrol_core::bounds::MAX_PASSWORD_BYTES
    {
        return again(StatusCode::UNAUTHORIZED, wrong);
    }
    // The same budget as the phones' sign-in: counted before the password is checked.
    if let Err(wait) = state.limiter.attempt(&username, addr.ip()) {
        let message = match lang {
            Lang::Zh => format!("登录尝试过于频繁，请 {} 秒后再试", wait.as_secs().max(1)),
            Lang::En => format!(
                "Too many sign-ins; try again in {} s",
                wait.as_secs().max(1)
            ),
        };
        return again(StatusCode::TOO_MANY_REQUESTS, &message);
    }
    let account = state.store.account(&username).await?;
    let stored = account.as_ref().map(|a| a.password_hash.as_str());
    let ok = state.passwords.verify(&password, stored).await;
    let Some(account) = account.filter(|_| ok) else {
        metrics::counter!("patrol_login_failures_total").increment(1);
        return again(StatusCode::UNAUTHORIZED, wrong);
    };
    if account.disabled {
        tracing::info!(user = %account.user.id, "console sign-in of a disabled account refused");
        return again(
            StatusCode::FORBIDDEN,
            lang.t(
                "该账号已被停用，请联系系统管理员",
                "This account is disabled; ask your administrator",
            ),
        );
    }
    let now = Timestamp::now();
    let token = random_secret();
    let session = ConsoleSession {
        token_hash: token_hash(&token),
        user_id: account.user.id,
        csrf: random_secret(),
        device_id: DeviceId::new(),
        created_at: now,
        expires_at: now + LIFETIME,
    };
    // The session's actions are ops of a device of its own.
    state
        .store
        .touch_device(session.device_id, account.user.id, 0, now)
        .await?;
    state.store.add_console_session(&session).await?;
    let mut session_cookie = cookie(SESSION_COOKIE, token, &headers);
    session_cookie.set_max_age(cookie::time::Duration::seconds(LIFETIME.as_secs()));
    let jar = CookieJar::new()
        .add(session_cookie)
        .remove(Cookie::build(LOGIN_COOKIE).path("/").build());
    Ok((jar, Redirect::to(&next)).into_response())
}

/// The sign-out form as posted.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: Option<String>,
}

/// `POST /console/logout`: the session ends on the server, not only in the browser.
pub async fn logout(
    State(state): State<AppState>,
    console: Console,
    axum::Form(f): axum::Form<SignOutForm>,
) -> Result<Response, ConsoleError> {
    console.check_form(f.csrf.as_deref())?;
    state
        .store
        .end_console_session(&console.session.token_hash)
        .await?;
    let mut resp = Redirect::to("/console/login").into_response();
    let gone = Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    if let Ok(v) = HeaderValue::from_str(&gone.to_string()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
