//! Alert delivery (DESIGN.md §11): each site's channels — a generic webhook, or a WeCom, DingTalk
//! or Feishu group robot — and the durable outbox that carries every alert to the channels whose
//! events include it. The store enqueues a delivery per channel in the transaction that raises
//! the alert ([`crate::store::NotifyStore`]); [`delivery`] sends them, in order per channel,
//! with retries, within each robot's rate limit; [`message`] says what each kind of channel is
//! sent. The same checks serve the CLI (`notify add`) and the console's admin page.

pub mod delivery;
pub mod message;

use jiff::Timestamp;
use patrol_core::alert::AlertKind;
use patrol_core::ids::{AlertId, SiteId};
use patrol_core::text::Text;
use uuid::Uuid;

/// What a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// A generic HTTPS receiver: our JSON, HMAC-signed with the secret.
    Webhook,
    /// A WeCom (企业微信) group robot.
    Wecom,
    /// A DingTalk (钉钉) group robot.
    Dingtalk,
    /// A Feishu (飞书) group robot.
    Feishu,
}

impl ChannelKind {
    /// Every kind.
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Webhook,
        ChannelKind::Wecom,
        ChannelKind::Dingtalk,
        ChannelKind::Feishu,
    ];

    /// The name the CLI and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Wecom => "wecom",
            ChannelKind::Dingtalk => "dingtalk",
            ChannelKind::Feishu => "feishu",
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            ChannelKind::Webhook => Text::new("Webhook", "Webhook"),
            ChannelKind::Wecom => Text::new("企业微信群机器人", "WeCom group robot"),
            ChannelKind::Dingtalk => Text::new("钉钉群机器人", "DingTalk group robot"),
            ChannelKind::Feishu => Text::new("飞书群机器人", "Feishu group robot"),
        }
    }

    /// The most messages the receiver takes in each window: the robots' documented limits
    /// (WeCom and DingTalk: 20 a minute per robot; Feishu: 100 a minute and 5 a second).
    pub fn rate_limits(self) -> &'static [RateLimit] {
        const MINUTE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
        const SECOND: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);
        match self {
            ChannelKind::Webhook => &[],
            ChannelKind::Wecom | ChannelKind::Dingtalk => &[RateLimit {
                max: 20,
                per: MINUTE,
            }],
            ChannelKind::Feishu => &[
                RateLimit {
                    max: 100,
                    per: MINUTE,
                },
                RateLimit {
                    max: 5,
                    per: SECOND,
                },
            ],
        }
    }

    /// Whether the kind signs its messages with the channel's secret.
    pub fn signs(self) -> bool {
        !matches!(self, ChannelKind::Wecom)
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = Problem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                Problem(Text::new(
                    format!("未知的渠道类型 `{s}`：可选 webhook、wecom、dingtalk、feishu"),
                    format!("unknown channel kind `{s}`: use webhook, wecom, dingtalk or feishu"),
                ))
            })
    }
}

/// At most `max` messages in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages.
    pub max: usize,
    /// Window.
    pub per: jiff::SignedDuration,
}

/// A site's channel, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Channel {
    /// Id (UUIDv7), what `notify remove` takes.
    pub id: Uuid,
    /// The site whose alerts it carries.
    pub site_id: SiteId,
    /// What it is.
    pub kind: ChannelKind,
    /// Where messages go: the robot's webhook address as its settings give it.
    pub url: String,
    /// The signing secret, if any. Never shown, logged or sent.
    pub secret: Option<String>,
    /// The alert kinds it carries.
    pub events: Vec<AlertKind>,
    /// When it was added.
    pub created_at: Timestamp,
}

// Written by hand so that a secret never reaches a log through `{:?}`.
impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("site_id", &self.site_id)
            .field("kind", &self.kind)
            .field("url", &masked_url(&self.url))
            .field("signed", &self.secret.is_some())
            .field("events", &self.events)
            .finish()
    }
}

impl Channel {
    /// The events as stored and listed: `urgent,major,…`.
    pub fn events_text(&self) -> String {
        events_text(&self.events)
    }

