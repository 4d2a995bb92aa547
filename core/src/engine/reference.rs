//! Reference data and issues pulled from the server, cached for offline use.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::de::DeserializeOwned;

use super::{Engine, META_CURSOR, ms, set_meta};
use crate::checklist::{Catalogue, Template};
use crate::error::{Error, Result};
use crate::ids::{CheckpointId, IssueId, RouteId, SiteId, UserId, ZoneId};
use crate::issue::Issue;
use crate::route::Route;
use crate::site::{Checkpoint, Site, Zone, ZoneKind};
use crate::team::Team;
use crate::user::User;
use crate::wire::{Change, Entity};

/// One row's JSON `data`, decoded.
pub(super) fn one<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    id: &str,
) -> Result<Option<T>> {
    let json: Option<String> = conn
        .prepare_cached(sql)?
        .query_row([id], |r| r.get(0))
        .optional()?;
    json.map(|j| serde_json::from_str(&j).map_err(Error::from))
        .transpose()
}

/// Every row's JSON `data`, decoded.
pub(super) fn all<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, |r| r.get::<_, String>(0))?;
    rows.map(|j| Ok(serde_json::from_str(&j?)?)).collect()
}

/// Store an issue row (from a pull, or after a local transition).
pub(super) fn put_issue(tx: &Transaction<'_>, issue: &Issue) -> Result<()> {
    tx.execute(
        "INSERT INTO issues (id, site_id, team, status, due_at_ms, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, team = excluded.team,
           status = excluded.status, due_at_ms = excluded.due_at_ms, data = excluded.data",
        params![
            issue.id.to_string(),
            issue.site_id.to_string(),
            issue.team.as_str(),
            issue.status.as_str(),
            ms(issue.due_at),
            serde_json::to_string(issue)?
        ],
    )?;
    Ok(())
}

/// Whether the outbox still holds unsent changes to an issue; its local state is then newer
/// than any pulled copy.
fn has_pending_ops(tx: &Transaction<'_>, issue: &str) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM outbox WHERE state = 'pending' AND kind LIKE 'issue.%'
               AND json_extract(body, '$.issue_id') = ?1 LIMIT 1",
            [issue],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn apply_change(tx: &Transaction<'_>, change: &Change) -> Result<()> {
    let table = match change.entity.as_str() {
        "site" => "sites",
        "zone" => "zones",
        "checkpoint" => "checkpoints",
        "template" => "templates",
        "route" => "routes",
        "user" => "users",
        "issue" => "issues",
        "alert" => "alerts",
        _ => return Ok(()), // a kind from a newer server: nothing here uses it
    };
    let Some(entity) = change.decode()? else {
        if table == "issues" && has_pending_ops(tx, &change.id)? {
            return Ok(());
        }
        if table == "alerts" && super::alerts::has_pending_ack(tx, &change.id)? {
            return Ok(());
        }
        tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [&change.id])?;
        return Ok(());
    };
    let data = change
        .data
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?
        .unwrap_or_default();
    match entity {
        Entity::Site(s) => {
            tx.execute(
                "INSERT OR REPLACE INTO sites (id, data) VALUES (?1, ?2)",
                params![s.id.to_string(), data],
            )?;
        }
        Entity::Zone(z) => {
            tx.execute(
                "INSERT OR REPLACE INTO zones (id, site_id, data) VALUES (?1, ?2, ?3)",
                params![z.id.to_string(), z.site_id.to_string(), data],
            )?;
        }
        Entity::Checkpoint(c) => {
            tx.execute(
                "INSERT OR REPLACE INTO checkpoints (id, site_id, zone_id, data) VALUES (?1, ?2, ?3, ?4)",
                params![c.id.to_string(), c.site_id.to_string(), c.zone_id.to_string(), data],
            )?;
        }
        Entity::Template(t) => {
            tx.execute(
                "INSERT OR REPLACE INTO templates (id, zone_kind, version, data) VALUES (?1, ?2, ?3, ?4)",
                params![t.id.to_string(), t.zone_kind.as_str(), t.version, data],
            )?;
        }
        Entity::Route(r) => {
            tx.execute(
                "INSERT OR REPLACE INTO routes (id, site_id, data) VALUES (?1, ?2, ?3)",
                params![r.id.to_string(), r.site_id.to_string(), data],
            )?;
        }
        Entity::User(u) => {
            tx.execute(
                "INSERT OR REPLACE INTO users (id, data) VALUES (?1, ?2)",
                params![u.id.to_string(), data],
            )?;
        }
        Entity::Issue(i) => {
            if !has_pending_ops(tx, &change.id)? {
                put_issue(tx, &i)?;
            }
        }
        Entity::Alert(a) => {
            if !super::alerts::has_pending_ack(tx, &change.id)? {
                super::alerts::put_alert(tx, &a)?;
            }
        }
    }
    Ok(())
}

