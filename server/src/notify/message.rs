//! What each kind of channel is sent for an alert (DESIGN.md §11), Chinese first with English
//! beneath, linking to the console, and how each receiver's answer is judged:
//!
//! - `webhook`: our JSON `{delivery_id, event, site, alert, issue, text_zh, text_en, url}`, with
//!   a secret `X-Patrol-Signature: sha256=<hex HMAC-SHA256 of the body bytes>`; the delivery id
//!   also in `X-Patrol-Delivery`.
//! - `wecom`: `{"msgtype":"markdown","markdown":{"content":…}}`, the content at most 4,096
//!   bytes (cut on a character boundary, the link kept).
//! - `dingtalk`: `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`; with a secret, the
//!   `timestamp` (ms) and `sign` query parameters: base64 of HMAC-SHA256 keyed by the secret
//!   over `timestamp + "\n" + secret`, URL-encoded.
//! - `feishu`: `{"msg_type":"post","content":{"post":{"zh_cn":…}}}`; with a secret, `timestamp`
//!   (s) and `sign` in the body: base64 of HMAC-SHA256 keyed by `timestamp + "\n" + secret` over
//!   an empty message.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use patrol_core::alert::Alert;
use patrol_core::issue::Issue;
use patrol_core::site::Site;
use patrol_core::wire::{Change, Entity};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use super::{AttemptOutcome, ChannelKind};

/// The most bytes of a WeCom markdown message (and the budget of the other robots' text).
pub const MAX_ROBOT_BYTES: usize = 4096;

/// What a message is made of.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The delivery.
    pub delivery_id: Uuid,
    /// The alert.
    pub alert: &'a Alert,
    /// Its site.
    pub site: &'a Site,
    /// Its issue, for an issue's alert.
    pub issue: Option<&'a Issue>,
    /// The console's address as people reach it (`--public-url`), without a trailing `/`.
    pub public_url: &'a str,
}

/// One HTTP POST to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Where (for DingTalk, with its signature).
    pub url: String,
    /// The exact body bytes.
    pub body: Vec<u8>,
    /// Headers besides `content-type: application/json`.
    pub headers: Vec<(&'static str, String)>,
}

/// The console page of an alert: its issue's page, or the alerts page for a round's alert.
pub fn link(public_url: &str, alert: &Alert) -> String {
    let base = public_url.trim_end_matches('/');
    match alert.issue_id {
        Some(issue) => format!("{base}/console/issues/{issue}"),
        None => format!("{base}/console/alerts"),
    }
}

/// When it was raised, in the site's time zone.
fn local_time(alert: &Alert, site: &Site) -> String {
    let tz = site.tz().unwrap_or(jiff::tz::TimeZone::UTC);
    alert
        .raised_at
        .to_zoned(tz)
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// The message in plain text, Chinese and English.
pub fn texts(alert: &Alert, site: &Site) -> (String, String) {
    let label = alert.kind.label();
    let at = local_time(alert, site);
    (
        format!("【{}】{} {at}\n{}", label.zh, site.name, alert.text_zh),
        format!("[{}] {} {at}\n{}", label.en, site.name, alert.text_en),
    )
}

/// The webhook's body and headers.
pub fn webhook(input: &Input<'_>, secret: Option<&str>, url: &str) -> Request {
    let (text_zh, text_en) = texts(input.alert, input.site);
    let body = json!({
        "delivery_id": input.delivery_id,
        "event": input.alert.kind.as_str(),
        "site": {"id": input.site.id, "code": input.site.code, "name": input.site.name},
        "alert": input.alert,
        // The issue as phones pull it (with `escalated`).
        "issue": input.issue.and_then(|i| Change::of(&Entity::Issue(i.clone())).data),
        "text_zh": text_zh,
        "text_en": text_en,
        "url": link(input.public_url, input.alert),
    });
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut headers = vec![
        ("x-patrol-delivery", input.delivery_id.to_string()),
        ("x-patrol-event", input.alert.kind.as_str().to_owned()),
    ];
    if let Some(secret) = secret {
        headers.push((
            "x-patrol-signature",
            format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &body))),
        ));
    }
    Request {
        url: url.to_owned(),
        body,
        headers,
    }
}

/// A user's words inside robot markdown: no markup of their own (WeCom's `<@all>`, links, font
/// tags), one line.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => '＜',
            '>' => '＞',
            '[' => '［',
            ']' => '］',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// The robots' markdown: Chinese block, English block, then the link, within `max` bytes —
