//! The sender of the outbox (DESIGN.md §11): a task of `serve` that wakes at once when an alert's
//! deliveries are committed (the store pokes it) and also polls, so that deliveries enqueued by
//! another process or before a restart go out too.
//!
//! - Per channel, deliveries go oldest first, one at a time: a failing one holds the channel's
//!   later ones back, so a receiver that comes back gets everything, in order. The channel is
//!   leased in the database while it is sent to (renewed at every attempt), so two processes on
//!   one database never send on one channel at once; a process killed mid-delivery leaves a
//!   lease that runs out, and the delivery goes again, with the same delivery id.
//! - A failure is tried again after an exponential backoff with full jitter (a random delay up
//!   to `base × 2^(attempt-1)`, capped); a robot's "too fast" answer waits at least its rate
//!   window. Each attempt has a time limit. A delivery not through after [`GIVE_UP_AFTER`] is
//!   given up, so that a dead receiver does not hold its channel for ever.
//! - Never faster than a robot's rate limit, counted from the attempts recorded in the
//!   database, so the limit holds across restarts and processes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use patrol_core::alert::Alert;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::message::{self, Input};
use super::{AttemptOutcome, AttemptResult, Channel, Delivery, NextStep, masked_url};
use crate::store::{Store, StoreError};

/// A delivery not through this long after it was enqueued is given up.
pub const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(24);
/// How long past an attempt's time limit a channel's lease runs.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Deliveries sent on one lease before the channel is let go (and claimed again).
const PER_CLAIM: usize = 50;
/// The most of a receiver's answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How the sender runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The console's address as people reach it, for the links in messages.
    pub public_url: String,
    /// The first retry's longest delay.
    pub retry_base: Duration,
    /// The longest delay between two attempts.
    pub retry_cap: Duration,
    /// Each attempt's time limit.
    pub timeout: Duration,
    /// How often the outbox is looked at besides the pokes.
    pub poll: Duration,
}

/// The HTTP client of the sender: rustls with the platform's roots, no redirects (a robot's
/// address does not move, and a redirect must not carry a signed request elsewhere).
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // One crypto provider for rustls in the process (ring, already built for the tests'
    // client); installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("patrol-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot make the notification HTTP client: {e}"))
}

/// The delay before attempt `attempt + 1` after attempt `attempt` failed: full jitter, a random
/// duration between zero and `base × 2^(attempt-1)`, capped at `cap`.
pub fn backoff(base: Duration, cap: Duration, attempt: u32, random: u64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    let ceiling = base.saturating_mul(1u32 << doublings).min(cap);
    // `random` spread over [0, 1].
    let share = random as f64 / u64::MAX as f64;
    ceiling.mul_f64(share)
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // The OS random source does not fail where the server runs; if it did, no jitter.
    if getrandom::fill(&mut bytes).is_err() {
        return u64::MAX;
    }
    u64::from_le_bytes(bytes)
}

/// When the next message may go to `channel` at `now`, given the start times of the recent
/// attempts to its address, oldest first: `None` when it may go now.
pub fn rate_wait(channel: &Channel, recent: &[Timestamp], now: Timestamp) -> Option<Timestamp> {
    let mut until: Option<Timestamp> = None;
    for limit in channel.kind.rate_limits() {
        let window: Vec<&Timestamp> = recent
            .iter()
            .filter(|t| now.duration_since(**t) < limit.per)
            .collect();
        if window.len() >= limit.max {
            // The oldest attempt that keeps the window full must leave it first.
            let free = *window[window.len() - limit.max] + limit.per;
            until = Some(until.map_or(free, |u| u.max(free)));
        }
    }
    until
}

/// The sender.
struct Sender {
    store: Arc<dyn Store>,
    config: Config,
    client: reqwest::Client,
    /// This process's name on the leases it takes.
    owner: String,
}

