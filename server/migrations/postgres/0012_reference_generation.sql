-- A counter every change to the reference data moves on: sites, zones, checkpoints, routes and
-- checklists. A push reads it once and takes that data from the process's cache while it has
-- not moved, instead of reading each row again (issue 14). Triggers move it, so no write path
-- (the console, an import, a rekey, another process) can forget to.
CREATE TABLE reference_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO reference_generation (id, n) VALUES (1, 1);

CREATE FUNCTION reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reference_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER sites_ref AFTER INSERT OR UPDATE OR DELETE ON sites
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER zones_ref AFTER INSERT OR UPDATE OR DELETE ON zones
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER checkpoints_ref AFTER INSERT OR UPDATE OR DELETE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER routes_ref AFTER INSERT OR UPDATE OR DELETE ON routes
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
CREATE TRIGGER templates_ref AFTER INSERT OR UPDATE OR DELETE ON templates
    FOR EACH STATEMENT EXECUTE FUNCTION reference_changed();