    /// Whether it carries alerts of this kind.
    pub fn carries(&self, kind: AlertKind) -> bool {
        self.events.contains(&kind)
    }
}

/// Alert kinds as `urgent,major,…`.
pub fn events_text(events: &[AlertKind]) -> String {
    events
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting to be sent, or to be tried again.
    Pending,
    /// The receiver took it.
    Delivered,
    /// Given up after [`delivery::GIVE_UP_AFTER`].
    Failed,
    /// Its channel was removed before it went out.
    Cancelled,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    /// From the stored name (an unknown one reads as pending: it is shown, not lost).
    pub fn parse(s: &str) -> DeliveryStatus {
        match s {
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            "cancelled" => DeliveryStatus::Cancelled,
            _ => DeliveryStatus::Pending,
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            DeliveryStatus::Pending => Text::new("待发送", "pending"),
            DeliveryStatus::Delivered => Text::new("已送达", "delivered"),
            DeliveryStatus::Failed => Text::new("已放弃", "given up"),
            DeliveryStatus::Cancelled => {
                Text::new("已取消（渠道已删除）", "cancelled (channel removed)")
            }
        }
    }
}

/// One alert to one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The delivery id receivers see, the same on every retry.
    pub id: Uuid,
    /// The alert.
    pub alert_id: AlertId,
    /// The channel.
    pub channel_id: Uuid,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not to be tried before.
    pub next_at: Timestamp,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// When it was delivered, given up or cancelled.
    pub done_at: Option<Timestamp>,
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Started and not finished: the process stopped mid-attempt (or it is under way).
    Sending,
    /// The receiver took it.
    Delivered,
    /// It failed; tried again later.
    Failed,
    /// The receiver said it was sent too fast; tried again later.
    RateLimited,
}

impl AttemptOutcome {
    /// The stored name (also the metric's `outcome`).
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Sending => "sending",
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::RateLimited => "rate_limited",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> AttemptOutcome {
        match s {
            "delivered" => AttemptOutcome::Delivered,
            "failed" => AttemptOutcome::Failed,
            "rate_limited" => AttemptOutcome::RateLimited,
            _ => AttemptOutcome::Sending,
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            AttemptOutcome::Sending => Text::new("发送中或被中断", "sending or cut off"),
            AttemptOutcome::Delivered => Text::new("成功", "delivered"),
            AttemptOutcome::Failed => Text::new("失败", "failed"),
            AttemptOutcome::RateLimited => Text::new("被限流", "rate limited"),
        }
    }
}

/// One attempt of a delivery, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Its number, from 1.
    pub attempt: u32,
    /// When it started.
    pub at: Timestamp,
    /// What became of it.
    pub outcome: AttemptOutcome,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// How long it took.
    pub latency_ms: Option<i64>,
    /// Why it failed, without secrets.
    pub error: Option<String>,
}

/// What an attempt came to, as the sender records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The outcome.
    pub outcome: AttemptOutcome,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// How long it took.
    pub latency_ms: i64,
    /// Why it failed, without secrets.
    pub error: Option<String>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered at this time.
    Delivered(Timestamp),
    /// Tried again no earlier than this.
    Retry(Timestamp),
    /// Given up at this time.
    GiveUp(Timestamp),
}

/// A delivery as the console shows it: with its channel (removed or not) and its attempts.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    /// The delivery.
    pub delivery: Delivery,
    /// Its channel's kind.
    pub kind: ChannelKind,
    /// Its channel's address (mask it before showing it).
    pub url: String,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

/// Why a channel was refused: Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub Text);

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.0.zh, self.0.en)
    }
}

/// The longest address taken.
pub const MAX_URL_CHARS: usize = 2000;
/// The longest secret taken.
pub const MAX_SECRET_CHARS: usize = 512;

/// A channel as asked for (the CLI's `notify add`, the admin page's form), before it is checked.
#[derive(Debug, Clone, Default)]
pub struct NewChannel {
    /// `webhook`, `wecom`, `dingtalk` or `feishu`.
    pub kind: String,
    /// The address.
    pub url: String,
    /// The secret, if any (empty is none).
    pub secret: Option<String>,
    /// `urgent,major,…`; none or empty is every kind.
    pub events: Option<String>,
}

