//! Patrol routes and when they are walked.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, RouteId, SiteId};

/// A day of the week, as schedules name it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl From<Weekday> for Day {
    fn from(w: Weekday) -> Self {
        match w {
            Weekday::Monday => Day::Mon,
            Weekday::Tuesday => Day::Tue,
            Weekday::Wednesday => Day::Wed,
            Weekday::Thursday => Day::Thu,
            Weekday::Friday => Day::Fri,
            Weekday::Saturday => Day::Sat,
            Weekday::Sunday => Day::Sun,
        }
    }
}

/// When a route is walked, in the site's local time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Start times of the day's rounds ("09:00:00").
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub times: Vec<Time>,
    /// Days of the week; empty means every day.
    #[serde(default)]
    pub days: Vec<Day>,
}

impl Schedule {
    /// Whether the route is walked on this local date.
    pub fn runs_on(&self, date: Date) -> bool {
        self.days.is_empty() || self.days.contains(&Day::from(date.weekday()))
    }

    /// The instants of the rounds due on a local date in `tz`, earliest first; none on a day the
    /// route is not walked. A time inside an hour the clocks skip is due as much later as the
    /// gap is long (02:30 in a gap from 02:00 to 03:00 is due at 03:30); a time that happens
    /// twice (clocks going back) is due the first time.
    pub fn slots(&self, date: Date, tz: &TimeZone) -> Vec<Timestamp> {
        if !self.runs_on(date) {
            return Vec::new();
        }
        let mut slots: Vec<Timestamp> = self
            .times
            .iter()
            .filter_map(|t| date.to_datetime(*t).to_zoned(tz.clone()).ok())
            .map(|z| z.timestamp())
            .collect();
        slots.sort();
        slots.dedup();
        slots
    }
}

/// An ordered list of checkpoints with a schedule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Id.
    pub id: RouteId,
    /// Site.
    pub site_id: SiteId,
    /// Name.
    pub name: String,
    /// The checkpoints in walking order.
    pub checkpoint_ids: Vec<CheckpointId>,
    /// When it is walked.
    pub schedule: Schedule,
    /// The shortest plausible walk between two neighbouring checkpoints of the route, seconds.
    #[serde(default = "default_min_walk_secs")]
    pub min_walk_secs: u32,
    /// The shortest plausible round, seconds.
    #[serde(default)]
    pub min_round_secs: u32,
}

fn default_min_walk_secs() -> u32 {
    20
}

impl Route {
    /// Where a checkpoint is in the walking order.
    pub fn position(&self, checkpoint: CheckpointId) -> Option<usize> {
        self.checkpoint_ids.iter().position(|c| *c == checkpoint)
    }
}