/// Send the outbox until the task is dropped.
pub async fn run(store: Arc<dyn Store>, config: Config, client: reqwest::Client) {
    let sender = Arc::new(Sender {
        store,
        config,
        client,
        owner: Uuid::now_v7().to_string(),
    });
    let mut running: JoinSet<Uuid> = JoinSet::new();
    let mut busy: HashSet<Uuid> = HashSet::new();
    loop {
        while let Some(done) = running.try_join_next() {
            if let Ok(channel) = done {
                busy.remove(&channel);
            }
        }
        let now = Timestamp::now();
        match sender.store.due_channels(now).await {
            Ok(due) => {
                let idle: Vec<Channel> =
                    due.into_iter().filter(|c| !busy.contains(&c.id)).collect();
                for channel in idle {
                    let until = later(now, sender.config.timeout + LEASE_MARGIN);
                    match sender
                        .store
                        .claim_channel(channel.id, &sender.owner, now, until)
                        .await
                    {
                        Ok(true) => {
                            busy.insert(channel.id);
                            let s = sender.clone();
                            running.spawn(async move {
                                let id = channel.id;
                                s.drain(channel).await;
                                id
                            });
                        }
                        Ok(false) => {} // another process sends on it
                        Err(e) => tracing::error!(error = %e, "cannot lease a channel"),
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the notification outbox"),
        }
        tokio::select! {
            () = sender.store.outbox().notified() => {}
            () = tokio::time::sleep(sender.config.poll) => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(channel) = done {
                    busy.remove(&channel);
                }
            }
        }
    }
}

fn later(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(t)
}

impl Sender {
    /// Send a leased channel's due deliveries in order, then let the channel go.
    async fn drain(&self, channel: Channel) {
        if let Err(e) = self.send_due(&channel).await {
            tracing::error!(channel = %channel.id, error = %e, "notification delivery failed");
        }
        if let Err(e) = self.store.release_channel(channel.id, &self.owner).await {
            tracing::error!(channel = %channel.id, error = %e, "cannot release a channel's lease");
        }
    }

    async fn send_due(&self, channel: &Channel) -> Result<(), StoreError> {
        for _ in 0..PER_CLAIM {
            let now = Timestamp::now();
            let Some((delivery, alert)) = self.store.next_delivery(channel.id).await? else {
                return Ok(());
            };
            if delivery.next_at > now {
                return Ok(());
            }
            if now.duration_since(delivery.created_at) > GIVE_UP_AFTER {
                self.store.give_up_delivery(delivery.id, now).await?;
                count(channel, "gave_up");
                tracing::warn!(channel = %channel.id, delivery = %delivery.id, "notification given up after 24 hours");
                continue;
            }
            let window = channel
                .kind
                .rate_limits()
                .iter()
                .map(|l| l.per)
                .max()
                .unwrap_or(SignedDuration::ZERO);
            if !window.is_zero() {
                let since = now.checked_sub(window).unwrap_or(now);
                let recent = self.store.attempts_since(&channel.url, since).await?;
                if let Some(until) = rate_wait(channel, &recent, now) {
                    tracing::debug!(channel = %channel.id, %until, "at the robot's rate limit");
                    return Ok(());
                }
            }
            let until = later(now, self.config.timeout + LEASE_MARGIN);
            let Some(attempt) = self
                .store
                .begin_attempt(delivery.id, &self.owner, now, until)
                .await?
            else {
                return Ok(());
            };
            let result = self.attempt(channel, &delivery, &alert).await;
            let done = Timestamp::now();
            let next = match result.outcome {
                AttemptOutcome::Delivered => NextStep::Delivered(done),
                outcome => {
                    let mut wait = backoff(
                        self.config.retry_base,
                        self.config.retry_cap,
                        attempt,
                        random_u64(),
                    );
                    if outcome == AttemptOutcome::RateLimited {
                        wait = wait.max(Duration::from_secs(60).min(self.config.retry_cap));
                    }
                    NextStep::Retry(later(done, wait))
                }
            };
            self.store
                .finish_attempt(delivery.id, attempt, &result, next)
                .await?;
            count(channel, result.outcome.as_str());
            let url = masked_url(&channel.url);
            match &result.error {
                None => tracing::info!(
                    channel = %channel.id, kind = channel.kind.as_str(), %url,
                    delivery = %delivery.id, attempt, latency_ms = result.latency_ms,
                    "alert delivered"
                ),
                Some(why) => tracing::warn!(
                    channel = %channel.id, kind = channel.kind.as_str(), %url,
                    delivery = %delivery.id, attempt, error = %why, "alert delivery failed; will retry"
                ),
            }
            if result.outcome != AttemptOutcome::Delivered {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One attempt: the message built and posted, the answer judged.
    async fn attempt(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        alert: &Alert,
    ) -> AttemptResult {
        let started = Instant::now();
        let failed = |why: String, status: Option<u16>, started: Instant| AttemptResult {
            outcome: AttemptOutcome::Failed,
            http_status: status,
            latency_ms: elapsed_ms(started),
            error: Some(scrub(&why, channel)),
        };
        let site = match self.store.site(alert.site_id).await {
            Ok(Some(site)) => site,
            Ok(None) => return failed("the alert's site is gone".into(), None, started),
            Err(e) => return failed(format!("cannot read the site: {e}"), None, started),
        };
        let issue = match alert.issue_id {
            Some(id) => self.store.issue(id).await.ok().flatten(),
            None => None,
        };
        let input = Input {
            delivery_id: delivery.id,
            alert,
            site: &site,
            issue: issue.as_ref(),
            public_url: &self.config.public_url,
        };
        let request = message::request(
            channel.kind,
            &channel.url,
            channel.secret.as_deref(),
            &input,
            Timestamp::now(),
        );
        let started = Instant::now();
        let mut post = self
            .client
            .post(&request.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in &request.headers {
            post = post.header(*name, value);
        }
        let mut answer = match post.body(request.body).send().await {
            Ok(answer) => answer,
            Err(e) => return failed(self.describe(e), None, started),
        };
        let status = answer.status().as_u16();
        let mut body = Vec::new();
        loop {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() >= MAX_ANSWER_BYTES {
                        body.truncate(MAX_ANSWER_BYTES);
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return failed(self.describe(e), Some(status), started),
            }
        }
        let (outcome, error) = message::judge(channel.kind, status, &body);
        AttemptResult {
            outcome,
            http_status: Some(status),
            latency_ms: elapsed_ms(started),
            error: error.map(|e| scrub(&e, channel)),
        }
    }

    /// A transport failure in words, without the address (it carries robots' keys).
    fn describe(&self, e: reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("no answer within {} s", self.config.timeout.as_secs_f64());
        }
        let e = e.without_url();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// An error text with the channel's address and secret taken out, whatever put them there.
fn scrub(text: &str, channel: &Channel) -> String {
    let mut out = text.replace(&channel.url, &masked_url(&channel.url));
    if let Some(secret) = channel.secret.as_deref().filter(|s| !s.is_empty()) {
        out = out.replace(secret, "***");
    }
    out
}

fn count(channel: &Channel, outcome: &'static str) {
    metrics::counter!(
        "patrol_notify_deliveries_total",
        "kind" => channel.kind.as_str(),
        "outcome" => outcome
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use patrol_core::ids::SiteId;

    use super::*;
    use crate::notify::ChannelKind;

    fn channel(kind: ChannelKind) -> Channel {
        Channel {
            id: Uuid::now_v7(),
            site_id: SiteId::new(),
            kind,
            url: "https://robot.example/send?key=k3y".into(),
            secret: Some("s3cret".into()),
            events: patrol_core::alert::AlertKind::ALL.to_vec(),
            created_at: Timestamp::now(),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(backoff(base, cap, 1, u64::MAX), Duration::from_secs(1));
        assert_eq!(backoff(base, cap, 4, u64::MAX), Duration::from_secs(8));
        assert_eq!(backoff(base, cap, 30, u64::MAX), cap);
        assert_eq!(backoff(base, cap, u32::MAX, u64::MAX), cap);
        assert_eq!(
            backoff(base, cap, 4, 0),
            Duration::ZERO,
            "full jitter reaches zero"
        );
        let half = backoff(base, cap, 4, u64::MAX / 2);
        assert!(half > Duration::from_millis(3900) && half < Duration::from_millis(4100));
    }

    #[test]
    fn robots_get_no_more_than_their_rate_limit() {
        let now: Timestamp = "2026-12-01T00:10:00Z".parse().unwrap();
        let secs_ago = |s: i64| now - SignedDuration::from_secs(s);
        let wecom = channel(ChannelKind::Wecom);
        let nineteen: Vec<Timestamp> = (1..=19).rev().map(secs_ago).collect();
        assert_eq!(
            rate_wait(&wecom, &nineteen, now),
            None,
            "19 in the minute: one more"
        );
        let twenty: Vec<Timestamp> = (1..=20).rev().map(secs_ago).collect();
        // The oldest of the twenty (20 s ago) leaves the window in 40 s.
        assert_eq!(
            rate_wait(&wecom, &twenty, now),
            Some(now + SignedDuration::from_secs(40))
        );
        // Attempts older than the window do not count.
        let old: Vec<Timestamp> = (61..=100).rev().map(secs_ago).collect();
        assert_eq!(rate_wait(&wecom, &old, now), None);
        // Feishu: 5 a second as well as 100 a minute.
        let feishu = channel(ChannelKind::Feishu);
        let burst: Vec<Timestamp> = (0..5)
            .map(|i| now - SignedDuration::from_millis(500 - i * 100))
            .collect();
        assert_eq!(
            rate_wait(&feishu, &burst, now),
            Some(burst[0] + SignedDuration::from_secs(1))
        );
        // A webhook has no limit of its own.
        assert_eq!(
            rate_wait(&channel(ChannelKind::Webhook), &twenty, now),
            None
        );
    }

    #[test]
    fn error_texts_lose_the_address_and_the_secret() {
        let c = channel(ChannelKind::Dingtalk);
        let text = scrub(
            "posting to https://robot.example/send?key=k3y with s3cret failed",
            &c,
        );
        assert!(!text.contains("k3y") && !text.contains("s3cret"), "{text}");
    }
}