impl NewChannel {
    /// The channel for `site`, or every reason it is refused.
    pub fn check(&self, site: SiteId, now: Timestamp) -> Result<Channel, Vec<Problem>> {
        let mut problems = Vec::new();
        let kind = match self.kind.parse::<ChannelKind>() {
            Ok(k) => Some(k),
            Err(p) => {
                problems.push(p);
                None
            }
        };
        let url = self.url.trim().to_owned();
        if let Err(p) = check_url(&url) {
            problems.push(p);
        }
        let secret = self
            .secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if let Some(s) = &secret {
            if s.chars().count() > MAX_SECRET_CHARS || s.chars().any(char::is_control) {
                problems.push(Problem(Text::new(
                    format!("密钥过长或含控制字符（最多 {MAX_SECRET_CHARS} 个字符）"),
                    format!("the secret is too long or has control characters (at most {MAX_SECRET_CHARS})"),
                )));
            }
            if kind == Some(ChannelKind::Wecom) {
                problems.push(Problem(Text::new(
                    "企业微信群机器人不签名：它的密钥就是地址里的 key 参数，请不要填写密钥",
                    "WeCom group robots are not signed: their key is the URL's `key` parameter; leave the secret out",
                )));
            }
        }
        let events = match parse_events(self.events.as_deref()) {
            Ok(e) => e,
            Err(p) => {
                problems.push(p);
                Vec::new()
            }
        };
        match kind {
            Some(kind) if problems.is_empty() => Ok(Channel {
                id: Uuid::now_v7(),
                site_id: site,
                kind,
                url,
                secret,
                events,
                created_at: now,
            }),
            _ => Err(problems),
        }
    }
}

fn check_url(url: &str) -> Result<(), Problem> {
    let bad = |zh: String, en: String| Err(Problem(Text::new(zh, en)));
    if url.is_empty() {
        return bad("请填写地址".into(), "the URL is missing".into());
    }
    if url.chars().count() > MAX_URL_CHARS {
        return bad(
            format!("地址过长（最多 {MAX_URL_CHARS} 个字符）"),
            format!("the URL is too long (at most {MAX_URL_CHARS} characters)"),
        );
    }
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => bad(
            format!(
                "地址必须以 http:// 或 https:// 开头并含主机名（不是 `{}:`）",
                u.scheme()
            ),
            format!(
                "the URL must be http:// or https:// with a host (not `{}:`)",
                u.scheme()
            ),
        ),
        Err(_) => bad(
            "地址无效：请填写 http:// 或 https:// 开头的完整地址".into(),
            "not a valid URL: give a full http:// or https:// address".into(),
        ),
    }
}

/// Alert kinds from `urgent,major,…`; none or empty is every kind.
pub fn parse_events(text: Option<&str>) -> Result<Vec<AlertKind>, Problem> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(AlertKind::ALL.to_vec());
    };
    let mut events = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Ok(kind) = name.parse::<AlertKind>() else {
            return Err(Problem(Text::new(
                format!(
                    "未知的事件 `{name}`：可选 urgent、major、overdue、round_missed、round_incomplete"
                ),
                format!(
                    "unknown event `{name}`: use urgent, major, overdue, round_missed, round_incomplete"
                ),
            )));
        };
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    if events.is_empty() {
        return Err(Problem(Text::new(
            "请至少选择一种事件",
            "choose at least one event",
        )));
    }
    // Kept in the catalogue's order, whatever order they were given in.
    events.sort_by_key(|k| AlertKind::ALL.iter().position(|a| a == k));
    Ok(events)
}

