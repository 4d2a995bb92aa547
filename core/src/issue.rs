//! Issues: problems found on patrol or reported at the desk (DESIGN.md §3).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, IssueId, SiteId, UserId, VisitId, ZoneId};
use crate::team::Team;
use crate::text::Text;

/// What kind of problem it is; it picks the team.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Broken or lost public facility (报事 to engineering).
    Facility,
    /// Cleaning below standard.
    Cleaning,
    /// Greenery not kept.
    Landscaping,
    /// Security hazard (治安隐患), gas or burning smell.
    Security,
    /// Fire-safety equipment or violation.
    Fire,
    /// Renovation violation.
    Renovation,
    /// A resident's violation (posters, noise, poultry, objects from height).
    ResidentViolation,
    /// Staff not doing their work.
    Staff,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 8] = [
        Category::Facility,
        Category::Cleaning,
        Category::Landscaping,
        Category::Security,
        Category::Fire,
        Category::Renovation,
        Category::ResidentViolation,
        Category::Staff,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Facility => "facility",
            Category::Cleaning => "cleaning",
            Category::Landscaping => "landscaping",
            Category::Security => "security",
            Category::Fire => "fire",
            Category::Renovation => "renovation",
            Category::ResidentViolation => "resident_violation",
            Category::Staff => "staff",
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            Category::Facility => Text::new("公共设施", "Facility"),
            Category::Cleaning => Text::new("清洁卫生", "Cleaning"),
            Category::Landscaping => Text::new("园林绿化", "Landscaping"),
            Category::Security => Text::new("治安", "Security"),
            Category::Fire => Text::new("消防", "Fire safety"),
            Category::Renovation => Text::new("装修违章", "Renovation"),
            Category::ResidentViolation => Text::new("住户违章", "Resident violation"),
            Category::Staff => Text::new("员工工作", "Staff"),
        }
    }
}

/// How serious a problem is; it picks the SLA and who is told at once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Resolved within three days.
    Routine,
    /// Reported to the manager at once (重大问题), three days.
    Major,
    /// Security told at once (gas, burning), hours.
    Urgent,
}

impl Severity {
    /// Every severity.
    pub const ALL: [Severity; 3] = [Severity::Routine, Severity::Major, Severity::Urgent];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Routine => "routine",
            Severity::Major => "major",
            Severity::Urgent => "urgent",
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            Severity::Routine => Text::new("一般", "routine"),
            Severity::Major => Text::new("重大", "major"),
            Severity::Urgent => Text::new("紧急", "urgent"),
        }
    }
}

/// Where an issue is in its life (DESIGN.md §3 diagram).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Reported, not yet assigned.
    Open,
    /// Given to a person.
    Assigned,
    /// Being worked on (also after a rejected fix).
    InProgress,
    /// Fixed, waiting for on-site verification.
    Resolved,
    /// Verified and signed off, or fixed on the spot.
    Closed,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Assigned => "assigned",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            Status::Open => Text::new("待派单", "open"),
            Status::Assigned => Text::new("已派单", "assigned"),
            Status::InProgress => Text::new("处理中", "in progress"),
            Status::Resolved => Text::new("待验收", "resolved"),
            Status::Closed => Text::new("已关闭", "closed"),
        }
    }

    /// Still needs work or sign-off, so its SLA clock runs.
    pub fn is_active(self) -> bool {
        !matches!(self, Status::Closed)
    }
}

/// Where a report came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Found on a patrol round.
    Patrol,
    /// Reported at the front desk (a resident's call).
    Desk,
}

impl Source {
    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            Source::Patrol => Text::new("巡查", "patrol"),
            Source::Desk => Text::new("前台", "desk"),
        }
    }
}

/// An extension asked for and not yet decided.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    /// Who asked.
    pub requested_by: UserId,
    /// Why.
    pub reason: String,
    /// The new due time asked for.
    pub due_at: Timestamp,
}

/// A problem to resolve.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Id.
    pub id: IssueId,
    /// Site.
    pub site_id: SiteId,
    /// Zone, if known.
    #[serde(default)]
    pub zone_id: Option<ZoneId>,
    /// Checkpoint, if found at one.
    #[serde(default)]
    pub checkpoint_id: Option<CheckpointId>,
    /// The visit it was found on.
    #[serde(default)]
    pub visit_id: Option<VisitId>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// The team whose queue it is in.
    pub team: Team,
    /// Short title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub note: Option<String>,
    /// Photos of the problem (blob hashes).
    #[serde(default)]
    pub photos: Vec<String>,
    /// Where it came from.
    pub source: Source,
    /// When it was seen (corrected for the device clock).
    pub observed_at: Timestamp,
    /// When it must be resolved by.
    pub due_at: Timestamp,
    /// Lifecycle state.
    pub status: Status,
    /// Who reported it.
    pub reported_by: UserId,
    /// Who it is assigned to.
    #[serde(default)]
    pub assignee_id: Option<UserId>,
    /// Who resolved it last.
    #[serde(default)]
    pub resolved_by: Option<UserId>,
    /// Who verified and signed it off.
    #[serde(default)]
    pub verified_by: Option<UserId>,
    /// Fixed on the spot by the reporter: recorded closed, for the statistics.
    #[serde(default)]
    pub fixed_on_spot: bool,
    /// An extension waiting for the manager.
    #[serde(default)]
    pub extension: Option<ExtensionRequest>,
    /// Escalations made so far (manager told of a major or overdue issue, security of an
    /// urgent one); each reason fires once.
    #[serde(default)]
    pub escalations: Vec<EscalationReason>,
    /// The last call back to the resident, for front-desk reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
}

/// A call back to the resident who reported an issue (回访).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Who called.
    pub by: UserId,
    /// When.
    pub at: Timestamp,
    /// Whether the resident was satisfied.
    pub satisfied: bool,
}

impl Issue {
    /// Whether anyone has been told over the team's head.
    pub fn escalated(&self) -> bool {
        !self.escalations.is_empty()
    }
}

/// Why an issue went over the team's head.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// Urgent (gas, burning with no known cause): security is told at once.
    Urgent,
    /// Major problem: the manager is told at once (004 §4.8.3).
    Major,
    /// Past its due time: the manager is told.
    Overdue,
}

impl EscalationReason {
    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            EscalationReason::Urgent => Text::new("紧急告知保安队", "urgent, security told"),
            EscalationReason::Major => Text::new("重大问题告知主任", "major, manager told"),
            EscalationReason::Overdue => Text::new("超期告知主任", "overdue, manager told"),
        }
    }

    /// The team told.
    pub fn notifies(self) -> Team {
        match self {
            EscalationReason::Urgent => Team::Security,
            EscalationReason::Major | EscalationReason::Overdue => Team::Management,
        }
    }
}