/// the text is cut (on a character boundary) before the link is.
fn markdown(input: &Input<'_>, line: &str, max: usize) -> (String, String) {
    let (alert, site) = (input.alert, input.site);
    let label = alert.kind.label();
    let at = local_time(alert, site);
    let name = plain(&site.name);
    let title = format!("【{}】{name}", label.zh);
    let head = [
        format!("### {title}"),
        plain(&alert.text_zh),
        format!("> 时间：{at}"),
        String::new(),
        format!("**[{}] {name}**", label.en),
        plain(&alert.text_en),
        format!("> Time: {at} ({})", site.time_zone),
    ]
    .join(line);
    let tail = format!(
        "{line}{line}[在后台查看 · Open in the console]({})",
        link(input.public_url, alert)
    );
    (title, fit(&head, &tail, max))
}

/// `head` then `tail` in at most `max` bytes: `head` cut on a character boundary, marked `…`.
pub fn fit(head: &str, tail: &str, max: usize) -> String {
    if head.len() + tail.len() <= max {
        return format!("{head}{tail}");
    }
    const MORE: &str = "…";
    let room = max.saturating_sub(tail.len() + MORE.len());
    format!("{}{MORE}{tail}", truncate_utf8(head, room))
}

/// The longest start of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The WeCom robot's markdown message.
pub fn wecom(input: &Input<'_>, url: &str) -> Request {
    let (_, content) = markdown(input, "\n", MAX_ROBOT_BYTES);
    let body = json!({"msgtype": "markdown", "markdown": {"content": content}});
    Request {
        url: url.to_owned(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
        headers: Vec::new(),
    }
}

/// The DingTalk robot's markdown message, signed at `now` when there is a secret.
pub fn dingtalk(input: &Input<'_>, secret: Option<&str>, url: &str, now: Timestamp) -> Request {
    // DingTalk's markdown breaks lines only at blank lines.
    let (title, text) = markdown(input, "\n\n", MAX_ROBOT_BYTES);
    let body = json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}});
    let url = match secret {
        Some(secret) => {
            let (timestamp, sign) = dingtalk_sign(secret, now);
            match reqwest::Url::parse(url) {
                Ok(mut u) => {
                    u.query_pairs_mut()
                        .append_pair("timestamp", &timestamp)
                        .append_pair("sign", &sign);
                    u.to_string()
                }
                Err(_) => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    Request {
        url,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        headers: Vec::new(),
    }
}

/// DingTalk's signature at `now`: the timestamp (ms) and the base64 sign, not yet URL-encoded.
pub fn dingtalk_sign(secret: &str, now: Timestamp) -> (String, String) {
    let timestamp = now.as_millisecond().to_string();
    let to_sign = format!("{timestamp}\n{secret}");
    let sign = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(secret.as_bytes(), to_sign.as_bytes()));
    (timestamp, sign)
}

/// Feishu's signature at `now`: the timestamp (s) and the base64 sign.
pub fn feishu_sign(secret: &str, now: Timestamp) -> (String, String) {
    let timestamp = now.as_second().to_string();
    let key = format!("{timestamp}\n{secret}");
    let sign = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key.as_bytes(), b""));
    (timestamp, sign)
}

/// The Feishu robot's rich-text (`post`) message, signed at `now` when there is a secret.
pub fn feishu(input: &Input<'_>, secret: Option<&str>, url: &str, now: Timestamp) -> Request {
    let (alert, site) = (input.alert, input.site);
    let (zh, en) = texts(alert, site);
    let text = fit(&format!("{zh}\n\n{en}"), "", MAX_ROBOT_BYTES);
    let title = format!("【{}】{}", alert.kind.label().zh, site.name);
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| json!([{"tag": "text", "text": l}]))
        .collect();
    lines.push(json!([{
        "tag": "a",
        "text": "在后台查看 · Open in the console",
        "href": link(input.public_url, alert),
    }]));
    let mut body = json!({
        "msg_type": "post",
        "content": {"post": {"zh_cn": {"title": title, "content": lines}}},
    });
    if let (Some(secret), Some(map)) = (secret, body.as_object_mut()) {
        let (timestamp, sign) = feishu_sign(secret, now);
        map.insert("timestamp".into(), Value::String(timestamp));
        map.insert("sign".into(), Value::String(sign));
    }
    Request {
        url: url.to_owned(),
        body: serde_json::to_vec(&body).unwrap_or_default(),
        headers: Vec::new(),
    }
}