/// An address as people may see it: the value of every query parameter and a Feishu hook's
/// token (the last part of its path) hidden, since robots take their key there.
pub fn masked_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return "***".to_owned();
    };
    let _ = u.set_password(None);
    let _ = u.set_username("");
    if u.query().is_some() {
        let names: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let masked = names
            .iter()
            .map(|k| format!("{k}=***"))
            .collect::<Vec<_>>()
            .join("&");
        u.set_query(Some(&masked));
    }
    let segments: Vec<String> = u
        .path_segments()
        .map(|s| s.map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(at) = segments.iter().position(|s| s == "hook")
        && at + 1 < segments.len()
    {
        let mut kept = segments[..=at].to_vec();
        kept.push("***".to_owned());
        u.set_path(&kept.join("/"));
    }
    u.to_string().replace("%2A%2A%2A", "***")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn new(kind: &str, url: &str, secret: Option<&str>, events: Option<&str>) -> NewChannel {
        NewChannel {
            kind: kind.into(),
            url: url.into(),
            secret: secret.map(str::to_owned),
            events: events.map(str::to_owned),
        }
    }

    #[test]
    fn a_channel_carries_every_kind_unless_told_otherwise() {
        let site = SiteId::new();
        let c = new(
            "dingtalk",
            "https://oapi.dingtalk.com/robot/send?access_token=t",
            Some("SECx"),
            None,
        )
        .check(site, Timestamp::now())
        .unwrap();
        assert_eq!(c.events, AlertKind::ALL.to_vec());
        assert_eq!(
            c.events_text(),
            "urgent,major,overdue,round_missed,round_incomplete"
        );
        let c = new(
            "webhook",
            "http://127.0.0.1:9/x",
            None,
            Some("overdue, urgent,urgent"),
        )
        .check(site, Timestamp::now())
        .unwrap();
        assert_eq!(c.events, vec![AlertKind::Urgent, AlertKind::Overdue]);
        assert!(c.carries(AlertKind::Urgent) && !c.carries(AlertKind::Major));
    }

    #[test]
    fn bad_channels_are_refused_with_every_reason_in_both_languages() {
        let site = SiteId::new();
        let refused = new("sms", "ftp://x/y", None, Some("fire"))
            .check(site, Timestamp::now())
            .unwrap_err();
        let text: Vec<String> = refused.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].contains("未知的渠道类型") && text[0].contains("unknown channel kind"));
        assert!(text[1].contains("http://") && text[1].contains("`ftp:`"));
        assert!(text[2].contains("`fire`"));
        for url in ["", "not a url", "mailto:a@b.c", "http://"] {
            assert!(
                new("webhook", url, None, None)
                    .check(site, Timestamp::now())
                    .is_err(),
                "{url}"
            );
        }
        let wecom = new(
            "wecom",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            Some("s"),
            None,
        )
        .check(site, Timestamp::now())
        .unwrap_err();
        assert!(
            wecom[0]
                .to_string()
                .contains("WeCom group robots are not signed")
        );
        assert!(
            new("webhook", "https://x.example/h", None, Some(" , "))
                .check(site, Timestamp::now())
                .is_err()
        );
        // An empty secret is no secret.
        let c = new(
            "feishu",
            "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
            Some(" "),
            None,
        )
        .check(site, Timestamp::now())
        .unwrap();
        assert_eq!(c.secret, None);
    }

    #[test]
    fn masked_addresses_hide_robot_keys_and_secrets_never_reach_debug_output() {
        assert_eq!(
            masked_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
        );
        assert_eq!(
            masked_url("https://oapi.dingtalk.com/robot/send?access_token=abc&x=1"),
            "https://oapi.dingtalk.com/robot/send?access_token=***&x=***"
        );
        assert_eq!(
            masked_url("https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-token"),
            "https://open.feishu.cn/open-apis/bot/v2/hook/***"
        );
        assert_eq!(
            masked_url("https://user:pw@h.example/in"),
            "https://h.example/in"
        );
        let c = new(
            "feishu",
            "https://open.feishu.cn/open-apis/bot/v2/hook/tok123",
            Some("s3cr3t-value"),
            None,
        )
        .check(SiteId::new(), Timestamp::now())
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cr3t-value") && !shown.contains("tok123"),
            "{shown}"
        );
    }
}
