//! The store written once for both databases. The SQL is the common dialect of SQLite and
//! PostgreSQL (`$N` parameters, `ON CONFLICT`, `CAST`); each backend brings its pool, its
//! migrations and `begin_write`, which serialises writers so the change feed's order is the
//! commit order.

/// Implement [`super::Store`] for a backend type with a `pool`, `begin_write()` and the given
/// connection type and migrations folder.
macro_rules! sql_store {
    ($store:ident, $conn:ty, $migrations:literal) => {
impl $store {
    async fn one<T: DeserializeOwned>(&self, sql: &'static str, id: &str) -> Result<Option<T>> {
        let row: Option<(String,)> = sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(d,)| parse(&d)).transpose()
    }
}

async fn feed(
    conn: &mut $conn,
    entity: &str,
    id: &str,
    site: Option<SiteId>,
    team: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO changes (entity, entity_id, site_id, team) VALUES ($1, $2, $3, $4)")
        .bind(entity)
        .bind(id)
        .bind(site.map(|s| s.to_string()))
        .bind(team)
        .execute(conn)
        .await?;
    Ok(())
}

async fn load<T: DeserializeOwned>(
    conn: &mut $conn,
    table: &str,
    id: Option<String>,
) -> Result<Option<T>> {
    let Some(id) = id else { return Ok(None) };
    let row: Option<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT data FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|(d,)| parse(&d)).transpose()
}

