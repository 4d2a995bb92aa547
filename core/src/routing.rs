//! Which team a reported problem goes to (DESIGN.md §3, procedure 004 §4.8.2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::issue::Category;
use crate::team::Team;

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
}