/// The request of a channel of `kind` at `url` for `input`, signed at `now`.
pub fn request(
    kind: ChannelKind,
    url: &str,
    secret: Option<&str>,
    input: &Input<'_>,
    now: Timestamp,
) -> Request {
    match kind {
        ChannelKind::Webhook => webhook(input, secret, url),
        ChannelKind::Wecom => wecom(input, url),
        ChannelKind::Dingtalk => dingtalk(input, secret, url, now),
        ChannelKind::Feishu => feishu(input, secret, url, now),
    }
}

/// HMAC-SHA256 of `msg` keyed by `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length; `new_from_slice` refuses none.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A short, one-line excerpt of a receiver's answer for the attempt's record.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    let cut = truncate_utf8(line, 200);
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut.to_owned()
    }
}

/// What a receiver's answer means: delivered, rate limited (tried again after the window) or
/// failed (tried again with backoff), with why.
pub fn judge(kind: ChannelKind, status: u16, body: &[u8]) -> (AttemptOutcome, Option<String>) {
    if status == 429 {
        return (
            AttemptOutcome::RateLimited,
            Some(format!("HTTP 429: {}", excerpt(body))),
        );
    }
    if !(200..300).contains(&status) {
        return (
            AttemptOutcome::Failed,
            Some(format!("HTTP {status}: {}", excerpt(body))),
        );
    }
    if kind == ChannelKind::Webhook {
        return (AttemptOutcome::Delivered, None);
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return (
            AttemptOutcome::Failed,
            Some(format!("the robot's answer is not JSON: {}", excerpt(body))),
        );
    };
    let number = |k: &str| answer.get(k).and_then(Value::as_i64);
    let words = |k: &str| {
        answer
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (code, message, limited): (Option<i64>, String, &[i64]) = match kind {
        // 45009: api freq out of limit.
        ChannelKind::Wecom => (number("errcode"), words("errmsg"), &[45009]),
        // 130101: send too fast (20 a minute); 410100: throttled.
        ChannelKind::Dingtalk => (number("errcode"), words("errmsg"), &[130_101, 410_100]),
        // 11232: frequency limited. Older answers carry only `StatusCode`.
        ChannelKind::Feishu => (
            number("code").or_else(|| number("StatusCode")),
            words("msg"),
            &[11232],
        ),
        ChannelKind::Webhook => (Some(0), String::new(), &[]),
    };
    match code {
        Some(0) => (AttemptOutcome::Delivered, None),
        Some(c) if limited.contains(&c) => (
            AttemptOutcome::RateLimited,
            Some(format!("code {c}: {}", excerpt(message.as_bytes()))),
        ),
        Some(c) => (
            AttemptOutcome::Failed,
            Some(format!("code {c}: {}", excerpt(message.as_bytes()))),
        ),
        None => (
            AttemptOutcome::Failed,
            Some(format!("the robot's answer has no code: {}", excerpt(body))),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use patrol_core::alert::AlertKind;
    use patrol_core::ids::{IssueId, SiteId};

    use super::*;

    fn site() -> Site {
        let mut site: Site = serde_json::from_value(json!({
            "id": SiteId::new(), "code": "alarm", "name": "警报苑", "time_zone": "Asia/Shanghai",
            "public_key": "", "sla_hours": {"routine": 72, "major": 72, "urgent": 4},
        }))
        .unwrap();
        site.name = "警报苑".into();
        site
    }

    fn alert(site: &Site, title: &str) -> Alert {
        serde_json::from_value(json!({
            "id": patrol_core::ids::AlertId::new(), "site_id": site.id, "kind": "urgent",
            "issue_id": IssueId::new(), "team": "security",
            "raised_at": "2026-12-01T00:31:00Z",
            "text_zh": format!("紧急问题，请保安队立即到场：{title}（安防）"),
            "text_en": format!("Urgent issue, security to attend at once: {title} (security)"),
        }))
        .unwrap()
    }

    fn input<'a>(alert: &'a Alert, site: &'a Site, delivery_id: Uuid) -> Input<'a> {
        Input {
            delivery_id,
            alert,
            site,
            issue: None,
            public_url: "https://patrol.example.cn/",
        }
    }

    /// HMAC-SHA256 as the receivers compute it, written apart from the code under test.
    fn expected_hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        Mac::update(&mut mac, msg);
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_webhook_carries_the_alert_the_link_and_a_signature_of_its_exact_body() {
        let site = site();
        let a = alert(&site, "B2车库有燃气味");
        let id = Uuid::now_v7();
        let r = webhook(
            &input(&a, &site, id),
            Some("hook-secret"),
            "https://r.example/in",
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["delivery_id"], id.to_string());
        assert_eq!(body["event"], "urgent");
        assert_eq!(body["site"]["code"], "alarm");
        assert_eq!(body["alert"]["id"], a.id.to_string());
        assert!(body["issue"].is_null());
        assert_eq!(
            body["url"],
            format!(
                "https://patrol.example.cn/console/issues/{}",
                a.issue_id.unwrap()
            )
        );
        let zh = body["text_zh"].as_str().unwrap();
        assert!(
            zh.starts_with("【紧急问题】警报苑 2026-12-01 08:31\n"),
            "{zh}"
        );
        assert!(zh.contains("B2车库有燃气味"));
        assert!(
            body["text_en"]
                .as_str()
                .unwrap()
                .starts_with("[Urgent issue]")
        );
        let sig = r
            .headers
            .iter()
            .find(|(k, _)| *k == "x-patrol-signature")
            .map(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(
            sig,
            format!("sha256={}", hex(&expected_hmac(b"hook-secret", &r.body)))
        );
        assert!(r.headers.contains(&("x-patrol-delivery", id.to_string())));
        let unsigned = webhook(&input(&a, &site, id), None, "https://r.example/in");
        assert!(
            unsigned
                .headers
                .iter()
                .all(|(k, _)| *k != "x-patrol-signature")
        );
    }

    #[test]
    fn robot_markdown_is_cut_at_4096_bytes_on_a_character_boundary_and_keeps_the_link() {
        let site = site();
        let long = "燃".repeat(3000);
        let a = alert(&site, &long);
        let r = wecom(
            &input(&a, &site, Uuid::now_v7()),
            "https://q.example/send?key=k",
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["msgtype"], "markdown");
        let content = body["markdown"]["content"].as_str().unwrap();
        assert!(content.len() <= MAX_ROBOT_BYTES, "{}", content.len());
        assert!(
            content.len() > MAX_ROBOT_BYTES - 4,
            "cut no more than needed"
        );
        assert!(content.ends_with(&format!("({})", link("https://patrol.example.cn", &a))));
        assert!(content.contains("…"));
        // A short one is whole: Chinese first, English beneath.
        let a = alert(&site, "B2车库有燃气味 <@all> [x](y)");
        let r = wecom(
            &input(&a, &site, Uuid::now_v7()),
            "https://q.example/send?key=k",
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let content = body["markdown"]["content"].as_str().unwrap();
        let zh = content.find("紧急问题，请保安队").unwrap();
        let en = content.find("Urgent issue, security").unwrap();
        assert!(zh < en, "{content}");
        assert!(
            !content.contains("<@all>") && content.contains("＜@all＞"),
            "{content}"
        );
        // Cutting never splits a character.
        assert_eq!(truncate_utf8("燃气", 4), "燃");
        assert_eq!(truncate_utf8("燃气", 6), "燃气");
        assert_eq!(
            fit("abcdef", "XY", 6),
            "a…XY".chars().take(4).collect::<String>()
        );
    }

    #[test]
    fn dingtalk_signs_the_url_with_timestamp_and_sign() {
        let site = site();
        let a = alert(&site, "B2车库有燃气味");
        let now: Timestamp = "2026-12-01T00:31:05.123Z".parse().unwrap();
        let r = dingtalk(
            &input(&a, &site, Uuid::now_v7()),
            Some("SECabc+/="),
            "https://oapi.dingtalk.com/robot/send?access_token=tok",
            now,
        );
        let u = reqwest::Url::parse(&r.url).unwrap();
        let q: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["access_token"], "tok");
        assert_eq!(q["timestamp"], "1796085065123");
        let expected = base64::engine::general_purpose::STANDARD
            .encode(expected_hmac(b"SECabc+/=", b"1796085065123\nSECabc+/="));
        assert_eq!(q["sign"], expected);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["msgtype"], "markdown");
        assert_eq!(body["markdown"]["title"], "【紧急问题】警报苑");
        assert!(
            body["markdown"]["text"]
                .as_str()
                .unwrap()
                .contains("B2车库有燃气味")
        );
        let unsigned = dingtalk(
            &input(&a, &site, Uuid::now_v7()),
            None,
            "https://d.example/s?access_token=t",
            now,
        );
        assert_eq!(unsigned.url, "https://d.example/s?access_token=t");
    }

    #[test]
    fn feishu_signs_the_body_with_timestamp_and_sign() {
        let site = site();
        let a = alert(&site, "B2车库有燃气味");
        let now: Timestamp = "2026-12-01T00:31:05Z".parse().unwrap();
        let r = feishu(
            &input(&a, &site, Uuid::now_v7()),
            Some("fs-secret"),
            "https://f.example/hook/x",
            now,
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["msg_type"], "post");
        assert_eq!(body["timestamp"], "1796085065");
        let expected = base64::engine::general_purpose::STANDARD
            .encode(expected_hmac(b"1796085065\nfs-secret", b""));
        assert_eq!(body["sign"], expected);
        let post = &body["content"]["post"]["zh_cn"];
        assert_eq!(post["title"], "【紧急问题】警报苑");
        let lines = post["content"].as_array().unwrap();
        let last = &lines.last().unwrap()[0];
        assert_eq!(last["tag"], "a");
        assert_eq!(last["href"], link("https://patrol.example.cn", &a));
        let unsigned = feishu(
            &input(&a, &site, Uuid::now_v7()),
            None,
            "https://f.example/hook/x",
            now,
        );
        let body: Value = serde_json::from_slice(&unsigned.body).unwrap();
        assert!(body.get("sign").is_none() && body.get("timestamp").is_none());
    }

    #[test]
    fn round_alerts_link_to_the_alerts_page() {
        let site = site();
        let mut a = alert(&site, "x");
        a.kind = AlertKind::RoundMissed;
        a.issue_id = None;
        assert_eq!(
            link("http://127.0.0.1:8080", &a),
            "http://127.0.0.1:8080/console/alerts"
        );
    }

    #[test]
    fn answers_are_judged_by_status_and_the_robots_own_codes() {
        use AttemptOutcome::*;
        let j = |k, s, b: &str| judge(k, s, b.as_bytes()).0;
        assert_eq!(j(ChannelKind::Webhook, 204, ""), Delivered);
        assert_eq!(j(ChannelKind::Webhook, 503, "down"), Failed);
        assert_eq!(j(ChannelKind::Webhook, 429, ""), RateLimited);
        assert_eq!(
            j(ChannelKind::Wecom, 200, r#"{"errcode":0,"errmsg":"ok"}"#),
            Delivered
        );
        assert_eq!(
            j(
                ChannelKind::Wecom,
                200,
                r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#
            ),
            RateLimited
        );
        assert_eq!(
            j(
                ChannelKind::Wecom,
                200,
                r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#
            ),
            Failed
        );
        assert_eq!(j(ChannelKind::Wecom, 200, "<html>"), Failed);
        assert_eq!(
            j(ChannelKind::Dingtalk, 200, r#"{"errcode":0,"errmsg":"ok"}"#),
            Delivered
        );
        assert_eq!(
            j(
                ChannelKind::Dingtalk,
                200,
                r#"{"errcode":130101,"errmsg":"send too fast"}"#
            ),
            RateLimited
        );
        assert_eq!(
            j(
                ChannelKind::Dingtalk,
                200,
                r#"{"errcode":310000,"errmsg":"sign not match"}"#
            ),
            Failed
        );
        assert_eq!(
            j(
                ChannelKind::Feishu,
                200,
                r#"{"code":0,"msg":"success","data":{}}"#
            ),
            Delivered
        );
        assert_eq!(
            j(
                ChannelKind::Feishu,
                200,
                r#"{"StatusCode":0,"StatusMessage":"success"}"#
            ),
            Delivered
        );
        assert_eq!(
            j(
                ChannelKind::Feishu,
                200,
                r#"{"code":11232,"msg":"frequency limited"}"#
            ),
            RateLimited
        );
        assert_eq!(
            j(
                ChannelKind::Feishu,
                200,
                r#"{"code":19021,"msg":"sign match fail"}"#
            ),
            Failed
        );
        let (_, why) = judge(
            ChannelKind::Dingtalk,
            200,
            br#"{"errcode":310000,"errmsg":"sign not match"}"#,
        );
        assert_eq!(why.as_deref(), Some("code 310000: sign not match"));
    }
}