async fn write(conn: &mut $conn, w: &Write) -> Result<()> {
    match w {
        Write::Issue(i) => put_issue(conn, i).await,
        Write::Audit(a) => {
            sqlx::query("INSERT INTO audit (id, issue_id, data) VALUES ($1, $2, $3)")
                .bind(a.id.to_string())
                .bind(a.issue_id.to_string())
                .bind(json(a)?)
                .execute(conn)
                .await?;
            Ok(())
        }
        Write::Run(r) => {
            sqlx::query(
                "INSERT INTO runs (id, site_id, route_id, patroller_id, started_at_ms, data)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            )
            .bind(r.id.to_string())
            .bind(r.site_id.to_string())
            .bind(r.route_id.to_string())
            .bind(r.patroller_id.to_string())
            .bind(ms(r.started_at))
            .bind(json(r)?)
            .execute(conn)
            .await?;
            Ok(())
        }
        Write::Visit(v) => {
            sqlx::query(
                "INSERT INTO visits (id, run_id, checkpoint_id, at_ms, data) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(v.id.to_string())
            .bind(v.run_id.to_string())
            .bind(v.checkpoint_id.to_string())
            .bind(ms(v.at))
            .bind(json(v)?)
            .execute(conn)
            .await?;
            Ok(())
        }
        Write::Result(r) => {
            // A re-answered item replaces the earlier answer of that visit.
            sqlx::query("DELETE FROM results WHERE visit_id = $1 AND item_key = $2")
                .bind(r.visit_id.to_string())
                .bind(&r.item_key)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO results (id, visit_id, item_key, data) VALUES ($1, $2, $3, $4)",
            )
            .bind(r.id.to_string())
            .bind(r.visit_id.to_string())
            .bind(&r.item_key)
            .bind(json(r)?)
            .execute(conn)
            .await?;
            Ok(())
        }
    }
}

async fn put_issue(conn: &mut $conn, i: &Issue) -> Result<()> {
    sqlx::query(
        "INSERT INTO issues (id, site_id, team, status, assignee_id, due_at_ms, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET team = excluded.team, status = excluded.status,
           assignee_id = excluded.assignee_id, due_at_ms = excluded.due_at_ms, data = excluded.data",
    )
    .bind(i.id.to_string())
    .bind(i.site_id.to_string())
    .bind(i.team.as_str())
    .bind(i.status.as_str())
    .bind(i.assignee_id.map(|a| a.to_string()))
    .bind(ms(i.due_at))
    .bind(json(i)?)
    .execute(&mut *conn)
    .await?;
    feed(
        conn,
        "issue",
        &i.id.to_string(),
        Some(i.site_id),
        Some(i.team.as_str()),
    )
    .await
}

#[async_trait]
impl Store for $store {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!($migrations)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn secret(
        &self,
        name: &str,
        make: &(dyn Fn() -> String + Send + Sync),
    ) -> Result<String> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(make())
            .execute(&mut *tx)
            .await?;
        let (value,): (String,) =
            sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(value)
    }

    async fn put_site(&self, site: &Site, signing_key: &str) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sites (id, code, signing_key, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET code = excluded.code, signing_key = excluded.signing_key,
               data = excluded.data",
        )
        .bind(site.id.to_string())
        .bind(&site.code)
        .bind(signing_key)
        .bind(json(site)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("site code {}", site.code))
            }
            other => other.into(),
        })?;
        feed(&mut tx, "site", &site.id.to_string(), Some(site.id), None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn site(&self, id: SiteId) -> Result<Option<Site>> {
        self.one("SELECT data FROM sites WHERE id = $1", &id.to_string())
            .await
    }

    async fn site_by_code(&self, code: &str) -> Result<Option<Site>> {
        self.one("SELECT data FROM sites WHERE code = $1", code)
            .await
    }

    async fn site_signing_key(&self, id: SiteId) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT signing_key FROM sites WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(k,)| k))
    }

    async fn sites(&self) -> Result<Vec<Site>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT data FROM sites ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn put_zone(&self, zone: &Zone) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO zones (id, site_id, data) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        )
        .bind(zone.id.to_string())
        .bind(zone.site_id.to_string())
        .bind(json(zone)?)
        .execute(&mut *tx)
        .await?;
        feed(
            &mut tx,
            "zone",
            &zone.id.to_string(),
            Some(zone.site_id),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO checkpoints (id, site_id, zone_id, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET zone_id = excluded.zone_id, data = excluded.data",
        )
        .bind(c.id.to_string())
        .bind(c.site_id.to_string())
        .bind(c.zone_id.to_string())
        .bind(json(c)?)
        .execute(&mut *tx)
        .await?;
        feed(
            &mut tx,
            "checkpoint",
            &c.id.to_string(),
            Some(c.site_id),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn checkpoints(&self, site: SiteId) -> Result<Vec<Checkpoint>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM checkpoints WHERE site_id = $1 ORDER BY id")
                .bind(site.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn checkpoint(&self, id: CheckpointId) -> Result<Option<Checkpoint>> {
        self.one(
            "SELECT data FROM checkpoints WHERE id = $1",
            &id.to_string(),
        )
        .await
    }

    async fn zone(&self, id: ZoneId) -> Result<Option<Zone>> {
        self.one("SELECT data FROM zones WHERE id = $1", &id.to_string())
            .await
    }

    async fn put_route(&self, route: &Route) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO routes (id, site_id, data) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        )
        .bind(route.id.to_string())
        .bind(route.site_id.to_string())
        .bind(json(route)?)
        .execute(&mut *tx)
        .await?;
        feed(
            &mut tx,
            "route",
            &route.id.to_string(),
            Some(route.site_id),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn route(&self, id: RouteId) -> Result<Option<Route>> {
        self.one("SELECT data FROM routes WHERE id = $1", &id.to_string())
            .await
    }

    async fn put_template(&self, t: &Template) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO templates (id, zone_kind, version, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        )
        .bind(t.id.to_string())
        .bind(t.zone_kind.as_str())
        .bind(i64::from(t.version))
        .bind(json(t)?)
        .execute(&mut *tx)
        .await?;
        feed(&mut tx, "template", &t.id.to_string(), None, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_user(&self, user: &User, password_hash: &str) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, team, data) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(password_hash)
        .bind(user.role.as_str())
        .bind(user.team.map(|t| t.as_str()))
        .bind(json(user)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("username {}", user.username))
            }
            other => other.into(),
        })?;
        for site in &user.site_ids {
            sqlx::query("INSERT INTO user_sites (user_id, site_id) VALUES ($1, $2)")
                .bind(user.id.to_string())
                .bind(site.to_string())
                .execute(&mut *tx)
                .await?;
            feed(&mut tx, "user", &user.id.to_string(), Some(*site), None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn account(&self, username: &str) -> Result<Option<Account>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT data, password_hash FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(d, h)| {
            Ok(Account {
                user: parse(&d)?,
                password_hash: h,
            })
        })
        .transpose()
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.one("SELECT data FROM users WHERE id = $1", &id.to_string())
            .await
    }

    async fn add_refresh_token(
        &self,
        hash: &str,
        user: UserId,
        expires_at: Timestamp,
    ) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(hash)
        .bind(user.to_string())
        .bind(ms(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn use_refresh_token(&self, hash: &str, now: Timestamp) -> Result<Option<UserId>> {
        let (_guard, mut tx) = self.begin_write().await?;
        let row: Option<(String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT user_id, expires_at_ms, used_at_ms, revoked FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user, expires, used, revoked)) = row else {
            return Ok(None);
        };
        if used.is_some() {
            // Replay of a rotated token: treat the family as stolen.
            sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1")
                .bind(&user)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(None);
        }
        if revoked != 0 || expires <= ms(now) {
            return Ok(None);
        }
        sqlx::query("UPDATE refresh_tokens SET used_at_ms = $2 WHERE token_hash = $1")
            .bind(hash)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user.parse().ok())
    }

    async fn revoke_refresh_tokens(&self, user: UserId) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_device(
        &self,
        device: DeviceId,
        user: UserId,
        offset_ms: i64,
        now: Timestamp,
    ) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO devices (id, user_id, clock_offset_ms, last_seen_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
               clock_offset_ms = excluded.clock_offset_ms, last_seen_ms = excluded.last_seen_ms",
        )
        .bind(device.to_string())
        .bind(user.to_string())
        .bind(offset_ms)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn apply_op(&self, meta: &OpMeta, keys: Keys, decide: Decide<'_>) -> Result<OpOutcome> {
        let (_guard, mut tx) = self.begin_write().await?;
        let seen: Option<(String,)> = sqlx::query_as("SELECT status FROM ops WHERE op_id = $1")
            .bind(meta.op_id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if seen.is_some() {
            return Ok(OpOutcome::Duplicate);
        }
        let visit: Option<Visit> =
            load(&mut tx, "visits", keys.visit.map(|v| v.to_string())).await?;
        // An op on a visit is checked against the round the visit belongs to.
        let run_id = keys.run.or(visit.as_ref().map(|v| v.run_id));
        let snapshot = Snapshot {
            issue: load(&mut tx, "issues", keys.issue.map(|i| i.to_string())).await?,
            run: load::<PatrolRun>(&mut tx, "runs", run_id.map(|r| r.to_string())).await?,
            visit,
        };
        let outcome = match decide(&snapshot) {
            Decision::Apply(writes) => {
                for w in &writes {
                    write(&mut tx, w).await?;
                }
                OpOutcome::Applied
            }
            Decision::Reject { code, message } => OpOutcome::Rejected { code, message },
        };
        let (status, code, message) = match &outcome {
            OpOutcome::Rejected { code, message } => {
                ("rejected", Some(code.clone()), Some(message.clone()))
            }
            _ => ("applied", None, None),
        };
        sqlx::query(
            "INSERT INTO ops (op_id, device_id, seq, kind, user_id, device_at, server_at_ms, status, code, message)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(meta.op_id.to_string())
        .bind(meta.device_id.to_string())
        .bind(meta.seq as i64)
        .bind(&meta.kind)
        .bind(meta.user_id.to_string())
        .bind(meta.device_at.to_string())
        .bind(ms(meta.server_at))
        .bind(status)
        .bind(code)
        .bind(message)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE devices SET last_seq = CASE WHEN last_seq > $2 THEN last_seq ELSE $2 END WHERE id = $1")
            .bind(meta.device_id.to_string())
            .bind(meta.seq as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn apply_system(&self, issue: IssueId, decide: Decide<'_>) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let snapshot = Snapshot {
            issue: load(&mut tx, "issues", Some(issue.to_string())).await?,
            ..Snapshot::default()
        };
        let Decision::Apply(writes) = decide(&snapshot) else {
            return Ok(false);
        };
        for w in &writes {
            write(&mut tx, w).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn issue(&self, id: IssueId) -> Result<Option<Issue>> {
        self.one("SELECT data FROM issues WHERE id = $1", &id.to_string())
            .await
    }

    async fn issues(&self, f: &IssueFilter) -> Result<Vec<Issue>> {
        if f.sites.is_empty() {
            return Ok(Vec::new());
        }
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let marks: Vec<String> = f.sites.iter().map(|_| next()).collect();
        let mut sql = format!(
            "SELECT data FROM issues WHERE site_id IN ({})",
            marks.join(", ")
        );
        if f.status.is_some() {
            sql.push_str(&format!(" AND status = {}", next()));
        }
        if f.team.is_some() {
            sql.push_str(&format!(" AND team = {}", next()));
        }
        if f.assignee.is_some() {
            sql.push_str(&format!(" AND assignee_id = {}", next()));
        }
        if f.due_before.is_some() {
            sql.push_str(&format!(" AND due_at_ms < {}", next()));
        }
        if f.overdue_at.is_some() {
            sql.push_str(&format!(
                " AND status <> 'closed' AND due_at_ms <= {}",
                next()
            ));
        }
        sql.push_str(" ORDER BY due_at_ms, id");
        let mut q = sqlx::query_as::<_, (String,)>(AssertSqlSafe(sql));
        for s in &f.sites {
            q = q.bind(s.to_string());
        }
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(t) = f.team {
            q = q.bind(t.as_str());
        }
        if let Some(a) = f.assignee {
            q = q.bind(a.to_string());
        }
        if let Some(d) = f.due_before {
            q = q.bind(ms(d));
        }
        if let Some(n) = f.overdue_at {
            q = q.bind(ms(n));
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn audit(&self, issue: IssueId) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM audit WHERE issue_id = $1 ORDER BY seq")
                .bind(issue.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn active_issues(&self) -> Result<Vec<Issue>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM issues WHERE status <> 'closed' ORDER BY due_at_ms")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn has_blob(&self, sha256: &str) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    async fn add_blob(&self, sha256: &str, bytes: u64, now: Timestamp) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO blobs (sha256, bytes, created_ms) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(bytes as i64)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn changes(&self, viewer: &Viewer, cursor: i64, limit: u32) -> Result<ChangePage> {
        if viewer.sites.is_empty() {
            return Ok(ChangePage {
                changes: Vec::new(),
                cursor,
                more: false,
            });
        }
        let marks: Vec<String> = (0..viewer.sites.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let k = viewer.sites.len() + 2;
        let sql = format!(
            "SELECT entity, entity_id, MAX(seq) AS last FROM changes
             WHERE seq > $1 AND (site_id IS NULL OR site_id IN ({}))
               AND (entity <> 'issue' OR CAST(${k} AS TEXT) IS NULL OR team = ${})
             GROUP BY entity, entity_id ORDER BY last LIMIT ${}",
            marks.join(", "),
            k + 1,
            k + 2
        );
        let team = viewer.team_only.map(|t| t.as_str());
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(cursor);
        for s in &viewer.sites {
            q = q.bind(s.to_string());
        }
        let rows = q
            .bind(team)
            .bind(team)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let more = rows.len() > limit as usize;
        let mut changes = Vec::new();
        let mut last = cursor;
        for row in rows.iter().take(limit as usize) {
            let entity: String = row.try_get("entity")?;
            let id: String = row.try_get("entity_id")?;
            last = row.try_get("last")?;
            let table = match entity.as_str() {
                "site" => "sites",
                "zone" => "zones",
                "checkpoint" => "checkpoints",
                "route" => "routes",
                "template" => "templates",
                "user" => "users",
                "issue" => "issues",
                _ => continue,
            };
            let data: Option<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT data FROM {table} WHERE id = $1"
            )))
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?;
            let change = match (entity.as_str(), data) {
                (_, None) => Change::gone(&entity, &id),
                ("issue", Some((d,))) => Change::of(&Entity::Issue(parse(&d)?)),
                ("site", Some((d,))) => {
                    // The signing secret lives in its own column; the JSON is public data.
                    Change::of(&Entity::Site(parse(&d)?))
                }
                (_, Some((d,))) => Change {
                    entity: entity.clone(),
                    id: id.clone(),
                    data: Some(serde_json::from_str(&d)?),
                },
            };
            changes.push(change);
        }
        Ok(ChangePage {
            changes,
            cursor: last,
            more,
        })
    }
}

    };
}

pub(crate) use sql_store;