impl Engine {
    /// Apply one page of pulled changes and remember the cursor, in one transaction.
    pub fn apply_pull(&self, changes: &[Change], cursor: &str) -> Result<()> {
        self.store.write(|tx| {
            for change in changes {
                apply_change(tx, change)?;
            }
            set_meta(tx, META_CURSOR, cursor)
        })
    }

    /// A cached site.
    pub fn site(&self, id: SiteId) -> Result<Option<Site>> {
        self.store
            .read(|c| one(c, "SELECT data FROM sites WHERE id = ?1", &id.to_string()))
    }

    /// Every cached site.
    pub fn sites(&self) -> Result<Vec<Site>> {
        self.store
            .read(|c| all(c, "SELECT data FROM sites ORDER BY id", []))
    }

    /// A cached zone.
    pub fn zone(&self, id: ZoneId) -> Result<Option<Zone>> {
        self.store
            .read(|c| one(c, "SELECT data FROM zones WHERE id = ?1", &id.to_string()))
    }

    /// A cached checkpoint.
    pub fn checkpoint(&self, id: CheckpointId) -> Result<Option<Checkpoint>> {
        self.store.read(|c| {
            one(
                c,
                "SELECT data FROM checkpoints WHERE id = ?1",
                &id.to_string(),
            )
        })
    }

    /// Every cached checkpoint of a site.
    pub fn checkpoints(&self, site: SiteId) -> Result<Vec<Checkpoint>> {
        self.store.read(|c| {
            all(
                c,
                "SELECT data FROM checkpoints WHERE site_id = ?1 ORDER BY id",
                [site.to_string()],
            )
        })
    }

    /// A cached route.
    pub fn route(&self, id: RouteId) -> Result<Option<Route>> {
        self.store
            .read(|c| one(c, "SELECT data FROM routes WHERE id = ?1", &id.to_string()))
    }

    /// Every cached route.
    pub fn routes(&self) -> Result<Vec<Route>> {
        self.store
            .read(|c| all(c, "SELECT data FROM routes ORDER BY id", []))
    }

    /// A cached user.
    pub fn user(&self, id: UserId) -> Result<Option<User>> {
        self.store
            .read(|c| one(c, "SELECT data FROM users WHERE id = ?1", &id.to_string()))
    }

    /// Every cached user (the people of this user's sites).
    pub fn users(&self) -> Result<Vec<User>> {
        self.store
            .read(|c| all(c, "SELECT data FROM users ORDER BY id", []))
    }

    /// The people of the signed-in person's sites (not those a previous person of a shared phone
    /// left cached); with a team, only that team's (whom to give its job to).
    pub fn people(&self, team: Option<Team>) -> Result<Vec<User>> {
        let actor = self.actor()?;
        let mut users = self.users()?;
        users.retain(|u| {
            u.site_ids.iter().any(|s| actor.works_on(*s)) && team.is_none_or(|t| u.team == Some(t))
        });
        Ok(users)
    }

    /// A cached issue, with any local changes not yet synced.
    pub fn issue(&self, id: IssueId) -> Result<Option<Issue>> {
        self.store
            .read(|c| one(c, "SELECT data FROM issues WHERE id = ?1", &id.to_string()))
    }

    /// The checklist for a zone kind: the newest version the server sent, else the standard
    /// catalogue built into the app.
    pub fn template_for(&self, kind: ZoneKind) -> Result<Option<Template>> {
        self.store.read(|c| template_in(c, kind))
    }
}

/// [`Engine::template_for`] on a given connection (a write transaction's, for its checks).
pub(super) fn template_in(c: &Connection, kind: ZoneKind) -> Result<Option<Template>> {
    let pulled: Option<Template> = one(
        c,
        "SELECT data FROM templates WHERE zone_kind = ?1 ORDER BY version DESC LIMIT 1",
        kind.as_str(),
    )?;
    Ok(pulled.or_else(|| Catalogue::standard().for_zone(kind).cloned()))
}
