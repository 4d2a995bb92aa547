//! The teams that work resolution queues (DESIGN.md §3).

use serde::{Deserialize, Serialize};

use crate::text::Text;

/// A team that works a resolution queue.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    /// 工程部: repairs of public facilities, fire equipment.
    Engineering,
    /// 保洁: cleaning.
    Cleaning,
    /// 绿化: greenery.
    Landscaping,
    /// 保安队 / 秩序维护: security.
    Security,
    /// 客服: resident violations and renovation (violation procedure).
    CustomerService,
    /// 管理处主任: staff not doing their work, management problems.
    Management,
}

impl Team {
    /// Every team.
    pub const ALL: [Team; 6] = [
        Team::Engineering,
        Team::Cleaning,
        Team::Landscaping,
        Team::Security,
        Team::CustomerService,
        Team::Management,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Team::Engineering => "engineering",
            Team::Cleaning => "cleaning",
            Team::Landscaping => "landscaping",
            Team::Security => "security",
            Team::CustomerService => "customer_service",
            Team::Management => "management",
        }
    }

    /// The team's name for people, Chinese first.
    pub fn label(self) -> Text {
        match self {
            Team::Engineering => Text::new("工程部", "Engineering"),
            Team::Cleaning => Text::new("保洁", "Cleaning"),
            Team::Landscaping => Text::new("绿化", "Landscaping"),
            Team::Security => Text::new("保安队", "Security"),
            Team::CustomerService => Text::new("客服", "Customer service"),
            Team::Management => Text::new("管理处主任", "Management"),
        }
    }
}

impl std::str::FromStr for Team {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Team::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown team `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names_round_trip() {
        for t in Team::ALL {
            assert_eq!(t.as_str().parse::<Team>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!("plumbing".parse::<Team>().is_err());
    }
}
