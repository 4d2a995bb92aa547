//! Users and what they are (DESIGN.md §3).

use serde::{Deserialize, Serialize};

use crate::ids::{SiteId, UserId};
use crate::team::Team;

/// What a person does on site.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 巡查员 / 前台 / 秩序维护: walks rounds and reports.
    Patrol,
    /// 工程维修 and other team workers: work the jobs of their team.
    Technician,
    /// 物业助理: assigns, verifies.
    Supervisor,
    /// 管理处主任: everything a supervisor does, and decides extensions.
    Manager,
    /// Sets up sites and users; no part in the issue flow.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Patrol,
        Role::Technician,
        Role::Supervisor,
        Role::Manager,
        Role::Admin,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patrol => "patrol",
            Role::Technician => "technician",
            Role::Supervisor => "supervisor",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// The name for people.
    pub fn label(self) -> crate::text::Text {
        use crate::text::Text;
        match self {
            Role::Patrol => Text::new("巡查员", "patrol"),
            Role::Technician => Text::new("维修技术员", "technician"),
            Role::Supervisor => Text::new("物业助理", "supervisor"),
            Role::Manager => Text::new("管理处主任", "manager"),
            Role::Admin => Text::new("系统管理员", "admin"),
        }
    }

    /// Supervisors and managers run the queue.
    pub fn supervises(self) -> bool {
        matches!(self, Role::Supervisor | Role::Manager)
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

/// A user account as reference data.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Name shown to others.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Team, for technicians (and optionally others).
    #[serde(default)]
    pub team: Option<Team>,
    /// Sites the user works on.
    #[serde(default)]
    pub site_ids: Vec<SiteId>,
}

impl User {
    /// Whether the account makes sense: a technician works the jobs of a team, so they need
    /// one; everyone needs a site.
    pub fn problems(&self) -> Vec<&'static str> {
        let mut p = Vec::new();
        if self.role == Role::Technician && self.team.is_none() {
            p.push("技术员必须属于一个班组 / a technician needs a team");
        }
        if self.site_ids.is_empty() {
            p.push("用户必须属于至少一个小区 / a user needs a site");
        }
        if self.username.trim().is_empty() {
            p.push("用户名不能为空 / the username is empty");
        }
        p
    }
}

/// The person doing something, as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Who.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// Their team, if any.
    pub team: Option<Team>,
    /// The sites they work on.
    pub site_ids: Vec<SiteId>,
}

impl From<&User> for Actor {
    fn from(u: &User) -> Self {
        Actor {
            user_id: u.id,
            role: u.role,
            team: u.team,
            site_ids: u.site_ids.clone(),
        }
    }
}

impl Actor {
    /// Whether they work on this site.
    pub fn works_on(&self, site: SiteId) -> bool {
        self.site_ids.contains(&site)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_technician_without_a_team_is_not_a_valid_account() {
        let mut u = User {
            id: UserId::new(),
            username: "wang".into(),
            display_name: "老王".into(),
            role: Role::Technician,
            team: None,
            site_ids: vec![SiteId::new()],
        };
        assert_eq!(u.problems().len(), 1);
        u.team = Some(Team::Engineering);
        assert!(u.problems().is_empty());
        u.site_ids.clear();
        assert_eq!(u.problems().len(), 1);
    }
}
