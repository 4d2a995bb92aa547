-- A counter every change to the reference data moves on: sites, zones, checkpoints, routes and
-- checklists. A push reads it once and takes that data from the process's cache while it has
-- not moved, instead of reading each row again (issue 14). Triggers move it, so no write path
-- (the console, an import, a rekey, another process) can forget to.
CREATE TABLE reference_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO reference_generation (id, n) VALUES (1, 1);

CREATE TRIGGER sites_ref_insert AFTER INSERT ON sites BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER sites_ref_update AFTER UPDATE ON sites BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER sites_ref_delete AFTER DELETE ON sites BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER zones_ref_insert AFTER INSERT ON zones BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER zones_ref_update AFTER UPDATE ON zones BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER zones_ref_delete AFTER DELETE ON zones BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER checkpoints_ref_insert AFTER INSERT ON checkpoints BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER checkpoints_ref_update AFTER UPDATE ON checkpoints BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER checkpoints_ref_delete AFTER DELETE ON checkpoints BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER routes_ref_insert AFTER INSERT ON routes BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER routes_ref_update AFTER UPDATE ON routes BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER routes_ref_delete AFTER DELETE ON routes BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER templates_ref_insert AFTER INSERT ON templates BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER templates_ref_update AFTER UPDATE ON templates BEGIN UPDATE reference_generation SET n = n + 1; END;
CREATE TRIGGER templates_ref_delete AFTER DELETE ON templates BEGIN UPDATE reference_generation SET n = n + 1; END;
