//! Which team a reported problem goes to (DESIGN.md §3, procedure 004 §4.8.2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::issue::Category;

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
    pub fn label(self) -> crate::text::Text {
        use crate::text::Text;
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

/// The standard route of a category: broken facilities to engineering, staff problems to the
/// manager, resident violations to customer service.
pub fn default_team(category: Category) -> Team {
    match category {
        Category::Facility | Category::Fire => Team::Engineering,
        Category::Cleaning => Team::Cleaning,
        Category::Landscaping => Team::Landscaping,
        Category::Security => Team::Security,
        Category::Renovation | Category::ResidentViolation => Team::CustomerService,
        Category::Staff => Team::Management,
    }
}

/// A site's routing table: the standard routes with the site's own overrides on top.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Routing {
    /// Categories this site sends somewhere other than the standard team.
    pub overrides: BTreeMap<Category, Team>,
}

impl Routing {
    /// The team that gets a problem of this category on this site.
    pub fn team_for(&self, category: Category) -> Team {
        self.overrides
            .get(&category)
            .copied()
            .unwrap_or_else(|| default_team(category))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_routes_follow_the_procedure() {
        let r = Routing::default();
        assert_eq!(r.team_for(Category::Facility), Team::Engineering);
        assert_eq!(r.team_for(Category::Fire), Team::Engineering);
        assert_eq!(r.team_for(Category::Cleaning), Team::Cleaning);
        assert_eq!(r.team_for(Category::Landscaping), Team::Landscaping);
        assert_eq!(r.team_for(Category::Security), Team::Security);
        assert_eq!(r.team_for(Category::Renovation), Team::CustomerService);
        assert_eq!(
            r.team_for(Category::ResidentViolation),
            Team::CustomerService
        );
        assert_eq!(r.team_for(Category::Staff), Team::Management);
    }

    #[test]
    fn a_site_override_wins_and_leaves_the_rest() {
        let mut r = Routing::default();
        r.overrides.insert(Category::Fire, Team::Security);
        assert_eq!(r.team_for(Category::Fire), Team::Security);
        assert_eq!(r.team_for(Category::Facility), Team::Engineering);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"fire":"security"}"#);
        assert_eq!(serde_json::from_str::<Routing>(&json).unwrap(), r);
    }

    #[test]
    fn team_names_round_trip() {
        for t in Team::ALL {
            assert_eq!(t.as_str().parse::<Team>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!("plumbing".parse::<Team>().is_err());
    }
}
